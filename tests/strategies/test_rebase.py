"""REBASE: each node gets its softmax share of the remaining width (the reference's rounding, adding up exactly),
finished nodes use up width, and the requests of the search are exactly those shares."""

import math

import numpy as np
import pytest

from benchmarks.base import Problem
from strategies.rebase import Rebase, allocate
from testtime.sampler import Sampling
from testtime.samplers.fake import FakeSampler

PROBLEMS = [Problem(id=str(i), prompt=f"question {i} " * (i + 1), gold="1") for i in range(3)]


def reference_select_softmax(weights, width, T):
    """thu-wyz/inference_scaling rebase.py `Tree.select_softmax`, transcribed (returns widths in reward order)."""
    pairs = sorted(zip(range(len(weights)), weights), key=lambda p: p[1], reverse=True)
    exp = [math.exp(w / T) for _, w in pairs]
    total, out = sum(exp), {}
    for (k, _), e in zip(pairs, exp):
        n = int(math.ceil(width * e / total))
        out[k] = n
        width -= n
        total -= e
    return [out[k] for k in range(len(weights))]


def test_allocation_hand_case():
    # T = 1: weights 1 : e^-0.4 : e^-0.8 -> ceil(6 x 0.472) = 3, then ceil(3 x 0.599) = 2, then 1
    assert allocate([0.9, 0.5, 0.1], 6, temperature=1.0) == [3, 2, 1]
    assert allocate([0.1, 0.9, 0.5], 6, temperature=1.0) == [1, 3, 2]    # shares follow the rewards, not positions
    assert allocate([0.9, 0.1], 4, temperature=0.2) == [4, 0]            # the default temperature is greedy-ish


@pytest.mark.parametrize("seed", range(20))
def test_allocation_matches_the_reference_and_adds_up(seed):
    rng = np.random.default_rng(seed)
    rewards = list(rng.uniform(0, 1, rng.integers(1, 9)))
    width, T = int(rng.integers(1, 17)), float(rng.choice([0.1, 0.2, 1.0]))
    got = allocate(rewards, width, temperature=T)
    assert got == reference_select_softmax(rewards, width, T)
    assert sum(got) == width and all(n >= 0 for n in got)
    order = np.argsort(rewards)[::-1]
    assert all(got[a] >= got[b] for a, b in zip(order, order[1:]))   # more reward, never fewer children


class Recording(FakeSampler):
    """Records each stream call's (prompt, n) and the completions it returned."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.calls = []

    def stream(self, prompts, sampling, *, raw=False):
        each = [sampling] * len(prompts) if isinstance(sampling, Sampling) else list(sampling)
        call = {"requests": [(p, s.n) for p, s in zip(prompts, each)], "out": {}}
        self.calls.append(call)
        for i, cs in super().stream(prompts, sampling, raw=raw):
            call["out"][i] = cs
            yield i, cs


class ByLength:
    """Planted rewards: a partial solution's reward grows with its length (distinct rewards, a known order)."""

    def score(self, problem, completions):
        return [1 - 1 / (2 + len(c.text)) for c in completions]

    def flops(self, problem, completions):
        return None


@pytest.mark.parametrize("N,T", [(4, 0.2), (8, 1.0), (6, 0.05)])
def test_expansion_counts_are_the_softmax_allocation(N, T):
    sampler = Recording(seed=7)
    out = dict(Rebase(temperature=T, max_steps=5).stream(sampler, PROBLEMS, Sampling(max_tokens=400), budget=N,
                                                         scorer=ByLength()))
    first = sampler.calls[0]
    assert [n for _, n in first["requests"]] == [N] * len(PROBLEMS)   # the root expands into N first steps
    # step 2: the open children of step 1 share N minus the finished ones, by softmax of their rewards
    if len(sampler.calls) > 1:
        expected = []
        for j, (prompt, _) in enumerate(first["requests"]):
            kids = first["out"][j]
            open_ = [c for c in kids if c.stop_string is not None]
            texts = [c.text + "\n\n" for c in open_]
            shares = allocate([1 - 1 / (2 + len(t)) for t in texts], N - (len(kids) - len(open_)), temperature=T)
            expected += [(prompt + t, w) for t, w in zip(texts, shares) if w > 0]
        assert sampler.calls[1]["requests"] == expected
    for [answer] in out.values():
        assert answer.extra["budget"] == N
        counts = answer.extra["candidates_per_step"]
        assert counts[0] == N and all(c <= N for c in counts)
        assert answer.n_tokens == sum(t for _, t in answer.spend.decode_segments)


def test_bad_settings():
    with pytest.raises(ValueError):
        Rebase(temperature=0)
    with pytest.raises(ValueError):
        Rebase(select="all")
    with pytest.raises(ValueError, match="step scorer"):
        next(Rebase().stream(FakeSampler(), PROBLEMS, Sampling(), budget=4))
