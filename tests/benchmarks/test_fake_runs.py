"""A fake-backend run on each new benchmark, through the command line: the local copies, and the hub-only sets through
the stand-in `datasets` of test_hub.py; and the problem choice as part of the run's identity."""

import json

import pytest

from tests.benchmarks.test_hub import hub  # noqa: F401  (the fixture)
from tests.helpers import DATA, cli_in_process
from testtime.store.records import Results
from testtime.store.store import Store

LOCAL = ["aime25", "hmmt_feb25", "brumo25", "olympiadbench", "minerva_math"]
HUB_ONLY = ["aime26", "hmmt_feb26", "omni_math", "beyond_aime", "gpqa_diamond"]


def fake_run(out, benchmark, data_dir, *extra):
    return cli_in_process("run", "--backend", "fake", "--benchmark", benchmark, "--data-dir", data_dir, "--n", 4,
                          "--output-dir", out, "--name", benchmark, "--strategy", "majority_vote,pass_at_k", *extra)


def check_run(run_dir, problems):
    table = Store(run_dir).table().to_pandas()
    assert table["problem_id"].nunique() == problems and len(table) == 4 * problems
    assert set(table["extraction"]) <= {"boxed", "none"}
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["problems"]) == problems
    assert {r.strategy for r in Results.load(run_dir)} == {"majority_vote", "pass_at_k"}


@pytest.mark.parametrize("benchmark", LOCAL)
def test_fake_run_on_a_local_set(data_dir, tmp_path, benchmark):
    res = fake_run(tmp_path, benchmark, data_dir, "--first", 3)
    assert res.returncode == 0, res.stderr
    check_run(tmp_path / benchmark, 3)


@pytest.mark.parametrize("benchmark", HUB_ONLY)
def test_fake_run_on_a_hub_set(hub, tmp_path, benchmark):  # noqa: F811
    res = fake_run(tmp_path / "runs", benchmark, tmp_path, "--limit", 0)
    assert res.returncode == 0, res.stderr
    expected = {"hmmt_feb26": 1}.get(benchmark, 2)   # omni_math: 3 rows, one left out (prose)
    check_run(tmp_path / "runs" / benchmark, expected)


def run_dir_of(runs):
    """The run directory the last run wrote (its manifest is the newest): the printed path may wrap on screen."""
    return max(runs.glob("*/manifest.json"), key=lambda p: p.stat().st_mtime_ns).parent.name


def test_each_choice_of_problems_has_its_own_run_directory(data_dir, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("aime25/test/2\naime25/test/5\naime25/test/9\n")
    common = ["run", "--backend", "fake", "--benchmark", "aime25", "--data-dir", data_dir, "--n", 2,
              "--output-dir", tmp_path / "runs"]
    dirs = {}
    for label, extra in (("random", ["--limit", 3]), ("first", ["--first", 3]), ("ids", ["--problems", ids]),
                         ("seed 1", ["--limit", 3, "--subset-seed", 1]), ("ids, first 2", ["--problems", ids,
                                                                                         "--first", 2])):
        res = cli_in_process(*common, *extra)
        assert res.returncode == 0, (label, res.stderr)
        dirs[label] = run_dir_of(tmp_path / "runs")
    assert len(set(dirs.values())) == 5
    chosen = {label: json.loads((tmp_path / "runs" / d / "manifest.json").read_text())["problems"]
              for label, d in dirs.items()}
    assert chosen["first"] == ["aime25/test/0", "aime25/test/1", "aime25/test/2"]
    assert chosen["ids"] == ["aime25/test/2", "aime25/test/5", "aime25/test/9"]
    assert chosen["ids, first 2"] == ["aime25/test/2", "aime25/test/5"]
    assert chosen["random"] != chosen["first"] and len(chosen["random"]) == 3
    # The same command again resumes its own directory; the same --name with another choice is refused.
    again = cli_in_process(*common, "--first", 3)
    assert again.returncode == 0 and run_dir_of(tmp_path / "runs") == dirs["first"]
    assert cli_in_process(*common, "--first", 3, "--name", "mine").returncode == 0
    refused = cli_in_process(*common, "--limit", 3, "--name", "mine")
    assert refused.returncode == 2 and "different configuration" in refused.stderr


def test_problem_choice_errors(data_dir, tmp_path):
    common = ["run", "--backend", "fake", "--benchmark", "olympiadbench", "--data-dir", data_dir, "--n", 2,
              "--output-dir", tmp_path / "runs"]
    ids = tmp_path / "ids.txt"
    ids.write_text("olympiadbench/test/0\nolympiadbench/test/327\n")   # 327: a relay problem, left out
    res = cli_in_process(*common, "--problems", ids)
    assert res.returncode == 2 and "left out of the benchmark: relay problem" in res.stderr
    ids.write_text("olympiadbench/test/0\nolympiad/test/1\n")
    res = cli_in_process(*common, "--problems", ids)
    assert res.returncode == 2 and "'olympiad/test/1' is not a problem of the benchmark" in res.stderr
    ids.write_text("olympiadbench/test/0\nolympiadbench/test/0\n")
    res = cli_in_process(*common, "--problems", ids)
    assert res.returncode == 2 and "twice" in res.stderr
    assert not (tmp_path / "runs").exists()   # bad input leaves nothing behind
