"""Atomic file writes: the one place that knows "temporary file in the same folder, fsync, rename".

A reader (or a crash) sees the old file or the new one, never half of one: `os.replace` is atomic on POSIX within a
file system, and the fsync before it makes the data durable before the name points at it.

Example:
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))
    write_json(run_dir / "manifest.json", manifest)
"""

from __future__ import annotations

import errno
import json
import os
import uuid
from pathlib import Path
from typing import Any, Callable

from testtime.errors import IncompleteRun, UserError


FULL = (errno.ENOSPC, errno.EDQUOT)
"""A full disk, or a full quota (shared clusters): the run stops, keeps what it stored, and resumes later."""


def check_folder(path: str | Path, what: str, fix: str) -> None:
    """Refuse, in one line, a folder to write into that cannot be one: `path`, or the nearest part of it that
    exists, is a file (mkdir would raise mid-command). `what` names the folder ("--out", "run directory"); `fix`
    says what to do."""
    path = Path(path)
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                where = "is a file" if part == path else f"cannot be made: {part} is a file"
                raise UserError(f"{what} {path} {where}, not a folder; {fix}")
            return


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call `write(tmp)` to fill a temporary file beside `path`, fsync it, then rename it over `path`.

    The folder is created if missing; if `write` raises, the temporary file is removed and `path` is untouched. A
    full disk or quota is an IncompleteRun (one line, exit 1): what was stored stays, and the same command resumes.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if e.errno not in FULL:
            raise
        raise IncompleteRun(f"no space left to write {path} ({os.strerror(e.errno)}); nothing half-written was "
                            f"kept: free some space on that disk (df -h {path.parent}), then run the same command "
                            "again to resume") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_json(path: str | Path, data: Any) -> Path:
    """Write `data` as indented JSON atomically (non-JSON values as their str)."""
    return write_text(path, json.dumps(data, indent=2, default=str))
