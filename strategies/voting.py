"""Votes inside generation strategies that end in a vote (online DeepConf, sequential revisions, REBASE, particle
filtering's `select: vote`): answers extracted and grouped as the runner groups stored samples (math-verify
equivalence classes; the option letter for multiple choice), then the heaviest class wins.

The strategy returns one sample per problem, the winning class's heaviest member, so the runner grades the vote's
answer like any sample (testtime/pipeline/evaluate.py evaluates a generation strategy by its samples).

Example:
    k = weighted_vote(answer_classes(problem, texts), weights)   # index of the representative sample
"""

from __future__ import annotations

from typing import Sequence

from benchmarks.base import Problem
from benchmarks.grading import extract_answer, extract_choice, group_answers


def answer_classes(problem: Problem, texts: Sequence[str]) -> list[int]:
    """Vote class per text: equal ids are equivalent answers; -1 where no answer can be extracted."""
    if problem.choices:
        letters = "".join(problem.choices)
        found = [extract_choice(t, letters) for t in texts]
        return [problem.choices.index(a) if a in problem.choices else -1 for a in found]
    return group_answers([extract_answer(t) for t in texts])


def weighted_vote(classes: Sequence[int], weights: Sequence[float]) -> int | None:
    """Index of the representative of the class with the largest summed weight: its heaviest member (ties: the class
    and member seen first). None when no text has an answer. Equal weights make it plain majority vote."""
    totals: dict[int, float] = {}
    for c, w in zip(classes, weights):
        if c >= 0:
            totals[c] = totals.get(c, 0.0) + float(w)
    if not totals:
        return None
    best = max(totals, key=lambda c: (totals[c], -list(classes).index(c)))
    return max((i for i, c in enumerate(classes) if c == best), key=lambda i: (weights[i], -i))
