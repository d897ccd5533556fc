"""`testtime bench`: the same sampling workload through testtime's sampler and through a plain client of the same
engine, in alternating rounds; prints both throughputs and their ratio (goal: >= 0.97).

- `--backend vllm` (default): testtime's VLLMSampler against vLLM's `LLM.generate`, on one in-process engine.
- `--backend openai`: testtime's OpenAISampler against a plain async httpx client posting the same /v1/completions
  bodies to the same server at the same concurrency (endpoint.max_concurrency).

Both sides send identical requests (chat-templated prompts, n samples each, the same sampling settings, sampled-token
logprobs on, as testtime stores them), so the ratio measures testtime's own overhead: request building, streaming
finished requests, and converting replies to Completions. Round 0 of each warms up and is not counted.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import benchmarks
from testtime import models, samplers
from testtime.config import RunConfig, load_config
from testtime.errors import UserError
from testtime.sampler import Sampling


def bench(args, console) -> dict:
    from rich.table import Table

    default = Path("configs/default.yaml")  # its engine settings and data directory, when run from the repo
    cfg: RunConfig = load_config(default if default.is_file() else None, args.set,
                                 settings={"model": args.model, "benchmark": args.benchmark, "backend": args.backend})
    if args.n < 1 or args.prompts < 1 or args.max_tokens < 1 or args.repeats < 1:
        raise UserError("--n, --prompts, --max-tokens and --repeats must be >= 1")
    bench_ = benchmarks.load(cfg.benchmark, data_dir=args.data_dir or cfg.data_dir)
    prompts = [p.prompt for p in benchmarks.select(bench_.problems(), limit=args.prompts, seed=0)]
    if args.compare_defaults:
        return compare_defaults(cfg, prompts, args, console)
    sampling = Sampling(n=args.n, temperature=0.8, max_tokens=args.max_tokens, seed=0)
    console.print(f"loading {cfg.model} ...", highlight=False)
    sampler = samplers.load(cfg.backend, models.resolve(cfg.model, weights=cfg.backend != "openai"), cfg.engine,
                            seed=0, endpoint=cfg.endpoint)
    try:
        plain, label = (plain_openai(sampler, prompts, sampling), "plain httpx") if cfg.backend == "openai" \
            else (plain_vllm(sampler, prompts, sampling), "vllm")

        def ours() -> int:
            return sum(c.n_tokens for cs in sampler.generate(prompts, sampling) for c in cs)

        totals = {label: [0, 0.0], "testtime": [0, 0.0]}
        for r in range(args.repeats + 1):
            order = ((label, plain), ("testtime", ours)) if r % 2 == 0 else (("testtime", ours), (label, plain))
            for name, fn in order:
                t = time.perf_counter()
                tokens = fn()
                dt = time.perf_counter() - t
                console.print(f"round {r} {name:11s} {tokens:8,d} tokens {dt:7.2f} s {tokens / dt:9,.0f} tok/s"
                              + ("  (warm-up)" if r == 0 else ""), highlight=False)
                if r > 0:
                    totals[name][0] += tokens
                    totals[name][1] += dt
        engine = sampler.describe()
    finally:
        sampler.close()
    rate = {k: tok / sec for k, (tok, sec) in totals.items()}
    where = engine.get("platform") or f"{engine.get('url')}, concurrency {engine.get('max_concurrency')}"
    table = Table(title=f"throughput: {cfg.model}, {len(prompts)} prompts x n={args.n}, "
                        f"max_tokens={args.max_tokens}, {where}", title_justify="left")
    for col in ("path", "tokens", "seconds", "tok/s"):
        table.add_column(col, justify="right")
    for name, (tok, sec) in totals.items():
        table.add_row(name, f"{tok:,}", f"{sec:.1f}", f"{rate[name]:,.0f}")
    console.print(table)
    ratio = rate["testtime"] / rate[label]
    console.print(f"ratio testtime / {label}: {ratio:.3f}", highlight=False)
    return {"rates": rate, "ratio": ratio, "engine": engine}


def plain_vllm(sampler, prompts: list[str], sampling: Sampling) -> Callable[[], int]:
    """vLLM's own `LLM.generate` on the sampler's engine, with the same prompts and SamplingParams."""
    llm = sampler.llm
    texts = [sampler.chat_prompt(p) for p in prompts]
    params = [sampler.params(t, sampling) for t in texts]

    def run() -> int:
        outs = llm.generate(texts, params, use_tqdm=False)
        return sum(len(c.token_ids) for o in outs for c in o.outputs)

    return run


def plain_openai(sampler, prompts: list[str], sampling: Sampling) -> Callable[[], int]:
    """A plain async client: httpx, a semaphore of endpoint.max_concurrency, the same request bodies."""
    import asyncio

    import httpx

    texts = [sampler.chat_prompt(p) for p in prompts]
    bodies = [sampler.request(t, sampler.prompt_ids(t), sampling) for t in texts]
    url = sampler.client.api + "/completions"
    headers = dict(sampler.client.http.headers)
    concurrency = sampler.client.cfg.max_concurrency

    async def main() -> int:
        gate = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(headers=headers, timeout=sampler.client.cfg.timeout_s,
                                     limits=httpx.Limits(max_connections=concurrency)) as http:
            async def one(body: dict) -> int:
                async with gate:
                    r = await http.post(url, json=body)
                    r.raise_for_status()
                    return sum(len(c["token_ids"]) for c in r.json()["choices"])

            return sum(await asyncio.gather(*(one(b) for b in bodies)))

    return lambda: asyncio.run(main())


def compare_defaults(cfg: RunConfig, prompts: list[str], args, console) -> dict:
    """Old engine settings vs the new defaults vs plain vLLM, fresh processes (testtime.bench_engine)."""
    import dataclasses

    from rich.table import Table

    from testtime import bench_engine
    from testtime.samplers.vllm import engine_kwargs

    if cfg.backend not in ("auto", "vllm"):
        raise UserError("--compare-defaults compares in-process vLLM engines: leave --backend at vllm")
    path = models.resolve(cfg.model)
    texts = bench_engine.chat_texts(path, prompts)
    kv_bytes = engine_kwargs(cfg.engine, on_cpu=True, facts=models.ModelFacts.from_folder(path),
                             max_tokens=args.max_tokens).get("kv_cache_memory_bytes")
    job = {"model": str(path), "prompts": prompts, "texts": texts, "n": args.n,
           "max_tokens": args.max_tokens, "engine": dataclasses.asdict(cfg.engine), "plain_kv_bytes": kv_bytes}
    console.print(f"{cfg.model}: {len(prompts)} prompts x n={args.n} x up to {args.max_tokens} tokens; "
                  f"{args.repeats} round(s) of old, new and plain vLLM, each in a fresh process", highlight=False)
    results = bench_engine.compare(job, args.repeats, console)
    table = Table(title="engine settings, side by side (sampling only; load time apart)", title_justify="left")
    for col in ("settings", "tokens", "seconds", "tok/s", "vs old", "admission s", "longest stall s", "preempted"):
        table.add_column(col, justify="right")
    rate = {}
    for profile in ("old", "new", "vllm"):
        rows = [r for r in results if r["profile"] == profile]
        tok, sec = sum(r["tokens"] for r in rows), sum(r["sampling_s"] for r in rows)
        rate[profile] = tok / sec
        table.add_row(profile, f"{tok:,}", f"{sec:.1f}", f"{rate[profile]:,.0f}",
                      f"{rate[profile] / rate['old']:.2f}x",
                      "-" if profile == "vllm" else f"{max(r['admission_s'] or 0 for r in rows):.1f}",
                      "-" if profile == "vllm" else f"{max(r['longest_stall_s'] for r in rows):.1f}",
                      "-" if profile == "vllm" else str(sum(r["preempted_requests"] for r in rows)))
    console.print(table)
    console.print(f"ratio new / old: {rate['new'] / rate['old']:.2f}; new / plain vLLM: "
                  f"{rate['new'] / rate['vllm']:.2f}", highlight=False)
    return {"results": results, "rates": rate}
