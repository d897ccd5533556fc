"""Accuracy vs inference FLOPs per problem, fitted per series (model, benchmark, strategy, scorer).

The family is chosen among PowerLaw, LogSigmoid and ExpPower by held-out error on the largest points
(`testtime.analysis.curves.select_model`), with bootstrap CIs on the parameters and bands on the curve.

Example:
    fits = fit_curves(load_runs(["runs/a"]))
    fits_table(fits)          # one row per (series, parameter), with 95% CIs
    curve_points(fits)        # each curve and its band on 100 log-spaced FLOPs, for plots
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from testtime.analysis.curves import ExpPower, LogSigmoid, PowerLaw, select_model
from testtime.analysis.runs import KEY, series
from testtime.errors import UserError

MIN_POINTS = 4
"""Distinct points (compute values) needed to fit: 3 to fit the smallest family (ExpPower, 2 parameters) plus 1
held out."""


@dataclass
class CurveFit:
    """A curve fitted to one (model, benchmark, strategy, scorer) series, or the reason it could not be."""

    model: str
    benchmark: str
    strategy: str
    scorer: str | None
    """The strategy's scorer; None for none."""
    x_range: tuple[float, float]
    """Smallest and largest measured inference FLOPs per problem."""
    estimator: object | None = None
    """The fitted curves estimator (PowerLaw, LogSigmoid or ExpPower); None when fitting failed."""
    selection: list = field(default_factory=list)
    """select_model's table: held-out error of every candidate family, best first."""
    error: str | None = None
    """Why there is no fit (degenerate data, too few points), else None."""
    unreliable: str | None = None
    """Why the fit should not be drawn or read (its band is far wider than the points' CIs, or it misses the held-out
    points by more than they vary), else None. Plots draw no curve or band for it."""

    @property
    def key(self) -> tuple:
        """(model, benchmark, strategy, scorer)."""
        return self.model, self.benchmark, self.strategy, self.scorer

    @property
    def form(self) -> str | None:
        return None if self.estimator is None else type(self.estimator).__name__


def fit_curve(flops, accuracy, *, label: str = "series", n_boot: int = 200, seed: int = 0,
              more: str = "sample more per problem (--n 8 gives 4 points: n = 1, 2, 4, 8)"):
    """Fit accuracy vs inference FLOPs, choosing among PowerLaw, LogSigmoid and ExpPower by held-out error.

    Args:
        flops: inference FLOPs per problem at each point.
        accuracy: accuracy at each point (clipped to [0, 1]; bootstrap means can land at -1e-17).
        label: names the series in error messages.
        n_boot: bootstrap refits behind the CIs and bands.
        seed: bootstrap seed.
        more: how to get more points, for the too-few-points message.

    Returns:
        (estimator, selection table) as `testtime.analysis.curves.select_model` returns them.

    Raises:
        UserError: one line naming the series: all wrong, all right, flat, or too few points.

    Example:
        best, table = fit_curve([1e10, 2e10, 4e10, 8e10], [0.2, 0.3, 0.38, 0.44], label="smollm2 best_of_n")
    """
    x, y = np.asarray(flops, float), np.clip(np.asarray(accuracy, float), 0.0, 1.0)
    if not np.all(np.isfinite(x)) or np.any(x <= 0) or not np.all(np.isfinite(y)):
        raise UserError(f"{label}: inference FLOPs must be positive and accuracy finite at every point")
    k = len(np.unique(x))
    if k < MIN_POINTS:
        raise UserError(f"{label}: too few points to fit ({k} distinct compute values; need at least {MIN_POINTS}: "
                        f"3 to fit plus 1 held out); {more}")
    if np.all(y == 0):
        raise UserError(f"{label}: all wrong (accuracy 0 at every point); nothing to fit")
    if np.all(y == 1):
        raise UserError(f"{label}: all right (accuracy 1 at every point); nothing to fit")
    if np.all(y == y[0]):
        raise UserError(f"{label}: accuracy is {y[0]:.3g} at every point; nothing to fit")
    cands = [dataclasses.replace(c, n_boot=n_boot, seed=seed) for c in (PowerLaw(), LogSigmoid(), ExpPower())]
    try:
        return select_model(x, y, cands)
    except UserError as e:
        raise UserError(f"{label}: {e}") from None


