"""Paired comparisons of two cells, (model, strategy, scorer, n), on the same problems: the difference in
accuracy, its confidence interval and a two-sided p-value.

Both cells are evaluated per problem on the problems their runs share (`testtime.analysis.uncertainty.Cells`), so
the comparison removes the between-problem spread that two separate intervals would both carry. The test resamples
problems (one level) and keeps each problem's pair of estimates together: each per-problem difference already holds
both pools' sampling noise, so this level alone estimates the variance of the mean difference; redrawing the samples
as well counts that noise twice, which for a difference between two strategies on the same samples is most of the
variance (tests/analysis/test_paired.py checks the problem-level test's false-positive rate is ~5%). The two-level
interval is reported beside it.

The p-value is the shifted-bootstrap test of Hall & Wilson 1991 ("Two guidelines for bootstrap hypothesis
testing"): the replicates are centred on zero and compared with the observed difference.

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


def paired_difference(a, b, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """Mean of a - b over problems, its percentile-bootstrap CI (problems resampled) and a two-sided p-value.

    Args:
        a, b: [P] per-problem accuracy of the two cells, on the same problems in the same order.
        n_boot: bootstrap replicates.
        level: interval coverage.
        seed: seed of the problem draws.

    Returns:
        dict of difference, ci_low, ci_high, p_value, problems.

    Example:
        paired_difference([1, 0.5, 0], [0.5, 0.5, 0])["difference"]    # 0.1667
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise UserError(f"a paired comparison needs two per-problem arrays of one length; got {a.shape} and {b.shape}")
    d = a - b
    P = len(d)
    reps = d[draws(P, n_boot, seed=seed)].mean(axis=1)
    lo, hi = interval(reps, level)
    obs = float(d.mean())
    # Hall & Wilson: the null distribution is the replicates' spread around the observed difference.
    extreme = np.abs(reps - obs) >= abs(obs) - 1e-12
    p = 1.0 if np.allclose(d, 0) else float((1 + extreme.sum()) / (n_boot + 1))
    return {"difference": obs, "ci_low": lo, "ci_high": hi, "p_value": p, "problems": P}


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
    """For every (run, strategy, scorer), each n against the next one up: are more samples better?"""
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
