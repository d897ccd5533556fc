"""HMMT February 2025: the 30 problems of the Harvard-MIT Mathematics Tournament's February 2025 rounds,
as MathArena poses and grades them (arXiv:2505.23281).

Data: hub "MathArena/hmmt_feb_2025" (split "train"), read by benchmarks.matharena.
Local copy: eth-sri/matharena @ 81f103e, data/hmmt/hmmt_feb_2025 (SOURCES-2025.md: 20 of 30 answers recomputed
independently; the other 10 rest on MathArena alone).
Prompt: MathArena's instruction before the problem (grading.MATHARENA_PROMPT).
Answers: LaTeX expression (one list), compared with Math-Verify (benchmarks.answer_types).

Example:
    HMMTFeb25(data_dir="../shared/data").problems()[9].answer_type   # "list": problem 10 asks for two values
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from benchmarks import matharena
from benchmarks.base import Grade, Problem
from benchmarks.answer_types import grade_answer
from benchmarks.grading import MATHARENA_PROMPT
from testtime.registry import register


@register("benchmark", "hmmt_feb25")
@dataclass(frozen=True)
class HMMTFeb25:
    name: ClassVar[str] = "hmmt_feb25"
    answer: ClassVar[str] = "LaTeX expression (one list)"
    source: ClassVar[str] = "MathArena/hmmt_feb_2025"
    size: ClassVar[int] = 30
    data_dir: str | None = None
    """Folder holding hmmt_feb25/<split>.jsonl; None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """Only "test" exists (the hub's one split, "train")."""

    def problems(self) -> list[Problem]:
        return matharena.problems(self, folder="hmmt_feb25", hub="MathArena/hmmt_feb_2025",
                                  template=MATHARENA_PROMPT)

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade_answer(gold=problem.gold, response=response, answer_type=problem.answer_type)
