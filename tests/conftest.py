"""Shared test fixtures: the benchmark data beside the repo (../shared/data) and the one in-process vLLM engine of the
slow tests. Shared helpers (paths, the command line in process or in a child, the one-line error check) are in
tests/helpers.py."""

import os
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.helpers")
from tests.helpers import DATA, sharing_engines  # noqa: E402  (after the rewrite hook: its asserts report their values)


REAL_MODEL_FIXTURES = {"vllm_smollm", "hf_smollm", "shared_engines"}


@pytest.hookimpl(tryfirst=True)   # before -m reads the marks
def pytest_collection_modifyitems(config, items):
    # In CI the data and the engine must be there: a skipped end-to-end test would hide a broken install.
    if os.environ.get("CI") and not DATA.is_dir():
        raise pytest.UsageError(f"CI: benchmark data missing at {DATA}")
    # Every test of a real model is marked real_model: `make test` runs the others on parallel workers first, then
    # these in one process (they share the session's engines, and each engine computes on every core: two side by
    # side slowed both several times over).
    for item in items:
        if item.get_closest_marker("slow") or REAL_MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.real_model)


@pytest.fixture
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"benchmark data not found at {DATA}")
    return DATA


@pytest.fixture(scope="session")
def vllm_smollm():
    """One in-process vLLM engine on the real SmolLM2-135M for every slow test that needs one, runs included
    (`shared_engines`): engine start-up is most of their time, and two live engines would not fit CI's memory share."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vllm not installed")
    from testtime import models
    from testtime.config import EngineConfig
    from testtime.samplers.vllm import VLLMSampler

    sampler = VLLMSampler(model_path=models.resolve("smollm2-135m"),
                          engine=EngineConfig(max_model_len=1024, gpu_memory_utilization=0.3, dtype="float32"))
    yield sampler
    sampler.close()


@pytest.fixture(scope="session")
def hf_smollm():
    """The real SmolLM2-135M through transformers (float32, as on a CPU), loaded once for the slow tests that read
    it: the hf backend's run, self-verification by the policy, the reference logprobs."""
    from testtime import models
    from testtime.config import EngineConfig
    from testtime.samplers.hf import HFSampler

    path = models.resolve("smollm2-135m")
    if not (path / "model.safetensors").is_file():
        pytest.skip(f"SmolLM2-135M not found at {path}")
    sampler = HFSampler(model_path=path, engine=EngineConfig(dtype="float32"))
    yield sampler
    sampler.close()


@pytest.fixture
def shared_engines(request):
    """Runs in this process on SmolLM2-135M sample with the session's engines (tests.helpers.sharing_engines)."""
    with sharing_engines(request.getfixturevalue):
        yield
