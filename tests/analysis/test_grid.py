"""The sequential x parallel grid (thinking budget x samples) against known answers: planted pools with hand-counted
votes, FLOPs that scale as n x the budget's sample, a hand-picked frontier, and the fake backend end to end (run
with `select`, no re-sampling, results.json rows keyed (strategy, budget, n), `analyze`'s grid table and figure)."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.helpers import cli_in_process
from strategies.beam_search import BeamSearch
from strategies.budget_forcing import BudgetForcing
from testtime.analysis.grid import mark_frontier
from testtime.config import load_config
from testtime.errors import UserError
from testtime.pipeline.evaluate import evaluate_grid, make_strategy
from testtime.pipeline.runner import Plan
from testtime.store.pool import Pool
from testtime.store.store import Store, generation_group

SELECT = ["majority_vote", "best_of_n:logprob", "weighted_majority:logprob", "pass_at_k"]


def planted(answers, decode, prefill, logprob=None):
    """A pool whose answer class 0 is the gold answer (-1: nothing extracted)."""
    answers = np.array(answers)
    P, N = answers.shape
    return Pool(problem_ids=tuple(f"p{i}" for i in range(P)), answer_ids=answers, correct=answers == 0,
                output_tokens=np.full((P, N), 10), prompt_tokens=np.full(P, 5), decode_flops=np.array(decode, float),
                prefill_flops=np.array(prefill, float),
                scores={"logprob": np.array(logprob, float) if logprob is not None else -np.arange(P * N,
                                                                                                  dtype=float).reshape(P, N)})


# Budget 8: p0 votes 0,0,1,2 (class 0 wins: 1), p1 votes 1,1,0,0 (a two-way tie: 1/2), p2 votes 0,1,1,- (0 loses: 0).
POOL_8 = planted([[0, 0, 1, 2], [1, 1, 0, 0], [0, 1, 1, -1]],
                 decode=[[1, 2, 3, 4], [2, 2, 2, 2], [1, 1, 1, 5]], prefill=[10, 20, 30])
# Budget 32: p0 0,0,0,1 (1), p1 0,1,0,2 (1), p2 1,1,1,0 (0).
POOL_32 = planted([[0, 0, 0, 1], [0, 1, 0, 2], [1, 1, 1, 0]],
                  decode=[[4, 4, 8, 8], [6, 6, 6, 6], [5, 5, 5, 9]], prefill=[10, 20, 30])


def grid_rows():
    rows = evaluate_grid(BudgetForcing(), {8: POOL_8, 32: POOL_32}, [make_strategy(s) for s in SELECT], n_boot=200)
    return pd.DataFrame([r.__dict__ for r in rows])


def cell(g, strategy, budget, n, col="accuracy"):
    (v,) = g[(g["strategy"] == strategy) & (g["budget"] == budget) & (g["n"] == n)][col]
    return v


def test_rows_keyed_by_strategy_budget_and_n():
    g = grid_rows()
    assert len(g) == 4 * 2 * 3   # 4 strategies x 2 budgets x n in 1, 2, 4
    assert not g.duplicated(["strategy", "scorer", "budget", "n"]).any()
    assert set(g["generation"]) == {"budget_forcing"} and set(g["budget_unit"]) == {"thinking budget"}
    assert set(g["samples_per_problem"]) == {4} and set(g["n"]) == {1, 2, 4}
    assert g[g["strategy"] == "pass_at_k"]["oracle"].all() and not g[g["strategy"] != "pass_at_k"]["oracle"].any()


@pytest.mark.parametrize("strategy", [s.split(":")[0] for s in SELECT])
def test_n_1_is_the_budgets_mean_accuracy(strategy):
    g = grid_rows()
    for budget, pool in ((8, POOL_8), (32, POOL_32)):
        assert cell(g, strategy, budget, 1) == pytest.approx(pool.correct.mean())


def test_majority_at_n_and_hand_counted_votes():
    g = grid_rows()
    assert cell(g, "majority_vote", 8, 4) == pytest.approx((1 + 0.5 + 0) / 3)
    assert cell(g, "majority_vote", 32, 4) == pytest.approx((1 + 1 + 0) / 3)
    # n = 2 at budget 8, by hand over the 6 pairs of each problem: p0 one pair of 0s (1) and four split pairs (1/2);
    # p1 a pair of 0s (1) and four split pairs (1/2); p2 two split pairs (1/2), the 0 beside the abstainer (1).
    p0, p1, p2 = (1 + 4 * 0.5) / 6, (1 + 4 * 0.5) / 6, (2 * 0.5 + 1) / 6
    assert cell(g, "majority_vote", 8, 2) == pytest.approx((p0 + p1 + p2) / 3)
    # pass@k at N: solved when any sample is right (all three problems at both budgets)
    assert cell(g, "pass_at_k", 8, 4) == 1 and cell(g, "pass_at_k", 32, 4) == 1


def test_flops_scale_as_n_times_the_budgets_sample():
    g = grid_rows()
    for budget, pool in ((8, POOL_8), (32, POOL_32)):
        prefill = pool.prefill_flops.mean()
        one = (pool.prefill_flops + pool.decode_flops.mean(axis=1)).mean()   # one sample, as stored
        for strategy in g["strategy"].unique():
            assert cell(g, strategy, budget, 1, "flops_per_problem") == pytest.approx(one)
            for n in (1, 2, 4):
                # one shared prefill (one request with n samples), n decodes: as best-of-n is charged
                assert cell(g, strategy, budget, n, "flops_per_problem") - prefill == pytest.approx(n * (one - prefill))
                assert cell(g, strategy, budget, n, "flops_per_problem_naive") == pytest.approx(n * one)
                assert cell(g, strategy, budget, n, "tokens_per_problem") == pytest.approx(n * 10)


def test_frontier_of_a_planted_grid_is_the_hand_picked_set():
    points = {  # (budget, n): (FLOPs, accuracy)
        (8, 1): (1.0, 0.10), (8, 2): (2.0, 0.15), (8, 4): (4.0, 0.18),
        (32, 1): (1.5, 0.20), (32, 2): (3.0, 0.30), (32, 4): (6.0, 0.29),
        (128, 1): (5.0, 0.25), (128, 2): (10.0, 0.40)}
    rows = [{"run": "r", "benchmark": "gsm8k", "generation": "budget_forcing", "strategy": s, "scorer": None,
             "budget": b, "n": n, "flops_per_problem": f, "accuracy": a + (0.5 if s == "pass_at_k" else 0),
             "oracle": s == "pass_at_k"} for s in ("majority_vote", "pass_at_k") for (b, n), (f, a) in points.items()]
    # a second panel in which only the cheapest point is on the front: each panel has its own frontier
    rows += [{"run": "r", "benchmark": "gsm8k", "generation": "budget_forcing", "strategy": "best_of_n",
              "scorer": "logprob", "budget": b, "n": 1, "flops_per_problem": f, "accuracy": 0.3 - 0.01 * f,
              "oracle": False} for b, f in ((8, 1.0), (32, 1.5))]
    g = mark_frontier(pd.DataFrame(rows))
    front = {(s, b, n) for s, b, n in g[g["frontier"]][["strategy", "budget", "n"]].itertuples(index=False)}
    hand = {(8, 1), (32, 1), (32, 2), (128, 2)}
    assert front == ({("majority_vote", b, n) for b, n in hand} | {("pass_at_k", b, n) for b, n in hand}
                     | {("best_of_n", 8, 1)})


def test_only_independent_samples_qualify():
    with pytest.raises(UserError, match="not independent samples"):
        evaluate_grid(BeamSearch(), {4: POOL_8}, [make_strategy("majority_vote")])


def test_every_generation_strategy_declares_its_grid_attributes():
    # the runner and the analyzer read them directly (no probing), so every generation strategy declares both
    from testtime.registry import get, names

    gens = [make_strategy(n) for n in names("strategy") if get("strategy", n).kind == "generation"]
    assert len(gens) >= 7
    for g in gens:
        assert isinstance(g.independent_samples, bool) and isinstance(g.grid_select, tuple)
        assert g.independent_samples or g.grid_select == ()
    assert {g.name for g in gens if g.independent_samples} == {"budget_forcing"}
    assert BudgetForcing(select="pass_at_k").grid_select == ("pass_at_k",) and BudgetForcing().grid_select == ()


def test_budgets_on_different_problems_are_refused():
    other = Pool(problem_ids=("x", "y", "z"), answer_ids=POOL_32.answer_ids, correct=POOL_32.correct,
                 output_tokens=POOL_32.output_tokens, prompt_tokens=POOL_32.prompt_tokens,
                 decode_flops=POOL_32.decode_flops, prefill_flops=POOL_32.prefill_flops)
    with pytest.raises(UserError, match="different problems"):
        evaluate_grid(BudgetForcing(), {8: POOL_8, 32: other}, [make_strategy("majority_vote")])


def test_select_never_changes_the_samples_group():
    # revision 1's settings digest was that of runs made before `select` existed (other settings at their
    # defaults): budget_forcing-c21af774@64; revision 2 (seeded extensions, the answer to its closing brace) adds
    # itself to the digest, and `select` still changes nothing
    assert generation_group(BudgetForcing(), 64) == "budget_forcing-a62a0975@64"
    assert generation_group(BudgetForcing(select=("majority_vote", "pass_at_k")), 64) == "budget_forcing-a62a0975@64"
    assert BudgetForcing(select="majority_vote").select == ("majority_vote",)
    assert BudgetForcing(select=["pass_at_k"]).select == ("pass_at_k",)


@pytest.mark.parametrize("select, needle", [
    (["beam_search"], "selection strategies"),
    (["best_of_n:self_verify"], "logprob score only"),
    (["no_such_strategy"], "no_such_strategy"),
    ([3], "select"),
])
def test_bad_select_is_refused_before_sampling(select, needle):
    cfg = load_config(None, ["strategies=[budget_forcing]", "budgets=[8]",
                             f"strategy_options={{budget_forcing: {{select: {json.dumps(select)}}}}}"])
    with pytest.raises(UserError, match=needle):
        Plan.of(cfg)


def test_run_with_select_then_analyze(data_dir, tmp_path):
    """Sampled without `select`, evaluated with it (nothing re-sampled): results.json's grid rows, whose n = 1 and
    FLOPs match the stored samples; `analyze` draws grid.png and writes the grid and its frontier."""
    args = ["run", "--backend", "fake", "--data-dir", data_dir, "--benchmark", "svamp", "--limit", 6, "--n", 4,
            "--output-dir", tmp_path, "--name", "bf", "--strategy", "budget_forcing", "--budgets", "4,16"]
    first = cli_in_process(*args)
    assert first.returncode == 0, first.stderr
    parts = sorted(p.name for p in (tmp_path / "bf" / "samples").glob("*.parquet"))
    select = "strategy_options={budget_forcing: {select: [majority_vote, best_of_n, weighted_majority, pass_at_k]}}"
    res = cli_in_process(*args, "--set", select)
    assert res.returncode == 0, res.stderr
    assert "resumed" in res.stdout and "over budget_forcing's 4 samples" in res.stdout
    assert sorted(p.name for p in (tmp_path / "bf" / "samples").glob("*.parquet")) == parts   # nothing re-sampled
    rows = pd.DataFrame(json.loads((tmp_path / "bf" / "results.json").read_text())["rows"])
    own, grid = rows[rows["generation"].isna()], rows[rows["generation"].notna()]
    assert list(own["budget"]) == [4, 16]
    assert len(grid) == 4 * 2 * 3 and not grid.duplicated(["strategy", "scorer", "budget", "n"]).any()
    df = Store(tmp_path / "bf").table().to_pandas()
    for budget in (4, 16):
        mine = own[own["budget"] == budget].iloc[0]
        s = df[df["budget"] == budget].groupby("problem_id")
        one = (s["prefill_flops"].first() + s["decode_flops"].mean()).mean()
        for strategy, g in grid[grid["budget"] == budget].groupby("strategy"):
            at = g.set_index("n")
            assert at.loc[1, "accuracy"] == pytest.approx(mine["accuracy"])
            assert at.loc[1, "flops_per_problem"] == pytest.approx(one) == pytest.approx(mine["flops_per_problem"])
            assert at.loc[4, "flops_per_problem_naive"] == pytest.approx(4 * one)
    out = tmp_path / "an"
    res = cli_in_process("analyze", tmp_path / "bf", "--out", out, "--n-boot", 20)
    assert res.returncode == 0, res.stderr
    assert (out / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = pd.read_csv(out / "grid.csv")
    assert len(table) == len(grid) and table["frontier"].any()
    merged = table.merge(grid, on=["strategy", "budget", "n"], suffixes=("", "_run"))
    assert np.allclose(merged["accuracy"], merged["accuracy_run"])   # the same code and seed as the run
    assert len(pd.read_csv(out / "grid_frontier.csv")) == int(table["frontier"].sum())
    points = pd.read_csv(out / "points.csv")
    assert points["generation"].isna().all()   # grid rows stay out of the strategies' series
    assert "sequential x parallel grid" in (out / "report.html").read_text()
    assert "stored no sample pool" in " ".join(res.stdout.replace("│", " ").split())   # no signal, and why
