"""Self-certainty: how far each next-token distribution is from uniform, averaged over the sample's tokens.

Kang et al. 2025, "Scalable Best-of-N Selection for Large Language Models via Self-Certainty" (arXiv:2502.18581),
eq. 2: for a response of n tokens over a vocabulary of V,

    self-certainty = (1/n) sum_i KL(U || p_i) = (1/n) sum_i [ -log V - (1/V) sum_j log p_i(j) ].

Higher means more confident. It is reward-free: it needs only the policy's own token distributions.

Approximation (engines return only the top-k logprobs per token, `Completion.top_logprobs`): the k listed tokens
keep their logprobs and the remaining mass r = 1 - sum_k p_j is spread uniformly over the other V - k tokens. That
is a real distribution, so the KL stays >= 0; for V >> k it is about -log r, i.e. the score then ranks samples by
how little mass falls outside each token's top k, and V matters little. Without top-k lists, the sampled token's
own logprob (`Completion.token_logprobs`) is used the same way with k = 1; without any logprobs the score is NaN
(best-of-n ranks NaN last, weighted votes give it weight 0). Sample with `sampling.logprobs: 20` to get top-k lists.

Example:
    SelfCertaintyScorer(vocab_size=4).score(problem, [completion])    # [0.173...] for p = (.5, .25, .125, .125)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np

from testtime.registry import register
from testtime.sampler import Engines

DEFAULT_VOCAB = 32_000
"""V when neither `vocab_size` nor a bound sampler's tokenizer gives one (a Llama-2/Mistral-sized vocabulary)."""

# The tail mass comes from float32 logprobs, so anything below ~1e-7 is rounding; without a floor a top-k that
# (after rounding) sums to 1 would give log(0).
_MIN_TAIL = 1e-7


@register("scorer", "self_certainty")
@dataclass(frozen=True)
class SelfCertaintyScorer:
    name: ClassVar[str] = "self_certainty"
    reads_gold: ClassVar[bool] = False
    vocab_size: int | None = None
    """V, the policy's vocabulary size; None: from the policy's tokenizer, else DEFAULT_VOCAB."""

    def bind(self, engines: Engines) -> "_Bound":
        """Take V from the policy's tokenizer when `vocab_size` is not set."""
        return _Bound(self.vocab_size or engines.policy.vocab_size or DEFAULT_VOCAB)

    def score(self, problem, completions: Sequence) -> list[float]:
        """Scores with `vocab_size` (or DEFAULT_VOCAB), without a policy."""
        return _Bound(self.vocab_size or DEFAULT_VOCAB).score(problem, completions)


@dataclass(frozen=True)
class _Bound:
    vocab_size: int

    def score(self, problem, completions: Sequence) -> list[float]:
        out = []
        for c in completions:
            tokens = c.top_logprobs or tuple((lp,) for lp in c.token_logprobs)
            out.append(self_certainty(tokens, self.vocab_size) if tokens else math.nan)
        return out

    def flops(self, problem, completions: Sequence) -> None:
        return None   # read from the logprobs the sampler returned


def token_kl_from_uniform(top_logprobs: Sequence[float], vocab_size: int) -> float:
    """KL(U || p) for one token, from the logprobs of its k listed (distinct) tokens, the rest spread uniformly.

    Args:
        top_logprobs: logprobs of k distinct tokens (the top-k, possibly plus the sampled token); -inf entries
            are left out, as if not listed (otherwise one would make the KL infinite).
        vocab_size: V >= k.

    Returns:
        -log V - (1/V) [sum_k log p_j + (V - k) log(r / (V - k))], r = max(1 - sum_k p_j, 1e-7); >= 0.

    Example:
        token_kl_from_uniform([math.log(.5), math.log(.25)], 4)    # 0.1733 = KL(U || (.5, .25, .125, .125))
    """
    lp = np.asarray(top_logprobs, float)
    lp = lp[~np.isneginf(lp)]    # a listed token of probability 0 (an engine may list one) counts as not listed
    k, V = lp.size, vocab_size
    if k > V:
        raise ValueError(f"self_certainty: {k} listed tokens but vocab_size={V}; set vocab_size to the model's")
    total = lp.sum()
    if k < V:
        tail = max(-math.expm1(min(float(np.logaddexp.reduce(lp)), 0.0)), _MIN_TAIL)
        total += (V - k) * (math.log(tail) - math.log(V - k))
    return max(-math.log(V) - total / V, 0.0)  # >= 0 up to rounding


def self_certainty(tokens: Sequence[Sequence[float]], vocab_size: int) -> float:
    """Mean over tokens of `token_kl_from_uniform`: the self-certainty of one sample (Kang et al. 2025, eq. 2)."""
    return float(np.mean([token_kl_from_uniform(t, vocab_size) for t in tokens]))