def fit_curves(table: pd.DataFrame, *, n_boot: int = 200, seed: int = 0) -> list[CurveFit]:
    """One CurveFit per (model, benchmark, strategy, scorer) of `table`.

    Args:
        table: `load_runs`' table (or any frame with KEY, flops_per_problem, accuracy and optionally budget).
        n_boot: bootstrap refits per curve.
        seed: bootstrap seed.

    Returns:
        The fits in table order; a series that cannot be fitted carries the reason in `error` instead of stopping
        the others.

    Example:
        fits = fit_curves(load_runs(["runs/a"]), n_boot=50)
    """
    fits = []
    for key, g in series(table, KEY):
        g = g[g["flops_per_problem"] > 0].sort_values("flops_per_problem")
        fit = CurveFit(*key, x_range=(float(g["flops_per_problem"].min()), float(g["flops_per_problem"].max())))
        try:
            generated = "budget" in g and g["budget"].notna().any()   # budgets are thinking budgets, not n
            fit.estimator, fit.selection = fit_curve(
                g["flops_per_problem"], g["accuracy"], n_boot=n_boot, seed=seed,
                label=" / ".join(k for k in key if k is not None),
                more="pass 4 or more --budgets" if generated
                else "sample more per problem (--n 8 gives 4 points: n = 1, 2, 4, 8)")
        except UserError as e:
            fit.error = str(e)
        if fit.estimator is not None:
            fit.unreliable = reliability(fit, g)
        fits.append(fit)
    return fits


BAND_FACTOR = 2.0
"""A fit whose 95% band, inside the measured range, is wider than this many times the widest CI of its points
(and wider than BAND_FLOOR) is flagged unreliable: the data do not pin the curve down."""
BAND_FLOOR = 0.1


def reliability(fit: CurveFit, points: pd.DataFrame) -> str | None:
    """Why `fit` is unreliable against its points (columns accuracy, ci_low, ci_high), else None.

    Flags: the band (inside the measured range) much wider than the points' CIs, or a held-out error larger
    than the points' CIs and 0.05 (the form does not extrapolate even one point).

    Example:
        reliability(fit, table[(table.strategy == "best_of_n")])    # "band 0.85 wide vs CIs <= 0.03"
    """
    ci = (points["ci_high"] - points["ci_low"]).to_numpy(float)
    widest = float(np.nanmax(ci)) if np.isfinite(ci).any() else 0.0
    est = fit.estimator
    if est.n_boot:
        lo, hi = est.predict_band(np.geomspace(*fit.x_range, 50))
        band = float(np.max(np.clip(hi, 0, 1) - np.clip(lo, 0, 1)))
        if band > max(BAND_FLOOR, BAND_FACTOR * widest):
            return f"band {band:.2f} wide vs point CIs <= {widest:.2f}"
    mae = fit.selection[0]["heldout_mae"] if fit.selection else np.nan
    if np.isfinite(mae) and mae > max(0.05, widest):
        return f"misses the held-out points by {mae:.2f} (point CIs <= {widest:.2f})"
    return None


def fits_table(fits: Sequence[CurveFit]) -> pd.DataFrame:
    """Fitted parameters with 95% bootstrap CIs.

    Args:
        fits: `fit_curves`' fits.

    Returns:
        One row per (series, parameter): KEY, form, param, value, ci_low, ci_high, at_bound, heldout_mae, error,
        unreliable; a failed fit gets one row with its error.
    """
    rows = []
    for f in fits:
        head = dict(zip(KEY, f.key), form=f.form)
        if f.estimator is None:
            rows.append({**head, "param": None, "value": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                         "at_bound": False, "heldout_mae": np.nan, "error": f.error, "unreliable": None})
            continue
        mae = f.selection[0]["heldout_mae"] if f.selection else np.nan
        for name, value in f.estimator.params_.items():
            lo, hi = f.estimator.ci_.get(name, (np.nan, np.nan))
            rows.append({**head, "param": name, "value": value, "ci_low": lo, "ci_high": hi,
                         "at_bound": name in getattr(f.estimator, "at_bound_", ()), "heldout_mae": mae, "error": None,
                         "unreliable": f.unreliable})
    return pd.DataFrame(rows, columns=[*KEY, "form", "param", "value", "ci_low", "ci_high", "at_bound", "heldout_mae",
                                       "error", "unreliable"])


def curve_points(fits: Sequence[CurveFit], n: int = 100) -> pd.DataFrame:
    """Each fitted curve and its 95% band across the measured range (for plots and CSV).

    Args:
        fits: `fit_curves`' fits; failed ones are skipped.
        n: log-spaced FLOPs per curve.

    Returns:
        Rows of KEY, form, flops_per_problem, accuracy_fit, band_low, band_high (NaN bands without bootstrap;
        all clipped to [0, 1]), unreliable (the fit's flag, None when it may be drawn).
    """
    frames = []
    for f in fits:
        if f.estimator is None:
            continue
        x = np.geomspace(*f.x_range, n)
        lo, hi = f.estimator.predict_band(x) if f.estimator.n_boot else (np.full(n, np.nan),) * 2
        frames.append(pd.DataFrame({**dict(zip(KEY, f.key)), "form": f.form, "flops_per_problem": x,
                                    "accuracy_fit": np.clip(f.estimator.predict(x), 0, 1),
                                    "band_low": np.clip(lo, 0, 1), "band_high": np.clip(hi, 0, 1),
                                    "unreliable": f.unreliable}))
    cols = [*KEY, "form", "flops_per_problem", "accuracy_fit", "band_low", "band_high", "unreliable"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
