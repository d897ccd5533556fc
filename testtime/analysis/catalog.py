"""A small catalog of open models with their published size N, training tokens D and architecture, each a
`testtime.models.ModelFacts` (the one model description) with its name, training tokens and source filled in.

The architecture figures are those of each model's `config.json` on the Hugging Face Hub; `params` is the exact
parameter count those figures give (it matches the Hub's safetensors count), and `non_embedding_params` leaves out
the input embedding and, when untied, the output head (Kaplan et al. 2020, section 2.1 count N that way; Qwen's
model cards report the same "non-embedding" figure). Training compute is C = 6 N D (Kaplan et al. 2020, section
2.1; Hoffmann et al. 2022 use the same) with N = all parameters, as Hoffmann et al. count them.

D is the pretraining token count the developers published. Instruction-tuned variants ("-Instruct") share the base
model's N and D: post-training adds comparatively few tokens. Qwen2.5-Coder models start from Qwen2.5 base
checkpoints (18T tokens) and continue pretraining on 5.5T code-heavy tokens (Hui et al. 2024, "Qwen2.5-Coder
Technical Report", section 3), so their D is 23.5T: every one of those tokens passed through the same weights.

Example:
    card = lookup("smollm2-135m")
    training_flops(card)                                   # 6 * 134.5e6 * 2e12 = 1.6e21
    card.with_overrides({"training_tokens": 4e12})
    law_loss(card, CHINCHILLA)
"""

from __future__ import annotations

import dataclasses

from testtime.errors import UserError
from testtime.models import ModelFacts


def training_flops(card: ModelFacts) -> float:
    """Training compute C = 6 N D with N = all parameters and D = pretraining tokens.

    Args:
        card: a catalog entry (or any ModelFacts with training_tokens).

    Returns:
        FLOPs.

    Raises:
        UserError: the card has no training tokens.
    """
    return 6.0 * card.params * _tokens(card)


def law_loss(card: ModelFacts, law) -> float:
    """The final pretraining loss `law` predicts for this model: N in the law's own convention (Kaplan's N excludes
    embeddings; Chinchilla's includes them), D = the card's training tokens.

    Args:
        card: a catalog entry (or any ModelFacts with training_tokens).
        law: one of `testtime.analysis.laws.LAWS`.

    Returns:
        Loss in the law's own units (nats per token on its data set).
    """
    n = card.non_embedding_params if law.non_embedding else card.params
    return law.loss(n, _tokens(card))


def _tokens(card: ModelFacts) -> float:
    if card.training_tokens is None:
        raise UserError(f"model {card.name!r}: training tokens D unknown; give them as model_card: "
                        "{training_tokens: ...} in the run config")
    return card.training_tokens


def _card(repo: str, L: int, d: int, h: int, kv: int, ff: int, vocab: int, tied: bool, qkv_bias: bool,
          tokens: float, context: int, source: str) -> ModelFacts:
    """Build a card from config.json figures of a Llama-style decoder (GQA attention, SwiGLU MLP, RMSNorm)."""
    hd = d // h
    attn = d * h * hd + 2 * d * kv * hd + h * hd * d + ((h + 2 * kv) * hd if qkv_bias else 0)
    block = attn + 3 * d * ff + 2 * d  # q,k,v,o (+ biases) + gate, up, down + two RMSNorms
    emb = vocab * d
    body = L * block + d  # + final norm
    return ModelFacts(
        name=repo, params=body + emb * (1 if tied else 2), non_embedding_params=body, training_tokens=tokens,
        n_layers=L, d_model=d, n_heads=h, n_kv_heads=kv, head_dim=hd, context=context, source=source, d_ff=ff,
        vocab_size=vocab, tied_embeddings=tied,
        architecture="Qwen2ForCausalLM" if repo.startswith("Qwen/") else "LlamaForCausalLM",
    )


_SMOL = "HF config.json; tokens from the SmolLM2 model card / Allal et al. 2025 (SmolLM2 paper)"
_QWEN = "HF config.json; 18T tokens from Qwen2.5 model card / Qwen2.5 Technical Report (2024)"
_CODER = ("HF config.json; 18T Qwen2.5 pretraining + 5.5T code continued pretraining "
          "(Qwen2.5-Coder Technical Report, Hui et al. 2024)")
_LLAMA3 = "HF config.json; 'over 15T tokens' from the Meta Llama 3 model card"
_LLAMA32 = "HF config.json; 'up to 9T tokens' from the Llama 3.2 model card"

