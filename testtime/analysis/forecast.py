"""Forecast pass@k far beyond the samples drawn, from the distribution of per-problem success probabilities.

Schaeffer et al. 2025 ("How Do Large Language Monkeys Get Their Power (Laws)?", arXiv:2502.17578): each problem's
failure rate falls exponentially in k, (1 - p_i)^k, and the benchmark's -log pass@k follows a power law in k only
because the p_i have a heavy left tail. With p ~ Beta(alpha, beta),

    pass@k = 1 - B(alpha, beta + k) / B(alpha, beta),   1 - pass@k ~ Gamma(alpha + beta) / Gamma(beta) * k^(-alpha),

so the power-law exponent is alpha. We fit (alpha, beta) by maximum likelihood of the beta-binomial on each
problem's count of correct samples c_i of n (unsolved problems, c_i = 0, are informative, not an edge case), with a
bootstrap over problems for the CIs. Beside it, Brown et al. 2024's coverage curve, pass@k = exp(a * k^b), fitted to
the unbiased pass@k of k = 1..n (`testtime.analysis.curves.ExpPower`), also refitted per bootstrap resample.

Validation (`forecast`): fit on the first n' << N samples of each problem only, predict pass@k up to N and beyond,
and set it beside pass@k measured from all N samples.

The search keeps log alpha and log beta in [-9, 7]. When the counts show no spread of difficulty (every problem
alike), the likelihood keeps rising as alpha and beta grow with their ratio fixed by the mean, and the fit stops at
beta = e^7 with alpha = e^7 * mean / (1 - mean): a number the search's edge made, not the data (22.5 on a 2% pool).
Such a fit sets `at_bound_`, `forecast`'s facts say `alpha_at_bound`, and the report shows "not identified" instead
of a value and an interval; a bootstrap refit that stops at an edge counts as alpha = infinity (beta or alpha at the
upper edge: the one-rate limit) or 0 (alpha at the lower edge), so an interval reaching such refits is open on that
side. pass@k itself is well defined in that limit (1 - (1 - mean)^k), and the bounded fit gives it.

Example:
    fit = BetaBinomial().fit(pool.correct[:, :8].sum(axis=1), 8)
    fit.params_["alpha"], fit.pass_at_k([64, 1024])
    forecast(pool, first=8)          # predicted vs measured pass@k for k = 1, 2, 4, ..., N and beyond
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln

from testtime.analysis.curves import ExpPower
from testtime.errors import UserError
from testtime.store.estimators import pass_at_k as unbiased_pass_at_k

_LOG_BOUNDS = (-9.0, 7.0)
_AT_BOUND = 1e-3
"""A log-parameter within this of an edge of _LOG_BOUNDS is at the bound."""
SPREAD_LR_CRITICAL = 2.71
"""5% point of the boundary likelihood-ratio test of `heterogeneity` (a 50:50 mixture of chi2(0) and chi2(1))."""


@dataclass
class BetaBinomial:
    """Per-problem success probability p ~ Beta(alpha, beta), fitted to counts of correct samples."""

    n_boot: int = 200
    """Bootstrap refits over problems behind `ci_` and `band`; 0 skips them."""
    seed: int = 0
    """Seed of the bootstrap."""

    def fit(self, correct, n):
        """Maximum-likelihood fit to correct-sample counts.

        Args:
            correct: [P] correct samples per problem.
            n: samples per problem (an int, or [P]).

        Returns:
            self, with `params_` {alpha, beta}, `at_bound_` (the names of those stopped at an edge of the search:
            then alpha is not identified, module docstring), `ci_` (95% bootstrap over problems; a refit at an edge
            counts as alpha = inf or 0), `boot_params_` [kept refits, 2] (as fitted, for the pass@k band) and
            `boot_skipped_` (resamples with nothing to fit, all wrong or all right, left out).

        Raises:
            UserError: no problems, counts outside [0, n], or every problem all wrong / all right (nothing to fit).
        """
        c = np.asarray(correct, float)
        n = np.broadcast_to(np.asarray(n, float), c.shape)
        if c.ndim != 1 or not len(c):
            raise UserError("the beta-binomial fit needs one count of correct samples per problem")
        if np.any(c < 0) or np.any(c > n):
            raise UserError("correct counts must lie in [0, n]")
        if np.all(c == 0):
            raise UserError(f"no problem has a correct sample among its first {int(n.max())}: nothing to fit")
        if np.all(c == n):
            raise UserError("every sample is correct: nothing to fit")
        theta = _mle(c, n)
        self.params_ = {"alpha": float(np.exp(theta[0])), "beta": float(np.exp(theta[1]))}
        self.at_bound_ = tuple(name for name, t in zip(("alpha", "beta"), theta) if _edge(t))
        rng = np.random.default_rng(self.seed)
        boot, alphas, self.boot_skipped_ = [], [], 0
        for _ in range(self.n_boot):
            i = rng.integers(0, len(c), len(c))
            if np.all(c[i] == 0) or np.all(c[i] == n[i]):
                # Nothing to fit. Leaving these resamples out drops the most extreme ones (all wrong: pass@k = 0),
                # so the interval is if anything too narrow on that side; boot_skipped_ counts them.
                self.boot_skipped_ += 1
                continue
            t = _mle(c[i], n[i], theta)
            boot.append(np.exp(t))
            alphas.append(_alpha_limit(t))
        self.boot_params_ = np.array(boot).reshape(-1, 2)
        self.ci_ = {}
        if boot:
            # Refits at the edge count as alpha = inf: an interval end that reaches one is open (inf).
            q = np.quantile(np.minimum(alphas, 1e300), [0.025, 0.975])
            self.ci_["alpha"] = tuple(float(v) if v < 1e299 else float("inf") for v in q)
            self.ci_["beta"] = tuple(float(q) for q in np.quantile(self.boot_params_[:, 1], [0.025, 0.975]))
        return self

    def pass_at_k(self, k) -> np.ndarray:
        """Predicted benchmark pass@k: 1 - B(alpha, beta + k) / B(alpha, beta)."""
        self._check_fitted()
        return _pass(np.asarray(k, float), self.params_["alpha"], self.params_["beta"])

    def band(self, k, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) of pass@k over the bootstrap fits."""
        self._check_fitted()
        if not len(self.boot_params_):
            raise UserError("fitted with n_boot=0; refit with n_boot > 0 for a band")
        k = np.asarray(k, float)
        preds = np.stack([_pass(k, a, b) for a, b in self.boot_params_])
        tail = (1 - level) / 2
        return np.quantile(preds, tail, axis=0), np.quantile(preds, 1 - tail, axis=0)

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise UserError("BetaBinomial is not fitted yet; call fit(correct, n) first")


