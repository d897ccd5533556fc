"""Monte-Carlo expectation of any stopping rule (also ones that read weights or lengths) over seeded orderings of
each problem's samples, vectorised over orderings and problems, with its standard error.

Example:
    acc, se, samples, usage = simulate(pool.answer_ids, pool.correct, 16, BetaRule(0.95), n_draws=2000)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from testtime.store.estimators import _classes
from testtime.store.stopping.rules import (ABSTAIN, MIXED, NONE, BetaRule, DirichletRule, SupermajorityRule, WindowRule,
                                          beta_stop_probability)


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
            At n = 1 the answer is the sample's own, exactly, unless the rule sets `one_is_its_own_vote = False`.
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
    if n == 1 and getattr(rule, "one_is_its_own_vote", True):
        # One sample, whatever the order: its own answer (no Monte-Carlo noise where none is due)
        right = np.where(cls >= 0, np.take_along_axis(ok, np.maximum(cls, 0), 1), False)
        return right.mean(axis=1), np.zeros(P), np.ones(P), np.full((P, N), 1 / N)
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
