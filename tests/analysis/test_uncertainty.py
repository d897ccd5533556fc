"""Per-problem cells and their bootstrap CIs on planted pools: coverage by simulation, the shared-problem restriction,
and the one-level interval's collapse that the two-level one avoids."""

import sys
from pathlib import Path

import numpy as np
import pytest

from testtime.analysis.pools import RunPools, shared_problems, take
from testtime.analysis.uncertainty import evaluate_cells, interval, points
from testtime.errors import UserError
from testtime.store.pool import Pool

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from ci_coverage import coverage, exact_sd, planted_pool, two_level_sd  # noqa: E402


def run_of(pool, name="r", model="m", benchmark="b"):
    return RunPools(path=Path(name), run=name, model=model, benchmark=benchmark, pool=pool)


def pool_of(correct, ids=None, scores=None):
    correct = np.asarray(correct, bool)
    P, N = correct.shape
    return Pool(problem_ids=tuple(ids or (f"p{i:03d}" for i in range(P))), answer_ids=np.where(correct, 0, 1),
                correct=correct, output_tokens=np.full((P, N), 10), prompt_tokens=np.full(P, 5),
                decode_flops=np.full((P, N), 1000.0), prefill_flops=np.full(P, 100.0),
                scores={"logprob": np.asarray(scores if scores is not None else np.zeros((P, N)), float)})


def test_interval_widths_against_the_exact_spread():
    # 60 simulated experiments of 200 problems x 8 samples, p ~ Beta(0.3, 3) (many problems near 0, as on GSM8K for
    # a small model). A coverage count cannot tell 0.93 from 0.95 in seconds (its standard error over 60 experiments
    # is 0.03); the mean width against the width the estimator's exact spread calls for (2 x 1.96 x its standard
    # deviation, closed form over the beta-binomial) can: across seeds it moves by about 0.01. Over 1,000 experiments
    # (docs/analysis-pools.md) these widths went with coverage 0.933-0.950 (one level), 0.956 at k = 1 and 0.927 at
    # k = N (two levels).
    out = coverage(problems=200, samples=8, a=0.3, b=3.0, experiments=60, n_boot=200)
    ratio = {(lv, k): out["width"][(lv, k)] / out["exact"][k] for lv in ("problems", "both") for k in out["ks"]}
    # One level has the width the spread calls for at every k (its percentile interval a little under: 0.96-0.98).
    for k in out["ks"]:
        assert 0.93 <= ratio[("problems", k)] <= 1.03, ratio
    # Two levels count each problem's sample noise twice: at k = 1 wider than one level by the closed form's factor
    # sqrt(1 + E[q(1 - q)] / N / Var(q)), 1.12 here, so it over-covers ...
    assert ratio[("both", 1)] / ratio[("problems", 1)] == pytest.approx(two_level_sd(1, 0.3, 3.0, 8, 200)
                                                                          / exact_sd(1, 0.3, 3.0, 8, 200), abs=0.04)
    assert ratio[("both", 1)] > 1.04
    # ... and at k = N narrower than needed (a redrawn pool holds ~63% of the distinct samples, and its pass@N moves
    # less), so it under-covers: not conservative.
    assert 0.86 <= ratio[("both", 8)] <= 0.96, ratio
    # Uncentred, pass@N of a redrawn pool is biased low and misses.
    assert out["coverage"][("both", 8, "raw")] < 0.6


def test_exact_spread_by_brute_force():
    # exact_sd against enumerating every count of correct samples of 3 samples, p ~ Beta(1, 1) (c uniform on 0..3).
    est = {1: np.array([0, 1, 2, 3]) / 3, 3: np.array([0, 1, 1, 1.0])}
    for k, e in est.items():
        assert exact_sd(k, 1.0, 1.0, 3, 10) == pytest.approx(np.sqrt(e.var() / 10))


