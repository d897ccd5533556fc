"""Self-verification: an LLM (by default the policy itself) judges each sample; the score is its P("Yes").

The verifier reads one prompt per sample, in its own chat template: the problem, the solution and "Is this solution
correct? Answer Yes or No.", then the assistant turn opened with "Answer:". The score is
P(Yes) / (P(Yes) + P(No)) for the next token, read from one forward pass (prefill), summing the " Yes"/"Yes" (and
" No"/"No") variants that are single tokens. Generative verification in the spirit of Zhang et al. 2024
("Generative Verifiers", arXiv:2408.15240) and Weng et al. 2023 ("Self-Verification", arXiv:2212.09561).

The verifier comes through `bind(engines)` (testtime.sampler.Engines): `model` set -> that model under
transformers; else the policy: its transformers model (batched, right-padded) or its vLLM engine (exact logprobs
of the Yes/No tokens, read while its own sampling stream is in flight). `flops` charges a prefill of the verification prompt plus one generated token per sample (the
project's convention, testtime/flops.py).

Example:
    sv = SelfVerifyScorer().bind(engines)    # the policy verifies its own samples
    sv.score(problem, completions)           # P(Yes) per completion, in [0, 1]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np

from testtime.errors import UserError
from testtime.flops import decode_flops, prefill_flops
from testtime.registry import register
from testtime.sampler import Engines, NextTokenLogprobs, chat_text, encode, single_token


@register("scorer", "self_verify")
@dataclass(frozen=True)
class SelfVerifyScorer:
    name: ClassVar[str] = "self_verify"
    reads_gold: ClassVar[bool] = False
    model: str | None = None
    """The verifier (built-in name, folder or repo id), run with transformers; None: the policy itself."""
    question: str = "Is this solution correct? Answer Yes or No."
    """Asked after the problem and the solution."""
    answer_prefix: str = "Answer:"
    """Opens the verifier's turn; the next token is read."""
    batch_size: int = 8
    """Prompts per forward pass (transformers)."""
    trust_remote_code: bool = False
    """Allow the verifier's own modelling code (with `model`); only for models you trust."""

    def bind(self, engines: Engines) -> "_Bound":
        """The verifier: `model` under transformers, else the policy (its vLLM engine or transformers model)."""
        verifier = engines.verifier(self.model, batch_size=self.batch_size, trust_remote_code=self.trust_remote_code)
        return _Bound(self, verifier, *_yes_no_ids(verifier.tokenizer))

    def prompts(self, tokenizer, problem, completions: Sequence) -> list[list[int]]:
        """The verification prompt of each completion, tokenized, in the verifier's chat template."""
        return [encode(tokenizer, chat_text(tokenizer, f"Problem:\n{problem.prompt}\n\nSolution:\n{c.text}\n\n"
                                                       f"{self.question}") + self.answer_prefix)
                for c in completions]


@dataclass(frozen=True)
class _Bound:
    config: SelfVerifyScorer
    verifier: NextTokenLogprobs
    yes: list[int]
    no: list[int]

    def score(self, problem, completions: Sequence) -> list[float]:
        if not completions:
            return []
        prompts = self.config.prompts(self.verifier.tokenizer, problem, completions)
        lp = np.asarray(self.verifier.next_token_logprobs(prompts, self.yes + self.no), float)
        return [yes_probability(row[: len(self.yes)], row[len(self.yes):]) for row in lp]

    def flops(self, problem, completions: Sequence) -> list[float]:
        facts = self.verifier.facts
        return [float(prefill_flops(facts, len(p)) + decode_flops(facts, len(p), 1))
                for p in self.config.prompts(self.verifier.tokenizer, problem, completions)]


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
        found = [single_token(tok, w) for w in words]
        return list(dict.fromkeys(i for i in found if i is not None))

    yes, no = ids([" Yes", "Yes"]), ids([" No", "No"])
    if not yes or not no:
        raise UserError("self_verify: this tokenizer has no single token for Yes or No; use another verifier")
    return yes, no
