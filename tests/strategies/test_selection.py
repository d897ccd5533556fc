"""Selection strategies on hand-built pools: known answers, the pass@k identity, compute accounting per budget."""

import dataclasses
import json
from itertools import combinations

import numpy as np
import pytest

from testtime.errors import UserError
from testtime.pipeline.evaluate import evaluate, make_strategy
from testtime.store.pool import Pool


def pool_of(correct, answer_ids=None, scores=None, tokens=None, prefill=None, decode=None):
    correct = np.asarray(correct, bool)
    P, N = correct.shape
    tokens = np.full((P, N), 10) if tokens is None else np.asarray(tokens)
    return Pool(problem_ids=tuple(f"p{i}" for i in range(P)),
                answer_ids=np.asarray(answer_ids if answer_ids is not None else np.where(correct, 0, 1)),
                correct=correct, output_tokens=tokens, prompt_tokens=np.full(P, 5),
                decode_flops=np.asarray(decode if decode is not None else tokens * 100.0, float),
                prefill_flops=np.asarray(prefill if prefill is not None else np.full(P, 1000.0)),
                scores={"logprob": np.asarray(scores if scores is not None else np.zeros((P, N)), float)})


def brute(pool, n, pick):
    """Mean over all size-n subsets of pick(indices) -> correctness, per problem."""
    out = []
    for p in range(pool.n_problems):
        vals = [pick(p, list(s)) for s in combinations(range(pool.n_samples), n)]
        out.append(np.mean(vals))
    return np.array(out)


def test_best_of_n_by_logprob_matches_enumeration():
    rng = np.random.default_rng(0)
    correct = rng.random((5, 7)) < 0.4
    scores = rng.integers(0, 3, (5, 7)).astype(float)  # many ties
    pool = pool_of(correct, scores=scores)
    strategy = make_strategy("best_of_n", "logprob")

    def pick(p, idx):
        s = scores[p, idx]
        best = [i for i, v in zip(idx, s) if v == s.max()]
        return np.mean(correct[p, best])  # ties split uniformly

    for n in range(1, 8):
        np.testing.assert_allclose(strategy.evaluate(pool, n).accuracy, brute(pool, n, pick), atol=1e-12)


def test_best_of_n_by_oracle_is_pass_at_k():
    correct = np.array([[1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]], bool)
    pool = pool_of(correct)
    oracle = make_strategy("best_of_n:oracle")
    # problem 0: 1 - C(3,k)/C(4,k): k=1 -> 1/4, k=2 -> 1/2, k=4 -> 1
    np.testing.assert_allclose(oracle.evaluate(pool, 1).accuracy, [0.25, 0, 1])
    np.testing.assert_allclose(oracle.evaluate(pool, 2).accuracy, [0.5, 0, 1])
    np.testing.assert_allclose(make_strategy("pass_at_k").evaluate(pool, 4).accuracy, [1, 0, 1])


def test_majority_vote_hand_case():
    # answers: A A B C with A correct. n=4: A wins (2 votes). n=2: pairs {AA}:A, {AB},{AB},{AC},{AC}: tie 1/2, {BC}: 0
    pool = pool_of([[1, 1, 0, 0]], answer_ids=[[0, 0, 1, 2]])
    mv = make_strategy("majority_vote")
    assert mv.evaluate(pool, 4).accuracy[0] == pytest.approx(1.0)
    assert mv.evaluate(pool, 2).accuracy[0] == pytest.approx((1 + 4 * 0.5 + 0) / 6)
    assert mv.evaluate(pool, 1).accuracy[0] == pytest.approx(0.5)


def test_compute_per_budget():
    tokens = np.array([[10, 20, 30, 40]])
    pool = pool_of([[1, 0, 0, 0]], tokens=tokens, prefill=[500.0], decode=tokens * 7.0)
    rows = evaluate(pool, [make_strategy("majority_vote")], n_boot=10)
    assert [r.n for r in rows] == [1, 2, 4]
    for r in rows:
        n = r.n
        assert r.tokens_per_problem == pytest.approx(25 * n)  # n x mean sample length
        assert r.flops_per_problem == pytest.approx(500 + n * 25 * 7)  # one shared prefill + n decodes
        assert r.flops_per_problem_naive == pytest.approx(n * (500 + 25 * 7))
    json.dumps([dataclasses.asdict(r) for r in rows])  # results are plain JSON


def test_bootstrap_ci_brackets_mean():
    rng = np.random.default_rng(1)
    pool = pool_of(rng.random((30, 8)) < 0.3)
    for r in evaluate(pool, [make_strategy("pass_at_k")], n_boot=500):
        assert r.ci_low <= r.accuracy <= r.ci_high
        assert r.problems == 30


def test_strategy_specs():
    assert make_strategy("best_of_n", "logprob").scorer == "logprob"
    assert make_strategy("best_of_n:oracle").scorer == "oracle" and make_strategy("best_of_n:oracle").reads_gold
    assert make_strategy("pass_at_k").reads_gold and not make_strategy("best_of_n").reads_gold
    assert make_strategy("majority_vote").scorer is None
    with pytest.raises(UserError, match="takes no scorer"):
        make_strategy("majority_vote:logprob")
    with pytest.raises(UserError, match="unknown strategy"):
        make_strategy("nope")


def test_budgets_beyond_pool_rejected():
    with pytest.raises(UserError, match="n must lie in 1..4"):
        evaluate(pool_of(np.zeros((1, 4), bool)), [make_strategy("pass_at_k")], ns=[8])


def test_unknown_settings_are_refused_with_the_valid_ones(tmp_path):
    """Strategy and scorer settings are checked against their dataclass fields before anything is written, also for
    strategies or scorers not run this time."""
    from testtime.config import RunConfig
    from testtime.pipeline.runner import Plan

    with pytest.raises(UserError, match="no setting 'n_drawz'; settings: n_draws, scorer, seed, weight"):
        Plan.of(RunConfig(strategy_options={"weighted_majority": {"n_drawz": 10}}))
    with pytest.raises(UserError, match="no setting 'vocab'; settings: vocab_size"):
        Plan.of(RunConfig(scorer_options={"self_certainty": {"vocab": 10}}))
    plan = Plan.of(RunConfig(strategies=("best_of_n:oracle", "majority_vote", "weighted_majority:self_certainty")))
    assert set(plan.scorers) == {"logprob", "self_certainty"}   # the oracle is in every pool: nothing to store
