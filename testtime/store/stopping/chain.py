"""The exact expectation of a count rule over every ordering of a problem's samples: a Markov chain on how many
samples of each answer-class type have been drawn (the package docstring says why that is exact).

Example:
    acc, samples, usage, stop, exact = exact_stopping(pool.answer_ids, pool.correct, 16, BetaRule(0.95))
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from testtime.store.estimators import _classes
from testtime.store.stopping.rules import ABSTAIN, MIXED, NONE, WindowRule

# ---- the exact chain ----------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    """One problem structure's chain, every cap at once (index n - 1 for cap n)."""

    accuracy: np.ndarray
    """[N] expected accuracy with cap n."""
    samples: np.ndarray
    """[N] expected samples drawn."""
    drawn: np.ndarray
    """[N, types + 1] expected samples drawn of each class type (the last column: samples without an answer)."""
    stop: np.ndarray
    """[N, N] P(the draw ends after t samples) for cap n: row n - 1, column t - 1."""



@lru_cache(maxsize=200_000)
def _chain(rule, types: tuple[tuple[int, bool, int], ...], abstain: int, max_states: int) -> Outcome | None:
    """Walk the chain of `rule` for classes of `types` ((size, correct, how many), ...) and `abstain` samples without
    an answer. None when more than `max_states` states are alive at some step."""
    N = sum(s * m for s, _, m in types) + abstain
    K = len(types)
    window = rule.window if isinstance(rule, WindowRule) else None
    start = tuple((m,) + (0,) * s for s, _, m in types)
    dist = {(start, 0, NONE if window else MIXED): 1.0}   # MIXED: no window to follow, every draw a plain move
    stop_at = np.zeros(N + 1)
    stop_acc = np.zeros(N + 1)
    stop_drawn = np.zeros((N + 1, K + 1))
    alive_acc = np.zeros(N + 1)
    alive_mass = np.zeros(N + 1)
    alive_drawn = np.zeros((N + 1, K + 1))
    for t in range(N):
        left = N - t
        nxt: dict = defaultdict(float)
        for (hist, a, mark), p in dist.items():
            for state, q in _moves(types, hist, a, mark, abstain, left):
                nxt[state] += p * q
        t1 = t + 1
        dist = {}
        for state, p in nxt.items():
            hist, a, mark = state
            if window is not None:
                if t1 % window == 0:
                    if mark != MIXED:           # a unanimous window: stop with its answer
                        stop_at[t1] += p
                        stop_acc[t1] += p * _mark_correct(types, mark)
                        stop_drawn[t1] += p * _drawn(types, hist, a, mark)
                        continue
                    state = (hist, a, NONE)
                dist[state] = dist.get(state, 0.0) + p
            elif rule.fires(_top(hist, mark), t1):
                stop_at[t1] += p
                stop_acc[t1] += p * _plurality(types, hist, mark)
                stop_drawn[t1] += p * _drawn(types, hist, a, mark)
            else:
                dist[state] = p
        if len(dist) > max_states:
            return None
        for (hist, a, mark), p in dist.items():   # stopped by the cap: the vote (a cut window is no window)
            alive_mass[t1] += p
            alive_acc[t1] += p * _plurality(types, hist, mark)
            alive_drawn[t1] += p * _drawn(types, hist, a, mark)
    caps = np.arange(1, N + 1)
    t = np.arange(N + 1)
    acc = np.cumsum(stop_acc)[caps] + alive_acc[caps]
    samples = np.cumsum(stop_at * t)[caps] + alive_mass[caps] * caps
    drawn = np.cumsum(stop_drawn, axis=0)[caps] + alive_drawn[caps]
    stop = np.tril(np.broadcast_to(stop_at[1:], (N, N))).copy()
    stop[np.arange(N), np.arange(N)] += alive_mass[caps]
    return Outcome(accuracy=acc, samples=samples, drawn=drawn, stop=stop)


def _moves(types, hist, a, mark, abstain, left):
    """(next state, probability) of every draw from a state; the window's class (if any) is held out of `hist`."""
    window_class = isinstance(mark, tuple)
    for i, (s, _, _) in enumerate(types):
        h = hist[i]
        for d in range(s):
            if not h[d]:
                continue
            q = h[d] * (s - d) / left
            if mark == NONE:                   # a window's first sample: hold its class out
                new = _set(hist, i, _bump(h, d, None))
                yield (new, a, (i, d + 1)), q
                continue
            new = _set(hist, i, _bump(h, d, d + 1))
            if window_class:                   # another class joins the window: it is mixed, the class goes back
                j, e = mark
                new = _set(new, j, _bump(new[j], None, e))
                yield (new, a, MIXED), q
            else:
                yield (new, a, MIXED if mark == ABSTAIN else mark), q
    if window_class:                           # the window's own class again
        j, e = mark
        s = types[j][0]
        if e < s:
            yield (hist, a, (j, e + 1)), (s - e) / left
    if a < abstain:
        q = (abstain - a) / left
        if mark == NONE:
            yield (hist, a + 1, ABSTAIN), q
        elif window_class:
            j, e = mark
            yield (_set(hist, j, _bump(hist[j], None, e)), a + 1, MIXED), q
        else:
            yield (hist, a + 1, mark), q


