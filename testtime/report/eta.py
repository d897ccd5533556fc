"""How long sampling has left, from the engine's live per-sequence token counts.

Why not "problems left x tokens per finished problem / tokens per second": in a wide batch every request runs at
once, the first problems to finish are the short ones, and the tokens already in flight soon exceed that estimate,
so the ETA read 0:00 for the whole of a 128-problem run. Instead:

1. **Lengths.** A Kaplan-Meier estimate of the sequence-length distribution: finished sequences are events, running
   ones are censored (each will be at least as long as it is now), and a sequence that reached max_tokens is
   censored there (its own length would have been longer). Past the longest length seen, the rate at which the
   last observed stretch ended goes on, falling as 1/length (a power-law tail: survivors far past the rest, often
   repetition loops, tend to keep going); with no ending seen yet, everything runs to max_tokens.
2. **Work.** Every running sequence gets a remaining length and every waiting one a length, at evenly spread
   quantiles of that distribution (conditional on the length so far, capped at its max_tokens). List-scheduling
   them on the engine's slots gives the decode steps left (the batch's longest tail) and the tokens left.
3. **Time.** A decode step over b running sequences costs alpha + beta * b seconds: alpha is the fixed cost (reading
   the weights: what a GPU batch mostly pays), beta the per-sequence compute (what a CPU batch mostly pays). Then
   time left = alpha * steps + beta * tokens. The split is fitted to the observed (running, tokens/s) pairs once the
   running count has varied, over the last couple of minutes only: a step also slows as contexts grow, and over a
   whole run, where the batch shrinks while contexts grow, that slowdown would read as a fixed cost. Before the
   count varies (a wide batch may hold every slot until its queue is empty: most of the run) the split is the
   engine's hint (testtime.sampler.EngineProgress.compute_bound). A CPU is compute-bound, so 0.9 per-sequence:
   half and half there priced the many cheap steps of a draining batch like full ones and read 2-3x long in the
   second half of the default run; the 0.1 left keeps a tail of a few long sequences from costing nothing. With
   no hint it is half and half, which (given the work left) is never below half the truth in either regime.
4. **Warm-up.** Rates (and the fit) start once the first batch is in: while the running count still climbs and
   nothing has finished, each step carries a chunk of the prompts' prefill (the default run on 2 CPU cores spends
   ~55 s admitting its 512 prompts, ~10 s a step), and pricing the run at that rate read 4-5x long at one minute.

Example:
    est = EtaEstimator(sequences=128, max_tokens=512)
    est.observe(30.0, tokens=3_840, finished=[], running=[(30, 512)] * 128, queued=[])
    est.observe(61.0, tokens=7_800, finished=[40, 55], running=[(61, 512)] * 126, queued=[])
    est.eta()     # seconds left (~440: the rest may run to 512), or None before tokens flow

Tested against simulated engines (wide and narrow batches, GPU-like and CPU-like step costs) and recorded vLLM
traces in tests/report/test_progress.py.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from typing import Sequence

import numpy as np

GOLDEN = (math.sqrt(5) - 1) / 2   # a low-discrepancy step: any run of consecutive quantiles is spread evenly
COMPUTE_BOUND_SHARE = 0.9         # the prior per-sequence share of a step's cost where the engine is compute-bound


def survival(finished: Sequence[int], running: Sequence[int], *, max_tokens: int, horizon: int) -> np.ndarray:
    """S[l] = P(length > l) for l = 0..horizon: Kaplan-Meier over finished lengths (events; those at or past
    `max_tokens` are censored there) and running lengths (censored), with a power-law tail past the data."""
    size = horizon + 2
    ends = np.asarray(finished, dtype=np.int64)
    capped = ends >= max_tokens
    events = np.bincount(np.clip(ends[~capped], 0, size - 1), minlength=size)[:size]
    censored = np.concatenate([np.minimum(ends[capped], horizon), np.asarray(running, dtype=np.int64)])
    censor = np.bincount(np.clip(censored, 0, size - 1), minlength=size)[:size]
    # at risk at l: known to be at least l long = ended at >= l, or still alive at >= l
    at_risk = np.cumsum((events + censor)[::-1])[::-1]
    seen = int(max(ends.max(initial=0), max(running, default=0)))
    hazard = np.divide(events, at_risk, out=np.zeros(size), where=at_risk > 0)
    lo = seen // 2 + 1   # the last observed stretch: how fast survivors end now, not early on
    exposure = at_risk[lo:seen + 1].sum()
    recent = events[lo:seen + 1].sum() / exposure if exposure else 0.0
    hazard[seen + 1:] = recent * seen / np.arange(seen + 1, size)
    hazard[0] = 0.0   # nothing ends before its first token
    return np.cumprod(1.0 - np.minimum(hazard, 1.0))[:horizon + 1]


def lengths(S: np.ndarray, so_far: np.ndarray, caps: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The length at quantile u of each sequence's distribution given that it is already `so_far` long, capped at
    its max_tokens: the first l with S[l] <= S[so_far] * (1 - u)."""
    target = S[np.minimum(so_far, len(S) - 1)] * (1.0 - u)
    first = np.searchsorted(-S, -target, side="left")   # -S is non-decreasing
    return np.minimum(np.maximum(first, so_far + 1), caps)


