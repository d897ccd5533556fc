"""Engine output goes to the run's engine.log: Python logging, warnings and C-level writes to fd 2 alike; stdout
(the progress display) and testtime's own screen stream stay on screen. Run in a child process, as a run is: under
pytest, sys.stderr is pytest's capture object, not fd 2."""

import os
import subprocess
import sys
import textwrap

from tests.helpers import ROOT

SCRIPT = textwrap.dedent("""
    import logging, os, sys, warnings
    from testtime.samplers.logs import engine_logs_to

    logger = logging.getLogger("vllm")                        # as vLLM sets it up: a handler on sys.stderr
    logger.addHandler(logging.StreamHandler(sys.stderr))
    with engine_logs_to(sys.argv[1]) as screen:
        logger.warning("vllm says hello")
        warnings.warn("a deprecation from deep inside")
        os.write(2, b"[W oneDNN] written by C code\\n")
        print("progress line", flush=True)                    # stdout: the table's stream
        print("testtime note", file=screen)
    print("after", file=sys.stderr)                           # fd 2 is back
""")


def _run(tmp_path, mode: str | None):
    env = {k: v for k, v in os.environ.items() if k != "TESTTIME_ENGINE_LOGS"}
    if mode:
        env["TESTTIME_ENGINE_LOGS"] = mode
    log = tmp_path / "run" / "engine.log"
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(log)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res, log


def test_engine_output_goes_to_the_log_file(tmp_path):
    res, log = _run(tmp_path, None)
    text = log.read_text()
    assert "vllm says hello" in text and "a deprecation from deep inside" in text and "oneDNN" in text
    assert res.stdout == "progress line\n"
    assert res.stderr == "testtime note\nafter\n"


def test_engine_logs_can_stay_on_screen(tmp_path):
    res, log = _run(tmp_path, "stderr")
    assert not log.exists()
    assert "vllm says hello" in res.stderr and "oneDNN" in res.stderr and res.stderr.endswith("after\n")
