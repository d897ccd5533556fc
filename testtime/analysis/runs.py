"""Stored runs -> one tidy table: each run's result rows (`testtime.store.records.Results`), labelled, beside the
model's N, training tokens D and training compute 6ND from `testtime.analysis.catalog`.

One row per (model, benchmark, strategy, scorer, n or budget). `scorer` is None where a strategy ranks by nothing, and
`oracle` marks strategies that read the gold answer (pass@k, best-of-n by oracle): upper bounds, not choices.

Example:
    table = load_runs(["runs/gsm8k-smollm2-135m-n64", "runs/gsm8k-qwen2.5-coder-0.5b-n64"])
    for (model, benchmark, strategy, scorer), g in series(table): ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from testtime.analysis.catalog import lookup, training_flops
from testtime.errors import UserError
from testtime.store.manifest import Manifest
from testtime.store.records import Results

KEY = ["model", "benchmark", "strategy", "scorer"]
"""One series of the table: a strategy (with its scorer) of one model on one benchmark."""
_NUMERIC = ["n", "budget", "accuracy", "ci_low", "ci_high", "mc_stderr", "tokens_per_problem", "flops_per_problem",
            "flops_per_problem_naive", "problems", "samples_per_problem"]


def load_runs(paths: Sequence[str | Path]) -> pd.DataFrame:
    """One tidy table from run directories: their results rows, labelled and joined with catalog facts.

    Args:
        paths: run directories (each with manifest.json and results.json).

    Returns:
        DataFrame with columns run, model (a label; "name [run]" when two runs share model and benchmark),
        model_name, benchmark, then ResultRow's fields (strategy, scorer (None for none), n, accuracy, ci_low,
        ci_high, tokens_per_problem, flops_per_problem, flops_per_problem_naive, problems, mc_stderr, budget (a
        generation strategy's budget, else NaN), budget_unit, samples_per_problem, oracle, generation (the
        generation strategy a sequential x parallel grid row selects among, else None)), then run_path, params
        (N), training_tokens (D), training_flops (6ND), catalog_note (why a fact is NaN, else ""), device,
        seconds_per_token and seconds_per_problem (`throughput`: the run's measured engine time per generated
        token times the tokens per problem).

    Raises:
        UserError: no paths, a missing or repeated path, or a directory that is not a finished run.

    Example:
        table = load_runs(["runs/gsm8k-smollm2-135m-n64"])
    """
    if not paths:
        raise UserError("no run directories given; pass one or more folders under runs/")
    frames, seen = [], set()
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise UserError(f"{path} does not exist; pass a run directory (see `python -m testtime show`)")
        if path.resolve() in seen:
            raise UserError(f"{path} was given twice; pass each run once")
        seen.add(path.resolve())
        frames.append(_load_run(path))
    table = pd.concat(frames, ignore_index=True)
    # Two runs of one model on one benchmark (other temperature, say) stay apart under "name [run]" labels.
    pairs = table.groupby(["model_name", "benchmark"])["run"].nunique()
    shared = {k for k, v in pairs.items() if v > 1}
    table["model"] = [f"{m} [{r}]" if (m, b) in shared else m
                      for m, b, r in zip(table["model_name"], table["benchmark"], table["run"])]
    return table[["run", "model", *[c for c in table.columns if c not in ("run", "model")]]]


def _load_run(path: Path) -> pd.DataFrame:
    results = Results.load(path)
    cfg = results.config
    df = results.to_pandas()
    for col in _NUMERIC:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    df["scorer"] = df["scorer"].astype(object).where(df["scorer"].notna(), None)
    df["oracle"] = df["oracle"].astype(bool)
    df.insert(0, "run", results.run_id)
    df.insert(1, "model_name", results.manifest.model)
    df.insert(2, "benchmark", results.manifest.benchmark)
    df["run_path"] = str(path)
    facts = model_facts(cfg.model if cfg is not None else "", results.manifest.model_facts,
                        cfg.model_card if cfg is not None else {})
    for k, v in facts.items():
        df[k] = v
    cost = throughput(results.manifest)
    df["device"] = cost["device"]
    df["seconds_per_token"] = cost["seconds_per_token"]
    df["seconds_per_problem"] = df["tokens_per_problem"] * cost["seconds_per_token"]
    return df


def throughput(manifest: Manifest) -> dict:
    """The run's measured sampling cost: device (the engine's platform and the machine), and wall-clock seconds of
    the engine per generated token (sampling time / sampled tokens, so prefill and batching are amortised in);
    NaN when the run recorded no timings (the fake backend, or a run from before they existed).

    Example:
        throughput(existing_manifest("runs/gsm8k-smollm2-135m-n64"))   # {"device": "cpu (AMD EPYC, 2 cpus)", ...}
    """
    timings = manifest.timings
    seconds, tokens = timings.get("sampling_s"), timings.get("sampled_tokens")
    per_token = float(seconds) / float(tokens) if seconds and tokens else np.nan
    engine, hw = manifest.engine, manifest.hardware
    platform = engine.get("platform") or engine.get("backend") or "unknown"
    gpus = hw.get("gpus") or []
    where = (f"{len(gpus)} x {gpus[0]}" if gpus else
             f"{hw.get('processor') or hw.get('machine') or '?'}, {hw.get('cpus', '?')} cpus")
    return {"device": f"{platform} ({where})", "seconds_per_token": per_token}


def model_facts(model: str, run_facts: dict, overrides: dict | None = None) -> dict:
    """N, D and 6ND of `model`: the catalog's entry with the run config's `model_card` overrides applied.

    Args:
        model: the run's `--model` (catalog name or repo id).
        run_facts: the manifest's model_facts (N measured from the model's config.json by the runner).
        overrides: the run config's model_card mapping; for a model not in the catalog, params and
            training_tokens supply N and D.

    Returns:
        dict of params, training_tokens, training_flops (NaN when unknown) and catalog_note (why, else "").

    Example:
        model_facts("smollm2-135m", {}, {"training_tokens": 4e12})["training_flops"]   # 6 * 134.5e6 * 4e12
    """
    overrides = overrides or {}
    try:
        card = lookup(model)
    except UserError:
        if overrides.get("params") and overrides.get("training_tokens"):
            n, d = float(overrides["params"]), float(overrides["training_tokens"])
            return {"params": n, "training_tokens": d, "training_flops": 6 * n * d,
                    "catalog_note": f"{model!r}: N and D from the run config's model_card"}
        # N is measured from the model's own config.json by the runner; D is published, so it has no fallback.
        n = run_facts.get("params")
        return {"params": float(n) if n else np.nan, "training_tokens": np.nan, "training_flops": np.nan,
                "catalog_note": f"{model!r} is not in the catalog: training tokens D and 6ND unknown"
                                + ("; N from the run's model facts" if n else "; N unknown")}
    card = card.with_overrides(overrides)
    return {"params": float(card.params), "training_tokens": float(card.training_tokens),
            "training_flops": training_flops(card), "catalog_note": ""}


def series(table: pd.DataFrame, keys: Sequence[str] = KEY) -> Iterator[tuple[tuple, pd.DataFrame]]:
    """Group `table` by `keys` in order of appearance, keeping rows whose scorer is None (pandas would drop them).

    Returns:
        (key tuple with None for a missing value, rows) pairs.

    Example:
        for (model, benchmark, strategy, scorer), g in series(table): ...
    """
    for key, g in table.groupby(list(keys), sort=False, dropna=False):
        yield tuple(None if _missing(k) else k for k in key), g


def matches(column: pd.Series, value) -> pd.Series:
    """Rows of `column` equal to `value`, where None matches a missing value (a strategy without scorer)."""
    return column.isna() if _missing(value) else column == value


def label(strategy: str, scorer: str | None) -> str:
    """"strategy" or "strategy (scorer)", as `ResultRow.label` writes it."""
    return strategy if _missing(scorer) else f"{strategy} ({scorer})"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))