def _edge(t) -> bool:
    return bool(t <= _LOG_BOUNDS[0] + _AT_BOUND or t >= _LOG_BOUNDS[1] - _AT_BOUND)


def _alpha_limit(theta) -> float:
    """alpha of a fit, or the limit the search's edge stood in for: inf where log alpha or log beta sits at the upper
    edge (problems alike), 0 where log alpha sits at the lower one."""
    if theta[0] >= _LOG_BOUNDS[1] - _AT_BOUND or theta[1] >= _LOG_BOUNDS[1] - _AT_BOUND:
        return float("inf")
    if theta[0] <= _LOG_BOUNDS[0] + _AT_BOUND:
        return 0.0
    return float(np.exp(theta[0]))


def _pass(k, a, b):
    return 1.0 - np.exp(betaln(a, b + k) - betaln(a, b))


def _nll(theta, c, n):
    a, b = np.exp(theta)
    # log C(n, c) is constant in (a, b) and left out.
    return -np.sum(betaln(c + a, n - c + b) - betaln(a, b))


def _mle(c, n, start=None):
    starts = [start] if start is not None else [np.log([a, b]) for a in (0.1, 0.5, 2.0) for b in (0.5, 2.0, 10.0)]
    best = None
    for s in starts:
        res = minimize(_nll, s, args=(c, n), method="L-BFGS-B", bounds=[_LOG_BOUNDS, _LOG_BOUNDS])
        if best is None or res.fun < best.fun:
            best = res
    return best.x


def brown_fit(correct: np.ndarray, *, n_boot: int = 200, seed: int = 0):
    """Brown et al. 2024's pass@k = exp(a * k^b) fitted to the unbiased pass@k at k = 1..n of a [P, n] correctness
    grid; returns (fitted ExpPower, [n_boot, 2] (a, b) refits over problems)."""
    P, n = correct.shape
    c = correct.sum(axis=1)
    ks = np.arange(1, n + 1)

    def curve(cc):
        return np.array([unbiased_pass_at_k(cc, n, int(k)).mean() for k in ks])

    y = curve(c)
    est = ExpPower(n_boot=0).fit(ks, np.clip(y, 1e-6, 1.0))
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        yy = curve(c[rng.integers(0, P, P)])
        if np.all(yy == yy[0]):
            continue
        try:
            boot.append(list(ExpPower(n_boot=0, n_starts=3).fit(ks, np.clip(yy, 1e-6, 1.0)).params_.values()))
        except UserError:
            continue
    return est, np.array(boot).reshape(-1, 2)


