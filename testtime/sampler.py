"""The sampler's public surface, in vLLM's own words: `Sampling` in, `Completion` out.

Example:
    sampler = testtime.samplers.load("vllm", model)
    [[c0, c1, ...]] = sampler.generate(["What is 2+2?"], Sampling(n=8, temperature=0.8, max_tokens=256))

One request per prompt carries all `n` samples, so the prompt is prefilled once and shared (vLLM prefix caching).
Backends live in `testtime/samplers/` and are the only modules that import an engine.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from typing import Iterator, Protocol, Sequence, runtime_checkable

from testtime.errors import UserError


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
    min_tokens: int = 0
    """Fewest tokens generated per sample before the end of sequence or a stop string may end it (vLLM's own)."""
    first_index: int = 0
    """Index of the request's first sample in its problem's pool; set by the runner, not a setting. A seeded engine
    draws sample j of a request from the request's seed + j (`request_seed`), so a request for n samples from
    first_index k draws samples k .. k+n-1 exactly as one larger request from 0 would have (a pool grown in place)."""

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"sampling.n must be >= 1, got {self.n}")
        if not self.temperature >= 0 or self.temperature == float("inf"):   # NaN compares False
            raise ValueError(f"sampling.temperature must be a number >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"sampling.top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"sampling.max_tokens must be >= 1, got {self.max_tokens}")
        if self.seed is not None and not 0 <= self.seed < 2**63:   # numpy's and the engines' seeds are unsigned
            raise ValueError(f"sampling.seed must be in 0..2**63-1 (or null), got {self.seed}")
        if self.logprobs is not None and self.logprobs < 0:
            raise ValueError(f"sampling.logprobs must be >= 0 (or null), got {self.logprobs}")
        if not 0 <= self.min_tokens <= self.max_tokens:
            raise ValueError(f"sampling.min_tokens must be in 0..max_tokens, got {self.min_tokens}")
        if self.first_index < 0:
            raise ValueError(f"sampling.first_index must be >= 0, got {self.first_index}")


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
    cached_tokens: int | None = None
    """Prompt tokens the engine read from its prefix cache instead of prefilling (vLLM's `num_cached_tokens`, a
    server's `usage.prompt_tokens_details.cached_tokens`); None where the engine did not say."""
    ttft_s: float | None = None
    """Seconds from the request's scheduling to its first token, as the engine measured it (vLLM's request metrics:
    first_token_ts - scheduled_ts; a server's `metrics.time_to_first_token_ms`); None where not measured. With n > 1
    samples in one request, vLLM's figures are those of the sample that finished the request; every sample of the
    request carries them."""
    tpot_s: float | None = None
    """Seconds per output token after the first (the request's mean inter-token latency); None where not measured."""
    request_s: float | None = None
    """Wall seconds of the whole request that produced this sample (in-process: scheduling to last token; served:
    sent to answered, as the client saw it); None where not measured."""
    extra: dict = field(default_factory=dict, repr=False, compare=False)
    """Descriptive fields a generation strategy adds to the sample's record, one column each (e.g. budget,
    thinking_tokens, steps); what it spent goes in `spend`."""
    spend: Spend | None = field(default=None, repr=False, compare=False)
    """What a generation strategy spent on this record beyond the problem's one shared prefill (its segments, the
    prefix cache's counts, its scorer's FLOPs); None for a plain sample, charged its own tokens only."""

    @property
    def mean_logprob(self) -> float | None:
        """Mean token logprob (length-normalised likelihood); None without logprobs."""
        # Over the tokens that have logprobs: a generation strategy may insert tokens the model did not sample.
        count = len(self.token_logprobs) or self.n_tokens
        if self.logprob is None or count == 0:
            return None
        return self.logprob / count


