"""Diverse Verifier Tree Search (Beeching et al. 2024, huggingface/search-and-learn
`sal/search/diverse_verifier_tree_search.py`): beam search's steps, scorer and spend (strategies/beam_search.py),
with N/M independent subtrees instead of one shared beam.

With a budget of N and width M: the prompt is expanded into N first steps (one request); subtree t takes candidates
t*M .. t*M + M - 1 and keeps only its best-scoring one; each step expands every live subtree's node M ways. A subtree
is over once its best candidate has finished (the reference prunes it then); the others go on until `max_steps`.
The answer is the best-scoring finished subtree (partial ones only when none finished).

Where it differs from the reference: the reference's last iteration generates to the end of sequence, and returns
every candidate of a subtree's last expansion (pred = the best of those); here a subtree returns its chosen node.

Example:
    for i, [best] in DVTS(width=4).stream(sampler, problems, Sampling(max_tokens=512), budget=16, scorer=prm): ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from strategies.beam_search import StepSearch
from testtime.registry import register


@register("strategy", "dvts")
@dataclass(frozen=True)
class DVTS(StepSearch):
    name: ClassVar[str] = "dvts"
    diverse: ClassVar[bool] = True
