"""The OpenAI-compatible backend: a served model (`vllm serve`, vllm-router over replicas, a gateway).

Scale lives in the server (vLLM's data/tensor/pipeline parallelism, Ray, replicas behind vllm-router); testtime sends
it one `/v1/completions` request per problem carrying all n samples, so the prompt is prefilled once and the FLOPs
accounting holds. The chat template is applied here and the prompt sent as token ids, so token counts match the
in-process engine; vLLM's extra fields return the sampled token ids and per-token logprobs.

At connect the server is asked what it can do (testtime.samplers.openai_probe: one-token probe requests): prompt
logprobs (the gold-answer likelihood, `continuation_logprobs`), logprobs of chosen tokens (`self_verify` on the
policy, `next_token_logprobs`), per-request seeds. A server without prompt logprobs gets the plain `OpenAISampler`,
which lacks those two methods, so a scorer that needs them stops before sampling with one line
(testtime.sampler.require).

Faults: the HTTP client (testtime.samplers.http) keeps at most `max_concurrency` problems in flight or waiting for
the consumer, retries a connection error, timeout, 429 or 5xx with backoff, and waits while the server's health check
fails (up to `health_timeout_s`). A problem that still fails is not yielded; once every other problem is done the
stream raises `ProblemsFailed` and the runner exits non-zero (re-running resumes). A request the server refuses as
malformed (other 4xx) stops the stream with one line: retrying would not help. A server that answers the connect
probes with a body that is not JSON, or JSON of another shape (a proxy's page, another service on the port), is
refused in one line naming the URL (`ServerFault`, exit 1).

Example:
    sampler = connect(model_path=path, endpoint=EndpointConfig(base_url="http://127.0.0.1:8000/v1"))
    for i, completions in sampler.stream(prompts, Sampling(n=64)): ...
"""

from __future__ import annotations

import math
import threading
from dataclasses import replace
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from testtime.errors import ServerFault, UserError
from testtime.models import ModelFacts
from testtime.sampler import Completion, ProblemsFailed, Sampling, chat_text, continuation_ids, request_seed
from testtime.samplers.http import BadReply, Client, RequestFailed, choices_of, public_url
from testtime.samplers.openai_probe import probe

DEFAULT_BLOCK = 16
"""vLLM's KV-cache block size on GPUs, assumed for a server whose /metrics does not give its own."""


def reply_timing(body: dict) -> dict:
    """ttft_s and tpot_s from a vLLM server's per-request metrics (`vllm serve --enable-per-request-metrics`: the
    reply's `metrics`, given for requests of one sample only); empty where the reply has none."""
    m = body.get("metrics")
    if not isinstance(m, dict):
        return {}
    ms = lambda k: float(m[k]) / 1000 if isinstance(m.get(k), (int, float)) and not isinstance(m.get(k), bool) \
        else None  # noqa: E731
    return {k: v for k, v in (("ttft_s", ms("time_to_first_token_ms")), ("tpot_s", ms("mean_itl_ms"))) if v is not None}


def to_completions(body: dict, prompt_tokens: int, tokenizer, request_s: float | None = None) -> list[Completion]:
    """A /v1/completions reply -> its Completions, by choice index; BadReply when it is not of that shape."""
    choices = sorted(choices_of(body, "POST /v1/completions"), key=lambda c: c.get("index", 0))
    # vLLM's server reports the prefix-cache hits of the request (shared by its n samples) when started with
    # --enable-prompt-tokens-details.
    usage = body.get("usage")
    details = usage.get("prompt_tokens_details") if isinstance(usage, dict) else None
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    cached = cached if isinstance(cached, int) and not isinstance(cached, bool) else None
    timing = {**reply_timing(body), **({"request_s": request_s} if request_s is not None else {})}
    try:
        return [replace(_completion(c, prompt_tokens, tokenizer, cached), **timing) for c in choices]
    except (AttributeError, TypeError, ValueError) as e:   # a field of another type: the reply is wrong, not us
        raise BadReply(f"POST /v1/completions answered HTTP 200 with a sample of another shape ({e})") from None


def _completion(c: dict, prompt_tokens: int, tokenizer, cached_tokens: int | None = None) -> Completion:
    lp = c.get("logprobs") or {}
    token_lps = tuple(float("nan") if x is None else float(x) for x in lp.get("token_logprobs") or ())
    tops = lp.get("top_logprobs") or ()
    top: tuple[tuple[float, ...], ...] = ()
    if any(d and len(d) > 1 for d in tops):   # as in-process: top-k only when more than the sampled token came back
        top = tuple(tuple(float(v) for v in (d or {}).values()) for d in tops)
    ids = c.get("token_ids")
    if ids is not None:
        n_tokens = len(ids)
    elif lp.get("tokens") is not None:
        n_tokens = len(lp["tokens"])
    else:   # a server that returns neither: count the text (may differ by a token at the edges)
        n_tokens = len(tokenizer.encode(c.get("text", ""), add_special_tokens=False))
    stop = c.get("stop_reason")
    return Completion(text=c.get("text", ""), n_tokens=n_tokens, prompt_tokens=prompt_tokens,
                      logprob=float(sum(token_lps)) if token_lps else None, finish_reason=c.get("finish_reason"),
                      token_logprobs=token_lps, top_logprobs=top, stop_string=stop if isinstance(stop, str) else None,
                      cached_tokens=cached_tokens)


