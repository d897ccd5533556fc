"""Compute-optimal test-time scaling by difficulty (Snell et al. 2024, "Scaling LLM Test-Time Compute Optimally can
be More Effective than Scaling Model Parameters", arXiv:2408.03314, sections 3-5): bin the problems by difficulty,
and at each compute level choose, per bin, the (strategy, scorer, n) that does best within that compute.

Two binnings:
    "oracle"        quantiles of pass@1 from each problem's own pool: reads the gold answers, so an upper bound on
                    what binning by difficulty can give (Snell et al.'s "oracle difficulty").
    "<scorer>"      quantiles of the mean stored score of a scorer (logprob, self_verify, prm, orm, ...) over the
                    problem's samples: needs no gold answer, so deployable (their "model-predicted difficulty").

Choices are honest by two-fold cross-fitting: the problems are split in two halves at random; bin edges and the
best cell per (bin, level) are chosen on one half and scored on the other, then the other way round, so every
problem is scored once by a rule fitted without it; that is repeated over `splits` random splits and averaged.
Beside it, with the same cross-fitting: the best single cell (no bins), best-of-N by the run's default scorer (the
largest n within the compute), and the in-sample bound (bins chosen on the scored half itself: what no rule fitted
elsewhere can beat). A level caps each bin's mean FLOPs per problem (Snell et al. fix the budget per question);
curves are drawn at the FLOPs actually spent on the scored half.

Uncertainty: each bootstrap replicate of `Cells` (problems, then samples) is cross-fitted (`rep_splits` random
splits, one by default, where the point averages `splits`: the replicates then carry split-to-split noise the point
averages away, and the intervals err wide). Replicate curves, accuracy and FLOPs spent, are centred on the point
curves: a redrawn pool holds ~63% of its distinct samples, which pulls large-n accuracies down and changes which
cells the rule picks. Intervals are the centred replicates' percentiles. The compute multiplier at matched accuracy
is FLOPs(baseline at its operating point) / FLOPs(compute-optimal reaches the baseline's accuracy there). The
operating point is the level where the baseline's point curve first reaches its best accuracy; every replicate keeps
that level and takes its own (centred) baseline accuracy and FLOPs there, so point and replicates measure the same
thing. Before, each replicate took its target from the maximum of its own curve, and the maximum of a noisy curve
runs above that of the point curve (an average over 20 splits): replicate targets ran high and multipliers low, and
on planted gains 65-85% of the replicates fell below the point (scripts/allocation_check.py). The interval is
conditional on that operating point: where the baseline's curve is flat at its top, a level nearby gives another
multiplier, and the interval leaves that choice out. A replicate whose compute-optimal curve does not reach its
target counts as 0 (so a lower bound of 0 means "not reached in at least 2.5% of replicates"); the point is NaN
when the point curve does not reach it.

`verdict` reads "gain" when the Holm-adjusted p-value of "multiplier <= 1" is under 1 - level: p is twice the
share of replicates at or below 1 (the level at which the percentile interval would reach 1), adjusted with the
other rows of its family (the baselines of one `allocate` call; `adjust_verdicts` re-adjusts over every run,
binning and baseline of an analysis). Problems whose difficulty score is not finite (a scorer that gave no
finite score to any of its samples) are binned at the median of the others; `notes` and the summary's `unscored`
say how many.

Example:
    result = allocate(cells, run="gsm8k-smollm2-135m-n64-e677eecf", binning="oracle")
    result.curves        # method x level: FLOPs spent, accuracy, CI
    result.summary       # multiplier vs best single and best-of-N, with CI
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from testtime.analysis.exchange import _crossing
from testtime.analysis.multiplicity import holm
from testtime.analysis.runs import label
from testtime.analysis.uncertainty import Cells, interval
from testtime.errors import UserError

METHODS = ("compute-optimal", "best single", "best-of-N", "in-sample bound")
MAX_LEVELS = 48


@dataclass
class Allocation:
    """What `allocate` found for one run and one binning."""

    run: str
    model: str
    benchmark: str
    binning: str
    bins: int
    problems: int
    curves: pd.DataFrame
    """One row per (method, level): level (FLOPs cap), flops (spent), accuracy, ci_low, ci_high."""
    summary: pd.DataFrame
    """One row per baseline: target accuracy, FLOPs of the baseline and the compute-optimal curve to reach it,
    the multiplier and its CI, how many replicates reached the target, p_gain (of "multiplier <= 1") and p_holm
    (adjusted over the family), the verdict, and `unscored` (problems binned at the median for want of a score)."""
    choices: pd.DataFrame
    """The rule fitted on all problems: per (level, bin) the chosen cell, its bin's pass@1 range."""
    notes: list = field(default_factory=list)
    """What a reader should know about this allocation (problems without a finite difficulty score)."""
    replicates: dict = field(default_factory=dict)
    """Baseline -> [B] the multiplier in each bootstrap replicate (0 where its curve does not reach the target)."""