@dataclass
class Spend:
    """What a generation strategy spent on one problem's record beyond the problem's one shared prefill. The strategy
    builds it while it runs and hands it over as `Completion.spend`; testtime.pipeline.samples charges every segment
    as forward passes (`decode_flops`) and stores the counts as the record's prefill_tokens, cached_tokens,
    cache_reported and score_flops.

    Example:
        spend = Spend()
        spend.decode_segments.append((prompt_tokens, c.n_tokens))   # a segment generated after the prompt
        spend.prefill(c, computed=prompt_tokens - 1, block=sampler.prefix_block)   # a continuation request
    """

    decode_segments: list[tuple[int, int]] = field(default_factory=list)
    """(context position, tokens) of every generated segment."""
    prefill_segments: list[tuple[int, int]] = field(default_factory=list)
    """(context position, tokens) of every continuation request's prefill past what the prefix cache held."""
    cached_tokens: int = 0
    """Prompt tokens of continuation requests read from the prefix cache."""
    cache_reported: bool = True
    """Whether the engine reported every one of those counts (else whole blocks of the known prefix were assumed)."""
    score_flops: float = 0.0
    """FLOPs of the passes of the strategy's own scorer (a search's step scorer, a weighted vote's)."""

    @property
    def prefill_tokens(self) -> int:
        """Prompt tokens the continuation requests prefilled."""
        return sum(t for _, t in self.prefill_segments)

    def prefill(self, c: Completion, computed: int, block: int) -> None:
        """Charge one continuation request's prefill: its prompt tokens past the prefix cache's hit, as the engine
        reported it (`c.cached_tokens`), else the whole `block`-token blocks of the `computed` tokens of the prompt
        that the engine has already run (never the last prompt token: vLLM always computes it)."""
        cached = c.cached_tokens if c.cached_tokens is not None else \
            block_aligned(min(computed, c.prompt_tokens - 1), block)
        self.prefill_segments.append((cached, c.prompt_tokens - cached))
        self.cached_tokens += cached
        self.cache_reported &= c.cached_tokens is not None


def seed_for(seed: int, prompt: str) -> int:
    """Per-request seed from the run seed and the (formatted) prompt: a problem's samples do not depend on its batch
    or on the backend that sends it. A seeded vLLM engine draws sample k of a request from seed + k
    (vllm/v1/engine/parallel_sampling.py), so two requests with the same seed and text return the same samples."""
    return (seed * 1_000_003 + zlib.crc32(prompt.encode())) % (2**31 - 1)


def request_seed(sampling: Sampling, prompt: str) -> int | None:
    """The seed a request for `sampling.n` samples of `prompt` carries: `seed_for` its prompt, plus the index of its
    first sample. vLLM gives the request's j-th sample seed + j (vllm/v1/engine/parallel_sampling.py,
    `ParentRequest._get_child_sampling_params`), so sample k of a problem is drawn from seed_for(...) + k whatever n
    and however the pool was split into requests. None when the sampling is unseeded."""
    if sampling.seed is None:
        return None
    return seed_for(sampling.seed, prompt) + sampling.first_index