class OpenAISampler:
    """Sampling from a served model; construct with `connect`, which probes the server first."""

    compute_bound = None   # the server's hardware is not ours to know (testtime.sampler.EngineProgress)

    def __init__(self, client: Client, *, tokenizer, facts: ModelFacts, served: dict, capabilities: dict,
                 seed: int = 0):
        self.client, self.tokenizer, self.facts = client, tokenizer, facts
        self.served, self.capabilities, self.seed = served, capabilities, seed
        self._lock = threading.Lock()    # the live display reads progress from its own thread
        self._finished: list[int] = []   # lengths of finished samples, in the order they came back
        self._in_flight: dict[int, tuple[int, int]] = {}   # request -> (n, max_tokens)
        self._queued: dict[int, tuple[int, int]] = {}
        self._metrics: tuple[float, int | None] = (0.0, None)   # (when read, generation tokens counter)
        self._metrics_base: int | None = None
        self._metric_urls: list[str] | None = None
        self._counts: dict[str, int] = {}   # metrics URL -> its last generation-token count
        self._next_id = 0
        self._started: dict[int, float] = {}    # request -> when it went out
        self._took: dict[int, float] = {}       # request -> seconds from going out to its answer

    # ---- Sampler -------------------------------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    @property
    def prefix_block(self) -> int:
        """Tokens per block of the server's prefix cache (its /metrics cache_config_info, else DEFAULT_BLOCK)."""
        return self.served.get("prefix_block") or DEFAULT_BLOCK

    def describe(self) -> dict:
        return {"backend": "openai", **self.served, "capabilities": self.capabilities,
                "max_concurrency": self.client.cfg.max_concurrency,
                "seeding": "per-request seed" if self.capabilities.get("seed") else
                "the server's engine seed" + ("" if not self.client.cfg.per_request_seed
                                              else " (it refused per-request seeds)")}

    def chat_prompt(self, prompt: str) -> str:
        return chat_text(self.tokenizer, prompt)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def prompt_ids(self, text: str) -> list[int]:
        """Token ids of a formatted prompt, as vLLM tokenizes a text prompt in-process (special tokens added where
        the tokenizer adds them), so both backends see the same tokens."""
        return self.tokenizer.encode(text)

    def request(self, text: str, ids: list[int], sampling: Sampling) -> dict:
        """The /v1/completions body for one prompt's n samples."""
        body: dict[str, Any] = {
            "model": self.served["model"], "prompt": ids, "n": sampling.n, "temperature": sampling.temperature,
            "top_p": sampling.top_p, "max_tokens": sampling.max_tokens,
            "return_token_ids": True, "return_tokens_as_token_ids": True}
        if sampling.top_k != -1:
            body["top_k"] = sampling.top_k
        if sampling.min_tokens:   # vLLM's extra field (budget forcing's one token after "Wait")
            body["min_tokens"] = sampling.min_tokens
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if sampling.logprobs is not None:
            body["logprobs"] = sampling.logprobs
        if sampling.seed is not None and self.capabilities.get("seed"):
            body["seed"] = request_seed(sampling, text)   # the server's vLLM gives sample j seed + j
        return body

    def stream(self, prompts: Sequence[str], sampling: Sampling | Sequence[Sampling], *, raw: bool = False
               ) -> Iterator[tuple[int, list[Completion]]]:
        """Yield (prompt index, its n completions) as each request returns; see the module docstring for faults."""
        texts = list(prompts) if raw else [self.chat_prompt(p) for p in prompts]
        each = [sampling] * len(texts) if isinstance(sampling, Sampling) else list(sampling)
        encoded = [self.prompt_ids(t) for t in texts]
        bodies = [self.request(t, ids, s) for t, ids, s in zip(texts, encoded, each)]
        failed: list[tuple[int, str]] = []
        for i, reply, took in self._replies(bodies, each):
            if isinstance(reply, Exception):
                failed.append((i, str(reply)))
                continue
            try:
                completions = to_completions(reply, len(encoded[i]), self.tokenizer, request_s=took)
            except BadReply as e:
                failed.append((i, str(e)))
                continue
            if len(completions) != each[i].n:   # a problem is stored whole or not at all
                failed.append((i, f"the server returned {len(completions)} of {each[i].n} samples"))
                continue
            with self._lock:
                self._finished.extend(c.n_tokens for c in completions)
            yield i, completions
        if failed:
            raise ProblemsFailed([i for i, _ in failed], failed[0][1])

    def generate(self, prompts: Sequence[str], sampling: Sampling | Sequence[Sampling], *, raw: bool = False
                 ) -> list[list[Completion]]:
        out: list[list[Completion]] = [[] for _ in prompts]
        for i, completions in self.stream(prompts, sampling, raw=raw):
            out[i] = completions
        return out

    def _replies(self, bodies: list[dict], each: Sequence[Sampling] | None = None
                 ) -> Iterator[tuple[int, dict | Exception, float | None]]:
        """(index, reply or the RequestFailed, seconds from sending it to its answer) per body, as they return (testtime.samplers.http.Client.replies, at
        most max_concurrency at a time); the requests are counted as queued, then in flight, for `sequences`."""
        tag = self._tag(len(bodies))
        with self._lock:
            for k, s in enumerate(each or ()):
                self._queued[tag + k] = (s.n, s.max_tokens)

        def sent(i: int) -> None:
            with self._lock:
                self._started[tag + i] = time.monotonic()
                if tag + i in self._queued:
                    self._in_flight[tag + i] = self._queued.pop(tag + i)

        def ended(i: int) -> None:
            with self._lock:
                self._in_flight.pop(tag + i, None)
                if tag + i in self._started:
                    self._took[tag + i] = time.monotonic() - self._started.pop(tag + i)

        try:
            for i, reply in self.client.replies("/completions", bodies, sent=sent, ended=ended):
                with self._lock:
                    took = self._took.pop(tag + i, None)
                yield i, reply, took
        finally:
            with self._lock:   # interrupted: what was never sent is no longer queued
                for k in range(len(bodies)):
                    self._queued.pop(tag + k, None)

    def _tag(self, count: int) -> int:
        with self._lock:
            tag, self._next_id = self._next_id, self._next_id + count
        return tag

    def _map(self, bodies: list[dict], what: str) -> list[dict]:
        """Every reply in order; the run stops (keeping what is stored) when one fails for good."""
        out: list[dict] = [{} for _ in bodies]
        for i, reply, _ in self._replies(bodies):
            if isinstance(reply, Exception):
                raise ProblemsFailed([i], f"{what}: {reply}")
            try:
                choices_of(reply, "POST /v1/completions", empty=False)
            except BadReply as e:
                raise ProblemsFailed([i], f"{what}: {e}") from None
            out[i] = reply
        return out

    # ---- EngineProgress ------------------------------------------------------------------------------------------

    def tokens_generated(self) -> int:
        """Tokens generated so far: the server's generation-token counter since the first call (vLLM's /metrics;
        it counts all the server's traffic) where it has one and it is ahead, else the finished samples' tokens."""
        with self._lock:
            finished = sum(self._finished)
        counter = self._read_metrics()
        if counter is None:
            return finished
        if self._metrics_base is None:
            self._metrics_base = counter - finished
        return max(finished, counter - self._metrics_base)

    def sequences(self) -> tuple[list[int], list[tuple[int, int]], list[int]]:
        """(finished lengths, (tokens so far, max_tokens) running, max_tokens queued) per sample; the running
        samples share the tokens generated but not yet returned evenly (the server reports no per-sequence
        counts)."""
        with self._lock:
            finished = list(self._finished)
            running = [(n, cap) for n, cap in self._in_flight.values()]
            queued = [cap for n, cap in self._queued.values() for _ in range(n)]
        seqs = sum(n for n, _ in running)
        share = max(0, self.tokens_generated() - sum(finished)) // seqs if seqs else 0
        return finished, [(min(share, cap), cap) for n, cap in running for _ in range(n)], queued

    def _read_metrics(self) -> int | None:
        """vLLM's vllm:generation_tokens_total summed over its label sets and over the replicas behind a
        vllm-router (its /workers; the router's own /metrics shows one replica at a time), read at most once a
        second. A replica that stops answering keeps its last count."""
        when, value = self._metrics
        if time.monotonic() - when < 1.0:
            return value
        try:
            value = self.client.run(self._scrape(), timeout=10)
        except Exception:   # a display must never stop a run
            value = None
        self._metrics = (time.monotonic(), value)
        return value

    async def _scrape(self) -> int | None:
        client = self.client
        if self._metric_urls is None:
            r = await client.get("/workers", api=False)
            workers = r.json().get("workers") if r is not None and r.status_code == 200 else None
            self._metric_urls = ([w["url"].rstrip("/") + "/metrics" for w in workers if w.get("url")]
                                 if isinstance(workers, list) else [client.root + "/metrics"])
        for url in self._metric_urls:
            try:
                r = await client.http.get(url, timeout=5.0)
            except Exception:
                continue
            if r.status_code == 200:
                counts = [float(line.rsplit(" ", 1)[1]) for line in r.text.splitlines()
                          if line.startswith("vllm:generation_tokens_total")]
                if counts:
                    self._counts[url] = int(sum(counts))
        return sum(self._counts.values()) if self._counts else None

    def close(self) -> None:
        self.client.close()