def allocate(cells: Cells, *, run: str, binning: str = "oracle", bins: int = 3, splits: int = 20, seed: int = 0,
             level: float = 0.95, bon_scorer: str = "logprob", rep_splits: int = 1) -> Allocation:
    """The compute-optimal curve of one run (module docstring) beside its baselines, with CIs and the multiplier.

    Args:
        cells: `evaluate_cells`' result holding the run.
        run: the run id.
        binning: "oracle", or the name of a stored scorer whose mean score predicts difficulty.
        bins: difficulty bins (quantiles of the training half).
        splits: random two-fold splits averaged for the point estimate.
        seed: seed of the splits.
        level: interval coverage.
        bon_scorer: scorer of the best-of-N baseline (falls back to any best_of_n scorer the run has).
        rep_splits: random splits averaged in each bootstrap replicate (1: fast, and the intervals err wide;
            `splits`: the point's own procedure, `splits` times the cost).

    Returns:
        Allocation.

    Raises:
        UserError: an unknown run or scorer, no deployable cells, or fewer than 4 problems.

    Example:
        allocate(cells, run=run, binning="logprob", bins=4).summary
    """
    if run not in cells.runs:
        raise UserError(f"no run {run!r} among {', '.join(cells.runs)}")
    if bins < 1:
        raise UserError(f"bins must be at least 1; got {bins}")
    keys = [k for k in cells.point if k[1] == run and not cells.oracle[k]]
    if not keys:
        raise UserError(f"{run}: no deployable strategy (only ones that read the gold answer) to allocate")
    P = len(cells.problems)
    if P < 4:
        raise UserError(f"{run}: {P} problems; cross-fitting needs at least 4")
    if binning == "oracle":
        x, x_reps = cells.difficulty[run], cells.difficulty_reps[run]
    elif (run, binning) in cells.predictors:
        x, x_reps = cells.predictors[(run, binning)], cells.predictor_reps[(run, binning)]
    else:
        have = ", ".join(["oracle", *sorted(s for r, s in cells.predictors if r == run)])
        raise UserError(f"{run}: no {binning!r} scores to bin by; binnings: {have}")
    bon = [i for i, k in enumerate(keys) if k[2] == "best_of_n"]
    pref = [i for i in bon if keys[i][3] == bon_scorer] or bon
    bon = [i for i in pref if keys[i][3] == keys[pref[0]][3]] if pref else []
    A = np.stack([cells.point[k] for k in keys])
    F = np.stack([cells.flops[k] for k in keys])
    # The levels are the cells' own mean costs (near-equal ones merged upwards), so every cell fits at its own cost.
    costs = np.sort(F.mean(axis=1))
    levels = costs[np.append(np.diff(costs) > 1e-6 * costs[1:], True)]
    if len(levels) > MAX_LEVELS:
        levels = np.geomspace(levels[0], levels[-1], MAX_LEVELS)
    rng = np.random.default_rng(seed)
    unscored = int((~np.isfinite(x)).sum())
    notes = []
    if unscored:
        notes.append(f"allocation for {run} by {binning}: {unscored} of {P} problems have no finite {binning} score; "
                     "they are binned at the median of the others (in the replicates too)")
    x = _fill(x)
    acc_pt, flops_pt = _average([_crossfit(A, F, x, np.arange(P), levels, bins, rng, bon) for _ in range(splits)])
    acc_b, flops_b = [], []
    for b in range(cells.n_boot):
        Ab = np.stack([cells.reps[k][b] for k in keys])
        Fb = F[:, cells.rows[b]]
        xb = _fill(x_reps[b])
        a, f = _average([_crossfit(Ab, Fb, xb, cells.rows[b], levels, bins, rng, bon)
                         for _ in range(rep_splits)])
        acc_b.append(a.mean(axis=2))
        flops_b.append(f.mean(axis=2))
    acc_b, flops_b = np.array(acc_b), np.array(flops_b)          # [B, M, L]
    curves = []
    point_acc, point_flops = acc_pt.mean(axis=2), flops_pt.mean(axis=2)   # [M, L]
    for m, method in enumerate(METHODS):
        if method == "best-of-N" and not bon:
            continue
        for j, cap in enumerate(levels):
            lo, hi = interval(acc_b[:, m, j], level, centre=point_acc[m, j])
            curves.append({"method": method, "level": float(cap), "flops": float(point_flops[m, j]),
                           "accuracy": float(point_acc[m, j]), "ci_low": max(lo, 0.0), "ci_high": min(hi, 1.0)})
    # Replicate curves centred on the point curves (module docstring).
    centred = acc_b - acc_b.mean(axis=0, keepdims=True) + point_acc[None]
    # FLOPs spent too: the choices made on a redrawn pool differ from the pool's (a baseline that picks n = 8 or 16
    # about equally often on the pool picked 16 in nearly every replicate of a planted one), so uncentred, the
    # replicates' baseline spent more at the operating point and their multipliers ran high.
    flops_b = np.maximum(flops_b - flops_b.mean(axis=0, keepdims=True) + point_flops[None], 1e-12 * point_flops[None])
    summary, replicates = [], {}
    for base in ("best single", "best-of-N"):
        if base == "best-of-N" and not bon:
            continue
        mb = METHODS.index(base)
        row = _multiplier(point_flops[0], point_acc[0], point_flops[mb], point_acc[mb])
        # Every replicate at the point's operating point (module docstring): its own baseline accuracy and FLOPs
        # there, and the FLOPs its compute-optimal curve needs to match them.
        at = row.pop("operating_level")
        reps = np.array([_multiplier(flops_b[b, 0], centred[b, 0], flops_b[b, mb], centred[b, mb], at=at)["multiplier"]
                         for b in range(cells.n_boot)])
        ok = np.isfinite(reps)
        # A replicate whose compute-optimal curve never reaches the target counts as multiplier 0 (no gain at any
        # compute), so the interval cannot forget the replicates that went against the allocation.
        reps = np.where(ok, reps, 0.0)
        replicates[base] = reps
        lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])
        summary.append({"baseline": base, **row, "multiplier_low": float(lo), "multiplier_high": float(hi),
                        "replicates_reached": f"{int(ok.sum())}/{len(reps)}", "reached": float(ok.mean()),
                        "p_gain": min(1.0, 2 * float(np.mean(reps <= 1))) if np.isfinite(row["multiplier"])
                        else 1.0})
    choices = _choices(keys, A, F, x, levels, bins)
    head = {"run": run, "model": cells.runs[run], "benchmark": cells.benchmark, "binning": binning, "bins": bins}
    summary = _with_verdicts(pd.DataFrame(summary).assign(**head, problems=P, unscored=unscored, level=level))
    return Allocation(**{k: v for k, v in head.items()}, problems=P,
                      curves=pd.DataFrame(curves).assign(**head), summary=summary, choices=choices.assign(**head),
                      notes=notes, replicates=replicates)


