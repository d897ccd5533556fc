"""The sampler's public surface, in vLLM's own words: `Sampling` in, `Completion` out.

Example:
    sampler = testtime.samplers.load("vllm", model)
    [[c0, c1, ...]] = sampler.generate(["What is 2+2?"], Sampling(n=8, temperature=0.8, max_tokens=256))

One request per prompt carries all `n` samples, so the prompt is prefilled once and shared (vLLM prefix caching).
Backends live in `testtime/samplers/` and are the only modules that import an engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence


@dataclass(frozen=True)
class Sampling:
    n: int = 1
    """Samples per prompt; they share one prefill."""
    temperature: float = 0.8
    """Softmax temperature; 0 is greedy."""
    top_p: float = 1.0
    """Nucleus sampling mass."""
    top_k: int = -1
    """Sample among the k most likely tokens; -1 for all."""
    max_tokens: int = 512
    """Most tokens generated per sample."""
    seed: int | None = 0
    """Sampling seed; the same seed and prompts reproduce the same samples where the engine allows."""
    stop: tuple[str, ...] = ()
    """Strings that end a sample (not included in its text)."""
    logprobs: int | None = 0
    """Top-k logprobs per generated token to return; 0 returns the sampled token's logprob only; None for none."""

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"sampling.n must be >= 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"sampling.temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"sampling.top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"sampling.max_tokens must be >= 1, got {self.max_tokens}")


@dataclass(frozen=True)
class Completion:
    text: str
    """The generated text (stop string excluded)."""
    n_tokens: int
    """Generated tokens."""
    prompt_tokens: int
    """Tokens of the prompt after the chat template."""
    logprob: float | None
    """Sum of the sampled tokens' logprobs; None when the engine did not return them."""
    finish_reason: str | None
    """"stop" (end of sequence or a stop string) or "length" (max_tokens reached)."""
    token_logprobs: tuple[float, ...] = field(default=(), repr=False)
    """Per-token logprobs of the sampled tokens (for scorers); may be empty."""
    top_logprobs: tuple[tuple[float, ...], ...] = field(default=(), repr=False)
    """Per-token top-k logprobs when `Sampling.logprobs` > 0 (for self-certainty); may be empty."""
    stop_string: str | None = None
    """The stop string that ended the sample; None at the end of sequence or at max_tokens."""
    extra: dict = field(default_factory=dict, repr=False, compare=False)
    """Fields a generation strategy adds to the sample's record (e.g. thinking_budget, thinking_tokens)."""

    @property
    def mean_logprob(self) -> float | None:
        """Mean token logprob (length-normalised likelihood); None without logprobs."""
        # Over the tokens that have logprobs: a generation strategy may insert tokens the model did not sample.
        count = len(self.token_logprobs) or self.n_tokens
        if self.logprob is None or count == 0:
            return None
        return self.logprob / count


def continuation_ids(tokenizer, context: str, continuation: str) -> tuple[list[int], int]:
    """Token ids of `context` + `continuation` and where the continuation starts.

    Encoded separately and joined (as lm-evaluation-harness does), so the continuation's tokens are its own even
    where a tokenizer would merge across the boundary.
    """
    ctx = tokenizer.encode(context, add_special_tokens=False)
    return ctx + tokenizer.encode(continuation, add_special_tokens=False), len(ctx)


class Sampler(Protocol):
    """Anything that turns prompts into `n` completions each."""

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        """One list of `sampling.n` completions per prompt, in prompt order. Prompts are user messages; the
        sampler applies the model's chat template."""
        ...

    # Optional: `continuation_logprobs(prompts, continuations, prefix="")` -> per-token logprobs of each
    # continuation after the chat-formatted prompt and an assistant `prefix` (one prefill each; no sampling).
