"""Benchmark rows from disk (or the hub) and seeded problem subsets: what every benchmark file reads its data with.

Rows come from `<data_dir>/<folder>/<split>.jsonl` (the files are copies of the public sets; see
../shared/data/README.md); without such a file they come from the set's public home on the HuggingFace hub,
when the `datasets` package is installed and HF_HUB_OFFLINE is not "1".

Example:
    rows = read_rows("gsm8k", folder="gsm8k", data_dir="../shared/data", split="test", hub=("openai/gsm8k", "main"))
    problems = select(problems, limit=20, seed=0)
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from benchmarks.base import Problem
from testtime.errors import UserError


def select(problems: Sequence[Problem], *, limit: int | None, seed: int = 0) -> list[Problem]:
    """A seeded random subset of `limit` problems, kept in their original order; all of them if limit is None."""
    if limit is None or limit >= len(problems):
        return list(problems)
    if limit < 1:
        raise UserError(f"limit must be a positive number of problems, not {limit}")
    chosen = np.random.default_rng(seed).choice(len(problems), size=limit, replace=False)
    return [problems[i] for i in sorted(chosen.tolist())]


def read_rows(name: str, *, folder: str, data_dir: str | None, split: str,
              hub: tuple[str, str | None]) -> tuple[dict, ...]:
    """Rows of one split: `<data_dir>/<folder>/<split>.jsonl`, else the hub dataset `hub` = (repository, config).

    Raises UserError naming the missing path when neither source is available.
    """
    data_dir = data_dir or os.environ.get("TESTTIME_DATA_DIR")
    path = Path(data_dir, folder, f"{split}.jsonl") if data_dir else None
    if path is not None and path.is_file():
        return _read_jsonl(str(path.resolve()))
    if os.environ.get("HF_HUB_OFFLINE") != "1" and importlib.util.find_spec("datasets") is not None:
        return _read_hub(hub[0], hub[1], split)
    where = f"{path} not found" if path is not None else "no data directory set"
    raise UserError(f"no data for {name}: {where}; pass --data-dir or set TESTTIME_DATA_DIR (e.g. ../shared/data)")


class Row(dict):
    """One row of a data file; a field the benchmark needs and the row lacks is a one-line error naming the line."""

    def __init__(self, data: dict, where: str):
        super().__init__(data)
        self.where = where

    def __missing__(self, key):
        raise UserError(f"{self.where} has no {key!r} field (it has: {', '.join(map(repr, self)) or 'nothing'}); "
                        "every row of the file needs it")


@functools.cache
def _read_jsonl(path: str) -> tuple[dict, ...]:
    # Cached per file: frozen benchmarks cannot hold their rows, and every run re-asks for them.
    # Read line by line so a bad line is named (a broken copy, a hand edit) instead of a JSON traceback.
    rows = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            where = f"{path} line {number}"
            try:
                row = json.loads(raw.decode("utf-8-sig"))
            except UnicodeDecodeError:
                raise UserError(f"{where} is not UTF-8 text; save the file as UTF-8 JSON Lines") from None
            except json.JSONDecodeError as e:
                raise UserError(f"{where} is not valid JSON ({e.msg} at character {e.pos + 1}); fix or delete that "
                                "line (the file must hold one JSON object per line)") from None
            if not isinstance(row, dict):
                raise UserError(f"{where} is a JSON {type(row).__name__}, not an object; each line must be one "
                                "row, e.g. {\"question\": ..., \"answer\": ...}")
            rows.append(Row(row, where))
    if not rows:
        raise UserError(f"{path} holds no rows (the file is empty); restore it from the benchmark's source, or "
                        "pass another --data-dir")
    return tuple(rows)


@functools.cache
def _read_hub(repository: str, config: str | None, split: str) -> tuple[dict, ...]:
    import datasets  # optional and heavy; only for users with network access

    return tuple(datasets.load_dataset(repository, config, split=split))
