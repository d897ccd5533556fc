"""Per-problem accuracy of every (run, strategy, scorer, n) cell on one shared set of problems, with bootstrap
replicates at one or both levels of the experiment: problems drawn from a benchmark, samples drawn per problem.

An accuracy point is a mean over P problems of a per-problem estimate from a pool of N samples, so it varies with
both draws. Three resampling schemes (Davison & Hinkley 1997, "Bootstrap Methods and their Application", section
3.8, call the two-level ones strategies 1 and 2):

    "problems"  resample problems with replacement, keep each problem's pool as it is (one level; what results.json's
                CIs do). It estimates the variance of the mean over a population of problems consistently, since
                each per-problem estimate already carries its pool's noise: by simulation (scripts/ci_coverage.py,
                100 and 200 problems x 8 samples, 1,000 experiments each) its width is 0.96-1.04 of what the spread
                calls for at every k, coverage 0.933-0.953. But it has nothing to resample when every problem's
                estimate is equal (all 0 at a large n), and then gives a zero-width interval.
    "samples"   keep the problems, resample each one's N samples with replacement: the uncertainty of the accuracy on
                *these* problems (a re-run of the same benchmark subset with new samples).
    "both"      problems, then samples within each drawn problem's pool (two levels). A pool redrawn with
                replacement holds only ~63% of its distinct samples, so estimators near n = N (pass@N, best-of-N,
                majority of N) come out lower in the replicates than on the pool: uncentred, the interval misses
                (35% coverage for pass@8 of 8 with 200 problems, scripts/ci_coverage.py). Its intervals are
                therefore centred: the replicates are shifted to have the point estimate as their mean, and give
                the spread only. It is not conservative. At small n it counts the within-problem noise twice
                (inside each resampled estimate, and by redrawing): 6-14% wider than needed at n = 1, coverage
                0.956-0.968. At n = N it can be too narrow, since a redrawn pool's pass@N moves less than a new
                pool's: with p ~ Beta(0.3, 3) (many problems near 0) 6-8% narrower, coverage 0.927 with 200
                problems and 0.918 with 100; with p ~ Beta(0.5, 2) about right (0.957 and 0.935). What it gives
                is an interval that does not collapse to zero width while a pool could have come out otherwise.
                `tests/analysis/test_uncertainty.py` checks these widths against the closed-form spread.

Every cell of a benchmark shares the same problem draws (and, within a run, the same sample draws), so paired
differences, the compute-optimal allocation and the forecasts computed on one replicate are consistent.

Example:
    cells = evaluate_cells(load_pools(["runs/a"]), n_boot=200, levels="both")
    points(cells)          # one row per cell: accuracy, its CI at every level, FLOPs, seconds
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from testtime.analysis.pools import RunPools, subset, take
from testtime.errors import UserError

LEVELS = ("problems", "samples", "both")
MC_DRAWS = 200
"""Monte-Carlo subsets per problem for weighted votes inside bootstrap replicates (the point uses the strategy's
own setting): the replicates average the Monte-Carlo noise away, and 2000 draws x every replicate is slow."""
Key = tuple  # (model, run, strategy, scorer, n)


@dataclass
class Cells:
    """Per-problem accuracy of every cell of one benchmark on its shared problems, with bootstrap replicates."""

    benchmark: str
    problems: tuple[str, ...]
    """The problems every run on the benchmark sampled, in the order of every array below."""
    levels: str
    rows: np.ndarray
    """[B, P] problem indices of each replicate (all cells share them)."""
    point: dict = field(default_factory=dict)
    """Key -> [P] expected accuracy per problem on the stored pool."""
    reps: dict = field(default_factory=dict)
    """Key -> [B, P] per-problem accuracy in each replicate (problems as drawn by `rows`)."""
    flops: dict = field(default_factory=dict)
    """Key -> [P] inference FLOPs per problem."""
    tokens: dict = field(default_factory=dict)
    """Key -> [P] generated tokens per problem."""
    flops_naive: dict = field(default_factory=dict)
    """Key -> [P] FLOPs without prefix caching."""
    oracle: dict = field(default_factory=dict)
    """Key -> whether the strategy reads the gold answer."""
    difficulty: dict = field(default_factory=dict)
    """run -> [P] pass@1 (mean correctness of the pool), and run -> [B, P] under "reps"."""
    difficulty_reps: dict = field(default_factory=dict)
    predictors: dict = field(default_factory=dict)
    """(run, scorer) -> [P] mean stored score per problem (a deployable difficulty estimate)."""
    predictor_reps: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)
    """run -> model."""
    notes: list = field(default_factory=list)
    samples: dict = field(default_factory=dict)
    """Key -> [P] expected samples per problem (n, or fewer for a strategy that stops early)."""
    usage: dict = field(default_factory=dict)
    """Key -> [P, N] each stored sample's expected share of its tokens generated (`Estimate.usage`), for the cost
    models of testtime.analysis.costs."""
    batch: dict = field(default_factory=dict)
    """Key -> [P] samples of a problem decoded side by side (`Estimate.batch`)."""
    cell_levels: dict = field(default_factory=dict)
    """Key -> the levels its replicates resample where they differ from `levels` (a strategy's
    `replicate_levels`: adaptive stopping resamples problems only)."""

    @property
    def n_boot(self) -> int:
        return self.rows.shape[0]

    def replicate_means(self, key: Key) -> np.ndarray:
        """[B] mean accuracy of `key` in each replicate."""
        return self.reps[key].mean(axis=1)


def draws(P: int, B: int, *, seed: int = 0) -> np.ndarray:
    """[B, P] problem indices with replacement (row 0.. of a seeded generator)."""
    return np.random.default_rng(seed).integers(0, P, size=(B, P))


def sample_draws(P: int, N: int, B: int, *, seed: int) -> np.ndarray:
    """[B, P, N] sample indices with replacement within each problem's pool."""
    return np.random.default_rng(seed).integers(0, N, size=(B, P, N))


