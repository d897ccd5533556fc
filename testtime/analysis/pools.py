"""A stored run's samples as arrays, for the analyses that need every sample and not only the per-budget means:
the two-level bootstrap, paired comparisons, difficulty bins, forecasts and the sequential x parallel grid.

Reads the run directory's sample parts (`samples/part-*.parquet`, columns as `testtime.store.records` names
them) directly with pyarrow, only the columns a `Pool` holds (never the texts), so the analyzer does not open the
runner's `Store`. As the store does, a (group, problem, sample) row written twice keeps its newest copy.

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
import pyarrow as pa

from testtime.errors import UserError
from testtime.store.pool import Pool
from testtime.store.records import existing_manifest, read_part, read_parts

POOL_GROUP = "sample"
"""The group of a run's plain samples (the pool); a generation strategy's are "<name>-<digest>@<budget>"."""
_COLUMNS = ["group", "problem_id", "sample_index", "answer", "answer_id", "correct", "correct_strict",
            "answer_id_strict", "output_tokens", "prompt_tokens", "decode_flops", "prefill_flops", "score_flops"]
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
    manifest: dict = field(default_factory=dict)


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
        cfg = manifest.get("config", {})
        run = manifest.get("run_id") or path.name
        df = read_samples(path)
        pool, generated = None, {}
        grading = cfg.get("grading", "flexible")   # the grade the run's results count
        if df is not None and len(df):
            for group, g in df.groupby("group", sort=False):
                if group == POOL_GROUP:
                    pool = to_pool(g, where=str(path), grading=grading)
                elif m := _GROUP.match(str(group)):
                    generated[(m["strategy"], int(m["budget"]))] = to_pool(g, where=f"{path} ({group})",
                                                                           grading=grading)
        if results is not None and "run" in results:
            mine = results[(results["run"] == run) & results["budget"].isna()]
            strategies = list(dict.fromkeys(s if c is None or c != c else f"{s}:{c}"
                                            for s, c in zip(mine["strategy"], mine["scorer"])))
        else:
            strategies = list(cfg.get("strategies") or [])
        out.append(RunPools(path=path, run=run, model=str(cfg.get("model", "unknown")),
                            benchmark=str(cfg.get("benchmark", "unknown")), pool=pool, generated=generated,
                            strategies=strategies, manifest=manifest))
    return out


def read_samples(run_dir: str | Path) -> pd.DataFrame | None:
    """The run's stored samples without their texts, one row per (group, problem, sample), sorted; None when the
    directory holds no sample parts."""
    # read_parts lists the parts again if a run writing them compacts them meanwhile; read_part names a damaged one.
    wanted = lambda c: c in _COLUMNS or c.startswith(("score_", "scorer_flops_"))   # noqa: E731
    tables = read_parts(run_dir, lambda parts: [read_part(part, wanted) for part in parts])
    if not tables:
        return None
    df = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    key = ["group", "problem_id", "sample_index"]
    return df.drop_duplicates(key, keep="last").sort_values(key).reset_index(drop=True)


def to_pool(df: pd.DataFrame, *, where: str = "run", grading: str = "flexible") -> Pool:
    """A Pool of one group's rows (problems sorted by id, samples by index); problems with fewer samples than the
    others are dropped (an interrupted generation budget), so every row has the same N. `grading` "strict" takes the
    strict grades and vote classes (unmarked answers count as none)."""
    if grading == "strict":
        if "correct_strict" not in df.columns or df["correct_strict"].isna().any():
            raise UserError(f"{where}: samples graded before strict grades existed (grader 1); run `python -m "
                            f"testtime regrade {where.split(' (')[0]}` first")
        df = df.assign(correct=df["correct_strict"], answer_id=df["answer_id_strict"],
                       answer=df["answer"].where(df["answer_id_strict"] >= 0, None))
    counts = df.groupby("problem_id").size()
    N = int(counts.max())
    keep = sorted(counts.index[counts == N])
    if not keep:
        raise UserError(f"{where}: no problem has all its samples")
    df = df[df["problem_id"].isin(set(keep))].sort_values(["problem_id", "sample_index"])
    P = len(keep)

    def grid(col, dtype=float, fill=0.0):
        if col not in df.columns:
            return np.full((P, N), fill, dtype=dtype)
        values = df[col]
        if dtype is float:
            values = pd.to_numeric(values, errors="coerce")
        return values.to_numpy(dtype=dtype).reshape(P, N)

    scores = {c.removeprefix("score_"): grid(c) for c in df.columns if c.startswith("score_") and c != "score_flops"}
    scorer_flops = {c.removeprefix("scorer_flops_"): np.nan_to_num(grid(c)) for c in df.columns
                    if c.startswith("scorer_flops_")}
    answers = grid("answer", object, None)
    return Pool(problem_ids=tuple(keep), answer_ids=grid("answer_id", int, -1), correct=grid("correct", bool, False),
                output_tokens=grid("output_tokens", int, 0), prompt_tokens=grid("prompt_tokens", int, 0)[:, 0],
                decode_flops=np.nan_to_num(grid("decode_flops")), prefill_flops=np.nan_to_num(grid("prefill_flops"))[:, 0],
                scores={k: v for k, v in scores.items() if k != "oracle"},
                score_flops=np.nan_to_num(grid("score_flops")), scorer_flops=scorer_flops, grading=grading,
                answers=tuple(tuple(a if isinstance(a, str) else None for a in row) for row in answers))


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
                grading=pool.grading)


def shared_problems(runs: Sequence[RunPools]) -> dict[str, tuple[str, ...]]:
    """Per benchmark, the problems every run on it sampled (sorted); runs without samples use their manifest's
    problem list."""
    out: dict[str, set] = {}
    for r in runs:
        ids = set(r.pool.problem_ids) if r.pool is not None else set(r.manifest.get("problems") or [])
        out[r.benchmark] = ids if r.benchmark not in out else out[r.benchmark] & ids
    return {b: tuple(sorted(s)) for b, s in out.items()}
