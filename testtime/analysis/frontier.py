"""The compute-optimal frontier: the (model, strategy, n or budget) points that no other point beats on both accuracy
and compute, per benchmark. Strategies that read the gold answer (`oracle`: pass@k, best-of-n by oracle) are upper
bounds, not choices, and stay off it unless asked for.

Example:
    frontier(load_runs(["runs/a", "runs/b"]))                  # inference FLOPs per problem
    frontier(table, queries=1e9)                              # + training amortised over 1e9 queries
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def frontier(table: pd.DataFrame, *, queries: float | None = None, include_oracles: bool = False,
             x: str = "flops_per_problem") -> pd.DataFrame:
    """The Pareto front of accuracy against compute per query, per benchmark.

    Args:
        table: load_runs' table (benchmark, accuracy, flops_per_problem, training_flops and oracle columns).
        queries: when given, compute per query includes training amortised over that many queries
            (training_flops / queries + inference FLOPs); points with unknown training compute drop out.
        include_oracles: keep strategies that read the gold answer (pass@k): upper bounds, not choices.
        x: the cost column: flops_per_problem, seconds_per_problem or dollars_per_problem (queries needs FLOPs).

    Returns:
        The frontier rows, cheapest first, with a compute_per_query column; strictly rising accuracy.

    Example:
        frontier(load_runs(["runs/a", "runs/b"]))
    """
    t = table if include_oracles else table[~table["oracle"].astype(bool)]
    if queries is not None and x != "flops_per_problem":
        raise ValueError("amortising training over queries needs the FLOPs axis")
    t = t.assign(compute_per_query=t[x] + (0 if queries is None else t["training_flops"] / queries))
    t = t[np.isfinite(t["compute_per_query"]) & np.isfinite(t["accuracy"])]
    keep = []
    for _, b in t.groupby("benchmark", sort=False):
        best = -np.inf
        for i, row in b.sort_values(["compute_per_query", "accuracy"], ascending=[True, False]).iterrows():
            # A tolerance: exact estimators give 0.05 at one n and 0.05000000000000001 at the next.
            if row["accuracy"] > best + 1e-9:
                keep.append(i)
                best = row["accuracy"]
    return t.loc[keep].reset_index(drop=True)
