"""Pass/fail accuracy beside continuous likelihood signals, per run, from the run's per-problem summary.

Smooth metrics can show progress that pass/fail accuracy hides (Schaeffer et al. 2023, "Are Emergent Abilities of
Large Language Models a Mirage?"). The main one is the log-probability the model gives each problem's gold answer
after the problem and "The final answer is $\\boxed{" (read from prompt logprobs by the runner). The runner sums
what it needs per problem into summary.parquet (`testtime.pipeline.records.load_summary`), so any set of problems
aggregates exactly; this module never opens the samples.

Example:
    continuous_metric(["runs/a", "runs/b"])[["run", "accuracy", "gold_logprob"]]
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from testtime.pipeline.records import existing_manifest, load_summary

COLUMNS = ["run", "model_name", "benchmark", "samples", "correct_samples", "accuracy", "gold_problems", "gold_logprob",
           "gold_logprob_per_token", "gold_prob", "mean_logprob_correct", "mean_logprob_all", "note"]


def continuous_metric(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Pass/fail accuracy beside the gold answer's likelihood and the samples' mean token logprob, per run.

    Figures are over the pool of plain samples (not a generation strategy's): `accuracy` is the mean correctness of
    a single sample; `gold_logprob` the mean over problems of the gold answer's total log-probability (nats),
    `gold_logprob_per_token` of its per-token mean, `gold_prob` of exp(total), over the `gold_problems` problems
    whose gold likelihood was read (none for runs with gold_likelihood off); `mean_logprob_correct` the mean over
    correct samples of their mean token logprob (conditioned on success; NaN when nothing was right) and
    `mean_logprob_all` over all samples.

    Args:
        paths: run directories.

    Returns:
        DataFrame, one row per run: run, model_name, benchmark, samples, correct_samples, accuracy, gold_problems,
        gold_logprob, gold_logprob_per_token, gold_prob, mean_logprob_correct, mean_logprob_all, note. A run
        evaluated before summary.parquet existed has NaN figures and a note saying how to add them.

    Example:
        continuous_metric(["runs/gsm8k-smollm2-135m-n64"]).iloc[0]["gold_logprob"]
    """
    rows = []
    for p in paths:
        manifest = existing_manifest(p)
        cfg = manifest.get("config", {})
        run = manifest.get("run_id") or Path(p).name
        head = {"run": run, "model_name": cfg.get("model"), "benchmark": cfg.get("benchmark")}
        summary = load_summary(p)
        if summary is None:
            rows.append({**head, **dict.fromkeys(COLUMNS[3:-1], np.nan),
                         "note": f"{run}: no per-problem summary (summary.parquet), so no continuous signal; run "
                                 "the same `python -m testtime run` command again to write it (no new sampling)"})
            continue
        rows.append({**head, **_figures(summary), "note": ""})
    return pd.DataFrame(rows, columns=COLUMNS)


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
