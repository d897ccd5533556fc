"""Costs beyond FLOPs on planted pools, by hand: eFLOPs of a cell from its samples' usage (weights over the batch,
KV reads with prefix sharing), seconds measured per request, per-token dollars with cached input; and the frontier
under each cost, whose choices must differ where a planted cell is cheap in FLOPs but not in memory traffic."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from testtime.analysis.costs import CostModel, cell_costs, cost_choices, cost_frontiers, disagreement_notes
from testtime.analysis.pools import RunPools
from testtime.analysis.uncertainty import evaluate_cells
from testtime.flops import device, kv_bytes_per_token, weight_bytes
from testtime.models import ModelFacts
from testtime.store.pool import Pool

FACTS = ModelFacts(params=1000, non_embedding_params=700, n_layers=3, d_model=8, n_heads=2, n_kv_heads=1,
                   head_dim=4, vocab_size=50, context=128, architecture="Test")


def run(seconds=None):
    answers = np.array([[0, 0, 1, 0], [2, 3, 2, 2]])
    correct = np.array([[1, 1, 0, 1], [0, 0, 0, 0]], bool)
    L = np.array([[4, 6, 8, 10], [5, 5, 5, 5]])
    pool = Pool(problem_ids=("a", "b"), answer_ids=answers, correct=correct, output_tokens=L,
                prompt_tokens=np.array([10, 20]), decode_flops=L * 100.0, prefill_flops=np.array([1e3, 2e3]),
                seconds=seconds)
    return RunPools(path=Path("r"), run="r", model="m", benchmark="b", pool=pool,
                    manifest={"run_id": "r", "model_facts": FACTS.__dict__})


def cells_of(r, strategies, options=None):
    return evaluate_cells([r], n_boot=5, levels="problems", strategies=strategies, strategy_options=options)


def test_eflops_of_a_fixed_n_by_hand():
    r = run()
    cells = cells_of(r, ["majority_vote"])
    model = CostModel(device="h100", batch=4, prefix_sharing=True)
    c = cell_costs(cells, [r], model).set_index("n")
    dev, kv, wb = device("h100"), kv_bytes_per_token(FACTS, 2), weight_bytes(FACTS, 2)
    for n in (1, 2, 4):
        u = n / 4                          # each of the 4 samples generated with chance n/4
        per = []
        for p in range(2):
            L, P = r.pool.output_tokens[p].astype(float), r.pool.prompt_tokens[p]
            own = (u * (L * wb / 4 + kv * L * (L + 1) / 2)).sum()
            prompt = kv * P * (u * L).sum() / n          # the prompt's KV read once per step for the n together
            per.append(own + prompt)
        assert c.loc[n, "memory_bytes_per_problem"] == pytest.approx(np.mean(per))
        flops = np.mean([r.pool.prefill_flops[p] + (u * r.pool.decode_flops[p]).sum() for p in range(2)])
        assert c.loc[n, "eflops_per_problem"] == pytest.approx(flops + dev.intensity * np.mean(per))
    apart = cell_costs(cells, [r], CostModel(device="h100", batch=4, prefix_sharing=False)).set_index("n")
    assert (apart["memory_bytes_per_problem"] >= c["memory_bytes_per_problem"]).all()
    assert apart.loc[1, "memory_bytes_per_problem"] == pytest.approx(c.loc[1, "memory_bytes_per_problem"])


def test_an_adaptive_cell_pays_for_the_samples_it_draws():
    """ESC with windows of 2 on problem b (answers 2, 3, 2, 2): the eFLOPs, seconds and dollars follow its usage."""
    seconds = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5]])
    r = run(seconds)
    cells = cells_of(r, ["esc"], {"esc": {"window": 2}})
    key = ("m", "r", "esc", None, 4)
    usage, samples = cells.usage[key], cells.samples[key]
    c = cell_costs(cells, [r], CostModel(price_per_mtok=(1.0, 0.5, 2.0))).set_index("n").loc[4]
    assert c["request_seconds_per_problem"] == pytest.approx((usage * seconds).sum(axis=1).mean())
    tokens = (usage * r.pool.output_tokens).sum(axis=1)
    dollars = (r.pool.prompt_tokens * (1.0 + (samples - 1) * 0.5) + tokens * 2.0) / 1e6
    assert c["token_dollars_per_problem"] == pytest.approx(dollars.mean())
    # b: the first window agrees when both are 2s (chance 3/4 x 2/3), else the second ends at the cap: 2 or 4
    assert samples[1] == pytest.approx(0.5 * 2 + 0.5 * 4) and usage[1].sum() == pytest.approx(samples[1])


def test_no_timings_no_seconds():
    r = run()
    c = cell_costs(cells_of(r, ["majority_vote"]), [r], CostModel())
    assert c["request_seconds_per_problem"].isna().all() and c["token_dollars_per_problem"].isna().all()


def planted_table():
    """A cheap-in-FLOPs cell that reads a lot of memory (a small model's long samples) and a large model's short one."""
    rows = [("small", "majority_vote", 1, 0.30, 1e11, 1e13), ("small", "majority_vote", 8, 0.45, 8e11, 9e13),
            ("large", "majority_vote", 1, 0.40, 5e11, 1e12), ("large", "majority_vote", 2, 0.47, 1e12, 2e12)]
    return pd.DataFrame([{"benchmark": "gsm8k", "model": m, "run": m, "strategy": s, "scorer": None, "n": n,
                          "budget": np.nan, "accuracy": a, "ci_low": a - 0.05, "ci_high": a + 0.05, "oracle": False,
                          "flops_per_problem": f, "eflops_per_problem": e} for m, s, n, a, f, e in rows])


def test_the_costs_choose_differently_and_say_so():
    t = planted_table()
    fronts = cost_frontiers(t)
    assert set(fronts["cost"]) == {"flops", "eflops"}
    flops = fronts[fronts["cost"] == "flops"]
    eflops = fronts[fronts["cost"] == "eflops"]
    assert list(zip(flops["model"], flops["n"])) == [("small", 1), ("large", 1), ("small", 8), ("large", 2)]
    assert list(zip(eflops["model"], eflops["n"])) == [("large", 1), ("large", 2)]
    choices = cost_choices(t).set_index("target_accuracy")
    assert choices.loc[0.30, "flops"] == "small · majority_vote @ 1" and \
        choices.loc[0.30, "eflops"] == "large · majority_vote @ 1" and not choices.loc[0.30, "agree"]
    assert choices.loc[0.47, "agree"]                      # only the large model's n = 2 reaches 47%
    (note,) = disagreement_notes(cost_choices(t))
    assert "choose differently at 2 of 4" in note


def test_cost_flags_are_checked_in_one_line(tmp_path):
    from tests.helpers import cli_in_process, one_line_error

    for flags, needle in [(["--device", "tpu"], "unknown device 'tpu'"),
                          (["--price-per-mtok", "1,2"], "--price-per-mtok takes three numbers"),
                          (["--decode-batch", "-3"], "--decode-batch must be 0")]:
        r = cli_in_process("analyze", tmp_path, *flags)
        one_line_error(r, needle)
