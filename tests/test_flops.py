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


# ---- eFLOPs against Kinetics' published cost model ---------------------------------------------------------------

def kinetics_dense_cost(nparams, num_attn_heads, num_kv_heads, head_dim, E_flops, context_length, generation_length,
                        num_trials=1):
    """Infini-AI-Lab/Kinetics, cost_model/utils.py `dense_cost`, as published (head_dim there is head_dim x layers;
    TFLOPs)."""
    compute = (2 * nparams * generation_length
               + 2 * (2 * context_length + generation_length) * generation_length * num_attn_heads * head_dim
               ) * num_trials * 1e-12
    memory = 2 * (2 * context_length + generation_length * num_trials) * generation_length * num_kv_heads \
        * head_dim * E_flops * 1e-12
    return compute, memory


# Their own example (cost_model/best_of_N/cost_model_ntrial.py): Qwen3 configs, N as their model_sizes, E = 562.5.
QWEN3 = {"0.6B": (0.752e9, 28, 16, 8, 1024), "32B": (32.76e9, 64, 64, 8, 5120)}   # N, layers, q heads, kv heads, d


@pytest.mark.parametrize("size", list(QWEN3))
@pytest.mark.parametrize("P,L,trials", [(200, 8000, 1), (200, 16000, 8), (1000, 32000, 32)])
def test_memory_cost_is_kinetics_dense_cost(size, P, L, trials):
    from testtime.flops import decode_bytes, device, effective_flops

    N, layers, heads, kv, d = QWEN3[size]
    facts = ModelFacts(params=int(N), non_embedding_params=int(N), n_layers=layers, d_model=d, n_heads=heads,
                       n_kv_heads=kv, head_dim=128, vocab_size=151936, context=40960, architecture="Qwen3")
    compute, memory = kinetics_dense_cost(N, heads, kv, 128 * layers, 562.5, P, L, trials)
    dev = device(562.5)
    # trials samples of L tokens decoded side by side, sharing the prompt's KV read; weights amortised away
    mine = trials * dev.intensity * decode_bytes(facts, P, L, dtype_bytes=2, batch=None, share=trials) * 1e-12
    own = 2 * 2 * layers * kv * 128 * trials * L / 2 * 562.5 * 1e-12   # we read token k's own k, not k - 1/2: sum k
    assert mine == pytest.approx(memory + own, rel=1e-12)
    assert own / memory < 1 / L                                           # a rounding of theirs
    # compute: Kaplan's 2 n_layer n_ctx d_attn per token counts the attention scores; Kinetics counts scores and the
    # weighted sum of values too (twice ours), with the same sum over positions rounded the same way
    flops = trials * decode_flops(facts, P, L) * 1e-12
    attention = flops - trials * 2 * N * L * 1e-12
    assert 2 * attention == pytest.approx(compute - trials * 2 * N * L * 1e-12
                                          + trials * 2 * layers * heads * 128 * L * 1e-12, rel=1e-9)
    assert effective_flops(1.0, 2.0, dev) == 1.0 + 562.5 * 2.0


def test_kinetics_conclusion_on_their_example():
    """At long generations KV reads dominate, the more so the smaller the model: with 8 samples of 32K tokens, eFLOPs
    over FLOPs is 199 for Qwen3-0.6B and 25 for Qwen3-32B in Kinetics' model (why its optimum moves to larger
    models); ours (Kaplan's FLOPs count half their attention) keeps the order and the gap."""
    from testtime.flops import decode_bytes, device, effective_flops

    theirs, ours = {}, {}
    for size, (N, layers, heads, kv, d) in QWEN3.items():
        compute, memory = kinetics_dense_cost(N, heads, kv, 128 * layers, 562.5, 200, 32000, 8)
        theirs[size] = (compute + memory) / compute
        facts = ModelFacts(params=int(N), non_embedding_params=int(N), n_layers=layers, d_model=d, n_heads=heads,
                           n_kv_heads=kv, head_dim=128, vocab_size=151936, context=40960, architecture="Qwen3")
        flops = decode_flops(facts, 200, 32000)
        ours[size] = float(effective_flops(flops, decode_bytes(facts, 200, 32000, share=8), device(562.5)) / flops)
    assert theirs["0.6B"] == pytest.approx(199.05, abs=0.01) and theirs["32B"] == pytest.approx(24.75, abs=0.01)
    assert ours["0.6B"] > 100 and ours["32B"] > 10 and ours["0.6B"] > 5 * ours["32B"]


def test_weights_and_prefix_sharing_by_hand():
    from testtime.flops import DEVICES, decode_bytes, device, kv_bytes_per_token, weight_bytes

    assert kv_bytes_per_token(FACTS, 2) == 2 * 3 * 1 * 4 * 2 == 48            # one KV head of 4: GQA
    assert weight_bytes(FACTS, 2) == (700 + 50 * 8) * 2
    # 3 tokens after a 10-token prompt, in a batch of 4, the prompt's KV shared by 2 samples
    assert decode_bytes(FACTS, 10, 3, batch=4, share=2) == pytest.approx(3 * 2200 / 4 + 48 * (3 * 10 / 2 + 6))
    assert device("H200") is DEVICES["h200"] and DEVICES["h100"].intensity == pytest.approx(295.2, abs=0.1)
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        device("tpu")
