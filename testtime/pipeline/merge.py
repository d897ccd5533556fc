"""`testtime merge`: the shards of one run (`run --shard i/N`, each in its own run directory) put back together into
one run directory, which is then what the unsharded run would have written.

Refused, in one line, before anything is written: a folder that is not a shard, shards of runs that differ in any
setting but their share, where they ran and how their engine was set (`MAY_DIFFER`), two shards of one index, shards
whose problems overlap, a shard that has not finished, and missing shards unless `partial`. The merge is atomic: the
new directory is built under a temporary name beside `into` and renamed into place. Samples are not copied: every
shard's Parquet parts are hard-linked (copied only where `into` is on another file system, and then said so); the
gold-answer likelihoods are concatenated; the problems are put back in the unsharded run's order (shard i holds every
N-th problem from the i-th on), so its bootstrap CIs are the unsharded run's too. The merged samples keep their
shards' `run_id` column.

Example:
    merge(["runs/gsm8k-...-shard0of2", "runs/gsm8k-...-shard1of2"], "runs/gsm8k-merged")   # the Results
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from testtime.config import RunConfig
from testtime.errors import UserError
from testtime.files import atomic_write, check_folder
from testtime.pipeline.events import NullReporter
from testtime.pipeline.lock import run_lock
from testtime.pipeline.runner import Plan, finish
from testtime.store.records import Results
from testtime.store.store import Store

MAY_DIFFER = ("shard", "name", "output_dir", "data_dir", "endpoint", "engine")
"""Settings shards may differ in: their share, where they ran, and each node's engine or server."""


@dataclasses.dataclass
class Shard:
    store: Store
    cfg: RunConfig
    index: int
    count: int
    problems: tuple[str, ...]


def merge(runs: Sequence[str | Path], into: str | Path, *, partial: bool = False) -> Results:
    """Merge the shard run directories `runs` into the new run directory `into`; its Results.

    Args:
        runs: the shards' run directories (any order).
        into: the merged run directory; it must not exist yet.
        partial: merge the shards given although some of the N are missing (the merged run then holds their
            problems only, and its manifest names the missing shards).
    """
    into = Path(into)
    if into.exists():
        raise UserError(f"{into} already exists; pass a new folder to --into (merge never writes into a run)")
    check_folder(into, "--into", "pass another --into")
    shards = sorted((read_shard(r) for r in runs), key=lambda s: s.index)
    check(shards, partial)
    first = shards[0]
    cfg = dataclasses.replace(first.cfg, shard=None, name=into.name, output_dir=str(into.parent))
    ids = interleave(shards)
    into.parent.mkdir(parents=True, exist_ok=True)
    tmp = into.parent / f".{into.name}.merging-{uuid.uuid4().hex[:8]}"
    try:
        with ExitStack() as locks:
            for s in shards:   # no shard's command may compact its parts away while they are linked
                locks.enter_context(run_lock(s.store.path))
            store = Store(tmp)
            store.samples_dir.mkdir(parents=True)
            copied = sum(link(p, store.samples_dir / p.name) for s in shards for p in s.store.parts())
            golds = [g for s in shards if (g := s.store.gold()) is not None]
            if golds:
                table = pa.concat_tables(golds, promote_options="permissive")
                atomic_write(tmp / "gold.parquet", lambda t: pq.write_table(table, t))
        manifest = first.store.manifest().to_dict()
        for key in ("regraded", "evaluated", "pool_size"):
            manifest.pop(key, None)
        timings = merged_timings([s.store.manifest().timings for s in shards])
        missing = sorted(set(range(first.count)) - {s.index for s in shards})
        manifest.update(run_id=into.name, status="sampled", config=cfg.to_dict(), sample_key=cfg.sample_key(),
                        problems=ids, timings=timings, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                        grader_version=min(s.store.manifest().grader_version for s in shards),
                        merged_from=[{"run": str(s.store.path), "shard": f"{s.index}/{s.count}",
                                      "problems": len(s.problems)} for s in shards],
                        merged_missing=[f"{i}/{first.count}" for i in missing], merged_copied_parts=copied)
        store.update_manifest(**manifest)
        finish(cfg, store, Plan.of(cfg), ids, NullReporter(), compact=False)   # the parts stay the shards' files
        os.rename(tmp, into)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Results.load(into)


