"""The stopping rules that read only the vote counts (Adaptive-Consistency's Beta and Dirichlet criteria, the
supermajority of doubling rounds, ESC's unanimous window): both the exact chain (chain.py) and Monte Carlo
(montecarlo.py) read them.

Example:
    BetaRule(threshold=0.95).fires((5, 1), t=6)    # True: P(leader stays ahead | 5 votes to 1) >= 0.95
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np
from scipy import integrate, special, stats


# ---- the count rules ----------------------------------------------------------------------------------------------

class CountRule(Protocol):
    """A stopping rule that reads only the vote counts so far (the exact chain can walk it)."""

    def fires(self, top: tuple[int, ...], t: int) -> bool:
        """Whether to stop after t samples, given the largest vote counts (descending, at most 5, zeros left out)."""
        ...


def beta_stop_probability(v1, v2):
    """P(X > 1/2) for X ~ Beta(v1 + 1, v2 + 1): Adaptive-Consistency's chance that the leading answer (v1 votes) stays
    ahead of the runner-up (v2) (Aggarwal et al. 2023, `BetaStoppingCriteria`; its_hub's `beta_stopping_probability`,
    1 - I_0.5(v1 + 1, v2 + 1))."""
    return 1.0 - special.betainc(np.asarray(v1, float) + 1, np.asarray(v2, float) + 1, 0.5)


@lru_cache(maxsize=65536)
def dirichlet_top_probability(counts: tuple[int, ...]) -> float:
    """P(p_1 is the largest) for (p_1, ..., p_k) ~ Dirichlet(counts + 1), counts[0] the leader's: with independent
    G_i ~ Gamma(c_i + 1) and p_i = G_i / sum G, it is the one-dimensional integral of f_1(x) prod_{i>1} F_i(x)."""
    a = np.asarray(counts, float) + 1
    f = lambda x: stats.gamma.pdf(x, a[0]) * np.prod(stats.gamma.cdf(x, a[1:]))  # noqa: E731
    hi = stats.gamma.ppf(1 - 1e-12, a.max()) + 10
    return float(min(1.0, integrate.quad(f, 0, hi, limit=200, epsabs=1e-10)[0]))


@dataclass(frozen=True)
class BetaRule:
    """Stop once P(leader stays ahead) under Beta(v1 + 1, v2 + 1) reaches `threshold` (Adaptive-Consistency)."""

    threshold: float = 0.95
    min_votes: int = 1
    """Answers needed before the rule is read (its_hub's BetaSelfConsistency reads it from 2)."""

    def fires(self, top: tuple[int, ...], t: int) -> bool:
        if sum(top) < self.min_votes or not top:
            return False
        return bool(beta_stop_probability(top[0], top[1] if len(top) > 1 else 0) >= self.threshold)


@dataclass(frozen=True)
class DirichletRule:
    """Stop once P(leader has the largest share) under Dirichlet(counts + 1) over the top `top_k` classes reaches
    `threshold`; with fewer than 3 classes it is the Beta rule (Adaptive-Consistency's `DirichletStoppingCriteria`)."""

    threshold: float = 0.95
    top_k: int = 5

    def fires(self, top: tuple[int, ...], t: int) -> bool:
        if not top:
            return False
        if len(top) < 3:
            return BetaRule(self.threshold).fires(top, t)
        return dirichlet_top_probability(tuple(top[:self.top_k])) >= self.threshold


@dataclass(frozen=True)
class SupermajorityRule:
    """Rounds of 2, 2, 4, 8, ... samples (each round as large as all before it); stop after a round when the leading
    answer holds at least `threshold` of the samples drawn (its_hub's AdaptiveSelfConsistency)."""

    threshold: float = 0.75

    def fires(self, top: tuple[int, ...], t: int) -> bool:
        return t >= 2 and t & (t - 1) == 0 and bool(top) and top[0] >= self.threshold * t


@dataclass(frozen=True)
class WindowRule:
    """Windows of `window` samples; stop after a window whose answers are all the same (no answer counts as one
    answer here, as ESC's -1000), and answer with it (Li et al. 2024, ESC)."""

    window: int = 5

    def fires(self, top, t):   # read by the chain's window walk, never called
        raise NotImplementedError



NONE, MIXED, ABSTAIN = -1, -2, -3   # a window's state: empty, mixed, all without answer; (type, drawn) of its class
