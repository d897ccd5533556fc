"""The run directory: a manifest and every sample, in Parquet, written so that a crash can never corrupt it.

    runs/<run name>/
        manifest.json                 config, sample key, versions, hardware, model facts, engine, timings, status
        samples/part-<time>-<n>.parquet   all n samples of one or more finished problems
        gold.parquet                  per problem: the model's log-probability of the gold answer
        summary.parquet, results.json, results.csv   what the analyzer reads (testtime.store.records),
                                      rewritten at the end of every run
        engine.log                    the engine's own log lines

Every file is written to a temporary name and renamed into place (atomic on POSIX), and a part only ever holds
problems whose samples are all there. So after `kill -9` the directory holds whole problems only; re-running the
same command skips them (`done()`) and samples the rest. Reading drops duplicate (problem, sample) rows, which makes
compaction (many parts -> one, then delete) safe to interrupt too.

Example:
    store = Store.open("runs/gsm8k-smollm2-135m-n64-1a2b3c4d", config)
    store.append(records)          # SampleRecords of whole problems, one part
    store.done()                   # problem ids already sampled
    pool = store.pool(problem_ids)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Callable, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from testtime.config import identity
from testtime.errors import UserError
from testtime.files import atomic_write, check_folder, write_json
from testtime.sampler import Completion
from testtime.store.manifest import MANIFEST, Manifest, read_manifest
from testtime.store.pool import Pool
from testtime.store.reader import POOL, first_samples, pool_column, read_table, to_pool
from testtime.store.records import (SAMPLE_COLUMNS, SUMMARY_COLUMNS, SampleRecord, read_parquet,
                                    read_part, read_parts, sample_columns)

_TYPES = {
    "sample_index": pa.int32(), "prompt_tokens": pa.int32(), "output_tokens": pa.int32(), "answer_id": pa.int32(),
    "correct": pa.bool_(), "logprob_sum": pa.float64(), "logprob_mean": pa.float64(),
    "token_logprobs": pa.list_(pa.float32()), "prefill_flops": pa.float64(), "decode_flops": pa.float64(),
    "extraction": pa.string(), "correct_strict": pa.bool_(), "answer_id_strict": pa.int32(),
    "ttft_s": pa.float64(), "tpot_s": pa.float64(), "request_s": pa.float64(),
}


def generation_group(strategy, budget: int) -> str:
    """The group of a generation strategy's samples at `budget`: its name, a digest of its settings (so changing
    them never reuses old samples) and the budget."""
    # Settings that only change how the samples are evaluated (field metadata "evaluation_only", e.g. budget
    # forcing's `select`) are left out, so the digests of runs made before such a setting existed stay as they were.
    later = {f.name for f in dataclasses.fields(strategy) if f.metadata.get("evaluation_only")}
    settings = {k: v for k, v in dataclasses.asdict(strategy).items() if k not in later}
    if strategy.revision > 1:   # revision 1 is left out: the digests made before revisions existed stay valid
        settings["revision"] = strategy.revision
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    return f"{strategy.name}-{digest}@{budget}"


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.samples_dir = self.path / "samples"
        self._read_cache: tuple[tuple, pa.Table] | None = None

    @classmethod
    def open(cls, path: str | Path, sample_key: dict) -> "Store":
        """A run directory for samples shaped by `sample_key` (created on first write); refuse one made for other
        samples. The number of samples per problem is not part of it (`config.identity`): the pool grows in place."""
        check_folder(path, "run directory", "pass another --output-dir (or --name)")
        store = cls(Path(path))
        manifest = store.manifest()
        if manifest is not None and (manifest.sample_key is None
                                     or identity(manifest.sample_key) != identity(sample_key)):
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

    def manifest(self) -> Manifest | None:
        """manifest.json, typed; None before the run wrote one."""
        return read_manifest(self.path)

    def update_manifest(self, **fields) -> Manifest:
        """Merge `fields` (JSON values, as manifest.json holds them) into manifest.json, atomically, every other key
        kept as it is; the result."""
        manifest = self.manifest()
        data = manifest.to_dict() if manifest is not None else {}
        data.update(fields)
        write_json(self.path / MANIFEST, data)
        return Manifest.from_dict(json.loads(json.dumps(data, default=str)))   # as read back from the file

    # ---- samples ------------------------------------------------------------------------------------------------

    def append(self, records: Sequence[SampleRecord]) -> None:
        """Write the records (all samples of whole problems) as one new part, atomically."""
        if not records:
            return
        rows = [r.to_row() for r in records]
        columns = {}
        for name in sample_columns(rows):
            values = [r.get(name) for r in rows]
            columns[name] = pa.array(values, type=_TYPES.get(name) or _column_type(name, values))
        self._write_part(pa.table(columns))

    def _write_part(self, table: pa.Table) -> None:
        name = f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
        atomic_write(self.samples_dir / name, lambda tmp: pq.write_table(table, tmp))

    def parts(self) -> list[Path]:
        return sorted(self.samples_dir.glob("part-*.parquet"))

    def table(self) -> pa.Table:
        """All stored samples, one row per (problem, sample), sorted; duplicates from interrupted compaction dropped.

        The whole table is kept until the parts change (a run reads it to find unscored samples, to score them,
        to compact, for each pool and for the summary; parts are never modified in place, only added or removed).
        A reader beside a writer sees whole problems (records.read_parts)."""
        return read_parts(self.path, self._table)

    def _table(self, parts: list[Path]) -> pa.Table:
        if not parts:
            return pa.table({c: pa.array([], type=_TYPES.get(c, pa.string())) for c in SAMPLE_COLUMNS})
        key = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in parts)
        if self._read_cache is None or self._read_cache[0] != key:
            self._read_cache = (key, self._read_parts(parts))
        return self._read_cache[1]

    @staticmethod
    def _read_parts(parts: list[Path]) -> pa.Table:
        return read_table(parts)   # every column, newest copy of a duplicate kept (testtime.store.reader)

    def done(self, group: str = POOL) -> set[str]:
        """Problem ids whose samples of `group` are stored ("sample": the pool; "<strategy>@<budget>": a
        generation strategy's samples at one budget)."""
        out = set()
        for p in self.parts():
            t = _read(p, ["group", "problem_id"])
            out.update(pid for g, pid in zip(t.column(0).to_pylist(), t.column(1).to_pylist()) if g == group)
        return out

    def counts(self, group: str = POOL) -> dict[str, int]:
        """Problem id -> samples of `group` stored (a pool grown in place holds its blocks 0..k-1, k..n-1, each
        stored whole)."""
        seen: set[tuple[str, int]] = set()
        for p in self.parts():
            t = _read(p, ["group", "problem_id", "sample_index"])
            seen.update((pid, k) for g, pid, k in zip(*(t.column(c).to_pylist() for c in range(3))) if g == group)
        out: dict[str, int] = {}
        for pid, _ in seen:
            out[pid] = out.get(pid, 0) + 1
        return out

    def answers(self, problem_ids: Sequence[str]) -> dict[str, tuple[list, list]]:
        """Per pool problem among `problem_ids`: its stored answers in sample order, under the flexible and the
        strict policy (None where a sample has none); what the vote classes of samples added to it build on."""
        if not self.parts():
            return {}
        cols = ["group", "problem_id", "sample_index", "answer", "answer_id_strict"]
        df = self.table().select([c for c in cols if c in self.table().column_names]).to_pandas()
        df = df[(df["group"] == POOL) & df["problem_id"].isin(set(problem_ids))].sort_values("sample_index")
        out = {}
        for pid, g in df.groupby("problem_id", sort=False):
            flexible = [a if isinstance(a, str) else None for a in g["answer"]]
            marked = g["answer_id_strict"] if "answer_id_strict" in g else [None] * len(g)
            strict = [a if (k is not None and k == k and k >= 0) else None for a, k in zip(flexible, marked)]
            out[pid] = (flexible, strict)
        return out

    def score_names(self) -> list[str]:
        """The scorers whose scores the stored pool carries (its score_<name> columns)."""
        names = set()
        for p in self.parts():
            names.update(c.removeprefix("score_") for c in pq.read_schema(p).names
                         if c.startswith("score_") and c not in ("score_flops", "score_oracle"))
        return sorted(names)

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
        self._write_part(table)
        for p in parts:
            p.unlink()

    # ---- gold-answer likelihood (one row per problem) ----------------------------------------------------------

    def gold(self) -> "pa.Table | None":
        """The gold-answer likelihoods stored so far (problem_id, gold_tokens, gold_logprob_sum, gold_logprob_mean);
        None before any."""
        path = self.path / "gold.parquet"
        if not path.is_file():
            return None
        return read_parquet(path, remedy=f"delete it (rm {path}); the next run reads the gold-answer likelihoods again")

    def without_gold(self, problem_ids: Sequence[str]) -> list[str]:
        """The problems among `problem_ids` whose gold-answer likelihood is not stored yet."""
        gold = self.gold()
        have = set(gold.column("problem_id").to_pylist()) if gold is not None else set()
        return [p for p in problem_ids if p not in have]

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
        atomic_write(self.path / "gold.parquet", lambda tmp: pq.write_table(new, tmp))

    def pool(self, problem_ids: Sequence[str] | None = None, group: str = POOL, grading: str = "flexible",
             n: int | None = None) -> Pool:
        """The stored samples of `group` as a Pool (testtime.store.reader.to_pool, the analyzer's reader too): rows
        in `problem_ids` order, each of which must have all its samples (a one-line UserError naming the missing or
        short ones otherwise); default every whole problem, sorted, the short ones in `Pool.left_out`. Graded by
        policy `grading` ("flexible", or "strict": the strict grades and vote classes, which samples graded before
        grader 2 lack: a one-line UserError then, naming `regrade`). `n`: the first n samples of each problem only
        (by sample index: a larger stored pool answers a smaller n as a fresh run of n would)."""
        table = self.table()
        table = table.select([c for c in table.column_names if pool_column(c)])
        df = first_samples(table.to_pandas(), n)
        return to_pool(df[df["group"] == group], where=str(self.path), grading=grading, problem_ids=problem_ids)

    # ---- scores added later, and the per-problem summary --------------------------------------------------------

    def unscored(self, problem_ids: Sequence[str], names: Sequence[str]) -> dict[str, set[str]]:
        """Scorer name -> pool problems among `problem_ids` that have no score from it (the column missing, or NaN
        for the whole problem): scorers named after the pool was sampled."""
        if not self.parts():
            return {}
        df = self.table().to_pandas()
        df = df[(df["group"] == POOL) & df["problem_id"].isin(set(problem_ids))]
        out = {}
        for name in names:
            col = f"score_{name}"
            if col not in df.columns:
                missing = set(df["problem_id"])
            else:
                missing = set(df.groupby("problem_id")[col].apply(lambda v: v.isna().all()).loc[lambda m: m].index)
            if missing:
                out[name] = missing
        return out

    def add_scores(self, todo: dict[str, set[str]],
                   score: Callable[[str, str, list[Completion]], tuple[list[float], list[float] | None]],
                   on_problem: Callable[[int, int], None] = lambda k, of: None) -> None:
        """Score stored pool samples without re-sampling: for each scorer name and problem id in `todo`,
        `score(name, problem_id, completions)` returns (scores, FLOPs per sample or None); then every sample is
        rewritten with the new columns (one atomic part)."""
        import pandas as pd

        df = self.table().to_pandas()
        total, k = sum(len(v) for v in todo.values()), 0
        for name, pids in todo.items():
            col = f"score_{name}"
            if col not in df.columns:
                df[col] = float("nan")
            for pid in sorted(pids):
                rows = df.index[(df["group"] == POOL) & (df["problem_id"] == pid)]
                scores, flops = score(name, pid, [_completion(df.loc[r]) for r in rows])
                df.loc[rows, col] = [float(v) for v in scores]
                if flops is not None:
                    df.loc[rows, f"scorer_flops_{name}"] = [float(v) for v in flops]
                k += 1
                on_problem(k, total)
        self.rewrite(pd.DataFrame(df))

    def summary(self, problem_ids: Sequence[str], grading: str = "flexible", n: int | None = None):
        """Per pool problem: sample counts, the samples' mean-logprob sums and counts (all, correct under policy
        `grading`), and the gold answer's likelihood (NaN when not read): the DataFrame of records.SUMMARY_COLUMNS the
        analyzer reads. `n`: of the first n samples only."""
        import pandas as pd

        correct = "correct_strict" if grading == "strict" else "correct"
        df = self.table().select(["group", "problem_id", "sample_index", correct, "logprob_mean"]).to_pandas()
        df = first_samples(df, n)
        df = df[(df["group"] == POOL) & df["problem_id"].isin(set(problem_ids))]
        lp = pd.to_numeric(df["logprob_mean"], errors="coerce")
        ok = df[correct].fillna(False).astype(bool)
        frame = pd.DataFrame({"problem_id": df["problem_id"], "correct": ok, "lp": lp, "lp_ok": lp.where(ok)})
        g = frame.groupby("problem_id", sort=False)
        out = pd.DataFrame({"samples": g.size(), "correct_samples": g["correct"].sum(),
                            "logprob_mean_sum": g["lp"].sum(), "logprob_mean_count": g["lp"].count(),
                            "logprob_mean_sum_correct": g["lp_ok"].sum(),
                            "logprob_mean_count_correct": g["lp_ok"].count()}).reset_index()
        gold = self.gold()
        gold = gold.to_pandas() if gold is not None else pd.DataFrame(
            columns=["problem_id", "gold_tokens", "gold_logprob_sum", "gold_logprob_mean"])
        out = out.merge(gold[["problem_id", "gold_tokens", "gold_logprob_sum", "gold_logprob_mean"]],
                        on="problem_id", how="left")
        order = {pid: i for i, pid in enumerate(problem_ids)}
        out = out.sort_values("problem_id", key=lambda c: c.map(order)).reset_index(drop=True)
        for col in ("gold_tokens", "gold_logprob_sum", "gold_logprob_mean"):
            out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
        return out[list(SUMMARY_COLUMNS)]


    def grades(self, problem_ids: Sequence[str] | None = None, group: str = POOL, n: int | None = None) -> dict:
        """How the stored samples of `group` graded, for the manifest and `show`: samples, their count by extraction
        (boxed, marked, last_number, letter, none), the share correct under each policy (strict None while some
        samples lack a strict grade), and how many lack one (graded before grader 2: `regrade`). `n`: of the
        first n samples of each pool problem only."""
        df = first_samples(self.table().to_pandas(), n)
        df = df[df["group"] == group]
        if problem_ids is not None:
            df = df[df["problem_id"].isin(set(problem_ids))]
        n = len(df)
        strict = df["correct_strict"] if "correct_strict" in df.columns else None
        missing = n if strict is None else int(strict.isna().sum())
        how = df["extraction"].fillna("unknown") if "extraction" in df.columns else None
        return {"samples": n,
                "extraction": {} if how is None else {k: int(v) for k, v in how.value_counts().items()},
                "accuracy": {"flexible": float(df["correct"].astype(bool).mean()) if n else None,
                             "strict": float(strict.astype(bool).mean()) if n and not missing else None},
                "without_strict_grade": missing}


def _completion(row) -> Completion:
    """A stored sample as the Completion a scorer reads."""
    lps = row.get("token_logprobs")
    lps = tuple(float(x) for x in lps) if lps is not None else ()
    lp = row.get("logprob_sum")
    return Completion(text=row["text"], n_tokens=int(row["output_tokens"]), prompt_tokens=int(row["prompt_tokens"]),
                      logprob=None if lp is None or lp != lp else float(lp), finish_reason=row.get("finish_reason"),
                      token_logprobs=lps)


def _read(path: Path, columns: list[str] | None) -> pa.Table:
    """One part (records.read_part: a damaged one is named in one line, with the way to drop it)."""
    return read_part(path, columns)


def _small(t: pa.DataType) -> pa.DataType:
    """string for large_string (pandas' string dtype round-trips as large_string), so parts concatenate."""
    return pa.string() if t == pa.large_string() else t


def _column_type(name: str, values: list) -> pa.DataType | None:
    if name.startswith(("score_", "scorer_flops_")):
        return pa.float64()
    return pa.string() if all(v is None for v in values) else None  # strategy fields: inferred

