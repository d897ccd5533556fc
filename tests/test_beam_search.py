"""Beam search and DVTS keep their width and spend exactly their budget; the best-scoring solution is returned."""

import json

import pytest

from benchmarks.base import Problem
from conftest import cli
from strategies.beam_search import DVTS, BeamSearch
from strategies.scorers.logprob import LogprobScorer
from testtime.sampler import Sampling
from testtime.samplers.fake import FakeSampler
from testtime.pipeline.store import Store

PROBLEMS = [Problem(id=str(i), prompt=f"question {i} " * (i + 1), gold="1") for i in range(3)]


class CountingSampler(FakeSampler):
    """Records every request: its width n and its prompt."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.requests = []

    def stream(self, prompts, sampling, *, raw=False):
        each = [sampling] * len(prompts) if isinstance(sampling, Sampling) else list(sampling)
        self.requests.append([(p, s.n) for p, s in zip(prompts, each)])
        yield from super().stream(prompts, sampling, raw=raw)


class FirstStepLovesLength:
    """A step scorer with a known order: longer partial solutions score higher."""

    name = "len"

    def score(self, problem, completions):
        return [float(len(c.text)) for c in completions]

    def flops(self, problem, completions):
        return None


@pytest.mark.parametrize("cls,N,M", [(BeamSearch, 8, 4), (BeamSearch, 4, 2), (DVTS, 8, 2), (DVTS, 6, 3)])
def test_width_and_budget(cls, N, M):
    sampler = CountingSampler(seed=3)
    out = dict(cls(width=M, max_steps=4).stream(sampler, PROBLEMS, Sampling(max_tokens=400), budget=N,
                                                 scorer=LogprobScorer()))
    assert sorted(out) == [0, 1, 2] and all(len(v) == 1 for v in out.values())
    # step 1: N/M beams (or subtrees) per problem, each expanded M ways: exactly N candidates per problem
    first = sampler.requests[0]
    assert len(first) == len(PROBLEMS) * (N // M) and all(n == M for _, n in first)
    for i, [best] in out.items():
        counts = best.extra["candidates_per_step"]
        assert counts[0] == N and all(c <= N and c % M == 0 for c in counts)
        assert len(counts) == best.extra["steps"] <= 4
        # every generated token is charged: the segments add up to the search's tokens
        assert best.n_tokens == sum(t for _, t in best.extra["decode_segments"]) >= best.extra["solution_tokens"]
        assert best.extra["budget"] == N and best.extra["width"] == M


def test_later_steps_expand_only_kept_beams():
    sampler = CountingSampler(seed=5)
    dict(BeamSearch(width=2, max_steps=3).stream(sampler, PROBLEMS[:1], Sampling(max_tokens=400), budget=6,
                                                 scorer=LogprobScorer()))
    for step in sampler.requests:
        assert len(step) <= 6 // 2 and all(n == 2 for _, n in step)


def test_best_solution_by_score():
    out = dict(BeamSearch(width=2, max_steps=3).stream(FakeSampler(seed=1), PROBLEMS[:1], Sampling(max_tokens=400),
                                                      budget=4, scorer=FirstStepLovesLength()))
    [best] = out[0]
    assert best.extra["best_score"] == float(len(best.text))


def test_bad_budget():
    with pytest.raises(ValueError, match="multiple of width"):
        next(BeamSearch(width=4).stream(FakeSampler(), PROBLEMS, Sampling(), budget=6, scorer=LogprobScorer()))


def test_run_beam_search_and_dvts(data_dir, tmp_path):
    res = cli("run", "--backend", "fake", "--data-dir", data_dir, "--limit", 3, "--output-dir", tmp_path,
              "--name", "bs", "--strategy", "beam_search:logprob,dvts:logprob", "--budgets", "4,8",
              "--set", "strategy_options={beam_search: {width: 2}, dvts: {width: 2}}")
    assert res.returncode == 0, res.stderr
    rows = json.loads((tmp_path / "bs" / "results.json").read_text())["rows"]
    assert [(r["strategy"], r["budget"]) for r in rows] == [("beam_search", 4), ("beam_search", 8), ("dvts", 4),
                                                           ("dvts", 8)]
    df = Store(tmp_path / "bs").table().to_pandas()
    assert len(df) == 3 * 4 and (df["decode_flops"] > 0).all()
    # more budget, more tokens spent
    by = {(r["strategy"], r["budget"]): r["tokens_per_problem"] for r in rows}
    assert by[("beam_search", 8)] > by[("beam_search", 4)]
