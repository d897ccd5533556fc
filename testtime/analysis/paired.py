"""Paired comparisons of two cells, (model, strategy, scorer, n), on the same problems: the difference in
accuracy, its confidence interval and a two-sided p-value.

Both cells are evaluated per problem on the problems their runs share (`testtime.analysis.uncertainty.Cells`), so
the comparison removes the between-problem spread that two separate intervals would both carry. The test resamples
problems (one level) and keeps each problem's pair of estimates together: each per-problem difference already holds
both pools' sampling noise, so this level alone estimates the variance of the mean difference; redrawing the samples
as well counts that noise twice, which for a difference between two strategies on the same samples is most of the
variance (tests/analysis/test_paired.py checks the problem-level test's false-positive rate is ~5%). The two-level
interval is reported beside it.

The p-value is the paired randomization (sign-flip) test of the mean difference (Fisher 1935; Good 2005,
"Permutation, Parametric and Bootstrap Tests of Hypotheses", section 3.7): under "A and B do equally well" each
problem's difference is as likely to have either sign, so the observed mean is set among the means of every sign
pattern, all 2^P of them up to 2^13 problems, else `n_perm` random ones ((1 + as extreme) / (1 + n_perm), never 0).
It is exact for any number of problems: one problem gives p = 1, three problems all one way 0.25 (the sign test's
2 / 2^3), where the shifted bootstrap used before (Hall & Wilson 1991) gave 0.0005 because its replicates had no
spread. `scipy.stats.permutation_test(..., permutation_type="samples")` computes the same p (the tests check it
against it); it is not called because it took 3.8 s per comparison at 1,000 problems, and `analyze` runs one per
pair of adjacent n. NaN in either array is refused.

Each table's p-values are also adjusted for multiplicity (Holm; `testtime.analysis.multiplicity` names the families):
`p_holm` beside `p_value`.

Example:
    paired(cells, ("smollm2-135m", run, "majority_vote", None, 16), ("smollm2-135m", run, "best_of_n", "logprob", 16))
    adjacent_ns(cells)            # n vs 2n for every (run, strategy, scorer)
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import pandas as pd

from testtime.analysis.runs import label
from testtime.analysis.uncertainty import Cells, Key, draws, interval
from testtime.errors import UserError

COLUMNS = ["benchmark", "a", "b", "problems", "accuracy_a", "accuracy_b", "difference", "ci_low", "ci_high",
           "p_value", "ci2_low", "ci2_high"]
EXACT_UP_TO = 13
"""Problems up to which the sign-flip test enumerates every sign pattern (2^13 = 8192)."""


def paired_difference(a, b, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0,
                      n_perm: int = 9999) -> dict:
    """Mean of a - b over problems, its percentile-bootstrap CI (problems resampled) and a two-sided p-value (the
    sign-flip test, module docstring).

    Args:
        a, b: [P] per-problem accuracy of the two cells, on the same problems in the same order.
        n_boot: bootstrap replicates of the CI.
        level: interval coverage.
        seed: seed of the problem draws and the random sign patterns.
        n_perm: random sign patterns when P > EXACT_UP_TO (the smallest p is then 1 / (1 + n_perm)).

    Returns:
        dict of difference, ci_low, ci_high, p_value, problems.

    Raises:
        UserError: arrays of different shapes, empty, or holding NaN or infinity.

    Example:
        paired_difference([1, 0.5, 0], [0.5, 0.5, 0])["difference"]    # 0.1667
        paired_difference([1, 1, 1], [0, 0, 0])["p_value"]             # 0.25, the exact sign test
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise UserError(f"a paired comparison needs two per-problem arrays of one length; got {a.shape} and {b.shape}")
    bad = ~(np.isfinite(a) & np.isfinite(b))
    if bad.any():
        raise UserError(f"a paired comparison needs a finite accuracy for every problem; {int(bad.sum())} of "
                        f"{len(a)} are NaN or infinite (first at position {int(np.flatnonzero(bad)[0])})")
    d = a - b
    P = len(d)
    reps = d[draws(P, n_boot, seed=seed)].mean(axis=1)
    lo, hi = interval(reps, level)
    return {"difference": float(d.mean()), "ci_low": lo, "ci_high": hi, "p_value": sign_flip_p(d, n_perm, seed),
            "problems": P}


