"""DeepConf (offline and online), particle filtering, REBASE and sequential revisions end to end on the real
SmolLM2-135M-Instruct through vLLM: one run (one engine start) of 2 GSM8K problems at a budget of 2 with 48-token
answers (a pool of 2 samples for DeepConf offline), the policy as its own step scorer; every strategy's samples are
stored, and the same command resumes without sampling anything. The run is made in this process on the session's vLLM
engine (`shared_engines` in tests/conftest.py); about a minute on an idle 2-core CPU, most of it top-20 logprobs.
"""

import importlib.util
import json
import os

import pytest

from tests.helpers import cli_in_process, sharing_engines
from testtime.store.store import Store

pytestmark = pytest.mark.slow

if importlib.util.find_spec("vllm") is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI: vllm is not installed; run scripts/setup.sh")
    pytest.skip("vllm not installed", allow_module_level=True)

STRATEGIES = ("majority_vote,deepconf,deepconf_online,particle_filtering:self_verify,rebase:self_verify,"
              "sequential_revisions")
OPTIONS = ("{deepconf: {confidence: lowest_group_confidence, eta: 0.5}, "
           "deepconf_online: {warmup: 1, eta: 0.5, window: 8, chunk_tokens: 16}, "
           "particle_filtering: {max_step_tokens: 24, max_steps: 2}, rebase: {max_step_tokens: 24, max_steps: 2}, "
           "sequential_revisions: {chain_length: 2}}")


def command(data_dir, out):
    return ["run", "--backend", "vllm", "--data-dir", data_dir, "--limit", 2, "--n", 2, "--max-tokens", 48,
            "--output-dir", out, "--name", "search", "--strategy", STRATEGIES, "--budgets", "2",
            "--set", "sampling.logprobs=20", "--set", f"strategy_options={OPTIONS}",
            "--set", "scorer_options={lowest_group_confidence: {window: 8}}",
            "--set", "engine.max_model_len=1024", "--set", "engine.gpu_memory_utilization=0.3"]


@pytest.fixture(scope="module")
def run(tmp_path_factory, request):
    from tests.helpers import DATA

    if not DATA.is_dir():
        pytest.skip(f"benchmark data not found at {DATA}")
    out = tmp_path_factory.mktemp("search")
    with sharing_engines(request.getfixturevalue):
        res = cli_in_process(*command(DATA, out))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return DATA, out, res


def records(run, strategy):
    df = Store(run[1] / "search").table().to_pandas()
    return df[df["strategy"] == strategy]


def test_every_strategy_is_evaluated_at_every_budget(run):
    rows = json.loads((run[1] / "search" / "results.json").read_text())["rows"]
    got = {(r["strategy"], r["budget"] or r["n"]) for r in rows}
    for name in ("deepconf_online", "particle_filtering", "rebase", "sequential_revisions"):
        assert (name, 2) in got
    assert {("deepconf", 1), ("deepconf", 2), ("majority_vote", 2)} <= got
    for r in rows:
        assert 0 <= r["accuracy"] <= 1 and r["flops_per_problem"] > 0


def test_deepconf_reads_stored_confidences(run):
    pool = records(run, "sample")
    assert len(pool) == 2 * 2 and pool["score_lowest_group_confidence"].notna().all()
    assert (pool["score_lowest_group_confidence"] > 0).all()


def test_online_deepconf_charges_the_tokens_it_generated(run):
    df = records(run, "deepconf_online")
    assert len(df) == 2   # one voted trace per problem
    for _, r in df.iterrows():
        assert r["output_tokens"] <= r["budget"] * 48 and r["warmup"] == 1
        assert r["stopped_tokens"] <= r["output_tokens"] and r["decode_flops"] > 0


def test_searches_spend_their_budgets(run):
    pf, rb, sr = records(run, "particle_filtering"), records(run, "rebase"), records(run, "sequential_revisions")
    assert (pf["particles"] == pf["budget"]).all() and (pf["score_flops"] > 0).all()
    assert (rb["candidates_per_step"].map(lambda c: c[0]) == rb["budget"]).all() and (rb["score_flops"] > 0).all()
    assert (sr["chains"] * sr["chain_length"] == sr["budget"]).all()
    assert ((sr["prefill_tokens"] > 0) == (sr["chain_length"] > 1)).all()


def test_the_same_command_resumes_without_sampling(run, shared_engines):
    data, out, _ = run
    before = len(Store(out / "search").table())
    res = cli_in_process(*command(data, out))
    assert res.returncode == 0, res.stderr[-3000:]
    assert "nothing to sample" in res.stdout + res.stderr
    assert len(Store(out / "search").table()) == before
