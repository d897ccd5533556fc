"""Stability metrics against brute force over every size-k subset of a planted pool and against OpenCompass's own
functions (open-compass/GPassK), and rank intervals on planted cells."""

import math
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import hypergeom

from testtime.analysis.pools import RunPools
from testtime.analysis.stability import g_pass_at_k, mg_pass_at_k, pass_hat_k, rank_intervals, stability_table
from testtime.analysis.uncertainty import evaluate_cells
from testtime.store.estimators import pass_at_k
from testtime.store.pool import Pool

CORRECT = np.array([[1, 0, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0],
                    [1, 1, 0, 1, 1, 0, 1]], bool)


def brute(correct, k, at_least):
    """Share of the size-k subsets with at least `at_least` correct, per problem."""
    return np.array([np.mean([correct[p, list(s)].sum() >= at_least for s in combinations(range(correct.shape[1]), k)])
                     for p in range(len(correct))])


def gpassk_reference(n, c, k, t):
    """open-compass/GPassK lighteval_metric.py, compute_g_pass_at_k, as published."""
    m = max(int(np.ceil(k * t)), 1)
    if m > min(c, k) or k > n or c < 0 or n <= 0 or m < 0:
        return 0.0
    return hypergeom.sf(m - 1, n, c, k)


def mg_reference(n, c, k):
    l, r = int(np.ceil(k * 0.5)), k
    total = 0.0
    for i in range(l + 1, r + 1):
        total += gpassk_reference(n, c, k, i / k) if i <= min(c, k) else 0.0
    return 2 * total / k


@pytest.mark.parametrize("k", range(1, 8))
def test_every_metric_against_every_subset(k):
    c, N = CORRECT.sum(axis=1), CORRECT.shape[1]
    np.testing.assert_allclose(pass_hat_k(c, N, k), brute(CORRECT, k, k), atol=1e-12)
    np.testing.assert_allclose(g_pass_at_k(c, N, k, 0.0), pass_at_k(c, N, k), atol=1e-12)     # tau 0 is pass@k
    for tau in (0.25, 0.5, 0.75, 1.0):
        np.testing.assert_allclose(g_pass_at_k(c, N, k, tau), brute(CORRECT, k, max(math.ceil(k * tau), 1)),
                                   atol=1e-12)
        np.testing.assert_allclose(g_pass_at_k(c, N, k, tau), [gpassk_reference(N, ci, k, tau) for ci in c],
                                   atol=1e-12)
    by_hand = sum(brute(CORRECT, k, i) for i in range(math.ceil(k / 2) + 1, k + 1)) * 2 / k
    np.testing.assert_allclose(mg_pass_at_k(c, N, k), by_hand, atol=1e-12)
    np.testing.assert_allclose(mg_pass_at_k(c, N, k), [mg_reference(N, ci, k) for ci in c], atol=1e-12)


def test_the_table_averages_problems_with_cis():
    t = stability_table(CORRECT, run="r", n_boot=200).set_index("k")
    assert list(t.index) == [1, 2, 4, 7]
    assert t.loc[7, "pass^k"] == pytest.approx(1 / 5) and t.loc[7, "pass@k"] == pytest.approx(4 / 5)
    assert t.loc[1, "pass@k"] == pytest.approx(t.loc[1, "pass^k"]) == pytest.approx(CORRECT.mean())
    assert t.loc[1, "mG-Pass@k"] == 0                                   # GPassK's sum is empty at k = 1
    assert (t["pass^k_low"] <= t["pass^k"]).all() and (t["pass^k"] <= t["pass^k_high"]).all()


def pool_of(p_right, P=60, N=8, seed=0):
    rng = np.random.default_rng(seed)
    correct = rng.random((P, N)) < p_right
    return Pool(problem_ids=tuple(f"q{i:03d}" for i in range(P)), answer_ids=np.where(correct, 0, 1), correct=correct,
                output_tokens=np.full((P, N), 10), prompt_tokens=np.full(P, 5), decode_flops=np.full((P, N), 1e3),
                prefill_flops=np.full(P, 1e2))


def test_rank_intervals_on_planted_runs():
    """Three runs at 20%, 50% and 52% per sample: the first is last for sure; the two close ones share ranks 1-2."""
    runs = [RunPools(path=Path(name), run=name, model=name, benchmark="b", pool=pool_of(p, seed=i))
            for i, (name, p) in enumerate((("weak", 0.2), ("mid", 0.5), ("close", 0.52)))]
    cells = evaluate_cells(runs, n_boot=200, levels="both", strategies=["majority_vote"])
    r = rank_intervals(cells)
    one = r[r["n"] == 1].set_index("model")
    assert (one.loc["weak", "rank"], one.loc["weak", "rank_low"], one.loc["weak", "rank_high"]) == (3, 3, 3)
    assert one.loc["mid", "rank_low"] == 1 and one.loc["mid", "rank_high"] == 2
    assert one.loc["close", "rank_low"] == 1 and one.loc["close", "rank_high"] == 2
    assert set(one["cells"]) == {3}