class OpenAISamplerWithLogprobs(OpenAISampler):
    """A server that returns prompt logprobs (vLLM): the gold-answer likelihood and verifiers on the policy work."""

    def continuation_logprobs(self, prompts: Sequence[str], continuations: Sequence[str], *, prefix: str = ""
                              ) -> list[list[float]]:
        """Logprob of each token of each continuation after the chat-formatted prompt and the assistant `prefix`
        (the server's prompt logprobs; one prefill per prompt, nothing sampled)."""
        encoded = [continuation_ids(self.tokenizer, self.chat_prompt(p) + prefix, c)
                   for p, c in zip(prompts, continuations)]
        rows = self._prompt_logprobs([ids for ids, _ in encoded], "prompt logprobs")
        return [row[start - 1:] for row, (_, start) in zip(rows, encoded)]

    def next_token_logprobs(self, prompts: Sequence[Sequence[int]], token_ids: Sequence[int]) -> list[list[float]]:
        """Logprobs of `token_ids` as the next token after each tokenized prompt: vLLM's `logprob_token_ids` where
        the server takes it, else the prompt logprob of each candidate appended to the prompt."""
        token_ids = list(token_ids)
        if self.capabilities.get("logprob_token_ids"):
            bodies = [{"model": self.served["model"], "prompt": list(p), "max_tokens": 1, "temperature": 0.0,
                       "logprobs": len(token_ids), "logprob_token_ids": token_ids,
                       "return_tokens_as_token_ids": True} for p in prompts]
            rows = []
            for reply in self._map(bodies, "next-token logprobs"):
                first = ((reply["choices"][0].get("logprobs") or {}).get("top_logprobs") or [{}])[0] or {}
                rows.append([float(first.get(f"token_id:{t}", -math.inf)) for t in token_ids])
            return rows
        seqs = [list(p) + [t] for p in prompts for t in token_ids]
        lps = self._prompt_logprobs(seqs, "next-token logprobs")
        k = len(token_ids)
        return [[lps[i * k + j][-1] for j in range(k)] for i in range(len(prompts))]

    def _prompt_logprobs(self, seqs: list[list[int]], what: str) -> list[list[float]]:
        """Logprob of each token of each sequence given those before it (len - 1 floats per sequence)."""
        bodies = [{"model": self.served["model"], "prompt": s, "max_tokens": 1, "temperature": 0.0,
                   "prompt_logprobs": 0} for s in seqs]
        rows = []
        for s, reply in zip(seqs, self._map(bodies, what)):
            entries = reply["choices"][0].get("prompt_logprobs") or []
            rows.append([_logprob_of(d, t) for t, d in zip(s[1:], entries[1:])])
        return rows


