"""Outcome reward model (ORM): a sequence classifier's reward for the whole (problem, solution) conversation.

Cobbe et al. 2021 ("Training Verifiers to Solve Math Word Problems", arXiv:2110.14168) rank samples by such a
verifier; public reward models (Skywork-Reward, ArmoRM, ...) load with `AutoModelForSequenceClassification`.
The conversation is the problem as the user turn and the sample as the assistant turn, in the reward model's chat
template. Score: with one label, its logit (the Bradley-Terry reward); with two, P(label 1). Each sample costs one
prefill of the reward model over prompt + response (`flops`), stored as `score_flops`.

Example:
    orm = OutcomeRewardScorer(model="Skywork/Skywork-Reward-Llama-3.1-8B-v0.2")
    orm.score(problem, completions)    # one reward per completion, higher is better
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Sequence

from strategies.scorers import hf
from testtime.errors import UserError
from testtime.registry import register


@register("scorer", "orm")
@dataclass(frozen=True)
class OutcomeRewardScorer:
    name: ClassVar[str] = "orm"
    stored: ClassVar[bool] = True
    model: str | None = None
    """The reward model: built-in name, local folder or Hugging Face repo id (config `scorer_model`)."""
    batch_size: int = 8
    """Samples per forward pass."""
    trust_remote_code: bool = False
    """Allow the model's own modelling code from its folder / the hub (only for models you trust)."""

    def bind(self, sampler=None) -> None:
        """Load the reward model now (before sampling), so a bad name fails early; the policy is not used."""
        self._hf()

    def score(self, problem, completions: Sequence) -> list[float]:
        import torch

        rm = self._hf()
        seqs = self._sequences(rm, problem, completions)
        # Without a pad token the classifier pools at the last position, which padding would move: one at a time.
        size = self.batch_size if rm.model.config.pad_token_id is not None else 1
        out: list[float] = []
        for _, batch in hf.chunks(seqs, size):
            ids, mask = hf.pad_right(batch, hf.pad_id_of(rm), rm.device)
            with torch.no_grad():
                logits = rm.model(input_ids=ids, attention_mask=mask).logits.float()
            if logits.shape[-1] == 1:
                out += logits[:, 0].tolist()
            elif logits.shape[-1] == 2:
                out += logits.softmax(-1)[:, 1].tolist()
            else:
                raise UserError(f"orm: {self.model} has {logits.shape[-1]} labels; expected 1 (a reward) or 2")
        return out

    def flops(self, problem, completions: Sequence) -> list[float]:
        rm = self._hf()
        return hf.flops_per_sample(rm.facts, [len(s) for s in self._sequences(rm, problem, completions)])

    def _sequences(self, rm: hf.HFModel, problem, completions: Sequence) -> list[list[int]]:
        return [hf.encode(rm.tokenizer, hf.chat_text(rm.tokenizer, problem.prompt, c.text)) for c in completions]

    def _hf(self) -> hf.HFModel:
        if not self.model:
            raise UserError("orm needs a reward model: set scorer_model to a folder or Hugging Face repo id "
                            "of a sequence-classification reward model")
        return hf.cached(self, lambda: hf.load(self.model, "AutoModelForSequenceClassification",
                                               trust_remote_code=self.trust_remote_code))
