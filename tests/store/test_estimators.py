"""Estimators against brute-force enumeration of every size-n subset, and against hand-computed values."""

from __future__ import annotations

import inspect
import re
from itertools import combinations
from fractions import Fraction
from math import comb

import numpy as np
import pytest

from testtime.store import estimators
from testtime.store.estimators import (
    bootstrap_ci,
    expected_best_of_n,
    expected_majority_vote,
    expected_weighted_vote,
    pass_at_k,
    sample_counts,
)


def random_pool(seed: int, P: int = 6, N: int = 7):
    """Small pools with score ties, NaN scores, no-answer samples, several classes; class 0 is the correct one."""
    rng = np.random.default_rng(seed)
    answer_ids = rng.choice([-1, 0, 1, 2, 3], size=(P, N), p=[0.15, 0.3, 0.25, 0.2, 0.1])
    answer_ids[0] = rng.choice([0, 5], size=N)             # two classes only, many ties in vote counts
    answer_ids[1, :] = 7                                   # one wrong class
    answer_ids[2, : N // 2] = -1
    correct = answer_ids == 0
    scores = rng.choice([0.0, 0.5, 1.0, np.nan], size=(P, N), p=[0.3, 0.3, 0.3, 0.1])
    weights = rng.choice([0.5, 1.0, 1.5, 2.0], size=(P, N)) * (1 + (seed % 2) * rng.random((P, N)))
    return answer_ids, correct, scores, weights


def brute_best(scores, correct, n):
    out = []
    for s, ok in zip(np.nan_to_num(scores, nan=-np.inf), correct):
        vals = []
        for sub in combinations(range(len(s)), n):
            top = max(s[i] for i in sub)
            tied = [i for i in sub if s[i] == top]
            vals.append(np.mean([ok[i] for i in tied]))
        out.append(np.mean(vals))
    return np.array(out)


def brute_vote(answer_ids, correct, n, weights=None):
    weights = np.ones(answer_ids.shape) if weights is None else weights
    out = []
    for a, ok, w in zip(answer_ids, correct, weights):
        good = {c: 2 * ok[a == c].sum() > (a == c).sum() for c in set(a) if c >= 0}
        vals = []
        for sub in combinations(range(len(a)), n):
            tally: dict[int, float] = {}
            for i in sub:
                if a[i] >= 0:
                    tally[a[i]] = tally.get(a[i], 0.0) + w[i]
            if not tally:
                vals.append(0.0)
                continue
            top = max(tally.values())
            tied = [c for c, v in tally.items() if v >= top - 1e-9]
            vals.append(np.mean([good[c] for c in tied]))
        out.append(np.mean(vals))
    return np.array(out)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("N", [1, 2, 5, 8])
def test_best_of_n_matches_enumeration(seed, N):
    _, correct, scores, _ = random_pool(seed, N=N)
    for n in range(1, N + 1):
        np.testing.assert_allclose(expected_best_of_n(scores, correct, n), brute_best(scores, correct, n), atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("N", [1, 3, 6, 8])
def test_majority_vote_matches_enumeration(seed, N):
    answer_ids, correct, _, _ = random_pool(seed, N=N)
    for n in range(1, N + 1):
        np.testing.assert_allclose(
            expected_majority_vote(answer_ids, correct, n), brute_vote(answer_ids, correct, n), atol=1e-9
        )


def test_majority_vote_several_correct_classes_and_mixed_class():
    # Two classes marked correct (math-verify missed an equivalence), and a class whose samples disagree:
    # class 4 is 2/3 correct, so it counts as correct; class 5 is 1/2 correct, so it does not.
    answer_ids = np.array([[0, 0, 1, 1, 1, 2, -1, 4], [4, 4, 4, 5, 5, 6, 6, 6]])
    correct = np.array([[1, 1, 1, 1, 1, 0, 0, 0], [1, 1, 0, 1, 0, 0, 0, 0]], bool)
    for n in range(1, 9):
        np.testing.assert_allclose(
            expected_majority_vote(answer_ids, correct, n), brute_vote(answer_ids, correct, n), atol=1e-9
        )


@pytest.mark.parametrize(
    ("n", "expected"), [(1, 2 / 3), (2, (1 + 1 / 2 + 1 / 2) / 3), (3, 1.0)]
)
def test_majority_vote_hand_case(n, expected):
    acc = expected_majority_vote(np.array([[0, 0, 1]]), np.array([[True, True, False]]), n)
    np.testing.assert_allclose(acc, [expected], atol=1e-12)


def test_majority_vote_no_answers_and_no_correct_class():
    answer_ids = np.array([[-1, -1, -1], [1, 2, 2]])
    np.testing.assert_array_equal(expected_majority_vote(answer_ids, np.zeros((2, 3), bool), 2), [0.0, 0.0])


def test_majority_vote_without_rivals():
    answer_ids, correct = np.array([[0, 0, -1], [0, 0, 0]]), np.array([[1, 1, 0], [1, 1, 1]], bool)
    for n in (1, 2, 3):
        np.testing.assert_allclose(
            expected_majority_vote(answer_ids, correct, n), brute_vote(answer_ids, correct, n), atol=1e-12
        )


def exact_two_class_vote(c0: int, c1: int, m: int, n: int) -> float:
    """Correct class of c0, wrong class of c1, m abstainers: exact plurality accuracy with Python integers."""
    wins = sum(
        comb(c0, j) * comb(c1, k) * comb(m, n - j - k) * (2 if j > k else 1)
        for j in range(1, min(c0, n) + 1)
        for k in range(0, min(c1, n - j) + 1)
        if j >= k and n - j - k <= m
    )
    return float(Fraction(wins, 2 * comb(c0 + c1 + m, n)))


def test_majority_vote_large_pool_is_exact():
    rows = [(400, 420, 204), (300, 300, 424), (10, 5, 1009)]           # N = 1024: counts far beyond float range
    answer_ids = np.array([[0] * c0 + [1] * c1 + [-1] * m for c0, c1, m in rows])
    correct = answer_ids == 0
    for n in (1, 17, 1023, 1024):
        want = [exact_two_class_vote(*r, n) for r in rows]
        np.testing.assert_allclose(expected_majority_vote(answer_ids, correct, n), want, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_weighted_vote_within_four_standard_errors(seed):
    answer_ids, correct, _, weights = random_pool(seed, N=7)
    for n in range(1, 8):
        mean, se = expected_weighted_vote(answer_ids, correct, weights, n, n_draws=4000, seed=seed)
        truth = brute_vote(answer_ids, correct, n, weights)
        assert np.all(np.abs(mean - truth) <= 4 * se + 1e-9), (n, mean, truth, se)


def test_weighted_vote_exact_ends():
    answer_ids, correct, _, weights = random_pool(0, N=6)
    for n in (1, 6):
        mean, se = expected_weighted_vote(answer_ids, correct, weights, n)
        np.testing.assert_allclose(mean, brute_vote(answer_ids, correct, n, weights), atol=1e-12)
        np.testing.assert_array_equal(se, 0.0)


def test_weighted_vote_with_equal_weights_is_majority_vote():
    answer_ids, correct, _, _ = random_pool(3, N=8)
    mean, se = expected_weighted_vote(answer_ids, correct, np.ones(answer_ids.shape), 4, n_draws=4000)
    assert np.all(np.abs(mean - expected_majority_vote(answer_ids, correct, 4)) <= 4 * se + 1e-9)


def test_weighted_vote_rejects_nan_weights():
    with pytest.raises(ValueError, match="NaN"):
        expected_weighted_vote(np.zeros((1, 2), int), np.ones((1, 2), bool), np.array([[1.0, np.nan]]), 1)


@pytest.mark.parametrize(("n", "c", "k", "expected"), [(5, 2, 2, 0.7), (5, 0, 3, 0.0), (5, 5, 1, 1.0), (5, 4, 2, 1.0)])
def test_pass_at_k_hand_values(n, c, k, expected):
    np.testing.assert_allclose(pass_at_k(np.array([c]), n, k), [expected], atol=1e-12)


def test_pass_at_k_matches_enumeration_and_oracle_best_of_n():
    for N in range(1, 9):
        c = np.arange(N + 1)
        correct = np.arange(N)[None, :] < c[:, None]       # row r has r correct samples
        for k in range(1, N + 1):
            exact = np.array([1 - comb(N - ci, k) / comb(N, k) for ci in c])
            np.testing.assert_allclose(pass_at_k(c, N, k), exact, atol=1e-12)
            np.testing.assert_allclose(expected_best_of_n(correct.astype(float), correct, k), exact, atol=1e-12)


def test_pass_at_k_per_problem_totals_and_large_n():
    np.testing.assert_allclose(pass_at_k(np.array([1, 1]), np.array([2, 4]), 2), [1.0, 0.5], atol=1e-12)
    got = pass_at_k(np.array([1, 10, 500]), 1024, 64)
    exact = [1 - comb(1024 - ci, 64) / comb(1024, 64) for ci in (1, 10, 500)]
    np.testing.assert_allclose(got, exact, rtol=1e-10)


def test_best_of_n_large_pool_does_not_overflow():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 50, size=(4, 1024)).astype(float)
    correct = rng.random((4, 1024)) < scores / 50
    for n in (1, 512, 1024):
        acc = expected_best_of_n(scores, correct, n)
        assert np.all(np.isfinite(acc)) and np.all((acc >= 0) & (acc <= 1 + 1e-12))
    np.testing.assert_allclose(expected_best_of_n(scores, correct, 1), correct.mean(axis=1), atol=1e-12)


@pytest.mark.parametrize(
    "call",
    [
        lambda n: pass_at_k(np.array([1]), 4, n),
        lambda n: expected_best_of_n(np.zeros((2, 4)), np.ones((2, 4), bool), n),
        lambda n: expected_majority_vote(np.zeros((2, 4), int), np.ones((2, 4), bool), n),
        lambda n: expected_weighted_vote(np.zeros((2, 4), int), np.ones((2, 4), bool), np.ones((2, 4)), n),
    ],
)
@pytest.mark.parametrize("n", [0, 5])
def test_budget_out_of_range_raises(call, n):
    with pytest.raises(ValueError):
        call(n)


def test_bootstrap_ci_contains_mean_and_narrows():
    rng = np.random.default_rng(0)
    widths = []
    for P in (20, 200, 2000):
        x = rng.random(P)
        mean, lo, hi = bootstrap_ci(x)
        assert lo <= mean <= hi and mean == pytest.approx(x.mean())
        widths.append(hi - lo)
    assert widths[0] > widths[1] > widths[2]


def test_bootstrap_ci_edge_cases():
    assert bootstrap_ci(np.array([0.25])) == (0.25, 0.25, 0.25)
    with pytest.raises(ValueError):
        bootstrap_ci(np.array([]))
    with pytest.raises(ValueError):
        bootstrap_ci(np.array([0.5, 0.5]), level=1.0)


@pytest.mark.parametrize(
    ("N", "expected"), [(1, [1]), (2, [1, 2]), (3, [1, 2, 3]), (16, [1, 2, 4, 8, 16]), (20, [1, 2, 4, 8, 16, 20])]
)
def test_sample_counts(N, expected):
    assert sample_counts(N) == expected


def test_sample_counts_rejects_zero():
    with pytest.raises(ValueError):
        sample_counts(0)


@pytest.mark.parametrize("name", estimators.__all__)
def test_docstring_args_match_signature(name):
    fn = getattr(estimators, name)
    doc = inspect.getdoc(fn)
    documented = re.findall(r"^    (\w+):", doc.split("Args:")[1].split("Returns:")[0], re.M) if "Args:" in doc else []
    assert documented == [p for p in inspect.signature(fn).parameters][: len(documented)] or not documented
    assert set(documented) <= set(inspect.signature(fn).parameters)
