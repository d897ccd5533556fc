"""The openai backend's HTTP client: one httpx session to an OpenAI-compatible server, its retries, health waits and
concurrency bound, apart from what the requests mean (testtime.samplers.openai builds and reads them).

Faults: at most `max_concurrency` requests are in flight or waiting for the consumer (`Client.replies`); a connection
error, timeout, 429 or 5xx is retried with jittered exponential backoff (or after the server's Retry-After, at most a
minute), and while the server's health check fails the request waits for it (up to `health_timeout_s`). A request
that still fails is `RequestFailed`; a 200 reply whose body is not JSON is retried too, then `BadReply`, one line
naming the URL. A request the server refuses as malformed (other 4xx) raises UserError at once: retrying would not
help. The API key is read from the environment variable that `api_key_env` names.

Example:
    client = Client(EndpointConfig(base_url="http://127.0.0.1:8000/v1"))
    try:
        client.run(client.healthy())
        for i, reply in client.replies("/completions", bodies): ...   # reply: the parsed JSON, or RequestFailed
    finally:
        client.close()
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import random
import threading
import time
from typing import Callable, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

from testtime.errors import UserError

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses worth retrying: timeouts, rate limits, and a server (or a router's replica) failing or restarting."""


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
    """An httpx.AsyncClient on an event loop in a background thread: the sync sampler submits coroutines to it.

    Args:
        endpoint: testtime.config.EndpointConfig (base_url, max_concurrency, timeout_s, max_retries,
            health_timeout_s, api_key_env).
    """

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
        """GET `path` under base_url (api=False: beside /v1) once; the response, or None when there was none."""
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

    def replies(self, path: str, bodies: Sequence[dict], *, sent: Callable[[int], None] | None = None,
                ended: Callable[[int], None] | None = None) -> Iterator[tuple[int, dict | RequestFailed]]:
        """POST each of `bodies` to `path`; yield (index, parsed reply or its RequestFailed) as they return.

        At most `max_concurrency` requests are in flight or waiting here to be taken, so a slow consumer slows the
        requests rather than filling memory. A refused request (UserError) is raised here. Leaving the loop early
        cancels the requests still in flight: httpx closes their connections and vLLM aborts them.

        Args:
            path: under base_url, e.g. "/completions".
            bodies: the JSON bodies, in index order.
            sent: called with the index as a request goes out (on the client's thread: keep it short).
            ended: called with the index as a request ends, answered or not (on the client's thread).
        """
        done: queue.Queue = queue.Queue()
        slots = threading.Semaphore(self.cfg.max_concurrency)
        stop = threading.Event()

        async def send(i: int) -> None:
            if sent is not None:
                sent(i)
            try:
                done.put((i, await self.post(path, bodies[i])))
            except RequestFailed as e:
                done.put((i, e))
            except asyncio.CancelledError:   # the consumer stopped: nobody waits for this reply
                raise
            except Exception as e:   # UserError (refused) or a bug: the consumer re-raises it
                done.put((i, e))
            finally:
                if ended is not None:
                    ended(i)

        futures = []

        def feed() -> None:
            # Submits request i once a slot is free; the consumer frees a slot when it takes a reply.
            for i in range(len(bodies)):
                while not slots.acquire(timeout=0.2):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                futures.append(asyncio.run_coroutine_threadsafe(send(i), self.loop))

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
            for future in futures:
                future.cancel()

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
