"""Adaptive stopping from a stored pool: samples are taken from a problem's N stored samples in a random order until
a stopping rule fires, capped at n; the expected accuracy, the expected samples and each stored sample's expected
share of generation (its `usage`), at every cap, over all orderings.

Two ways to the expectation:

- `exact_stopping` (rules that read only the vote counts, in a random order: Adaptive-Consistency's Beta and
  Dirichlet criteria, the supermajority of doubling rounds, ESC's unanimous window). Drawing without replacement in
  a uniformly random order is a Markov chain on the number drawn from each answer class, and two classes of the same
  size and correctness are exchangeable, so a state keeps, per such class type, how many of its classes have 0, 1,
  2, ... samples drawn (the many singleton answers of a weak model collapse into one count). The chain is walked
  once to N; every cap n is read off it (stopped before n, or alive at n and voted there). Equal-type classes have
  equal expected draws, so a sample's usage is its type's expected draws over the type's samples. The result is
  cached by the problem's class structure (many problems share one). A problem whose chain holds more than
  `max_states` states at some step is left to Monte Carlo.
- `simulate` (any rule, also ones that read weights or lengths): `n_draws` seeded orderings per problem, vectorised
  over orderings and problems; its standard error is reported. Sequential rules read a random order; parallel ones
  (`order="shortest"`) launch a random size-n subset at once and read the samples as they finish, shortest first
  (ties in random order), and every launched sample is charged up to the stop (`usage` < 1 for those cut off).

Votes follow `expected_majority_vote`: samples without an answer (id -1) abstain, ties are split uniformly, a class
is correct when most of its samples are. A rule's own answer (ESC's unanimous window) replaces the vote where it says.

Example:
    acc, se, samples, usage, exact = stopping(pool.answer_ids, pool.correct, 16, BetaRule(threshold=0.95))
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np
from scipy import integrate, special, stats

from testtime.store.estimators import _classes

__all__ = ["BetaRule", "DirichletRule", "SupermajorityRule", "WindowRule", "CountRule", "Outcome", "stopping",
           "exact_stopping", "simulate", "class_cumsum", "Draws", "state_bound", "beta_stop_probability", "dirichlet_top_probability"]


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


NONE, MIXED, ABSTAIN = -1, -2, -3   # a window's state: empty, mixed, all without answer; (type, drawn) of its class


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


# ---- Monte Carlo --------------------------------------------------------------------------------------------------

@dataclass
class Draws:
    """D orderings x P problems as they are read, and the vote so far after t samples, for a rule to read. Updated in
    O(D x P) per sample: the leader's count only moves with the class of the sample just read."""

    seq: np.ndarray
    """[D, P, n] class of each sample in reading order (-1: no answer)."""
    right: np.ndarray
    """[D, P, n] whether that sample's class is correct (False without an answer)."""
    occ: np.ndarray
    """[D, P, n] how many of its class have been read with it (1 for its class's first; 0 without an answer)."""
    first: np.ndarray
    """[D, P, n] the position (1-based) at which its class was first read."""
    perm: np.ndarray
    """[D, P, n] the pool index of each sample read."""
    t: int = 0
    v1: np.ndarray | None = None
    """[D, P] the leading count."""
    v2: np.ndarray | None = None
    """[D, P] the largest count of any other class (equal to v1 on a tie)."""
    top: np.ndarray | None = None
    """[D, P] classes at the leading count."""
    top_right: np.ndarray | None = None
    """[D, P] correct classes among them."""
    earliest: np.ndarray | None = None
    """[D, P] the first-read position of the earliest-read leading class (the shortest, read shortest first)."""
    earliest_right: np.ndarray | None = None
    """[D, P] whether that class is correct."""
    votes: np.ndarray | None = None
    """[D, P] samples with an answer read so far."""
    extra: dict | None = None

    def read(self, t: int) -> None:
        """Take in the t-th sample of every ordering."""
        self.t = t
        k, o, f = self.occ[..., t - 1], self.right[..., t - 1], self.first[..., t - 1]
        voted = k > 0
        lead = voted & (k > self.v1)               # its class was at the top: it leads alone now
        join = voted & (k == self.v1)              # it reached the top: a tie
        below = voted & (k < self.v1)
        self.v2 = np.where(lead & (self.top > 1), self.v1, self.v2)
        self.v2 = np.where(join, self.v1, np.where(below, np.maximum(self.v2, k), self.v2))
        self.v1 = np.where(lead, k, self.v1)
        self.top = np.where(lead, 1, self.top + join)
        self.top_right = np.where(lead, o, self.top_right + (join & o))
        earlier = join & (f < self.earliest)
        self.earliest_right = np.where(lead | earlier, o, self.earliest_right)
        self.earliest = np.where(lead | earlier, f, self.earliest)
        self.votes = self.votes + voted

    def plurality(self) -> np.ndarray:
        """[D, P] expected correctness of the vote so far, ties split; 0 without votes."""
        return self.top_right / np.maximum(self.top, 1)


