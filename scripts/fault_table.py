"""Run every bad-input and fault case of issue 12 as a user would, and print what they saw as a Markdown table.

Each case is `python -m testtime ...` in a subprocess on the fake backend (the engine-death case kills the fake
engine; the full-disk case needs `unshare -rm` for a real 160 kB tmpfs), in a fresh folder. Columns: the input or
fault, what the user saw (the last line on stderr, or a summary of stdout), the exit status, and what was on disk after.

Usage:
    TESTTIME_DATA_DIR=../shared/data .venv/bin/python scripts/fault_table.py > /tmp/fault_table.md
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = os.environ.get("TESTTIME_DATA_DIR", str(ROOT.parent / "shared" / "data"))
GOOD = [json.dumps({"question": f"What is {i} + 1?", "answer": f"#### {i + 1}"}) for i in range(3)]
BROKEN = {
    "data file with one malformed JSON line": ("\n".join([*GOOD, '{"question": "x", ']) + "\n").encode(),
    "data file that is not UTF-8": (GOOD[0] + '\n{"question": "caf\xe9", "answer": "#### 1"}\n').encode("latin-1"),
    "data row missing its fields": ("\n".join([*GOOD, '{"question": "no answer"}']) + "\n").encode(),
    "data row that is not an object": ("\n".join([*GOOD, "[1, 2]"]) + "\n").encode(),
    "data row with a wrong-typed field": ("\n".join([*GOOD, '{"question": 5, "answer": "#### 6"}']) + "\n").encode(),
    "data row with an empty gold answer": ("\n".join([*GOOD, '{"question": "x", "answer": "####"}']) + "\n").encode(),
    "empty data file": b"",
}
FLAGS = {
    "`--name ../../somewhere`": ["--name", "../../somewhere"],
    "`--name a/b`": ["--name", "a/b"],
    "`--name analysis` (reserved)": ["--name", "analysis"],
    "`--n 100000000 --limit 1`": ["--n", "100000000", "--limit", "1"],
    "`--max-tokens 100000000`": ["--max-tokens", "100000000"],
    "`--set engine.max_model_len=1000000`": ["--set", "engine.max_model_len=1000000"],
    "`--strategy beam_search:self_verify --budgets 100000000`": ["--strategy", "beam_search:self_verify",
                                                                 "--budgets", "100000000"],
    "`--seed -1`": ["--seed", "-1"],
    "`--temperature nan`": ["--temperature", "nan"],
    "`--set sampling.logprobs=1000`": ["--set", "sampling.logprobs=1000"],
    "`--set strategy_options.budget_forcing.max_waits=abc`": ["--set", "strategy_options.budget_forcing.max_waits=abc"],
    "`--set scorer_options.prm.aggregate=[min]`": ["--set", "scorer_options.prm.aggregate=[min]"],
}
ROWS: list[tuple[str, str, str, str]] = []


def testtime(*args, env=None, wait=True, prefix=()):
    cmd = [*prefix, sys.executable, "-m", "testtime", *map(str, args)]
    full = {**os.environ, "COLUMNS": "120", "TESTTIME_DATA_DIR": DATA, **(env or {})}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc.communicate() + (proc.returncode,) if wait else proc


def run_args(out, *extra, limit=4, n=4, data=DATA):
    return ["run", "--backend", "fake", "--data-dir", data, "--limit", limit, "--n", n, "--output-dir", out,
            "--name", "r", *extra]


def saw(stdout: str, stderr: str, tmp: Path) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = " / ".join(lines[-2:]) if lines else ""
    if not lines or not any(line.startswith(("error:", "terminated:", "interrupted:")) for line in lines):
        tables = stdout.count("accuracy (95% CI)")
        text = (text + "; " if text else "") + (f"{tables} results tables" if tables else "(no output)")
    return text.replace(str(tmp), "<tmp>").replace("|", "\\|")


def on_disk(tmp: Path, out: Path) -> str:
    """The output folder after the command: absent, or each run directory's stored problems, status and lock."""
    from testtime.errors import UserError
    from testtime.store.store import Store

    stray = sorted(p.name for p in tmp.iterdir() if p.name not in ("runs", "data", "copies", "mnt"))
    if not out.exists():
        return "nothing: no output folder" + (f"; stray: {stray}" if stray else "")
    parts = []
    for run in sorted(p for p in out.iterdir() if p.is_dir()):
        manifest = json.loads((run / "manifest.json").read_text()) if (run / "manifest.json").is_file() else {}
        try:
            df = Store(run).table().to_pandas()
            sizes = set(df.groupby("problem_id").size()) if len(df) else set()
            stored = f"{df['problem_id'].nunique()} problems x {'/'.join(map(str, sorted(sizes))) or 0} samples"
        except UserError as e:
            stored = f"unreadable part ({str(e)[:40]}...)"
        lock = (run / "run.lock").read_text() if (run / "run.lock").is_file() else ""
        tmps = len(list(run.rglob(".*.tmp")))
        parts.append(f"{run.name}/: {stored}, status {manifest.get('status', '-')}, "
                     f"results {'yes' if (run / 'results.json').is_file() else 'no'}, "
                     f"lock {'held by pid ' + str(json.loads(lock)['pid']) if lock else 'free'}"
                     + (f", {tmps} temp files" if tmps else ""))
    return "; ".join(parts) or "an empty output folder"


def case(name: str, result, tmp: Path, out: Path) -> None:
    stdout, stderr, rc = result
    ROWS.append((name, saw(stdout, stderr, tmp), str(rc), on_disk(tmp, out).replace(str(tmp), "<tmp>")))


