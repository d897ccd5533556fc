"""Best-of-N: keep the highest-scoring of n samples (Cobbe et al. 2021; Snell et al. 2024 call it "verifier
best-of-N"). The scorer is any registered scorer whose scores the pool holds; by default the mean token logprob.
With the `oracle` scorer (gold correctness) best-of-n is pass@k, computed with the unbiased estimator of Chen et al.

Expected accuracy over all size-n subsets is exact (order statistics; ties split uniformly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from strategies.base import Estimate, sample_cost
from testtime.errors import UserError
from testtime.pipeline.estimators import expected_best_of_n, pass_at_k
from testtime.pipeline.pool import Pool
from testtime.registry import register


@register("strategy", "best_of_n")
@dataclass(frozen=True)
class BestOfN:
    kind: ClassVar[str] = "selection"
    name: ClassVar[str] = "best_of_n"
    uses_scorer: ClassVar[bool] = True
    scorer: str = "logprob"

    def evaluate(self, pool: Pool, n: int) -> Estimate:
        if self.scorer == "oracle":
            return sample_cost(pool, n, pass_at_k(pool.correct.sum(axis=1), pool.n_samples, n))
        if self.scorer not in pool.scores:
            raise UserError(f"best_of_n: the run has no {self.scorer!r} scores; stored: "
                            f"{', '.join(sorted(pool.scores)) or 'none'} (or use --scorer oracle)")
        return sample_cost(pool, n, expected_best_of_n(pool.scores[self.scorer], pool.correct, n), scorer=self.scorer)
