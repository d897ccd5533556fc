"""BeyondAIME: 100 competition problems harder than AIME, each with an integer answer, from ByteDance Seed (2025,
https://huggingface.co/datasets/ByteDance-Seed/BeyondAIME), reported by Seed-OSS, NeMo-Skills and 2025-26 RL papers.

Data: hub "ByteDance-Seed/BeyondAIME" (split "test"; fields problem, answer: the card, and NeMo-Skills'
nemo_skills/dataset/beyond-aime, which read them). No local copy: with a network and `pip install datasets` only,
or a copy of your own at <data_dir>/beyond_aime/test.jsonl.
Prompt: the Qwen2.5-Math evaluation's (grading.QWEN_BOXED_PROMPT). Answers: integers, by value (Math-Verify).

Example:
    BeyondAIME().problems()[0].gold
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from benchmarks.answer_types import grade_answer
from benchmarks.base import Grade, Problem
from benchmarks.data import read_rows
from benchmarks.grading import QWEN_BOXED_PROMPT, math_prompt
from testtime.registry import register


@register("benchmark", "beyond_aime")
@dataclass(frozen=True)
class BeyondAIME:
    name: ClassVar[str] = "beyond_aime"
    answer: ClassVar[str] = "integer"
    source: ClassVar[str] = "ByteDance-Seed/BeyondAIME"
    size: ClassVar[int] = 100
    data_dir: str | None = None
    """Folder holding beyond_aime/<split>.jsonl; None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """Only "test" exists."""

    def problems(self) -> list[Problem]:
        rows = read_rows(self.name, folder="beyond_aime", data_dir=self.data_dir, split=self.split,
                         hub=("ByteDance-Seed/BeyondAIME", None))
        return [Problem(id=f"{self.name}/{self.split}/{i}", prompt=math_prompt(row.text("problem"), QWEN_BOXED_PROMPT),
                        gold=row.answer("answer"), answer_type="integer") for i, row in enumerate(rows)]

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade_answer(gold=problem.gold, response=response, answer_type=problem.answer_type)