def _logprob_of(entry: dict | None, token: int) -> float:
    """The logprob of `token` in one position of vLLM's prompt_logprobs ({token id: {logprob, rank, ...}})."""
    found = (entry or {}).get(str(token))
    return float(found["logprob"]) if found is not None else float("nan")


def connect(*, model_path: Path, endpoint, seed: int = 0) -> OpenAISampler:
    """Connect to the server at `endpoint.base_url` (waiting for its health check), check it serves the model of
    `model_path` (same tokenizer), probe what it can do, and return the sampler for it.

    `model_path` is a local folder with the model's config.json and tokenizer (no weights needed): the client
    applies the chat template and counts FLOPs from it."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    facts = ModelFacts.from_folder(Path(model_path))
    client = Client(endpoint)
    try:
        served, capabilities = client.run(probe(client, tokenizer))
    except BadReply as e:
        client.close()
        raise ServerFault(f"the server at {public_url(endpoint.base_url)} does not answer as an OpenAI-compatible "
                          f"server: {e}; point endpoint.base_url at one (e.g. `vllm serve`), not at a proxy's page "
                          "or another service") from None
    except RequestFailed as e:
        client.close()
        raise UserError(f"no usable server at {public_url(endpoint.base_url)} ({e}); start it, or fix "
                        "endpoint.base_url") from None
    except BaseException:
        client.close()
        raise
    cls = OpenAISamplerWithLogprobs if capabilities["prompt_logprobs"] else OpenAISampler
    return cls(client, tokenizer=tokenizer, facts=facts, served=served, capabilities=capabilities, seed=seed)