def _bump(h: tuple, out: int | None, into: int | None) -> tuple:
    h = list(h)
    if out is not None:
        h[out] -= 1
    if into is not None:
        h[into] += 1
    return tuple(h)


def _set(hist: tuple, i: int, h: tuple) -> tuple:
    return hist[:i] + (h,) + hist[i + 1:]


def _top(hist, mark, k: int = 5) -> tuple[int, ...]:
    counts = []
    for h in hist:
        for d in range(len(h) - 1, 0, -1):
            counts += [d] * h[d]
    if isinstance(mark, tuple):
        counts.append(mark[1])
    return tuple(sorted(counts, reverse=True)[:k])


def _plurality(types, hist, mark) -> float:
    top, tied, right = 0, 0, 0
    classes = [(i, d, h[d]) for i, h in enumerate(hist) for d in range(1, len(h)) if h[d]]
    if isinstance(mark, tuple):
        classes.append((mark[0], mark[1], 1))
    for i, d, m in classes:
        if d > top:
            top, tied, right = d, 0, 0
        if d == top:
            tied += m
            right += m * types[i][1]
    return right / tied if tied else 0.0


def _mark_correct(types, mark) -> float:
    return float(types[mark[0]][1]) if isinstance(mark, tuple) else 0.0


def _drawn(types, hist, a, mark) -> np.ndarray:
    out = np.zeros(len(types) + 1)
    for i, h in enumerate(hist):
        out[i] = sum(d * c for d, c in enumerate(h))
    if isinstance(mark, tuple):
        out[mark[0]] += mark[1]
    out[-1] = a
    return out


def structure(classes: np.ndarray, ok: np.ndarray, counts: np.ndarray):
    """A problem's class types ((size, correct, how many), ...), sorted, its abstainers, and each sample's type
    index (-1: no answer)."""
    sizes = {}
    for k in np.flatnonzero(counts > 0):
        key = (int(counts[k]), bool(ok[k]))
        sizes[key] = sizes.get(key, 0) + 1
    types = tuple(sorted((s, o, m) for (s, o), m in sizes.items()))
    index = {(s, o): i for i, (s, o, _) in enumerate(types)}
    of_class = np.array([index.get((int(counts[k]), bool(ok[k])), -1) for k in range(len(counts))])
    sample_type = np.where(classes >= 0, of_class[np.maximum(classes, 0)], -1)
    return types, int((classes < 0).sum()), sample_type


def exact_stopping(answer_ids, correct, n: int, rule, *, max_states: int = 20_000):
    """Exact expectation over every ordering, per problem, of a count rule capped at n.

    Returns:
        (accuracy [P], samples [P], usage [P, N], stop-time distribution [P, n], exact [P] bool): rows of problems
        whose chain may hold more than `max_states` states (`state_bound`) are NaN and exact False (left to
        `simulate`).
    """
    cls, counts, ok = _classes(np.asarray(answer_ids), np.asarray(correct, bool))
    P, N = cls.shape
    acc, samples = np.full(P, np.nan), np.full(P, np.nan)
    usage, stop = np.full((P, N), np.nan), np.full((P, n), np.nan)
    exact = np.zeros(P, bool)
    for p in range(P):
        types, abstain, sample_type = structure(cls[p], ok[p], counts[p])
        out = _chain(rule, types, abstain, max_states) if state_bound(types, abstain) <= max_states else None
        if out is None:
            continue
        exact[p] = True
        acc[p], samples[p], stop[p] = out.accuracy[n - 1], out.samples[n - 1], out.stop[n - 1, :n]
        per_sample = np.array([s * m for s, _, m in types] + [abstain], float)   # samples of each type
        share = out.drawn[n - 1] / np.maximum(per_sample, 1)
        usage[p] = share[sample_type]            # -1 (no answer) reads the last column
    return acc, samples, usage, stop, exact


def state_bound(types, abstain: int) -> int:
    """How many states the exact chain can visit at most (every type's histograms times the abstainers drawn)."""
    return math.prod(math.comb(m + s, s) for s, _, m in types) * (abstain + 1)

