"""The analyzer: stored runs -> one tidy table, accuracy-vs-compute fits, the frontier, small-vs-large exchange
rates, the continuous (gold-likelihood) signal, paired comparisons, the compute-optimal allocation by difficulty and
pass@k forecasts, beside training-compute laws and a model catalogue. It reads what the runner stored (results,
manifest and per-problem summary through `testtime.store.records`, the samples' arrays through `pools.py`),
never the runner's `Store`.

    runs.py        load_runs: results rows + catalog facts -> one table     fits.py      curve fits per series
    pools.py       a run's samples as Pools; the problems runs share        curves.py    curve families (estimators)
    uncertainty.py per-problem cells on shared problems, two-level bootstrap paired.py    paired comparisons
    allocation.py  compute-optimal choice per difficulty bin (Snell 2024)   forecast.py  pass@k beyond N (Beta fit)
    grid.py        thinking budget x samples: selection over budget forcing's samples, and its frontier
    matched.py     generation strategies beside selection strategies at matched FLOPs, paired
    exchange.py    exchange rates, break-even query volume, total compute   frontier.py  the Pareto front
    signal.py      pass/fail beside the gold answer's log-probability       laws.py      Kaplan, Chinchilla, Epoch
    catalog.py     N, D of open models

`analyze` runs them all and returns an `Analysis`.

Example:
    result = analyze(["runs/a", "runs/b"], compare=True, queries=1e9)
    result.table          # pandas DataFrame, one row per (model, benchmark, strategy, scorer, n)
    result.exchange       # one row per (small, large, strategy)
    result.save_tables("runs/analysis/a-vs-b")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from testtime.analysis.allocation import Allocation, allocate
from testtime.analysis.catalog import CATALOG, law_loss, lookup, training_flops
from testtime.analysis.exchange import break_even_queries, exchange_rates, reach_flops, total_compute
from testtime.analysis.fits import CurveFit, curve_points, fit_curve, fit_curves, fits_table
from testtime.analysis.forecast import BetaBinomial, forecast, spread_note
from testtime.analysis.grid import grid_points, mark_frontier
from testtime.analysis.frontier import frontier
from testtime.analysis.matched import matched_flops
from testtime.analysis.laws import (BESIROGLU2024, CHINCHILLA, CHINCHILLA_UNROUNDED, KAPLAN2020, LAWS, Kaplan2020,
                                    ParametricLaw, allocation_table)
from testtime.analysis.paired import adjacent_budgets, find_cell, find_pairs, paired, paired_difference
from testtime.analysis.pools import load_pools, shared_problems
from testtime.analysis.runs import KEY, label, load_runs, model_facts
from testtime.analysis.signal import continuous_metric
from testtime.analysis.uncertainty import LEVELS, Cells, evaluate_cells, points
from testtime.errors import UserError
from testtime.files import atomic_write

__all__ = [
    "Analysis", "analyze",
    "load_runs", "model_facts", "label", "KEY",
    "CurveFit", "fit_curve", "fit_curves", "fits_table", "curve_points",
    "total_compute", "break_even_queries", "reach_flops", "exchange_rates",
    "frontier", "continuous_metric", "grid_points", "mark_frontier", "matched_flops",
    "load_pools", "shared_problems", "Cells", "evaluate_cells", "points", "LEVELS",
    "paired", "paired_difference", "adjacent_budgets", "find_cell", "Allocation", "allocate", "BetaBinomial", "forecast",
    "CATALOG", "lookup", "training_flops", "law_loss",
    "ParametricLaw", "Kaplan2020", "CHINCHILLA", "CHINCHILLA_UNROUNDED", "BESIROGLU2024", "KAPLAN2020", "LAWS",
    "allocation_table",
]


@dataclass
class Analysis:
    """Everything `analyze` computed; tables are pandas DataFrames, `fits` CurveFit objects."""

    runs: list[str]
    table: pd.DataFrame
    """One row per (model, benchmark, strategy, scorer, budget). Runs with stored samples: every selection strategy
    their pool answers, re-evaluated on the problems all runs of the benchmark share, with CIs at `levels`
    (ci_low/ci_high) and over problems only (ci1_low/ci1_high); `problems` says how many. Other rows (generation
    strategies, runs without samples) as results.json has them (ci_levels says which)."""
    fits: list[CurveFit]
    frontier: pd.DataFrame
    exchange: pd.DataFrame
    """Empty unless compare=True."""
    signal: pd.DataFrame
    notes: list[str]
    """Catalog gaps, series that could not be fitted, runs without a continuous signal, small problem overlaps."""
    queries: float | None = None
    extrapolate: bool = False
    overlap: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per benchmark: the runs, each run's problems, and how many all of them share."""
    paired: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Paired comparisons: those asked for, then each budget against the next one up."""
    allocations: list = field(default_factory=list)
    """Allocation objects: the compute-optimal curve per (run, binning)."""
    forecasts: list = field(default_factory=list)
    """(run, table, facts) per run: pass@k forecast from the first samples vs measured."""
    price_per_hour: float | None = None
    levels: str = "both"
    warnings: list[str] = field(default_factory=list)
    """What a reader must see before the plots (no or few shared problems); repeated in the plots and notes."""
    grid: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The sequential x parallel grid (`grid.py`): one row per (run, generation strategy, selection strategy,
    scorer, budget, n), with `frontier` marking each panel's Pareto-optimal (budget, n) points. Kept out of
    `table`, whose series are one strategy over budgets."""
    matched: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Each generation strategy's budget point beside each selection strategy at the largest n within its FLOPs,
    on the problems both hold, with the paired difference (`matched.py`)."""

    def save_tables(self, out: str | Path) -> list[Path]:
        """Write points, fits, curves, frontier, exchange, signal, overlap, paired, allocation, forecast, matched and
        grid (grid, grid_frontier) tables as CSV and Parquet under `out`, atomically.

        Args:
            out: folder (created if missing).

        Returns:
            The paths written (empty tables are skipped).
        """
        out = Path(out)
        written = []
        alloc = [("allocation_curves", "curves"), ("allocation_summary", "summary"), ("allocation_choices", "choices")]
        frames = [("points", self.table), ("fits", fits_table(self.fits)), ("curves", curve_points(self.fits)),
                  ("frontier", self.frontier), ("exchange", self.exchange), ("signal", self.signal),
                  ("overlap", self.overlap), ("paired", self.paired),
                  *((name, pd.concat([getattr(a, attr) for a in self.allocations], ignore_index=True)
                     if self.allocations else pd.DataFrame()) for name, attr in alloc),
                  ("forecast", pd.concat([t.assign(run=r) for r, t, _ in self.forecasts], ignore_index=True)
                   if self.forecasts else pd.DataFrame()),
                  ("matched", self.matched), ("grid", self.grid),
                  ("grid_frontier", self.grid[self.grid["frontier"]] if len(self.grid) else pd.DataFrame())]
        for name, df in frames:
            if df.empty and name not in ("points", "fits", "curves", "frontier", "signal"):
                continue  # e.g. a single-model analysis has no exchange rates
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


SMALL_OVERLAP = 10
"""Fewer shared problems than this (or under half of the smallest run's) draws a warning."""


def analyze(paths: Sequence[str | Path], *, compare: bool = False, queries: float | None = None,
            extrapolate: bool = False, n_boot: int = 200, seed: int = 0, levels: str = "both",
            pairs: Sequence[tuple[str, str]] = (), bins: int = 3, forecast_from: int | None = 8,
            price_per_hour: float | None = None, samples: bool = True) -> Analysis:
    """Load runs, re-evaluate their pools on shared problems with two-level CIs, fit every series, find the
    frontier, compare cells pairwise, allocate compute by difficulty, forecast pass@k, and (compare=True) the
    small-vs-large exchange rates.

    Args:
        paths: run directories.
        compare: also compute exchange rates and break-even volumes; needs two models on one benchmark.
        queries: expected queries Q; adds each model's total compute at Q to the exchange rates.
        extrapolate: let exchange rates follow a fitted curve beyond the measured budgets (flagged in status).
        n_boot: bootstrap replicates (curve refits, and the cells' problem/sample resamples).
        seed: bootstrap seed.
        levels: what the points' CIs resample: "both" (problems, then samples), "problems" or "samples"
            (`testtime.analysis.uncertainty`).
        pairs: (A, B) cell specs ("strategy[:scorer]@n[/model]") to compare on the same problems; a pair found on
            no benchmark is refused.
        bins: difficulty bins of the compute-optimal allocation.
        forecast_from: n', the samples per problem the pass@k forecast may see (None: no forecast).
        price_per_hour: dollars per device-hour; adds dollars per problem (seconds x price / 3600).
        samples: read the runs' stored samples (False: results.json only, as before).

    Returns:
        The Analysis.

    Raises:
        UserError: bad arguments, unreadable runs, a pair of cells that matches none, or compare without two
            models on one benchmark.

    Example:
        result = analyze(["runs/a", "runs/b"], compare=True, pairs=[("majority_vote@16", "best_of_n@16")])
    """
    if n_boot < 0:
        raise UserError(f"n_boot must be 0 or more (bootstrap refits per curve); got {n_boot}")
    if queries is not None and not (np.isfinite(queries) and queries > 0):
        raise UserError(f"queries must be a positive number of expected queries; got {queries}")
    if price_per_hour is not None and not (np.isfinite(price_per_hour) and price_per_hour > 0):
        raise UserError(f"--price-per-hour must be a positive number of dollars per device-hour; got {price_per_hour}")
    if levels not in LEVELS:
        raise UserError(f"levels must be one of {', '.join(LEVELS)}; got {levels!r}")
    if bins < 1:
        raise UserError(f"--bins must be at least 1 (difficulty bins of the allocation); got {bins}")
    if forecast_from is not None and forecast_from < 1:
        raise UserError(f"--forecast-from must be a number of samples, 1 or more (0: no forecast); got {forecast_from}")
    loaded = load_runs(paths)
    # results.json's grid rows (budget x n) are no series of one strategy over budgets: they go to `grid`.
    table = loaded[loaded["generation"].isna()].reset_index(drop=True)
    if compare:
        counts = table.groupby("benchmark")["model"].nunique()
        if counts.max() < 2:
            raise UserError("compare needs runs of at least two models on the same benchmark; got "
                            + ", ".join(f"{b}: {', '.join(sorted(set(table[table['benchmark'] == b]['model'])))}"
                                        for b in counts.index))
    notes, warnings = [], []
    pools = load_pools(paths, table) if samples else []
    grid, grid_notes = grid_points(pools, loaded)
    notes += grid_notes
    overlap, shared = _overlap(pools, table)
    for _, o in overlap.iterrows():
        if o["runs"] < 2:
            continue
        smallest = int(min(o["problems_per_run"]))
        if o["shared"] == 0:
            warnings.append(f"{o['benchmark']}: the runs share no problems ({o['detail']}); each run's points are "
                            "on its own problems, and nothing here compares them")
        elif o["shared"] < SMALL_OVERLAP or o["shared"] < smallest / 2:
            warnings.append(f"{o['benchmark']}: the runs share only {o['shared']} problems ({o['detail']}); "
                            "every cross-run figure is on those")
    cells_by_bench, table = _cells_table(pools, table, shared, n_boot=max(n_boot, 1), levels=levels, seed=seed,
                                         notes=notes)
    cell_sets = [cells for bench_cells in cells_by_bench for cells in bench_cells]
    asked = find_pairs(cell_sets, pairs)   # before the fits: a pair that matches nothing is refused at once
    table["dollars_per_problem"] = (table["seconds_per_problem"] * price_per_hour / 3600
                                    if price_per_hour else np.nan)
    fits = fit_curves(table, n_boot=n_boot, seed=seed)
    signal = continuous_metric(paths, problems={b: p for b, p in shared.items() if p})
    # Whether a benchmark's signal rows are on one shared problem set (else each run is on its own problems and
    # nothing may join them into a trend).
    signal["shared"] = signal["benchmark"].map(lambda b: bool(shared.get(b))).astype(bool)
    notes += sorted(set(n for n in table["catalog_note"] if n))
    notes += [f"no fit: {f.error}" for f in fits if f.error]
    notes += [f"fit not drawn: {' / '.join(k for k in f.key if k)}: {f.unreliable}" for f in fits if f.unreliable]
    notes += [n for n in signal["note"] if n]
    exchange = exchange_rates(table, fits, extrapolate=extrapolate, queries=queries) if compare else pd.DataFrame()
    if compare and exchange.empty:
        notes.append("no exchange rates: no pair of models with known sizes and an n=1 result on one benchmark")
    pair_rows, allocations, forecasts, matched = [], [], [], []
    for j, cells in enumerate(cell_sets):
        notes += cells.notes
        matched.append(matched_flops(pools, cells, seed=seed))
        for k, (a, b) in enumerate(pairs):
            if isinstance(asked[k, j], str):   # found on another benchmark
                notes.append(f"paired {a} vs {b}: {asked[k, j]}")
            else:
                pair_rows.append(paired(cells, *asked[k, j], seed=seed))
        adj = adjacent_budgets(cells, seed=seed)
        if len(adj):
            pair_rows += adj.assign(kind="adjacent budgets").to_dict("records")
        for run in cells.runs:
            for binning in ["oracle", *sorted(s for r, s in cells.predictors if r == run)]:
                try:
                    allocations.append(allocate(cells, run=run, binning=binning, bins=bins, seed=seed))
                except UserError as e:
                    notes.append(f"no allocation for {run} by {binning}: {e}")
    for r in pools:
        if r.pool is None or forecast_from is None:
            continue
        if forecast_from >= r.pool.n_samples:
            notes.append(f"no forecast for {r.run}: --forecast-from {forecast_from} leaves none of its "
                         f"{r.pool.n_samples} samples to check against")
            continue
        try:
            t, facts = forecast(r.pool.correct, first=forecast_from, n_boot=n_boot, seed=seed)
            forecasts.append((r.run, t.assign(model=r.model, benchmark=r.benchmark), facts))
            if (note := spread_note(r.run, facts)) is not None:
                notes.append(note)
        except UserError as e:
            notes.append(f"no forecast for {r.run}: {e} (a larger --forecast-from sees more samples)")
    paired_df = pd.DataFrame(pair_rows)
    if len(paired_df) and "kind" in paired_df:
        paired_df["kind"] = paired_df["kind"].fillna("asked")
    elif len(paired_df):
        paired_df["kind"] = "asked"
    return Analysis(runs=[str(p) for p in paths], table=table, fits=fits, frontier=frontier(table), exchange=exchange,
                    signal=signal, notes=warnings + notes, queries=queries, extrapolate=extrapolate, overlap=overlap,
                    paired=paired_df, allocations=allocations, forecasts=forecasts, price_per_hour=price_per_hour,
                    levels=levels, warnings=warnings, grid=grid,
                    matched=pd.concat([m for m in matched if len(m)], ignore_index=True)
                    if any(len(m) for m in matched) else pd.DataFrame())


def _overlap(pools, table) -> tuple[pd.DataFrame, dict]:
    """Per benchmark: runs, problems per run and the shared problems (from the pools, else the manifests)."""
    from testtime.store.records import existing_manifest

    per = {}
    by_run = {r.run: r for r in pools}
    for run, path, bench in table[["run", "run_path", "benchmark"]].drop_duplicates("run").itertuples(index=False):
        r = by_run.get(run)
        ids = (set(r.pool.problem_ids) if r is not None and r.pool is not None
               else set(existing_manifest(path).problems))
        per.setdefault(bench, {})[run] = ids
    rows, shared = [], {}
    for bench, runs in per.items():
        common = set.intersection(*runs.values()) if runs else set()
        shared[bench] = tuple(sorted(common))
        rows.append({"benchmark": bench, "runs": len(runs), "shared": len(common),
                     "problems_per_run": [len(v) for v in runs.values()],
                     "detail": ", ".join(f"{r}: {len(v)}" for r, v in runs.items())})
    return pd.DataFrame(rows), shared


def _cells_table(pools, table, shared, *, n_boot, levels, seed, notes):
    """Cells per benchmark (one set on the shared problems; with none shared, one per run on its own problems) and
    the table with the selection rows of runs with samples replaced by the cells' points."""
    out_cells, frames = [], []
    facts_cols = ["run", "model_name", "run_path", "params", "training_tokens", "training_flops", "catalog_note",
                  "device", "seconds_per_token"]
    facts = table.drop_duplicates("run").set_index("run")
    label_of = table.drop_duplicates("run").set_index("run")["model"]
    replaced = set()
    by_bench = {}
    for r in pools:
        if r.pool is not None:
            by_bench.setdefault(r.benchmark, []).append(r)
    for bench, runs in by_bench.items():
        problems = shared.get(bench) or ()
        groups = [(runs, problems)] if problems else [([r], None) for r in runs]
        bench_cells = []
        for group, probs in groups:
            for r in group:
                r.model = label_of.get(r.run, r.model)   # "name [run]" when two runs share a model
            try:
                cells = evaluate_cells(group, problems=probs, n_boot=n_boot, levels=levels, seed=seed)
            except UserError as e:
                notes.append(f"{bench}: no per-problem evaluation: {e}")
                continue
            bench_cells.append(cells)
            pts = points(cells)
            if pts.empty:
                continue
            pts["problem_set"] = "shared" if probs else "own"
            for run in pts["run"].unique():
                replaced.add(run)
            frames.append(pts)
        out_cells.append(bench_cells)
    keep = table[~(table["run"].isin(replaced) & table["budget"].isna())].copy()
    keep["ci_levels"] = "problems (results.json)"
    keep["problem_set"] = "own"
    if frames:
        pts = pd.concat(frames, ignore_index=True)
        pts["ci_levels"] = pts["levels"].map({"both": "problems+samples", "problems": "problems",
                                               "samples": "samples"})
        pts = pts.drop(columns=["levels"])
        for c in facts_cols[1:]:
            pts[c] = pts["run"].map(facts[c]) if c in facts else np.nan
        pts["mc_stderr"] = np.nan
        pts["budget"] = np.nan
        pts["seconds_per_problem"] = pts["tokens_per_problem"] * pts["seconds_per_token"]
        keep = pd.concat([pts, keep], ignore_index=True)
    first = ["run", "model", "model_name", "benchmark", "strategy", "scorer", "n", "budget", "accuracy", "ci_low",
             "ci_high"]
    keep = keep[[*first, *[c for c in keep.columns if c not in first]]]
    keep["scorer"] = keep["scorer"].astype(object).where(keep["scorer"].notna(), None)
    keep["oracle"] = keep["oracle"].astype(bool)
    return out_cells, keep