def read_shard(path: str | Path) -> Shard:
    """One shard's run directory, checked: a run made with --shard, finished."""
    store = Store.existing(path)
    manifest = store.manifest()
    cfg = manifest.config
    if cfg is None:
        raise UserError(f"{path}: its manifest holds no configuration this version reads "
                        f"({manifest.config_error or 'none'}); merge runs made by this version")
    if cfg.shard is None:
        raise UserError(f"{path} is not a shard (it was run without --shard); merge takes the shards of one run")
    if manifest.status != "complete":
        raise UserError(f"{path} (shard {cfg.shard}) has not finished (status {manifest.status}); re-run its command "
                        "to finish it, then merge")
    index, count = cfg.shard_of()
    return Shard(store, cfg, index, count, tuple(manifest.problems))


def check(shards: list[Shard], partial: bool) -> None:
    """Refuse shards of different runs, the same shard twice, overlapping problems and (unless partial) missing
    shards, in one line each."""
    first = shards[0]
    mine = settings(first.cfg)
    for s in shards[1:]:
        theirs = settings(s.cfg)
        if theirs != mine:
            key = next(k for k in sorted(set(mine) | set(theirs)) if mine.get(k) != theirs.get(k))
            raise UserError(f"{s.store.path} and {first.store.path} are not shards of one run: they differ in {key} "
                            f"({theirs.get(key)!r} vs {mine.get(key)!r}); merge only shards made by one command")
        if s.count != first.count:
            raise UserError(f"{s.store.path} is shard {s.cfg.shard} and {first.store.path} shard {first.cfg.shard}: "
                            "the runs were split differently; merge the shards of one split")
    seen: dict[int, Path] = {}
    for s in shards:
        if s.index in seen:
            raise UserError(f"shard {s.index}/{s.count} is given twice ({seen[s.index]} and {s.store.path}); "
                            "pass each shard once")
        seen[s.index] = s.store.path
    owner: dict[str, Path] = {}
    for s in shards:
        for pid in s.problems:
            if pid in owner:
                raise UserError(f"{s.store.path} and {owner[pid]} both hold problem {pid}; shards of one run share "
                                "no problem (were they made with other problem choices?)")
            owner[pid] = s.store.path
    missing = sorted(set(range(first.count)) - set(seen))
    if missing and not partial:
        names = ", ".join(f"{i}/{first.count}" for i in missing)
        raise UserError(f"shard{'s' * (len(missing) > 1)} {names} missing (got {len(shards)} of {first.count}); run "
                        "them, or pass --partial to merge the ones there are")


def settings(cfg: RunConfig) -> dict:
    """The settings that must be equal across shards, flattened to dotted keys."""
    flat: dict = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict) and value and prefix.split(".")[0] not in ("strategy_options", "scorer_options",
                                                                              "model_card"):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            flat[prefix] = json.loads(json.dumps(value))

    walk("", {k: v for k, v in cfg.to_dict().items() if k not in MAY_DIFFER})
    return flat


def interleave(shards: list[Shard]) -> list[str]:
    """The shards' problems in the unsharded run's order: shard i holds positions i, i+N, i+2N, ..."""
    out = []
    for j in range(max(len(s.problems) for s in shards)):
        out += [s.problems[j] for s in shards if j < len(s.problems)]
    return out


def link(src: Path, dst: Path) -> int:
    """Hard-link `src` to `dst` (the samples are not copied); copy it where they are on two file systems. 1 if
    copied, else 0."""
    try:
        os.link(src, dst)
        return 0
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
    atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp))
    return 1


def merged_timings(timings: list[dict]) -> dict:
    """The shards' timings added up (they ran side by side: sampling seconds are device-seconds, not wall time)."""
    out: dict = {}
    for t in timings:
        for k, v in t.items():
            if isinstance(v, (int, float)) and k != "tokens_per_s":
                out[k] = round(out.get(k, 0) + v, 2)
    if out.get("sampling_s"):
        out["tokens_per_s"] = round(out.get("sampled_tokens", 0) / out["sampling_s"], 1)
    return out
