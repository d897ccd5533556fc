"""Scoring models under transformers, in the shapes scorers ask for (testtime.sampler's protocols):

    TransformersLM          next-token logprobs of chosen tokens after each prompt (a verifier: self_verify)
    TransformersClassifier  a sequence classifier's logits (an outcome reward model: orm)
    TransformersPositions   logits at chosen positions: a token classifier's labels or a causal LM's chosen tokens
                            (a process reward model: prm)

Batches are right-padded: causal attention never looks right, so every real token keeps the position and context
it has when its sequence runs alone, and a batch scores what one-by-one calls would (up to float rounding).
Nothing here imports torch or transformers until a model is actually loaded.

Example:
    lm = TransformersLM.load("smollm2-135m")
    lm.next_token_logprobs([[1, 2, 3]], [42, 43])     # [[lp_42, lp_43]]
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from testtime.models import ModelFacts, resolve


@dataclass
class Loaded:
    model: Any
    """The transformers model, in eval mode, on `device`."""
    tokenizer: Any
    facts: ModelFacts
    """Its size, for the FLOPs of its forward passes."""
    device: str


def load(model: str, auto_class: str, *, trust_remote_code: bool = False) -> Loaded:
    """Load `model` (built-in name, folder or hub id) with `transformers.<auto_class>` and its tokenizer.

    float32 on CPU, bfloat16 on a GPU. A model whose remote code registers only `AutoModel` (Qwen2.5-Math-PRM does)
    loads through `AutoModel` when `trust_remote_code` is set.
    """
    import torch
    import transformers

    path = resolve(model)
    auto_map = json.loads((path / "config.json").read_text()).get("auto_map", {})
    if trust_remote_code and auto_class not in auto_map and "AutoModel" in auto_map:
        auto_class = "AutoModel"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    net = getattr(transformers, auto_class).from_pretrained(path, dtype=dtype, trust_remote_code=trust_remote_code)
    return Loaded(model=net.to(device).eval(), tokenizer=tokenizer, facts=ModelFacts.from_folder(path),
                  device=device)


class _Batched:
    """Shared by the three shapes: the loaded model, its tokenizer and facts, right-padded batches."""

    def __init__(self, loaded: Loaded, batch_size: int = 8):
        self.loaded = loaded
        self.model, self.tokenizer, self.facts, self.device = loaded.model, loaded.tokenizer, loaded.facts, loaded.device
        self.batch_size = batch_size

    def batches(self, seqs: Sequence[Sequence[int]], size: int | None = None):
        """(start, ids [B, L], attention mask [B, L]) over `seqs`, right-padded."""
        for start, batch in chunks(seqs, size or self.batch_size):
            yield (start, *pad_right(batch, pad_id_of(self.model, self.tokenizer), self.device))

    def _keeps_logits(self) -> bool:
        # Newer transformers models can return logits at chosen positions only, not [B, L, vocab].
        return "logits_to_keep" in inspect.signature(self.model.forward).parameters


class TransformersLM(_Batched):
    """A causal LM reading next-token logprobs (testtime.sampler.NextTokenLogprobs)."""

    @classmethod
    def load(cls, model: str, *, batch_size: int = 8, trust_remote_code: bool = False) -> "TransformersLM":
        return cls(load(model, "AutoModelForCausalLM", trust_remote_code=trust_remote_code), batch_size)

    def next_token_logprobs(self, prompts: Sequence[Sequence[int]], token_ids: Sequence[int]) -> list[list[float]]:
        import torch

        rows: list[list[float]] = []
        keeps = self._keeps_logits()
        for _, ids, mask in self.batches(prompts):
            last = mask.sum(1) - 1
            with torch.no_grad():
                if keeps:   # logits at the prompts' last positions only
                    keep = torch.unique(last)
                    logits = self.model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits
                    col = torch.searchsorted(keep, last)
                else:
                    logits = self.model(input_ids=ids, attention_mask=mask).logits
                    col = last
                lp = logits[torch.arange(len(ids), device=logits.device), col].float().log_softmax(-1)
            rows += lp[:, list(token_ids)].cpu().tolist()
        return rows


class TransformersClassifier(_Batched):
    """A sequence classifier (testtime.sampler.SequenceClassifier)."""

    @classmethod
    def load(cls, model: str, *, batch_size: int = 8, trust_remote_code: bool = False) -> "TransformersClassifier":
        return cls(load(model, "AutoModelForSequenceClassification", trust_remote_code=trust_remote_code),
                   batch_size)

    def logits(self, seqs: Sequence[Sequence[int]]) -> list[list[float]]:
        import torch

        # Without a pad token the classifier pools at the last position, which padding would move: one at a time.
        size = self.batch_size if self.model.config.pad_token_id is not None else 1
        out: list[list[float]] = []
        for _, ids, mask in self.batches(seqs, size):
            with torch.no_grad():
                out += self.model(input_ids=ids, attention_mask=mask).logits.float().tolist()
        return out


class TransformersPositions(_Batched):
    """Logits at chosen positions (testtime.sampler.PositionLogits): a token classifier or a causal LM."""

    @classmethod
    def load(cls, model: str, *, causal_lm: bool, batch_size: int = 8,
             trust_remote_code: bool = False) -> "TransformersPositions":
        auto = "AutoModelForCausalLM" if causal_lm else "AutoModelForTokenClassification"
        return cls(load(model, auto, trust_remote_code=trust_remote_code), batch_size)

    def position_logits(self, seqs: Sequence[Sequence[int]], positions: Sequence[Sequence[int]],
                        token_ids: Sequence[int] | None = None) -> list[list[list[float]]]:
        import torch

        out: list[list[list[float]]] = []
        for start, ids, mask in self.batches(seqs):
            pos = positions[start:start + len(ids)]
            with torch.no_grad():
                if token_ids is None:   # token classifier: every label at every position
                    logits = self.model(input_ids=ids, attention_mask=mask)[0].float()   # [B, L, labels]
                    out += [logits[b, p].tolist() for b, p in enumerate(pos)]
                    continue
                keep = sorted({p for row in pos for p in row}) or [0]
                # Only the chosen positions need logits: a [B, L, vocab] tensor would be gigabytes for long texts.
                if self._keeps_logits():
                    logits = self.model(input_ids=ids, attention_mask=mask, logits_to_keep=torch.tensor(keep)).logits
                    column = {p: i for i, p in enumerate(keep)}
                else:
                    logits = self.model(input_ids=ids, attention_mask=mask).logits
                    column = {p: p for p in keep}
                chosen = logits[..., list(token_ids)].float()
                out += [[chosen[b, column[p]].tolist() for p in row] for b, row in enumerate(pos)]
        return out


def chunks(items: Sequence, size: int) -> Iterator[tuple[int, Sequence]]:
    """(start, items[start:start + size]) over `items`."""
    for start in range(0, len(items), size):
        yield start, items[start:start + size]


def pad_right(seqs: Sequence[Sequence[int]], pad_id: int, device: str):
    """[B, L] input ids (padded on the right with `pad_id`) and the attention mask, as torch tensors."""
    import torch

    L = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), L), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), L), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids.to(device), mask.to(device)


def pad_id_of(model, tokenizer) -> int:
    """A pad id: the model's, else the tokenizer's, else its end-of-sequence token, else 0 (masked either way)."""
    for pad in (getattr(model.config, "pad_token_id", None), tokenizer.pad_token_id, tokenizer.eos_token_id):
        if isinstance(pad, int):
            return pad
    return 0
