"""Benchmark rows from disk (or the hub) and seeded problem subsets: what every benchmark file reads its data with.

Rows come from `<data_dir>/<folder>/<split>.jsonl` (the files are copies of the public sets; see
../shared/data/README.md); without such a file they come from the set's public home on the HuggingFace hub,
when the `datasets` package is installed and HF_HUB_OFFLINE is not "1".

Each row is a `Row`: a benchmark reads its fields through `row.text`, `row.answer`, `row.options` and `row.letter`,
so a field that is missing, of another type or empty is one line naming the file, the line and the field.

Example:
    rows = read_rows("gsm8k", folder="gsm8k", data_dir="../shared/data", split="test", hub=("openai/gsm8k", "main"))
    rows[0].text("question"), rows[0].answer("answer")
    problems = select(problems, limit=20, seed=0)
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from benchmarks.base import Problem
from testtime.errors import UserError


def select(problems: Sequence[Problem], *, limit: int | None, seed: int = 0, first: bool = False,
           ids: Sequence[str] = (), excluded: dict[str, str] | None = None) -> list[Problem]:
    """`limit` of the problems, kept in their original order: a seeded random subset, or the first `limit` when
    `first`; all of them if limit is None. With `ids`, only those problems, and `limit` chooses among them.

    Raises UserError naming an id the benchmark has not (or has left out: `excluded`, id -> reason).
    Example:
        select(problems, limit=10, seed=0)                    # 10 at random (the same 10 for seed 0)
        select(problems, limit=10, first=True)                # the first 10 in file order
        select(problems, limit=None, ids=["aime25/test/3"])   # just that one
    """
    if limit is not None and limit < 1:
        raise UserError(f"limit must be a positive number of problems, not {limit}")
    if ids:
        known = {p.id for p in problems}
        missing = [i for i in ids if i not in known]
        if missing:
            why = (excluded or {}).get(missing[0])
            raise UserError(f"problem {missing[0]!r} " + (f"is left out of the benchmark: {why}" if why else
                            f"is not a problem of the benchmark (ids look like {problems[0].id!r})" if problems
                            else "is not a problem of the benchmark") +
                            (f"; {len(missing) - 1} more unknown" if len(missing) > 1 else ""))
        wanted = set(ids)
        problems = [p for p in problems if p.id in wanted]
    if limit is None or limit >= len(problems):
        return list(problems)
    if first:
        return list(problems[:limit])
    chosen = np.random.default_rng(seed).choice(len(problems), size=limit, replace=False)
    return [problems[i] for i in sorted(chosen.tolist())]


def read_ids(path: str) -> tuple[str, ...]:
    """Problem ids from a file, one a line; blank lines and "#" comments are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"problem id file {path} not found; pass a file with one problem id a line") from None
    except IsADirectoryError:
        raise UserError(f"problem id file {path} is a folder; pass a file with one problem id a line") from None
    except UnicodeDecodeError:
        raise UserError(f"problem id file {path} is not UTF-8 text") from None
    ids = tuple(line.split("#", 1)[0].strip() for line in text.splitlines())
    ids = tuple(i for i in ids if i)
    if not ids:
        raise UserError(f"problem id file {path} names no problems (one id a line, e.g. aime25/test/0)")
    return ids


def read_rows(name: str, *, folder: str, data_dir: str | None, split: str,
              hub: tuple[str, str | None] | tuple[str, str | None, str]) -> tuple[dict, ...]:
    """Rows of one split: `<data_dir>/<folder>/<split>.jsonl`, else the hub dataset `hub` = (repository, config),
    or (repository, config, hub split) where the hub names the split otherwise (MathArena's sets are all "train").
    Gated sets (GPQA) read with the user's own token, as `datasets` finds it (HF_TOKEN, `huggingface-cli login`).

    Raises UserError naming the missing path when neither source is available.
    """
    data_dir = data_dir or os.environ.get("TESTTIME_DATA_DIR")
    if data_dir and Path(data_dir).exists() and not Path(data_dir).is_dir():
        raise UserError(f"data directory {data_dir} is a file, not a folder; pass the folder that holds "
                        f"{folder}/{split}.jsonl as --data-dir (e.g. ../shared/data)")
    path = Path(data_dir, folder, f"{split}.jsonl") if data_dir else None
    if path is not None and path.is_file():
        return _read_jsonl(str(path.resolve()))
    if os.environ.get("HF_HUB_OFFLINE") != "1" and importlib.util.find_spec("datasets") is not None:
        return _read_hub(hub[0], hub[1], hub[2] if len(hub) > 2 else split)
    where = f"{path} not found" if path is not None else "no data directory set"
    raise UserError(f"no data for {name}: {where}; pass --data-dir or set TESTTIME_DATA_DIR (e.g. ../shared/data)")


