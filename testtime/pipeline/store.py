"""The run directory: a manifest and every sample, in Parquet, written so that a crash can never corrupt it.

    runs/<run name>/
        manifest.json                 config, sample key, versions, hardware, model facts, engine, timings, status
        samples/part-<time>-<n>.parquet   all n samples of one or more finished problems
        gold.parquet                  per problem: the model's log-probability of the gold answer (analysis)
        results.json, results.csv     strategy x budget table (rewritten at the end of every run)

Every file is written to a temporary name and renamed into place (atomic on POSIX), and a part only ever holds
problems whose samples are all there. So after `kill -9` the directory holds whole problems only; re-running the
same command skips them (`done()`) and samples the rest. Reading drops duplicate (problem, sample) rows, which makes
compaction (many parts -> one, then delete) safe to interrupt too.

Example:
    store = Store.open("runs/gsm8k-smollm2-135m-n64-1a2b3c4d", config)
    store.append(rows)             # list of dicts, one per sample (columns: SAMPLE_COLUMNS + score_<name>)
    store.done()                   # problem ids already sampled
    pool = store.pool(problem_ids)
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from testtime.errors import UserError
from testtime.pipeline.pool import Pool

SAMPLE_COLUMNS = (
    "run_id", "model", "benchmark", "group", "problem_id", "sample_index", "strategy", "prompt_tokens", "output_tokens",
    "text", "finish_reason", "answer", "answer_id", "correct", "logprob_sum", "logprob_mean", "token_logprobs",
    "prefill_flops", "decode_flops",
)

_TYPES = {
    "sample_index": pa.int32(), "prompt_tokens": pa.int32(), "output_tokens": pa.int32(), "answer_id": pa.int32(),
    "correct": pa.bool_(), "logprob_sum": pa.float64(), "logprob_mean": pa.float64(),
    "token_logprobs": pa.list_(pa.float32()), "prefill_flops": pa.float64(), "decode_flops": pa.float64(),
}


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically: a temporary file in the same folder, fsynced, then renamed over `path`."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.samples_dir = self.path / "samples"

    @classmethod
    def open(cls, path: str | Path, sample_key: dict) -> "Store":
        """A run directory for samples shaped by `sample_key` (created on first write); refuse one made for other
        samples."""
        store = cls(Path(path))
        manifest = store.manifest()
        if manifest is not None and manifest.get("sample_key") != json.loads(json.dumps(sample_key)):
            raise UserError(f"run directory {store.path} holds samples of a different configuration; "
                            "pass another --name or --output-dir, or delete it")
        return store

    @classmethod
    def existing(cls, path: str | Path) -> "Store":
        """A run directory that must already exist (for `show`, `analyze`)."""
        store = cls(Path(path))
        if store.manifest() is None:
            raise UserError(f"{path} is not a testtime run directory (no manifest.json); "
                            "pass a folder under runs/ (see `python -m testtime show`)")
        return store

    # ---- manifest -----------------------------------------------------------------------------------------------

    def manifest(self) -> dict | None:
        path = self.path / "manifest.json"
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            raise UserError(f"{path} is not valid JSON; the run directory is damaged (delete it to start over)")

    def update_manifest(self, **fields) -> dict:
        """Merge `fields` into manifest.json (atomically) and return the result."""
        manifest = self.manifest() or {}
        manifest.update(fields)
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.path / "manifest.json", manifest)
        return manifest

    # ---- samples ------------------------------------------------------------------------------------------------

    def append(self, rows: Sequence[dict]) -> None:
        """Write rows (all samples of whole problems) as one new part, atomically."""
        if not rows:
            return
        columns = {}
        for name in dict.fromkeys([*SAMPLE_COLUMNS, *rows[0]]):
            values = [r.get(name) for r in rows]
            columns[name] = pa.array(values, type=_TYPES.get(name) or _column_type(name, values))
        table = pa.table(columns)
        self.samples_dir.mkdir(parents=True, exist_ok=True)
        name = f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = self.samples_dir / f".{name}.tmp"
        pq.write_table(table, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.samples_dir / name)

    def parts(self) -> list[Path]:
        return sorted(self.samples_dir.glob("part-*.parquet"))

    def table(self, columns: Iterable[str] | None = None) -> pa.Table:
        """All stored samples, one row per (problem, sample), sorted; duplicates from interrupted compaction dropped."""
        parts = self.parts()
        if not parts:
            return pa.table({c: pa.array([], type=_TYPES.get(c, pa.string())) for c in SAMPLE_COLUMNS})
        tables = [_read(p, list(columns) if columns else None) for p in parts]
        table = pa.concat_tables(tables, promote_options="permissive")
        df = table.to_pandas()
        key = ["group", "problem_id", "sample_index"]
        # Parts are read oldest first; a duplicate row comes from compaction (identical) or a rewrite that added
        # scores (newer is a superset), so the newest copy wins.
        df = df.drop_duplicates(key, keep="last").sort_values(key)
        return pa.Table.from_pandas(df, preserve_index=False)

    def done(self, group: str = "sample") -> set[str]:
        """Problem ids whose samples of `group` are stored ("sample": the pool; "<strategy>@<budget>": a
        generation strategy's samples at one budget)."""
        out = set()
        for p in self.parts():
            t = _read(p, ["group", "problem_id"])
            out.update(pid for g, pid in zip(t.column(0).to_pylist(), t.column(1).to_pylist()) if g == group)
        return out

    def compact(self) -> None:
        """Merge the parts into one (written first, then the old parts removed; readers dedupe the overlap)."""
        if len(self.parts()) > 1:
            self.rewrite(self.table())

    def rewrite(self, table) -> None:
        """Replace every stored sample with `table` (all of them, e.g. with new score columns; a pyarrow Table or a
        DataFrame): one new part is written, then the old parts are removed; readers prefer the newest copy."""
        parts = self.parts()
        if not isinstance(table, pa.Table):
            table = pa.Table.from_pandas(table, preserve_index=False)
        table = pa.table({c: table[c].cast(_TYPES[c] if c in _TYPES else _small(table[c].type))
                          for c in table.column_names})
        name = f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = self.samples_dir / f".{name}.tmp"
        pq.write_table(table, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.samples_dir / name)
        for p in parts:
            p.unlink()

    # ---- gold-answer likelihood (one row per problem) ----------------------------------------------------------

    def gold(self) -> "pa.Table | None":
        """The gold-answer likelihoods stored so far (problem_id, gold_tokens, gold_logprob_sum, gold_logprob_mean);
        None before any."""
        path = self.path / "gold.parquet"
        return pq.read_table(path) if path.is_file() else None

    def add_gold(self, rows: Sequence[dict]) -> None:
        """Add per-problem gold likelihoods (a problem already there is replaced); one atomic rewrite."""
        if not rows:
            return
        new = pa.Table.from_pylist(list(rows))
        old = self.gold()
        if old is not None:
            ids = {r["problem_id"] for r in rows}
            keep = [i for i, pid in enumerate(old.column("problem_id").to_pylist()) if pid not in ids]
            new = pa.concat_tables([old.take(keep), new.cast(old.schema)])
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f".gold.{uuid.uuid4().hex}.tmp"
        pq.write_table(new, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.path / "gold.parquet")

    def pool(self, problem_ids: Sequence[str] | None = None, group: str = "sample") -> Pool:
        """The stored samples of `group` as a Pool, rows in `problem_ids` order (default: all, sorted)."""
        df = self.table().to_pandas()
        df = df[df["group"] == group]
        if problem_ids is not None:
            missing = set(problem_ids) - set(df["problem_id"])
            if missing:
                raise UserError(f"{len(missing)} problems have no samples in {self.path}; re-run to finish sampling")
            df = df[df["problem_id"].isin(set(problem_ids))]
        else:
            problem_ids = sorted(set(df["problem_id"]))
        if df.empty:
            raise UserError(f"{self.path} holds no samples yet; run `python -m testtime run` first")
        counts = df.groupby("problem_id").size()
        N = int(counts.min())
        if counts.max() != N:
            raise UserError(f"{self.path}: problems have different numbers of samples ({N}..{counts.max()})")
        df = df.set_index("problem_id").loc[list(problem_ids)].reset_index()

        def grid(col, dtype=float):
            return df[col].to_numpy(dtype=dtype).reshape(len(problem_ids), N)

        scores = {c.removeprefix("score_"): grid(c) for c in df.columns
                  if c.startswith("score_") and c != "score_flops"}
        # Columns of other groups' fields read as null here: no spend.
        score_flops = np.nan_to_num(grid("score_flops")) if "score_flops" in df.columns else None
        scorer_flops = {c.removeprefix("scorer_flops_"): np.nan_to_num(grid(c)) for c in df.columns
                        if c.startswith("scorer_flops_")}
        answers = grid("answer", object)
        return Pool(problem_ids=tuple(problem_ids), answer_ids=grid("answer_id", int), correct=grid("correct", bool),
                    output_tokens=grid("output_tokens", int), prompt_tokens=grid("prompt_tokens", int)[:, 0],
                    decode_flops=grid("decode_flops"), prefill_flops=grid("prefill_flops")[:, 0], scores=scores,
                    score_flops=score_flops, scorer_flops=scorer_flops, answers=tuple(tuple(a if isinstance(a, str) else None for a in row) for row in answers))


def _read(path: Path, columns: list[str] | None) -> pa.Table:
    """One part; parts written before sample groups existed hold pool samples only ("sample")."""
    names = pq.read_schema(path).names
    table = pq.read_table(path, columns=[c for c in columns if c in names] if columns else None)
    if "group" not in names and (columns is None or "group" in columns):
        table = table.add_column(0, "group", pa.array(["sample"] * table.num_rows, pa.string()))
        if columns:
            table = table.select(columns)
    return table


def _small(t: pa.DataType) -> pa.DataType:
    """string for large_string (pandas' string dtype round-trips as large_string), so parts concatenate."""
    return pa.string() if t == pa.large_string() else t


def _column_type(name: str, values: list) -> pa.DataType | None:
    if name.startswith(("score_", "scorer_flops_")):
        return pa.float64()
    return pa.string() if all(v is None for v in values) else None  # strategy fields: inferred

