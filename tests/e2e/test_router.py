"""Fault, real: two vLLM server replicas of SmolLM2-135M behind vllm-router on loopback; one replica is killed with
kill -9 mid-run. The run must finish with exactly n samples for every problem, none duplicated (the router retries
requests in flight on the other replica; testtime retries what still fails).

The replicas are the session's (tests/e2e/conftest.py: started together, one core each); this test kills replica 1,
so it runs after the other served test in file order. About a minute on 2 cores; select with -m slow.
"""

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests import vllm_server
from tests.fake_openai_server import free_port

pytestmark = pytest.mark.slow

ROUTER = Path(sys.executable).parent / "vllm-router"
if importlib.util.find_spec("vllm") is None or not ROUTER.exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI: vllm or vllm-router is not installed; run scripts/setup.sh")
    pytest.skip("vllm or vllm-router not installed", allow_module_level=True)


def test_replica_killed_mid_run(data_dir, tmp_path, replicas):
    router_port = free_port()
    router = None
    try:
        urls = [replicas.url(k).removesuffix("/v1") for k in range(2)]
        with open(tmp_path / "router.log", "wb") as log:
            router = subprocess.Popen(
                [str(ROUTER), "--host", "127.0.0.1", "--port", str(router_port), "--policy", "round_robin",
                 "--worker-urls", *urls, "--prometheus-port", str(free_port()),
                 "--health-check-interval-secs", "2", "--health-failure-threshold", "2"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        vllm_server.wait_healthy(router, router_port, tmp_path / "router.log", 60, path="/readiness",
                                 what="vllm-router")

        out = tmp_path / "runs"
        args = [sys.executable, "-m", "testtime", "run", "--backend", "openai", "--limit", "8", "--n", "8",
                "--max-tokens", "64", "--data-dir", str(data_dir), "--output-dir", str(out), "--name", "routed",
                "--strategy", "majority_vote,pass_at_k", "--set", f"endpoint.base_url=http://127.0.0.1:{router_port}/v1",
                "--set", "endpoint.max_concurrency=4"]
        t0 = time.monotonic()
        run = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        samples = out / "routed" / "samples"
        while not (samples.is_dir() and list(samples.glob("part-*.parquet"))):   # mid-run: some problems stored
            assert run.poll() is None, run.communicate()
            assert time.monotonic() - t0 < 600
            time.sleep(0.2)
        done_at_kill = pd.read_parquet(samples)["problem_id"].nunique()
        vllm_server.stop(replicas.procs[1], signal.SIGKILL)
        stdout, stderr = run.communicate(timeout=900)
        wall = time.monotonic() - t0
        assert run.returncode == 0, stdout[-2000:] + stderr[-3000:]

        df = pd.read_parquet(samples)
        per_problem = df.groupby("problem_id").size()
        duplicates = int(df.duplicated(["problem_id", "sample_index"]).sum())
        print(f"replica killed with {done_at_kill}/8 problems stored; samples per problem {sorted(set(per_problem))};"
              f" duplicates {duplicates}; wall {wall:.0f} s")
        assert len(per_problem) == 8 and (per_problem == 8).all() and duplicates == 0
        manifest = json.loads((out / "routed" / "manifest.json").read_text())
        assert manifest["status"] == "complete" and manifest["engine"]["url"] == f"http://127.0.0.1:{router_port}/v1"
    finally:
        if router is not None and router.poll() is None:
            os.killpg(router.pid, signal.SIGTERM)
            router.wait(timeout=30)
        replicas.stop()   # the last served test: free replica 0's memory for the in-process tests after it
        shutil.rmtree(tmp_path / "runs", ignore_errors=True)
