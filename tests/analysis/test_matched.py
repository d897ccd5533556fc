"""Generation points beside selection curves at matched FLOPs (testtime.analysis.matched), on planted pools."""

from pathlib import Path

import numpy as np
import pytest

from testtime.analysis.uncertainty import ADAPTIVE

from testtime.analysis.matched import matched_flops
from testtime.analysis.pools import RunPools
from testtime.analysis.uncertainty import evaluate_cells
from testtime.store.pool import Pool

IDS = ("p0", "p1", "p2", "p3")


def pool(correct, decode, prefill=5.0, answers=None):
    correct = np.asarray(correct, bool)
    P, N = correct.shape
    answer_ids = np.asarray(answers if answers is not None else np.where(correct, 0, 1), int)
    return Pool(problem_ids=IDS[:P], answer_ids=answer_ids, correct=correct, output_tokens=np.full((P, N), 10),
                prompt_tokens=np.full(P, 3), decode_flops=np.full((P, N), float(decode)),
                prefill_flops=np.full(P, prefill))


def runs(gen_correct, gen_decode):
    # Problems 0-2: every sample right; problem 3: every sample wrong. Selection costs 5 + 10 n FLOPs per problem.
    base = pool([[1] * 4] * 3 + [[0] * 4], decode=10)
    plain = RunPools(path=Path("a"), run="a", model="m", benchmark="b", pool=base, strategies=["majority_vote"])
    gen = pool(np.asarray(gen_correct)[:, None], decode=gen_decode)
    searched = RunPools(path=Path("g"), run="g", model="m", benchmark="b", pool=None,
                        generated={("particle_filtering", 8): gen},
                        manifest={"config": {"strategies": ["particle_filtering:self_verify"]}})
    return [plain, searched]


def test_match_takes_the_largest_n_within_the_generation_points_flops():
    rs = runs([1, 1, 0, 0], gen_decode=30)               # 5 + 30 = 35 FLOPs: n = 2 (25) fits, n = 4 (45) does not
    cells = evaluate_cells([rs[0]], n_boot=20, levels="problems")
    t = matched_flops(rs, cells, n_boot=200)
    # pass@k reads the gold answer: left out; the adaptive stopping rules are selection strategies like any other
    assert set(t["selection"]) == {"majority_vote", *ADAPTIVE}
    row = t[t["selection"] == "majority_vote"].iloc[0]
    assert row["generation"] == "particle_filtering:self_verify" and row["budget"] == 8
    assert row["n"] == 2 and row["selection_flops"] == pytest.approx(25.0)
    assert row["generation_flops"] == pytest.approx(35.0) and row["flops_ratio"] == pytest.approx(25 / 35)
    assert row["generation_accuracy"] == pytest.approx(0.5) and row["selection_accuracy"] == pytest.approx(0.75)
    assert row["difference"] == pytest.approx(-0.25) and row["ci_low"] <= -0.25 <= row["ci_high"]
    assert row["problems"] == 4


def test_a_point_cheaper_than_one_sample_is_matched_at_n1_and_says_so():
    rs = runs([1, 1, 1, 0], gen_decode=5)                # 10 FLOPs < one sample's 15
    t = matched_flops(rs, evaluate_cells([rs[0]], n_boot=20, levels="problems"), n_boot=100)
    row = t[t["selection"] == "majority_vote"].iloc[0]
    assert row["n"] == 1 and row["flops_ratio"] == pytest.approx(1.5)
    assert row["difference"] == pytest.approx(0.0) and row["p_value"] == 1.0


def test_only_the_problems_both_hold_are_compared():
    rs = runs([1, 1, 0, 0], gen_decode=30)
    rs[1].generated = {("particle_filtering", 8): pool(np.array([[1], [0]]), decode=30)}   # p0, p1 only
    row = matched_flops(rs, evaluate_cells([rs[0]], n_boot=20, levels="problems"), n_boot=100).iloc[0]
    assert row["problems"] == 2
    assert row["generation_accuracy"] == pytest.approx(0.5) and row["selection_accuracy"] == pytest.approx(1.0)


def test_analyze_puts_a_generation_run_beside_a_pool_run_on_the_same_problems(data_dir, tmp_path):
    """Two fake-backend runs on the same seeded problems (a pool; sequential revisions): `analyze` writes the matched
    table, each row's selection within the generation point's FLOPs, and the report shows it."""
    import pandas as pd
    from tests.helpers import cli_in_process

    common = ["run", "--backend", "fake", "--data-dir", data_dir, "--benchmark", "svamp", "--limit", 6,
              "--output-dir", tmp_path]
    for args in (["--name", "pool", "--n", 8, "--strategy", "majority_vote"],
                 ["--name", "rev", "--n", 1, "--strategy", "sequential_revisions", "--budgets", "4"]):
        res = cli_in_process(*common, *args)
        assert res.returncode == 0, res.stderr
    out = tmp_path / "an"
    res = cli_in_process("analyze", tmp_path / "pool", tmp_path / "rev", "--out", out, "--n-boot", 20)
    assert res.returncode == 0, res.stderr
    t = pd.read_csv(out / "matched.csv")
    assert set(t["generation"]) == {"sequential_revisions"} and set(t["budget"]) == {4}
    assert "majority_vote" in set(t["selection"]) and not t["selection"].str.contains("pass_at_k|oracle").any()
    assert (t["problems"] == 6).all()
    assert ((t["selection_flops"] <= t["generation_flops"]) | (t["n"] == 1)).all()
    assert "generation strategies at matched FLOPs" in (out / "report.html").read_text()