def test_resampling_levels_and_shared_replicates():
    rng = np.random.default_rng(0)
    pool = planted_pool(rng, 30, 8, 0.5, 2.0)
    cells = evaluate_cells([run_of(pool)], n_boot=50, levels="both", strategies=["pass_at_k", "majority_vote"])
    assert cells.rows.shape == (50, 30)
    key = ("m", "r", "pass_at_k", None, 1)
    assert np.allclose(cells.point[key], pool.correct.mean(axis=1))
    # "samples" keeps the problems; "problems" keeps each problem's estimate.
    same = evaluate_cells([run_of(pool)], n_boot=20, levels="samples", strategies=["pass_at_k"])
    assert (same.rows == np.arange(30)).all()
    one = evaluate_cells([run_of(pool)], n_boot=20, levels="problems", strategies=["pass_at_k"])
    assert np.allclose(one.reps[key], cells.point[key][one.rows])
    with pytest.raises(UserError, match="levels"):
        evaluate_cells([run_of(pool)], levels="nope")


def test_one_level_collapses_where_two_levels_do_not():
    # Every problem's pool has one right sample in 8 and the top-scored sample is wrong: best-of-8 is 0 on every
    # problem, so resampling problems alone gives [0, 0]; redrawing samples sees that the pool could have held the
    # right one at the top.
    P, N = 20, 8
    correct = np.zeros((P, N), bool)
    correct[:, 0] = True
    scores = np.tile(np.arange(N, dtype=float), (P, 1))            # the last sample scores highest
    scores[:, 0] = N - 1.5                                         # the right one second
    cells = evaluate_cells([run_of(pool_of(correct, scores=scores))], n_boot=200, levels="both",
                           strategies=["best_of_n:logprob"], ns={"r": [N]})
    row = points(cells).iloc[0]
    assert row["accuracy"] == 0 and row["ci1_high"] == 0 and row["ci_high"] > 0.05


def test_cells_use_only_shared_problems_and_refuse_none():
    rng = np.random.default_rng(1)
    a = pool_of(rng.random((6, 4)) < 0.5, ids=[f"p{i}" for i in range(6)])
    b = pool_of(rng.random((6, 4)) < 0.5, ids=[f"p{i}" for i in range(3, 9)])
    runs = [run_of(a, "a", "small"), run_of(b, "b", "large")]
    assert shared_problems(runs) == {"b": ("p3", "p4", "p5")}
    cells = evaluate_cells(runs, n_boot=10, strategies=["pass_at_k"])
    assert cells.problems == ("p3", "p4", "p5")
    assert np.allclose(cells.point[("small", "a", "pass_at_k", None, 1)], a.correct[3:].mean(axis=1))
    c = pool_of(rng.random((2, 4)) < 0.5, ids=["x", "y"])
    with pytest.raises(UserError, match="share no problems"):
        evaluate_cells([run_of(a, "a"), run_of(c, "c")], n_boot=10)


def test_take_and_interval():
    pool = pool_of(np.eye(3, 4, dtype=bool))
    t = take(pool, np.array([2, 2]), np.array([[2, 2, 2, 2], [0, 1, 2, 3]]))
    assert t.correct.tolist() == [[True] * 4, [False, False, True, False]]
    assert interval(np.arange(101), 0.9) == pytest.approx((5.0, 95.0))
    assert interval(np.arange(101), 0.9, centre=0.0) == pytest.approx((-45.0, 45.0))


def test_every_interval_holds_its_point_inside_zero_one():
    # Centred replicates can fall below 0: a point of 0 whose replicates are mostly 0 with a rare positive one has
    # a mean above its 97.5th percentile, so the centred upper bound fell below the point (seen on a real 20 x 16
    # GSM8K pool: best-of-16 at 0.0% (0.0%-(-0.1%))).
    from testtime.analysis.uncertainty import Cells

    P, B = 20, 200
    key = ("m", "r", "best_of_n", "logprob", 16)
    reps = np.zeros((B, P))
    reps[:4, 0] = 1.0                                    # 4 of 200 replicates see a right answer on top
    cells = Cells(benchmark="b", problems=tuple(f"p{i}" for i in range(P)), levels="both",
                  rows=np.tile(np.arange(P), (B, 1)), point={key: np.zeros(P)}, reps={key: reps},
                  flops={key: np.ones(P)}, tokens={key: np.ones(P)}, flops_naive={key: np.ones(P)},
                  oracle={key: False})
    row = points(cells).iloc[0]
    assert row["ci_low"] == row["accuracy"] == row["ci_high"] == 0.0
