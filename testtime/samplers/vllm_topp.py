"""Top-p on a CPU without sorting the vocabulary.

vLLM's CPU sampler applies top-p (`apply_top_k_top_p_pytorch`) by sorting every row of the logits over the whole
vocabulary, every decode step. With Qwen2.5's 151,936-token vocabulary and 128 sequences in the batch that sort is
most of the step on a 2-core CPU: py-spy put 68% of a Qwen2.5-Coder-0.5B run (top_p 0.95) in it, more than the
model's forward pass. Every row's top-p set is nearly always inside its few hundred largest logits, so:

    1. take each row's `K` largest logits (`torch.topk`, no full sort) and the row's log-normaliser (logsumexp);
    2. a token is kept when the probability of the tokens ranked above it is below p (vLLM's rule: it masks the
       tokens whose ascending cumulative probability is at most 1 - p, and always keeps the largest);
    3. a row whose K largest hold less than p of the mass (a flat distribution) goes to vLLM's own function.

Top-k is applied first, as vLLM does (k <= K: the K largest include the top k; a larger k goes to vLLM's function).
The kept set is vLLM's up to float rounding of the cumulative sum at the boundary token (summed from the top here,
from the bottom there) and the order among tied logits, which vLLM's unstable sort leaves arbitrary too; the test
compares the two on random rows. (At p = 1 vLLM, in a batch where another row has p < 1, also masks the
tokens whose probability underflows to 0 in float32; they can never be sampled either way.) Installed by `install()` for the in-process engine on a CPU (VLLMSampler);
`TESTTIME_VLLM_TOPP=0` keeps vLLM's.

Example:
    install()        # vllm.v1.sample.ops.topk_topp_sampler.apply_top_k_top_p is now `top_k_top_p`
"""

from __future__ import annotations

import os

K = 256
"""Largest logits read per row before a row falls back to the full sort."""


def _vllm(logits, k, p):
    """vLLM's own function, for the rows `top_k_top_p` hands back."""
    from vllm.v1.sample.ops.topk_topp_sampler import apply_top_k_top_p_pytorch

    return apply_top_k_top_p_pytorch(logits, k, p, allow_cpu_sync=True)


def top_k_top_p(logits: torch.Tensor, k: torch.Tensor | None, p: torch.Tensor | None, *, fallback=_vllm,
                K: int = K) -> torch.Tensor:
    """vLLM's `apply_top_k_top_p` ([B, V] logits, per-row k and p or None): the logits outside the top-k / top-p
    set become -inf. `fallback` (default: vLLM's pytorch function) handles the rows this cannot."""
    import torch

    if p is None:
        return fallback(logits, k, p)          # top-k alone: vLLM's path sorts nothing already
    B, V = logits.shape
    K = min(K, V)
    if k is not None and bool(((k > K) & (k < V)).any()):
        return fallback(logits, k, p)
    vals, idx = logits.topk(K, dim=-1)         # descending
    lse = torch.logsumexp(logits, dim=-1)      # the row's normaliser; over its top k where it has one (k < V)
    if k is not None:
        vals = vals.masked_fill(torch.arange(K, device=logits.device)[None, :] >= k.to(torch.long)[:, None],
                                float("-inf"))
        lse = torch.where(k >= V, lse, torch.logsumexp(vals, dim=-1))
    probs = torch.exp(vals.float() - lse.float()[:, None])
    above = torch.cumsum(probs, dim=-1) - probs                     # probability of the tokens ranked above
    keep = above < p.float()[:, None]
    keep[:, 0] = True
    out = torch.full_like(logits, float("-inf"))
    out.scatter_(1, idx, torch.where(keep, vals, torch.full_like(vals, float("-inf"))))
    no_p = p >= 1                                                   # no top-p for the row: top-k alone, if any
    if bool(no_p.any()):
        out[no_p] = fallback(logits[no_p].clone(), None if k is None else k[no_p].clone(), None)
    rest = (probs.sum(dim=-1) < p.float()) & ~no_p                  # the top-p set reaches past the K largest
    if bool(rest.any()):
        out[rest] = fallback(logits[rest].clone(), None if k is None else k[rest].clone(), p[rest].clone())
    return out


def install() -> bool:
    """Put `top_k_top_p` in place of vLLM's CPU top-k/top-p (this process's in-process engine); False if switched
    off by TESTTIME_VLLM_TOPP=0 or vLLM has no such function."""
    if os.environ.get("TESTTIME_VLLM_TOPP", "1") == "0":
        return False
    try:
        from vllm.v1.sample.ops import topk_topp_sampler as m
    except ImportError:
        return False
    if getattr(m.apply_top_k_top_p, "_testtime", False):
        return True
    if not hasattr(m, "apply_top_k_top_p_pytorch"):
        return False

    def apply_top_k_top_p(logits, k, p):
        if p is None and k is None:
            return logits
        return top_k_top_p(logits, k, p)

    apply_top_k_top_p._testtime = True
    m.apply_top_k_top_p = apply_top_k_top_p
    return True
