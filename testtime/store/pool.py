"""A pool: N stored samples for each of P problems, as arrays, for selection strategies and estimators; and what a
selection strategy returns at n samples (`Estimate`) with the spend of n samples drawn from the pool (`sample_cost`).

Sample once, select many times: every selection strategy is a pure function of a pool and n <= N samples.

Example:
    pool = store.pool()
    pool.correct.shape        # (P, N)
    pool.scores["logprob"]    # (P, N) mean token logprob per sample
    sample_cost(pool, 8, acc) # Estimate: accuracy `acc`, tokens and FLOPs of 8 samples per problem
    usage_cost(pool, usage, acc, samples=s)   # the same for an adaptive strategy: each sample's expected share
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
    left_out: tuple[str, ...] = ()
    """Problems of the stored group left out because fewer of their samples are stored than the group's most
    (`testtime.store.reader`'s rule); empty when every stored problem is whole."""
    seconds: np.ndarray | None = None
    """[P, N] float: seconds each sample took, measured per request (time to first token + time per output token x
    the rest of its tokens, `testtime.store.reader.measured_seconds`); NaN where not measured."""

    def __post_init__(self) -> None:
        shape = self.correct.shape
        if self.score_flops is None:
            object.__setattr__(self, "score_flops", np.zeros(shape))
        if self.seconds is None:
            object.__setattr__(self, "seconds", np.full(shape, np.nan))
        # The gold correctness is a score like any other (the oracle scorer's): best-of-n by it is pass@k.
        object.__setattr__(self, "scores", {**self.scores, "oracle": self.correct.astype(float)})
        for name in ("answer_ids", "output_tokens", "decode_flops", "score_flops", "seconds"):
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


@dataclass(frozen=True)
class Estimate:
    """A selection strategy at one n: expected accuracy and spend per problem."""

    accuracy: np.ndarray
    """[P] expected accuracy per problem at this n."""
    tokens: np.ndarray
    """[P] expected generated tokens per problem (policy and scorer)."""
    flops: np.ndarray
    """[P] expected inference FLOPs per problem: one shared prefill plus the decode of the chosen samples."""
    flops_naive: np.ndarray
    """[P] the same if every sample prefilled its own copy of the prompt (no prefix caching)."""
    stderr: np.ndarray | None = None
    """[P] Monte-Carlo standard error of `accuracy`, None where the estimate is exact."""
    samples: np.ndarray | None = None
    """[P] expected samples read per problem: n for a fixed n, fewer for a strategy that stops early."""
    usage: np.ndarray | None = None
    """[P, N] each stored sample's expected share of its tokens generated (n/N each for n samples drawn at random;
    an adaptive strategy's own): every per-sample cost (testtime.analysis.costs) is the usage-weighted sum."""
    batch: np.ndarray | None = None
    """[P] expected samples of a problem decoded side by side (they can share one read of the prompt's KV cache): n
    for n samples at once, 1 for samples drawn one after another."""


def usage_cost(pool: Pool, usage: np.ndarray, accuracy: np.ndarray, *, samples: np.ndarray,
               stderr: np.ndarray | None = None, scorer: str | None = None,
               batch: np.ndarray | None = None) -> Estimate:
    """Spend of a strategy that generates each stored sample's tokens with expected share `usage` [P, N]: one shared
    prefill plus the usage-weighted decode (and the passes of `scorer`, if it ranks by one); without prefix caching,
    one prefill per sample read.

    Example:
        usage_cost(pool, np.full(pool.correct.shape, 0.5), acc, samples=np.full(P, N / 2))   # half of each pool
    """
    usage = np.asarray(usage, float)
    decode = pool.decode_flops + pool.score_flops
    if scorer in pool.scorer_flops:
        decode = decode + pool.scorer_flops[scorer]
    samples = np.asarray(samples, float)
    spent = (usage * decode).sum(axis=1)
    return Estimate(accuracy=np.asarray(accuracy, float), tokens=(usage * pool.output_tokens).sum(axis=1),
                    flops=pool.prefill_flops + spent, flops_naive=samples * pool.prefill_flops + spent,
                    stderr=stderr, samples=samples, usage=usage, batch=samples if batch is None else batch)


def sample_cost(pool: Pool, n: int, accuracy: np.ndarray, stderr: np.ndarray | None = None,
                scorer: str | None = None) -> Estimate:
    """Spend of n samples drawn at random from each problem's pool: n times the mean sample, one shared prefill.

    A strategy that ranks by `scorer` also pays that scorer's passes over the n samples (`pool.scorer_flops`).
    """
    P, N = pool.correct.shape
    return usage_cost(pool, np.full((P, N), n / N), accuracy, samples=np.full(P, float(n)), stderr=stderr,
                      scorer=scorer)