def adjust_verdicts(allocations: list[Allocation]) -> None:
    """Holm-adjust the "no gain" tests of every row of every allocation together (one family: every run, binning
    and baseline of an analysis), and set each row's p_holm and verdict from it, in place.

    Example:
        adjust_verdicts(analysis.allocations)
    """
    if not allocations:
        return
    both = _with_verdicts(pd.concat([a.summary for a in allocations], keys=range(len(allocations))))
    for i, a in enumerate(allocations):
        a.summary = both.loc[i].reset_index(drop=True)


def _with_verdicts(summary: pd.DataFrame) -> pd.DataFrame:
    """summary with p_holm (Holm over its rows) and the verdict of each row."""
    summary = summary.copy()
    summary["p_holm"] = holm(summary["p_gain"]) if len(summary) else []
    summary["verdict"] = [_verdict(r["multiplier"], r["multiplier_low"], r["multiplier_high"], r["reached"],
                                   r["p_holm"], 1 - r["level"], len(summary))
                          for _, r in summary.iterrows()]
    return summary


def _fill(x):
    """Scores with the non-finite ones (problems no sample of which has a finite score) set to the median."""
    return np.where(np.isfinite(x), x, np.nanmedian(x) if np.isfinite(x).any() else 0.0)


def _average(parts):
    acc = np.mean([p[0] for p in parts], axis=0)
    flops = np.mean([p[1] for p in parts], axis=0)
    return acc, flops


