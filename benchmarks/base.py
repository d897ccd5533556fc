"""What a benchmark is: problems with gold answers, and a grade for a response.

Example:
    bench = benchmarks.load("gsm8k", data_dir="../shared/data")
    p = bench.problems()[0]
    bench.grade(p, "... so the answer is \\boxed{18}")   # Grade(answer="18", correct=True, extraction="boxed")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence


@dataclass(frozen=True)
class Problem:
    id: str
    """Stable id within the benchmark (e.g. "gsm8k/test/0"); the store resumes by it."""
    prompt: str
    """The user message: question plus the zero-shot chain-of-thought instruction (chat template not applied)."""
    gold: str
    """Normalised gold answer (a number, LaTeX expression, or a choice letter)."""
    choices: tuple[str, ...] = field(default=())
    """Option letters for multiple choice ("A", "B", ...); empty for free-form answers."""
    answer_type: str = ""
    """How the gold is compared, one of benchmarks.answer_types.ANSWER_TYPES ("list", "number", ...); "" for the
    grader's default (Math-Verify equivalence)."""
    unit: str = ""
    """The unit the answer is asked in ("minutes", "\\mathrm{~cm}"), when the source gives one; an answer that
    states another unit is wrong. Empty: none known."""


EXTRACTIONS = ("boxed", "marked", "last_number", "letter", "none")
"""How a grader found a response's answer: in \\boxed{}; "marked" ("#### X", "The answer is X", "Answer: (C)"); by a
fallback, the last number ("last_number") or the last option letter ("letter") in the text; or not at all."""
STRICT_EXTRACTIONS = frozenset({"boxed", "marked"})
"""The extractions the strict grade accepts: an answer the response explicitly gives as its final one."""


@dataclass(frozen=True)
class Grade:
    answer: str | None
    """The extracted answer in canonical form; None when nothing could be extracted."""
    correct: bool
    """Whether the answer is equivalent to the gold answer: the flexible grade (fallback extractions count)."""
    extraction: str | None = None
    """How the answer was found, one of EXTRACTIONS; None when the benchmark's grader does not say (its strict grade
    is then its flexible one)."""

    @property
    def marked(self) -> bool:
        """Whether the answer counts under the strict policy (explicitly marked, or a grader that does not say)."""
        return self.answer is not None and (self.extraction is None or self.extraction in STRICT_EXTRACTIONS)

    @property
    def answer_strict(self) -> str | None:
        """The answer under the strict policy: `answer` when explicitly marked, else None."""
        return self.answer if self.marked else None

    @property
    def correct_strict(self) -> bool:
        """The strict grade: correct, and the answer explicitly marked as the final one."""
        return self.correct and self.marked


class Benchmark(Protocol):
    name: str

    def problems(self) -> Sequence[Problem]: ...

    def grade(self, problem: Problem, response: str) -> Grade: ...
