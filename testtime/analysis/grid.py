"""The sequential x parallel grid: selection strategies applied to a generation strategy's samples at each budget,
so that thinking longer (the budget B) and sampling more (n) are two axes of one compute budget, each point priced
in inference FLOPs per problem, with the Pareto frontier of the (B, n) points per selection strategy.

Only generation strategies whose records at one budget are independent samples per problem qualify
(`independent_samples`; of those registered, budget forcing: s1, Muennighoff et al. 2025). A search's or a vote's
records (beam search, DVTS, particle filtering, REBASE, online DeepConf, sequential revisions) are one chosen answer
or the candidates of one search, and are left out.

The points come from `testtime.pipeline.evaluate.evaluate_grid`, the code the runner writes results.json's grid
rows with (same estimators, one-level bootstrap CIs over problems with the run's own seed and resamples, FLOPs of
one shared prefill plus n times the budget's mean sample), re-evaluated from the stored samples so that runs made
before the grid existed get it too: with the run's `select` setting when it has one, else every selection strategy
the samples answer (majority vote, pass@k, best-of-n and weighted majority by each stored score: logprob, and the
oracle's pass@k). A run without stored samples contributes the grid rows of its results.json, if any.

Example:
    grid, notes = grid_points(load_pools(["runs/bf"]), load_runs(["runs/bf"]))
    grid[grid["frontier"]]      # the compute-optimal (B, n) of each selection strategy
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from testtime.analysis.frontier import frontier
from testtime.analysis.pools import RunPools, subset
from testtime.analysis.runs import series
from testtime.config import RunConfig
from testtime.errors import UserError

GRID_KEY = ["run", "generation", "strategy", "scorer"]
"""One panel of the grid: a selection strategy (with its scorer) over one run's generation strategy."""


def grid_points(runs: Sequence[RunPools], results: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Every run's grid, one row per (run, generation, strategy, scorer, budget, n), with a `frontier` column.

    Args:
        runs: `load_pools`' RunPools (their generation strategies' samples per budget).
        results: `load_runs`' table of the same runs (labels, and the grid rows of runs without samples: those with
            a `generation`).

    Returns:
        (DataFrame with run, model, benchmark, then ResultRow's fields (generation, strategy, scorer, budget,
        budget_unit, n, accuracy, ci_low, ci_high, tokens_per_problem, flops_per_problem, ..., oracle) and
        frontier (on the Pareto front of its panel: no cheaper point of the panel is as accurate), notes).

    Example:
        grid, notes = grid_points(load_pools(["runs/bf"]), load_runs(["runs/bf"]))
    """
    from testtime.store.records import Results

    labels = results.drop_duplicates("run").set_index("run")["model"] if len(results) else pd.Series(dtype=object)
    frames, notes, done = [], [], set()
    for r in runs:
        by_strategy: dict[str, dict] = {}
        for (name, budget), pool in r.generated.items():
            by_strategy.setdefault(name, {})[budget] = pool
        for name, pools in by_strategy.items():
            try:
                rows, note = _run_grid(r, name, pools)
            except UserError as e:
                notes.append(f"{r.run}: no {name} grid: {e}")
                continue
            if note:
                notes.append(note)
            if rows:
                df = Results(rows=rows).to_pandas()
                df.insert(0, "run", r.run)
                df.insert(1, "model", labels.get(r.run, r.model))
                df.insert(2, "benchmark", r.benchmark)
                frames.append(df)
                done.add((r.run, name))
    if len(results) and "generation" in results:
        stored = results[results["generation"].notna()]
        stored = stored[[(run, g) not in done for run, g in zip(stored["run"], stored["generation"])]]
        if len(stored):
            frames.append(stored)
    if not frames:
        return pd.DataFrame(), notes
    grid = pd.concat(frames, ignore_index=True)
    grid["scorer"] = grid["scorer"].astype(object).where(grid["scorer"].notna(), None)
    grid["oracle"] = grid["oracle"].astype(bool)
    return mark_frontier(grid), notes


def _run_grid(r: RunPools, name: str, pools: dict) -> tuple[list, str | None]:
    """One run's grid rows for its generation strategy `name` (empty when the strategy does not qualify)."""
    import strategies as _registered  # noqa: F401  (registers the strategies)
    from testtime.pipeline.evaluate import evaluate_grid, make_strategy
    from testtime.registry import get

    try:
        cls = get("strategy", name)
    except UserError:
        return [], None
    if cls.kind != "generation" or not cls.independent_samples:
        return [], None
    cfg = r.manifest.config
    options = cfg.strategy_options if cfg is not None else {}
    try:
        generation = make_strategy(name, options=options)
    except UserError:   # settings this version does not know: the grid needs only the name and the samples
        generation = cls()
    common = set.intersection(*(set(p.problem_ids) for p in pools.values()))
    if not common:
        raise UserError("its budgets share no problem with all samples stored")
    ids = sorted(common)
    pools = {b: subset(p, ids) for b, p in pools.items()}
    first = next(iter(pools.values()))
    scored = sorted(s for s, v in first.scores.items() if s != "oracle" and np.isfinite(v).any())
    specs = generation.grid_select or ["majority_vote", *(f"best_of_n:{s}" for s in scored),
                                       *(f"weighted_majority:{s}" for s in scored), "pass_at_k"]
    selections, skipped = [], []
    for spec in specs:
        try:
            s = make_strategy(spec, "logprob", options)
            if s.kind != "selection":
                raise UserError(f"{spec!r} is not a selection strategy")
            s.evaluate(first, 1)
            selections.append(s)
        except UserError as e:
            skipped.append(f"{spec} ({e})")
    cfg = cfg or RunConfig()   # a manifest without a readable config: the default resamples and seed
    rows = evaluate_grid(generation, pools, selections, n_boot=cfg.bootstrap,
                         seed=cfg.bootstrap_seed) if selections else []
    note = f"{r.run}: {name} grid without {'; '.join(skipped)}" if skipped else None
    return rows, note


def mark_frontier(grid: pd.DataFrame) -> pd.DataFrame:
    """The grid with a `frontier` column: per panel (`GRID_KEY`), the (budget, n) points that no cheaper point of
    the panel matches in accuracy (`testtime.analysis.frontier.frontier` on inference FLOPs per problem)."""
    grid = grid.copy()
    grid["frontier"] = False
    grid["_row"] = np.arange(len(grid))
    for _, g in series(grid, GRID_KEY):
        front = frontier(g, include_oracles=True)   # within one panel, the pass@k panel is its own bound
        grid.loc[grid["_row"].isin(front["_row"]), "frontier"] = True
    return grid.drop(columns="_row")
