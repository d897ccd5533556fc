"""Adaptive stopping strategies against brute force: every ordering of a tiny planted pool is played out by hand
(plain Python, no shared code with testtime/store/stopping/), and each strategy's expected accuracy, expected
samples, tokens and per-sample usage must match: to rounding where the strategy is exact, within 4 standard errors
where it is Monte Carlo."""

import math
from itertools import permutations

import numpy as np
import pytest
from scipy import integrate

from testtime.pipeline.evaluate import evaluate, make_strategy
from testtime.store.pool import Pool
from testtime.store.stopping import beta_stop_probability, dirichlet_top_probability

# Two problems of N = 6: answer ids (-1: none), gold correctness, lengths (with ties), a confidence per sample.
ANSWERS = np.array([[0, 1, 0, -1, 2, 0], [3, 3, 4, 4, -1, 5]])
CORRECT = np.array([[1, 0, 1, 0, 0, 1], [0, 0, 1, 1, 0, 0]], bool)
LENGTHS = np.array([[30, 10, 20, 10, 40, 50], [15, 25, 15, 35, 5, 45]])
CONF = np.array([[0.9, 0.2, 0.5, 0.1, 0.3, 0.7], [0.4, 0.6, 0.8, 0.2, 0.1, 0.3]])


def pool():
    return Pool(problem_ids=("a", "b"), answer_ids=ANSWERS, correct=CORRECT, output_tokens=LENGTHS,
                prompt_tokens=np.array([5, 5]), decode_flops=LENGTHS * 100.0, prefill_flops=np.array([1e3, 1e3]),
                scores={"conf": CONF})


def vote(classes, ok, weights=None, tie="split"):
    """Plurality (weighted) of `classes` in reading order; ties split, or to the class read first."""
    total = {}
    for i, c in enumerate(classes):
        if c >= 0:
            total[c] = total.get(c, 0) + (1 if weights is None else weights[i])
    if not total:
        return 0.0
    best = max(total.values())
    tied = [c for c in total if abs(total[c] - best) <= 1e-12]
    if tie == "first":
        return float(ok[min(tied, key=lambda c: list(classes).index(c))])
    return float(np.mean([ok[c] for c in tied]))


def play(p, n, kind, **kw):
    """Every ordering of problem p, capped at n: (accuracy, samples, tokens, usage[N])."""
    ans, L, conf = ANSWERS[p], LENGTHS[p], CONF[p]
    ok = {int(a): bool(c) for a, c in zip(ans, CORRECT[p]) if a >= 0}
    N = len(ans)
    acc, samples, tokens, usage = [], [], [], np.zeros(N)
    perms = list(permutations(range(N)))
    for perm in perms:
        read = list(perm[:n])
        parallel = kind in ("beta_sc", "short")
        if parallel:
            read.sort(key=lambda i: L[i])            # launched together, finishing shortest first
        result, stop = None, n
        for t in range(1, n + 1):
            got = [int(ans[i]) for i in read[:t]]
            counts = sorted((got.count(c) for c in set(got) if c >= 0), reverse=True) + [0, 0]
            if kind == "ac" and t < n and sum(counts) and beta_stop_probability(counts[0], counts[1]) >= kw["tau"]:
                stop = t
                break
            if kind == "super" and t < n and t >= 2 and t & (t - 1) == 0 and counts[0] >= kw["tau"] * t:
                stop = t
                break
            if kind == "esc" and t % kw["w"] == 0:
                window = [g if g >= 0 else "none" for g in got[t - kw["w"]:t]]
                if len(set(window)) == 1:
                    result, stop = (0.0 if window[0] == "none" else float(ok[window[0]])), t
                    break
            if kind == "beta_sc" and t < n and sum(1 for g in got if g >= 0) >= 2 and beta_stop_probability(counts[0], counts[1]) >= kw["tau"]:
                stop = t
                break
            if kind == "short" and t == min(kw["m"], n):
                result, stop = vote(got, ok, tie="first"), t
                break
            if kind == "deepconf" and t >= min(kw["warmup"], n) and t < n:
                warm = [conf[i] for i in read[:min(kw["warmup"], n)]]
                bar = np.percentile(warm, 100 * (1 - kw["eta"]))
                w = [conf[i] if conf[i] >= bar and ans[i] >= 0 else 0.0 for i in read[:t]]
                totals = {}
                for g, x in zip(got, w):
                    if x > 0:
                        totals[g] = totals.get(g, 0) + x
                if totals and max(totals.values()) / sum(totals.values()) >= kw["consensus"]:
                    stop = t
                    break
        got = [int(ans[i]) for i in read[:stop]]
        if result is None:
            if kind == "deepconf":
                warm = [conf[i] for i in read[:min(kw["warmup"], n)]]
                bar = np.percentile(warm, 100 * (1 - kw["eta"]))
                w = [conf[i] if conf[i] >= bar and ans[i] >= 0 else 0.0 for i in read[:stop]]
                result = vote([g if x > 0 else -1 for g, x in zip(got, w)], ok, weights=w)
            else:
                result = vote(got, ok)
        acc.append(result)
        samples.append(n if parallel else stop)
        if parallel:
            cut = L[read[stop - 1]]
            spent = {i: min(L[i], cut) for i in read}
        else:
            spent = {i: L[i] for i in read[:stop]}
        tokens.append(sum(spent.values()))
        for i, x in spent.items():
            usage[i] += x / L[i]
    return np.mean(acc), np.mean(samples), np.mean(tokens), usage / len(perms)


