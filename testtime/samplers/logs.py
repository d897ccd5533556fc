"""Engine output goes to a log file in the run directory, so the screen shows testtime's own progress.

vLLM, transformers, torch and the C/C++ kernels under them write warnings, INFO lines and progress bars (GGUF
conversion, checkpoint shards) while a model loads and samples. `engine_logs_to(path)` sends all of it to `path`:

- vLLM logs through its own handler, which it sets up in `LLM(...)` from environment variables that it reads once
  per process; `engine_env()` points that handler at stderr (vLLM's default is stdout, the live table's stream).
- Everything on stderr then goes to the file at the file-descriptor level (fd 2 duplicated onto it): Python logging
  and warnings, tqdm bars, child processes, and C/C++ output alike, none of which a Python-level redirect would
  catch. stdout is left alone: the live table and heartbeat lines are printed there.
- testtime's own messages meant for the screen during the block go to the stream the context manager returns (a
  duplicate of the original stderr); errors are printed after the block, when fd 2 is back.

Set TESTTIME_ENGINE_LOGS=stderr to keep engine output on screen (at WARNING level, as before).

Example:
    with engine_logs_to(run_dir / "engine.log") as screen:
        sampler = samplers.load("vllm", path, engine)     # vLLM's lines land in engine.log
        print("note for the user", file=screen)           # still reaches the terminal
    # watch it live from another terminal: tail -f runs/<run>/engine.log
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TextIO

ENV = "TESTTIME_ENGINE_LOGS"
"""Where engine output goes: "file" (the default: the run's engine.log) or "stderr" (the screen)."""


def on_screen() -> bool:
    """True when TESTTIME_ENGINE_LOGS asks for engine output on screen."""
    return os.environ.get(ENV, "file").strip().lower() in ("stderr", "screen")


def engine_env() -> None:
    """Default vLLM's logging settings before its first engine reads them (it caches them for the process): its
    handler on stderr; INFO when that goes to the log file, WARNING when it stays on screen. Variables the user set
    are kept."""
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING" if on_screen() else "INFO")


@contextmanager
def engine_logs_to(path: Path | str) -> Iterator[TextIO]:
    """Send everything written to stderr inside the block, by any library or C code, to `path` (appended);
    yield a text stream that still reaches the original stderr.

    Args:
        path: the log file; its folder is created.

    Returns:
        A context manager; the stream it yields is valid inside the block only.

    Example:
        with engine_logs_to("runs/gsm8k-smollm2/engine.log") as screen:
            run_the_engine()
    """
    engine_env()
    if on_screen():
        yield sys.stderr
        return
    _flush()
    try:
        saved = os.dup(2)
    except OSError:   # no stderr to redirect (a daemon with fd 2 closed)
        yield sys.stderr
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    screen = os.fdopen(os.dup(saved), "w", buffering=1, errors="replace")
    try:
        with open(path, "ab", buffering=0) as log:
            log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} testtime (pid {os.getpid()}): engine output "
                      "from model loading and sampling ====\n".encode())
            os.dup2(log.fileno(), 2)
            try:
                yield screen
            finally:
                _flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)
        screen.close()


def _flush() -> None:
    # Text written before a switch must land on the side of it where it was written.
    for stream in {id(s): s for s in (sys.stderr, sys.__stderr__) if s is not None}.values():
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
