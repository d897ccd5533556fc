"""The Python API for notebooks and scripts: run a config, read a run back as DataFrames, evaluate a strategy on a
stored pool, analyze runs. Re-exported from `testtime`.

Example:
    import testtime
    results = testtime.run("configs/default.yaml", {"backend": "fake", "limit": 5, "sampling.n": 8})
    testtime.load_results(results.path)                        # one row per (strategy, scorer, n or budget)
    testtime.load_samples(results.path)                        # one row per sample
    testtime.evaluate(results.path, "weighted_majority:logprob", ns=[1, 4, 8])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from testtime.config import RunConfig, load_config
from testtime.errors import UserError
from testtime.pipeline.events import Reporter
from testtime.store.records import Results, existing_manifest


def run(config: RunConfig | str | Path | None = None, settings: Mapping[str, Any] | None = None, *,
        reporter: Reporter | None = None) -> Results:
    """Sample, score, store and evaluate, as `python -m testtime run` does; resumes a run directory like it.

    Args:
        config: a RunConfig, a YAML config file, or None for the defaults.
        settings: dotted key -> value overrides, e.g. {"sampling.n": 64, "limit": None}.
        reporter: progress events (testtime.report.progress.LiveProgress); None: silent.

    Returns:
        Results: the result rows, the manifest, and the run directory (`.path`).
    """
    from testtime.pipeline.runner import run as run_config

    if not isinstance(config, RunConfig):
        config = load_config(config, settings=settings)
    elif settings:
        raise UserError("pass settings with a config file (or None), or build the RunConfig with them")
    return run_config(config, reporter=reporter)


def load_results(run_dir: str | Path):
    """A run's results as a pandas DataFrame: one row per (strategy, scorer, n or budget), ResultRow's columns."""
    return Results.load(run_dir).to_pandas()


def load_samples(run_dir: str | Path):
    """Every stored sample of a run as a pandas DataFrame (the records of testtime.store.records.SampleRecord,
    plus score_<scorer> and strategy-specific columns)."""
    from testtime.store.store import Store

    existing_manifest(run_dir)
    return Store(Path(run_dir)).table().to_pandas()


def evaluate(run_dir: str | Path, strategy: str, *, ns: Sequence[int] | None = None,
             options: Mapping[str, Any] | None = None, n_boot: int = 1000, seed: int | None = None,
             budgets: Sequence[int] | None = None):
    """One selection strategy ("name" or "name:scorer") on a run's stored pool, at the n in `ns` (samples per
    problem; default 1, 2, 4, ..., N), without sampling: a DataFrame like `load_results`. `options` are the
    strategy's settings; `seed` seeds the bootstrap (default the run's bootstrap_seed); `budgets` is the old name of
    `ns`."""
    from testtime.pipeline.evaluate import evaluate as evaluate_pool, make_strategy
    from testtime.store.store import Store

    manifest = existing_manifest(run_dir)
    name = strategy.partition(":")[0]
    scorer = manifest.config.scorer if manifest.config is not None else "logprob"
    s = make_strategy(strategy, scorer, {name: dict(options or {})})
    if s.kind != "selection":
        raise UserError(f"{name} is a generation strategy: it samples; run it with testtime.run")
    pool = Store(Path(run_dir)).pool(manifest.problems or None)
    if seed is None:
        seed = manifest.config.bootstrap_seed if manifest.config is not None else 0
    rows = evaluate_pool(pool, [s], ns=ns if ns is not None else budgets, n_boot=n_boot, seed=seed)
    return Results(rows=rows).to_pandas()


def analyze(run_dirs: Sequence[str | Path], **kwargs):
    """Fits, frontier, signal and (compare=True) exchange rates of stored runs: testtime.analysis.analyze."""
    from testtime.analysis import analyze as analyze_runs

    return analyze_runs(run_dirs, **kwargs)
