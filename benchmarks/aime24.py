"""AIME 2024: the 30 problems of the 2024 American Invitational Mathematics Examination I and II, as used by
the Qwen2.5-Math evaluation (Yang et al. 2024, arXiv:2409.12122). Answers are integers 0-999.

Data: hub "math-ai/aime24" (fields id, problem, solution, answer, url). The gold is the `answer` string as
given, which keeps the competition's three-digit form ("025"); grading compares values, so "25" is correct.

Example:
    AIME24(data_dir="../shared/data").problems()[0].gold   # "204"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from benchmarks.data import read_rows
from benchmarks.base import Grade, Problem
from benchmarks.grading import grade, math_prompt
from testtime.registry import register


@register("benchmark", "aime24")
@dataclass(frozen=True)
class AIME24:
    name: ClassVar[str] = "aime24"
    answer: ClassVar[str] = "integer 0-999"
    source: ClassVar[str] = "math-ai/aime24"
    size: ClassVar[int] = 30
    data_dir: str | None = None
    """Folder holding aime24/<split>.jsonl; None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """Only "test" exists."""

    def problems(self) -> list[Problem]:
        rows = read_rows(self.name, folder="aime24", data_dir=self.data_dir, split=self.split,
                         hub=("math-ai/aime24", None))
        # Copies differ in naming the statement "problem" or "question".
        return [Problem(id=f"{self.name}/{self.split}/{i}", prompt=math_prompt(row.text("problem", "question")),
                        gold=row.answer("answer")) for i, row in enumerate(rows)]

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade(gold=problem.gold, response=response)
