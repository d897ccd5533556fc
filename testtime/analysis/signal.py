"""Pass/fail accuracy beside continuous likelihood signals, per run, from the run's per-problem summary.

Smooth metrics can show progress that pass/fail accuracy hides (Schaeffer et al. 2023, "Are Emergent Abilities of
Large Language Models a Mirage?"). The main one is the log-probability the model gives each problem's gold answer
after the problem and "The final answer is $\\boxed{" (read from prompt logprobs by the runner). The runner sums
what it needs per problem into summary.parquet (`testtime.store.records.load_summary`), so any set of problems
aggregates exactly; this module never opens the samples.

Example:
    continuous_metric(["runs/a", "runs/b"])[["run", "accuracy", "gold_logprob"]]
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from testtime.analysis.pools import POOL_GROUP
from testtime.store.records import existing_manifest, load_summary, read_part, read_parts

COLUMNS = ["run", "model_name", "benchmark", "problems", "samples", "correct_samples", "accuracy", "accuracy_low",
           "accuracy_high", "gold_problems", "gold_logprob", "gold_logprob_low", "gold_logprob_high",
           "gold_logprob_per_token", "gold_prob", "mean_logprob_correct", "mean_logprob_all", "note"]


def continuous_metric(paths: Sequence[str | Path], *, problems: dict | None = None, n_boot: int = 1000,
                      seed: int = 0) -> pd.DataFrame:
    """Pass/fail accuracy beside the gold answer's likelihood and the samples' mean token logprob, per run.

    Figures are over the pool of plain samples (not a generation strategy's): `accuracy` is the mean correctness of
    a single sample; `gold_logprob` the mean over problems of the gold answer's total log-probability (nats),
    `gold_logprob_per_token` of its per-token mean, `gold_prob` of exp(total), over the `gold_problems` problems
    whose gold likelihood was read (none for runs with gold_likelihood off); `mean_logprob_correct` the mean over
    correct samples of their mean token logprob (conditioned on success; NaN when nothing was right) and
    `mean_logprob_all` over all samples.

    Args:
        paths: run directories.
        problems: benchmark -> the problem ids to use (the problems the runs share, so runs compare on the same
            problems); a benchmark not in it uses all of a run's problems.
        n_boot: bootstrap resamples of problems behind accuracy_low/high and gold_logprob_low/high (95%).
        seed: bootstrap seed.

    Returns:
        DataFrame, one row per run: run, model_name, benchmark, problems (how many were used), samples,
        correct_samples, accuracy with accuracy_low/high, gold_problems, gold_logprob with gold_logprob_low/high,
        gold_logprob_per_token, gold_prob, mean_logprob_correct, mean_logprob_all, note. A run evaluated before
        summary.parquet existed has NaN figures and a note saying how to add them.

    Example:
        continuous_metric(["runs/gsm8k-smollm2-135m-n64"]).iloc[0]["gold_logprob"]
    """
    rows = []
    for p in paths:
        manifest = existing_manifest(p)
        run = manifest.run_id or Path(p).name
        head = {"run": run, "model_name": manifest.model, "benchmark": manifest.benchmark}
        summary = load_summary(p)
        if summary is None:
            if _has_pool(p):
                note = (f"{run}: no per-problem summary (summary.parquet), so no continuous signal; run the same "
                        "`python -m testtime run` command again to write it (no new sampling)")
            else:   # only a generation strategy's samples (budget forcing, search): the signal reads a pool
                note = (f"{run}: no continuous signal: it stored no sample pool, only generation strategies' "
                        "samples; a run with a selection strategy (e.g. --strategy majority_vote) samples one")
            rows.append({**head, **dict.fromkeys(COLUMNS[3:-1], np.nan), "note": note})
            continue
        keep = (problems or {}).get(head["benchmark"])
        if keep is not None:
            summary = summary[summary["problem_id"].isin(set(keep))]
        if summary.empty:
            rows.append({**head, **dict.fromkeys(COLUMNS[3:-1], np.nan), "problems": 0,
                         "note": f"{run}: none of its problems is shared with the other runs on {head['benchmark']}"})
            continue
        rows.append({**head, **_figures(summary), **_intervals(summary, n_boot, seed), "problems": len(summary),
                     "note": ""})
    return pd.DataFrame(rows, columns=COLUMNS)


def _intervals(s: pd.DataFrame, n_boot: int, seed: int) -> dict:
    # Problems resampled: accuracy as pooled correct / samples, gold log-probability as the mean over problems.
    out = dict.fromkeys(["accuracy_low", "accuracy_high", "gold_logprob_low", "gold_logprob_high"], np.nan)
    if n_boot < 1:
        return out
    rows = np.random.default_rng(seed).integers(0, len(s), size=(n_boot, len(s)))
    ok, n = s["correct_samples"].to_numpy(float), s["samples"].to_numpy(float)
    acc = ok[rows].sum(axis=1) / np.maximum(n[rows].sum(axis=1), 1)
    out["accuracy_low"], out["accuracy_high"] = np.quantile(acc, [0.025, 0.975])
    gold = pd.to_numeric(s["gold_logprob_sum"], errors="coerce").to_numpy(float)
    gold = gold[np.isfinite(gold)]
    if len(gold):
        means = gold[np.random.default_rng(seed + 1).integers(0, len(gold), size=(n_boot, len(gold)))].mean(axis=1)
        out["gold_logprob_low"], out["gold_logprob_high"] = np.quantile(means, [0.025, 0.975])
    return out


def _figures(s: pd.DataFrame) -> dict:
    samples, correct = int(s["samples"].sum()), int(s["correct_samples"].sum())
    gold = s[pd.to_numeric(s["gold_logprob_sum"], errors="coerce").notna()]
    total = gold["gold_logprob_sum"].astype(float)
    return {"samples": samples, "correct_samples": correct, "accuracy": correct / samples if samples else np.nan,
            "gold_problems": len(gold),
            "gold_logprob": float(total.mean()) if len(gold) else np.nan,
            "gold_logprob_per_token": float(gold["gold_logprob_mean"].astype(float).mean()) if len(gold) else np.nan,
            "gold_prob": float(np.exp(total).mean()) if len(gold) else np.nan,
            "mean_logprob_correct": _ratio(s["logprob_mean_sum_correct"], s["logprob_mean_count_correct"]),
            "mean_logprob_all": _ratio(s["logprob_mean_sum"], s["logprob_mean_count"])}


def _ratio(sums: pd.Series, counts: pd.Series) -> float:
    # The mean over samples of their mean token logprob, from per-problem sums and counts of non-NaN values.
    n = float(counts.sum())
    return float(sums.sum()) / n if n > 0 else np.nan


def _has_pool(run_dir) -> bool:
    """Whether the run stored plain samples (the pool the summary is made from), not only a generation strategy's."""
    groups = read_parts(run_dir, lambda parts: [read_part(part, ["group"]).column(0).to_pylist() for part in parts])
    return any(POOL_GROUP in g for g in groups)
