"""The analysis as one object: every table `analyze` computed, how it saves them, and how it shows them.

Example:
    result = analyze(["runs/a", "runs/b"], compare=True)
    result.exchange       # one row per (small, large, strategy)
    result.save_tables("runs/analysis/a-vs-b")
    rich.print(result)    # warnings, one titled table per section (`sections.py`), notes
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from rich.console import Group

from testtime.analysis.fits import CurveFit, curve_points, fits_table
from testtime.analysis.sections import rich_tables
from testtime.files import atomic_write


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
    cost_frontiers: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The frontier under each cost the runs have (FLOPs, eFLOPs, device-seconds, seconds per request, dollars;
    `costs.py`)."""
    cost_choices: pd.DataFrame = field(default_factory=pd.DataFrame)
    """At each accuracy a frontier reaches, the cheapest cell under each cost, and whether they agree."""
    stability: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per run and k: pass@k, pass^k, G-Pass@k_tau and mG-Pass@k with CIs (`stability.py`)."""
    ranks: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per n, each cell's rank by accuracy with its bootstrap interval (`stability.py`)."""
    cost_model: object = None
    """The CostModel the eFLOPs and per-token dollars were computed with."""

    def __rich__(self) -> Group:
        """Rich's protocol: the warnings, one titled table per non-empty section in reading order, the notes."""
        return Group(*rich_tables(self))

    def save_tables(self, out: str | Path) -> list[Path]:
        """Write points, fits, curves, frontier, exchange, signal, overlap, paired, allocation, forecast, matched,
        grid (grid, grid_frontier), cost_frontiers, cost_choices, stability and ranks tables as CSV and Parquet
        under `out`, atomically.

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
                  ("matched", self.matched), ("grid", self.grid), ("cost_frontiers", self.cost_frontiers),
                  ("cost_choices", self.cost_choices), ("stability", self.stability), ("ranks", self.ranks),
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

