"""`testtime bench`: the same sampling workload through testtime's sampler and through vLLM's `LLM.generate`
directly, on one engine, in alternating rounds; prints both throughputs and their ratio (goal: >= 0.97).

Both sides send identical requests (chat-templated prompts, n samples each, the same SamplingParams, sampled-token
logprobs on, as testtime stores them), so the ratio measures testtime's own overhead: request building, streaming
finished requests, and converting outputs to Completions. Round 0 of each warms up and is not counted.
"""

from __future__ import annotations

import time
from pathlib import Path

import benchmarks
from testtime import models, samplers
from testtime.config import RunConfig, load_config
from testtime.sampler import Sampling


def bench(args, console) -> dict:
    from rich.table import Table

    default = Path("configs/default.yaml")  # its engine settings and data directory, when run from the repo
    cfg: RunConfig = load_config(default if default.is_file() else None, args.set,
                                 settings={"model": args.model, "benchmark": args.benchmark, "backend": "vllm"})
    if args.n < 1 or args.prompts < 1 or args.max_tokens < 1 or args.repeats < 1:
        from testtime.errors import UserError

        raise UserError("--n, --prompts, --max-tokens and --repeats must be >= 1")
    bench_ = benchmarks.load(cfg.benchmark, data_dir=args.data_dir or cfg.data_dir)
    prompts = [p.prompt for p in benchmarks.select(bench_.problems(), limit=args.prompts, seed=0)]
    sampling = Sampling(n=args.n, temperature=0.8, max_tokens=args.max_tokens, seed=0)
    console.print(f"loading {cfg.model} ...", highlight=False)
    sampler = samplers.load("vllm", models.resolve(cfg.model), cfg.engine, seed=0)
    llm = sampler.llm
    texts = [sampler.chat_prompt(p) for p in prompts]
    params = [sampler.params(p, sampling) for p in prompts]

    def direct() -> int:
        outs = llm.generate(texts, params, use_tqdm=False)
        return sum(len(c.token_ids) for o in outs for c in o.outputs)

    def ours() -> int:
        return sum(c.n_tokens for cs in sampler.generate(prompts, sampling) for c in cs)

    totals = {"vllm": [0, 0.0], "testtime": [0, 0.0]}
    for r in range(args.repeats + 1):
        for name, fn in (("vllm", direct), ("testtime", ours)) if r % 2 == 0 else (("testtime", ours), ("vllm", direct)):
            t = time.perf_counter()
            tokens = fn()
            dt = time.perf_counter() - t
            console.print(f"round {r} {name:9s} {tokens:8,d} tokens {dt:7.2f} s {tokens / dt:9,.0f} tok/s"
                          + ("  (warm-up)" if r == 0 else ""), highlight=False)
            if r > 0:
                totals[name][0] += tokens
                totals[name][1] += dt
    rate = {k: tok / sec for k, (tok, sec) in totals.items()}
    table = Table(title=f"throughput: {cfg.model}, {len(prompts)} prompts x n={args.n}, "
                        f"max_tokens={args.max_tokens}, {sampler.describe()['platform']}", title_justify="left")
    for col in ("path", "tokens", "seconds", "tok/s"):
        table.add_column(col, justify="right")
    for name, (tok, sec) in totals.items():
        table.add_row(name, f"{tok:,}", f"{sec:.1f}", f"{rate[name]:,.0f}")
    console.print(table)
    ratio = rate["testtime"] / rate["vllm"]
    console.print(f"ratio testtime / vLLM direct: {ratio:.3f}", highlight=False)
    return {"rates": rate, "ratio": ratio, "engine": sampler.describe()}
