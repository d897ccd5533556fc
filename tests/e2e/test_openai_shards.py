"""Shards against real servers (issue 26): two shards of one run, each sampling through its own vLLM server of
SmolLM2-135M on loopback (the session's two replicas, tests/e2e/conftest.py; this file runs before test_router.py,
which kills replica 1), merged into one run directory: every problem once, n samples each, in the unsharded order,
graded, with results; then analyzed. As a Slurm job array runs it (docs/pools.md), on one machine."""

import importlib.util
import json
import os

import pandas as pd
import pytest

from tests.helpers import cli_in_process

if importlib.util.find_spec("vllm") is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI: vllm is not installed; run scripts/setup.sh")
    pytest.skip("vllm not installed", allow_module_level=True)


@pytest.mark.slow
def test_two_served_shards_merge_into_one_run(data_dir, tmp_path, replicas):
    out = tmp_path / "runs"
    for i in range(2):
        res = cli_in_process("run", "--backend", "openai", "--set", f"endpoint.base_url={replicas.url(i)}",
                             "--limit", 2, "--n", 2, "--max-tokens", 32, "--data-dir", data_dir, "--output-dir", out,
                             "--strategy", "majority_vote,pass_at_k", "--shard", f"{i}/2")
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    shards = sorted(out.glob("*-shard*"))
    urls = [json.loads((d / "manifest.json").read_text())["engine"]["url"] for d in shards]
    assert urls == [replicas.url(0), replicas.url(1)]   # each shard sampled through its own server
    res = cli_in_process("merge", *shards, "--into", out / "merged")
    assert res.returncode == 0, res.stderr
    merged = out / "merged"
    manifest = json.loads((merged / "manifest.json").read_text())
    firsts = [json.loads((d / "manifest.json").read_text())["problems"][0] for d in shards]
    assert manifest["status"] == "complete" and manifest["problems"] == firsts   # the unsharded order
    df = pd.concat(pd.read_parquet(p) for p in (merged / "samples").glob("part-*.parquet"))
    assert (df.groupby("problem_id").size() == 2).all() and df["problem_id"].nunique() == 2
    assert df["text"].str.len().gt(0).all() and df["output_tokens"].between(1, 32).all()
    rows = json.loads((merged / "results.json").read_text())["rows"]
    assert {(r["strategy"], r["n"]) for r in rows} == {(s, n) for s in ("majority_vote", "pass_at_k") for n in (1, 2)}
    assert all(r["problems"] == 2 for r in rows)
    assert cli_in_process("analyze", merged, "--out", tmp_path / "a", "--n-boot", 5).returncode == 0