def fresh() -> tuple[Path, Path]:
    tmp = Path(tempfile.mkdtemp(prefix="fault-"))
    return tmp, tmp / "runs"


def wait_for_parts(run: Path, count: int, proc) -> None:
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(list((run / "samples").glob("part-*.parquet"))) >= count:
            return
        time.sleep(0.05)
    raise RuntimeError("no parts written")


def bad_input() -> None:
    for name, data in BROKEN.items():
        tmp, out = fresh()
        (tmp / "data" / "gsm8k").mkdir(parents=True)
        (tmp / "data" / "gsm8k" / "test.jsonl").write_bytes(data)
        case(name, testtime(*run_args(out, data=tmp / "data")), tmp, out)
    for name, flags in FLAGS.items():
        tmp, out = fresh()
        case(name, testtime(*run_args(out, *flags)), tmp, out)


def writers_and_signals() -> None:
    tmp, out = fresh()
    args = run_args(out, limit=12)
    proc = testtime(*args, env={"TESTTIME_FAKE_DELAY": "1.5"}, wait=False)
    wait_for_parts(out / "r", 2, proc)
    case("second `run` on the same directory while one writes", testtime(*args), tmp, out)
    case("`show` while the run writes (its first)", testtime("show", out / "r"), tmp, out)
    proc.send_signal(signal.SIGTERM)
    case("SIGTERM mid-run (Slurm/Kubernetes preemption)", proc.communicate() + (proc.returncode,), tmp, out)
    case("the same command after SIGTERM", testtime(*args), tmp, out)

    tmp, out = fresh()
    args = run_args(out, limit=8)
    proc = testtime(*args, env={"TESTTIME_FAKE_DELAY": "0.5"}, wait=False)
    wait_for_parts(out / "r", 2, proc)
    proc.kill()
    case("`kill -9` mid-run", proc.communicate() + (proc.returncode,), tmp, out)
    case("the same command after `kill -9` (a stale lock)", testtime(*args), tmp, out)


def faults() -> None:
    tmp, out = fresh()
    args = run_args(out, limit=6)
    case("the engine dies after 3 problems (`TESTTIME_FAKE_DIE_AFTER=3`)",
         testtime(*args, env={"TESTTIME_FAKE_DIE_AFTER": "3"}), tmp, out)
    case("the same command after the engine died", testtime(*args), tmp, out)

    tmp, out = fresh()
    args = run_args(out, limit=4)
    testtime(*args)
    part = next((out / "r" / "samples").glob("part-*.parquet"))
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    case("a truncated part file found at start-up", testtime(*args), tmp, out)
    case("`analyze` on the run with the truncated part", testtime("analyze", out / "r", "--n-boot", 0, "--out",
                                                                  tmp / "analysis"), tmp, out)
    part.rename(f"{part}.damaged")
    case("the same command after the `mv` the message gives", testtime(*args), tmp, out)

    tmp, out = fresh()
    crash = ("import os, sys; from testtime.store import records; "
             "records.Results.save = lambda *a: os._exit(137); from testtime.cli import main; sys.exit(main())")
    cmd = ["run", "--backend", "fake", "--data-dir", DATA, "--limit", 4, "--n", 4, "--output-dir", out, "--name", "r"]
    res = subprocess.run([sys.executable, "-c", crash, *map(str, cmd)], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "120"})
    case("a crash between writing samples and writing results", (res.stdout, res.stderr, res.returncode), tmp, out)
    case("`show` after that crash", testtime("show", out / "r"), tmp, out)


def disk_full() -> None:
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        ROWS.append(("the disk fills during a part write", "(not run: needs unshare -rm)", "-", "-"))
        return
    tmp, _ = fresh()
    mnt = tmp / "mnt"
    mnt.mkdir()
    args = " ".join(map(str, run_args(mnt / "runs", limit=40, n=16)))
    script = f"""
        mount -t tmpfs -o size=160k tmpfs {mnt} || exit 99
        COLUMNS=120 {sys.executable} -m testtime {args} > {tmp}/1.out 2> {tmp}/1.err; echo $? > {tmp}/1.rc
        mkdir {tmp}/copies && cp -r {mnt}/runs {tmp}/copies/runs
        mount -o remount,size=20m {mnt}
        COLUMNS=120 {sys.executable} -m testtime {args} > {tmp}/2.out 2> {tmp}/2.err; echo $? > {tmp}/2.rc
        mkdir {tmp}/copies2 && cp -r {mnt}/runs {tmp}/copies2/runs
    """
    subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=ROOT, check=True, env={**os.environ,
                                                                                    "TESTTIME_DATA_DIR": DATA})
    for k, name, copy in ((1, "the disk fills during a part write (a real 160 kB tmpfs)", "copies"),
                          (2, "the same command once the disk has room (tmpfs grown to 20 MB)", "copies2")):
        result = ((tmp / f"{k}.out").read_text(), (tmp / f"{k}.err").read_text(), (tmp / f"{k}.rc").read_text().strip())
        stdout, stderr, rc = result
        ROWS.append((name, saw(stdout, stderr, tmp).replace(str(mnt), "<tmpfs>"), rc,
                     on_disk(tmp, tmp / copy / "runs").replace(str(tmp), "<tmp>")))


def main() -> None:
    bad_input()
    writers_and_signals()
    faults()
    disk_full()
    print("| input or fault | what the user sees | exit | on disk after |")
    print("|---|---|---:|---|")
    for row in ROWS:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
