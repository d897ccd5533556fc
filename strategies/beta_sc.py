"""Beta self-consistency with all samples launched at once: its_hub's BetaSelfConsistency (Red-Hat-AI-Innovation-Team/
its_hub pull request #266, its_hub/core/algorithms/beta_self_consistency.py): send n requests together, read the
answers as they finish, and once two or more have an answer, stop when P(X > 1/2) >= threshold for X ~
Beta(v1 + 1, v2 + 1) (the Adaptive-Consistency criterion on the two largest counts), cancelling the rest; the
plurality of the finished answers is the answer.

Against Adaptive-Consistency (strategies/adaptive_consistency.py) the order is not random: requests decoded side by
side finish shortest first, so the rule reads the shortest samples, and every launched sample costs tokens until the
stop (a sample cut off pays the tokens it had). Modelled here: a random size-n subset of the pool, read in order of
length (ties in random order), each sample generating at the same pace, so a cut-off sample has generated as many
tokens as the sample whose arrival stopped the draw.
Where this differs from the reference: samples without an answer abstain (the reference projects them to an answer
that can be counted); ties of the vote split uniformly.

Expectation: Monte Carlo over `n_draws` seeded subsets per problem, with its standard error. `samples` counts the n
samples launched; the tokens and FLOPs count what they generated before the stop.

Example:
    est = BetaSC(threshold=0.95).evaluate(pool, n=16)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from strategies.base import Adaptive
from testtime.registry import register
from testtime.store.pool import Estimate, Pool, usage_cost
from testtime.store.stopping import BetaRule, simulate


@register("strategy", "beta_sc")
@dataclass(frozen=True)
class BetaSC(Adaptive):
    name: ClassVar[str] = "beta_sc"
    threshold: float = 0.95
    """its_hub's confidence_threshold."""
    n_draws: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.5 < self.threshold <= 1 or self.n_draws < 2:
            raise ValueError(f"beta_sc: threshold must lie in (0.5, 1] and n_draws >= 2; got {self.threshold}")

    def evaluate(self, pool: Pool, n: int) -> Estimate:
        acc, se, _, usage = simulate(pool.answer_ids, pool.correct, n, BetaRule(self.threshold, min_votes=2),
                                     n_draws=self.n_draws, seed=self.seed, order="shortest",
                                     lengths=pool.output_tokens)
        launched = np.full(pool.n_problems, float(n))
        return usage_cost(pool, usage, acc, samples=launched, stderr=se, batch=launched)
