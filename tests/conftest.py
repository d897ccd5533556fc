"""Shared test fixtures: the benchmark data beside the repo (../shared/data) and the tiny fake-backend runs."""

import os
import subprocess
import sys
import time
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


def wait_for_parts(run: Path, count: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until a run started with Popen has stored `count` sample parts (it must not exit first)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(list((run / "samples").glob("part-*.parquet"))) >= count:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("no parts written")


@pytest.fixture(scope="session")
def vllm_smollm():
    """One in-process vLLM engine on the real SmolLM2-135M for every slow test that needs one: engine start-up is
    most of their time, and two live engines would not fit CI's memory share."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vllm not installed")
    from testtime import models
    from testtime.config import EngineConfig
    from testtime.samplers.vllm import VLLMSampler

    sampler = VLLMSampler(model_path=models.resolve("smollm2-135m"),
                          engine=EngineConfig(max_model_len=1024, gpu_memory_utilization=0.3))
    yield sampler
    sampler.close()