def node_seed(seed: int | None, *identity: int | str) -> int | None:
    """The seed of a request that extends one node of a search (or one trace): the run seed mixed with the node's
    identity (e.g. its path from the root), so that on a seeded engine two nodes never draw the same samples, even
    where their texts are equal, and a node draws the same samples in any batch or order. None stays None.

    Example:
        replace(sampling, n=4, seed=node_seed(sampling.seed, "beam", 2, 0))   # beam 2's children at step 0
    """
    if seed is None:
        return None
    digest = hashlib.blake2b(repr((seed, identity)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1   # Sampling.seed is < 2**63


def block_aligned(tokens: int, block: int) -> int:
    """The tokens a prefix cache of `block`-token blocks can hold of a prefix of `tokens`: whole blocks only."""
    return max(0, tokens) // block * block


# ---- tokenizer helpers: the one place the chat template is applied (engines and scorers alike) -------------------

def chat_text(tokenizer, user: str, assistant: str | None = None) -> str:
    """The conversation in the model's chat template; with `assistant=None`, open for the assistant's turn.
    Without a chat template: the user text as it is, or the two texts separated by a blank line."""
    if getattr(tokenizer, "chat_template", None):   # a tokenizer attribute, not a sampler probe
        messages = [{"role": "user", "content": user}]
        if assistant is not None:
            messages.append({"role": "assistant", "content": assistant})
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=assistant is None)
    return user if assistant is None else user + "\n\n" + assistant


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of `text`; special tokens (BOS) are added only when no chat template wrote them already."""
    return tokenizer.encode(text, add_special_tokens=not getattr(tokenizer, "chat_template", None))


def single_token(tokenizer, text: str) -> int | None:
    """The id of `text` if it is exactly one token (without BOS), else None."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    return ids[0] if len(ids) == 1 else None


def continuation_ids(tokenizer, context: str, continuation: str) -> tuple[list[int], int]:
    """Token ids of `context` + `continuation` and where the continuation starts.

    Encoded separately and joined (as lm-evaluation-harness does), so the continuation's tokens are its own even
    where a tokenizer would merge across the boundary.
    """
    ctx = tokenizer.encode(context, add_special_tokens=False)
    return ctx + tokenizer.encode(continuation, add_special_tokens=False), len(ctx)


class ProblemsFailed(Exception):
    """Raised by `Sampler.stream` after it has yielded every prompt it could: these prompts failed for good (a server
    kept failing). The runner stores what finished, goes on, and exits non-zero; the same command resumes."""

    def __init__(self, indices: Sequence[int], reason: str):
        super().__init__(f"{len(indices)} prompts failed ({reason})")
        self.indices, self.reason = list(indices), reason


class EngineDied(Exception):
    """Raised by `Sampler.stream` when its engine stopped for good mid-stream (its process died, a device fault):
    every prompt yielded before is stored; the runner says so in one line and exits 1; the same command resumes."""


class Sampler(Protocol):
    """What every engine backend offers (vLLM, transformers, fake): chat formatting, token counting, sampling.

    Prompts are user messages; the sampler applies the model's chat template unless `raw=True` (continuations of a
    text that is already formatted: budget forcing, step-wise search)."""

    vocab_size: int | None
    """Size of the policy's tokenizer vocabulary; None when the backend has no tokenizer (fake)."""
    prefix_block: int
    """Tokens per block of the engine's prefix cache (vLLM's cache_config.block_size): it reuses whole blocks only.
    What a continuation is charged for prefill where the engine does not report `Completion.cached_tokens`."""

    def describe(self) -> dict:
        """Engine facts for the run manifest."""
        ...

    def chat_prompt(self, prompt: str) -> str:
        """The user message wrapped in the model's chat template, open for the assistant's turn."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` without special tokens."""
        ...

    def stream(self, prompts: Sequence[str], sampling: Sampling | Sequence[Sampling], *, raw: bool = False
               ) -> Iterator[tuple[int, list[Completion]]]:
        """Yield (prompt index, its `sampling.n` completions) as each prompt finishes, in completion order.
        `sampling` is one Sampling for all prompts or one per prompt. A backend whose requests can fail for good
        (a server) yields the others, then raises ProblemsFailed."""
        ...

    def generate(self, prompts: Sequence[str], sampling: Sampling | Sequence[Sampling], *, raw: bool = False
                 ) -> list[list[Completion]]:
        """One list of completions per prompt, in prompt order."""
        ...

    def close(self) -> None:
        """Free the engine now (another engine may start in the same process)."""
        ...


@runtime_checkable
class EngineProgress(Protocol):
    """Optional: live counts from inside the engine, for progress displays (a wide batch finishes its problems in a
    burst near the end, so finished problems alone say little until then)."""

    compute_bound: bool | None
    """A hint for the ETA until it can measure the step cost itself: True where a decode step's time grows with the
    sequences in it (a CPU), False where a step mostly pays a fixed cost (a GPU reading the weights), None: unknown."""

    def tokens_generated(self) -> int:
        """Tokens generated by this engine so far, requests still running included."""
        ...

    def sequences(self) -> tuple[list[int], list[tuple[int, int]], list[int]]:
        """Per sequence (a request for n samples is n sequences), for the ETA: `(finished, running, queued)`, the
        lengths of the sequences finished so far in the order they finished (only ever appended to, so a caller
        keeps an offset), (tokens so far, max_tokens) of each running one, and max_tokens of each queued one.
        Cheap and safe to call from another thread; approximate there."""
        ...


@runtime_checkable
class ContinuationLogprobs(Protocol):
    """Optional: the log-probability of given text after a prompt (one prefill, nothing sampled); the gold-answer
    likelihood reads it."""

    def continuation_logprobs(self, prompts: Sequence[str], continuations: Sequence[str], *, prefix: str = ""
                              ) -> list[list[float]]:
        """Per-token logprobs of each continuation after the chat-formatted prompt and an assistant `prefix`."""
        ...


# ---- what model-based scorers receive ----------------------------------------------------------------------------
# A scorer never imports an engine: `bind(engines)` asks an `Engines` for the model it needs, and gets one of the
# three shapes below (each carries its tokenizer and model facts, for formatting and FLOPs).

@runtime_checkable
class NextTokenLogprobs(Protocol):
    """A causal LM that reads the next-token logprobs of chosen tokens after tokenized prompts (a verifier)."""

    tokenizer: object
    facts: object
    """testtime.models.ModelFacts of the model (FLOPs of its passes)."""

    def next_token_logprobs(self, prompts: Sequence[Sequence[int]], token_ids: Sequence[int]) -> list[list[float]]:
        """[len(prompts)][len(token_ids)] logprobs of each of `token_ids` as the next token after each prompt."""
        ...


class SequenceClassifier(Protocol):
    """A sequence classifier (an outcome reward model): logits per sequence."""

    tokenizer: object
    facts: object

    def logits(self, seqs: Sequence[Sequence[int]]) -> list[list[float]]:
        """The class logits of each token sequence."""
        ...


class PositionLogits(Protocol):
    """Logits at chosen positions of each sequence (a process reward model): a token classifier's label logits, or
    a causal LM's logits of chosen tokens."""

    tokenizer: object
    facts: object

    def position_logits(self, seqs: Sequence[Sequence[int]], positions: Sequence[Sequence[int]],
                        token_ids: Sequence[int] | None = None) -> list[list[list[float]]]:
        """For each sequence, one logit vector per position in `positions`: every label (token classifier,
        `token_ids` None) or the given tokens only (causal LM)."""
        ...


class Engines(Protocol):
    """Where scorers get their models: the policy, or a model of their own loaded by testtime.samplers."""

    policy: Sampler

    def verifier(self, model: str | None, *, batch_size: int = 8,
                 trust_remote_code: bool = False) -> NextTokenLogprobs:
        """`model` (a built-in, folder or repo id) loaded with transformers; None: the policy itself, when its
        backend can read next-token logprobs (else a one-line UserError naming the fix)."""
        ...

    def classifier(self, model: str, *, engine: str = "auto", batch_size: int = 8,
                   memory_share: float = 0.2, max_model_len: int | None = None,
                   trust_remote_code: bool = False) -> SequenceClassifier:
        """A sequence-classification reward model; engine "vllm" (pooling runner), "hf" or "auto"."""
        ...

    def position_scorer(self, model: str, *, causal_lm: bool, batch_size: int = 8,
                        trust_remote_code: bool = False) -> PositionLogits:
        """A token classifier (causal_lm False) or a causal LM (True) read at chosen positions."""
        ...


def require(obj: object, capability: type, *, what: str, backend: str, needed_by: str,
            fix: str = "use a backend that can (vllm, hf)"):
    """`obj` if it implements the runtime-checkable protocol `capability`, else a one-line UserError.

    Example:
        require(sampler, ContinuationLogprobs, what="read prompt logprobs", backend="openai",
                needed_by="the gold-answer likelihood")
    """
    if isinstance(obj, capability):
        return obj
    raise UserError(f"the {backend} backend cannot {what} ({capability.__name__}), which {needed_by} needs; {fix}")
