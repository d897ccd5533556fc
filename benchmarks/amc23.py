"""AMC 2023: 40 problems of the 2023 AMC 12 A and B with numeric answers, as used by the Qwen2.5-Math
evaluation (Yang et al. 2024, arXiv:2409.12122), which drops the answer choices and keeps the value.

Data: hub "math-ai/amc23" (fields id, question, answer, url). `answer` is a float (27.0); the gold is its text
with integers written as integers ("27").

Example:
    AMC23(data_dir="../shared/data").problems()[0].gold   # "27"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from benchmarks.data import read_rows
from benchmarks.base import Grade, Problem
from benchmarks.grading import grade, math_prompt, number_text
from testtime.registry import register


@register("benchmark", "amc23")
@dataclass(frozen=True)
class AMC23:
    name: ClassVar[str] = "amc23"
    answer: ClassVar[str] = "number"
    source: ClassVar[str] = "math-ai/amc23"
    size: ClassVar[int] = 40
    data_dir: str | None = None
    """Folder holding amc23/<split>.jsonl; None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """Only "test" exists."""

    def problems(self) -> list[Problem]:
        rows = read_rows(self.name, folder="amc23", data_dir=self.data_dir, split=self.split,
                         hub=("math-ai/amc23", None))
        return [Problem(id=f"{self.name}/{self.split}/{i}", prompt=math_prompt(row.text("question", "problem")),
                        gold=number_text(row.answer("answer"))) for i, row in enumerate(rows)]

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade(gold=problem.gold, response=response)
