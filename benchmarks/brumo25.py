"""BRUMO 2025: the 30 problems of the 2025 Brown University Math Olympiad,
as MathArena poses and grades them (arXiv:2505.23281).

Data: hub "MathArena/brumo_2025" (split "train"), read by benchmarks.matharena.
Local copy: MathArena/brumo_2025 as vendored by thunlp/JustRL @ cf444e9 (SOURCES-2025.md: 25 of 30 answers
recomputed independently).
Prompt: MathArena's instruction before the problem (grading.MATHARENA_PROMPT).
Answers: LaTeX expression (one list), compared with Math-Verify (benchmarks.answer_types).

Example:
    BRUMO25(data_dir="../shared/data").problems()[22].answer_type   # "list": problem 23, four roots
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from benchmarks import matharena
from benchmarks.base import Grade, Problem
from benchmarks.answer_types import grade_answer
from benchmarks.grading import MATHARENA_PROMPT
from testtime.registry import register


@register("benchmark", "brumo25")
@dataclass(frozen=True)
class BRUMO25:
    name: ClassVar[str] = "brumo25"
    answer: ClassVar[str] = "LaTeX expression (one list)"
    source: ClassVar[str] = "MathArena/brumo_2025"
    size: ClassVar[int] = 30
    data_dir: str | None = None
    """Folder holding brumo25/<split>.jsonl; None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """Only "test" exists (the hub's one split, "train")."""

    def problems(self) -> list[Problem]:
        return matharena.problems(self, folder="brumo25", hub="MathArena/brumo_2025",
                                  template=MATHARENA_PROMPT)

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade_answer(gold=problem.gold, response=response, answer_type=problem.answer_type)
