"""Hostile input and faults, injected (issue 12): every bad input is one line, exit 2 and nothing written; one writer
per run directory; SIGTERM, a full disk, a damaged part, a dying engine and a crash before the results are written,
each survived, and the same command resumes with nothing lost or duplicated.

Fake backend throughout (seconds), except `test_kill_9_of_a_real_engine_run_resumes` (SmolLM2-135M through vLLM,
`slow`). scripts/fault_table.py runs the same cases and prints what a user sees (docs/run-directory.md, "Faults, bad
input and locking").
"""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pyarrow.parquet as pq
import pytest

from tests.helpers import ROOT, cli, cli_in_process, one_line_error, sharing_engines, wait_for_parts
from testtime.errors import IncompleteRun
from testtime.store.store import Store

GOOD = [json.dumps({"question": f"What is {i} + 1?", "answer": f"{i} plus one.\n#### {i + 1}"}) for i in range(3)]


def run_args(data_dir, out, *extra, limit=4, n=4, name="r"):
    return ["run", "--backend", "fake", "--data-dir", data_dir, "--limit", limit, "--n", n, "--output-dir", out,
            "--name", name, *extra]


def start(args, **env):
    return subprocess.Popen([sys.executable, "-m", "testtime", *map(str, args)], cwd=ROOT, text=True,
                            env={**os.environ, "COLUMNS": "120", **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def whole_problems(run, n):
    df = Store(run).table().to_pandas()
    assert not df.duplicated(["group", "problem_id", "sample_index"]).any()
    assert (df.groupby("problem_id").size() == n).all()
    assert not list(run.rglob(".*.tmp"))
    return df


# ---- 1. hostile and broken input: one line, exit 2, nothing written --------------------------------------------

DATA = {
    "malformed JSON line": ("\n".join([*GOOD, '{"question": "x", ']) + "\n", ["line 4", "not valid JSON"]),
    "non-UTF-8": (GOOD[0] + "\n" + '{"question": "caf\xe9?", "answer": "#### 1"}\n', ["line 2", "not UTF-8"]),
    "a row that is not an object": ("\n".join([*GOOD, "[1, 2]"]) + "\n", ["line 4", "not an object"]),
    "a row missing its fields": ("\n".join([*GOOD, '{"question": "no answer"}']) + "\n", ["line 4", "'answer'"]),
    "empty file": ("", ["holds no rows"]),
}


@pytest.mark.parametrize("case", DATA, ids=list(DATA))
def test_broken_data_file(case, tmp_path):
    text, needles = DATA[case]
    (tmp_path / "data" / "gsm8k").mkdir(parents=True)
    (tmp_path / "data" / "gsm8k" / "test.jsonl").write_bytes(text.encode("latin-1" if "non-UTF" in case else "utf-8"))
    one_line_error(cli_in_process(*run_args(tmp_path / "data", tmp_path / "runs")), "test.jsonl", *needles)
    assert not (tmp_path / "runs").exists()


FLAGS = [
    (["--name", "../../somewhere"], ["run name '../../somewhere'"]),
    (["--name", "a/b"], ["one folder name"]),
    (["--name", ".."], ["one folder name"]),
    (["--name", ".hidden"], ["one folder name"]),
    (["--name", "analysis"], ["reserved"]),
    (["--name", "NUL"], ["reserved"]),
    (["--n", 100_000_000, "--limit", 1], ["GiB of memory", "lower --n"]),
    (["--max-tokens", 100_000_000], ["max_model_len"]),
    (["--set", "engine.max_model_len=1000000"], ["model's context"]),
    (["--strategy", "budget_forcing", "--budgets", 100_000], ["thinking budgets"]),
    (["--strategy", "beam_search:self_verify", "--budgets", 100_000_000], ["GiB of memory", "--budgets"]),
    (["--seed", -1], ["sampling.seed"]),
    (["--temperature", "nan"], ["sampling.temperature"]),
    (["--set", "sampling.logprobs=1000"], ["sampling.logprobs"]),
    (["--set", "strategy_options.budget_forcing.max_waits=abc"],
     ["strategy_options.budget_forcing.max_waits must be int"]),
    (["--set", "scorer_options.prm.aggregate=[min]"], ["scorer_options.prm.aggregate must be str"]),
    (["--set", "endpoint.timeout_s=soon"], ["endpoint.timeout_s must be float"]),
]


@pytest.mark.parametrize("extra,needles", FLAGS, ids=[" ".join(map(str, c[0])) for c in FLAGS])
def test_hostile_flags(extra, needles, data_dir, tmp_path):
    t0 = time.monotonic()
    one_line_error(cli_in_process(*run_args(data_dir, tmp_path / "runs", *extra)), *needles)
    assert time.monotonic() - t0 < 120   # refused up front, not after hours of sampling
    assert os.listdir(tmp_path) == [] and not (tmp_path.parent / "somewhere").exists()   # nothing written anywhere


# ---- 2. one writer per run directory -------------------------------------------------------------------------

def test_second_writer_refused_then_sigterm_keeps_whole_problems_and_resumes(data_dir, tmp_path):
    args = run_args(data_dir, tmp_path, limit=12)
    proc = start(args, TESTTIME_FAKE_DELAY="1.5")   # 18 s: time for two more commands to start on a busy machine
    run = tmp_path / "r"
    wait_for_parts(run, 2, proc)
    second = cli_in_process(*args)
    one_line_error(second, "is in use by pid", str(proc.pid), "--name")
    reader = cli_in_process("show", run)   # a reader is never refused; this run has no results yet
    assert "Traceback" not in reader.stderr and "no results yet: a run is writing it now (pid" in reader.stderr
    proc.send_signal(signal.SIGTERM)   # how Slurm and Kubernetes preempt
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "terminated" in stderr and "Traceback" not in stderr, stderr
    before = whole_problems(run, 4)
    assert 2 <= before["problem_id"].nunique() < 12 and (run / "run.lock").read_text() == ""   # released
    res = cli(*args)
    assert res.returncode == 0 and "taking over" not in res.stderr, res.stderr
    assert whole_problems(run, 4)["problem_id"].nunique() == 12


def test_stale_lock_of_a_killed_run_is_taken_over(data_dir, tmp_path):
    args = run_args(data_dir, tmp_path, limit=8)
    proc = start(args, TESTTIME_FAKE_DELAY="0.3")
    wait_for_parts(tmp_path / "r", 1, proc)
    proc.kill()
    proc.communicate()
    assert str(proc.pid) in (tmp_path / "r" / "run.lock").read_text()   # left behind, but no longer locked
    res = cli(*args)
    assert res.returncode == 0, res.stderr
    assert "taking over" in res.stderr and f"pid {proc.pid}" in res.stderr
    assert whole_problems(tmp_path / "r", 4)["problem_id"].nunique() == 8


def test_readers_see_whole_problems_while_a_writer_compacts(data_dir, tmp_path):
    """Store.table and the analyzer's reader list the parts again when a writer replaces them mid-read."""
    from testtime.analysis.pools import read_samples

    assert cli_in_process(*run_args(data_dir, tmp_path, limit=6)).returncode == 0
    run, stop = tmp_path / "r", threading.Event()
    writer = Store(run)

    def churn():   # compaction and rescoring: a new part with every row, then the old parts removed
        while not stop.is_set():
            writer.rewrite(writer.table())

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(60):
            assert len(Store(run).table()) == 24
            assert len(read_samples(run)) == 24
    finally:
        stop.set()
        thread.join()


# ---- 3. faults during a run ----------------------------------------------------------------------------------

def test_damaged_part_is_named_and_can_be_dropped(data_dir, tmp_path):
    args = run_args(data_dir, tmp_path, limit=4)
    assert cli_in_process(*args).returncode == 0
    part = Store(tmp_path / "r").parts()[0]
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])   # truncated (a copy cut short, a bad disk)
    res = cli_in_process(*args)
    one_line_error(res, str(part), "damaged", f"mv {part} {part}.damaged")
    one_line_error(cli_in_process("analyze", tmp_path / "r", "--n-boot", 0, "--out", tmp_path / "a"), str(part),
                   "damaged")
    part.rename(f"{part}.damaged")   # what the message says to do
    res = cli_in_process(*args)
    assert res.returncode == 0, res.stderr
    assert whole_problems(tmp_path / "r", 4)["problem_id"].nunique() == 4


