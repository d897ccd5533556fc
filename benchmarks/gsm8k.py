"""GSM8K: 1,319 grade-school math word problems with integer answers (Cobbe et al. 2021, arXiv:2110.14168).

Data: openai/grade-school-math, grade_school_math/data/test.jsonl (hub: "openai/gsm8k", config "main"). Each
`answer` is a worked solution ending in "#### <number>"; the gold is that number without thousands separators,
as in the paper's own grader (grade_school_math/dataset.py, `extract_answer`).

Example:
    GSM8K(data_dir="../shared/data").problems()[0].gold   # "18"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from benchmarks.data import read_rows
from benchmarks.base import Grade, Problem
from benchmarks.grading import grade, math_prompt, number_text
from testtime.registry import register


def gold_answer(solution: str) -> str:
    """The number after "#### ", with thousands separators removed ("1,000" -> "1000")."""
    return number_text(solution.split("####")[-1].strip().replace(",", ""))


@register("benchmark", "gsm8k")
@dataclass(frozen=True)
class GSM8K:
    name: ClassVar[str] = "gsm8k"
    answer: ClassVar[str] = "integer"
    source: ClassVar[str] = "openai/gsm8k (main)"
    size: ClassVar[int] = 1319
    data_dir: str | None = None
    """Folder holding gsm8k/<split>.jsonl; None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """"test" (1,319 problems) or "train"."""

    def problems(self) -> list[Problem]:
        rows = read_rows(self.name, folder="gsm8k", data_dir=self.data_dir, split=self.split,
                         hub=("openai/gsm8k", "main"))
        return [Problem(id=f"{self.name}/{self.split}/{i}", prompt=math_prompt(row.text("question")),
                        gold=row.gold("answer", gold_answer(row.answer("answer")), part="after '####'"))
                for i, row in enumerate(rows)]

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade(gold=problem.gold, response=response)
