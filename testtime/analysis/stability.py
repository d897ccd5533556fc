"""Stability: how reliably a model answers, not only whether one of k samples does, and how sure a ranking is.

Per problem with c correct of N stored samples, exactly from the pool (drawing k of the N without replacement, the
number correct is hypergeometric):

    pass@k           1 - C(N-c, k)/C(N, k): at least one of k correct (Chen et al. 2021)
    pass^k           C(c, k)/C(N, k): all k correct (evalscope's pass^k; tau-bench's)
    G-Pass@k_tau     P(at least ceil(tau k) of k correct) (OpenCompass, Liu et al. 2024, arXiv:2412.13147;
                     open-compass/GPassK: hypergeom.sf(m - 1, N, c, k), m = max(ceil(k tau), 1)); tau = 0 is pass@k,
                     tau = 1 is pass^k
    mG-Pass@k        (2/k) sum over i = ceil(k/2) + 1 .. k of G-Pass@k_{i/k}, the area under G-Pass@k_tau for tau in
                     [0.5, 1] (GPassK's compute_mg_pass_at_k; 0 at k = 1, as there)
each averaged over problems with a bootstrap CI over problems.

Rank intervals (as MathArena gives them across models): in each replicate of the two-level bootstrap
(testtime.analysis.uncertainty), every (run, strategy, scorer) at one n is ranked by its mean accuracy (1 = best,
ties sharing the average rank); the interval is the 2.5 and 97.5 percentiles of its ranks. Replicates draw the same
problems for every cell, so ranks within a replicate are of one experiment.

Example:
    stability_table(pool.correct, run="r")        # one row per k
    rank_intervals(cells)                         # one row per (n, cell)
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import hypergeom, rankdata

from testtime.analysis.runs import label
from testtime.store.estimators import bootstrap_ci, pass_at_k, sample_counts

TAUS = (0.25, 0.5, 0.75, 1.0)
"""The thresholds OpenCompass reports beside tau = 0 (pass@k)."""


def g_pass_at_k(n_correct, N: int, k: int, tau: float) -> np.ndarray:
    """[P] G-Pass@k_tau per problem: P(at least max(ceil(k tau), 1) of k samples drawn from N are correct)."""
    c = np.asarray(n_correct)
    m = max(math.ceil(k * tau - 1e-12), 1)
    return np.where(m > np.minimum(c, k), 0.0, hypergeom.sf(m - 1, N, c, k))


def pass_hat_k(n_correct, N: int, k: int) -> np.ndarray:
    """[P] pass^k per problem: C(c, k)/C(N, k), all k of k correct."""
    return g_pass_at_k(n_correct, N, k, 1.0)


def mg_pass_at_k(n_correct, N: int, k: int) -> np.ndarray:
    """[P] mG-Pass@k per problem: (2/k) sum_{i = ceil(k/2)+1}^{k} G-Pass@k_{i/k}."""
    c = np.asarray(n_correct)
    total = np.zeros(c.shape)
    for i in range(math.ceil(k * 0.5) + 1, k + 1):
        total += np.where(i > np.minimum(c, k), 0.0, hypergeom.sf(i - 1, N, c, k))
    return 2 * total / k


def stability_table(correct: np.ndarray, *, run: str = "", ks=None, n_boot: int = 1000, seed: int = 0
                    ) -> pd.DataFrame:
    """One row per k (default 1, 2, 4, ..., N): pass@k, pass^k, G-Pass@k_tau for TAUS and mG-Pass@k, each the mean
    over problems with its 95% bootstrap CI (columns <metric>, <metric>_low, <metric>_high).

    Args:
        correct: [P, N] bool, the pool's gold correctness.
        run: the run's id, for the table.
        ks: the k to report.
        n_boot: bootstrap resamples over problems.
        seed: their seed.
    """
    correct = np.asarray(correct, bool)
    P, N = correct.shape
    c = correct.sum(axis=1)
    rows = []
    for k in ks or sample_counts(N):
        metrics = {"pass@k": pass_at_k(c, N, k), "pass^k": pass_hat_k(c, N, k),
                   **{f"G-Pass@k_{tau:g}": g_pass_at_k(c, N, k, tau) for tau in TAUS},
                   "mG-Pass@k": mg_pass_at_k(c, N, k)}
        row = {"run": run, "k": k, "problems": P}
        for name, per_problem in metrics.items():
            mean, lo, hi = bootstrap_ci(per_problem, n_boot=n_boot, seed=seed)
            row.update({name: mean, f"{name}_low": lo, f"{name}_high": hi})
        rows.append(row)
    return pd.DataFrame(rows)


def rank_intervals(cells, *, level: float = 0.95, include_oracles: bool = False) -> pd.DataFrame:
    """Per n, every (run, strategy, scorer) cell's rank by accuracy (1 = best) and its interval over the bootstrap
    replicates.

    Returns:
        Columns benchmark, n, model, run, strategy, scorer, accuracy, rank, rank_low, rank_high, cells (how many
        were ranked at that n).
    """
    by_n: dict[int, list] = {}
    for key in cells.point:
        if include_oracles or not cells.oracle.get(key):
            by_n.setdefault(key[-1], []).append(key)
    rows = []
    tail = (1 - level) / 2
    for n, keys in sorted(by_n.items()):
        if len(keys) < 2:
            continue
        points = np.array([cells.point[k].mean() for k in keys])
        reps = np.stack([cells.replicate_means(k) for k in keys], axis=1)          # [B, cells]
        point_rank = rankdata(-points)
        rep_rank = np.apply_along_axis(lambda r: rankdata(-r), 1, reps)
        lo, hi = np.quantile(rep_rank, [tail, 1 - tail], axis=0)
        for i, (model, run, strategy, scorer, _) in enumerate(keys):
            rows.append({"benchmark": cells.benchmark, "n": n, "model": model, "run": run,
                         "strategy": label(strategy, scorer), "accuracy": float(points[i]),
                         "rank": float(point_rank[i]), "rank_low": float(lo[i]), "rank_high": float(hi[i]),
                         "cells": len(keys)})
    out = pd.DataFrame(rows)
    return out.sort_values(["benchmark", "n", "rank"], ignore_index=True) if len(out) else out
