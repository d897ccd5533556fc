"""Process reward models (strategies/scorers/prm.py): step splitting and aggregation by hand, tiny random PRMs of both
styles (a separator token, step tags) through the real transformers path, and the scorer's options from a config."""

import math

import pytest

from strategies.scorers.prm import ProcessRewardScorer, aggregate, split_steps
from tests.strategies.scorers.common import COMPLETIONS, PROBLEM
from testtime.errors import UserError
from testtime.samplers.engines import LocalEngines
from testtime.samplers.fake import FakeSampler


def test_split_steps():
    assert split_steps("a\n\nb\n\n\n\n c \n\n") == ["a", "b", "c"]
    assert split_steps("x\ny", "\n") == ["x", "y"]
    assert split_steps("") == [] and split_steps("one step") == ["one step"]


def test_aggregate_by_hand():
    s = [0.9, 0.5, 0.8]
    assert aggregate(s, "min") == 0.5
    assert aggregate(s, "last") == 0.8
    assert aggregate(s, "prod") == pytest.approx(0.36)
    assert aggregate(s, "mean") == pytest.approx(2.2 / 3)
    assert math.isnan(aggregate([], "min"))
    with pytest.raises(ValueError):
        aggregate(s, "max")
    with pytest.raises(UserError, match="aggregate"):
        ProcessRewardScorer(aggregate="max")


@pytest.mark.parametrize("style", ["separator", "tags"])
def test_prm_on_tiny_models(tiny, style):
    folder = str(tiny["prm_sep" if style == "separator" else "prm_tags"])
    engines = LocalEngines(FakeSampler())
    prm = ProcessRewardScorer(model=folder, style=style, batch_size=8, aggregate="prod").bind(engines)
    steps = prm.step_scores(PROBLEM, COMPLETIONS)
    assert [len(s) for s in steps] == [2, 3, 1, 0]   # one score per step
    assert all(0 <= x <= 1 for s in steps for x in s) and len({x for s in steps for x in s}) > 1
    got = prm.score(PROBLEM, COMPLETIONS)
    assert got[:3] == pytest.approx([math.prod(s) for s in steps[:3]], abs=1e-6) and math.isnan(got[3])
    # a second load, one sample at a time: the same step scores; aggregated by the last step
    again = ProcessRewardScorer(model=folder, style=style, batch_size=1, aggregate="last").bind(engines)
    for a, b in zip(steps, again.step_scores(PROBLEM, COMPLETIONS)):
        assert a == pytest.approx(b, abs=1e-5)
    assert again.score(PROBLEM, COMPLETIONS)[:3] == pytest.approx([s[-1] for s in steps[:3]], abs=1e-5)
    assert all(f > 0 for f in prm.flops(PROBLEM, COMPLETIONS))
    # each scored position holds the step tag
    seqs, where = prm._sequences(PROBLEM, COMPLETIONS)
    tag = prm.prm.tokenizer.encode("<extra_0>" if style == "separator" else "ки", add_special_tokens=False)[-1]
    assert all(seq[p] == tag for seq, pos in zip(seqs, where) for p in pos)


def test_scorer_options_reach_the_scorer_and_unknown_ones_are_refused():
    from testtime.config import RunConfig
    from testtime.pipeline.runner import make_scorer

    cfg = RunConfig(scorer_model="some/prm", scorer_options={"prm": {"aggregate": "last", "style": "tags"}})
    prm = make_scorer("prm", cfg)
    assert (prm.model, prm.aggregate, prm.style) == ("some/prm", "last", "tags")
    with pytest.raises(UserError, match="no setting 'agregate'"):
        make_scorer("prm", RunConfig(scorer_options={"prm": {"agregate": "min"}}))
    with pytest.raises(UserError, match="aggregate must be"):
        make_scorer("prm", RunConfig(scorer_options={"prm": {"aggregate": "median"}}))
