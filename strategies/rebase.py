"""REBASE, reward-balanced tree search (Wu et al. 2024, "Inference Scaling Laws: An Empirical Analysis of
Compute-Optimal Inference for Problem-Solving with Language Models", arXiv:2408.00724, section 3.2; reference code
thu-wyz/inference_scaling, rebase.py and hype-parameters/rebase.yaml).

A tree over solution steps (beam_search's conventions: strategies/steps.py) with a width N = the budget: the root
is expanded into N first steps. At each depth, every finished node uses up one unit of the width, and the rest, W,
is shared among the depth's unfinished nodes in proportion to softmax(reward / temperature): ranked by reward, each
node gets ceil(W_left * e_j / sum_left) children, W_left and sum_left shrinking as it goes (the reference's
`select_softmax`, so the shares add up to W exactly; low-reward nodes may get none). A node with w children is one
request with n = w. The search ends when the width is used up, nothing is left to expand, or after `max_steps`
(what is still open then competes as it is). The answer: a weighted majority vote over the finished solutions,
weighted by their reward (the paper's REBASE with weighted voting), or the best-rewarded one (`select: best`).

Spend: every generated step at its own context position, and every scorer pass.

Example:
    rb = Rebase(temperature=0.2)
    for i, [answer] in rb.stream(sampler, problems, Sampling(max_tokens=256), budget=8, scorer=self_verify): ...
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Iterator, Sequence

from strategies.base import BoundScorer, check_positive
from strategies.steps import Node, Tally, completion, extend, score, vote_weights
from strategies.voting import answer_classes, weighted_vote
from testtime.registry import register
from testtime.sampler import Completion, Sampler, Sampling


@register("strategy", "rebase")
@dataclass(frozen=True)
class Rebase:
    kind: ClassVar[str] = "generation"
    name: ClassVar[str] = "rebase"
    budget_unit: ClassVar[str] = "candidates per step"
    revision: ClassVar[int] = 2
    """2: every request seeded by its node, a cut step continues, continuations charged their prefill."""
    independent_samples: ClassVar[bool] = False
    grid_select: ClassVar[tuple[str, ...]] = ()
    scorer: str = "self_verify"
    """Step scorer: any scorer that scores a partial solution (prm with aggregate "last", self_verify)."""
    temperature: float = 0.2
    """Softmax temperature of the balance (the reference's softmax_temperature)."""
    select: str = "vote"
    """The answer: vote (weighted majority over finished solutions by reward) or best (the largest reward)."""
    step_delimiter: str = "\n\n"
    max_step_tokens: int = 128
    max_steps: int = 8

    def __post_init__(self) -> None:
        if self.temperature <= 0 or self.select not in ("vote", "best") or min(self.max_steps,
                                                                            self.max_step_tokens) < 1:
            raise ValueError("rebase: temperature must be > 0, select vote or best, max_steps and max_step_tokens "
                             ">= 1")

    def check_budget(self, budget: int) -> None:
        check_positive(self.name, budget, "candidates")

    def stream(self, sampler: Sampler, problems: Sequence, sampling: Sampling, *, budget: int,
               scorer: BoundScorer | None = None) -> Iterator[tuple[int, list[Completion]]]:
        """Search with width N = `budget` per problem; yield (index, [the answer's solution])."""
        self.check_budget(budget)
        if scorer is None:
            raise ValueError(f"{self.name} needs a step scorer (scorer={self.scorer!r})")
        heads = [sampler.chat_prompt(p.prompt) for p in problems]
        prompt_tokens = [sampler.count_tokens(h) for h in heads]
        tally = [Tally() for _ in problems]
        finished: list[list[Node]] = [[] for _ in problems]
        width = [budget] * len(problems)
        frontier, widths = [Node(problem=i) for i in range(len(problems))], [budget] * len(problems)
        for step in range(self.max_steps):
            children = [c for kids in extend(sampler, heads, prompt_tokens, frontier, widths, sampling, tally=tally,
                                             delimiter=self.step_delimiter, max_step_tokens=self.max_step_tokens)
                        for c in kids]
            score(scorer, problems, prompt_tokens, children, tally)
            frontier, widths = [], []
            for i in range(len(problems)):
                mine = [c for c in children if c.problem == i]
                finished[i] += [c for c in mine if c.done]
                width[i] -= sum(c.done for c in mine)
                open_ = [c for c in mine if not c.done]
                if step == self.max_steps - 1 or width[i] <= 0:
                    finished[i] += open_   # out of steps or width: what is open competes as it is
                    continue
                frontier += open_
                widths += allocate([c.score for c in open_], width[i], temperature=self.temperature)
            if not frontier:
                break
        for i, problem in enumerate(problems):
            leaves = [c for c in finished[i] if c.done] or finished[i]   # unfinished ones only if nothing ended
            rewards = [c.score if c.score == c.score else -math.inf for c in leaves]
            pick = None
            if self.select == "vote":
                pick = weighted_vote(answer_classes(problem, [c.text for c in leaves]), vote_weights(rewards))
            best = leaves[max(range(len(leaves)), key=lambda k: rewards[k]) if pick is None else pick]
            yield i, [completion(best, tally[i], prompt_tokens[i], {"budget": budget, "leaves": len(leaves)})]


def allocate(rewards: Sequence[float], width: int, *, temperature: float = 0.2) -> list[int]:
    """Children per node (in the given order): REBASE's softmax shares of `width`, rounded up in reward order so
    they add up to `width`. NaN rewards rank last and weigh as the lowest finite reward.

    Example:
        allocate([0.9, 0.1], 4, temperature=0.2)    # weights 1 : e^-4, ceil(4 x 0.982) = 4, then 0: [4, 0]
    """
    finite = [r for r in rewards if r == r and math.isfinite(r)]
    floor = min(finite) if finite else 0.0
    r = [x if x == x and math.isfinite(x) else floor for x in rewards]
    top = max(r) if r else 0.0
    e = [math.exp((x - top) / temperature) for x in r]
    order = sorted(range(len(r)), key=lambda k: (-r[k], k))
    left, out = width, [0] * len(r)
    for j, k in enumerate(order):
        total = sum(e[m] for m in order[j:])
        n = min(left, math.ceil(left * e[k] / total - 1e-9))   # the guard: float error must not round up a whole
        out[k], left = n, left - n
    return out
