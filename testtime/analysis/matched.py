"""Generation strategies beside selection strategies at matched compute.

A generation strategy (particle filtering, REBASE, sequential revisions, online DeepConf, beam search, ...) gives one
point per budget: its accuracy and the FLOPs it spent per problem, every generated token and scorer pass included.
A selection strategy over a plain pool gives a curve over n. "Matched FLOPs" puts each generation point beside every
selection curve at the largest n whose mean FLOPs per problem do not exceed the point's (the selection never gets more
compute than the strategy it is compared with; `flops_ratio` says how close the match is), on the problems both
share, and compares them paired: the per-problem difference with its bootstrap CI and p-value
(`paired_difference`), which removes the between-problem spread two separate intervals would both carry.

Strategies that read the gold answer (pass@k, best-of-n by oracle) are left out: they are bounds, not rivals.

Example:
    runs = load_pools(["runs/pool", "runs/particle_filtering"])
    cells = evaluate_cells([r for r in runs if r.pool is not None], n_boot=200)
    matched_flops(runs, cells)      # one row per (generation point, selection strategy)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from testtime.analysis.paired import paired_difference
from testtime.analysis.pools import RunPools, subset
from testtime.analysis.runs import label
from testtime.analysis.uncertainty import Cells
from testtime.store.estimators import bootstrap_ci
from testtime.store.pool import sample_cost

COLUMNS = ["benchmark", "generation", "generation_run", "budget", "problems", "generation_flops",
           "generation_accuracy", "generation_low", "generation_high", "generation_tokens", "selection",
           "selection_run", "n", "selection_flops", "flops_ratio", "selection_accuracy", "selection_low",
           "selection_high", "difference", "ci_low", "ci_high", "p_value"]


def matched_flops(runs: Sequence[RunPools], cells: Cells, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Every generation strategy's budget point beside every (non-oracle) selection strategy of `cells` at the
    largest n that spends no more FLOPs per problem, on the problems both hold.

    Args:
        runs: the runs (their `generated` pools are the generation points); runs of other benchmarks are skipped.
        cells: per-problem selection cells of one benchmark (`evaluate_cells`).
        n_boot: bootstrap replicates of the CIs and the paired test.
        seed: bootstrap seed.

    Returns:
        One row per (generation point, selection series), columns COLUMNS; accuracies with one-level (problems)
        95% CIs; `difference` = generation - selection. A series whose n = 1 already costs more than the point
        gets a row with n = 1 and flops_ratio > 1, so the reader sees that nothing cheaper exists.

    Example:
        matched_flops(runs, cells).query("selection == 'majority_vote'")
    """
    series: dict[tuple, list[tuple]] = {}
    for key in cells.point:
        model, run, strategy, scorer, n = key
        if not cells.oracle.get(key):
            series.setdefault((model, run, strategy, scorer), []).append(key)
    rows = []
    index = {p: i for i, p in enumerate(cells.problems)}
    for r in runs:
        if r.benchmark != cells.benchmark:
            continue
        specs = {s.partition(":")[0]: s for s in (r.manifest.config.strategies if r.manifest.config else ())}
        for (name, budget), gen in sorted(r.generated.items()):
            problems = [p for p in gen.problem_ids if p in index]
            if not problems:
                continue
            gen = subset(gen, problems)
            est = sample_cost(gen, 1, gen.correct.mean(axis=1))
            g_flops = float(est.flops.mean())
            g_mean, g_lo, g_hi = bootstrap_ci(est.accuracy, n_boot=n_boot, seed=seed)
            at = np.array([index[p] for p in problems])
            for (model, run, strategy, scorer), keys in sorted(series.items(), key=lambda kv: str(kv[0])):
                keys = sorted(keys, key=lambda k: k[-1])
                flops = [float(cells.flops[k][at].mean()) for k in keys]
                fits = [i for i, f in enumerate(flops) if f <= g_flops]
                i = fits[-1] if fits else 0
                sel = cells.point[keys[i]][at]
                s_mean, s_lo, s_hi = bootstrap_ci(sel, n_boot=n_boot, seed=seed)
                d = paired_difference(est.accuracy, sel, n_boot=n_boot, seed=seed)
                rows.append({
                    "benchmark": cells.benchmark, "generation": specs.get(name, name), "generation_run": r.run,
                    "budget": budget, "problems": len(problems), "generation_flops": g_flops,
                    "generation_accuracy": g_mean, "generation_low": g_lo, "generation_high": g_hi,
                    "generation_tokens": float(est.tokens.mean()), "selection": label(strategy, scorer),
                    "selection_run": run, "n": keys[i][-1], "selection_flops": flops[i],
                    "flops_ratio": flops[i] / g_flops if g_flops > 0 else np.nan,
                    "selection_accuracy": s_mean, "selection_low": s_lo, "selection_high": s_hi,
                    "difference": d["difference"], "ci_low": d["ci_low"], "ci_high": d["ci_high"],
                    "p_value": d["p_value"]})
    return pd.DataFrame(rows, columns=COLUMNS)