def sign_flip_p(d, n_perm: int = 9999, seed: int = 0) -> float:
    """Two-sided p-value of the paired randomization test that the differences `d` are symmetric about 0: the share
    of sign patterns whose mean is at least as far from 0 as the observed one (exact up to EXACT_UP_TO values,
    else from `n_perm` random patterns, counting the observed one).

    Example:
        sign_flip_p(np.array([1.0, 1.0, 1.0]))      # 0.25
    """
    d = np.asarray(d, float)
    P = len(d)
    obs = abs(d.sum())
    tol = 1e-9 * max(1.0, np.abs(d).sum())          # sums that differ only in the last bits count as equal
    if P <= EXACT_UP_TO:
        signs = 1 - 2 * ((np.arange(2 ** P)[:, None] >> np.arange(P)) & 1)     # every pattern, the observed first
        return float(np.mean(np.abs(signs @ d) >= obs - tol))
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_perm, 2000):             # [2000, P] patterns at a time
        signs = np.where(rng.random((min(2000, n_perm - start), P)) < 0.5, -1.0, 1.0)
        hits += int(np.sum(np.abs(signs @ d) >= obs - tol))
    return (1 + hits) / (1 + n_perm)


def paired(cells: Cells, a: Key, b: Key, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """`paired_difference` of two cells of `cells`, with the two-level interval of the difference beside it.

    Returns:
        A row of COLUMNS (a and b as "model · strategy (scorer) @ n").
    """
    for k in (a, b):
        if k not in cells.point:
            raise UserError(f"no cell {describe(k)} on {cells.benchmark}; cells: "
                            + ", ".join(describe(c) for c in list(cells.point)[:12]))
    row = paired_difference(cells.point[a], cells.point[b], n_boot=n_boot, level=level, seed=seed)
    if cells.levels != "problems":
        lo2, hi2 = interval(cells.replicate_means(a) - cells.replicate_means(b), level, centre=row["difference"])
    else:
        lo2, hi2 = row["ci_low"], row["ci_high"]
    return {"benchmark": cells.benchmark, "a": describe(a), "b": describe(b), "problems": row["problems"],
            "accuracy_a": float(cells.point[a].mean()), "accuracy_b": float(cells.point[b].mean()),
            "difference": row["difference"], "ci_low": row["ci_low"], "ci_high": row["ci_high"],
            "p_value": row["p_value"], "ci2_low": lo2, "ci2_high": hi2}


def adjacent_ns(cells: Cells, **kw) -> pd.DataFrame:
    """For every (run, strategy, scorer), each n against the next one up: are more samples better? (p-values
    unadjusted; `analyze` adds p_holm over every adjacent row of the analysis.)"""
    rows = []
    by = {}
    for key in cells.point:
        by.setdefault(key[:4], []).append(key)
    for keys in by.values():
        keys = sorted(keys, key=lambda k: k[4])
        for small, large in zip(keys, keys[1:]):
            rows.append(paired(cells, large, small, **kw))
    return pd.DataFrame(rows, columns=COLUMNS)



adjacent_budgets = adjacent_ns
"""The former name of `adjacent_ns` (n was called a budget), kept for callers of `testtime.analysis`."""

def describe(key: Key) -> str:
    """"model · strategy (scorer) @ n"."""
    model, _run, strategy, scorer, n = key
    return f"{model} · {label(strategy, scorer)} @ {n}"


_SPEC = re.compile(r"^(?P<strategy>[A-Za-z0-9_]+)(:(?P<scorer>[A-Za-z0-9_]+))?@(?P<n>\d+)(/(?P<who>.+))?$")


def find_cell(cells: Cells, spec: str) -> Key:
    """The cell named by "strategy[:scorer]@n[/model or run]" (the model or run may be left out when only one run
    has the cell; best_of_n without a scorer means logprob).

    Raises:
        UserError: a malformed spec, or none or several matching cells.

    Example:
        find_cell(cells, "majority_vote@16"), find_cell(cells, "best_of_n:logprob@16/qwen2.5-coder-0.5b")
    """
    found = _matches(cells, spec)
    if len(found) != 1:
        what = "no cell" if not found else f"{len(found)} cells ({', '.join(describe(k) for k in found)})"
        raise UserError(f"--paired {spec}: {what} on {cells.benchmark}; name the scorer and /model, e.g. "
                        + ", ".join(f"{k[2]}{'' if k[3] is None else ':' + k[3]}@{k[4]}/{k[0]}"
                                    for k in list(cells.point)[:4]))
    return found[0]


def _matches(cells: Cells, spec: str) -> list[Key]:
    """The cells of `cells` that `spec` names (any number); UserError for a malformed spec."""
    m = _SPEC.match(spec.strip())
    if not m:
        raise UserError(f"--paired takes cells as strategy[:scorer]@n[/model], e.g. majority_vote@16 or "
                        f"best_of_n:logprob@16/smollm2-135m; got {spec!r}")
    strategy, scorer, n, who = m["strategy"], m["scorer"], int(m["n"]), m["who"]
    found = [k for k in cells.point if k[2] == strategy and k[4] == n
             and (scorer is None or k[3] == scorer) and (who is None or who in (k[0], k[1]))]
    if scorer is None and len({k[3] for k in found}) > 1:
        found = [k for k in found if k[3] in (None, "logprob")]
    return found


def find_pairs(cell_sets: Sequence[Cells], pairs: Sequence[tuple[str, str]]
               ) -> dict[tuple[int, int], tuple[Key, Key] | str]:
    """For asked pair k and cell set j (one per benchmark or run): the two cells, or why they are not there (a note
    for the report).

    Raises:
        UserError: a pair found in no cell set, naming the spec that matched nothing and the cells there are (a
            comparison dropped with a note would read as one never asked for).
    """
    found: dict[tuple[int, int], tuple[Key, Key] | str] = {}
    for k, (a, b) in enumerate(pairs):
        for j, cells in enumerate(cell_sets):
            try:
                found[k, j] = (find_cell(cells, a), find_cell(cells, b))
            except UserError as e:
                found[k, j] = str(e)
        if not any(isinstance(found[k, j], tuple) for j in range(len(cell_sets))):
            raise UserError(_unmatched(cell_sets, a, b))
    return found


def _unmatched(cell_sets: Sequence[Cells], a: str, b: str) -> str:
    if not cell_sets:
        return (f"--paired {a} {b}: these runs have no cells to compare (none stored a pool of samples for the "
                "selection strategies); drop --paired")
    cells_are = f"the cells are (strategy[:scorer]@{{n}}/model): {cell_names(cell_sets)}"
    for spec in (a, b):
        hits = [k for cells in cell_sets for k in _matches(cells, spec)]
        if not hits:
            return f"--paired {spec} matched no cell; {cells_are}"
        if not any(len(_matches(cells, spec)) == 1 for cells in cell_sets):
            return (f"--paired {spec} matches {len(hits)} cells ({', '.join(describe(k) for k in hits[:6])}); name "
                    f"the scorer and /model; {cells_are}")
    return f"--paired {a} {b}: the two cells are never on one benchmark together; {cells_are}"


def cell_names(cell_sets: Sequence[Cells]) -> str:
    """Every cell of `cell_sets` in --paired's syntax, n grouped: "best_of_n:logprob@{1,2,4}/smollm2-135m"."""
    by_cell: dict[tuple[str, str, str], set[int]] = {}
    for cells in cell_sets:
        for model, _run, strategy, scorer, n in cells.point:
            by_cell.setdefault((strategy, "" if scorer is None else ":" + scorer, model), set()).add(n)
    return ", ".join(f"{strategy}{scorer}@{{{','.join(map(str, sorted(ns)))}}}/{model}"
                     for (strategy, scorer, model), ns in sorted(by_cell.items()))
