"""Supermajority stop with doubling rounds: its_hub's AdaptiveSelfConsistency (Red-Hat-AI-Innovation-Team/its_hub pull
request #262, its_hub/core/algorithms/adaptive_self_consistency.py): rounds of 2, 2, 4, 8, ... samples (each round as
large as everything before it; the last cut to the cap n), stopping after a round in which the leading answer holds
at least `threshold` of the samples drawn; the plurality of all drawn is the answer.

Where this differs from the reference: samples without an answer abstain but count in the denominator (the
reference's projection makes "no answer" one more answer, which could lead); ties are split uniformly (the
reference picks among the most common at random, the same in expectation).

Expectation over every ordering: exact per problem by the chain over vote counts (testtime/store/stopping/) where
it has at most `max_states` states; Monte Carlo for the rest. Spend: the samples drawn; a round decodes side by side
(`batch` is the samples over the rounds a doubling schedule takes to reach them, an approximation).

Example:
    est = Supermajority(threshold=0.75).evaluate(pool, n=64)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from strategies.base import Adaptive
from testtime.registry import register
from testtime.store.pool import Estimate, Pool, usage_cost
from testtime.store.stopping import SupermajorityRule, stopping


@register("strategy", "supermajority")
@dataclass(frozen=True)
class Supermajority(Adaptive):
    name: ClassVar[str] = "supermajority"
    threshold: float = 0.75
    """Share of the drawn samples the leading answer must hold (its_hub's default 75%)."""
    max_states: int = 20_000
    n_draws: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.5 < self.threshold <= 1 or self.n_draws < 2:
            raise ValueError(f"supermajority: threshold must lie in (0.5, 1] and n_draws >= 2; got {self.threshold}")

    def evaluate(self, pool: Pool, n: int) -> Estimate:
        acc, se, samples, usage, _ = stopping(pool.answer_ids, pool.correct, n, SupermajorityRule(self.threshold),
                                              n_draws=self.n_draws, seed=self.seed, max_states=self.max_states)
        rounds = 1 + np.log2(np.maximum(samples, 2) / 2)
        return usage_cost(pool, usage, acc, samples=samples, stderr=se, batch=samples / rounds)
