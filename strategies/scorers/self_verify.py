"""Self-verification: an LLM (by default the policy itself) judges each sample; the score is its P("Yes").

The verifier reads one prompt per sample, in its own chat template: the problem, the solution and "Is this solution
correct? Answer Yes or No.", then the assistant turn opened with "Answer:". The score is
P(Yes) / (P(Yes) + P(No)) for the next token, read from one forward pass (prefill), summing the " Yes"/"Yes" (and
" No"/"No") variants that are single tokens. Generative verification in the spirit of Zhang et al. 2024
("Generative Verifiers", arXiv:2408.15240) and Weng et al. 2023 ("Self-Verification", arXiv:2212.09561).

Backends: `model` set -> that model under transformers; else the bound policy sampler: transformers (HFSampler's
model, batched, right-padded) or vLLM (its engine, `testtime.samplers.vllm_logprobs`, exact logprobs of the
Yes/No tokens). `flops` charges a prefill of the verification prompt plus one generated token per sample (the
project's convention, testtime/flops.py).

Example:
    sv = SelfVerifyScorer()
    sv.bind(sampler)                  # the policy's sampler (vLLM or transformers)
    sv.score(problem, completions)    # P(Yes) per completion, in [0, 1]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from testtime.samplers import transformers_models as hf
from testtime.errors import UserError
from testtime.flops import decode_flops, prefill_flops
from testtime.models import ModelFacts
from testtime.registry import register


@register("scorer", "self_verify")
@dataclass(frozen=True)
class SelfVerifyScorer:
    name: ClassVar[str] = "self_verify"
    stored: ClassVar[bool] = True
    model: str | None = None
    """The verifier (built-in name, folder or repo id), run with transformers; None: the bound policy sampler."""
    question: str = "Is this solution correct? Answer Yes or No."
    """Asked after the problem and the solution."""
    answer_prefix: str = "Answer:"
    """Opens the verifier's turn; the next token is read."""
    batch_size: int = 8
    """Prompts per forward pass (transformers)."""
    trust_remote_code: bool = False
    """Allow the verifier's own modelling code (with `model`); only for models you trust."""

    def bind(self, sampler=None) -> None:
        """Use `sampler` (the policy's) as the verifier unless `model` is set; load or check it now."""
        self.__dict__.pop("_loaded", None)
        object.__setattr__(self, "_sampler", sampler)
        self._backend()

    def score(self, problem, completions: Sequence) -> list[float]:
        if not completions:
            return []
        kind, backend, tok = self._backend()
        yes, no = _yes_no_ids(tok)
        prompts = self._prompts(tok, problem, completions)
        if kind == "vllm":
            hook = getattr(backend, "next_token_logprobs", None)   # a sampler that parks its own stream's outputs
            if hook is None:
                from testtime.samplers.vllm_logprobs import next_token_logprobs
                hook = lambda p, t: next_token_logprobs(backend.llm, p, t)   # noqa: E731
            lp = np.asarray(hook(prompts, yes + no), float)
        else:
            lp = _hf_next_token_logprobs(backend, prompts, yes + no, self.batch_size)
        return [yes_probability(row[: len(yes)], row[len(yes):]) for row in lp]

    def flops(self, problem, completions: Sequence) -> list[float]:
        kind, backend, tok = self._backend()
        facts = backend.facts if kind == "hf" else ModelFacts.from_folder(Path(backend.llm.model_config.model))
        return [float(prefill_flops(facts, len(p)) + decode_flops(facts, len(p), 1))
                for p in self._prompts(tok, problem, completions)]

    def _prompts(self, tok, problem, completions: Sequence) -> list[list[int]]:
        return [hf.encode(tok, hf.chat_text(tok, f"Problem:\n{problem.prompt}\n\nSolution:\n{c.text}\n\n"
                                                 f"{self.question}") + self.answer_prefix) for c in completions]

    def _backend(self):
        """("hf", HFModel, tokenizer) or ("vllm", the policy's VLLMSampler, tokenizer); loaded once."""
        sampler = self.__dict__.get("_sampler")
        if self.model:
            rm = hf.cached(self, lambda: hf.load(self.model, "AutoModelForCausalLM",
                                                 trust_remote_code=self.trust_remote_code))
            return "hf", rm, rm.tokenizer
        if hasattr(sampler, "llm"):   # VLLMSampler (checked by duck type: importing it would import vLLM)
            return "vllm", sampler, sampler.tokenizer
        if hasattr(sampler, "model") and hasattr(sampler, "tokenizer"):   # HFSampler
            rm = hf.cached(self, lambda: hf.HFModel(
                model=sampler.model, tokenizer=sampler.tokenizer, device=str(sampler.model.device),
                facts=ModelFacts.from_folder(Path(sampler.model.name_or_path))))
            return "hf", rm, rm.tokenizer
        raise UserError("self_verify needs a verifier: set scorer_model (a model folder or repo id), or run the "
                        "policy with the vllm or hf backend so that it can verify its own samples")


def yes_probability(yes_logprobs: Sequence[float], no_logprobs: Sequence[float]) -> float:
    """P(Yes) / (P(Yes) + P(No)) from the logprobs of the Yes and No token variants; NaN if all are -inf.

    Example:
        yes_probability([math.log(0.3)], [math.log(0.1)])    # 0.75
    """
    y, n = np.logaddexp.reduce(np.asarray(yes_logprobs, float)), np.logaddexp.reduce(np.asarray(no_logprobs, float))
    if not (np.isfinite(y) or np.isfinite(n)):
        return math.nan
    return float(1.0 / (1.0 + np.exp(n - y)))


def _yes_no_ids(tok) -> tuple[list[int], list[int]]:
    def ids(words):
        found = [hf.single_token(tok, w) for w in words]
        return list(dict.fromkeys(i for i in found if i is not None))

    yes, no = ids([" Yes", "Yes"]), ids([" No", "No"])
    if not yes or not no:
        raise UserError("self_verify: this tokenizer has no single token for Yes or No; use another verifier")
    return yes, no


def _hf_next_token_logprobs(rm: hf.HFModel, prompts: Sequence[Sequence[int]], token_ids: list[int],
                            batch_size: int) -> np.ndarray:
    """[len(prompts), len(token_ids)] next-token logprobs after each prompt, from batched right-padded passes."""
    import inspect

    import torch

    rows = []
    keeps = "logits_to_keep" in inspect.signature(rm.model.forward).parameters
    for _, batch in hf.chunks(prompts, batch_size):
        ids, mask = hf.pad_right(batch, hf.pad_id_of(rm), rm.device)
        last = mask.sum(1) - 1
        with torch.no_grad():
            if keeps:   # logits at the prompts' last positions only, not [B, L, vocab]
                keep = torch.unique(last)
                logits = rm.model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits
                col = torch.searchsorted(keep, last)
            else:
                logits = rm.model(input_ids=ids, attention_mask=mask).logits
                col = last
            lp = logits[torch.arange(len(batch), device=logits.device), col].float().log_softmax(-1)
        rows.append(lp[:, token_ids].cpu().numpy())
    return np.concatenate(rows)
