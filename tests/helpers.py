"""Helpers the tests share: the repository's paths, the command line run in this process or in a child process, the
one-line error check, and the fake engine that records its requests. Tests import them as
`from tests.helpers import cli_in_process, one_line_error`.

`cli_in_process` calls `testtime.cli.main` here (no interpreter start, no torch import: milliseconds), which is what
checking an argument error, a usage message or a refusal needs. `cli` runs `python -m testtime` in a child process: for
tests where the process itself matters (kill -9 and resume, signals, the real entry point, what the child writes to
its own fds, settings that libraries read once at import, such as HF_HUB_OFFLINE).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testtime.sampler import Sampling
from testtime.samplers.fake import FakeSampler

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
DATA = ROOT.parent / "shared" / "data"


def cli(*args, env=None, timeout=600, cwd=ROOT) -> subprocess.CompletedProcess:
    """Run `python -m testtime ARGS` in a subprocess and capture its output."""
    full_env = {**os.environ, "COLUMNS": "120", **(env or {})}
    return subprocess.run([sys.executable, "-m", "testtime", *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=cwd)


def cli_in_process(*args, env=None, cwd=ROOT) -> subprocess.CompletedProcess:
    """Run `testtime.cli.main(ARGS)` in this process as `cli` runs it in a child (from `cwd`, COLUMNS=120, `env` on
    top of this environment) and give back what `cli` gives: the exit code (argparse's SystemExit included) and the
    text main printed to stdout and stderr. The working directory, environment and SIGTERM handler are restored."""
    from testtime.cli import main

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd, handler = dict(os.environ), os.getcwd(), signal.getsignal(signal.SIGTERM)
    os.environ.update({"COLUMNS": "120", **{k: str(v) for k, v in (env or {}).items()}})
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:   # argparse: usage errors exit 2, --help exits 0
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
                if isinstance(e.code, str):
                    print(e.code, file=sys.stderr)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        signal.signal(signal.SIGTERM, handler)   # main() installs its own
    return subprocess.CompletedProcess(["testtime", *argv], code, out.getvalue(), err.getvalue())


def one_line_error(res: subprocess.CompletedProcess, *needles: str, code: int = 2) -> str:
    """Check that a command was refused with exit `code`, no traceback and one line on stderr, `error: ...`, holding
    every needle; return that line."""
    assert res.returncode == code, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr + res.stdout
    lines = [line for line in res.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def wait_for_parts(run: Path, count: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until a run started with Popen has stored `count` sample parts (it must not exit first)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(list((run / "samples").glob("part-*.parquet"))) >= count:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("no parts written")


@contextlib.contextmanager
def sharing_engines(getfixturevalue):
    """Inside the block, runs in this process (`cli_in_process("run", "--backend", "vllm" or "hf", ...)`) on
    SmolLM2-135M sample with the session's engine of that backend (the `vllm_smollm` and `hf_smollm` fixtures) instead
    of starting their own, and leave it open; the rest of the run (config, store, grading, scoring, results) is the
    real path. Other models and backends load as usual. `getfixturevalue` is a pytest request's."""
    from testtime import models, samplers

    smollm, load = models.resolve("smollm2-135m").resolve(), samplers.load
    with pytest.MonkeyPatch.context() as patch:
        def shared(backend, model_path, engine, *, seed=0, endpoint=None, max_tokens=None, engine_seed=None):
            kind = backend if backend == "openai" else samplers.pick_backend(backend)
            if kind in ("vllm", "hf") and Path(model_path).resolve() == smollm and seed == 0 and engine_seed is None:
                sampler = getfixturevalue(f"{kind}_smollm")
                patch.setattr(sampler, "close", lambda: None)   # the session closes it
                return sampler
            return load(backend, model_path, engine, seed=seed, endpoint=endpoint, max_tokens=max_tokens,
                        engine_seed=engine_seed)

        patch.setattr(samplers, "load", shared)
        yield



class CountingSampler(FakeSampler):
    """The fake engine, recording every request: `requests` holds, per stream call, a list of (prompt, n)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.requests = []

    def stream(self, prompts, sampling, *, raw=False):
        each = [sampling] * len(prompts) if isinstance(sampling, Sampling) else list(sampling)
        self.requests.append([(p, s.n) for p, s in zip(prompts, each)])
        yield from super().stream(prompts, sampling, raw=raw)
