"""MMLU-STEM: the 3,018 test questions of MMLU's STEM subjects (Hendrycks et al. 2021, "Measuring Massive
Multitask Language Understanding", arXiv:2009.03300), four options each.

Data: hub "TIGER-Lab/MMLU-STEM" (fields question, choices, answer, and the subject in `type`). `answer` is the
index of the right option (0-3); the gold is its letter ("A"-"D").

Example:
    MMLUSTEM(data_dir="../shared/data").problems()[0].gold   # "C"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from benchmarks.data import read_rows
from benchmarks.base import Grade, Problem
from benchmarks.grading import choice_prompt, grade_choice
from testtime.registry import register

LETTERS = "ABCD"


@register("benchmark", "mmlu_stem")
@dataclass(frozen=True)
class MMLUSTEM:
    name: ClassVar[str] = "mmlu_stem"
    answer: ClassVar[str] = "letter A-D"
    source: ClassVar[str] = "TIGER-Lab/MMLU-STEM"
    size: ClassVar[int] = 3018
    data_dir: str | None = None
    """Folder holding mmlu_stem/<split>.jsonl; None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """Only "test" exists."""

    def problems(self) -> list[Problem]:
        rows = read_rows(self.name, folder="mmlu_stem", data_dir=self.data_dir, split=self.split,
                         hub=("TIGER-Lab/MMLU-STEM", None))
        return [self._problem(i, row) for i, row in enumerate(rows)]

    def _problem(self, i: int, row) -> Problem:
        options = row.options("choices", most=len(LETTERS))
        return Problem(id=f"{self.name}/{self.split}/{i}", prompt=choice_prompt(row.text("question"), options, LETTERS),
                       gold=row.letter("answer", LETTERS[:len(options)]), choices=tuple(LETTERS))

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade_choice(gold=problem.gold, response=response, letters="".join(problem.choices) or LETTERS)
