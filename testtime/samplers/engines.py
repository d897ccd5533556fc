"""`LocalEngines`: where model-based scorers get their models (testtime.sampler.Engines), on this machine.

A scorer asks for a shape (a verifier, a sequence classifier, logits at positions) and a model; this module picks
the engine: the policy's own engine when the scorer names no model and the policy can serve it (self-verification
on the policy's vLLM engine shares its weights and KV cache), transformers otherwise, and vLLM's pooling runner for
reward models on a GPU. Each model loads once per run.

Example:
    engines = LocalEngines(policy=sampler)
    verifier = engines.verifier(None)                   # the policy itself
    orm = engines.classifier("path/to/reward-model")    # transformers on CPU, vLLM pooling on a GPU
"""

from __future__ import annotations

import importlib.util
from typing import Any, Callable

from testtime.errors import UserError
from testtime.sampler import NextTokenLogprobs, PositionLogits, Sampler, SequenceClassifier, require
from testtime.samplers.hf import HFSampler
from testtime.samplers.transformers_models import TransformersClassifier, TransformersLM, TransformersPositions
from testtime.samplers.vllm import VLLMSampler

ENGINES = ("auto", "vllm", "hf")


class LocalEngines:
    def __init__(self, policy: Sampler):
        self.policy = policy
        self._loaded: dict[tuple, Any] = {}

    def _once(self, key: tuple, build: Callable[[], Any]) -> Any:
        if key not in self._loaded:
            self._loaded[key] = build()
        return self._loaded[key]

    def verifier(self, model: str | None, *, batch_size: int = 8,
                 trust_remote_code: bool = False) -> NextTokenLogprobs:
        if model:
            return self._once(("lm", model, batch_size, trust_remote_code),
                              lambda: TransformersLM.load(model, batch_size=batch_size,
                                                          trust_remote_code=trust_remote_code))
        if isinstance(self.policy, HFSampler):   # its model, batched at the verifier's batch size
            return self._once(("policy-lm", batch_size), lambda: TransformersLM(self.policy.loaded, batch_size))
        return require(self.policy, NextTokenLogprobs, what="read next-token logprobs",
                       backend=self.policy.describe().get("backend", "?"), needed_by="a verifier on the policy",
                       fix="set scorer_model (a model folder or repo id) or run the policy with the vllm or hf backend")

    def classifier(self, model: str, *, engine: str = "auto", batch_size: int = 8, memory_share: float = 0.2,
                   max_model_len: int | None = None, trust_remote_code: bool = False) -> SequenceClassifier:
        if engine not in ENGINES:
            raise UserError(f"unknown reward-model engine {engine!r}; use one of {', '.join(ENGINES)}")
        if engine == "auto":
            import torch

            engine = "vllm" if torch.cuda.is_available() and importlib.util.find_spec("vllm") else "hf"
        if engine == "hf":
            return self._once(("clf", model, batch_size, trust_remote_code),
                              lambda: TransformersClassifier.load(model, batch_size=batch_size,
                                                                  trust_remote_code=trust_remote_code))
        if isinstance(self.policy, VLLMSampler):
            policy = self.policy.memory_share
            if policy + memory_share > 0.95:
                raise UserError(
                    f"orm: the policy's vLLM engine holds {policy:.2f} of the memory and the reward model asks for "
                    f"{memory_share:.2f}; lower engine.gpu_memory_utilization (e.g. --set "
                    f"engine.gpu_memory_utilization={max(0.1, 0.9 - memory_share):.2f}) or set "
                    "scorer_options.orm.engine=hf")
        from testtime.samplers.vllm_pooling import VLLMClassifier

        return self._once(("vllm-clf", model, memory_share, max_model_len, trust_remote_code),
                          lambda: VLLMClassifier.load(model, memory_share=memory_share, max_model_len=max_model_len,
                                                      trust_remote_code=trust_remote_code))

    def position_scorer(self, model: str, *, causal_lm: bool, batch_size: int = 8,
                        trust_remote_code: bool = False) -> PositionLogits:
        return self._once(("pos", model, causal_lm, batch_size, trust_remote_code),
                          lambda: TransformersPositions.load(model, causal_lm=causal_lm, batch_size=batch_size,
                                                             trust_remote_code=trust_remote_code))
