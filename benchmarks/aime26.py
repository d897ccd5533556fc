"""AIME 2026: the 30 problems of the 2026 American Invitational Mathematics Examination I and II,
as MathArena poses and grades them (arXiv:2505.23281).

Data: hub "MathArena/aime_2026" (split "train"), read by benchmarks.matharena.
No local copy: the hub only (schema from the MathArena/aime_2026 dataset card: problem_idx, answer (int64),
problem; 30 rows).
Prompt: MathArena's instruction before the problem (grading.MATHARENA_AIME_PROMPT).
Answers: integer 0-999, compared with Math-Verify (benchmarks.answer_types).

Example:
    AIME26().problems()[0].gold   # from the hub: needs a network and `pip install datasets`
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from benchmarks import matharena
from benchmarks.base import Grade, Problem
from benchmarks.answer_types import grade_answer
from benchmarks.grading import MATHARENA_AIME_PROMPT
from testtime.registry import register


@register("benchmark", "aime26")
@dataclass(frozen=True)
class AIME26:
    name: ClassVar[str] = "aime26"
    answer: ClassVar[str] = "integer 0-999"
    source: ClassVar[str] = "MathArena/aime_2026"
    size: ClassVar[int] = 30
    data_dir: str | None = None
    """Folder holding aime26/<split>.jsonl; None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """Only "test" exists (the hub's one split, "train")."""

    def problems(self) -> list[Problem]:
        return matharena.problems(self, folder="aime26", hub="MathArena/aime_2026",
                                  template=MATHARENA_AIME_PROMPT, answer_type="integer")

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade_answer(gold=problem.gold, response=response, answer_type=problem.answer_type)