_CARDS = [
    # repo id                       L    d     h   kv  d_ff   vocab  tied  bias  tokens    context
    _card("HuggingFaceTB/SmolLM2-135M", 30, 576, 9, 3, 1536, 49152, True, False, 2e12, 8192, _SMOL),
    _card("HuggingFaceTB/SmolLM2-360M", 32, 960, 15, 5, 2560, 49152, True, False, 4e12, 8192, _SMOL),
    _card("HuggingFaceTB/SmolLM2-1.7B", 24, 2048, 32, 32, 8192, 49152, True, False, 11e12, 8192, _SMOL),
    _card("Qwen/Qwen2.5-0.5B", 24, 896, 14, 2, 4864, 151936, True, True, 18e12, 32768, _QWEN),
    _card("Qwen/Qwen2.5-1.5B", 28, 1536, 12, 2, 8960, 151936, True, True, 18e12, 32768, _QWEN),
    _card("Qwen/Qwen2.5-3B", 36, 2048, 16, 2, 11008, 151936, True, True, 18e12, 32768, _QWEN),
    _card("Qwen/Qwen2.5-7B", 28, 3584, 28, 4, 18944, 152064, False, True, 18e12, 131072, _QWEN),
    _card("Qwen/Qwen2.5-14B", 48, 5120, 40, 8, 13824, 152064, False, True, 18e12, 131072, _QWEN),
    _card("Qwen/Qwen2.5-32B", 64, 5120, 40, 8, 27648, 152064, False, True, 18e12, 131072, _QWEN),
    _card("Qwen/Qwen2.5-72B", 80, 8192, 64, 8, 29568, 152064, False, True, 18e12, 131072, _QWEN),
    _card("Qwen/Qwen2.5-Coder-0.5B", 24, 896, 14, 2, 4864, 151936, True, True, 23.5e12, 32768, _CODER),
    _card("Qwen/Qwen2.5-Coder-1.5B", 28, 1536, 12, 2, 8960, 151936, True, True, 23.5e12, 32768, _CODER),
    _card("meta-llama/Meta-Llama-3-8B", 32, 4096, 32, 8, 14336, 128256, False, False, 15e12, 8192, _LLAMA3),
    _card("meta-llama/Meta-Llama-3-70B", 80, 8192, 64, 8, 28672, 128256, False, False, 15e12, 8192, _LLAMA3),
    _card("meta-llama/Llama-3.2-1B", 16, 2048, 32, 8, 8192, 128256, True, False, 9e12, 131072, _LLAMA32),
    _card("meta-llama/Llama-3.2-3B", 28, 3072, 24, 8, 8192, 128256, True, False, 9e12, 131072, _LLAMA32),
]

CATALOG: dict[str, ModelFacts] = {card.name: card for card in _CARDS}
"""Repo id -> card, plus a short lower-case alias per model ("smollm2-135m", "qwen2.5-coder-1.5b", "llama-3-8b",
"llama-3.2-1b", ...). Aliases return the card under its repo id, so `card.name` can be handed to a sampler."""
CATALOG.update({card.name.split("/")[1].lower().replace("meta-llama-3", "llama-3"): card for card in _CARDS})

_INSTRUCT_SUFFIXES = ("-instruct", "-chat", "-it")


def lookup(name: str) -> ModelFacts:
    """The card of a model by repo id or short name (case-insensitive); "-Instruct" variants map to their base.

    Args:
        name: e.g. "smollm2-135m", "Qwen/Qwen2.5-Coder-1.5B", "Qwen/Qwen2.5-1.5B-Instruct".

    Returns:
        The card. An instruct variant gets its base model's figures under its own name, noted in `source`.

    Raises:
        UserError: the name is unknown; the message lists the short names.
    """
    index = {}
    for key, card in CATALOG.items():
        index[key.lower()] = card
        index[key.split("/")[-1].lower()] = card  # "SmolLM2-135M" without the org works too
    key = name.strip().lower()
    if key in index:
        return index[key]
    for suffix in _INSTRUCT_SUFFIXES:
        base = key.removesuffix(suffix)
        if base != key and base in index:
            card = index[base]
            return dataclasses.replace(card, name=name.strip(), source=f"{card.source}; base model {card.name}'s "
                                       "N and D (instruction tuning adds comparatively few tokens)")
    shorts = sorted(k for k in CATALOG if "/" not in k)
    raise UserError(f"unknown model {name!r}; known: {', '.join(shorts)} (or their Hugging Face repo ids); "
                    "give its figures with model overrides instead")
