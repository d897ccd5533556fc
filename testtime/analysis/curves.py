"""Accuracy-vs-inference-compute curves: three families, fitted with estimator manners, and model selection.

Families (plain `f(x, *params)` functions, usable with `scipy.optimize.curve_fit`):
- `power_law`:   error = e_inf + a * c**(-alpha), a power law with an irreducible error, the form of Hoffmann et al.
                 2022 ("Training Compute-Optimal Large Language Models", eq. 2) in one variable.
- `log_sigmoid`: accuracy = lo + (hi - lo) / (1 + exp(-k * (log c - log_c50))), a sigmoid in log compute: slow start,
                 a power-law-like middle, saturation.
- `exp_power`:   coverage = exp(a * k**b), a < 0, b < 0: Brown et al. 2024 ("Large Language Monkeys: Scaling Inference
                 Compute with Repeated Sampling", section 3), who model log(coverage) as a power law a * k**b in the
                 number of samples k.

Fitting follows Hoffmann et al. 2022 (section 3.3 and appendix D.2): a Huber loss (delta = 1e-3) on residuals in log
space, minimised from a grid of starting points, keeping the best. We minimise with `scipy.optimize.least_squares`
(loss="huber", f_scale=delta), whose robust loss is Huber's up to a constant factor. Confidence intervals come from a
pairs bootstrap: the points are resampled with replacement and refitted `n_boot` times.

Example:
    model = PowerLaw().fit(compute, accuracy)
    model.params_          # {"e_inf": 0.21, "a": 3.1, "alpha": 0.48}
    model.ci_["alpha"]     # (0.41, 0.55)
    model.predict([1e16])  # accuracy at a compute not measured
    best, table = select_model(compute, accuracy)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.optimize import least_squares

from testtime.errors import UserError

# Observed error or coverage of exactly 0 has no logarithm; clip it here. Huber bounds the pull of such a point.
_FLOOR = 1e-6
_LOSSES = ("huber", "linear", "soft_l1", "cauchy", "arctan")


def power_law(c, e_inf, a, alpha):
    """Error at compute c: e_inf + a * c**(-alpha)."""
    return e_inf + a * np.asarray(c, dtype=float) ** (-alpha)


def log_sigmoid(c, lo, hi, k, log_c50):
    """Accuracy at compute c: a logistic in log c rising from lo to hi, halfway at c = exp(log_c50)."""
    z = k * (np.log(np.asarray(c, dtype=float)) - log_c50)
    return lo + (hi - lo) / (1.0 + np.exp(-z))


def exp_power(k, a, b):
    """Coverage after k samples: exp(a * k**b), with a < 0 and b < 0 so that it rises towards 1."""
    return np.exp(a * np.asarray(k, dtype=float) ** b)


@dataclass
class _Curve:
    """Shared constructor parameters and fitting machinery. A family adds `_names`, `_residuals`, `_jacobian`,
    `_starts`, `_bounds`, `_public` and `_accuracy`; data checks, multi-start fits and the bootstrap live here once."""

    loss: str = "huber"
    """scipy least_squares loss: "huber" (Hoffmann et al. 2022), "linear" (plain least squares), "soft_l1", ..."""
    huber_delta: float = 1e-3
    """Threshold of the robust loss on fit-space residuals (Hoffmann et al. used delta = 1e-3)."""
    n_starts: int = 8
    """Starting values of the family's shape parameter in the grid of starting points."""
    n_boot: int = 200
    """Bootstrap refits behind `ci_` and `predict_band`; 0 skips them."""
    seed: int = 0
    """Seed of the bootstrap resampling."""

    _names = ()

    def __post_init__(self) -> None:
        if self.loss not in _LOSSES:
            raise UserError(f"loss must be one of {', '.join(_LOSSES)}; got {self.loss!r}")
        if not self.huber_delta > 0:
            raise UserError(f"huber_delta must be positive; got {self.huber_delta}")
        if self.n_starts < 1:
            raise UserError(f"n_starts must be at least 1; got {self.n_starts}")
        if self.n_boot < 0:
            raise UserError(f"n_boot must be 0 or more; got {self.n_boot}")

    def fit(self, x, y, sample_weight=None):
        """Fit to (compute, accuracy) points.

        Args:
            x: compute per point (FLOPs, tokens or samples; any positive unit, used as given).
            y: accuracy (or coverage) per point, in [0, 1].
            sample_weight: optional non-negative weight per point (e.g. number of problems behind it).

        Returns:
            self, with `params_` (name -> value), `ci_` (name -> (lo, hi), 95% pairs bootstrap), `residual_`
            (fit-space residual per point), `boot_params_` ([n_boot, n_params]) and `at_bound_` (names of parameters
            that ended on an edge of their search range: the data do not pin them down) set; `ci_` is {} when
            n_boot=0.
        """
        x, y, w = _check_xy(x, y, sample_weight, type(self).__name__, len(self._names) + 1)
        log_xref = float(np.mean(np.log(x)))
        u = np.log(x) - log_xref  # work in units of the geometric-mean compute so FLOPs of 1e18 stay well scaled
        theta, _ = self._best_fit(u, y, w, self._starts(u, y))
        lo, hi = self._bounds(u)
        edge = 5e-3 * (hi - lo)   # within 0.5% of the range: optimisers stop just short of a bound
        self.at_bound_ = tuple(name for name, t, a, b, e in zip(self._names, theta, lo, hi, edge)
                               if t - a <= e or b - t <= e)
        self.params_ = dict(zip(self._names, (float(v) for v in self._public(theta, log_xref))))
        self.residual_ = self._residuals(theta, u, y)
        self.boot_params_ = self._bootstrap(u, y, w, theta, log_xref)
        self.ci_ = {
            name: (float(np.quantile(col, 0.025)), float(np.quantile(col, 0.975)))
            for name, col in zip(self._names, self.boot_params_.T)
        } if len(self.boot_params_) else {}
        return self

    def predict(self, x) -> np.ndarray:
        """Predicted accuracy (PowerLaw: 1 - error; ExpPower: coverage) at compute x."""
        self._check_fitted()
        return self._accuracy(_positive_x(x), *self.params_.values())

    def predict_band(self, x, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) accuracy band at compute x: quantiles of the predictions of the bootstrap parameter sets."""
        self._check_fitted()
        if not len(self.boot_params_):
            raise UserError(f"{type(self).__name__} was fitted with n_boot=0; refit with n_boot > 0 for a band")
        if not 0 < level < 1:
            raise UserError(f"level must be between 0 and 1; got {level}")
        x = _positive_x(x)
        preds = np.stack([self._accuracy(x, *p) for p in self.boot_params_])
        tail = (1 - level) / 2
        return np.quantile(preds, tail, axis=0), np.quantile(preds, 1 - tail, axis=0)

    # -- internals ----------------------------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise UserError(f"{type(self).__name__} is not fitted yet; call fit(x, y) first")

    def _solve(self, u, y, w, theta0):
        sw = np.sqrt(w)
        lo, hi = self._bounds(u)
        theta0 = np.clip(theta0, lo + 1e-9 * (hi - lo), hi - 1e-9 * (hi - lo))
        fun = lambda t: sw * self._residuals(t, u, y)  # noqa: E731
        jac = lambda t: sw[:, None] * self._jacobian(t, u)  # noqa: E731
        if self.loss != "linear":
            # A plain least-squares solve first lands near the optimum in a few steps; the robust loss then only
            # polishes. Robust losses with a tiny delta behave like L1 and crawl when started far away.
            theta0 = least_squares(fun, theta0, jac=jac, bounds=(lo, hi), method="trf", max_nfev=200).x
        return least_squares(fun, theta0, jac=jac, bounds=(lo, hi), loss=self.loss, f_scale=self.huber_delta,
                             method="trf", max_nfev=400)

    def _best_fit(self, u, y, w, starts):
        best = None
        for theta0 in starts:
            res = self._solve(u, y, w, np.asarray(theta0, dtype=float))
            if best is None or res.cost < best.cost:
                best = res
        return best.x, best.cost

    def _bootstrap(self, u, y, w, theta, log_xref) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        n, need = len(u), len(self._names)
        out = []
        for _ in range(self.n_boot):
            idx = rng.integers(0, n, n)
            # A resample with fewer distinct compute values than parameters cannot identify them; draw again (rare).
            while len(np.unique(u[idx])) < need:
                idx = rng.integers(0, n, n)
            # Warm start from the full-data optimum: a resample moves the optimum a little, not to another basin.
            th, _ = self._best_fit(u[idx], y[idx], w[idx], [theta])
            out.append(self._public(th, log_xref))
        return np.array(out).reshape(len(out), len(self._names))


@dataclass
class PowerLaw(_Curve):
    """error = e_inf + a * c**(-alpha), fitted on log(error) residuals (Hoffmann et al. 2022, approach 3 style).

    `params_`: e_inf, a (in the units of x), alpha. Starting grid: `n_starts` exponents alpha in [0.05, 1.5], each
    with e_inf at 1/2 and 1/1000 of the smallest observed error. Observed errors of 0 are clipped to 1e-6.
    """

    _names = ("e_inf", "a", "alpha")

    def _residuals(self, t, u, y):
        log_e, log_a, alpha = t
        # log(e_inf + a' e^{-alpha u}) via logaddexp: exact even when one term underflows.
        return np.logaddexp(log_e, log_a - alpha * u) - np.log(np.maximum(1.0 - y, _FLOOR))

    def _jacobian(self, t, u):
        log_e, log_a, alpha = t
        total = np.logaddexp(log_e, log_a - alpha * u)
        s1, s2 = np.exp(log_e - total), np.exp(log_a - alpha * u - total)
        return np.stack([s1, s2, -u * s2], axis=1)

    def _starts(self, u, y):
        err = np.maximum(1.0 - y, _FLOOR)
        i0 = int(np.argmin(u))
        starts = []
        for alpha in np.linspace(0.05, 1.5, self.n_starts):
            for e in (0.5 * err.min(), 1e-3 * err.min()):
                log_a = np.log(max(err[i0] - e, _FLOOR)) + alpha * u[i0]
                starts.append((np.log(e), log_a, alpha))
        return starts

    def _bounds(self, u):
        return np.array([np.log(1e-12), -40.0, 1e-4]), np.array([0.0, 40.0, 5.0])

    def _public(self, t, log_xref):
        log_e, log_a, alpha = t
        return np.array([np.exp(log_e), np.exp(log_a + alpha * log_xref), alpha])

    def _accuracy(self, x, e_inf, a, alpha):
        return 1.0 - power_law(x, e_inf, a, alpha)


@dataclass
class LogSigmoid(_Curve):
    """accuracy = lo + (hi - lo) * sigmoid(k * (log c - log_c50)), fitted on plain accuracy residuals.

    Accuracy near 0 makes log or logit residuals blow up, so this family uses residuals in accuracy itself; with
    the default delta of 1e-3 the Huber loss is then close to least absolute deviations (robust to odd points).
    `params_`: lo, hi, k (per unit of natural log compute), log_c50 (natural log of the halfway compute). Starting
    grid: `n_starts` slopes k in [0.3, 5], each at two midpoints.
    """

    _names = ("lo", "hi", "k", "log_c50")

    def _residuals(self, t, u, y):
        lo, hi, k, m = t
        return lo + (hi - lo) / (1.0 + np.exp(-k * (u - m))) - y

    def _jacobian(self, t, u):
        lo, hi, k, m = t
        sig = 1.0 / (1.0 + np.exp(-k * (u - m)))
        slope = (hi - lo) * sig * (1.0 - sig)
        return np.stack([1.0 - sig, sig, slope * (u - m), -slope * k], axis=1)

    def _starts(self, u, y):
        mid = 0.5 * (y.min() + y.max())
        centres = (float(u[np.argmin(np.abs(y - mid))]), float(np.median(u)))
        return [(y.min(), y.max(), k, m) for k in np.geomspace(0.3, 5.0, self.n_starts) for m in centres]

    def _bounds(self, u):
        span = u.max() - u.min()
        return np.array([0.0, 0.0, 1e-3, u.min() - span]), np.array([1.0, 1.0, 50.0, u.max() + span])

    def _public(self, t, log_xref):
        lo, hi, k, m = t
        return np.array([lo, hi, k, m + log_xref])

    def _accuracy(self, x, lo, hi, k, log_c50):
        return log_sigmoid(x, lo, hi, k, log_c50)


@dataclass
class ExpPower(_Curve):
    """coverage = exp(a * k**b) (Brown et al. 2024), fitted on log(coverage) residuals.

    `params_`: a < 0 (in the units of x), b < 0. Starting grid: `n_starts` exponents b in [-1.5, -0.05]. Observed
    coverage of 0 is clipped to 1e-6.
    """

    _names = ("a", "b")

    def _residuals(self, t, u, y):
        log_neg_a, b = t
        return -np.exp(log_neg_a + b * u) - np.log(np.maximum(y, _FLOOR))

    def _jacobian(self, t, u):
        log_neg_a, b = t
        g = np.exp(log_neg_a + b * u)
        return np.stack([-g, -u * g], axis=1)

    def _starts(self, u, y):
        i0 = int(np.argmin(u))
        y0 = float(np.clip(y[i0], _FLOOR, 1 - 1e-6))
        return [(np.log(-np.log(y0)) - b * u[i0], b) for b in np.linspace(-1.5, -0.05, self.n_starts)]

    def _bounds(self, u):
        return np.array([-40.0, -5.0]), np.array([40.0, -1e-6])

    def _public(self, t, log_xref):
        log_neg_a, b = t
        # a' (x / xref)**b = a' xref**(-b) x**b
        return np.array([-np.exp(log_neg_a - b * log_xref), b])

    def _accuracy(self, x, a, b):
        return exp_power(x, a, b)


def select_model(x, y, candidates: Sequence[_Curve] = (PowerLaw(), LogSigmoid(), ExpPower()), *,
                 n_holdout: int | None = None, sample_weight=None):
    """Choose the curve family that best predicts the largest points (in compute) from the smaller ones.

    Extrapolation is the use (what would more compute buy?), so each candidate is fitted to all but the
    `n_holdout` largest-compute points and scored by the mean absolute accuracy error on those held-out points
    (Alabdulmohsin et al. 2022 argue for judging scaling laws by extrapolation loss). The winner is refitted on
    every point, with its bootstrap.

    Args:
        x: compute per point.
        y: accuracy per point.
        candidates: unfitted estimators to compare.
        n_holdout: largest-compute points to hold out; default a quarter of the points, at least 1.
        sample_weight: optional weight per point, passed to every fit.

    Returns:
        (best, table): the refitted best estimator and one dict per candidate, best first, with keys
        "model", "heldout_mae" (inf where the candidate could not be fitted on the training part) and "params".

    Example:
        best, table = select_model(compute, accuracy, n_holdout=2)
    """
    x, y, w = _check_xy(x, y, sample_weight, "any curve", 2)
    order = np.argsort(x, kind="stable")
    x, y, w = x[order], y[order], w[order]
    n_holdout = max(1, len(x) // 4) if n_holdout is None else n_holdout
    if not 1 <= n_holdout < len(x):
        raise UserError(f"n_holdout must be between 1 and {len(x) - 1}; got {n_holdout}")
    cut = len(x) - n_holdout
    table = []
    for cand in candidates:
        quick = dataclasses.replace(cand, n_boot=0)  # held-out scoring needs point estimates only
        try:
            quick.fit(x[:cut], y[:cut], w[:cut])
            mae = float(np.average(np.abs(quick.predict(x[cut:]) - y[cut:]), weights=w[cut:]))
            params = quick.params_
        except UserError:
            mae, params = float("inf"), {}
        table.append({"model": type(cand).__name__, "heldout_mae": mae, "params": params, "_cand": cand})
    table.sort(key=lambda row: row["heldout_mae"])
    if not np.isfinite(table[0]["heldout_mae"]):
        raise UserError(f"no candidate could be fitted on {cut} points; measure more points or lower n_holdout")
    best = dataclasses.replace(table[0]["_cand"]).fit(x, y, w)
    for row in table:
        del row["_cand"]
    return best, table


def _positive_x(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise UserError("compute must be positive and finite at every point")
    return x


def _check_xy(x, y, sample_weight, what: str, need: int):
    x = np.atleast_1d(np.asarray(x, dtype=float))
    y = np.atleast_1d(np.asarray(y, dtype=float))
    if x.ndim != 1 or x.shape != y.shape:
        raise UserError(f"compute and accuracy must be 1-D and the same length; got shapes {x.shape} and {y.shape}")
    for label, arr in (("compute", x), ("accuracy", y)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if len(bad):
            raise UserError(f"{label} is {arr[bad[0]]} at index {bad[0]}; drop or fix that point")
    if np.any(x <= 0):
        i = int(np.flatnonzero(x <= 0)[0])
        raise UserError(f"compute must be positive; got {x[i]} at index {i}")
    if np.any((y < 0) | (y > 1)):
        i = int(np.flatnonzero((y < 0) | (y > 1))[0])
        raise UserError(f"accuracy must be in [0, 1]; got {y[i]} at index {i}")
    if len(x) < need:
        raise UserError(f"need at least {need} points to fit {what}, got {len(x)}")
    if len(np.unique(x)) < need - 1:
        raise UserError(f"need at least {need - 1} distinct compute values to fit {what}, got {len(np.unique(x))}")
    if np.all(y == y[0]):
        raise UserError(f"accuracy is {float(y[0])} at every point; nothing to fit")
    if sample_weight is None:
        w = np.ones_like(x)
    else:
        w = np.atleast_1d(np.asarray(sample_weight, dtype=float))
        if w.shape != x.shape or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise UserError("sample_weight must be one finite, non-negative number per point, not all zero")
    return x, y, w
