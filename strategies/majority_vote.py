"""Majority vote / self-consistency (Wang et al. 2022): the most frequent final answer among n samples wins;
answers are grouped by math-verify equivalence ("1/2" and "0.5" are one vote class); samples without an answer
abstain; ties are split uniformly. Exact expectation over all size-n subsets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from testtime.registry import register
from testtime.store.estimators import expected_majority_vote
from testtime.store.pool import Estimate, Pool, sample_cost


@register("strategy", "majority_vote")
@dataclass(frozen=True)
class MajorityVote:
    kind: ClassVar[str] = "selection"
    name: ClassVar[str] = "majority_vote"
    scorer: ClassVar[str | None] = None
    reads_gold: ClassVar[bool] = False

    def evaluate(self, pool: Pool, n: int) -> Estimate:
        return sample_cost(pool, n, expected_majority_vote(pool.answer_ids, pool.correct, n))
