"""AIME 2025: the 30 problems of the 2025 American Invitational Mathematics Examination I and II,
as MathArena poses and grades them (arXiv:2505.23281).

Data: hub "MathArena/aime_2025" (split "train"), read by benchmarks.matharena.
Local copy: eth-sri/matharena @ 81f103e, data/aime/aime_2025_{I,II} (../shared/data/SOURCES-2025.md: all 30
answers checked against a second, independent transcription).
Prompt: MathArena's instruction before the problem (grading.MATHARENA_AIME_PROMPT).
Answers: integer 0-999, compared with Math-Verify (benchmarks.answer_types).

Example:
    AIME25(data_dir="../shared/data").problems()[0].gold   # "70"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from benchmarks import matharena
from benchmarks.base import Grade, Problem
from benchmarks.answer_types import grade_answer
from benchmarks.grading import MATHARENA_AIME_PROMPT
from testtime.registry import register


@register("benchmark", "aime25")
@dataclass(frozen=True)
class AIME25:
    name: ClassVar[str] = "aime25"
    answer: ClassVar[str] = "integer 0-999"
    source: ClassVar[str] = "MathArena/aime_2025"
    size: ClassVar[int] = 30
    data_dir: str | None = None
    """Folder holding aime25/<split>.jsonl; None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """Only "test" exists (the hub's one split, "train")."""

    def problems(self) -> list[Problem]:
        return matharena.problems(self, folder="aime25", hub="MathArena/aime_2025",
                                  template=MATHARENA_AIME_PROMPT, answer_type="integer")

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade_answer(gold=problem.gold, response=response, answer_type=problem.answer_type)
