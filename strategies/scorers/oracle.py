"""Gold correctness as a score: best-of-n by oracle is pass@k, the coverage upper bound of any selector."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Sequence

from testtime.registry import register


@register("scorer", "oracle")
@dataclass(frozen=True)
class OracleScorer:
    name: ClassVar[str] = "oracle"
    stored: ClassVar[bool] = False  # derived from the stored `correct` column

    def score(self, problem, completions: Sequence) -> list[float]:
        raise NotImplementedError("oracle scores come from the stored `correct` column")
