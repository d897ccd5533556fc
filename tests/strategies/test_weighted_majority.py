"""Weighted majority vote: equivalent answers pool their weights, Monte Carlo agrees with brute-force enumeration
over all subsets, and scores map to vote weights as documented."""

from itertools import combinations

import numpy as np
import pytest

from benchmarks.grading import group_answers
from strategies.weighted_majority import WeightedMajority, vote_weights
from testtime.errors import UserError
from testtime.pipeline.evaluate import evaluate, make_strategy
from testtime.store.pool import Pool


def pool_of(answer_ids, correct, scores: dict):
    answer_ids, correct = np.asarray(answer_ids), np.asarray(correct, bool)
    P, N = correct.shape
    return Pool(problem_ids=tuple(f"p{i}" for i in range(P)), answer_ids=answer_ids, correct=correct,
                output_tokens=np.full((P, N), 10), prompt_tokens=np.full(P, 5), decode_flops=np.full((P, N), 1e3),
                prefill_flops=np.full(P, 1e4), scores={k: np.asarray(v, float) for k, v in scores.items()})


def brute(answer_ids, correct, weights, n):
    """Mean over all size-n subsets of the weighted winner's correctness (ties split, -1 abstains)."""
    out = []
    for a, ok, w in zip(answer_ids, correct, weights):
        vals = []
        for idx in combinations(range(len(a)), n):
            sums = {}
            for i in idx:
                if a[i] >= 0:
                    sums[a[i]] = sums.get(a[i], 0.0) + w[i]
            if not sums:
                vals.append(0.0)
                continue
            best = [c for c, s in sums.items() if s == max(sums.values())]
            vals.append(np.mean([ok[list(a).index(c)] for c in best]))
        out.append(np.mean(vals))
    return np.array(out)


def test_equivalent_answers_pool_their_weights():
    # "1/2" and "0.5" are one answer (math-verify): 0.4 + 0.4 beats "3" at 0.6; apart, "3" would win.
    ids = group_answers(["1/2", "0.5", "3"])
    assert ids == [0, 0, 1]
    merged = pool_of([ids], [[True, True, False]], {"prm": [[0.4, 0.4, 0.6]]})
    apart = pool_of([[0, 1, 2]], [[True, True, False]], {"prm": [[0.4, 0.4, 0.6]]})
    wm = WeightedMajority(scorer="prm")
    assert wm.evaluate(merged, 3).accuracy[0] == 1.0
    assert wm.evaluate(apart, 3).accuracy[0] == 0.0
    est = wm.evaluate(merged, 2)   # pairs: {1/2, 0.5} wins; {1/2, 3} and {0.5, 3} lose -> 1/3
    assert abs(est.accuracy[0] - 1 / 3) <= 4 * est.stderr[0]


def test_monte_carlo_matches_enumeration():
    rng = np.random.default_rng(1)
    P, N = 4, 7
    ids = rng.integers(-1, 3, (P, N))
    correct = ids == 0
    weights = rng.random((P, N))
    pool = pool_of(ids, correct, {"self_verify": weights})
    wm = make_strategy("weighted_majority:self_verify")
    for n in range(1, N + 1):
        est = wm.evaluate(pool, n)
        exact = brute(ids, correct, weights, n)
        if n in (1, N):   # exact answers, no Monte-Carlo error
            np.testing.assert_allclose(est.accuracy, exact, atol=1e-12)
            assert (est.stderr == 0).all()
        else:
            assert (np.abs(est.accuracy - exact) <= 4 * est.stderr + 1e-12).all(), (n, est.accuracy, exact)


def test_logprob_weights_are_exp_and_nan_weighs_nothing():
    w = vote_weights(np.log([[0.5, 0.25, np.nan], [np.nan, np.nan, np.nan]]), "logprob")
    np.testing.assert_allclose(w, [[1.0, 0.5, 0.0], [0, 0, 0]])   # shifted by the row's best: same vote
    np.testing.assert_allclose(vote_weights(np.array([[0.2, np.nan]]), "prm"), [[0.2, 0.0]])
    np.testing.assert_allclose(vote_weights(np.array([[3.0, 1.0]]), "self_certainty"), [[3.0, 1.0]])
    np.testing.assert_allclose(vote_weights(np.array([[2.0, -1.0]]), "orm"), [[1.0, np.exp(-3.0)]])   # logits
    np.testing.assert_allclose(vote_weights(np.array([[0.9, 0.1]]), "orm"), [[0.9, 0.1]])            # P(label 1)
    with pytest.raises(UserError, match="negative"):
        vote_weights(np.array([[0.5, -0.1]]), "prm", "score")


def test_weighted_majority_by_logprob_matches_exp_weights():
    ids = [[0, 1, 1, 2]]
    lp = np.log([[0.9, 0.3, 0.3, 0.5]])   # class 1 sums 0.6 < 0.9: the single confident sample wins at n = N
    pool = pool_of(ids, [[True, False, False, False]], {"logprob": lp})
    assert make_strategy("weighted_majority").evaluate(pool, 4).accuracy[0] == 1.0
    assert make_strategy("majority_vote").evaluate(pool, 4).accuracy[0] == 0.0


def test_reports_stderr_and_cost():
    pool = pool_of([[0, 1, 0, 1]], [[True, False, True, False]], {"logprob": np.zeros((1, 4))})
    rows = evaluate(pool, [make_strategy("weighted_majority")], ns=[2, 4], n_boot=10)
    assert rows[0].scorer == "logprob" and rows[0].mc_stderr > 0 and rows[1].mc_stderr == 0
    assert rows[0].tokens_per_problem == 20 and rows[0].flops_per_problem == 1e4 + 2 * 1e3


def test_bad_configuration_is_a_user_error():
    with pytest.raises(UserError, match="weight"):
        WeightedMajority(weight="softmax")
    with pytest.raises(UserError, match="no 'orm' scores"):
        WeightedMajority(scorer="orm").evaluate(pool_of([[0]], [[True]], {}), 1)
