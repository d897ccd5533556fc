"""The stopping estimators (testtime/store/stopping/) on their own: the exact chain against Monte Carlo on a pool
too large to enumerate by hand, the state bound that hands a problem to Monte Carlo, and the vote counters."""

import numpy as np
import pytest

from testtime.store.stopping import (BetaRule, SupermajorityRule, WindowRule, class_cumsum, exact_stopping,
                                     occurrences, simulate, state_bound, stopping, structure)
from testtime.store.estimators import _classes, expected_majority_vote


def pool(P=6, N=12, seed=0):
    rng = np.random.default_rng(seed)
    answers = rng.choice([-1, 0, 0, 0, 1, 1, 2, 3], size=(P, N))
    return answers, answers == 0


@pytest.mark.parametrize("rule", [BetaRule(0.9), SupermajorityRule(0.75), WindowRule(3)], ids=str)
@pytest.mark.parametrize("n", [3, 7, 12])
def test_exact_chain_agrees_with_monte_carlo(rule, n):
    answers, correct = pool()
    acc, samples, usage, stop, exact = exact_stopping(answers, correct, n, rule, max_states=10**6)
    assert exact.all()
    np.testing.assert_allclose(stop.sum(axis=1), 1)                      # the draw ends somewhere by the cap
    np.testing.assert_allclose(samples, (stop * np.arange(1, n + 1)).sum(axis=1))
    np.testing.assert_allclose(usage.sum(axis=1), samples)
    mc, se, mc_samples, mc_usage = simulate(answers, correct, n, rule, n_draws=20000, seed=3)
    assert np.all(np.abs(mc - acc) <= 4 * se + 1e-3)
    np.testing.assert_allclose(mc_samples, samples, atol=0.15)


def test_a_rule_that_never_fires_is_majority_vote():
    answers, correct = pool()
    never = BetaRule(1.0)                                                  # P(stays ahead) < 1 always
    for n in (1, 5, 12):
        acc, _, samples, usage, exact = stopping(answers, correct, n, never, max_states=10**6)
        np.testing.assert_allclose(acc, expected_majority_vote(answers, correct, n), atol=1e-12)
        np.testing.assert_allclose(samples, n) and np.testing.assert_allclose(usage, n / 12)


def test_a_large_chain_is_left_to_monte_carlo():
    # 12 answers given 3 times and 10 given twice: 455 x 66 x ... histograms, too many states to walk
    answers = np.array([[c for c in range(1, 13) for _ in range(3)] + [c for c in range(13, 23) for _ in range(2)]
                        + [0] * 4 + [-1] * 2])
    correct = answers == 0
    cls, counts, ok = _classes(answers, correct)
    types, abstain, _ = structure(cls[0], ok[0], counts[0])
    assert state_bound(types, abstain) > 20_000
    acc, se, samples, usage, exact = stopping(answers, correct, 40, BetaRule(0.95), n_draws=500)
    assert answers.shape[1] == 62
    assert not exact[0] and se is not None and se[0] > 0 and 0 <= acc[0] <= 1


def test_vote_counters_by_hand():
    seq = np.array([[2, -1, 2, 0, 2, 0]])
    occ, first = occurrences(seq)
    assert occ.tolist() == [[1, 0, 2, 1, 3, 2]] and first[0, [0, 2, 3, 5]].tolist() == [1, 1, 4, 4]
    assert class_cumsum(seq, np.array([[1.0, 9, 2, 3, 4, 5]])).tolist() == [[1, 0, 3, 3, 7, 8]]
