"""One writer per run directory: an exclusive lock on <run>/run.lock for the life of a run.

The lock is `fcntl.flock`, so the kernel releases it when its process ends, however it ends (`kill -9`, a node
reboot, an OOM kill): a dead run never blocks the next one. The file also names its holder (pid, host, start time,
command) for the one line a second writer gets, and is emptied on a clean exit; a lock that is free but still names
a holder was left by a run that died, and taking it over says so. Readers (`show`, `analyze`) take no lock: every
file is replaced atomically, so they see whole problems whatever a writer is doing.

Where a file system refuses flock (some cluster mounts), the recorded holder is checked instead: a live pid on this
host holds the directory; a dead one, or one on another host that cannot be checked, is taken over with a message.

Example:
    with run_lock(Path("runs/gsm8k-smollm2-135m-n64-1a2b3c4d")):
        ...   # sample, score, store, evaluate
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from testtime.errors import UserError

LOCK = "run.lock"
log = logging.getLogger(__name__)


class RunDirectoryBusy(UserError):
    """Another live process is writing this run directory."""


NO_FLOCK = (errno.ENOLCK, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)
"""What flock raises on a file system that cannot lock."""


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run directory's lock (creating the directory) until the block ends; RunDirectoryBusy at once when
    another live process holds it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # O_CLOEXEC: an engine or server started with exec does not keep the lock after this process dies.
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except BlockingIOError:
            raise RunDirectoryBusy(_busy(run_dir, _holder(fd))) from None
        except OSError as e:
            if e.errno not in NO_FLOCK:
                raise
            locked = False
        previous = _holder(fd)
        if previous and not locked and _alive(previous):
            raise RunDirectoryBusy(_busy(run_dir, previous) + f" (if it is gone, delete {run_dir / LOCK})")
        if previous:
            log.warning(f"note: taking over {run_dir} from {_describe(previous)}, which ended without releasing it; "
                        "its finished problems are kept")
        _write(fd, {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "command": " ".join(sys.argv)})
        try:
            yield
        finally:
            os.ftruncate(fd, 0)   # released cleanly: the next writer has nothing to report
    finally:
        os.close(fd)   # releases the flock


def writer(run_dir: Path) -> str | None:
    """Who is writing `run_dir` now, as one phrase ("pid 123 on host since ... (command)"), or None. Read from the
    lock's record without locking (a reader must never make a starting run think the directory is taken)."""
    try:
        holder = json.loads((Path(run_dir) / LOCK).read_text() or "null")
    except (OSError, ValueError):
        return None
    if not isinstance(holder, dict) or holder.get("pid") is None or not _alive(holder):
        return None
    return _describe(holder)


def _busy(run_dir: Path, holder: dict | None) -> str:
    who = _describe(holder) if holder else "another process"
    return (f"run directory {run_dir} is in use by {who}; wait for it to finish (or stop it), or pass another "
            "--name / --output-dir")


def _describe(holder: dict) -> str:
    if holder.get("pid") is None:
        return "an earlier run (its lock record is unreadable)"
    command = f" ({holder['command']})" if holder.get("command") else ""
    return f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}{command}"


def _holder(fd: int) -> dict | None:
    try:
        data = json.loads(os.pread(fd, 65536, 0) or b"null")
    except ValueError:   # half-written by a process killed mid-write: a dead holder all the same
        return {"pid": None, "host": None, "since": None}
    return data if isinstance(data, dict) else None


def _alive(holder: dict) -> bool:
    """Whether the recorded holder may still run: a live pid on this host, or any pid on another (unknowable)."""
    if holder.get("host") != socket.gethostname():
        return holder.get("pid") is not None
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, ValueError):
        return isinstance(holder.get("pid"), int)   # PermissionError: alive, another user's
    return holder["pid"] != os.getpid()


def _write(fd: int, holder: dict) -> None:
    data = json.dumps(holder).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
