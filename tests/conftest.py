"""Shared test fixtures: the benchmark data beside the repo (../shared/data) and the tiny fake-backend runs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def pytest_collection_modifyitems(config, items):
    # In CI the data and the engine must be there: a skipped end-to-end test would hide a broken install.
    if os.environ.get("CI") and not DATA.is_dir():
        raise pytest.UsageError(f"CI: benchmark data missing at {DATA}")


@pytest.fixture
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"benchmark data not found at {DATA}")
    return DATA


def cli(*args, env=None, timeout=600, cwd=ROOT) -> subprocess.CompletedProcess:
    """Run `python -m testtime ARGS` in a subprocess and capture its output."""
    full_env = {**os.environ, "COLUMNS": "120", **(env or {})}
    return subprocess.run([sys.executable, "-m", "testtime", *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=cwd)
