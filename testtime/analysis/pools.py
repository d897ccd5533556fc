"""A stored run's samples as arrays, for the analyses that need every sample and not only the per-n means:
the two-level bootstrap, paired comparisons, difficulty bins, forecasts and the sequential x parallel grid.

Reads the run directory's samples through `testtime.store.reader`, the read-only reader the runner's `Store.pool`
uses too (so both build the same pool by the same rule: a problem with fewer samples than the group's most is left
out and named in `Pool.left_out`); only the columns a `Pool` holds, never the texts.

Example:
    runs = load_pools(["runs/a", "runs/b"])
    runs[0].pool.correct.shape             # (P, N)
    shared_problems(runs)                  # {"gsm8k": ("gsm8k/test/21", ...)}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from testtime.store.manifest import Manifest, existing_manifest
from testtime.store.pool import Pool
from testtime.store.reader import POOL as POOL_GROUP
from testtime.store.reader import first_samples, read_samples, to_pool  # noqa: F401  (read_samples: the analyzer's name for it)

_GROUP = re.compile(r"^(?P<strategy>.+)-(?P<digest>[0-9a-f]{8})@(?P<budget>\d+)$")


@dataclass
class RunPools:
    """One run's samples: the pool, each generation strategy's samples per budget, and the facts to cost them."""

    path: Path
    run: str
    """The run id (the manifest's)."""
    model: str
    benchmark: str
    pool: Pool | None
    """The plain samples; None when the run stored none (or the directory holds no samples)."""
    generated: dict[tuple[str, int], Pool] = field(default_factory=dict)
    """(generation strategy, budget) -> its samples at that budget."""
    strategies: list[str] = field(default_factory=list)
    """The run's strategies as "name" or "name:scorer", from its results (what the run evaluated); the analyzer
    adds every other selection strategy the pool answers."""
    manifest: Manifest = field(default_factory=Manifest)

    def __post_init__(self) -> None:
        if isinstance(self.manifest, dict):   # manifest.json's mapping, as tests and notebooks plant it
            self.manifest = Manifest.from_dict(self.manifest)


def load_pools(paths: Sequence[str | Path], results: pd.DataFrame | None = None) -> list[RunPools]:
    """Every run's samples as Pools.

    Args:
        paths: run directories.
        results: `load_runs`' table, to know which (strategy, scorer) pairs each run evaluated; when None, each
            run's config strategies are used.

    Returns:
        One RunPools per path, in order; a run without sample parts has pool None (its results still load).

    Example:
        load_pools(["runs/gsm8k-smollm2-135m-n64"])[0].pool.n_samples   # 64
    """
    out = []
    for p in paths:
        path = Path(p)
        manifest = existing_manifest(path)
        run = manifest.run_id or path.name
        df = read_samples(path)
        pool, generated = None, {}
        grading = manifest.grading   # the grade the run's results count
        if df is not None and len(df):
            for group, g in df.groupby("group", sort=False):
                if group == POOL_GROUP:
                    # The n the run evaluated: a pool grown beyond it is read as its first n, as results.json was.
                    # (manifests made before pools grew, without pool_size, evaluated every stored sample)
                    n = manifest.config.sampling.n if manifest.config is not None and manifest.pool_size else None
                    pool = to_pool(first_samples(g, n), where=str(path), grading=grading)
                elif m := _GROUP.match(str(group)):
                    generated[(m["strategy"], int(m["budget"]))] = to_pool(g, where=f"{path} ({group})",
                                                                           grading=grading)
        if results is not None and "run" in results:
            mine = results[(results["run"] == run) & results["budget"].isna()]
            strategies = list(dict.fromkeys(s if c is None or c != c else f"{s}:{c}"
                                            for s, c in zip(mine["strategy"], mine["scorer"])))
        else:
            strategies = list(manifest.config.strategies if manifest.config is not None else ())
        out.append(RunPools(path=path, run=run, model=manifest.model, benchmark=manifest.benchmark, pool=pool,
                            generated=generated, strategies=strategies, manifest=manifest))
    return out


def subset(pool: Pool, problem_ids: Sequence[str]) -> Pool:
    """The pool restricted to `problem_ids` (in that order)."""
    index = {pid: i for i, pid in enumerate(pool.problem_ids)}
    rows = np.array([index[p] for p in problem_ids], int)
    return take(pool, rows)


def take(pool: Pool, rows: np.ndarray, samples: np.ndarray | None = None) -> Pool:
    """A pool of the given problem rows (repeats allowed) and, per row, the given sample columns ([len(rows), M]
    indices, repeats allowed; default all N): the building block of bootstrap resamples. The answer strings are
    left out (no strategy reads them; vote classes are `answer_ids`)."""
    rows = np.asarray(rows, int)
    if samples is None:
        pick = lambda a: a[rows]  # noqa: E731
    else:
        samples = np.asarray(samples, int)
        pick = lambda a: np.take_along_axis(a[rows], samples, axis=1)  # noqa: E731
    return Pool(problem_ids=tuple(pool.problem_ids[i] for i in rows), answer_ids=pick(pool.answer_ids),
                correct=pick(pool.correct), output_tokens=pick(pool.output_tokens),
                prompt_tokens=pool.prompt_tokens[rows], decode_flops=pick(pool.decode_flops),
                prefill_flops=pool.prefill_flops[rows],
                scores={k: pick(v) for k, v in pool.scores.items() if k != "oracle"},
                score_flops=pick(pool.score_flops), scorer_flops={k: pick(v) for k, v in pool.scorer_flops.items()},
                grading=pool.grading, seconds=pick(pool.seconds))


def shared_problems(runs: Sequence[RunPools]) -> dict[str, tuple[str, ...]]:
    """Per benchmark, the problems every run on it sampled (sorted); runs without samples use their manifest's
    problem list."""
    out: dict[str, set] = {}
    for r in runs:
        ids = set(r.pool.problem_ids) if r.pool is not None else set(r.manifest.problems)
        out[r.benchmark] = ids if r.benchmark not in out else out[r.benchmark] & ids
    return {b: tuple(sorted(s)) for b, s in out.items()}
