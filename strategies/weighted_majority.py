"""Weighted majority vote: each distinct answer collects the weights of the samples that gave it; the heaviest wins.

Li et al. 2023 ("Making Language Models Better Reasoners with Step-Aware Verifier", arXiv:2206.02336) weigh votes
by a verifier; Snell et al. 2024 (arXiv:2408.03314) call it "weighted best-of-N". Answers are grouped by
math-verify equivalence ("1/2" and "0.5" are one class, from `pool.answer_ids`); samples without an answer abstain;
ties are split uniformly. The expectation over random size-n subsets is Monte Carlo (its standard error is
reported); n = 1 and n = N are exact.

Votes need non-negative weights, so scores are mapped (`weight`):
    "exp"    exp(score - the problem's largest score): for log-probabilities (logprob: exp of the mean token
             logprob, the geometric-mean token probability) and reward-model logits (Bradley-Terry strengths).
             Shifting by a per-problem constant leaves every vote unchanged and cannot overflow.
    "score"  the score as it is: probabilities (prm, self_verify, a two-label orm) and self_certainty (a KL, >= 0).
    "auto"   "exp" for logprob, and for orm when any score lies outside [0, 1] (a one-label ORM's logits);
             "score" otherwise. oracle votes with the gold correctness (0/1).
Scores that are NaN (nothing to score) or infinite weigh 0.

Example:
    est = WeightedMajority(scorer="prm").evaluate(pool, n=8)    # est.accuracy, est.stderr: [P]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from strategies.base import scorer_reads_gold
from testtime.errors import UserError
from testtime.registry import register
from testtime.store.estimators import expected_weighted_vote
from testtime.store.pool import Estimate, Pool, sample_cost

WEIGHTS = ("auto", "exp", "score")


@register("strategy", "weighted_majority")
@dataclass(frozen=True)
class WeightedMajority:
    kind: ClassVar[str] = "selection"
    name: ClassVar[str] = "weighted_majority"
    scorer: str = "logprob"
    """Stored scorer whose scores weigh the votes."""
    weight: str = "auto"
    """How scores become weights: auto | exp | score (see the module docstring)."""
    n_draws: int = 2000
    """Random size-n subsets per problem for the Monte-Carlo expectation."""
    seed: int = 0
    """Seed of those subsets."""

    def __post_init__(self) -> None:
        if self.weight not in WEIGHTS:
            raise UserError(f"weighted_majority: weight must be one of {', '.join(WEIGHTS)}; got {self.weight!r}")

    @property
    def reads_gold(self) -> bool:
        return scorer_reads_gold(self.scorer)

    def evaluate(self, pool: Pool, n: int) -> Estimate:
        if self.scorer in pool.scores:
            weights = vote_weights(pool.scores[self.scorer], self.scorer, self.weight)
        else:
            raise UserError(f"weighted_majority: the run has no {self.scorer!r} scores; stored: "
                            f"{', '.join(sorted(pool.scores)) or 'none'}")
        acc, se = expected_weighted_vote(pool.answer_ids, pool.correct, weights, n, n_draws=self.n_draws,
                                         seed=self.seed)
        return sample_cost(pool, n, acc, stderr=se, scorer=self.scorer)


def vote_weights(scores: np.ndarray, scorer: str, weight: str = "auto") -> np.ndarray:
    """Non-negative vote weights [P, N] from a scorer's scores [P, N]; NaN and infinite scores weigh 0.

    Args:
        scores: [P, N] float, higher is better.
        scorer: the scorer's name (chooses the mapping when `weight` is "auto").
        weight: "auto", "exp" or "score" (see the module docstring).

    Returns:
        [P, N] float >= 0.

    Example:
        vote_weights(np.log([[0.5, 0.25]]), "logprob")    # [[1.0, 0.5]]  (exp, shifted by the row's max)
    """
    s = np.asarray(scores, float)
    finite = np.isfinite(s)
    if weight == "auto":
        logits = scorer == "orm" and bool(np.any((s[finite] < 0) | (s[finite] > 1)))
        weight = "exp" if scorer == "logprob" or logits else "score"
    if weight == "exp":
        top = np.max(np.where(finite, s, -np.inf), axis=1, keepdims=True)
        shifted = s - np.where(np.isfinite(top), top, 0.0)
        return np.where(finite, np.exp(np.where(finite, shifted, 0.0)), 0.0)
    if np.any(s[finite] < 0):
        raise UserError(f"weighted_majority: {scorer!r} has negative scores, which cannot weigh a vote; "
                        "use weight='exp' for log-probabilities or logits")
    return np.where(finite, s, 0.0)
