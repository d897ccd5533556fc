"""A pool: N stored samples for each of P problems, as arrays, for selection strategies and estimators.

Sample once, select many times: every selection strategy is a pure function of a pool and a budget n <= N.

Example:
    pool = store.pool()
    pool.correct.shape        # (P, N)
    pool.scores["logprob"]    # (P, N) mean token logprob per sample
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Pool:
    problem_ids: tuple[str, ...]
    """Problem ids, one per row."""
    answer_ids: np.ndarray
    """[P, N] int: equal ids within a row are equivalent answers (math-verify); -1 where no answer was extracted."""
    correct: np.ndarray
    """[P, N] bool: the sample's answer matches the gold answer."""
    output_tokens: np.ndarray
    """[P, N] int: generated tokens per sample."""
    prompt_tokens: np.ndarray
    """[P] int: prompt tokens per problem (after the chat template)."""
    decode_flops: np.ndarray
    """[P, N] float: inference FLOPs of generating each sample (decode only; prefill is per problem)."""
    prefill_flops: np.ndarray
    """[P] float: FLOPs of one prefill of the problem's prompt (shared by its samples)."""
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    """Scorer name -> [P, N] float score per sample (higher is better); "oracle" (the correctness) is always there."""
    answers: tuple[tuple[str | None, ...], ...] = ()
    """[P][N] extracted answer strings, for display and weighted votes."""
    score_flops: np.ndarray | None = None
    """[P, N] float: FLOPs a generation strategy's own scorer spent on each record (a search's step scorer)."""
    scorer_flops: dict[str, np.ndarray] = field(default_factory=dict)
    """Scorer name -> [P, N] float FLOPs that scorer spent on each sample (reward-model or verifier passes); a
    strategy ranking by that scorer pays them, no other does. Absent: the scorer was free."""
    grading: str = "flexible"
    """The grade `correct`, `answer_ids` and `answers` hold: "flexible" (any extracted answer) or "strict"
    (explicitly marked answers only; the rest count as no answer)."""

    def __post_init__(self) -> None:
        shape = self.correct.shape
        if self.score_flops is None:
            object.__setattr__(self, "score_flops", np.zeros(shape))
        # The gold correctness is a score like any other (the oracle scorer's): best-of-n by it is pass@k.
        object.__setattr__(self, "scores", {**self.scores, "oracle": self.correct.astype(float)})
        for name in ("answer_ids", "output_tokens", "decode_flops", "score_flops"):
            if getattr(self, name).shape != shape:
                raise ValueError(f"pool.{name} has shape {getattr(self, name).shape}, expected {shape}")
        for name, s in [*self.scores.items(), *self.scorer_flops.items()]:
            if s.shape != shape:
                raise ValueError(f"pool.scores[{name!r}] has shape {s.shape}, expected {shape}")

    @property
    def n_problems(self) -> int:
        return self.correct.shape[0]

    @property
    def n_samples(self) -> int:
        """N, samples per problem."""
        return self.correct.shape[1]
