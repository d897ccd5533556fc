"""Adaptive-Consistency (Aggarwal et al. 2023, "Let's Sample Step by Step: Adaptive-Consistency for Efficient Reasoning
and Coding with LLMs", EMNLP): draw samples one at a time, in a random order of the pool, and stop as soon as the
leading answer is settled; vote among those drawn; at most n.

Criteria (reference: Pranjal2041/AdaptiveConsistency, adaptive_consistency/stopping_criterias.py):
    "beta"       P(X > 1/2) >= threshold for X ~ Beta(v1 + 1, v2 + 1), v1 and v2 the two largest vote counts
                 (`BetaStoppingCriteria`, whose two quadratures are this regularised incomplete beta).
    "dirichlet"  P(the leader's share is the largest) >= threshold under Dirichlet(counts + 1) over the five largest
                 classes, the Beta criterion with fewer than three (`DirichletStoppingCriteria`). Computed here as the
                 exact one-dimensional integral over independent Gamma variables; the reference estimates it by
                 Monte Carlo over a region that also caps every rival's share at 1/2.
Where this differs from the reference: samples without an answer abstain (the reference counts "no answer" as one
more answer); ties of the final vote are split uniformly (the reference takes the first most common).

Expectation over every ordering: exact per problem by the chain over vote counts where its state space is at most
`max_states` (testtime/store/stopping/), Monte Carlo over `n_draws` seeded orderings for the rest (with its standard
error). Spend: the samples drawn, one after another (no two share a decode step).

Example:
    est = AdaptiveConsistency(threshold=0.95).evaluate(pool, n=32)   # est.samples: expected samples per problem
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from strategies.base import Adaptive
from testtime.registry import register
from testtime.store.pool import Estimate, Pool, usage_cost
from testtime.store.stopping import BetaRule, DirichletRule, stopping

CRITERIA = ("beta", "dirichlet")


@register("strategy", "adaptive_consistency")
@dataclass(frozen=True)
class AdaptiveConsistency(Adaptive):
    name: ClassVar[str] = "adaptive_consistency"
    criterion: str = "beta"
    """beta | dirichlet (module docstring)."""
    threshold: float = 0.95
    """Stop once the criterion's probability reaches this (the paper's 0.95)."""
    max_states: int = 20_000
    """Largest chain walked exactly per problem; larger ones are Monte Carlo."""
    n_draws: int = 2000
    """Orderings per problem for the Monte-Carlo expectation."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.criterion not in CRITERIA:
            raise ValueError(f"adaptive_consistency: criterion must be one of {', '.join(CRITERIA)}; "
                             f"got {self.criterion!r}")
        if not 0.5 < self.threshold <= 1 or self.n_draws < 2:
            raise ValueError(f"adaptive_consistency: threshold must lie in (0.5, 1] and n_draws >= 2; got "
                             f"threshold={self.threshold}")

    def evaluate(self, pool: Pool, n: int) -> Estimate:
        rule = BetaRule(self.threshold) if self.criterion == "beta" else DirichletRule(self.threshold)
        acc, se, samples, usage, _ = stopping(pool.answer_ids, pool.correct, n, rule, n_draws=self.n_draws,
                                              seed=self.seed, max_states=self.max_states)
        return usage_cost(pool, usage, acc, samples=samples, stderr=se, batch=np.ones(pool.n_problems))
