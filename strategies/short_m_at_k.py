"""short-m@k (Hassid et al. 2025, "Don't Overthink it. Preferring Shorter Thinking Chains for Improved LLM
Reasoning", arXiv:2505.17813): launch k = n samples at once and halt all of them as soon as the first m have
finished; the answer is the plurality of those m, a tie going to the class of the shortest of them.

Modelled on the pool: a random size-n subset, finishing in order of length (ties in random order, every sample at
the same pace), so each sample generates min(its length, the m-th shortest length) tokens.
Exact: the tokens, FLOPs and each sample's usage by order statistics (the m-th shortest of a random size-k subset is
the sample at sorted position j with probability C(j, m-1) C(N-1-j, k-m) / C(N, k); given it, each shorter sample is
in the subset with chance (m-1)/j and each longer one with (k-m)/(N-1-j)); the accuracy of short-1@k (the shortest
sample: best-of-n by minus the length, ties split). short-m@k with m > 1: its accuracy is Monte Carlo over `n_draws`
seeded subsets (standard error reported). At n < m all n finish and vote.
Where this differs from the paper: length is the sample's output tokens (the paper counts thinking tokens between
<think> and </think>); samples without an answer do not vote.

Example:
    est = ShortMAtK(m=3).evaluate(pool, n=16)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import gammaln

from strategies.base import Adaptive
from testtime.registry import register
from testtime.store.estimators import expected_best_of_n
from testtime.store.pool import Estimate, Pool, usage_cost
from testtime.store.stopping import simulate


@register("strategy", "short_m_at_k")
@dataclass(frozen=True)
class ShortMAtK(Adaptive):
    name: ClassVar[str] = "short_m_at_k"
    m: int = 1
    """Finished samples that vote (the paper's short-1@k and short-3@k)."""
    n_draws: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.m < 1 or self.n_draws < 2:
            raise ValueError(f"short_m_at_k: m must be >= 1 and n_draws >= 2; got m={self.m}")

    def evaluate(self, pool: Pool, n: int) -> Estimate:
        m = min(self.m, n)
        L = pool.output_tokens.astype(float)
        if m == 1:
            acc, se = expected_best_of_n(-L, pool.correct, n), None
        else:
            acc, se, _, _ = simulate(pool.answer_ids, pool.correct, n, _FirstM(m), n_draws=self.n_draws,
                                     seed=self.seed, order="shortest", lengths=L)
        launched = np.full(pool.n_problems, float(n))
        return usage_cost(pool, halted_usage(L, n, m), acc, samples=launched, stderr=se, batch=launched)


def halted_usage(lengths: np.ndarray, k: int, m: int) -> np.ndarray:
    """[P, N] each sample's expected share of its tokens generated when a random size-k subset runs until its m-th
    shortest sample finishes (module docstring)."""
    P, N = lengths.shape
    order = np.argsort(lengths, axis=1, kind="stable")
    Ls = np.take_along_axis(lengths, order, 1)
    j = np.arange(N)
    lc = lambda a, b: np.where((b >= 0) & (b <= a), gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1),
                               -np.inf)  # noqa: E731
    p = np.exp(lc(j, m - 1) + lc(N - 1 - j, k - m) - lc(np.float64(N), np.float64(k)))   # j is the m-th shortest
    shorter = np.where(j > 0, p * (m - 1) / np.maximum(j, 1), 0.0)            # per sample below j: in the subset
    longer = np.where(N - 1 - j > 0, p * (k - m) / np.maximum(N - 1 - j, 1), 0.0)
    after = np.concatenate([np.cumsum(shorter[::-1])[::-1][1:], [0.0]])      # sum over j > i
    # i is the m-th; or shorter than the m-th (all its tokens); or longer (cut at the m-th's length)
    gen = p * Ls + Ls * after + _before(longer[None, :] * Ls)
    share = np.where(Ls > 0, gen / np.where(Ls > 0, Ls, 1), p + after + _before(np.broadcast_to(longer, (P, N))))
    out = np.empty_like(share)
    np.put_along_axis(out, order, share, 1)
    return out


def _before(a: np.ndarray) -> np.ndarray:
    """Exclusive prefix sums along the last axis."""
    c = np.cumsum(a, axis=-1)
    return np.concatenate([np.zeros(c.shape[:-1] + (1,)), c[..., :-1]], axis=-1)


@dataclass(frozen=True)
class _FirstM:
    """Stop when m samples have finished; the plurality of them, a tie to the class read first (the shortest)."""

    m: int

    def fires(self, draws, t: int) -> np.ndarray:
        return np.full(draws.v1.shape, t >= self.m)

    def answer(self, draws) -> np.ndarray:
        return draws.earliest_right.astype(float)
