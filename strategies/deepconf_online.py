"""DeepConf online (Fu et al. 2025, "Deep Think with Confidence", arXiv:2508.15260, section 3.2, Algorithm 2):
calibrate a stopping threshold on warm-up traces, then stop every further trace whose group confidence falls below
it, and vote among the confident traces.

For a budget of B traces per problem:
    1. warm-up: `warmup` (N_init) traces, generated in full with top-k logprobs. The threshold s is the (1 - eta)
       percentile of their lowest group confidences (eta = 0.1 DeepConf-low, 0.9 DeepConf-high).
    2. the other B - N_init traces are generated `chunk_tokens` at a time: one request per problem for the first
       chunk (n = B - N_init), then each trace continues as a raw continuation of its own text (vLLM's prefix cache
       holds most of the prefix; what it does not hold is charged, strategies/steps.py `Spend.prefill`). Between
       chunks, a trace whose confidence over any full window of `window` tokens has fallen below s is stopped.
       Every request has its own seed (the warm-up, the first chunk, each trace's continuations), so on a seeded
       engine the final traces never repeat the warm-up traces.
    3. vote: every trace whose lowest group confidence is at least s (a stopped one never is) votes with that
       confidence (the reference code's `_perform_basic_voting`); the answer is the heaviest class's most confident
       trace.
An empty trace's confidence is 0 (the reference's `compute_least_grouped`). How traces stop: between chunks, not by
a vLLM logits processor (the reference code's way, which ends a trace at the very token). A stopped trace has
generated the rest of its chunk, up to chunk_tokens - 1 tokens more than the processor would; those are charged
(`overshoot_tokens`); `chunk_tokens: 1` stops at the exact token, at an engine round per token. The consensus-based
early end of sampling (section 3.2, "adaptive sampling") is not done: all B traces are started.

The record of a problem is the voted trace, charged with every token of every trace (`n_tokens`), each chunk
decoded at its own context position. Paper defaults: N_init = 16, eta = 0.1 or 0.9, window 2048, k = 20.

Example:
    dc = DeepConfOnline(warmup=4, window=32)
    for i, [voted] in dc.stream(sampler, problems, Sampling(max_tokens=256), budget=16): ...
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Iterator, Sequence

import numpy as np

from strategies.base import BoundScorer, check_positive
from strategies.scorers.confidence import group_confidence, lowest_group, token_confidence
from strategies.voting import answer_classes, weighted_vote
from testtime.errors import UserError
from testtime.registry import register
from testtime.sampler import Completion, Sampler, Sampling, Spend, node_seed


@dataclass
class _Trace:
    problem: int
    start: int
    """Context position of its first generated token (the prompt's tokens)."""
    warm: bool
    text: str = ""
    tokens: int = 0
    conf: list = field(default_factory=list)
    logprob: float = 0.0
    token_logprobs: tuple = ()
    segments: list = field(default_factory=list)
    done: bool = False
    stopped_at: int | None = None
    """Tokens up to the end of the first full window below the threshold; None while it has not fallen."""
    finish_reason: str | None = None
    index: int = 0
    """Its place among the problem's final traces (its seed's identity)."""

    def lowest(self, window: int) -> float:
        """Lowest group confidence; 0 for an empty trace, as the reference code's `compute_least_grouped`."""
        return lowest_group(np.array(self.conf), window) if self.conf else 0.0

    def add(self, c: Completion, top_k: int) -> None:
        if c.n_tokens and not c.top_logprobs:
            raise UserError("deepconf_online needs the sampler's top-k logprobs, and this backend returned none")
        self.segments.append((self.start + self.tokens, c.n_tokens))
        self.text += c.text
        self.tokens += c.n_tokens
        self.conf += list(token_confidence(c.top_logprobs, top_k)) if c.n_tokens else []
        self.logprob += c.logprob or 0.0
        self.token_logprobs += c.token_logprobs
        self.finish_reason = c.finish_reason


@register("strategy", "deepconf_online")
@dataclass(frozen=True)
class DeepConfOnline:
    kind: ClassVar[str] = "generation"
    name: ClassVar[str] = "deepconf_online"
    budget_unit: ClassVar[str] = "traces"
    revision: ClassVar[int] = 2
    """2: warm-up, first chunk and each trace seeded apart, an empty trace has confidence 0, continuations charged
    their prefill."""
    scorer: ClassVar[str | None] = None
    independent_samples: ClassVar[bool] = False
    grid_select: ClassVar[tuple[str, ...]] = ()
    warmup: int = 16
    """N_init: warm-up traces per problem, generated in full to set the threshold."""
    eta: float = 0.1
    """Share of warm-up traces above the threshold: 0.1 DeepConf-low, 0.9 DeepConf-high."""
    window: int = 2048
    """Tokens per group; a trace shorter than one window is never stopped."""
    top_k: int = 20
    """k of the token confidence (top-k logprobs requested)."""
    chunk_tokens: int = 64
    """Tokens generated between two confidence checks."""

    def __post_init__(self) -> None:
        if min(self.warmup, self.window, self.top_k, self.chunk_tokens) < 1 or not 0 < self.eta <= 1:
            raise ValueError("deepconf_online: warmup, window, top_k and chunk_tokens must be >= 1, eta in (0, 1]")

    def check_budget(self, budget: int) -> None:
        check_positive(self.name, budget, "traces")

    def stream(self, sampler: Sampler, problems: Sequence, sampling: Sampling, *, budget: int,
               scorer: BoundScorer | None = None) -> Iterator[tuple[int, list[Completion]]]:
        """Warm up, calibrate, generate with early stopping, vote; yield (index, [voted trace]) per problem."""
        self.check_budget(budget)
        heads = [sampler.chat_prompt(p.prompt) for p in problems]
        warm = min(self.warmup, budget)

        def params(n: int, max_tokens: int, *identity) -> Sampling:
            return replace(sampling, n=n, max_tokens=max_tokens, logprobs=self.top_k, min_tokens=0,
                           seed=node_seed(sampling.seed, *identity))

        traces: list[list[_Trace]] = [[] for _ in problems]
        spend = [Spend() for _ in problems]
        prompt_tokens = [0] * len(problems)
        for i, cs in sampler.stream(heads, params(warm, sampling.max_tokens, "warmup"), raw=True):
            prompt_tokens[i] = cs[0].prompt_tokens
            for c in cs:
                traces[i].append(t := _Trace(problem=i, start=c.prompt_tokens, warm=True, done=True))
                t.add(c, self.top_k)
        threshold = [float(np.percentile([t.lowest(self.window) for t in ts], 100 * (1 - self.eta)))
                     for ts in traces]
        live: list[_Trace] = []
        if budget > warm:
            first = params(budget - warm, min(self.chunk_tokens, sampling.max_tokens), "final")
            for i, cs in sampler.stream(heads, first, raw=True):
                if cs:   # the warm-up computed the prompt: what the cache did not keep is prefilled again
                    spend[i].prefill(cs[0], prompt_tokens[i], sampler.prefix_block)
                for k, c in enumerate(cs):
                    live.append(t := _Trace(problem=i, start=prompt_tokens[i], warm=False, index=k))
                    t.add(c, self.top_k)
                traces[i] += live[-len(cs):]
        while live:
            for t in live:
                t.stopped_at = first_drop(t.conf, self.window, threshold[t.problem])
                t.done = t.finish_reason == "stop" or t.tokens >= sampling.max_tokens
            live = [t for t in live if not t.done and t.stopped_at is None]
            each = [params(1, min(self.chunk_tokens, sampling.max_tokens - t.tokens), "trace", t.index, t.tokens)
                    for t in live]
            for j, (c,) in sampler.stream([heads[t.problem] + t.text for t in live], each, raw=True):
                t = live[j]
                spend[t.problem].prefill(c, t.start + t.tokens - 1, sampler.prefix_block)
                t.add(c, self.top_k)
        for i, problem in enumerate(problems):
            yield i, [self._vote(problem, traces[i], threshold[i], prompt_tokens[i], budget, spend[i])]

    def _vote(self, problem, traces: list[_Trace], threshold: float, prompt_tokens: int, budget: int,
              spend: Spend) -> Completion:
        lowest = [t.lowest(self.window) for t in traces]
        voters = [k for k, low in enumerate(lowest) if low >= threshold and traces[k].stopped_at is None]
        pick = weighted_vote(answer_classes(problem, [traces[k].text for k in voters]), [lowest[k] for k in voters])
        best = traces[voters[pick] if pick is not None else int(np.argmax(lowest))]
        stopped = [t for t in traces if t.stopped_at is not None]
        spend.decode_segments = [s for t in traces for s in t.segments]
        return Completion(
            text=best.text, n_tokens=sum(t.tokens for t in traces), prompt_tokens=prompt_tokens, logprob=best.logprob,
            finish_reason=best.finish_reason, token_logprobs=best.token_logprobs,
            extra={"budget": budget, "warmup": sum(t.warm for t in traces), "threshold": threshold,
                   "voters": len(voters), "stopped_traces": len(stopped),
                   "stopped_tokens": sum(t.tokens for t in stopped),
                   "overshoot_tokens": sum(t.tokens - t.stopped_at for t in stopped),
                   "solution_tokens": best.tokens}, spend=spend)


def first_drop(conf: Sequence[float], window: int, threshold: float) -> int | None:
    """Tokens up to the end of the first full window whose mean confidence is below `threshold`; None if none is.

    Example:
        first_drop([5, 5, 1, 1], window=2, threshold=3.5)    # 3: the window of tokens 2-3 has mean 3
    """
    if len(conf) < window:
        return None
    below = np.flatnonzero(group_confidence(np.asarray(conf, float), window) < threshold)
    return int(below[0]) + window if below.size else None
