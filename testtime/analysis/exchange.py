"""Small vs large model: the iso-accuracy exchange rate and the break-even query volume.

`exchange_rates` gives, for every pair of models on a benchmark, how many times the inference FLOPs of the larger
model's single sample the smaller model needs to reach the same accuracy, beside the ratio of their training
compute; `break_even_queries` is the query volume at which the two cost the same in total (training + queries x
inference; Sardana & Frankle 2023, "Beyond Chinchilla-Optimal: Accounting for Inference in Language Model Scaling
Laws", section 3).

Example:
    table = load_runs(["runs/small", "runs/large"])
    exchange_rates(table, fit_curves(table), queries=1e9)
    break_even_queries(1e21, 4e10, 7e22, 1e10)        # (2.3e12, "smaller model cheaper below Q*, larger above")
"""

from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np
import pandas as pd

from testtime.analysis.fits import CurveFit
from testtime.analysis.runs import matches, series

EXTRAPOLATE_FACTOR = 1e3
"""With extrapolation on, a fitted curve is followed up to this multiple of the largest measured point."""


def total_compute(training_flops, flops_per_query, queries):
    """Lifetime compute of a deployed model: training + queries x inference FLOPs per query (Sardana & Frankle
    2023 count 6ND training plus 2N per inference token; here inference FLOPs are the measured ones).

    Args:
        training_flops: training compute (scalar or array).
        flops_per_query: inference FLOPs per query.
        queries: expected queries Q.

    Returns:
        Total FLOPs, broadcast over the arguments.
    """
    return np.asarray(training_flops, float) + np.asarray(queries, float) * np.asarray(flops_per_query, float)


def break_even_queries(train_small: float, infer_small: float, train_large: float,
                       infer_large: float) -> tuple[float, str]:
    """The query volume Q* at which the two models' total compute is equal, and what it means.

    Solves train_small + Q infer_small = train_large + Q infer_large: Q* = (train_large - train_small) /
    (infer_small - infer_large), with infer_* the inference FLOPs per query at equal accuracy.

    Args:
        train_small, infer_small: the smaller model's training FLOPs and inference FLOPs per query.
        train_large, infer_large: the larger model's.

    Returns:
        (Q*, verdict): Q* is inf when the smaller model is cheaper at every volume, 0 when the larger one is, NaN
        when a figure is unknown.

    Example:
        break_even_queries(1e21, 4e10, 7e22, 1e10)   # (2.3e12, "smaller model cheaper below Q*, larger above")
    """
    figures = (train_small, infer_small, train_large, infer_large)
    if not all(np.isfinite(v) for v in figures):
        return np.nan, "unknown (a training or inference figure is missing)"
    saved, extra = train_large - train_small, infer_small - infer_large
    if saved > 0 and extra > 0:
        return saved / extra, "smaller model cheaper below Q*, larger above"
    if saved > 0 or (saved == 0 and extra < 0):
        return np.inf, "smaller model cheaper at every volume"
    if extra < 0:
        return saved / extra, "larger model cheaper below Q*, smaller above"
    if saved == 0 and extra == 0:
        return np.nan, "equal cost at every volume"
    return 0.0, "larger model cheaper at every volume"


def reach_flops(flops, accuracy, target: float, *, fit: CurveFit | None = None, extrapolate: bool = False) -> dict:
    """Inference FLOPs at which a series first reaches `target` accuracy.

    Within the measured range: the first point at or above the target, interpolated linearly in log FLOPs from
    the point before it (no fit needed, so no form is assumed). Beyond it, only with `extrapolate=True` and a
    fitted curve: the fit is followed up to EXTRAPOLATE_FACTOR x the largest point, and the status says so.

    Args:
        flops: inference FLOPs per problem at each point.
        accuracy: accuracy at each point.
        target: the accuracy to reach.
        fit: the series' CurveFit, for extrapolation.
        extrapolate: follow the fit beyond the measured range.

    Returns:
        dict with flops (NaN when not reached), status ("reached at the smallest point", "interpolated",
        "not reached within the measured range", "extrapolated (<form>)", or "not reached by the <form> fit up to
        1000x the largest point").

    Example:
        reach_flops([1e10, 2e10, 4e10], [0.2, 0.3, 0.45], 0.4)   # {"flops": 3.17e10, "status": "interpolated"}
    """
    order = np.argsort(flops)
    x, y = np.asarray(flops, float)[order], np.asarray(accuracy, float)[order]
    c = _crossing(x, y, target)
    if np.isfinite(c):
        return {"flops": c, "status": "reached at the smallest point" if c == x[0] else "interpolated"}
    if not extrapolate or fit is None or fit.estimator is None:
        return {"flops": np.nan, "status": "not reached within the measured range"}
    grid = np.geomspace(x[-1], x[-1] * EXTRAPOLATE_FACTOR, 2000)
    c = _crossing(grid, fit.estimator.predict(grid), target)
    if np.isfinite(c):
        return {"flops": c, "status": f"extrapolated ({fit.form})"}
    return {"flops": np.nan, "status": f"not reached by the {fit.form} fit up to {EXTRAPOLATE_FACTOR:.0f}x the "
                                       "largest point"}