def evaluate_cells(runs: Sequence[RunPools], *, problems: Sequence[str] | None = None, n_boot: int = 200,
                   levels: str = "both", seed: int = 0, ns: dict | None = None,
                   strategy_options: dict | None = None, strategies: Sequence[str] | None = None) -> Cells:
    """Every run's strategies at every n on the problems all runs share, with bootstrap replicates.

    Args:
        runs: RunPools of one benchmark (those without a pool are skipped with a note).
        problems: the problems to use (default: those every run with a pool sampled).
        n_boot: bootstrap replicates B.
        levels: "problems", "samples" or "both" (module docstring).
        seed: seed of the problem and sample draws.
        ns: run -> the n (samples per problem) to evaluate (default: 1, 2, 4, ... up to the run's N).
        strategy_options: strategy name -> settings, as the run config's strategy_options.
        strategies: the strategy specs ("name" or "name:scorer") to evaluate; default: each run's own and every
            other selection strategy its pool answers (`selection_specs`).

    Returns:
        Cells.

    Raises:
        UserError: runs of two benchmarks, an unknown level, no runs with samples, or no shared problems.

    Example:
        cells = evaluate_cells(load_pools(["runs/a"]), n_boot=100)
    """
    import strategies as _registered  # noqa: F401  (registers the strategies)
    from testtime.store.estimators import sample_counts
    from testtime.pipeline.evaluate import make_strategy

    if levels not in LEVELS:
        raise UserError(f"levels must be one of {', '.join(LEVELS)}; got {levels!r}")
    if n_boot < 1:
        raise UserError(f"n_boot must be at least 1 for bootstrap replicates; got {n_boot}")
    benches = {r.benchmark for r in runs}
    if len(benches) != 1:
        raise UserError(f"evaluate_cells takes runs of one benchmark; got {', '.join(sorted(benches))}")
    have = [r for r in runs if r.pool is not None]
    notes = [f"{r.run}: no stored samples; its points come from results.json only (no paired comparisons, "
             "no two-level CIs)" for r in runs if r.pool is None]
    notes += [f"{r.run}: {len(r.pool.left_out)} problems left out, with fewer samples than the others (e.g. "
              f"{r.pool.left_out[0]}); re-run its command to finish sampling them" for r in have if r.pool.left_out]
    if not have:
        raise UserError("none of the runs has stored samples (samples/part-*.parquet)")
    if problems is None:
        common = set(have[0].pool.problem_ids)
        for r in have[1:]:
            common &= set(r.pool.problem_ids)
        problems = sorted(common)
    problems = tuple(problems)
    if not problems:
        raise UserError(f"the runs on {have[0].benchmark} share no problems: "
                        + ", ".join(f"{r.run} ({r.pool.n_problems})" for r in have))
    P = len(problems)
    rows = draws(P, n_boot, seed=seed) if levels != "samples" else np.tile(np.arange(P), (n_boot, 1))
    cells = Cells(benchmark=have[0].benchmark, problems=problems, levels=levels, rows=rows, notes=notes)
    for k, r in enumerate(have):
        pool = subset(r.pool, problems)
        N = pool.n_samples
        samples = sample_draws(P, N, n_boot, seed=seed + 1 + k) if levels != "problems" else None
        cells.runs[r.run] = r.model
        stored = r.manifest.config.strategy_options if r.manifest.config is not None else {}
        opts = {**stored, **(strategy_options or {})}
        cells.difficulty[r.run] = pool.correct.mean(axis=1)
        cells.difficulty_reps[r.run] = _replicate(pool, rows, samples, levels, lambda p: p.correct.mean(axis=1))
        for scorer in sorted(s for s in pool.scores if s != "oracle"):
            mean = lambda p, s=scorer: np.nanmean(np.where(np.isfinite(p.scores[s]), p.scores[s], np.nan), axis=1)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                # A problem with no finite score has a NaN mean (allocate bins it at the median and says so).
                warnings.simplefilter("ignore", RuntimeWarning)
                cells.predictors[(r.run, scorer)] = mean(pool)
                cells.predictor_reps[(r.run, scorer)] = _replicate(pool, rows, samples, levels, mean)
        wanted = [n for n in sorted(set((ns or {}).get(r.run) or sample_counts(N))) if 1 <= n <= N]
        specs = strategies if strategies is not None else [*r.strategies, *selection_specs(pool)]
        for spec in dict.fromkeys(specs):
            try:
                strategy = make_strategy(spec, options=opts)
                if strategy.kind != "selection":
                    continue
                strategy.evaluate(pool, 1)
            except UserError as e:
                cells.notes.append(f"{r.run}: {spec} not re-evaluated from the samples: {e}")
                continue
            quick = (dataclasses.replace(strategy, n_draws=MC_DRAWS)
                     if "n_draws" in {f.name for f in dataclasses.fields(strategy)} else strategy)
            own = getattr(strategy, "replicate_levels", None)   # adaptive stopping: problems only (slow to redo)
            lv = "problems" if own == "problems" and levels != "samples" else levels
            for n in wanted:
                key = (r.model, r.run, strategy.name, strategy.scorer, n)
                est = strategy.evaluate(pool, n)
                cells.point[key] = np.asarray(est.accuracy, float)
                cells.flops[key] = np.asarray(est.flops, float)
                cells.tokens[key] = np.asarray(est.tokens, float)
                cells.flops_naive[key] = np.asarray(est.flops_naive, float)
                cells.oracle[key] = bool(strategy.reads_gold)
                cells.samples[key] = np.broadcast_to(np.asarray(est.samples if est.samples is not None else n,
                                                                float), (P,))
                if est.usage is not None:
                    cells.usage[key], cells.batch[key] = est.usage, est.batch
                if lv != levels:
                    cells.cell_levels[key] = lv
                cells.reps[key] = _replicate(pool, rows, samples, lv,
                                             lambda p, n=n: quick.evaluate(p, n).accuracy,
                                             point=cells.point[key])
    return cells