class Row(dict):
    """One row of a data file; a field the benchmark needs and the row lacks, holds as another JSON type, or leaves
    empty is a one-line error naming the line (`where`) and the field."""

    def __init__(self, data: dict, where: str):
        super().__init__(data)
        self.where = where

    def __missing__(self, key):
        raise UserError(f"{self.where} has no {key!r} field (it has: {', '.join(map(repr, self)) or 'nothing'}); "
                        "every row of the file needs it")

    def text(self, *keys: str) -> str:
        """The first of `keys` the row fills (copies name a field differently), as non-empty text."""
        present = [k for k in keys if k in self]
        if not present:
            raise UserError(f"{self.where} has no {' or '.join(map(repr, keys))} field (it has: "
                            f"{', '.join(map(repr, self)) or 'nothing'}); every row of the file needs it")
        key = next((k for k in present if isinstance(self[k], str) and self[k].strip()), present[0])
        if not isinstance(self[key], str):
            raise self._fix(f"field {key!r} is {_shown(self[key])}, not text (a JSON string)")
        if not self[key].strip():
            raise self._fix(f"field {key!r} is empty (every problem needs it)")
        return self[key]

    def answer(self, key: str) -> str:
        """A gold answer given as text or a number ("\\frac{1}{2}", 27, 27.0), as stripped non-empty text."""
        value = self[key]
        if (isinstance(value, bool) or not isinstance(value, (str, int, float))
                or isinstance(value, float) and not math.isfinite(value)):
            raise self._fix(f"field {key!r} is {_shown(value)}, not a gold answer (a JSON string or number)")
        return self.gold(key, str(value))

    def gold(self, key: str, value: str, *, part: str = "") -> str:
        """`value`, the gold answer read from field `key` (from its `part`, e.g. "after '####'"), stripped; one line
        naming the field when it is empty."""
        if not value.strip():
            raise self._fix(f"field {key!r} has an empty gold answer{' ' + part if part else ''} (every problem "
                            "needs one)")
        return value.strip()

    def options(self, key: str, *, most: int) -> list[str]:
        """The answer options of a multiple-choice row: a list of 2 to `most` texts (one per option letter)."""
        value = self[key]
        if not isinstance(value, list) or not all(isinstance(o, str) for o in value):
            raise self._fix(f"field {key!r} is {_shown(value)}, not a list of option texts")
        if not 2 <= len(value) <= most:
            raise self._fix(f"field {key!r} holds {len(value)} options; a problem takes 2 to {most}")
        return value

    def letter(self, key: str, letters: str) -> str:
        """The gold option of a multiple-choice row, given as its letter ("C") or its index (2), as one of `letters`
        (one per option of the row)."""
        value = self[key]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(letters):
            return letters[value]
        if isinstance(value, str) and value.strip() and value.strip().upper() in letters:
            return value.strip().upper()
        if isinstance(value, str) and not value.strip():
            raise self._fix(f"field {key!r} has an empty gold answer (every problem needs one)")
        raise self._fix(f"field {key!r} is {_shown(value)}, not one of the row's {len(letters)} options "
                        f"({', '.join(letters)}, or 0-{len(letters) - 1})")

    def _fix(self, what: str) -> UserError:
        return UserError(f"{self.where}: {what}; fix that row or delete the line (or restore the file from the "
                         "benchmark's source)")


def _shown(value) -> str:
    """A JSON value and its type, shortened, for a one-line error: 'a number (5)', 'null'."""
    if value is None:
        return "null"
    kind = {bool: "true/false", str: "a string", int: "a number", float: "a number", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)
    text = json.dumps(value, ensure_ascii=False, default=str)
    return f"{kind} ({text if len(text) <= 40 else text[:37] + '...'})"


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

    try:
        rows = datasets.load_dataset(repository, config, split=split)
    except Exception as e:   # no network, a gated set without access, a renamed split: one line, not a traceback
        gated = " (a gated set: accept its terms on the hub, then `huggingface-cli login` or set HF_TOKEN)" \
            if "gated" in f"{type(e).__name__} {e}".lower() or repository == "Idavidrein/gpqa" else ""
        raise UserError(f"could not load {repository}{f' ({config})' if config else ''} split {split!r} from the "
                        f"Hugging Face hub: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                        f"{gated}") from None
    return tuple(Row(dict(row), f"{repository} ({split}) row {i}") for i, row in enumerate(rows))
