"""Gold correctness as a score: best-of-n by oracle is pass@k, the coverage upper bound of any selector.

Every pool holds it as the score "oracle" (from the stored `correct` column), so nothing is computed or stored for
it; strategies that rank or vote by it are marked as reading the gold answer (upper bounds, not choices)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from testtime.errors import UserError
from testtime.registry import register


@register("scorer", "oracle")
@dataclass(frozen=True)
class OracleScorer:
    name: ClassVar[str] = "oracle"
    reads_gold: ClassVar[bool] = True

    def bind(self, engines=None):
        raise UserError("the oracle scorer cannot guide a search: its score is the gold correctness of finished "
                        "samples; use prm or self_verify as the step scorer")
