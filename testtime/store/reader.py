"""Reading a run directory's samples, read-only: the one reader that `Store.pool` (the run) and the analyzer
(`testtime.analysis.pools`) share, so both see the same rows and build the same pools.

Reading: the sample parts (`samples/part-*.parquet`) are read oldest first, only the wanted columns (the pool's, never
the texts, unless asked), and a (group, problem, sample) row stored twice keeps its newest copy (compaction writes an
identical one; a rescore writes a superset). A listing that changes mid-read is read again (`records.read_parts`), and
a damaged part is named in one line (`records.read_part`).

One rule for problems with fewer samples: a pool holds the problems whose samples are all stored, as many as the
group's most (N). A problem with fewer (a run or generation budget interrupted mid-problem, e.g. a search that
stopped) is left out and counted: `Pool.left_out` names them. A caller that asks for specific problems (the runner,
`regrade`) gets a one-line UserError naming those that are missing or short instead, and what to do: re-run the same
command to finish sampling.

Example:
    df = read_samples("runs/gsm8k-smollm2-135m-n64-1a2b3c4d")      # DataFrame, no texts; None before any part
    pool = to_pool(df[df["group"] == "sample"], where="runs/...")  # every whole problem, sorted by id
    pool.left_out                                                   # ids with fewer samples than the others
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from testtime.errors import UserError
from testtime.store.pool import Pool
from testtime.store.records import read_part, read_parts

POOL = "sample"
"""The group of the pool's samples; a generation strategy's samples at one budget have their own group."""
KEY = ["group", "problem_id", "sample_index"]
"""What identifies one stored sample; rows are sorted by it."""
POOL_COLUMNS = ("group", "problem_id", "sample_index", "answer", "answer_id", "correct", "correct_strict",
                "answer_id_strict", "output_tokens", "prompt_tokens", "decode_flops", "prefill_flops", "score_flops",
                "ttft_s", "tpot_s", "request_s")
"""The fixed columns a Pool reads; every score_<name> and scorer_flops_<name> column too (`pool_column`)."""


def pool_column(name: str) -> bool:
    """Whether a Pool reads the sample column `name` (never the texts or token logprobs)."""
    return name in POOL_COLUMNS or name.startswith(("score_", "scorer_flops_"))


def first_samples(df, n: int | None):
    """The rows of `df` without the pool samples of index n and beyond (all of them for n None): a pool larger than
    the n asked for is read as its first n samples, which are what a fresh run of n draws."""
    if n is None:
        return df
    return df[(df["group"] != POOL) | (df["sample_index"] < n)]


def read_table(parts: Sequence[Path], columns: Callable[[str], bool] | None = None):
    """The rows of `parts` (the columns a predicate keeps, and "group"; all by default) as one pyarrow Table, one row
    per (group, problem, sample), sorted, the newest copy of a duplicate kept; None for no parts."""
    import pyarrow as pa

    if not parts:
        return None
    tables = [read_part(p, columns) for p in parts]
    df = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    # Parts are read oldest first; a duplicate row comes from compaction (identical) or a rewrite that added
    # scores (newer is a superset), so the newest copy wins.
    df = df.drop_duplicates(KEY, keep="last").sort_values(KEY)
    return pa.Table.from_pandas(df, preserve_index=False)


def read_samples(run_dir: str | Path, columns: Callable[[str], bool] | None = pool_column):
    """The run's stored samples as a DataFrame, one row per (group, problem, sample), sorted; the columns a Pool
    reads by default (`columns=None`: all, texts included). None when the directory holds no sample parts."""
    table = read_parts(run_dir, lambda parts: read_table(parts, columns))
    return None if table is None else table.to_pandas()


def measured_seconds(ttft, tpot, request, tokens) -> np.ndarray:
    """[P, N] seconds each sample took as measured per request: time to first token plus the time per output token
    for the rest of its tokens, else its whole request's seconds; NaN where nothing was measured (runs made before
    timings were stored, the fake backend)."""
    own = ttft + tpot * np.maximum(np.asarray(tokens, float) - 1, 0)
    return np.where(np.isfinite(own), own, request)


def to_pool(df, *, where: str = "run", grading: str = "flexible", problem_ids: Sequence[str] | None = None) -> Pool:
    """A Pool of one group's rows (as `read_samples` returns them), under the module's rule for short problems.

    Args:
        df: the rows of one group (any columns beyond the pool's are ignored).
        where: the run directory (and group), for messages.
        grading: "flexible", or "strict": the strict grades and vote classes (an unmarked answer counts as none);
            samples graded before grader 2 lack them: a one-line UserError naming `regrade`.
        problem_ids: the problems wanted, in that order; a one-line UserError names any that are missing or have
            fewer samples than the group's most. Default: every whole problem, sorted by id; the rest in `left_out`.

    Returns:
        The Pool; `left_out` names the problems left out for fewer samples (never a requested one).

    Example:
        to_pool(df[df["group"] == "sample"], where="runs/r", problem_ids=["gsm8k/test/3", "gsm8k/test/7"])
    """
    import pandas as pd

    run = where.split(" (")[0]
    if df is None or not len(df):
        raise UserError(f"{where} holds no samples yet; run `python -m testtime run` first")
    if grading == "strict":
        if any(c not in df.columns or df[c].isna().any() for c in ("correct_strict", "answer_id_strict")):
            raise UserError(f"{where}: samples graded before strict grades existed (grader 1); run `python -m "
                            f"testtime regrade {run}` to grade them again from their texts")
        df = df.assign(correct=df["correct_strict"], answer_id=df["answer_id_strict"],
                       answer=df["answer"].where(df["answer_id_strict"] >= 0, None))
    counts = df.groupby("problem_id").size()
    N = int(counts.max())
    whole = set(counts.index[counts == N])
    if problem_ids is not None:
        problem_ids = list(problem_ids)
        missing = [p for p in problem_ids if p not in counts.index]
        short = [p for p in problem_ids if p in counts.index and p not in whole]
        if missing or short:
            said = [f"{len(missing)} have no samples" if missing else "",
                    f"{len(short)} have fewer than {N}" if short else ""]
            raise UserError(f"{where}: {len(missing) + len(short)} of {len(problem_ids)} problems are not fully "
                            f"sampled ({', '.join(s for s in said if s)}; e.g. {(missing + short)[0]}); "
                            "re-run the same command to finish sampling")
        keep, left_out = problem_ids, ()
    else:
        keep, left_out = sorted(whole), tuple(sorted(set(counts.index) - whole))
    rows = df[df["problem_id"].isin(set(keep))].sort_values(["problem_id", "sample_index"])
    rows = rows.set_index("problem_id").loc[keep].reset_index()   # the problems in `keep` order
    P = len(keep)

    def grid(col, dtype=float, fill=0.0):
        if col not in rows.columns:
            return np.full((P, N), fill, dtype=dtype)
        values = rows[col]
        if dtype is float:
            values = pd.to_numeric(values, errors="coerce")
        elif dtype is int and values.isna().any():   # counts not known (an import without a tokenizer): NaN
            return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float).reshape(P, N)
        return values.to_numpy(dtype=dtype).reshape(P, N)

    scores = {c.removeprefix("score_"): grid(c) for c in rows.columns
              if c.startswith("score_") and c != "score_flops" and c != "score_oracle"}
    # Columns of other groups' fields read as null here: no spend.
    scorer_flops = {c.removeprefix("scorer_flops_"): np.nan_to_num(grid(c)) for c in rows.columns
                    if c.startswith("scorer_flops_")}
    answers = grid("answer", object, None)

    def spent(col):   # FLOPs; NaN throughout where nobody knew them (an import without the model's facts)
        values = grid(col)
        return values if col in rows.columns and len(rows) and np.isnan(values).all() else np.nan_to_num(values)

    return Pool(seconds=measured_seconds(grid("ttft_s", fill=np.nan), grid("tpot_s", fill=np.nan),
                                         grid("request_s", fill=np.nan), grid("output_tokens", int, 0)),
                problem_ids=tuple(keep), answer_ids=grid("answer_id", int, -1), correct=grid("correct", bool, False),
                output_tokens=grid("output_tokens", int, 0), prompt_tokens=grid("prompt_tokens", int, 0)[:, 0],
                decode_flops=spent("decode_flops"), prefill_flops=spent("prefill_flops")[:, 0], scores=scores,
                score_flops=np.nan_to_num(grid("score_flops")), scorer_flops=scorer_flops, grading=grading,
                answers=tuple(tuple(a if isinstance(a, str) else None for a in row) for row in answers),
                left_out=left_out)
