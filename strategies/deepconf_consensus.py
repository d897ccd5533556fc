"""DeepConf's consensus stop (Fu et al. 2025, "Deep Think with Confidence", arXiv:2508.15260, section 3.2, adaptive
sampling): warm up on `warmup` samples, set the confidence bar s at their (1 - eta) percentile, then draw one sample
at a time until the confidence-weighted vote of the samples at or above s gives its leading answer a share
beta = V(leader) / sum V >= `consensus` (the paper's tau = 0.95), at most n; the answer is that weighted vote.

Read from the pool: samples in a random order; each sample's confidence is a stored scorer (lowest, bottom-10% or
tail group confidence: strategies/scorers/confidence.py, sampled with top-k logprobs). As the reference
(facebookresearch/deepconf, wrapper.py `_deepthink_online` and `_perform_basic_voting`): the bar is
np.percentile(warm-up confidences, 100 * (1 - eta)); a warm-up sample votes only if at or above it.
Where this differs: online DeepConf also stops a trace mid-generation once its group confidence falls below s; a
stored sample is whole, so a sample below the bar is charged all its tokens (an upper bound on that trace's cost)
and does not vote. The reference code's online mode generates its whole budget; the consensus stop is the paper's.

Expectation: Monte Carlo over `n_draws` seeded orderings per problem, with its standard error. Spend: the samples
drawn (the warm-up decoded side by side, the rest one at a time).

Example:
    est = DeepConfConsensus(confidence="tail_confidence", warmup=4).evaluate(pool, n=32)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from testtime.errors import UserError
from strategies.base import Adaptive
from strategies.deepconf import confidence_bar
from testtime.registry import register
from testtime.store.pool import Estimate, Pool, usage_cost
from testtime.store.stopping import class_cumsum, simulate


@register("strategy", "deepconf_consensus")
@dataclass(frozen=True)
class DeepConfConsensus(Adaptive):
    name: ClassVar[str] = "deepconf_consensus"
    confidence: str = "bottom_group_confidence"
    """Stored scorer giving each sample's confidence (non-negative)."""
    warmup: int = 16
    """Warm-up samples N_init (the paper's 16); a smaller cap n warms up on n."""
    eta: float = 0.1
    """Share of confident warm-up samples kept: 0.1 DeepConf-low, 0.9 DeepConf-high."""
    consensus: float = 0.95
    """Stop once the leading answer holds this share of the confidence-weighted vote (the paper's tau)."""
    n_draws: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.eta <= 1 or not 0 < self.consensus <= 1 or self.warmup < 1 or self.n_draws < 2:
            raise ValueError("deepconf_consensus: eta and consensus must lie in (0, 1], warmup >= 1, n_draws >= 2")

    @property
    def scorer(self) -> str:
        return self.confidence

    def evaluate(self, pool: Pool, n: int) -> Estimate:
        conf = pool.scores.get(self.confidence)
        if conf is None or np.isnan(conf).all():
            raise UserError(f"deepconf_consensus: the run has no {self.confidence!r} scores; stored: "
                            f"{', '.join(sorted(pool.scores)) or 'none'} (sample with --set sampling.logprobs=20)")
        if np.any(conf[np.isfinite(conf)] < 0):
            raise UserError(f"deepconf_consensus: {self.confidence!r} has negative scores, which cannot weigh a vote")
        warm = min(self.warmup, n)
        rule = _Consensus(np.nan_to_num(conf, nan=-1.0), warm, self.eta, self.consensus)
        acc, se, samples, usage = simulate(pool.answer_ids, pool.correct, n, rule, n_draws=self.n_draws,
                                           seed=self.seed)
        return usage_cost(pool, usage, acc, samples=samples, stderr=se, scorer=self.confidence,
                          batch=np.full(pool.n_problems, float(warm)))


class _Consensus:
    """The warm-up bar and the confidence-weighted vote of `simulate`'s orderings (NaN confidence: -1, never votes)."""

    one_is_its_own_vote = False   # a lone sample without confidence does not vote

    def __init__(self, conf: np.ndarray, warmup: int, eta: float, consensus: float):
        self.conf, self.warmup, self.eta, self.consensus = conf, warmup, eta, consensus

    def start(self, draws) -> None:
        c = self.conf[np.arange(self.conf.shape[0])[None, :, None], draws.perm]   # [D, P, n] in reading order
        warm = np.where(c[..., :self.warmup] >= 0, c[..., :self.warmup], np.nan)
        bar = confidence_bar(warm, self.eta)                                    # NaN: no warm-up confidence
        w = np.where((c >= bar[..., None]) & (draws.seq >= 0), c, 0.0)
        x = draws.extra
        x["w"], x["cw"] = w, class_cumsum(np.where(w > 0, draws.seq, -1), w)
        shape = draws.seq.shape[:2]
        x["lead"], x["top"], x["right"], x["total"] = np.zeros(shape), np.zeros(shape), np.zeros(shape), np.zeros(shape)

    def fires(self, draws, t: int) -> np.ndarray:
        x = draws.extra
        w, cw, o = x["w"][..., t - 1], x["cw"][..., t - 1], draws.right[..., t - 1]
        voted = w > 0
        tol = 1e-12 * np.maximum(x["lead"], 1e-300)
        lead = voted & (cw > x["lead"] + tol)
        join = voted & ~lead & (np.abs(cw - x["lead"]) <= tol)
        x["lead"] = np.where(lead, cw, x["lead"])
        x["top"] = np.where(lead, 1, x["top"] + join)
        x["right"] = np.where(lead, o, x["right"] + (join & o))
        x["total"] = x["total"] + w
        share = x["lead"] / np.where(x["total"] > 0, x["total"], 1)
        return (t >= self.warmup) & (x["total"] > 0) & (share >= self.consensus)

    def answer(self, draws) -> np.ndarray:
        x = draws.extra
        return x["right"] / np.maximum(x["top"], 1)
