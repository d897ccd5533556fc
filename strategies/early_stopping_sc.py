"""Early-Stopping Self-Consistency, ESC (Li et al. 2024, "Escape Sky-high Cost: Early-stopping Self-Consistency for
Multi-step Reasoning", ICLR): draw samples in windows of `window`, in a random order of the pool; stop after a window
whose answers are all the same and answer with it; at the cap n, the plurality of everything drawn.

As the reference (Yiwei98/ESC, early_stop_*.py): a window of samples without an answer is unanimous too (its "-1000"
answer) and answers wrongly. Where this differs: the reference stops at its last whole window (sc_num // window of
them); here a cap that is not a multiple of the window draws the rest and counts it in the final vote (a window cut
short by the cap does not stop early); the final vote leaves samples without an answer out and splits ties uniformly
(the reference counts "no answer" as an answer and takes the first most common).

Expectation over every ordering: exact per problem by the chain over vote counts with the window's class held aside
(testtime/store/stopping/) where it has at most `max_states` states; Monte Carlo over `n_draws` seeded orderings for
the rest. Spend: the samples drawn; a window's samples decode side by side.

Example:
    est = EarlyStoppingSC(window=5).evaluate(pool, n=40)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from strategies.base import Adaptive
from testtime.registry import register
from testtime.store.pool import Estimate, Pool, usage_cost
from testtime.store.stopping import WindowRule, stopping


@register("strategy", "esc")
@dataclass(frozen=True)
class EarlyStoppingSC(Adaptive):
    name: ClassVar[str] = "esc"
    window: int = 5
    """Samples per window (the paper's 5 on GSM8K)."""
    max_states: int = 20_000
    n_draws: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.window < 1 or self.n_draws < 2:
            raise ValueError(f"esc: window must be >= 1 and n_draws >= 2; got window={self.window}")

    def evaluate(self, pool: Pool, n: int) -> Estimate:
        acc, se, samples, usage, _ = stopping(pool.answer_ids, pool.correct, n, WindowRule(self.window),
                                              n_draws=self.n_draws, seed=self.seed, max_states=self.max_states)
        return usage_cost(pool, usage, acc, samples=samples, stderr=se,
                          batch=np.full(pool.n_problems, float(min(self.window, n))))
