"""Next-token logprobs of a few chosen tokens after each prompt, on a running vLLM engine: one prefill per prompt.

For scorers that reuse the policy's engine (self_verify reads P("Yes") after a verification prompt). Requests go
straight to the engine under their own ids with `SamplingParams(max_tokens=1, temperature=0,
logprob_token_ids=...)`, which returns the logprobs of exactly those tokens (vLLM >= 0.32; the raw model
distribution, before any temperature). `LLM.generate` is not used: it steps the engine until *every* request is
done and so would swallow the outputs of a sampler's stream still in flight.

Stepping the engine also finishes other requests. Their finished outputs go to `park` (a list the sampler drains
before stepping again); without one, the call refuses to run while other requests are in flight, rather than lose
their outputs.

`prompt_token_logprobs` reads the logprob of every prompt token instead (`prompt_logprobs=0`): the likelihood of a
given continuation, e.g. the gold answer after the problem; given where the continuation starts, only the prompt's
uncached tail is computed.

Example:
    rows = next_token_logprobs(sampler.llm, [prompt_ids], [yes_id, no_id])    # [[lp_yes, lp_no]]
    [lps] = prompt_token_logprobs(sampler.llm, [prompt_ids])                   # len(prompt_ids) - 1 floats
"""

from __future__ import annotations

import math
import uuid
from typing import Sequence

from testtime.errors import UserError


def next_token_logprobs(llm, prompts: Sequence[Sequence[int]], token_ids: Sequence[int], *,
                        park: list | None = None) -> list[list[float]]:
    """Logprob of each of `token_ids` as the next token after each prompt (-inf where the engine gave none).

    Args:
        llm: a `vllm.LLM`.
        prompts: token ids of each prompt (already chat-formatted and tokenized).
        token_ids: the tokens to read (at most 128).
        park: where finished outputs of other requests go; None: refuse while other requests are in flight.

    Returns:
        [len(prompts)][len(token_ids)] float.
    """
    from vllm import SamplingParams

    outs = _one_step_requests(llm, prompts, lambda: SamplingParams(
        max_tokens=1, temperature=0.0, logprob_token_ids=list(token_ids)), park)
    rows = []
    for out in outs:
        first = out.outputs[0].logprobs[0]   # token id -> Logprob, for the one generated position
        rows.append([float(first[t].logprob) if t in first else -math.inf for t in token_ids])
    return rows


def prompt_token_logprobs(llm, prompts: Sequence[Sequence[int]], *, park: list | None = None,
                          needed_from: Sequence[int] | None = None) -> list[list[float]]:
    """Logprob of each prompt token given the tokens before it (`prompt_logprobs=0`; one prefill per prompt).

    `needed_from`: per prompt, the first token whose logprob the caller needs (a continuation's start). vLLM skips
    the prefix cache for a prompt-logprobs request by default (positions read from the cache have no logits), so
    every such request prefills its whole prompt; given `needed_from`, the request reads the cache, only the
    uncached tail is computed, and the positions read from the cache come back NaN. A prompt whose needed tokens
    were themselves cached is asked again without the cache. Measured: docs/engine.md.

    Returns:
        one list per prompt of len(prompt) - 1 floats: tokens 1.. (the first token has no context).
    """
    from vllm import SamplingParams

    def read(outs, cached: bool) -> list[list[float]]:
        rows = []
        for prompt, out in zip(prompts, outs):
            # position 0 is None; every later position holds the prompt token itself (plus the top-k, here none).
            # With the cache read, rows of tokens 1..num_cached_tokens were never computed: vLLM leaves them
            # uninitialised (torch.empty), so they are not read, and not detokenized (their ids are garbage).
            first = (out.num_cached_tokens or 0) + 1 if cached else 1
            rows.append([float(d[t].logprob) if i >= first else math.nan
                         for i, (t, d) in enumerate(zip(list(prompt)[1:], out.prompt_logprobs[1:]), start=1)])
        return rows

    if needed_from is None:
        return read(_one_step_requests(llm, prompts, lambda: SamplingParams(
            max_tokens=1, temperature=0.0, prompt_logprobs=0), park), cached=False)
    rows = read(_one_step_requests(llm, prompts, lambda: SamplingParams(
        max_tokens=1, temperature=0.0, prompt_logprobs=0, skip_reading_prefix_cache=False, detokenize=False), park),
        cached=True)
    again = [i for i, (row, start) in enumerate(zip(rows, needed_from)) if any(map(math.isnan, row[start - 1:]))]
    if again:
        for i, row in zip(again, prompt_token_logprobs(llm, [prompts[i] for i in again], park=park)):
            rows[i] = row
    return rows


def _one_step_requests(llm, prompts: Sequence[Sequence[int]], params, park: list | None) -> list:
    """Run one request per tokenized prompt (SamplingParams from `params()`) straight on the engine; their
    final outputs in prompt order."""
    from vllm.sampling_params import RequestOutputKind

    engine = llm.llm_engine
    if park is None and engine.has_unfinished_requests():
        raise UserError("a scorer cannot share the policy's vLLM engine while it is still sampling (the other "
                        "requests' outputs would be lost); set scorer_model to the verifier's folder (the policy's "
                        "own works) to score with transformers")
    tag = uuid.uuid4().hex[:8]
    ids = [f"tt-logprobs-{tag}-{i}" for i in range(len(prompts))]
    mine = set(ids)
    done: dict[str, object] = {}
    try:
        for rid, prompt in zip(ids, prompts):
            p = params()
            p.output_kind = RequestOutputKind.FINAL_ONLY
            engine.add_request(rid, {"prompt_token_ids": list(prompt)}, p)
        while len(done) < len(ids) and engine.has_unfinished_requests():
            for out in engine.step():
                if out.request_id in mine:
                    if out.finished:
                        done[out.request_id] = out
                elif out.finished and park is not None:
                    park.append(out)
    finally:
        left = [rid for rid in ids if rid not in done]
        if left:  # interrupted: leave the engine as we found it
            engine.abort_request(left)
    missing = [rid for rid in ids if rid not in done]
    if missing:
        raise RuntimeError(f"vLLM finished without request {missing[0]}")
    return [done[rid] for rid in ids]
