"""MATH-500: the 500-problem subset of the MATH test set (Hendrycks et al. 2021, arXiv:2103.03874) chosen for
PRM800K (Lightman et al. 2023, "Let's Verify Step by Step", arXiv:2305.20050).

Data: hub "HuggingFaceH4/MATH-500" (fields problem, solution, answer, subject, level, unique_id). The gold is the
`answer` field, a LaTeX string such as "\\left( 3, \\frac{\\pi}{2} \\right)", compared with Math-Verify.

Example:
    MATH500(data_dir="../shared/data").problems()[0].gold   # "\\left( 3, \\frac{\\pi}{2} \\right)"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from benchmarks.data import read_rows
from benchmarks.base import Grade, Problem
from benchmarks.grading import grade, math_prompt
from testtime.registry import register


@register("benchmark", "math500")
@dataclass(frozen=True)
class MATH500:
    name: ClassVar[str] = "math500"
    answer: ClassVar[str] = "LaTeX expression"
    source: ClassVar[str] = "HuggingFaceH4/MATH-500"
    size: ClassVar[int] = 500
    data_dir: str | None = None
    """Folder holding math500/<split>.jsonl; None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """Only "test" exists."""

    def problems(self) -> list[Problem]:
        rows = read_rows(self.name, folder="math500", data_dir=self.data_dir, split=self.split,
                         hub=("HuggingFaceH4/MATH-500", None))
        return [Problem(id=f"{self.name}/{self.split}/{i}", prompt=math_prompt(row.text("problem")),
                        gold=row.answer("answer")) for i, row in enumerate(rows)]

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade(gold=problem.gold, response=response)
