"""A scripted OpenAI-compatible server (FastAPI + uvicorn on loopback) for the openai backend's tests, and the tiny
byte-level tokenizer folder it and the client share.

It answers like vLLM 0.32's server (the reply shapes recorded in tests/data/openai/): /v1/models, /version, /health,
/metrics, /tokenize and /v1/completions with n choices, token ids, per-token and top-k logprobs, prompt logprobs and
`logprob_token_ids`, all with known values. `Script` holds the knobs tests turn: answers per prompt, faults to inject in
order (HTTP 500, HTTP 503 with or without Retry-After, a dropped connection, a slow reply, 400), whether /health fails,
bodies to answer an endpoint with instead (a page that is not JSON, JSON of another shape), prefix-cache counts in
`usage`, and what it observed (requests, most requests in flight at once).

Example:
    with serve(Script()) as (url, script):
        ...   # endpoint.base_url = url
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request   # module level: FastAPI resolves the handlers' annotations here
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def tiny_model(folder: Path) -> Path:
    """A model folder with a byte-level tokenizer (every text round-trips), a chat template and a small config.json
    (no weights): what the openai backend needs on the client."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    folder.mkdir(parents=True, exist_ok=True)
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tok = Tokenizer(models.BPE(vocab={ch: i for i, ch in enumerate(alphabet)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|im_start|>", "<|im_end|>"])
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|im_end|>", "chat_template": CHAT_TEMPLATE}))
    (folder / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "num_attention_heads": 4,
        "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 258, "intermediate_size": 128,
        "max_position_embeddings": 2048, "tie_word_embeddings": True}))
    return folder


def answer_text(prompt_ids: list[int], index: int, answers: int = 4) -> str:
    """The scripted sample `index` for a prompt: a known answer drawn from the prompt and index."""
    k = zlib.crc32(json.dumps([prompt_ids, index]).encode()) % answers
    return f"Adding up the numbers. The answer is \\boxed{{{k}}}."


def token_logprob(position: int) -> float:
    """The logprob the server gives the sampled token at `position` of a completion (known to the tests)."""
    return -0.01 * (position + 1)


def prompt_logprob(position: int, token: int) -> float:
    """The prompt logprob of `token` at `position` (known to the tests)."""
    return -0.001 * position - 0.0001 * token


@dataclass
class Script:
    model: str = "tiny"
    faults: list = field(default_factory=list)
    """Consumed one per /v1/completions request, in order: "500", "503" (with `retry_after`), "drop", "slow", "400",
    or None (answer)."""
    retry_after: str | None = None
    """The Retry-After header of a "503" fault's reply (None: no header)."""
    healthy: bool = True
    down: bool = False
    """Every completion request gets 503 and /health fails (a server that died behind a router)."""
    delay_s: float = 0.02
    slow_s: float = 3.0
    answers: int = 4
    prompt_logprobs: bool = True
    """False: refuse `prompt_logprobs` (as some OpenAI-compatible servers do)."""
    seeds: bool = True
    bodies: dict = field(default_factory=dict)
    """Endpoint path -> the body to answer it with instead, HTTP 200: a str is sent as an HTML page (not JSON), any
    other value as JSON; e.g. {"/v1/models": {"data": []}, "/version": "<html>..."}."""
    prompt_tokens_details: bool = False
    """True: `usage.prompt_tokens_details.cached_tokens` in every completion reply, as vLLM's server started with
    --enable-prompt-tokens-details (see `cached_prefix`)."""
    seen: list = field(default_factory=list)
    """Prompts of the completion requests answered so far (the fake prefix cache)."""
    serve_limit: int | None = None
    """After this many answered completion requests the server goes `down`."""
    requests: list = field(default_factory=list)
    """Bodies of every /v1/completions request received."""
    answered: int = 0
    authorization: set = field(default_factory=set)
    """Authorization headers seen."""
    in_flight: int = 0
    max_in_flight: int = 0
    generated: int = 0


BLOCK = 16
"""Tokens per block of the fake prefix cache, reported in /metrics as vLLM does (cache_config_info)."""


def cached_prefix(seen: list, prompt: list, block: int = BLOCK) -> int:
    """Prompt tokens a prefix cache of `block`-token blocks holds for `prompt` after the prompts `seen`: the longest
    common prefix in whole blocks, short of the last token (which vLLM always computes)."""
    common = 0
    for old in seen:
        k = 0
        while k < min(len(old), len(prompt)) and old[k] == prompt[k]:
            k += 1
        common = max(common, k)
    return min(common, len(prompt) - 1) // block * block


def make_app(script: Script, tokenizer):
    app = FastAPI()

    def scripted(path: str):
        body = script.bodies[path]
        return HTMLResponse(body) if isinstance(body, str) else JSONResponse(body)

    @app.get("/health")
    async def health():
        return PlainTextResponse("", status_code=200 if script.healthy and not script.down else 503)

    @app.get("/version")
    async def version():
        if "/version" in script.bodies:
            return scripted("/version")
        return {"version": "0.32.0-fake"}

    @app.get("/v1/models")
    async def models():
        if "/v1/models" in script.bodies:
            return scripted("/v1/models")
        return {"object": "list", "data": [{"id": script.model, "object": "model", "max_model_len": 2048,
                                            "root": "/models/tiny", "owned_by": "vllm"}]}

    @app.get("/metrics")
    async def metrics():
        return PlainTextResponse(f'# TYPE vllm:generation_tokens_total counter\n'
                                 f'vllm:generation_tokens_total{{engine="0",model_name="{script.model}"}} '
                                 f'{float(script.generated)}\n'
                                 f'vllm:cache_config_info{{_block_size_resolved="True",block_size="{BLOCK}",'
                                 f'enable_prefix_caching="True",engine="0"}} 1.0\n')

    @app.post("/tokenize")
    async def tokenize(request: Request):
        if "/tokenize" in script.bodies:
            return scripted("/tokenize")
        body = await request.json()
        ids = tokenizer.encode(body["prompt"])
        return {"tokens": ids, "count": len(ids), "max_model_len": 2048}

    @app.post("/v1/completions")
    async def completions(request: Request):
        body = await request.json()
        script.requests.append(body)
        script.authorization.add(request.headers.get("authorization"))
        fault = script.faults.pop(0) if script.faults else None
        if script.serve_limit is not None and script.answered >= script.serve_limit:
            script.down = True
        if script.down:
            return JSONResponse({"error": {"message": "no healthy replica", "code": 503}}, status_code=503)
        if "/v1/completions" in script.bodies:
            return scripted("/v1/completions")
        if fault == "500":
            return JSONResponse({"error": {"message": "EngineCore hiccup", "code": 500}}, status_code=500)
        if fault == "503":   # a replica restarting behind a router, maybe saying when to come back
            return JSONResponse({"error": {"message": "replica restarting", "code": 503}}, status_code=503,
                                headers=None if script.retry_after is None else {"Retry-After": script.retry_after})
        if fault == "400":
            return JSONResponse({"error": {"message": "max_tokens is too large", "code": 400}}, status_code=400)
        if body.get("prompt_logprobs") is not None and not script.prompt_logprobs:
            return JSONResponse({"error": {"message": "prompt_logprobs is not supported", "code": 400}},
                                status_code=400)
        if body.get("seed") is not None and not script.seeds:
            return JSONResponse({"error": {"message": "seed is not supported", "code": 400}}, status_code=400)
        script.in_flight += 1
        script.max_in_flight = max(script.max_in_flight, script.in_flight)
        try:
            await asyncio.sleep(script.slow_s if fault == "slow" else script.delay_s)
            reply = _reply(script, tokenizer, body)
            script.answered += body.get("max_tokens", 16) > 1   # the client's one-token probes do not count
        finally:
            script.in_flight -= 1
        if fault == "drop":   # a reply cut off mid-body: the client sees the connection close
            data = json.dumps(reply).encode()

            async def cut():
                yield data[:len(data) // 2]
                raise ConnectionResetError("dropped by the test")

            return StreamingResponse(cut(), media_type="application/json")
        return reply

    return app


def _reply(script: Script, tokenizer, body: dict) -> dict:
    prompt = list(body["prompt"])
    n, max_tokens = int(body.get("n", 1)), int(body.get("max_tokens", 16))
    k = body.get("logprobs")
    choices = []
    for i in range(n):
        full = tokenizer.encode(answer_text(prompt, i, script.answers), add_special_tokens=False)
        ids = full[:max_tokens]
        text = tokenizer.decode(ids)
        finish = "length" if len(full) > max_tokens else "stop"
        choice = {"index": i, "text": text, "finish_reason": finish, "stop_reason": None, "token_ids": ids,
                  "prompt_logprobs": None, "prompt_token_ids": None, "logprobs": None}
        if k is not None:
            wanted = body.get("logprob_token_ids")
            if wanted:
                tops = [{f"token_id:{t}": prompt_logprob(len(prompt), t) for t in wanted}]
            else:
                tops = [{f"token_id:{t}": token_logprob(j), **{f"token_id:{(t + r) % 256}": token_logprob(j) - r
                                                             for r in range(1, k + 1)}} if k else None
                        for j, t in enumerate(ids)]
            choice["logprobs"] = {"text_offset": [], "tokens": [f"token_id:{t}" for t in ids],
                                  "token_logprobs": [token_logprob(j) for j in range(len(ids))],
                                  "top_logprobs": tops if (k or wanted) else [None] * len(ids)}
        if body.get("prompt_logprobs") is not None:
            choice["prompt_logprobs"] = [None] + [
                {str(t): {"logprob": prompt_logprob(j, t), "rank": 1, "decoded_token": ""}}
                for j, t in enumerate(prompt) if j > 0]
        script.generated += len(ids)
        choices.append(choice)
    usage = {"prompt_tokens": len(prompt), "completion_tokens": sum(len(c["token_ids"]) for c in choices)}
    if script.prompt_tokens_details:
        usage["prompt_tokens_details"] = {"cached_tokens": cached_prefix(script.seen, prompt)}
    script.seen.append(prompt)
    return {"id": "cmpl-fake", "object": "text_completion", "created": int(time.time()), "model": script.model,
            "choices": choices, "usage": usage}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The app under uvicorn in a thread; `stop()` and `start()` again on the same port (a restart)."""

    def __init__(self, script: Script, tokenizer, port: int | None = None):
        self.script, self.tokenizer, self.port = script, tokenizer, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "Server":
        import uvicorn

        config = uvicorn.Config(make_app(self.script, self.tokenizer), host="127.0.0.1", port=self.port,
                                log_level="error", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextlib.contextmanager
def serve(script: Script, model_dir: Path):
    from transformers import AutoTokenizer

    server = Server(script, AutoTokenizer.from_pretrained(str(model_dir))).start()
    try:
        yield server
    finally:
        server.stop()
