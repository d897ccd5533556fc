"""DeepConf's confidence of a sample, from its top-k token logprobs (Fu et al. 2025, "Deep Think with Confidence",
arXiv:2508.15260, section 2; reference code facebookresearch/deepconf, deepconf/utils.py).

Token confidence (eq. 2): C_i = -(1/k) sum_{j=1..k} log P_i(j), minus the mean logprob of the k most likely tokens at
position i; a peaked distribution gives a high C. Group confidence (eq. 4): the mean of C over a sliding window of
`window` tokens, one group per full window (a sample shorter than one window is one group: its mean, as the
reference code's `compute_least_grouped`). The per-sample measures (section 2.2):

    lowest_group_confidence  the least confident group; online DeepConf stops a trace on it
    bottom_group_confidence  the mean of the bottom `fraction` of groups ("bottom 10% group confidence")
    tail_confidence          the mean of C over the last `tail` tokens ("tail confidence")

Paper defaults: k = 20 (sample with `sampling.logprobs: 20`), window = tail = 2048 tokens (for 256-token samples
use a smaller window, e.g. 32: configs/deepconf.yaml). vLLM lists the k most likely tokens plus the sampled one when
it is not among them; the k largest are used (k = `top_k`, default the shortest list of the sample). Without top-k
lists the score is NaN and `deepconf` says how to sample them. Free: read from the sampler's logprobs.

Example:
    LowestGroupConfidence(window=2).score(problem, [completion])   # min over windows of mean(-mean top-k logprob)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np

from testtime.registry import register


def token_confidence(top_logprobs: Sequence[Sequence[float]], k: int | None = None) -> np.ndarray:
    """[T] C_i = -(mean of the k largest logprobs at position i); k None: the shortest list. A position that lists
    fewer than k tokens averages those it has (the reference's mean over what vLLM returned), never -inf: a listed
    -inf (a token of probability 0, which an engine may list in a top-k) counts as not listed."""
    k = k or max(1, min(len(row) for row in top_logprobs))
    width = max(len(row) for row in top_logprobs)
    lp = np.full((len(top_logprobs), width), np.nan)
    for i, row in enumerate(top_logprobs):
        lp[i, : len(row)] = row
    lp[np.isneginf(lp)] = np.nan
    top = -np.sort(-lp, axis=1)[:, :k]   # NaN (missing) sorts last
    return -np.nanmean(top, axis=1)


def group_confidence(conf: np.ndarray, window: int) -> np.ndarray:
    """Mean of `conf` over every full sliding window of `window` tokens; one group (the mean) when shorter."""
    conf = np.asarray(conf, float)
    if conf.size < window:
        return np.array([conf.mean()]) if conf.size else np.array([math.nan])
    c = np.concatenate([[0.0], np.cumsum(conf)])
    return (c[window:] - c[:-window]) / window


def lowest_group(conf: np.ndarray, window: int) -> float:
    return float(group_confidence(conf, window).min())


def bottom_group(conf: np.ndarray, window: int, fraction: float = 0.1) -> float:
    groups = np.sort(group_confidence(conf, window))
    return float(groups[: max(1, int(groups.size * fraction))].mean())


def tail(conf: np.ndarray, tokens: int) -> float:
    conf = np.asarray(conf, float)
    return float(conf[-tokens:].mean()) if conf.size else math.nan


class _Measure:
    """bind/score/flops shared by the three measures; each defines `measure(conf)`."""

    reads_gold: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if min(getattr(self, f, 1) or 1 for f in ("window", "tail", "top_k")) < 1 \
                or not 0 < getattr(self, "fraction", 1) <= 1:
            raise ValueError(f"{self.name}: window, tail and top_k must be >= 1, fraction in (0, 1]")

    def bind(self, engines=None):
        return self   # nothing to load: the sampler returned the logprobs

    def score(self, problem, completions: Sequence) -> list[float]:
        return [self.measure(token_confidence(c.top_logprobs, self.top_k)) if c.top_logprobs else math.nan
                for c in completions]

    def flops(self, problem, completions: Sequence) -> None:
        return None


@register("scorer", "lowest_group_confidence")
@dataclass(frozen=True)
class LowestGroupConfidence(_Measure):
    name: ClassVar[str] = "lowest_group_confidence"
    window: int = 2048
    """Tokens per group (sliding window)."""
    top_k: int | None = None
    """k of the token confidence; None: as many as the sampler listed (`sampling.logprobs`)."""

    def measure(self, conf: np.ndarray) -> float:
        return lowest_group(conf, self.window)


@register("scorer", "bottom_group_confidence")
@dataclass(frozen=True)
class BottomGroupConfidence(_Measure):
    name: ClassVar[str] = "bottom_group_confidence"
    window: int = 2048
    """Tokens per group (sliding window)."""
    fraction: float = 0.1
    """Share of the least confident groups averaged."""
    top_k: int | None = None
    """k of the token confidence; None: as many as the sampler listed (`sampling.logprobs`)."""

    def measure(self, conf: np.ndarray) -> float:
        return bottom_group(conf, self.window, self.fraction)


@register("scorer", "tail_confidence")
@dataclass(frozen=True)
class TailConfidence(_Measure):
    name: ClassVar[str] = "tail_confidence"
    tail: int = 2048
    """Last tokens averaged."""
    top_k: int | None = None
    """k of the token confidence; None: as many as the sampler listed (`sampling.logprobs`)."""

    def measure(self, conf: np.ndarray) -> float:
        return tail(conf, self.tail)
