"""pass@k (coverage): a problem counts as solved when any of k samples is correct. The unbiased estimator of
Chen et al. 2021, 1 - C(N-c, k)/C(N, k); an oracle upper bound on every selection strategy (Brown et al. 2024)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from testtime.registry import register
from testtime.store.estimators import pass_at_k
from testtime.store.pool import Estimate, Pool, sample_cost


@register("strategy", "pass_at_k")
@dataclass(frozen=True)
class PassAtK:
    kind: ClassVar[str] = "selection"
    name: ClassVar[str] = "pass_at_k"
    scorer: ClassVar[str | None] = None
    reads_gold: ClassVar[bool] = True

    def evaluate(self, pool: Pool, n: int) -> Estimate:
        return sample_cost(pool, n, pass_at_k(pool.correct.sum(axis=1), pool.n_samples, n))