def test_engine_dying_mid_run_keeps_finished_problems(data_dir, tmp_path):
    args = run_args(data_dir, tmp_path, limit=6)
    res = cli(*args, env={"TESTTIME_FAKE_DIE_AFTER": "3"})
    assert res.returncode == 1 and "Traceback" not in res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "engine stopped mid-run" in lines[0] and "engine.log" in lines[0], res.stderr
    assert "EngineDied" in (tmp_path / "r" / "engine.log").read_text()   # the traceback, for whoever debugs it
    assert whole_problems(tmp_path / "r", 4)["problem_id"].nunique() == 3
    assert cli_in_process(*args).returncode == 0
    assert whole_problems(tmp_path / "r", 4)["problem_id"].nunique() == 6


def test_crash_between_samples_and_results_is_rebuilt_by_the_next_command(data_dir, tmp_path, monkeypatch):
    from testtime.config import load_config
    from testtime.pipeline import runner

    cfg = load_config(None, settings={"backend": "fake", "data_dir": str(data_dir), "limit": 4, "sampling.n": 4,
                                      "output_dir": str(tmp_path), "name": "r", "bootstrap": 50})

    def crash(self, run_dir):
        raise SystemExit("killed while writing results")

    with monkeypatch.context() as m:
        m.setattr(runner.Results, "save", crash)
        with pytest.raises(SystemExit):
            runner.run(cfg)
    run = tmp_path / "r"
    assert not (run / "results.json").exists()
    assert json.loads((run / "manifest.json").read_text())["status"] != "complete"
    res = cli_in_process("show", run)
    assert res.returncode == 0 and "rebuilt them from the stored samples" in res.stderr, res.stderr
    assert "pass_at_k" in res.stdout and (run / "results.json").is_file()
    assert json.loads((run / "manifest.json").read_text())["status"] == "complete"


