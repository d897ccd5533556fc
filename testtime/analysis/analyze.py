"""`analyze`: stored runs -> an `Analysis`. It loads the runs, re-evaluates their pools on the problems they share,
fits every series, finds the frontier, compares cells pairwise, allocates compute by difficulty, forecasts pass@k
and (compare=True) the small-vs-large exchange rates, each through its own module of testtime/analysis/.

Example:
    result = analyze(["runs/a", "runs/b"], compare=True, queries=1e9)
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from testtime.analysis.allocation import adjust_verdicts, allocate
from testtime.analysis.costs import CostModel, add_costs, cell_costs, cost_choices, cost_frontiers, \
    disagreement_notes, weights_note
from testtime.analysis.exchange import exchange_rates
from testtime.analysis.fits import fit_curves
from testtime.analysis.forecast import forecast, spread_note
from testtime.analysis.grid import grid_points
from testtime.analysis.frontier import frontier
from testtime.analysis.matched import matched_flops
from testtime.analysis.multiplicity import holm
from testtime.analysis.paired import adjacent_budgets, find_pairs, paired
from testtime.analysis.pools import load_pools, subset
from testtime.analysis.result import Analysis
from testtime.analysis.runs import load_runs
from testtime.analysis.signal import continuous_metric
from testtime.analysis.stability import rank_intervals, stability_table
from testtime.analysis.uncertainty import LEVELS, evaluate_cells, points
from testtime.errors import UserError


SMALL_OVERLAP = 10
"""Fewer shared problems than this (or under half of the smallest run's) draws a warning."""


def analyze(paths: Sequence[str | Path], *, compare: bool = False, queries: float | None = None,
            extrapolate: bool = False, n_boot: int = 200, seed: int = 0, levels: str = "both",
            pairs: Sequence[tuple[str, str]] = (), bins: int = 3, forecast_from: int | None = 8,
            price_per_hour: float | None = None, samples: bool = True, cost_model: CostModel | None = None
            ) -> Analysis:
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
        cost_model: how cells are costed beyond FLOPs (eFLOPs' device, decode batch and prefix sharing; per-token
            prices); default CostModel().

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
    try:
        cost_model = cost_model or CostModel()
    except ValueError as e:
        raise UserError(str(e)) from None
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
    costs = [cell_costs(cells, [r for r in pools if r.benchmark == cells.benchmark], cost_model)
             for cells in cell_sets]
    table = add_costs(table, pd.concat(costs, ignore_index=True) if costs else pd.DataFrame())
    fronts, choices = cost_frontiers(table), cost_choices(table)
    if np.isfinite(table["eflops_per_problem"]).any():
        notes.append(weights_note(cost_model))
    notes += disagreement_notes(choices)
    stability = pd.concat([stability_table(subset(r.pool, cells.problems).correct, run=r.run, n_boot=max(n_boot, 1),
                                           seed=seed).assign(model=cells.runs[r.run], benchmark=cells.benchmark)
                           for cells in cell_sets for r in pools
                           if r.run in cells.runs and r.pool is not None], ignore_index=True) \
        if cell_sets else pd.DataFrame()
    ranks = pd.concat([rank_intervals(c) for c in cell_sets], ignore_index=True) if cell_sets else pd.DataFrame()
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
                    notes += allocations[-1].notes
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
    # Holm over each family (testtime/analysis/multiplicity.py): the asked comparisons, the adjacent n, the
    # matched-FLOPs rows, and every allocation's "no gain" test.
    if len(paired_df):
        paired_df["p_holm"] = paired_df.groupby("kind")["p_value"].transform(lambda p: holm(p.to_numpy()))
    adjust_verdicts(allocations)
    matched = pd.concat([m for m in matched if len(m)], ignore_index=True) if any(len(m) for m in matched) \
        else pd.DataFrame()
    if len(matched):
        matched["p_holm"] = holm(matched["p_value"].to_numpy())
    return Analysis(runs=[str(p) for p in paths], table=table, fits=fits, frontier=frontier(table), exchange=exchange,
                    signal=signal, notes=warnings + notes, queries=queries, extrapolate=extrapolate, overlap=overlap,
                    paired=paired_df, allocations=allocations, forecasts=forecasts, price_per_hour=price_per_hour,
                    levels=levels, warnings=warnings, grid=grid, cost_frontiers=fronts, cost_choices=choices,
                    stability=stability, ranks=ranks, cost_model=cost_model, matched=matched)


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
