"""Outcome reward model (ORM): a sequence classifier's reward for the whole (problem, solution) conversation.

Cobbe et al. 2021 ("Training Verifiers to Solve Math Word Problems", arXiv:2110.14168) rank samples by such a
verifier; public reward models (Skywork-Reward, ArmoRM, ...) load with `AutoModelForSequenceClassification`.
The conversation is the problem as the user turn and the sample as the assistant turn, in the reward model's chat
template. Score: with one label, its logit (the Bradley-Terry reward); with two, P(label 1). Each sample costs one
prefill of the reward model over prompt + response (`flops`), stored as `score_flops`.

Engines: transformers (right-padded batches), or vLLM's pooling runner (`LLM(runner="pooling").classify`, raw
logits, batched by the engine) in its own engine beside the policy's. `engine="auto"` picks vLLM on a GPU and
transformers on CPU. Both read the same token ids, so they give the same scores up to float rounding.

Example:
    orm = OutcomeRewardScorer(model="Skywork/Skywork-Reward-Llama-3.1-8B-v0.2").bind(engines)
    orm.score(problem, completions)    # one reward per completion, higher is better
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Sequence

from testtime.errors import UserError
from testtime.flops import prefill_flops
from testtime.registry import register
from testtime.sampler import Engines, SequenceClassifier, chat_text, encode

ENGINES = ("auto", "vllm", "hf")


@register("scorer", "orm")
@dataclass(frozen=True)
class OutcomeRewardScorer:
    name: ClassVar[str] = "orm"
    reads_gold: ClassVar[bool] = False
    model: str | None = None
    """The reward model: built-in name, local folder or Hugging Face repo id (config `scorer_model`)."""
    engine: str = "auto"
    """`vllm` (pooling runner), `hf` (transformers), or `auto`: vLLM on a GPU, transformers on CPU."""
    batch_size: int = 8
    """Samples per forward pass (transformers; vLLM batches by itself)."""
    gpu_memory_utilization: float = 0.2
    """vLLM: the reward model engine's share of memory. The policy's engine (`engine.gpu_memory_utilization`) and
    this one must fit together."""
    max_model_len: int | None = None
    """vLLM: the longest prompt + solution the reward model reads; None: 4096 or the model's context if shorter."""
    trust_remote_code: bool = False
    """Allow the model's own modelling code from its folder / the hub (only for models you trust)."""

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise UserError(f"orm: unknown engine {self.engine!r}; use one of {', '.join(ENGINES)}")

    def bind(self, engines: Engines) -> "_Bound":
        """Load the reward model now (before sampling), so a bad name fails early."""
        if not self.model:
            raise UserError("orm needs a reward model: set scorer_model to a folder or Hugging Face repo id "
                            "of a sequence-classification reward model")
        return _Bound(self.model, engines.classifier(
            self.model, engine=self.engine, batch_size=self.batch_size, memory_share=self.gpu_memory_utilization,
            max_model_len=self.max_model_len, trust_remote_code=self.trust_remote_code))


@dataclass(frozen=True)
class _Bound:
    model: str
    rm: SequenceClassifier

    def score(self, problem, completions: Sequence) -> list[float]:
        if not completions:
            return []
        return [_reward(row, self.model) for row in self.rm.logits(self._sequences(problem, completions))]

    def flops(self, problem, completions: Sequence) -> list[float]:
        """One prefill of the reward model over each (problem, sample) conversation."""
        return [float(prefill_flops(self.rm.facts, len(s))) for s in self._sequences(problem, completions)]

    def _sequences(self, problem, completions: Sequence) -> list[list[int]]:
        tok = self.rm.tokenizer
        return [encode(tok, chat_text(tok, problem.prompt, c.text)) for c in completions]


def _reward(logits: Sequence[float], model: str | None) -> float:
    """One label: its logit (the reward); two: P(label 1)."""
    if len(logits) == 1:
        return float(logits[0])
    if len(logits) == 2:
        return 1.0 / (1.0 + math.exp(min(logits[0] - logits[1], 700.0)))   # softmax(logits)[1], overflow-safe
    raise UserError(f"orm: {model} has {len(logits)} labels; expected 1 (a reward) or 2")
