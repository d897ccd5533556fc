"""Beam search and DVTS keep their width and spend exactly their budget; the best-scoring finished solution is
returned; a step cut at max_step_tokens goes on; a DVTS subtree stops once its best candidate finished."""

import json

import pytest

from benchmarks.base import Problem
from tests.helpers import CountingSampler, cli_in_process
from strategies.beam_search import BeamSearch
from strategies.dvts import DVTS
from strategies.scorers.logprob import LogprobScorer
from testtime.sampler import Completion, Sampling
from testtime.samplers.fake import FakeSampler
from testtime.store.store import Store

PROBLEMS = [Problem(id=str(i), prompt=f"question {i} " * (i + 1), gold="1") for i in range(3)]


class FirstStepLovesLength:
    """A step scorer with a known order: longer partial solutions score higher."""

    name = "len"

    def score(self, problem, completions):
        return [float(len(c.text)) for c in completions]

    def flops(self, problem, completions):
        return None


class ByText:
    """A step scorer that scores a partial solution by which planted words it holds."""

    def __init__(self, weights):
        self.weights = weights

    def score(self, problem, completions):
        return [sum(w for word, w in self.weights.items() if word in c.text) for c in completions]

    def flops(self, problem, completions):
        return None


@pytest.mark.parametrize("cls,N,M", [(BeamSearch, 8, 4), (BeamSearch, 4, 2), (DVTS, 8, 2), (DVTS, 6, 3)])
def test_width_and_budget(cls, N, M):
    sampler = CountingSampler(seed=3)
    out = dict(cls(width=M, max_steps=4).stream(sampler, PROBLEMS, Sampling(max_tokens=400), budget=N,
                                                 scorer=LogprobScorer()))
    assert sorted(out) == [0, 1, 2] and all(len(v) == 1 for v in out.values())
    # step 1: the prompt expanded N ways in one request per problem (one prefill); DVTS's subtrees split them
    first = sampler.requests[0]
    assert len(first) == len(PROBLEMS) and all(n == N for _, n in first)
    for i, [best] in out.items():
        counts = best.extra["candidates_per_step"]
        assert counts[0] == N and all(c <= N and c % M == 0 for c in counts)
        assert len(counts) == best.extra["steps"] <= 4
        # every generated token is charged: the segments add up to the search's tokens
        assert best.n_tokens == sum(t for _, t in best.spend.decode_segments) >= best.extra["solution_tokens"]
        assert best.extra["budget"] == N and best.extra["width"] == M


def test_later_steps_expand_only_kept_beams():
    sampler = CountingSampler(seed=5)
    dict(BeamSearch(width=2, max_steps=3).stream(sampler, PROBLEMS[:1], Sampling(max_tokens=400), budget=6,
                                                 scorer=LogprobScorer()))
    for step in sampler.requests[1:]:
        assert len(step) <= 6 // 2 and all(n == 2 for _, n in step)


def test_best_solution_by_score():
    """The answer is the finished candidate the scorer ranks highest, checked against every candidate it scored."""
    seen = []

    class Recording(FirstStepLovesLength):
        def score(self, problem, completions):
            seen.extend(completions)
            return super().score(problem, completions)

    out = dict(BeamSearch(width=2, max_steps=3).stream(FakeSampler(seed=1), PROBLEMS[:1], Sampling(max_tokens=400),
                                                      budget=4, scorer=Recording()))
    [best] = out[0]
    finished = [c.text for c in seen if "boxed" in c.text]
    assert finished and best.finish_reason == "stop" and best.extra["best_score"] == float(len(best.text))
    assert best.text in finished and len(best.text) == max(len(t) for t in finished)


def test_finished_beats_a_higher_scored_partial():
    """Out of steps with a partial solution scored above every finished one: the finished one is returned."""
    p = Problem(id="x", prompt="q", gold="3")
    head = "<user>q</user><assistant>"
    step = "Let me think. Partial.\n\n"
    script = {head: ["Done fast. The answer is \\boxed{3}", step], head + step: [step.replace("Partial", "More")]}
    scorer = ByText({"Partial": 10.0, "More": 10.0, "Done": 1.0})   # partials outscore the finished one
    [best] = dict(BeamSearch(width=2, max_steps=2).stream(FakeSampler(script=script), [p], Sampling(max_tokens=400),
                                                          budget=2, scorer=scorer))[0]
    assert "Done fast" in best.text and best.finish_reason == "stop"


def test_step_cut_at_max_step_tokens_goes_on():
    """A scripted 60-word first step under a 32-token cap: the solution is not over; the next request continues
    the same text (no delimiter inserted), and only the end of sequence finishes it."""
    p = Problem(id="x", prompt="q", gold="3")
    head = "<user>q</user><assistant>"
    words = [f"w{k}" for k in range(60)]
    long_step, first, rest = " ".join(words), " ".join(words[:32]), " " + " ".join(words[32:])
    # the fake cuts at max_tokens by whole words; the continuation's text starts with the space between words
    script = {head: [long_step + "\n\nThe answer is \\boxed{3}"], head + first: [rest + "\n\nmore"],
              head + first + rest + "\n\n": ["The answer is \\boxed{3}"]}
    sampler = CountingSampler(script=script)
    [best] = dict(BeamSearch(width=1, max_steps=4, max_step_tokens=32).stream(
        sampler, [p], Sampling(max_tokens=400), budget=1, scorer=LogprobScorer()))[0]
    prompts = [r[0][0] for r in sampler.requests]
    assert prompts[1] == head + first   # step 2 continues the cut step, no "\n\n" after it
    assert best.text.startswith(long_step) and best.text.endswith("\\boxed{3}") and best.finish_reason == "stop"
    assert best.extra["steps"] == 3


def test_dvts_subtree_stops_once_its_best_finished():
    """Subtree 0's best first candidate ends the solution: subtree 0 is never expanded again; subtree 1 goes on."""
    p = Problem(id="x", prompt="q", gold="3")
    head = "<user>q</user><assistant>"
    script = {head: ["Best. The answer is \\boxed{3}", "Step a.\n\n", "Step b.\n\n", "Step c.\n\n"]}
    sampler = CountingSampler(script=script)
    scorer = ByText({"Best": 5.0, "Step b": 2.0, "Step c": 1.0})
    [best] = dict(DVTS(width=2, max_steps=3).stream(sampler, [p], Sampling(max_tokens=400), budget=4,
                                                    scorer=scorer))[0]
    later = [prompt for step in sampler.requests[1:] for prompt, _ in step]
    assert later and all(prompt.startswith(head + "Step b.") for prompt in later)   # subtree 1's best only
    assert best.text.startswith("Best.")


@pytest.mark.parametrize("cls", [BeamSearch, DVTS])
def test_bad_budget(cls):
    with pytest.raises(ValueError, match="multiple of its width"):
        next(cls(width=4).stream(FakeSampler(), PROBLEMS, Sampling(), budget=6, scorer=LogprobScorer()))


def test_run_beam_search_and_dvts(data_dir, tmp_path):
    res = cli_in_process("run", "--backend", "fake", "--data-dir", data_dir, "--limit", 3, "--output-dir", tmp_path,
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


def test_run_refuses_a_budget_off_the_width_before_sampling(data_dir, tmp_path):
    res = cli_in_process("run", "--backend", "fake", "--data-dir", data_dir, "--limit", 3, "--output-dir", tmp_path,
                         "--name", "bs", "--strategy", "beam_search:logprob", "--budgets", "4,6")
    assert res.returncode == 2 and "multiple of its width (4)" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "bs").exists()