def forecast(correct: np.ndarray, *, first: int, ks=None, n_boot: int = 200, seed: int = 0,
             level: float = 0.95) -> tuple[pd.DataFrame, dict]:
    """Predict pass@k from the first `first` samples of each problem, beside pass@k measured from all of them.

    Args:
        correct: [P, N] correctness of each problem's samples, in the order they were drawn.
        first: n', the samples per problem the forecasts may see (1 <= n' <= N).
        ks: the k (samples per problem) to predict (default 1, 2, 4, ... up to 16 N).
        n_boot: bootstrap refits over problems.
        seed: bootstrap seed.
        level: interval coverage.

    Returns:
        (table, facts): one row per k with measured (unbiased pass@k from all N samples; NaN beyond N) and its
        bootstrap CI over problems, beta (the beta-binomial forecast) with its band, brown (the exp(a k^b)
        forecast) with its band; facts holds the fitted alpha (the power-law exponent) and Brown's b, with CIs,
        alpha_at_bound (the fit stopped at an edge of its search: alpha is not identified, show no value for it)
        and at_bound (which parameters).

    Raises:
        UserError: n' outside 1..N, or nothing to fit in the first n' samples.

    Example:
        table, facts = forecast(pool.correct, first=8)
    """
    correct = np.asarray(correct, bool)
    P, N = correct.shape
    if not 1 <= first <= N:
        raise UserError(f"--forecast-from must lie in 1..{N} (samples per problem); got {first}")
    ks = np.array(sorted(set(ks))) if ks is not None else np.array([2 ** i for i in range(int(np.log2(16 * N)) + 1)])
    head = correct[:, :first]
    beta = BetaBinomial(n_boot=n_boot, seed=seed).fit(head.sum(axis=1), first)
    b_lo, b_hi = beta.band(ks, level) if len(beta.boot_params_) else (np.full(len(ks), np.nan),) * 2
    brown, brown_boot = (None, np.empty((0, 2)))
    if first >= 3:
        try:
            brown, brown_boot = brown_fit(head, n_boot=n_boot, seed=seed)
        except UserError:
            brown = None
    tail = (1 - level) / 2
    rng = np.random.default_rng(seed)
    rows_boot = rng.integers(0, P, size=(n_boot, P))
    c_all = correct.sum(axis=1)
    rows = []
    for k in ks:
        measured = lo = hi = np.nan
        if k <= N:
            per = unbiased_pass_at_k(c_all, N, int(k))
            measured = float(per.mean())
            lo, hi = (np.quantile(per[rows_boot].mean(axis=1), [tail, 1 - tail]) if n_boot else (np.nan, np.nan))
        bp = float(brown.predict([k])[0]) if brown is not None else np.nan
        preds = np.array([np.exp(a * k ** b) for a, b in brown_boot])
        rows.append({"k": int(k), "measured": measured, "measured_low": float(lo), "measured_high": float(hi),
                     "beta": float(beta.pass_at_k([k])[0]), "beta_low": float(b_lo[list(ks).index(k)]),
                     "beta_high": float(b_hi[list(ks).index(k)]), "brown": bp,
                     "brown_low": float(np.nanquantile(preds, tail)) if len(brown_boot) else np.nan,
                     "brown_high": float(np.nanquantile(preds, 1 - tail)) if len(brown_boot) else np.nan,
                     "first": first, "problems": P, "samples": N})
    facts = {"alpha": beta.params_["alpha"], "alpha_ci": beta.ci_.get("alpha", (np.nan, np.nan)),
             "alpha_at_bound": bool(beta.at_bound_), "at_bound": beta.at_bound_,
             "spread_lr": heterogeneity(head.sum(axis=1), first, beta.params_["alpha"], beta.params_["beta"]),
             "beta": beta.params_["beta"], "first": first, "samples": N, "problems": P,
             "brown_b": brown.params_["b"] if brown is not None else np.nan,
             "brown_b_ci": (tuple(np.quantile(brown_boot[:, 1], [tail, 1 - tail])) if len(brown_boot)
                            else (np.nan, np.nan))}
    return pd.DataFrame(rows), facts


def heterogeneity(correct, n, alpha: float, beta: float) -> float:
    """Likelihood-ratio statistic 2 (log L_beta-binomial - log L_binomial) of the counts: how much better problems
    of different difficulty explain them than one success rate for all.

    Small (under SPREAD_LR_CRITICAL) means the samples cannot tell the problems apart; the beta-binomial then sits
    near a single rate and overpredicts pass@k at large k, where the hard problems' tail decides it.
    """
    c = np.asarray(correct, float)
    n = np.broadcast_to(np.asarray(n, float), c.shape)
    p = c.sum() / n.sum()
    binom = np.sum(c * np.log(p) + (n - c) * np.log1p(-p)) if 0 < p < 1 else 0.0
    return float(max(0.0, 2 * (-_nll(np.log([alpha, beta]), c, n) - binom)))


def spread_note(run: str, facts: dict) -> str | None:
    """The note analyze prints when the forecast's samples show no spread of difficulty (see `heterogeneity`)."""
    if facts["spread_lr"] >= SPREAD_LR_CRITICAL:
        return None
    return (f"forecast for {run}: the first {facts['first']} samples per problem do not show the problems differ in "
            f"difficulty (likelihood ratio {facts['spread_lr']:.2f} against one success rate for all, under "
            f"{SPREAD_LR_CRITICAL}); the fit treats them as alike and overpredicts pass@k at large k; fit on more "
            "samples (a larger --forecast-from)")


def log_gamma_ratio(alpha: float, beta: float) -> float:
    """log of Gamma(alpha + beta) / Gamma(beta): the power law's prefactor, 1 - pass@k ~ that * k^(-alpha)."""
    return float(gammaln(alpha + beta) - gammaln(beta))
