"""HMMT February 2026: the problems of the Harvard-MIT Mathematics Tournament's February 2026 rounds,
as MathArena poses and grades them (arXiv:2505.23281).

Data: hub "MathArena/hmmt_feb_2026" (split "train"), read by benchmarks.matharena.
No local copy: the hub only (schema from the MathArena/hmmt_feb_2026 dataset card: problem_idx, answer (string),
problem_type (list), problem; 33 rows).
Prompt: MathArena's instruction before the problem (grading.MATHARENA_PROMPT).
Answers: LaTeX expression, compared with Math-Verify (benchmarks.answer_types).

Example:
    HMMTFeb26().problems()[0].gold   # from the hub
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from benchmarks import matharena
from benchmarks.base import Grade, Problem
from benchmarks.answer_types import grade_answer
from benchmarks.grading import MATHARENA_PROMPT
from testtime.registry import register


@register("benchmark", "hmmt_feb26")
@dataclass(frozen=True)
class HMMTFeb26:
    name: ClassVar[str] = "hmmt_feb26"
    answer: ClassVar[str] = "LaTeX expression"
    source: ClassVar[str] = "MathArena/hmmt_feb_2026"
    size: ClassVar[int] = 33
    data_dir: str | None = None
    """Folder holding hmmt_feb26/<split>.jsonl; None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """Only "test" exists (the hub's one split, "train")."""

    def problems(self) -> list[Problem]:
        return matharena.problems(self, folder="hmmt_feb26", hub="MathArena/hmmt_feb_2026",
                                  template=MATHARENA_PROMPT)

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade_answer(gold=problem.gold, response=response, answer_type=problem.answer_type)