CASES = [  # (strategy spec, its settings, brute-force kind and settings, exact)
    ("adaptive_consistency", {"threshold": 0.8}, "ac", {"tau": 0.8}, True),
    ("esc", {"window": 2}, "esc", {"w": 2}, True),
    ("esc", {"window": 3}, "esc", {"w": 3}, True),
    ("supermajority", {"threshold": 0.75}, "super", {"tau": 0.75}, True),
    ("beta_sc", {"threshold": 0.8}, "beta_sc", {"tau": 0.8}, False),
    ("short_m_at_k", {"m": 1}, "short", {"m": 1}, True),
    ("short_m_at_k", {"m": 2}, "short", {"m": 2}, False),
    ("deepconf_consensus", {"confidence": "conf", "warmup": 2, "eta": 0.5, "consensus": 0.7}, "deepconf",
     {"warmup": 2, "eta": 0.5, "consensus": 0.7}, False),
]


@pytest.mark.parametrize("spec,settings,kind,kw,exact", CASES, ids=[f"{c[0]}-{c[2]}{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 6])
def test_strategy_matches_every_ordering(spec, settings, kind, kw, exact, n):
    strategy = make_strategy(spec, options={spec: {**settings, "n_draws": 4000}})
    est = strategy.evaluate(pool(), n)
    for p in range(2):
        acc, samples, tokens, usage = play(p, n, kind, **kw)
        se = 0.0 if est.stderr is None else est.stderr[p]
        assert (se == 0) == exact or n == 1 or not exact
        tol_acc = 1e-9 if exact else 4 * se + 1e-3
        assert est.accuracy[p] == pytest.approx(acc, abs=tol_acc), (spec, n, p)
        tol = 1e-9 if exact else 0.05
        assert est.samples[p] == pytest.approx(samples, rel=tol, abs=tol)
        assert est.tokens[p] == pytest.approx(tokens, rel=tol)
        np.testing.assert_allclose(est.usage[p], usage, atol=1e-9 if exact else 0.05)
        # FLOPs: one shared prefill plus each sample's decode FLOPs times its usage
        assert est.flops[p] == pytest.approx(1e3 + (est.usage[p] * LENGTHS[p] * 100).sum(), rel=1e-12)


def test_beta_criterion_is_the_reference_quadrature():
    # Aggarwal et al.'s BetaStoppingCriteria: int_0.5^1 x^a (1-x)^b / int_0^1 x^a (1-x)^b
    for a, b in [(1, 0), (4, 0), (5, 2), (9, 6)]:
        ref = integrate.quad(lambda x: x**a * (1 - x)**b, 0.5, 1)[0] / integrate.quad(lambda x: x**a * (1 - x)**b,
                                                                                      0, 1)[0]
        assert beta_stop_probability(a, b) == pytest.approx(ref, rel=1e-9)
    assert beta_stop_probability(4, 0) == pytest.approx(1 - 0.5**5)   # four in a row: 0.969 >= 0.95, the paper's stop


def test_dirichlet_criterion_against_monte_carlo():
    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.array([5, 3, 2, 1]) + 1.0, size=400_000)
    assert dirichlet_top_probability((5, 3, 2, 1)) == pytest.approx((x.argmax(axis=1) == 0).mean(), abs=0.003)


def test_expected_samples_reach_the_results_table():
    rows = evaluate(pool(), [make_strategy("adaptive_consistency", options={"adaptive_consistency":
                                                                             {"threshold": 0.8}})], ns=[4, 6])
    assert all(r.samples is not None and r.samples <= r.n for r in rows)
    assert rows[0].samples == pytest.approx(np.mean([play(p, 4, "ac", tau=0.8)[1] for p in range(2)]))


def test_settings_are_checked_in_one_line():
    from testtime.errors import UserError

    for spec, bad in [("adaptive_consistency", {"criterion": "gamma"}), ("esc", {"window": 0}),
                      ("supermajority", {"threshold": 0.4}), ("short_m_at_k", {"m": 0}), ("beta_sc", {"threshold": 2})]:
        with pytest.raises(UserError, match=spec):
            make_strategy(spec, options={spec: bad})
