"""Estimators for selection strategies: the expected accuracy at n <= N samples from one pool of N samples.

Sample once, select many times: instead of scoring one random size-n subset (or the first n samples), each estimator
returns the expectation over *all* size-n subsets of the N stored samples, drawn without replacement, so every n
is answered from the same pool with far less variance. Ties are always split uniformly at random.

- `pass_at_k`: the unbiased estimator of Chen et al. 2021, "Evaluating Large Language Models Trained on Code"
  (arXiv:2107.03374), 1 - C(n-c, k)/C(n, k), in the paper's numerically stable product form.
- `expected_best_of_n`: exact order statistics of the highest-scoring sample in a random subset.
- `expected_majority_vote`: exact expected plurality-vote accuracy (self-consistency, Wang et al. 2022,
  arXiv:2203.11171), by counting with generating functions over answer classes (one per rival size).
- `expected_weighted_vote`: weighted majority (e.g. reward-weighted, Li et al. 2023 / Snell et al. 2024), Monte Carlo.
- `bootstrap_ci`: percentile bootstrap over problems (Efron & Tibshirani 1993).
- `sample_counts`: the powers of two up to N (and N), the usual x axis of inference-scaling plots (Brown et al. 2024).

Example:
    acc = expected_majority_vote(pool.answer_ids, pool.correct, n=8)     # [P]
    mean, lo, hi = bootstrap_ci(acc)
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

__all__ = [
    "pass_at_k",
    "expected_best_of_n",
    "expected_majority_vote",
    "expected_weighted_vote",
    "bootstrap_ci",
    "sample_counts",
]


def pass_at_k(n_correct: np.ndarray, n_total: int | np.ndarray, k: int) -> np.ndarray:
    """Unbiased pass@k per problem: the chance that at least one of k samples (of n) is correct.

    Args:
        n_correct: [P] int, c, the number of correct samples per problem.
        n_total: n, the number of samples per problem (an int, or [P] ints).
        k: samples drawn, 1 <= k <= n.

    Returns:
        [P] float, 1 - C(n-c, k)/C(n, k), computed as 1 - prod_{i=n-c+1}^{n} (1 - k/i) (Chen et al. 2021, Fig. 3).

    Example:
        pass_at_k(np.array([2]), 5, 2)    # array([0.7])
    """
    c = np.asarray(n_correct)
    n = np.broadcast_to(np.asarray(n_total), c.shape)
    if c.size and (np.any(c < 0) or np.any(c > n)):
        raise ValueError("pass_at_k: n_correct must lie in [0, n_total]")
    if k < 1 or (n.size and np.any(k > n)):
        raise ValueError(f"pass_at_k: k={k} must lie in [1, n_total]")
    if c.size == 0:
        return np.zeros(c.shape)
    # The product's logs as prefix sums: S[m] = sum_{i=k+1}^{m} log(1 - k/i), so the product over (n-c, n] is
    # exp(S[n] - S[n-c]). Valid when n - c >= k; otherwise some k-subset must hold a correct sample.
    i = np.arange(1, int(n.max()) + 1)
    S = np.concatenate([[0.0], np.cumsum(np.where(i > k, np.log1p(-k / np.maximum(i, k + 1)), 0.0))])
    sure = n - c < k
    log_fail = S[n] - S[np.where(sure, n, n - c)]
    return np.where(sure, 1.0, -np.expm1(log_fail))


def expected_best_of_n(scores: np.ndarray, correct: np.ndarray, n: int) -> np.ndarray:
    """Expected correctness of the highest-scoring sample among a uniformly random size-n subset, exactly.

    Args:
        scores: [P, N] float, higher is better; NaN counts as the lowest score (-inf).
        correct: [P, N] bool.
        n: samples selected among, 1 <= n <= N.

    Returns:
        [P] float. A score level s with L samples strictly below it and t tied at it is the subset's maximum with
        probability (C(L+t, n) - C(L, n)) / C(N, n); the pick is then uniform over the tied samples in the subset,
        so each of the t samples carries 1/t of that probability.

    Example:
        expected_best_of_n(np.array([[0.1, 0.9]]), np.array([[True, False]]), n=1)    # array([0.5])
    """
    scores, correct = _as_pool(scores, correct)
    P, N = scores.shape
    _check_n(n, N)
    order = np.argsort(np.nan_to_num(scores, nan=-np.inf), axis=1, kind="stable")
    s = np.take_along_axis(np.nan_to_num(scores, nan=-np.inf), order, axis=1)
    ok = np.take_along_axis(correct, order, axis=1)
    # Each sorted position's tie group [L, G): L = samples strictly below it, G = samples at or below it.
    pos = np.broadcast_to(np.arange(N), (P, N))
    starts = np.ones((P, N), bool)
    starts[:, 1:] = s[:, 1:] != s[:, :-1]
    ends = np.ones((P, N), bool)
    ends[:, :-1] = starts[:, 1:]
    L = np.maximum.accumulate(np.where(starts, pos, 0), axis=1)
    G = np.minimum.accumulate(np.where(ends, pos + 1, N)[:, ::-1], axis=1)[:, ::-1]
    r = _subset_ratio(N, n)
    return np.sum(ok * (r[G] - r[L]) / (G - L), axis=1)


def expected_majority_vote(answer_ids: np.ndarray, correct: np.ndarray, n: int) -> np.ndarray:
    """Expected accuracy of plurality vote over all size-n subsets, exactly.

    The answer class with the most votes wins; samples with answer id -1 do not vote; a tie of k classes is broken
    uniformly (a correct class in it earns 1/k); a subset with no answers is wrong. A class counts as correct when
    more than half its samples are marked correct (normally they all agree, as they share one answer).

    Args:
        answer_ids: [P, N] int, equal ids within a row are the same answer; -1 for no answer.
        correct: [P, N] bool.
        n: samples selected among, 1 <= n <= N.

    Returns:
        [P] float.

    Example:
        expected_majority_vote(np.array([[0, 0, 1]]), np.array([[True, True, False]]), n=2)    # array([0.667])
    """
    answer_ids, correct = _as_pool(answer_ids, correct)
    P, N = answer_ids.shape
    _check_n(n, N)
    cls, counts, ok = _classes(answer_ids, correct)
    if n == N:                                             # the whole pool: one deterministic vote
        return _weighted_winner(cls[None], np.ones((1, P, N)), ok)[0]
    rows, target = np.nonzero(ok & (counts > 0))
    if rows.size == 0:
        return np.zeros(P)
    # One row per (problem, correct class): that class must win, the problem's other classes are its rivals.
    # Only the rivals' sizes matter, so a row keeps how many rivals have each size 1..N.
    R = rows.size
    rivals = counts[rows]
    rivals[np.arange(R), target] = 0
    sizes = np.bincount((np.arange(R)[:, None] * (N + 1) + rivals).ravel(), minlength=R * (N + 1)).reshape(R, N + 1)
    sizes[:, 0] = 0
    c_target = counts[rows, target]
    abstain = (cls[rows] < 0).sum(axis=1)
    # Tilt the counting: weigh each subset of a class by Binomial(c, n/N) probabilities instead of C(c, i) counts.
    # Conditioning on a total of n then recovers uniform size-n subsets, and no number exceeds 1 even at N = 1024.
    W = binom.pmf(np.arange(n + 1)[None, :], np.arange(N + 1)[:, None], n / N)
    # Rows of similar size share a chunk (little padding); a chunk's table stays near 2**21 numbers.
    cost = np.minimum(c_target, n) * (np.minimum(sizes.sum(axis=1), n - 1) // 2 + 1) * (max(n, N - n + 1) // 2 + 1)
    order = np.argsort(cost, kind="stable")
    wins = np.zeros(R)
    start = 0
    for end in range(1, R + 1):
        if end == R or (end + 1 - start) * cost[order[end]] > 1 << 21:
            chunk = order[start:end]
            wins[chunk] = _vote_wins(c_target[chunk], sizes[chunk], abstain[chunk], W, n)
            start = end
    return np.bincount(rows, weights=wins / binom.pmf(n, N, n / N), minlength=P)


def expected_weighted_vote(
    answer_ids: np.ndarray,
    correct: np.ndarray,
    weights: np.ndarray,
    n: int,
    *,
    n_draws: int = 2000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected accuracy of weighted vote at n samples, by Monte Carlo over random size-n subsets.

    The answer class with the largest sum of weights wins (sums within 1e-9 x the subset's total |weight| count as
    tied, so float rounding cannot split an exact tie); ties are broken uniformly; -1 answers do not vote. Classes
    are correct as in `expected_majority_vote`. n == 1 and n == N are exact.

    Args:
        answer_ids: [P, N] int, -1 for no answer.
        correct: [P, N] bool.
        weights: [P, N] float, e.g. reward-model scores; must not be NaN.
        n: samples selected among, 1 <= n <= N.
        n_draws: random subsets per problem.
        seed: seed of the subsets.

    Returns:
        (mean, standard error), each [P] float; the standard error is 0 where the answer is exact.

    Example:
        acc, se = expected_weighted_vote(pool.answer_ids, pool.correct, pool.scores["orm"], n=8)
    """
    answer_ids, correct = _as_pool(answer_ids, correct)
    weights = np.asarray(weights, float)
    if weights.shape != answer_ids.shape:
        raise ValueError(f"weights has shape {weights.shape}, expected {answer_ids.shape}")
    if np.isnan(weights).any():
        raise ValueError("weights contain NaN; fill missing scores before voting")
    P, N = answer_ids.shape
    _check_n(n, N)
    if n_draws < 2:
        raise ValueError(f"n_draws={n_draws} must be at least 2 to estimate a standard error")
    cls, _, ok = _classes(answer_ids, correct)
    if n == 1:                                             # one sample: its own class wins, whatever its weight
        return np.where(cls >= 0, np.take_along_axis(ok, np.maximum(cls, 0), axis=1), 0).mean(axis=1), np.zeros(P)
    if n == N:
        return _weighted_winner(cls[None], weights[None], ok)[0], np.zeros(P)
    rng = np.random.default_rng(seed)
    hits = []
    for d in np.array_split(np.arange(n_draws), max(1, n_draws * P * N // (1 << 22))):
        pick = rng.random((d.size, P, N)).argpartition(n - 1, axis=2)[..., :n]   # uniform size-n subsets
        picked = np.take_along_axis(cls[None], pick, 2), np.take_along_axis(weights[None], pick, 2)
        hits.append(_weighted_winner(*picked, ok))
    hits = np.concatenate(hits)
    return hits.mean(axis=0), hits.std(axis=0, ddof=1) / np.sqrt(n_draws)


def bootstrap_ci(
    per_problem: np.ndarray, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean over problems and its percentile-bootstrap confidence interval, resampling problems with replacement.

    Args:
        per_problem: [P] float, e.g. expected accuracy per problem.
        n_boot: bootstrap resamples.
        level: coverage of the interval, in (0, 1).
        seed: seed of the resamples.

    Returns:
        (mean, lo, hi). With one problem the interval collapses onto the mean.

    Example:
        mean, lo, hi = bootstrap_ci(expected_best_of_n(scores, correct, n=4))
    """
    x = np.asarray(per_problem, float).ravel()
    if x.size == 0:
        raise ValueError("bootstrap_ci needs at least one problem")
    if np.isnan(x).any():
        raise ValueError("bootstrap_ci: per_problem contains NaN")
    if not 0 < level < 1:
        raise ValueError(f"bootstrap_ci: level={level} must lie in (0, 1)")
    if n_boot < 1:
        raise ValueError(f"bootstrap_ci: n_boot={n_boot} must be at least 1")
    # Resample counts rather than indices: one multinomial row per resample, the same law in P numbers per row.
    counts = np.random.default_rng(seed).multinomial(x.size, np.full(x.size, 1 / x.size), size=n_boot)
    means = counts @ x / x.size
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(x.mean()), float(lo), float(hi)


def sample_counts(N: int) -> list[int]:
    """The n to report from a pool of N samples: 1, 2, 4, ... up to N, plus N itself when it is not a power of two.

    Example:
        sample_counts(20)    # [1, 2, 4, 8, 16, 20]
    """
    if N < 1:
        raise ValueError(f"sample_counts: N={N} must be at least 1")
    out = [1 << i for i in range(N.bit_length()) if 1 << i <= N]
    return out if out[-1] == N else out + [N]


def _as_pool(a: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, correct = np.asarray(a), np.asarray(correct, bool)
    if a.ndim != 2 or a.shape != correct.shape:
        raise ValueError(f"expected two [P, N] arrays of one shape, got {a.shape} and {correct.shape}")
    return a, correct


def _check_n(n: int, N: int) -> None:
    if not 1 <= n <= N:
        raise ValueError(f"n={n} samples must lie in [1, N={N}]")


def _subset_ratio(N: int, n: int) -> np.ndarray:
    """r[m] = C(m, n) / C(N, n) for m = 0..N, as a running product of (m - n)/m: in [0, 1], so nothing overflows."""
    m = np.arange(1, N + 1)
    return np.append(np.cumprod((np.maximum(m - n, 0) / m)[::-1])[::-1], 1.0)


def _classes(answer_ids: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense class index per sample ([P, N], -1 for no answer), class sizes [P, K] and class correctness [P, K]."""
    P, N = answer_ids.shape
    order = np.argsort(answer_ids, axis=1, kind="stable")
    a = np.take_along_axis(answer_ids, order, axis=1)
    new = a >= 0
    new[:, 1:] &= a[:, 1:] != a[:, :-1]
    rank = np.where(a >= 0, np.cumsum(new, axis=1) - 1, -1)
    cls = np.empty_like(rank)
    np.put_along_axis(cls, order, rank, axis=1)
    K = max(int(cls.max()) + 1, 1)
    flat = (np.arange(P)[:, None] * K + cls)[cls >= 0]
    counts = np.bincount(flat, minlength=P * K).reshape(P, K)
    n_ok = np.bincount(flat, weights=correct[cls >= 0], minlength=P * K).reshape(P, K)
    return cls, counts, 2 * n_ok > counts


def _vote_wins(c_target: np.ndarray, sizes: np.ndarray, abstain: np.ndarray, W: np.ndarray, n: int) -> np.ndarray:
    """Tilted probability, per row, that the target class wins a size-n subset (a tie of k classes worth 1/k).

    If the target draws j >= 1 votes, every rival must draw fewer than j or exactly j (a tie), and the rivals plus
    the abstainers fill the other n - j places. Per rival of size c that is the polynomial
    sum_{i<j} W[c, i] x^i + u W[c, j] x^j, where u marks a tie: 1/(1 + ties) is the integral of u^ties over [0, 1],
    which Gauss-Legendre nodes in u make exact. The product over rivals is taken pointwise at roots of unity
    (rivals of one size share one factor, so it is a power; all of them together, one matrix product of logs), and
    the coefficient of x^(n-j) comes back by an inverse DFT.
    """
    R, N = c_target.size, sizes.shape[1] - 1
    J = min(int(c_target.max()), n)
    j = np.arange(1, J + 1)
    x, gw = np.polynomial.legendre.leggauss(int(min(sizes.sum(axis=1).max(), n - 1)) // 2 + 1)
    u = (x + 1) / 2
    # Points: a coefficient s' aliases onto s' mod S. We read s = n - j >= n - c_target and the degree is at most
    # N - c_target, so S > max(n - 1, N - n) keeps every read coefficient clean; odd S halves the points needed.
    S = max(n, N - n + 1) | 1
    k = np.arange(S // 2 + 1)
    root = lambda power: np.exp(2j * np.pi * (np.outer(power, k) % S) / S)   # z_k ** power, phase kept exact
    used = np.flatnonzero(sizes.any(axis=0))
    T = W[used, : J + 1, None] * root(np.arange(J + 1))   # [sizes, i, point]: one rival drawing i
    F = np.cumsum(T, axis=1)[:, :J, None, :] + u[:, None] * T[:, 1:, None, :]    # [sizes, j, node, point]
    log_f = np.log(np.where(F == 0, 1e-300, F)).reshape(used.size, J * u.size * k.size)
    p = n / N
    log_prod = (sizes[:, used] @ log_f).reshape(R, J, u.size, k.size)
    log_prod += abstain[:, None, None, None] * np.log(1 - p + p * root(np.ones(1, int)))[0]
    at_points = np.einsum("rjqk,q->rjk", np.exp(log_prod), gw / 2)
    fill = np.real(np.einsum("rjk,jk->rj", at_points, np.where(k == 0, 1, 2) * root(-(n - j)))) / S
    return np.einsum("rj,rj->r", W[c_target[:, None], j], fill)


def _weighted_winner(cls: np.ndarray, w: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """[D, P, m] class ids and weights of D subsets -> [D, P] correctness of the weighted winner, ties split."""
    D, P, _ = cls.shape
    K = ok.shape[1]
    bins = (np.arange(D * P).reshape(D, P, 1) * (K + 1) + np.where(cls >= 0, cls, K)).ravel()   # bin K: no answer
    sums = np.bincount(bins, w.ravel(), minlength=D * P * (K + 1)).reshape(D, P, K + 1)[..., :K]
    voted = np.bincount(bins, minlength=D * P * (K + 1)).reshape(D, P, K + 1)[..., :K] > 0
    sums = np.where(voted, sums, -np.inf)                  # a class with no votes cannot win, even over negative sums
    tol = 1e-9 * np.abs(w).sum(axis=2, keepdims=True)
    tied = voted & (sums >= sums.max(axis=2, keepdims=True) - tol)
    return (tied & ok).sum(axis=2) / np.maximum(tied.sum(axis=2), 1)
