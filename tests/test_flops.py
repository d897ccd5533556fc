"""Inference FLOPs against their definition: a sum of per-token forward passes (Kaplan et al. 2020, Table 1)."""

import json

import numpy as np
import pytest

from testtime.flops import decode_flops, forward_flops_per_token, prefill_flops
from testtime.models import ModelFacts

FACTS = ModelFacts(params=1000, non_embedding_params=700, n_layers=3, d_model=8, n_heads=2, n_kv_heads=1,
                   head_dim=4, vocab_size=50, context=128, architecture="Test")


def test_forward_pass_formula():
    # 2N + 2 n_layer n_ctx d_attn, d_attn = n_heads * head_dim = 8
    assert forward_flops_per_token(FACTS, 10) == pytest.approx(2 * 700 + 2 * 3 * 10 * 8)


@pytest.mark.parametrize("P,T", [(1, 1), (7, 5), (120, 256)])
def test_prefill_and_decode_are_sums_of_forward_passes(P, T):
    assert prefill_flops(FACTS, P) == pytest.approx(sum(forward_flops_per_token(FACTS, i) for i in range(1, P + 1)))
    assert decode_flops(FACTS, P, T) == pytest.approx(
        sum(forward_flops_per_token(FACTS, P + k) for k in range(1, T + 1)))


def test_vectorised():
    out = decode_flops(FACTS, np.array([5, 5]), np.array([0, 3]))
    assert out[0] == 0 and out[1] == pytest.approx(decode_flops(FACTS, 5, 3))


def test_model_facts_from_folder(tmp_path):
    # SmolLM2-135M's config: tied embeddings, 30 layers, d 576, 9 heads / 3 kv heads
    cfg = {"architectures": ["LlamaForCausalLM"], "hidden_size": 576, "num_attention_heads": 9,
           "num_key_value_heads": 3, "num_hidden_layers": 30, "vocab_size": 49152, "tie_word_embeddings": True,
           "max_position_embeddings": 8192}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    f = ModelFacts.from_folder(tmp_path)
    assert (f.n_layers, f.d_model, f.n_heads, f.n_kv_heads, f.head_dim, f.context) == (30, 576, 9, 3, 64, 8192)
    assert f.d_attn == 576
    # no weights: estimated as 12 L d^2 + embeddings
    assert f.params == 12 * 30 * 576**2 + 49152 * 576
    assert f.non_embedding_params == 12 * 30 * 576**2