def occurrences(seq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[..., n] classes -> (occurrence number of each among those before it and itself, 0 for -1; the position of its
    class's first occurrence, 1-based), without a loop: sort by (class, position), rank within each run."""
    n = seq.shape[-1]
    pos = np.broadcast_to(np.arange(n), seq.shape)
    key = np.where(seq >= 0, seq, np.iinfo(np.int64).max // (n + 1) - 1).astype(np.int64) * (n + 1) + pos
    order = np.argsort(key, axis=-1, kind="stable")
    s = np.take_along_axis(seq, order, -1)
    new = np.ones(s.shape, bool)
    new[..., 1:] = s[..., 1:] != s[..., :-1]
    start = np.maximum.accumulate(np.where(new, pos, 0), axis=-1)
    rank = pos - start + 1
    first = np.take_along_axis(order, start, -1) + 1
    occ, firsts = np.empty_like(rank), np.empty_like(first)
    np.put_along_axis(occ, order, np.where(s >= 0, rank, 0), -1)
    np.put_along_axis(firsts, order, first, -1)
    return occ, firsts


def class_cumsum(seq: np.ndarray, w: np.ndarray) -> np.ndarray:
    """[..., n] classes and weights -> each position's class's summed weight up to and including it (0 for -1)."""
    n = seq.shape[-1]
    pos = np.broadcast_to(np.arange(n), seq.shape)
    key = np.where(seq >= 0, seq, np.iinfo(np.int64).max // (n + 1) - 1).astype(np.int64) * (n + 1) + pos
    order = np.argsort(key, axis=-1, kind="stable")
    s = np.take_along_axis(seq, order, -1)
    ws = np.take_along_axis(np.asarray(w, float), order, -1)
    total = np.cumsum(ws, axis=-1)
    new = np.ones(s.shape, bool)
    new[..., 1:] = s[..., 1:] != s[..., :-1]
    start = np.maximum.accumulate(np.where(new, pos, 0), axis=-1)
    before = np.take_along_axis(total - ws, start, -1)
    out = np.empty_like(total)
    np.put_along_axis(out, order, np.where(s >= 0, total - before, 0.0), -1)
    return out


def simulate(answer_ids, correct, n: int, rule, *, n_draws: int = 2000, seed: int = 0, order: str = "random",
             lengths=None, chunk: int = 1 << 20):
    """Monte-Carlo expectation over seeded orderings of a rule capped at n.

    Args:
        answer_ids, correct: [P, N] the pool.
        n: the cap.
        rule: `fires(draws, t) -> [D, P] bool` (a `CountRule` is wrapped); optional `start(draws)` to read the
            orderings first and `answer(draws) -> [D, P]` for the stopped draw's correctness (default: the vote).
        n_draws: orderings per problem.
        seed: their seed.
        order: "random" (samples drawn one after another) or "shortest" (a random size-n subset launched at once and
            read as each finishes: shortest first, ties in random order; every launched sample generates until the
            stop).
        lengths: [P, N] tokens per sample (order "shortest"; and usage of samples cut short).

    Returns:
        (accuracy [P], stderr [P], samples [P], usage [P, N]): samples read before the stop, and each stored sample's
        expected share of its tokens generated.
    """
    cls, counts, ok = _classes(np.asarray(answer_ids), np.asarray(correct, bool))
    P, N = cls.shape
    if not 1 <= n <= N:
        raise ValueError(f"n={n} samples must lie in [1, N={N}]")
    if isinstance(rule, (BetaRule, DirichletRule, SupermajorityRule)):
        rule = _Counted(rule, counts.shape[1])
    elif isinstance(rule, WindowRule):
        rule = WindowSim(rule.window)
    rng = np.random.default_rng(seed)
    L = np.asarray(lengths, float) if lengths is not None else np.ones((P, N))
    rows = np.arange(P)[None, :, None]
    hits, reads, usage = [], [], np.zeros((P, N))
    for d in np.array_split(np.arange(n_draws), max(1, n_draws * P * N // chunk)):
        D = d.size
        perm = rng.random((D, P, N)).argsort(axis=2)[..., :n]        # the first n of a random order
        if order == "shortest":                                       # launched together, read as they finish
            perm = np.take_along_axis(perm, np.argsort(L[rows, perm], axis=2, kind="stable"), 2)
        seq = cls[rows, perm]
        right = (seq >= 0) & np.take_along_axis(np.broadcast_to(ok[None], (D, P, ok.shape[1])),
                                                np.maximum(seq, 0), 2)
        occ, first = occurrences(seq)
        zero = np.zeros((D, P), np.int64)
        draws = Draws(seq=seq, right=right, occ=occ, first=first, perm=perm, v1=zero, v2=zero, top=zero,
                      top_right=zero, earliest=np.full((D, P), n + 1), earliest_right=np.zeros((D, P), bool),
                      votes=zero, extra={})
        if hasattr(rule, "start"):
            rule.start(draws)
        stopped = np.zeros((D, P), bool)
        stop_t = np.full((D, P), n)
        result = np.zeros((D, P))
        for t in range(1, n + 1):
            draws.read(t)
            fire = ~stopped & (rule.fires(draws, t) | (t == n))
            if fire.any():
                value = rule.answer(draws) if hasattr(rule, "answer") else draws.plurality()
                result = np.where(fire, value, result)
                stop_t = np.where(fire, t, stop_t)
                stopped |= fire
            if stopped.all():
                break
        hits.append(result)
        reads.append(stop_t)
        pos = np.arange(1, n + 1)[None, None, :]
        if order == "shortest":   # every launched sample generates until the stop's sample finishes
            Lp = L[rows, perm]
            cut = np.take_along_axis(Lp, stop_t[..., None] - 1, axis=2)
            share = np.where(Lp > 0, np.minimum(Lp, cut) / np.where(Lp > 0, Lp, 1), pos <= stop_t[..., None])
        else:
            share = (pos <= stop_t[..., None]).astype(float)
        u = np.zeros((D, P, N))
        np.put_along_axis(u, perm, share, axis=2)
        usage += u.sum(axis=0)
    hits, reads = np.concatenate(hits), np.concatenate(reads)
    se = hits.std(axis=0, ddof=1) / np.sqrt(n_draws) if n_draws > 1 else np.zeros(P)
    return hits.mean(axis=0), se, reads.mean(axis=0), usage / n_draws


class _Counted:
    """A CountRule read by `simulate`. Beta and supermajority read the leader and runner-up counts that `Draws`
    keeps; Dirichlet reads the top five counts, kept per class ([D, P, K], slower)."""

    def __init__(self, rule, classes: int):
        self.rule, self.K = rule, classes

    def start(self, draws: Draws) -> None:
        if isinstance(self.rule, DirichletRule):
            draws.extra["counts"] = np.zeros((*draws.seq.shape[:2], self.K), np.int32)

    def fires(self, draws: Draws, t: int) -> np.ndarray:
        r = self.rule
        if isinstance(r, BetaRule):
            return (draws.votes >= max(r.min_votes, 1)) & (beta_stop_probability(draws.v1, draws.v2) >= r.threshold)
        if isinstance(r, SupermajorityRule):
            return (draws.v1 >= r.threshold * t) & (t >= 2 and t & (t - 1) == 0)
        counts = draws.extra["counts"]
        c = draws.seq[..., t - 1]
        dd, pp = np.nonzero(c >= 0)
        counts[dd, pp, c[dd, pp]] += 1
        top = -np.sort(-counts, axis=2)[..., :r.top_k]
        keys, inverse = np.unique(top.reshape(-1, top.shape[-1]), axis=0, return_inverse=True)
        decided = np.array([r.fires(tuple(int(v) for v in k if v > 0), t) for k in keys], bool)
        return decided[inverse.ravel()].reshape(top.shape[:2])


@dataclass(frozen=True)
class WindowSim:
    """ESC's window rule for `simulate`: the window's class as samples come (no answer is one answer here)."""

    window: int

    def start(self, draws: Draws) -> None:
        draws.extra["window"] = np.full(draws.seq.shape[:2], NONE)
        draws.extra["unanimous"] = np.zeros(draws.seq.shape[:2], bool)

    def fires(self, draws: Draws, t: int) -> np.ndarray:
        c = np.where(draws.seq[..., t - 1] >= 0, draws.seq[..., t - 1], ABSTAIN)
        w = draws.extra["window"]
        w = c if (t - 1) % self.window == 0 else np.where(w == c, w, MIXED)
        out = np.zeros(w.shape, bool)
        if t % self.window == 0:
            out = w != MIXED
            draws.extra["right"] = draws.right[..., t - 1]        # a unanimous window's class is this sample's
            w = np.where(out, w, NONE)
        draws.extra["window"], draws.extra["unanimous"] = w, out
        return out

    def answer(self, draws: Draws) -> np.ndarray:
        """A unanimous window's answer; at the cap, the vote (a window cut short by the cap is no window)."""
        return np.where(draws.extra["unanimous"], draws.extra.get("right", False), draws.plurality())


def state_bound(types, abstain: int) -> int:
    """How many states the exact chain can visit at most (every type's histograms times the abstainers drawn)."""
    return math.prod(math.comb(m + s, s) for s, _, m in types) * (abstain + 1)


def stopping(answer_ids, correct, n: int, rule, *, n_draws: int = 2000, seed: int = 0, max_states: int = 20_000):
    """A count rule in a random order, capped at n: exact per problem whose chain is bounded by `max_states` states
    (`state_bound`), Monte Carlo for the rest.

    Returns:
        (accuracy [P], stderr [P] or None when every problem is exact, samples [P], usage [P, N], exact [P]).
    """
    acc, samples, usage, _, exact = exact_stopping(answer_ids, correct, n, rule, max_states=max_states)
    se = np.zeros(len(acc))
    if not exact.all():
        rest = ~exact
        a, s, m, u = simulate(np.asarray(answer_ids)[rest], np.asarray(correct)[rest], n, rule, n_draws=n_draws,
                              seed=seed)
        acc[rest], se[rest], samples[rest], usage[rest] = a, s, m, u
    return acc, (None if exact.all() else se), samples, usage, exact
