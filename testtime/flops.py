"""Inference compute accounting, after Kaplan et al. 2020 (Table 1): per token of a forward pass,

    C_forward(ctx) ~= 2 N + 2 n_layer ctx d_attn

with N the non-embedding parameters and ctx the tokens attended to. A prompt of P tokens costs one prefill, shared by
all n samples of a problem (vLLM prefix caching); generated token k of a sample attends to P + k tokens. The naive
figure (every sample prefills its own prompt) is reported beside it. Convention: each generated token is charged one
forward pass at its own position (the standard "2N per generated token"), which over-counts by one pass per sample.

Example:
    f = ModelFacts.from_folder(path)
    prefill_flops(f, 120) + decode_flops(f, 120, 256).sum()
"""

from __future__ import annotations

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