def _crossfit(A, F, x, groups, levels, bins, rng, bon):
    """Held-out accuracy and FLOPs [M, L, P] of every method at every level, both folds of one random split
    (positions of one problem, as `groups` names them, stay in one half)."""
    M, L, P = len(METHODS), len(levels), A.shape[1]
    acc, flops = np.zeros((M, L, P)), np.zeros((M, L, P))
    ids = np.unique(groups)
    perm = rng.permutation(ids)
    half = np.isin(groups, perm[: len(ids) // 2])
    for train in (half, ~half):
        test = ~train
        if not train.any() or not test.any():
            continue
        edges = _edges(x[train], bins)
        tb, eb = np.searchsorted(edges, x[train], side="right"), np.searchsorted(edges, x[test], side="right")
        rule = {}
        for j in range(len(edges) + 1):
            members = train.copy()
            members[train] = tb == j
            rule[j] = _choose(A[:, members], F[:, members], levels) if members.any() else None
        single = _choose(A[:, train], F[:, train], levels)
        rule = {j: single if c is None else c for j, c in rule.items()}
        test_idx = np.flatnonzero(test)
        pick = np.stack([rule[j] for j in eb], axis=1)                  # [L, P_test]
        own = {}
        for j in np.unique(eb):                                         # the in-sample bound: fitted on the scored half
            sel = test_idx[eb == j]
            own[j] = _choose(A[:, sel], F[:, sel], levels)
        bound = np.stack([own[j] for j in eb], axis=1)
        picks = [pick, np.repeat(single[:, None], len(test_idx), 1), None, bound]
        if bon:
            mean_f = F[bon][:, train].mean(axis=1)
            choice = np.array([bon[int(np.flatnonzero(mean_f <= c * (1 + 1e-9))[-1])] if (mean_f <= c * (1 + 1e-9)).any()
                               else bon[0] for c in levels])
            picks[2] = np.repeat(choice[:, None], len(test_idx), 1)
        for m, p in enumerate(picks):
            if p is None:
                continue
            acc[m][:, test_idx] = A[p, test_idx[None, :]]
            flops[m][:, test_idx] = F[p, test_idx[None, :]]
    return acc, flops


def _edges(x, bins):
    if bins <= 1 or len(x) < 2:
        return np.array([])
    return np.unique(np.quantile(x, np.arange(1, bins) / bins))


def _choose(A, F, levels):
    """[L] index of the cell with the best mean accuracy among those whose mean FLOPs fit each level (ties: the
    cheaper); the cheapest cell where none fits."""
    a, f = A.mean(axis=1), F.mean(axis=1)
    fits = f[None, :] <= levels[:, None] * (1 + 1e-9)
    # Rank by accuracy, then by cheapness: accuracies equal to 1e-12 are ties (exact estimators differ in the last bit).
    score = np.round(a, 12)[None, :] - 1e-15 * np.argsort(np.argsort(f))[None, :]
    best = np.argmax(np.where(fits, score, -np.inf), axis=1)
    return np.where(fits.any(axis=1), best, int(np.argmin(f)))


def _verdict(point: float, lo: float, hi: float, reached: float, p_holm: float = np.nan, alpha: float = 0.05,
             family: int = 1) -> str:
    """One phrase a reader can quote: is there a gain (after Holm's adjustment over `family` tests), and can the
    multiplier be read at all."""
    if not np.isfinite(point):
        return "no gain: the compute-optimal curve does not reach the baseline's best accuracy"
    if not lo <= point <= hi:
        # Point and replicates measure the same thing (module docstring), so this is rare: a skewed replicate
        # distribution (most replicates on one side of a step in the curves) that does not support the point.
        return f"unstable: the point is outside its replicates' interval (reached in {reached:.0%} of replicates)"
    if lo > 1 and p_holm <= alpha:
        return f"gain: the interval is above 1 (Holm-adjusted p {p_holm:.2g} over {family} tests)"
    if lo > 1:
        return (f"no gain shown after adjusting: the interval is above 1, but Holm over {family} tests gives "
                f"p {p_holm:.2g}")
    return f"no gain shown: the interval reaches {lo:.2g} (reached in {reached:.0%} of replicates)"


def _multiplier(f_opt, a_opt, f_base, a_base, at: int | None = None) -> dict:
    """FLOPs the baseline spends at its operating point over FLOPs the compute-optimal curve needs to reach the
    baseline's accuracy there. The operating point is level `at`, by default the first (in FLOPs) where the baseline
    reaches its best accuracy; the result's operating_level says which."""
    order_b, order_o = np.argsort(f_base, kind="stable"), np.argsort(f_opt, kind="stable")
    if at is None:
        # Equal accuracies can differ in the last bit between estimators (as in `_crossing`).
        at = int(order_b[np.flatnonzero(a_base[order_b] >= np.max(a_base) - 1e-9)[0]])
    target, need_base = float(a_base[at]), float(f_base[at])
    need_opt = _crossing(f_opt[order_o], a_opt[order_o], target)
    return {"target_accuracy": target, "baseline_flops": need_base, "optimal_flops": need_opt,
            "multiplier": need_base / need_opt if np.isfinite(need_opt) and need_opt > 0 else np.nan,
            "operating_level": at}


def _choices(keys, A, F, x, levels, bins) -> pd.DataFrame:
    edges = _edges(x, bins)
    b = np.searchsorted(edges, x, side="right")
    rows = []
    for j in range(len(edges) + 1):
        members = b == j
        if not members.any():
            continue
        pick = _choose(A[:, members], F[:, members], levels)
        for cap, c in zip(levels, pick):
            k = keys[c]
            rows.append({"level": float(cap), "bin": j, "bin_problems": int(members.sum()),
                         "difficulty_range": f"{x[members].min():.3g}..{x[members].max():.3g}",
                         "choice": f"{label(k[2], k[3])} @ {k[4]}", "bin_accuracy": float(A[c, members].mean()),
                         "bin_flops": float(F[c, members].mean())})
    return pd.DataFrame(rows)
