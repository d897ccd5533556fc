"""AQuA-RAT: 254 multiple-choice algebra word problems with five options (Ling et al. 2017, "Program Induction
by Rationale Generation", arXiv:1705.04146).

Data: google-deepmind/AQuA, test.json (hub: "deepmind/aqua_rat", config "raw"; fields question, options,
rationale, correct). Options come as "A)5(√3 + 1)"; the prompt re-lists them as "A) ...". The gold is `correct`.

Example:
    AQuA(data_dir="../shared/data").problems()[0].gold   # "A"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from benchmarks.data import read_rows
from benchmarks.base import Grade, Problem
from benchmarks.grading import choice_prompt, grade_choice
from testtime.registry import register

LETTERS = "ABCDE"


def option_text(option: str) -> str:
    """An option without its "A)" label."""
    return re.sub(r"^\s*[A-E]\s*\)\s*", "", option)


@register("benchmark", "aqua")
@dataclass(frozen=True)
class AQuA:
    name: ClassVar[str] = "aqua"
    answer: ClassVar[str] = "letter A-E"
    source: ClassVar[str] = "deepmind/aqua_rat (raw)"
    size: ClassVar[int] = 254
    data_dir: str | None = None
    """Folder holding aqua/<split>.jsonl; None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """"test" (254 problems); the hub also has "train" and "validation"."""

    def problems(self) -> list[Problem]:
        rows = read_rows(self.name, folder="aqua", data_dir=self.data_dir, split=self.split,
                         hub=("deepmind/aqua_rat", "raw"))
        return [self._problem(i, row) for i, row in enumerate(rows)]

    def _problem(self, i: int, row) -> Problem:
        options = row.options("options", most=len(LETTERS))
        return Problem(id=f"{self.name}/{self.split}/{i}",
                       prompt=choice_prompt(row.text("question"), [option_text(o) for o in options], LETTERS),
                       gold=row.letter("correct", LETTERS[:len(options)]), choices=tuple(LETTERS))

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade_choice(gold=problem.gold, response=response, letters="".join(problem.choices) or LETTERS)
