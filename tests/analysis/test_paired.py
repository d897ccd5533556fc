"""Paired comparisons on planted pools: a planted difference is found, no difference gives ~5% false positives."""

from pathlib import Path

import numpy as np
import pytest

from scipy.stats import binomtest, permutation_test

from testtime.analysis.paired import adjacent_ns, find_cell, paired, paired_difference, sign_flip_p
from testtime.analysis.pools import RunPools
from testtime.analysis.uncertainty import evaluate_cells
from testtime.errors import UserError
from testtime.store.pool import Pool


def test_paired_difference_by_hand():
    row = paired_difference([1, 0.5, 0], [0.5, 0.5, 0])
    assert row["difference"] == pytest.approx(1 / 6) and row["problems"] == 3
    assert paired_difference([0.2, 0.3], [0.2, 0.3])["p_value"] == 1.0
    with pytest.raises(UserError):
        paired_difference([1, 0], [1])


def test_p_values_of_tiny_cases_are_exact():
    # One problem: its two sign patterns are equally extreme, p = 1 (the shifted bootstrap said 0.0005).
    assert paired_difference([1.0], [0.0])["p_value"] == 1.0
    # Three problems all one way: the exact sign test, 2 / 2^3 = 0.25 (scipy's binomial test agrees).
    assert paired_difference([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])["p_value"] == pytest.approx(0.25)
    assert binomtest(3, 3).pvalue == pytest.approx(0.25)
    # Differences 1, 0.5, -0.2, 0.3 (sum 1.6): of the 16 sign patterns, the sums at least 1.6 away from 0 are
    # +-(1 + .5 + .2 + .3) = +-2.0 and +-1.6 itself: 4 of 16.
    assert sign_flip_p(np.array([1.0, 0.5, -0.2, 0.3])) == pytest.approx(4 / 16)
    # Zero differences carry no sign: with 0, 0, 1 every one of the 8 patterns sums to +-1, so p = 1.
    assert sign_flip_p(np.array([0.0, 0.0, 1.0])) == 1.0


@pytest.mark.parametrize("P", [5, 9, 13])
def test_sign_flip_p_is_scipys_permutation_test(P):
    # Exact up to 13 problems: the same p as scipy's paired permutation test enumerating every sign pattern.
    d = np.round(np.random.default_rng(P).normal(0.1, 0.3, P), 2)
    ref = permutation_test((d,), lambda x, axis=-1: np.mean(x, axis=axis), permutation_type="samples",
                           n_resamples=10 ** 5, vectorized=True).pvalue
    assert sign_flip_p(d) == pytest.approx(ref, abs=1e-12)


def test_sign_flip_p_by_monte_carlo_agrees_with_scipy():
    d = np.random.default_rng(7).normal(0.05, 0.3, 60)
    ref = permutation_test((d,), lambda x, axis=-1: np.mean(x, axis=axis), permutation_type="samples",
                           n_resamples=20000, vectorized=True, random_state=0).pvalue
    # Two Monte-Carlo estimates of p ~ 0.2: within 4 standard errors of 20,000 and 9,999 patterns.
    assert sign_flip_p(d, n_perm=9999, seed=1) == pytest.approx(ref, abs=4 * np.sqrt(ref * (1 - ref) / 6666))


def test_nan_is_refused():
    with pytest.raises(UserError, match="NaN or infinite"):
        paired_difference([1.0, np.nan, 0.5], [0.0, 0.0, 0.0])
    with pytest.raises(UserError, match="NaN or infinite"):
        paired_difference([1.0, 0.5], [0.0, np.inf])


def test_planted_difference_is_found():
    # Per problem, A is right with p + 0.1, B with p: the mean difference 0.1 is inside the CI and p < 0.01.
    rng = np.random.default_rng(0)
    p = rng.uniform(0.1, 0.8, 200)
    a = rng.binomial(16, np.clip(p + 0.1, 0, 1)) / 16
    b = rng.binomial(16, p) / 16
    row = paired_difference(a, b, n_boot=2000)
    assert row["ci_low"] <= 0.1 <= row["ci_high"] and row["ci_low"] > 0 and row["p_value"] < 0.01


def test_false_positive_rate_is_about_five_percent():
    # 400 experiments with no difference (A and B draw from the same per-problem p): rejections at 0.05 occur at
    # 5% +- 3.3% (3 standard errors of a 400-draw rate).
    rng = np.random.default_rng(1)
    rejected = 0
    for e in range(400):
        p = rng.beta(0.7, 1.5, 60)
        a, b = rng.binomial(8, p) / 8, rng.binomial(8, p) / 8
        rejected += paired_difference(a, b, n_boot=200, seed=e, n_perm=999)["p_value"] < 0.05
    assert 0.017 <= rejected / 400 <= 0.083, rejected / 400


def test_cells_paired_and_adjacent_ns():
    rng = np.random.default_rng(2)
    P, N = 40, 8
    p = rng.beta(1, 1, P)
    correct = rng.random((P, N)) < p[:, None]
    pool = Pool(problem_ids=tuple(f"p{i}" for i in range(P)), answer_ids=np.where(correct, 0, 1), correct=correct,
                output_tokens=np.full((P, N), 10), prompt_tokens=np.full(P, 5), decode_flops=np.full((P, N), 1e3),
                prefill_flops=np.full(P, 100.0), scores={"logprob": rng.normal(size=(P, N))})
    run = RunPools(path=Path("r"), run="r", model="m", benchmark="b", pool=pool)
    cells = evaluate_cells([run], n_boot=50, strategies=["pass_at_k", "best_of_n:logprob"])
    a, b = find_cell(cells, "pass_at_k@8"), find_cell(cells, "best_of_n@8")
    assert b == ("m", "r", "best_of_n", "logprob", 8)
    row = paired(cells, a, b)
    assert row["difference"] > 0 and row["p_value"] < 0.01 and row["ci2_low"] <= row["difference"] <= row["ci2_high"]
    adj = adjacent_ns(cells)
    assert len(adj) == 2 * 3            # 1->2, 2->4, 4->8 for each strategy
    assert (adj[adj["a"].str.contains("pass_at_k")]["difference"] > 0).all()
    for bad in ("pass_at_k@3", "nonsense"):
        with pytest.raises(UserError, match="--paired"):
            find_cell(cells, bad)
