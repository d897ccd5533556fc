"""The two small protocols every strategy implements, and what they return.

- A *selection* strategy reads a stored pool of N samples per problem and answers any budget n <= N with the
  expected accuracy over all size-n subsets (exact where a closed form exists, Monte Carlo with its standard error
  where not). One pool, every budget: sample once, select many times.
- A *generation* strategy drives the sampler itself (continuations, step-wise search) and stores what it generates.

Example:
    strategy = get("strategy", "majority_vote")()
    est = strategy.evaluate(pool, n=8)      # Estimate: per-problem accuracy, tokens and FLOPs at budget 8
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from testtime.pipeline.pool import Pool


@dataclass(frozen=True)
class Estimate:
    accuracy: np.ndarray
    """[P] expected accuracy per problem at this budget."""
    tokens: np.ndarray
    """[P] expected generated tokens per problem (policy and scorer)."""
    flops: np.ndarray
    """[P] expected inference FLOPs per problem: one shared prefill plus the decode of the chosen samples."""
    flops_naive: np.ndarray
    """[P] the same if every sample prefilled its own copy of the prompt (no prefix caching)."""
    stderr: np.ndarray | None = None
    """[P] Monte-Carlo standard error of `accuracy`, None where the estimate is exact."""


class Selection(Protocol):
    kind: ClassVar[str]  # "selection"
    name: ClassVar[str]

    def evaluate(self, pool: Pool, n: int) -> Estimate:
        """Expected accuracy and spend at budget n (1 <= n <= pool.n_samples)."""
        ...


def sample_cost(pool: Pool, n: int, accuracy: np.ndarray, stderr: np.ndarray | None = None,
                scorer: str | None = None) -> Estimate:
    """Spend of n samples drawn at random from each problem's pool: n times the mean sample, one shared prefill.

    A strategy that ranks by `scorer` also pays that scorer's passes over the n samples (`pool.scorer_flops`).
    """
    mean_tokens = pool.output_tokens.mean(axis=1)
    mean_decode = pool.decode_flops.mean(axis=1) + pool.score_flops.mean(axis=1)
    if scorer in pool.scorer_flops:
        mean_decode = mean_decode + pool.scorer_flops[scorer].mean(axis=1)
    return Estimate(accuracy=np.asarray(accuracy, float), tokens=n * mean_tokens,
                    flops=pool.prefill_flops + n * mean_decode,
                    flops_naive=n * (pool.prefill_flops + mean_decode), stderr=stderr)