ADAPTIVE = ("adaptive_consistency", "esc", "supermajority", "beta_sc", "short_m_at_k")
"""The adaptive stopping strategies every pool answers (strategies/; their default settings)."""


def selection_specs(pool) -> list[str]:
    """Every selection strategy a pool answers: majority vote, pass@k, best-of-n and weighted majority by each
    stored scorer (the oracle's best-of-n is pass@k, so it is left out), and the adaptive stopping rules."""
    scorers = sorted(s for s in pool.scores if s != "oracle")
    return ["majority_vote", "pass_at_k", *(f"best_of_n:{s}" for s in scorers),
            *(f"weighted_majority:{s}" for s in scorers), *ADAPTIVE]


def _replicate(pool, rows, samples, levels, fn, point=None, chunk_rows: int = 1 << 14) -> np.ndarray:
    """[B, P] of fn (a per-problem array of a pool) on each replicate's pool."""
    B, P = rows.shape
    if levels == "problems":
        base = fn(pool) if point is None else point
        return np.asarray(base, float)[rows]
    # Replicate b's problem at position j gets the sample draw samples[b, j] (indices into its own pool).
    flat_rows, flat_samples = rows.ravel(), samples.reshape(B * P, -1)
    out = np.empty(B * P)
    step = max(P, chunk_rows // max(pool.n_samples, 1) // P * P)
    for s in range(0, B * P, step):
        out[s:s + step] = fn(take(pool, flat_rows[s:s + step], flat_samples[s:s + step]))
    return out.reshape(B, P)


def interval(values: np.ndarray, level: float = 0.95, *, centre: float | None = None) -> tuple[float, float]:
    """Percentile interval of bootstrap replicate values; with `centre`, the replicates are first shifted so that
    their mean is the point estimate (see `centred`)."""
    values = np.asarray(values, float)
    if centre is not None:
        values = values - values.mean() + centre
    tail = (1 - level) / 2
    lo, hi = np.quantile(values, [tail, 1 - tail])
    return float(lo), float(hi)


def points(cells: Cells, *, level: float = 0.95) -> pd.DataFrame:
    """One row per cell: accuracy on the shared problems, its CI from the replicates (cells.levels) and from
    problems alone, FLOPs and tokens per problem.

    Returns:
        DataFrame: benchmark, model, run, strategy, scorer, n, oracle, problems, accuracy, ci_low, ci_high (at
        cells.levels), ci1_low, ci1_high (problems only), flops_per_problem, tokens_per_problem, levels.
    """
    rows = []
    one = draws(len(cells.problems), cells.n_boot, seed=12345)
    for key, acc in cells.point.items():
        model, run, strategy, scorer, n = key
        levels = cells.cell_levels.get(key, cells.levels)
        lo, hi = interval(cells.replicate_means(key), level,
                          centre=None if levels == "problems" else float(acc.mean()))
        lo1, hi1 = interval(acc[one].mean(axis=1), level)
        rows.append({"benchmark": cells.benchmark, "model": model, "run": run, "strategy": strategy, "scorer": scorer,
                     "n": n, "oracle": cells.oracle[key], "problems": len(cells.problems),
                     # Centred replicates can fall below 0 or above 1, even past the point (all 0 at N, say).
                     "accuracy": float(acc.mean()), "ci_low": min(max(0.0, lo), float(acc.mean())),
                     "ci_high": max(min(1.0, hi), float(acc.mean())),
                     "ci1_low": lo1, "ci1_high": hi1, "flops_per_problem": float(cells.flops[key].mean()),
                     "flops_per_problem_naive": float(cells.flops_naive[key].mean()),
                     "tokens_per_problem": float(cells.tokens[key].mean()), "levels": levels,
                     "expected_samples": float(cells.samples[key].mean()) if key in cells.samples else float(n)})
    return pd.DataFrame(rows)
