"""The analyzer: stored runs' results -> one tidy table, accuracy-vs-FLOPs fits, the frontier, small-vs-large exchange
rates and the continuous (gold-likelihood) signal, beside training-compute laws and a model catalogue. It reads what
the runner stored (`testtime.pipeline.records`: results, manifest, per-problem summary), never the sample store.

    runs.py       load_runs: results rows + catalog facts -> one table      fits.py      curve fits per series
    exchange.py   exchange rates, break-even query volume, total compute   frontier.py  the Pareto front
    signal.py     pass/fail beside the gold answer's log-probability        curves.py    curve families (estimators)
    laws.py       Kaplan, Chinchilla, Epoch refit                           catalog.py   N, D of open models

`analyze` runs them all and returns an `Analysis`.

Example:
    result = analyze(["runs/a", "runs/b"], compare=True, queries=1e9)
    result.table          # pandas DataFrame, one row per (model, benchmark, strategy, scorer, n)
    result.exchange       # one row per (small, large, strategy)
    result.save_tables("runs/analysis/a-vs-b")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from testtime.analysis.catalog import CATALOG, law_loss, lookup, training_flops
from testtime.analysis.exchange import break_even_queries, exchange_rates, reach_flops, total_compute
from testtime.analysis.fits import CurveFit, curve_points, fit_curve, fit_curves, fits_table
from testtime.analysis.frontier import frontier
from testtime.analysis.laws import (BESIROGLU2024, CHINCHILLA, CHINCHILLA_UNROUNDED, KAPLAN2020, LAWS, Kaplan2020,
                                    ParametricLaw, allocation_table)
from testtime.analysis.runs import KEY, label, load_runs, model_facts
from testtime.analysis.signal import continuous_metric
from testtime.errors import UserError
from testtime.files import atomic_write

__all__ = [
    "Analysis", "analyze",
    "load_runs", "model_facts", "label", "KEY",
    "CurveFit", "fit_curve", "fit_curves", "fits_table", "curve_points",
    "total_compute", "break_even_queries", "reach_flops", "exchange_rates",
    "frontier", "continuous_metric",
    "CATALOG", "lookup", "training_flops", "law_loss",
    "ParametricLaw", "Kaplan2020", "CHINCHILLA", "CHINCHILLA_UNROUNDED", "BESIROGLU2024", "KAPLAN2020", "LAWS",
    "allocation_table",
]


@dataclass
class Analysis:
    """Everything `analyze` computed; tables are pandas DataFrames, `fits` CurveFit objects."""

    runs: list[str]
    table: pd.DataFrame
    """load_runs' table."""
    fits: list[CurveFit]
    frontier: pd.DataFrame
    exchange: pd.DataFrame
    """Empty unless compare=True."""
    signal: pd.DataFrame
    notes: list[str]
    """Catalog gaps, series that could not be fitted, runs without a continuous signal."""
    queries: float | None = None
    extrapolate: bool = False

    def save_tables(self, out: str | Path) -> list[Path]:
        """Write points, fits, curves, frontier, exchange and signal as CSV and Parquet under `out`, atomically.

        Args:
            out: folder (created if missing).

        Returns:
            The paths written (no exchange files for a single-model analysis).
        """
        out = Path(out)
        written = []
        for name, df in (("points", self.table), ("fits", fits_table(self.fits)), ("curves", curve_points(self.fits)),
                         ("frontier", self.frontier), ("exchange", self.exchange), ("signal", self.signal)):
            if df.empty and name == "exchange":
                continue  # a single-model analysis has no exchange rates
            typed = _typed(df)
            written.append(atomic_write(out / f"{name}.csv", lambda tmp, df=df: df.to_csv(tmp, index=False)))
            written.append(atomic_write(out / f"{name}.parquet",
                                        lambda tmp, typed=typed: typed.to_parquet(tmp, index=False)))
        return written


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    # Parquet wants one type per column: object columns of numbers-or-None become floats, the rest strings.
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            numeric = out[c].map(lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)))
            out[c] = pd.to_numeric(out[c]) if numeric.all() else out[c].astype("string")
    return out


def analyze(paths: Sequence[str | Path], *, compare: bool = False, queries: float | None = None,
            extrapolate: bool = False, n_boot: int = 200, seed: int = 0) -> Analysis:
    """Load runs, fit every series, find the frontier, and (compare=True) the small-vs-large exchange rates.

    Args:
        paths: run directories.
        compare: also compute exchange rates and break-even volumes; needs two models on one benchmark.
        queries: expected queries Q; adds each model's total compute at Q to the exchange rates.
        extrapolate: let exchange rates follow a fitted curve beyond the measured budgets (flagged in status).
        n_boot: bootstrap refits per curve.
        seed: bootstrap seed.

    Returns:
        The Analysis.

    Raises:
        UserError: bad arguments, unreadable runs, or compare without two models on one benchmark.

    Example:
        result = analyze(["runs/a", "runs/b"], compare=True)
    """
    if n_boot < 0:
        raise UserError(f"n_boot must be 0 or more (bootstrap refits per curve); got {n_boot}")
    if queries is not None and not (np.isfinite(queries) and queries > 0):
        raise UserError(f"queries must be a positive number of expected queries; got {queries}")
    table = load_runs(paths)
    if compare:
        counts = table.groupby("benchmark")["model"].nunique()
        if counts.max() < 2:
            raise UserError("compare needs runs of at least two models on the same benchmark; got "
                            + ", ".join(f"{b}: {', '.join(sorted(set(table[table['benchmark'] == b]['model'])))}"
                                        for b in counts.index))
    fits = fit_curves(table, n_boot=n_boot, seed=seed)
    signal = continuous_metric(paths)
    notes = sorted(set(n for n in table["catalog_note"] if n))
    notes += [f"no fit: {f.error}" for f in fits if f.error]
    notes += [n for n in signal["note"] if n]
    exchange = exchange_rates(table, fits, extrapolate=extrapolate, queries=queries) if compare else pd.DataFrame()
    if compare and exchange.empty:
        notes.append("no exchange rates: no pair of models with known sizes and an n=1 result on one benchmark")
    return Analysis(runs=[str(p) for p in paths], table=table, fits=fits, frontier=frontier(table), exchange=exchange,
                    signal=signal, notes=notes, queries=queries, extrapolate=extrapolate)