def test_full_disk_during_a_part_write_in_process(data_dir, tmp_path, monkeypatch):
    """The disk fills halfway through the third part: one IncompleteRun, no partial part, resume once there is room."""
    from testtime.config import load_config
    from testtime.pipeline import runner
    from testtime.store import store

    cfg = load_config(None, settings={"backend": "fake", "data_dir": str(data_dir), "limit": 6, "sampling.n": 4,
                                      "output_dir": str(tmp_path), "name": "r", "bootstrap": 50})
    written, real = [], pq.write_table

    def filling(table, where, **kw):
        written.append(where)
        if len(written) >= 3:
            with open(where, "wb") as f:
                f.write(b"PAR1" + b"\0" * 100)   # half a file, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(table, where, **kw)

    real_fsync = os.fsync

    def full_once_a_part_failed(fd):   # the disk stays full: the manifest written on the way out fails too
        if len(written) >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    with monkeypatch.context() as m:
        m.setattr(store.pq, "write_table", filling)
        m.setattr(os, "fsync", full_once_a_part_failed)
        # The part whose write failed is named, not the manifest written on the way out (the disk is full for it too).
        with pytest.raises(IncompleteRun, match=r"no space left to write \S*part-"):
            runner.run(cfg)
    run = tmp_path / "r"
    assert whole_problems(run, 4)["problem_id"].nunique() == 2
    runner.run(cfg)
    assert whole_problems(run, 4)["problem_id"].nunique() == 6


@pytest.mark.skipif(shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0,
                    reason="needs unprivileged user and mount namespaces (for a real, small tmpfs)")
def test_full_disk_on_a_real_small_file_system(data_dir, tmp_path):
    """A real 160 kB tmpfs fills mid-run: exit 1, one line, whole problems; after it grows, the same command resumes."""
    mnt, out = tmp_path / "mnt", tmp_path / "copies"
    mnt.mkdir()
    args = " ".join(map(str, run_args(data_dir, mnt / "runs", limit=40, n=16)))
    script = f"""
        mount -t tmpfs -o size=160k tmpfs {mnt} || exit 99
        {sys.executable} -m testtime {args} > {tmp_path}/1.out 2> {tmp_path}/1.err; echo $? > {tmp_path}/1.rc
        cp -r {mnt}/runs {out}-full
        mount -o remount,size=20m {mnt}
        {sys.executable} -m testtime {args} > {tmp_path}/2.out 2> {tmp_path}/2.err; echo $? > {tmp_path}/2.rc
        cp -r {mnt}/runs {out}-resumed
    """
    subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=ROOT, check=True, timeout=600,
                   env={**os.environ, "COLUMNS": "120"})
    err = (tmp_path / "1.err").read_text()
    lines = [line for line in err.splitlines() if line.strip()]
    assert (tmp_path / "1.rc").read_text().strip() == "1" and len(lines) == 1 and "no space left" in lines[0], err
    stored = whole_problems(tmp_path / "copies-full" / "r", 16)["problem_id"].nunique()
    assert 0 < stored < 40
    assert (tmp_path / "2.rc").read_text().strip() == "0", (tmp_path / "2.err").read_text()
    assert whole_problems(tmp_path / "copies-resumed" / "r", 16)["problem_id"].nunique() == 40


# ---- the real engine ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_kill_9_of_a_real_engine_run_resumes(data_dir, tmp_path, request):
    """SmolLM2-135M through vLLM: kill -9 after the first stored problem, then the same command: every problem's
    samples once, the ones stored before the kill unchanged. The killed run starts its own engine from the command's
    settings, in its own process; the resumed one runs in this process on the session's engine (shared_engines)."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vllm not installed")
    args = ["run", "--backend", "vllm", "--limit", 4, "--n", 2, "--max-tokens", 32, "--data-dir", data_dir,
            "--output-dir", tmp_path, "--name", "k9", "--strategy", "pass_at_k", "--set", "engine.max_num_seqs=2",
            "--set", "engine.max_model_len=1024", "--set", "engine.gpu_memory_utilization=0.2"]
    proc = start(args)
    run = tmp_path / "k9"
    wait_for_parts(run, 1, proc, timeout=600)
    proc.kill()
    proc.communicate()
    before = whole_problems(run, 2)
    assert not (run / "results.json").exists()
    with sharing_engines(request.getfixturevalue):
        res = cli_in_process(*args)
    assert res.returncode == 0, res.stderr[-3000:]
    after = whole_problems(run, 2)
    assert after["problem_id"].nunique() == 4 and len(after) == 8
    kept = after[after["problem_id"].isin(set(before["problem_id"]))].reset_index(drop=True)
    assert kept[["problem_id", "sample_index", "text"]].equals(before[["problem_id", "sample_index", "text"]]
                                                              .reset_index(drop=True))
