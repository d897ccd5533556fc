"""Budget forcing (s1): thinking never exceeds the budget, early stops get the cue, every sample gets the answer cue."""

import json

import pytest

from benchmarks.base import Problem
from benchmarks.grading import grade
from tests.helpers import cli_in_process
from strategies.budget_forcing import BudgetForcing
from testtime.sampler import Sampling
from testtime.samplers.fake import FakeSampler
from testtime.store.store import Store


def problems(*prompts):
    return [Problem(id=str(i), prompt=p, gold="1") for i, p in enumerate(prompts)]


def traces(budget, max_waits=1, n=6, prompts=("a b c", "d e f g")):
    bf = BudgetForcing(max_waits=max_waits)
    return dict(bf.stream(FakeSampler(seed=1), problems(*prompts), Sampling(n=n), budget=budget))


@pytest.mark.parametrize("budget", [1, 5, 12, 40])
def test_thinking_respects_budget_exactly(budget):
    out = traces(budget)
    assert sorted(out) == [0, 1] and all(len(cs) == 6 for cs in out.values())
    for cs in out.values():
        for c in cs:
            assert c.extra["budget"] == budget
            assert c.extra["thinking_tokens"] <= budget
            if c.finish_reason == "length":  # cut by the budget: it was spent to the last token
                assert c.extra["thinking_tokens"] == budget
            assert "Final answer: \\boxed{" in c.text and c.text.endswith("}")


def test_cue_inserted_when_model_stops_early():
    out = traces(60, max_waits=2)
    waits = [c.extra["waits"] for cs in out.values() for c in cs]
    assert max(waits) >= 1
    for cs in out.values():
        for c in cs:
            assert c.text.count("\n\nWait") == c.extra["waits"] <= 2
    none = traces(60, max_waits=0)
    assert all(c.extra["waits"] == 0 and "Wait" not in c.text for cs in none.values() for c in cs)


def test_samples_per_budget_override_the_runs_n():
    out = dict(BudgetForcing(samples=3).stream(FakeSampler(seed=1), problems("a", "b"), Sampling(n=8), budget=10))
    assert [len(cs) for cs in out.values()] == [3, 3]


def test_bad_settings():
    with pytest.raises(ValueError):
        BudgetForcing(max_waits=-1)
    with pytest.raises(ValueError):
        BudgetForcing(samples=0)
    with pytest.raises(ValueError):
        next(BudgetForcing().stream(FakeSampler(), problems("x"), Sampling(n=1), budget=0))


def test_run_sweeps_budgets_and_resumes(data_dir, tmp_path):
    args = ["run", "--backend", "fake", "--data-dir", data_dir, "--limit", 3, "--n", 4, "--output-dir", tmp_path,
            "--name", "bf", "--strategy", "budget_forcing", "--budgets", "8,32"]
    res = cli_in_process(*args)
    assert res.returncode == 0, res.stderr
    assert "thinking budget" in res.stdout
    rows = json.loads((tmp_path / "bf" / "results.json").read_text())["rows"]
    assert [(r["strategy"], r["budget"]) for r in rows] == [("budget_forcing", 8), ("budget_forcing", 32)]
    df = Store(tmp_path / "bf").table().to_pandas()
    assert len(df) == 2 * 3 * 4 and (df["thinking_tokens"] <= df["budget"]).all()
    again = cli_in_process(*args)
    assert again.returncode == 0 and "6 resumed" in again.stdout
    assert len(Store(tmp_path / "bf").table()) == 24


def test_generation_strategy_needs_budgets(data_dir, tmp_path):
    res = cli_in_process("run", "--backend", "fake", "--data-dir", data_dir, "--strategy", "budget_forcing",
                         "--output-dir", tmp_path)
    assert res.returncode == 2 and "--budgets" in res.stderr


def test_a_boxed_fraction_keeps_its_braces():
    """The answer round runs to the brace that closes the box: a scripted `\\frac{1}{2}} ...` answer is stored as
    `\\boxed{\\frac{1}{2}}` (it was `\\boxed{\\frac{1}` when the round stopped at the first "}") and grades right."""
    head = "<user>half</user><assistant>"
    thought = "Half of one is a half."
    close = "\n\nFinal answer: \\boxed{"
    script = {head: [thought], head + thought + close: ["\\frac{1}{2}} and that is all"]}
    [out] = [cs for _, cs in BudgetForcing(max_waits=0).stream(
        FakeSampler(script=script), [Problem(id="h", prompt="half", gold="\\frac{1}{2}")], Sampling(n=1),
        budget=50)]
    assert out[0].text.endswith("\\boxed{\\frac{1}{2}}")
    assert grade(gold="\\frac{1}{2}", response=out[0].text).correct


def test_answer_tokens_past_the_box_are_charged():
    head = "<user>q</user><assistant>"
    close = "\n\nFinal answer: \\boxed{"
    script = {head: ["Three."], head + "Three." + close: ["3} is it"]}
    [out] = [cs for _, cs in BudgetForcing(max_waits=0, answer_tokens=24).stream(
        FakeSampler(script=script), [Problem(id="q", prompt="q", gold="3")], Sampling(n=1), budget=50)]
    c = out[0]
    assert c.text.endswith("\\boxed{3}")
    # every token generated for the answer is spent, the words after the box included
    assert c.extra["answer_tokens"] >= 3 and sum(t for _, t in c.spend.decode_segments) == c.extra[
        "generated_tokens"]
