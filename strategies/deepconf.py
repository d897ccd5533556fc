"""DeepConf offline (Fu et al. 2025, "Deep Think with Confidence", arXiv:2508.15260, section 3.1): keep the most
confident fraction `eta` of the samples, then a confidence-weighted majority vote among them.

Per size-n subset of a problem's pool, as the reference code does (facebookresearch/deepconf, utils.py
`filter_top_confidence` and `weighted_majority_vote`): samples without an answer are set aside; the rest are kept
when their confidence is at least the (1 - eta) percentile of the subset's confidences (numpy's linear
interpolation), and each kept sample votes with its confidence. eta = 0.1 is the paper's DeepConf-low, 0.9
DeepConf-high. Confidence is a stored scorer (strategies/scorers/confidence.py; the paper's offline measures are
bottom-10% group and tail confidence), read from top-k logprobs: sample with `sampling.logprobs: 20`.

The expectation over size-n subsets is exact (every subset) when there are at most `max_exact` of them, else Monte
Carlo with its standard error. Ties between classes are split uniformly. Spend: n samples from the pool (the
confidence is free).

Example:
    est = DeepConf(confidence="tail_confidence", eta=0.1).evaluate(pool, n=16)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import ClassVar

import numpy as np

from testtime.errors import UserError
from testtime.registry import register
from testtime.store.estimators import _classes, _weighted_winner
from testtime.store.pool import Estimate, Pool, sample_cost


@register("strategy", "deepconf")
@dataclass(frozen=True)
class DeepConf:
    kind: ClassVar[str] = "selection"
    name: ClassVar[str] = "deepconf"
    reads_gold: ClassVar[bool] = False
    confidence: str = "bottom_group_confidence"
    """Stored scorer giving each sample's confidence (non-negative): lowest_group_confidence,
    bottom_group_confidence, tail_confidence, or another such as self_certainty."""
    eta: float = 0.1
    """Share of the answering samples kept: 0.1 DeepConf-low, 0.9 DeepConf-high."""
    max_exact: int = 20_000
    """Enumerate every size-n subset up to this many (N = 16 is exact at every n); Monte Carlo beyond."""
    n_draws: int = 2000
    """Random size-n subsets per problem for the Monte-Carlo expectation."""
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.eta <= 1 or self.n_draws < 2:
            raise ValueError(f"deepconf: eta must lie in (0, 1] and n_draws >= 2; got eta={self.eta}")

    @property
    def scorer(self) -> str:
        """The confidence is the scorer this strategy reads (the runner stores it with the pool)."""
        return self.confidence

    def evaluate(self, pool: Pool, n: int) -> Estimate:
        conf = pool.scores.get(self.confidence)
        if conf is None:
            raise UserError(f"deepconf: the run has no {self.confidence!r} scores; stored: "
                            f"{', '.join(sorted(pool.scores)) or 'none'}")
        if np.isnan(conf).all():
            raise UserError(f"deepconf: the pool has no top-k logprobs to read {self.confidence!r} from; sample "
                            "with --set sampling.logprobs=20 (a new run directory)")
        if np.any(conf[np.isfinite(conf)] < 0):
            raise UserError(f"deepconf: {self.confidence!r} has negative scores, which cannot weigh a vote; use a "
                            "confidence (lowest_group_confidence, bottom_group_confidence, tail_confidence)")
        acc, se = expected_filtered_vote(pool.answer_ids, pool.correct, conf, n, eta=self.eta,
                                         max_exact=self.max_exact, n_draws=self.n_draws, seed=self.seed)
        return sample_cost(pool, n, acc, stderr=se, scorer=self.confidence)


def expected_filtered_vote(answer_ids: np.ndarray, correct: np.ndarray, confidence: np.ndarray, n: int, *,
                           eta: float, max_exact: int = 20_000, n_draws: int = 2000, seed: int = 0
                           ) -> tuple[np.ndarray, np.ndarray | None]:
    """Expected accuracy [P] of DeepConf's filter-then-weighted-vote over size-n subsets, and its Monte-Carlo
    standard error (None when every subset was enumerated). NaN confidences do not vote."""
    cls, _, ok = _classes(np.asarray(answer_ids), np.asarray(correct, bool))
    conf = np.asarray(confidence, float)
    P, N = cls.shape
    if not 1 <= n <= N:
        raise ValueError(f"n={n} samples must lie in [1, N={N}]")
    chunk = max(1, (1 << 22) // max(P * n, 1))
    if math.comb(N, n) <= max_exact:
        subsets = np.array(list(combinations(range(N), n)))
        hits = [_filtered_winner(cls[:, s].transpose(1, 0, 2), conf[:, s].transpose(1, 0, 2), ok, eta)
                for s in np.array_split(subsets, max(1, len(subsets) // chunk))]
        return np.concatenate(hits).mean(axis=0), None
    rng = np.random.default_rng(seed)
    hits = []
    for d in np.array_split(np.arange(n_draws), max(1, n_draws // chunk)):
        pick = rng.random((d.size, P, N)).argpartition(n - 1, axis=2)[..., :n]   # uniform size-n subsets
        hits.append(_filtered_winner(np.take_along_axis(cls[None], pick, 2), np.take_along_axis(conf[None], pick, 2),
                                     ok, eta))
    hits = np.concatenate(hits)
    return hits.mean(axis=0), hits.std(axis=0, ddof=1) / np.sqrt(n_draws)


def _filtered_winner(cls: np.ndarray, conf: np.ndarray, ok: np.ndarray, eta: float) -> np.ndarray:
    """[D, P, m] classes and confidences of D subsets -> [D, P] correctness of the filtered weighted vote."""
    valid = (cls >= 0) & np.isfinite(conf)
    thr = confidence_bar(np.where(valid, conf, np.nan), eta)
    kept = valid & (np.where(valid, conf, -np.inf) >= thr[..., None])
    return _weighted_winner(np.where(kept, cls, -1), np.where(kept, conf, 0.0), ok)


def confidence_bar(x: np.ndarray, eta: float) -> np.ndarray:
    """DeepConf's bar: the (1 - eta) percentile of the confidences along the last axis, NaN left out (the offline
    filter here, the warm-up of deepconf_consensus). np.nanpercentile's linear interpolation, vectorised; NaN
    where a row has no confidence."""
    q = 100 * (1 - eta)
    a = np.sort(x, axis=-1)                      # NaN sort last
    v = (~np.isnan(x)).sum(axis=-1)
    h = np.maximum(v - 1, 0) * (q / 100)
    lo = np.floor(h).astype(int)
    hi = np.minimum(lo + 1, np.maximum(v - 1, 0))
    a_lo, a_hi = np.take_along_axis(a, lo[..., None], -1)[..., 0], np.take_along_axis(a, hi[..., None], -1)[..., 0]
    t = h - lo
    out = np.where(t < 0.5, a_lo + (a_hi - a_lo) * t, a_hi - (a_hi - a_lo) * (1 - t))   # numpy's _lerp
    return np.where(v > 0, np.where(t == 0, a_lo, out), np.nan)
