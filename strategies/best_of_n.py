"""Best-of-N: keep the highest-scoring of n samples (Cobbe et al. 2021; Snell et al. 2024 call it "verifier
best-of-N"). The scorer is any registered scorer whose scores the pool holds; by default the mean token logprob.
With the `oracle` scorer (gold correctness, a score every pool holds) best-of-n is pass@k: with ties split
uniformly, the best of n samples is correct exactly when any of them is.

Expected accuracy over all size-n subsets is exact (order statistics; ties split uniformly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from strategies.base import scorer_reads_gold
from testtime.errors import UserError
from testtime.registry import register
from testtime.store.estimators import expected_best_of_n
from testtime.store.pool import Estimate, Pool, sample_cost


@register("strategy", "best_of_n")
@dataclass(frozen=True)
class BestOfN:
    kind: ClassVar[str] = "selection"
    name: ClassVar[str] = "best_of_n"
    scorer: str = "logprob"
    """The stored scorer to rank by (the pool also holds "oracle", the gold correctness)."""

    @property
    def reads_gold(self) -> bool:
        return scorer_reads_gold(self.scorer)

    def evaluate(self, pool: Pool, n: int) -> Estimate:
        if self.scorer not in pool.scores:
            raise UserError(f"best_of_n: the run has no {self.scorer!r} scores; stored: "
                            f"{', '.join(sorted(pool.scores)) or 'none'} (or use --scorer oracle)")
        return sample_cost(pool, n, expected_best_of_n(pool.scores[self.scorer], pool.correct, n), scorer=self.scorer)
