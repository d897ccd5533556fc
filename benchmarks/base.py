"""What a benchmark is: problems with gold answers, and a grade for a response.

Example:
    bench = benchmarks.load("gsm8k", data_dir="../shared/data")
    p = bench.problems()[0]
    bench.grade(p, "... so the answer is \\boxed{18}")   # Grade(answer="18", correct=True)
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


@dataclass(frozen=True)
class Grade:
    answer: str | None
    """The extracted answer in canonical form; None when nothing could be extracted."""
    correct: bool
    """Whether the answer is equivalent to the gold answer."""


class Benchmark(Protocol):
    name: str

    def problems(self) -> Sequence[Problem]: ...

    def grade(self, problem: Problem, response: str) -> Grade: ...
