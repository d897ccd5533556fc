"""The analyzer: stored runs -> one tidy table, accuracy-vs-compute fits, the frontier, small-vs-large exchange
rates, the continuous (gold-likelihood) signal, paired comparisons, the compute-optimal allocation by difficulty and
pass@k forecasts, beside training-compute laws and a model catalogue. It reads what the runner stored (results,
manifest and per-problem summary through `testtime.store.records`, the samples' arrays through `pools.py`),
never the runner's `Store`.

    runs.py        load_runs: results rows + catalog facts -> one table     fits.py      curve fits per series
    analyze.py     analyze: runs -> an Analysis, calling the modules below  result.py    Analysis, save_tables
    pools.py       a run's samples as Pools; the problems runs share        curves.py    curve families (estimators)
    uncertainty.py per-problem cells on shared problems, two-level bootstrap paired.py    paired comparisons
    allocation.py  compute-optimal choice per difficulty bin (Snell 2024)   forecast.py  pass@k beyond N (Beta fit)
    grid.py        thinking budget x samples: selection over budget forcing's samples, and its frontier
    matched.py     generation strategies beside selection strategies at matched FLOPs, paired
    exchange.py    exchange rates, break-even query volume, total compute   frontier.py  the Pareto front
    signal.py      pass/fail beside the gold answer's log-probability       laws.py      Kaplan, Chinchilla, Epoch
    catalog.py     N, D of open models                                      sections.py  the Analysis as titled tables

`analyze` (analyze.py) runs them all and returns an `Analysis` (result.py), which prints itself (`rich.print`).

Example:
    result = analyze(["runs/a", "runs/b"], compare=True, queries=1e9)
    result.table          # pandas DataFrame, one row per (model, benchmark, strategy, scorer, n)
    result.exchange       # one row per (small, large, strategy)
    result.save_tables("runs/analysis/a-vs-b")
"""

from __future__ import annotations

from testtime.analysis.allocation import Allocation, allocate
from testtime.analysis.analyze import SMALL_OVERLAP, analyze
from testtime.analysis.catalog import CATALOG, law_loss, lookup, training_flops
from testtime.analysis.exchange import break_even_queries, exchange_rates, reach_flops, total_compute
from testtime.analysis.fits import CurveFit, curve_points, fit_curve, fit_curves, fits_table
from testtime.analysis.forecast import BetaBinomial, forecast
from testtime.analysis.grid import grid_points, mark_frontier
from testtime.analysis.frontier import frontier
from testtime.analysis.matched import matched_flops
from testtime.analysis.laws import (BESIROGLU2024, CHINCHILLA, CHINCHILLA_UNROUNDED, KAPLAN2020, LAWS, Kaplan2020,
                                    ParametricLaw, allocation_table)
from testtime.analysis.paired import adjacent_budgets, find_cell, paired, paired_difference
from testtime.analysis.pools import load_pools, shared_problems
from testtime.analysis.result import Analysis
from testtime.analysis.runs import KEY, label, load_runs, model_facts
from testtime.analysis.signal import continuous_metric
from testtime.analysis.uncertainty import LEVELS, Cells, evaluate_cells, points

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
