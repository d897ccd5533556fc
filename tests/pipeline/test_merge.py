"""Shards (issue 26): `run --shard i/N` samples a disjoint, deterministic share of the problems into its own run
directory, and `merge` puts the shards back together into exactly the unsharded run (fake engine seeded per request:
the same samples, results, summary, gold likelihoods and problem order), with the samples hard-linked, never copied;
mismatched, overlapping, doubled, unfinished and missing shards are refused in one line, and a failed merge leaves
nothing. The served two-shard run is tests/e2e/test_shards.py."""

import json

import pandas as pd
import pytest

from tests.helpers import cli_in_process, one_line_error
from testtime.pipeline import merge as merging
from testtime.store.store import Store


def shard_args(data_dir, out, *extra, n=4, limit=7):
    return ["run", "--backend", "fake", "--data-dir", data_dir, "--limit", limit, "--n", n, "--output-dir", out,
            "--bootstrap-seed", 5, *extra]


def samples(run):
    df = Store(run).table().to_pandas().drop(columns=["run_id"])   # each sample keeps its shard's run id
    return df.sort_values(["group", "problem_id", "sample_index"]).reset_index(drop=True)


@pytest.fixture
def shards(data_dir, tmp_path):
    """Shards 0/2 and 1/2 of a 7-problem fake run, and the same run unsharded ("whole")."""
    out = tmp_path / "runs"
    for i in range(2):
        assert cli_in_process(*shard_args(data_dir, out, "--shard", f"{i}/2")).returncode == 0
    assert cli_in_process(*shard_args(data_dir, out, "--name", "whole")).returncode == 0
    return sorted(out.glob("*-shard*")), out


def test_two_shards_merged_equal_the_unsharded_run_exactly(shards, tmp_path):
    (a, b), out = shards
    assert a.name.endswith("-shard0of2") and b.name.endswith("-shard1of2")
    assert a.name.removesuffix("-shard0of2") == b.name.removesuffix("-shard1of2")   # one run's digest
    pa, pb = (json.loads((d / "manifest.json").read_text())["problems"] for d in (a, b))
    whole = json.loads((out / "whole" / "manifest.json").read_text())["problems"]
    assert pa == whole[0::2] and pb == whole[1::2]   # disjoint, deterministic, together every problem
    res = cli_in_process("merge", b, a, "--into", tmp_path / "merged")
    assert res.returncode == 0, res.stderr
    assert "linked, not copied" in res.stdout
    merged = tmp_path / "merged"
    assert json.loads((merged / "manifest.json").read_text())["problems"] == whole
    assert samples(merged).equals(samples(out / "whole"))
    assert json.loads((merged / "results.json").read_text()) == json.loads((out / "whole" / "results.json").read_text())
    for f in ("summary.parquet", "gold.parquet"):
        left, right = pd.read_parquet(merged / f), pd.read_parquet(out / "whole" / f)
        key = "problem_id"
        assert left.sort_values(key).reset_index(drop=True).equals(right.sort_values(key).reset_index(drop=True)), f
    parts = list((merged / "samples").glob("part-*.parquet"))
    assert len(parts) == 2 and all(p.stat().st_nlink == 2 for p in parts)   # the shards' files, linked
    assert not list(tmp_path.glob(".merged.merging-*"))
    assert cli_in_process("analyze", merged, "--out", tmp_path / "a", "--n-boot", 5).returncode == 0
    manifest = json.loads((merged / "manifest.json").read_text())
    assert manifest["config"]["shard"] is None and manifest["status"] == "complete"
    assert [m["shard"] for m in manifest["merged_from"]] == ["0/2", "1/2"]


def test_bad_merges_are_one_line_and_write_nothing(shards, data_dir, tmp_path):
    (a, b), out = shards
    into = tmp_path / "merged"
    one_line_error(cli_in_process("merge", a, "--into", into), "shard 1/2 missing", "--partial")
    one_line_error(cli_in_process("merge", a, a, "--into", into), "given twice")
    one_line_error(cli_in_process("merge", a, out / "whole", "--into", into), "is not a shard")
    assert cli_in_process(*shard_args(data_dir, out, "--shard", "1/2", "--temperature", 0.5)).returncode == 0
    other = next(d for d in out.glob("*-shard1of2") if d != b)
    one_line_error(cli_in_process("merge", a, other, "--into", into), "differ in sampling.temperature")
    assert cli_in_process(*shard_args(data_dir, out, "--shard", "1/3")).returncode == 0
    three = next(out.glob("*-shard1of3"))
    one_line_error(cli_in_process("merge", a, three, "--into", into), "split differently")
    manifest = json.loads((b / "manifest.json").read_text())
    overlapping = {**manifest, "problems": manifest["problems"][:1] + json.loads(
        (a / "manifest.json").read_text())["problems"][:1]}
    (b / "manifest.json").write_text(json.dumps(overlapping))
    one_line_error(cli_in_process("merge", a, b, "--into", into), "both hold problem")
    (b / "manifest.json").write_text(json.dumps({**manifest, "status": "sampling"}))
    one_line_error(cli_in_process("merge", a, b, "--into", into), "has not finished")
    (b / "manifest.json").write_text(json.dumps(manifest))
    one_line_error(cli_in_process("merge", a, b, "--into", a), "already exists")
    assert not into.exists() and not list(tmp_path.glob(".merged.merging-*"))
    for bad in ("2/2", "x", "1/0", "-1/2"):
        one_line_error(cli_in_process(*shard_args(data_dir, out, f"--shard={bad}")), "shard must be i/N")
    one_line_error(cli_in_process(*shard_args(data_dir, out, "--shard", "8/9")), "holds no problems")


def test_partial_merge_and_a_failed_merge_leaves_nothing(shards, tmp_path, monkeypatch):
    (a, b), out = shards
    res = cli_in_process("merge", a, "--into", tmp_path / "part", "--partial")
    assert res.returncode == 0, res.stderr
    manifest = json.loads((tmp_path / "part" / "manifest.json").read_text())
    assert manifest["merged_missing"] == ["1/2"]
    assert manifest["problems"] == json.loads((a / "manifest.json").read_text())["problems"]

    def crash(*args, **kw):
        raise OSError("disk gone")

    monkeypatch.setattr(merging, "finish", crash)
    with pytest.raises(OSError):
        merging.merge([a, b], tmp_path / "merged")
    assert not (tmp_path / "merged").exists() and not list(tmp_path.glob(".merged.merging-*"))
    assert samples(a).shape[0] == 4 * 4   # the shard's own files untouched
