"""Omni-MATH: 4,428 olympiad-level problems in 33 sub-domains and 10 difficulty levels (Gao et al. 2024,
"Omni-MATH: A Universal Olympiad Level Mathematic Benchmark For Large Language Models", arXiv:2410.07985).

Data: hub "KbsdJames/Omni-MATH" (split "test"; fields domain (a list), difficulty, problem, solution, answer,
source: the dataset card's). No local copy: with a network and `pip install datasets` only, or a copy of your own
at <data_dir>/omni_math/test.jsonl.
Prompt: the Qwen2.5-Math evaluation's (grading.QWEN_BOXED_PROMPT).
Answers (benchmarks.answer_types): Math-Verify; a gold with several top-level answers ("2, 3") is a list. Omni-MATH's
authors grade with a model (Omni-Judge, or GPT-4o) that also reads answers in words; Math-Verify cannot, so a gold
that is prose (two or more words outside math, e.g. "All odd n") is left out (`excluded`, with the reason).
Scores are therefore not comparable with the paper's judge-graded ones; the rule-gradable part is close to what
the authors publish as Omni-MATH-Rule.

Example:
    bench = OmniMATH()
    len(bench.problems()) + len(bench.excluded)   # 4428
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from benchmarks.answer_types import grade_answer, split_items
from benchmarks.base import Grade, Problem
from benchmarks.data import read_rows
from benchmarks.grading import QWEN_BOXED_PROMPT, math_prompt
from testtime.registry import register

PROSE = ("the gold answer is prose ({words}), which Omni-MATH's authors grade with a model judge and Math-Verify "
         "cannot compare")


def prose_words(answer: str) -> list[str]:
    """The English words of `answer` outside LaTeX commands ("All odd $n$" -> ["All", "odd"])."""
    text = re.sub(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}", r" \1 ", answer)
    text = re.sub(r"\\[A-Za-z]+", " ", text)
    return re.findall(r"(?<![A-Za-z_^\\])[A-Za-z]{2,}(?![A-Za-z(])", text)


@register("benchmark", "omni_math")
@dataclass(frozen=True)
class OmniMATH:
    name: ClassVar[str] = "omni_math"
    answer: ClassVar[str] = "expression (prose answers left out)"
    source: ClassVar[str] = "KbsdJames/Omni-MATH"
    size: ClassVar[int] = 4428
    data_dir: str | None = None
    """Folder holding omni_math/<split>.jsonl; None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """Only "test" exists."""

    def _rows(self):
        return read_rows(self.name, folder="omni_math", data_dir=self.data_dir, split=self.split,
                         hub=("KbsdJames/Omni-MATH", None))

    def problems(self) -> list[Problem]:
        out = []
        for i, row in enumerate(self._rows()):
            gold = row.answer("answer").replace("$", "").strip()
            if len(prose_words(gold)) >= 2:
                continue
            out.append(Problem(id=f"{self.name}/{self.split}/{i}",
                               prompt=math_prompt(row.text("problem"), QWEN_BOXED_PROMPT), gold=gold,
                               answer_type="list" if len(split_items(gold)) > 1 else "expression"))
        return out

    @property
    def excluded(self) -> dict[str, str]:
        """Problem id -> why it is left out (a gold in words)."""
        return {f"{self.name}/{self.split}/{i}": PROSE.format(words=" ".join(words[:6]))
                for i, row in enumerate(self._rows()) if len(words := prose_words(row.answer("answer"))) >= 2}

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade_answer(gold=problem.gold, response=response, answer_type=problem.answer_type)