def makespan(remaining: np.ndarray, waiting: np.ndarray, slots: int) -> int:
    """Decode steps until every sequence is done: `remaining` run now, `waiting` take the next free slot in order."""
    if not len(waiting):
        return int(remaining.max(initial=0))
    free = max(slots - len(remaining), 0)
    finish = [0] * free + remaining.tolist()
    heapq.heapify(finish)
    for n in waiting.tolist():
        heapq.heappush(finish, heapq.heappop(finish) + n)
    return max(finish)


class EtaEstimator:
    """Seconds of sampling left, from snapshots of the engine's sequences (see the module docstring).

    Args:
        sequences: sequences this sampling will produce in all (problems left x samples per problem).
        max_tokens: the cap of sequences not yet given to the engine.
        window_s: the tokens/s that prices a step is measured over this many recent seconds.
        segment_s: the step cost's dependence on the running count is fitted over segments this long,
        fit_s: and over the last fit_s seconds only.
        compute_bound: the engine's hint (testtime.sampler.EngineProgress): True where a step's time grows with its
            batch (a CPU), False where it is mostly fixed (a GPU), None if unknown. It sets the per-sequence share of
            a step's cost until the running count varies enough to fit it.
    """

    def __init__(self, *, sequences: int, max_tokens: int, window_s: float = 30.0, segment_s: float = 3.0,
                 fit_s: float = 120.0, compute_bound: bool | None = None):
        self.sequences, self.max_tokens = sequences, max_tokens
        self.prior_share = COMPUTE_BOUND_SHARE if compute_bound else 0.5
        self.window_s, self.segment_s, self.fit_s = window_s, segment_s, fit_s
        self.history: deque[tuple[float, int, int]] = deque()   # (t, tokens, running)
        self.segments: deque[tuple[float, float, float, float]] = deque()   # (end, seconds, mean running, s/step)
        self._seg_start: tuple[float, int, float] | None = None   # (t, tokens, running x seconds)
        self.slots = 0
        self.snapshot: tuple[list[int], list[tuple[int, int]], list[int]] = ([], [], [])

    def observe(self, t: float, *, tokens: int, finished: Sequence[int], running: Sequence[tuple[int, int]],
                queued: Sequence[int]) -> None:
        """One snapshot at `t` seconds: tokens generated so far, lengths of finished sequences, (tokens so far,
        max_tokens) of running ones, max_tokens of queued ones."""
        b = len(running)
        self.snapshot = (list(finished), list(running), list(queued))
        if tokens <= 0:
            return   # the first step (every prompt's prefill) can take seconds: rates start at the first token
        if len(self.history) == 1 and tokens == self.history[0][1]:
            self.history.clear()   # and the first decode step after it too: rates start when tokens move on
        if b > self.slots and not finished:
            self.history.clear()   # still admitting the first batch (its steps carry prefill): start over
            self.segments.clear()
            self._seg_start = None
        if self.history:
            t0, tok0, b0 = self.history[-1]
            if t <= t0:
                return
            self._segment(t, tokens, b0 * (t - t0))
        self.history.append((t, tokens, b))
        while len(self.history) > 2 and self.history[1][0] <= t - self.window_s:
            self.history.popleft()
        self.slots = max(self.slots, b)

    def _segment(self, t: float, tokens: int, busy: float) -> None:
        # Segments of a few seconds: (mean running, seconds per step) for fitting the step cost; a step decodes one
        # token of every running sequence, so steps = tokens / mean running.
        start = self._seg_start or (self.history[-1][0], self.history[-1][1], 0.0)
        t0, tok0, area = start[0], start[1], start[2] + busy
        if t - t0 < self.segment_s:
            self._seg_start = (t0, tok0, area)
            return
        self._seg_start = (t, tokens, 0.0)
        if tokens > tok0 and area > 0:
            b = area / (t - t0)
            self.segments.append((t, t - t0, b, b * (t - t0) / (tokens - tok0)))
        while self.segments and self.segments[0][0] < t - self.fit_s:
            self.segments.popleft()

    def rate(self) -> tuple[float, float]:
        """(tokens/s, mean running sequences) over the recent window; (0, 0) before two snapshots."""
        if len(self.history) < 2:
            return 0.0, 0.0
        (t0, tok0, _), (t1, tok1, _) = self.history[0], self.history[-1]
        pairs = list(self.history)
        busy = sum(b * (pairs[i + 1][0] - t) for i, (t, _, b) in enumerate(pairs[:-1]))
        return max(tok1 - tok0, 0) / (t1 - t0), busy / (t1 - t0)

    def per_sequence_share(self, b_now: float) -> float:
        """beta * b / (alpha + beta * b) at the current running count: fitted where the running count has varied,
        shrunk toward the prior while its range is narrow."""
        if len(self.segments) < 3:
            return self.prior_share
        _, w, b, st = (np.array(x) for x in zip(*self.segments))
        spread = math.log(b.max() / max(b.min(), 1e-9))
        if spread < math.log(1.25):
            return self.prior_share
        beta, alpha = np.polyfit(b, st, 1, w=np.sqrt(w))
        alpha, beta = max(alpha, 0.0), max(beta, 0.0)
        fitted = beta * b_now / (alpha + beta * b_now) if alpha + beta > 0 else self.prior_share
        trust = min(1.0, spread / math.log(2.0))
        return self.prior_share + trust * (fitted - self.prior_share)

    def work(self) -> tuple[int, int]:
        """(decode steps left, tokens left) from the latest snapshot."""
        finished, running, queued = self.snapshot
        unsent = max(self.sequences - len(finished) - len(running) - len(queued), 0)
        so_far = np.array([g for g, _ in running], dtype=np.int64)
        caps = np.array([m for _, m in running], dtype=np.int64)
        wait_caps = np.array(list(queued) + [self.max_tokens] * unsent, dtype=np.int64)
        horizon = int(max(caps.max(initial=0), wait_caps.max(initial=0), self.max_tokens))
        S = survival(finished, so_far.tolist(), max_tokens=self.max_tokens, horizon=horizon)
        order = np.argsort(so_far, kind="stable")
        u = np.empty(len(order))
        u[order] = (np.arange(1, len(order) + 1) * GOLDEN) % 1.0
        remaining = np.maximum(lengths(S, so_far, caps, u) - so_far, 0)
        uw = (np.arange(1, len(wait_caps) + 1) * GOLDEN + 0.5) % 1.0
        waiting = lengths(S, np.zeros(len(wait_caps), dtype=np.int64), wait_caps, uw)
        steps = makespan(remaining, waiting, max(self.slots, len(running), 1))
        return steps, int(remaining.sum() + waiting.sum())

    def eta(self) -> float | None:
        """Seconds left; None until tokens flow, or when the engine holds more sequences than `sequences` (a
        generation strategy's extra requests), where finished problems tell more."""
        tokens_per_s, b = self.rate()
        if tokens_per_s <= 0 or b <= 0 or sum(map(len, self.snapshot)) > self.sequences:
            return None   # no rate yet, or more sequences than this sampling asks for: not a picture of it
        steps, tokens = self.work()
        step_s = b / tokens_per_s
        w = self.per_sequence_share(b)
        return step_s * ((1.0 - w) * steps + w * tokens / b)
