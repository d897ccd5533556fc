"""Hugging Face models for the model-based scorers (orm, prm, self_verify): load once, format, batch, count FLOPs.

Batches are right-padded: causal attention never looks right, so every real token keeps the position and context
it has when its sequence runs alone, and a batch scores what one-by-one calls would (up to float rounding).
Nothing here imports torch or transformers until a model is actually loaded.

Example:
    rm = load("path/to/reward-model", "AutoModelForSequenceClassification")
    ids, mask = pad_right([[5, 6, 7], [8, 9]], pad_id=0, device=rm.device)
    rm.model(input_ids=ids, attention_mask=mask).logits
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from testtime.flops import prefill_flops
from testtime.models import ModelFacts, resolve


@dataclass
class HFModel:
    model: Any
    """The transformers model, in eval mode, on `device`."""
    tokenizer: Any
    facts: ModelFacts
    """Its size, for the FLOPs of its forward passes."""
    device: str


def load(model: str, auto_class: str, *, trust_remote_code: bool = False) -> HFModel:
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
    return HFModel(model=net.to(device).eval(), tokenizer=tokenizer, facts=ModelFacts.from_folder(path),
                   device=device)


def cached(scorer, build: Callable[[], Any]) -> Any:
    """`build()` once per scorer object. Scorers are frozen dataclasses; the model lives beside the fields, so
    `dataclasses.asdict(scorer)` (the run manifest) holds only the configuration."""
    if "_loaded" not in scorer.__dict__:
        object.__setattr__(scorer, "_loaded", build())
    return scorer.__dict__["_loaded"]


def chat_text(tokenizer, user: str, assistant: str | None = None) -> str:
    """The conversation in the model's chat template; with `assistant=None`, open for the assistant's turn.
    Without a chat template: the two texts separated by a blank line."""
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": user}]
        if assistant is not None:
            messages.append({"role": "assistant", "content": assistant})
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=assistant is None)
    return user + "\n\n" + (assistant or "")


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of `text`; special tokens (BOS) are added only when no chat template wrote them already."""
    return tokenizer.encode(text, add_special_tokens=not getattr(tokenizer, "chat_template", None))


def single_token(tokenizer, text: str) -> int | None:
    """The id of `text` if it is exactly one token (without BOS), else None."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    return ids[0] if len(ids) == 1 else None


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


def pad_id_of(hf: HFModel) -> int:
    """A pad id: the model's, else the tokenizer's, else its end-of-sequence token, else 0 (masked either way)."""
    for pad in (getattr(hf.model.config, "pad_token_id", None), hf.tokenizer.pad_token_id, hf.tokenizer.eos_token_id):
        if isinstance(pad, int):
            return pad
    return 0


def flops_per_sample(facts: ModelFacts, lengths: Sequence[int]) -> list[float]:
    """One prefill of each scored sequence: the FLOPs a reward model spends per sample."""
    return [float(prefill_flops(facts, n)) for n in lengths]
