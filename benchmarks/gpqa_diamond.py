"""GPQA-Diamond: 198 graduate-level multiple-choice questions in biology, physics and chemistry that experts answer
and skilled non-experts with web access do not (Rein et al. 2023, "GPQA: A Graduate-Level Google-Proof Q&A
Benchmark", arXiv:2311.12022), the "diamond" subset.

Data: hub "Idavidrein/gpqa", config "gpqa_diamond" (split "train"; fields Question, Correct Answer, Incorrect
Answer 1-3, Record ID, ...: the fields openai/simple-evals gpqa_eval.py and inspect_evals read). The set is gated:
accept its terms on the hub and log in (`huggingface-cli login` or HF_TOKEN), and `datasets` reads it with your
token. Its authors ask that it not be redistributed in plain text, so testtime ships no copy, and none may be
added to this repository; a copy of your own at <data_dir>/gpqa_diamond/test.jsonl (same fields) is read instead.
Options: the correct answer and the three incorrect ones in an order drawn per problem from
random.Random(f"{SHUFFLE_SEED}:{Record ID}"), so it is the same on every run and machine and independent of the
row order; the gold is the correct answer's letter. Prompt: simple-evals' QUERY_TEMPLATE_MULTICHOICE (openai/
simple-evals common.py; DeepSeek-R1 and most 2025 papers report GPQA-Diamond with it), which asks for a last line
"Answer: X"; graded as letters (grading.grade_choice: "Answer: C", \\boxed{C}, "the answer is (C)").

Example:
    GPQADiamond().problems()[0].choices   # ("A", "B", "C", "D")
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from benchmarks.base import Grade, Problem
from benchmarks.data import read_rows
from benchmarks.grading import grade_choice
from testtime.registry import register

LETTERS = "ABCD"
SHUFFLE_SEED = 0
"""Seed of every problem's option order (with its Record ID)."""
PROMPT = ("Answer the following multiple choice question. The last line of your response should be of the following "
          "format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. Think step by step before "
          "answering.\n\n{question}\n\nA) {A}\nB) {B}\nC) {C}\nD) {D}")


def option_order(key: str, *, seed: int = SHUFFLE_SEED) -> list[int]:
    """The order of the four options (0 = the correct answer) for the problem keyed `key`."""
    return random.Random(f"{seed}:{key}").sample(range(4), 4)


@register("benchmark", "gpqa_diamond")
@dataclass(frozen=True)
class GPQADiamond:
    name: ClassVar[str] = "gpqa_diamond"
    answer: ClassVar[str] = "letter A-D (options shuffled, seeded)"
    source: ClassVar[str] = "Idavidrein/gpqa (gpqa_diamond; gated, your token)"
    size: ClassVar[int] = 198
    data_dir: str | None = None
    """Folder holding gpqa_diamond/<split>.jsonl (your own copy); None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """Only "test" exists (the hub's one split, "train")."""

    def problems(self) -> list[Problem]:
        rows = read_rows(self.name, folder="gpqa_diamond", data_dir=self.data_dir, split=self.split,
                         hub=("Idavidrein/gpqa", "gpqa_diamond", "train"))
        return [self._problem(i, row) for i, row in enumerate(rows)]

    def _problem(self, i: int, row) -> Problem:
        answers = [row.text("Correct Answer"), *(row.text(f"Incorrect Answer {k}") for k in (1, 2, 3))]
        order = option_order(str(row.get("Record ID") or row.text("Question")))
        options = {letter: answers[j].strip() for letter, j in zip(LETTERS, order)}
        return Problem(id=f"{self.name}/{self.split}/{i}",
                       prompt=PROMPT.format(question=row.text("Question").strip(), **options),
                       gold=LETTERS[order.index(0)], choices=tuple(LETTERS))

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade_choice(gold=problem.gold, response=response, letters="".join(problem.choices) or LETTERS)