def _crossing(x, y, target) -> float:
    hit = np.flatnonzero(y >= target - 1e-9)  # equal accuracies can differ in the last bit between estimators
    if not len(hit):
        return np.nan
    i = hit[0]
    if i == 0 or y[i] == y[i - 1]:
        return float(x[i])
    t = min(max((target - y[i - 1]) / (y[i] - y[i - 1]), 0.0), 1.0)
    return float(np.exp(np.log(x[i - 1]) + t * (np.log(x[i]) - np.log(x[i - 1]))))


def exchange_rates(table: pd.DataFrame, fits: Sequence[CurveFit] = (), *, extrapolate: bool = False,
                   queries: float | None = None) -> pd.DataFrame:
    """For every pair of models on a benchmark (smaller N first) and every strategy of the smaller one: the
    inference FLOPs it needs to match the larger model's single-sample (n=1) accuracy, as a multiple of the
    larger model's n=1 FLOPs, beside their training-compute ratio and the break-even query volume.

    The target is the larger model's n=1 accuracy under the same strategy and scorer (at n=1 every selection
    strategy is one sample; its mean over strategies when the larger run lacks that one). The bounds flops_low /
    flops_high are where the smaller model's CI (ci_high, ci_low) crosses the target: NaN when that edge is not
    reached within the measured range.

    Args:
        table: `load_runs`' table.
        fits: `fit_curves`' fits, followed beyond the measured range when `extrapolate` is on.
        extrapolate: let the smaller model's need follow its fitted curve (flagged in status).
        queries: expected queries Q; adds each model's total compute at that volume.

    Returns:
        One row per (benchmark, small, large, strategy, scorer) with the target, the FLOPs needed and their CI
        bounds, status, flops_multiplier, training figures and ratio, break_even_queries and verdict.

    Example:
        rates = exchange_rates(load_runs(["runs/small", "runs/large"]))
    """
    fit_of = {f.key: f for f in fits}
    rows = []
    for bench, b in table.groupby("benchmark", sort=False):
        sizes = b.groupby("model", sort=False)["params"].first()
        for m1, m2 in combinations(sizes.index, 2):
            if not (np.isfinite(sizes[m1]) and np.isfinite(sizes[m2])):
                continue  # load_runs' catalog_note says why
            small, large = (m1, m2) if sizes[m1] <= sizes[m2] else (m2, m1)
            # A single plain sample: n=1 of a selection strategy (generation strategies report n=1 at every budget).
            L = b[(b["model"] == large) & (b["n"] == 1) & b["budget"].isna()]
            if L.empty:
                continue
            smalls = b[b["model"] == small].sort_values("flops_per_problem")
            for (strategy, scorer), s in series(smalls, ["strategy", "scorer"]):
                same = L[(L["strategy"] == strategy) & matches(L["scorer"], scorer)]
                ref = same if len(same) else L
                target, large_flops = float(ref["accuracy"].mean()), float(ref["flops_per_problem"].mean())
                x = s["flops_per_problem"].to_numpy()
                reach = reach_flops(x, s["accuracy"], target, fit=fit_of.get((small, bench, strategy, scorer)),
                                    extrapolate=extrapolate)
                t_small, t_large = float(s["training_flops"].iloc[0]), float(L["training_flops"].iloc[0])
                q, verdict = break_even_queries(t_small, reach["flops"], t_large, large_flops)
                if np.isnan(reach["flops"]) and np.isfinite(t_small) and np.isfinite(t_large):
                    verdict = "larger model: the smaller one does not reach its accuracy" + (
                        "" if extrapolate else " in the measured range (--extrapolate follows the fit)")
                row = {"benchmark": bench, "small": small, "large": large, "strategy": strategy, "scorer": scorer,
                       "target_accuracy": target, "target_ci_low": float(ref["ci_low"].mean()),
                       "target_ci_high": float(ref["ci_high"].mean()), "large_flops_n1": large_flops,
                       "small_flops_needed": reach["flops"],
                       "flops_low": _crossing(x, s["ci_high"].to_numpy(), target),
                       "flops_high": _crossing(x, s["ci_low"].to_numpy(), target), "status": reach["status"],
                       "flops_multiplier": reach["flops"] / large_flops, "training_flops_small": t_small,
                       "training_flops_large": t_large, "training_ratio": t_large / t_small,
                       "params_ratio": float(sizes[large] / sizes[small]), "break_even_queries": q,
                       "verdict": verdict}
                if queries is not None:
                    row["queries"] = float(queries)
                    row["total_small"] = float(total_compute(t_small, reach["flops"], queries))
                    row["total_large"] = float(total_compute(t_large, large_flops, queries))
                rows.append(row)
    return pd.DataFrame(rows)
