"""Mean token logprob of the sample under the policy: a free, reward-free confidence score (length-normalised, so
long rambling samples are not penalised merely for length)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Sequence

from testtime.registry import register


@register("scorer", "logprob")
@dataclass(frozen=True)
class LogprobScorer:
    name: ClassVar[str] = "logprob"
    reads_gold: ClassVar[bool] = False

    def bind(self, engines=None) -> "LogprobScorer":
        return self   # nothing to load: the sampler returned the logprobs

    def score(self, problem, completions: Sequence) -> list[float]:
        return [c.mean_logprob if c.mean_logprob is not None else -math.inf for c in completions]

    def flops(self, problem, completions: Sequence) -> None:
        return None
