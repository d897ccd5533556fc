"""Verifier-guided search over solution steps: beam search (Snell et al. 2024, arXiv:2408.03314; Beeching et al.
2024, huggingface/search-and-learn `sal/search/beam_search.py`). DVTS, its diverse variant, is strategies/dvts.py.

A step is the text up to the step delimiter (a blank line; strategies/steps.py). With a budget of N and a beam width
M: the prompt is expanded into N first steps (one request, one prefill); a step scorer (`prm` with aggregate "last",
or `self_verify`) scores the partial solutions, the N/M best unfinished candidates become the beams, and each beam
is expanded into M next steps (N candidates per step). A candidate that ends (end of sequence, or `max_tokens` in
all) is finished; the search stops when no beam is live or after `max_steps` steps. The answer is the best-scoring
finished solution (ties: the first); partial solutions compete only when none finished. The record of a problem is
that one solution, with the whole search's spend: every generated token (`n_tokens`), the decode and prefill
segments for FLOPs, and the scorer's FLOPs.

Where it differs from search-and-learn: its last iteration generates every beam to the end of sequence, and it has
no `max_step_tokens` (a step runs to the delimiter); here the search ends after `max_steps` and a step cut at
`max_step_tokens` continues at the next step.

Example:
    bs = BeamSearch(width=4)
    for i, [best] in bs.stream(sampler, problems, Sampling(max_tokens=512), budget=16, scorer=prm): ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Iterator, Sequence

from strategies.base import BoundScorer
from strategies.steps import Node, Tally, completion, extend, ranked, score
from testtime.registry import register
from testtime.sampler import Completion, Sampler, Sampling


@dataclass(frozen=True)
class StepSearch:
    """The settings and protocol of beam search and DVTS; each names itself and whether it is diverse."""

    kind: ClassVar[str] = "generation"
    name: ClassVar[str]
    diverse: ClassVar[bool]
    budget_unit: ClassVar[str] = "candidates per step"
    revision: ClassVar[int] = 2
    """2: every request seeded by its node, a cut step continues, a finished solution beats a partial one."""
    independent_samples: ClassVar[bool] = False
    grid_select: ClassVar[tuple[str, ...]] = ()
    scorer: str = "self_verify"
    """Step scorer: any scorer that can score a partial solution (prm with aggregate "last", self_verify)."""
    width: int = 4
    """M: candidates per expanded beam (DVTS: per subtree and step); the budget N must be a multiple of M."""
    step_delimiter: str = "\n\n"
    max_step_tokens: int = 128
    """Most tokens of one request for a step; a longer step goes on at the next."""
    max_steps: int = 8

    def __post_init__(self) -> None:
        if self.width < 1 or self.max_steps < 1 or self.max_step_tokens < 1:
            raise ValueError(f"{self.name}: width, max_steps and max_step_tokens must be >= 1")

    def check_budget(self, budget: int) -> None:
        if budget % self.width or budget < self.width:
            raise ValueError(f"{self.name}: the budget ({budget}) must be a positive multiple of its width "
                             f"({self.width}); set budgets to multiples of {self.width} or change "
                             f"strategy_options.{self.name}.width")

    def stream(self, sampler: Sampler, problems: Sequence, sampling: Sampling, *, budget: int,
               scorer: BoundScorer | None = None) -> Iterator[tuple[int, list[Completion]]]:
        """Search every problem at budget N = `budget` (candidates per step); yield (index, [best solution])."""
        yield from search(self, sampler, problems, sampling, budget=budget, scorer=scorer)


@register("strategy", "beam_search")
@dataclass(frozen=True)
class BeamSearch(StepSearch):
    name: ClassVar[str] = "beam_search"
    diverse: ClassVar[bool] = False


def search(s: StepSearch, sampler: Sampler, problems: Sequence, sampling: Sampling, *, budget: int,
           scorer: BoundScorer | None) -> Iterator[tuple[int, list[Completion]]]:
    """Beam search or DVTS (`s.diverse`) with the settings of `s`; yield (problem index, [the chosen solution])."""
    s.check_budget(budget)
    if scorer is None:
        raise ValueError(f"{s.name} needs a step scorer (scorer={s.scorer!r})")
    heads = [sampler.chat_prompt(p.prompt) for p in problems]
    prompt_tokens = [sampler.count_tokens(h) for h in heads]
    beams = budget // s.width
    tally = [Tally() for _ in problems]
    finished: list[list[Node]] = [[] for _ in problems]
    live, widths = [Node(problem=i) for i in range(len(problems))], [budget] * len(problems)
    for step in range(s.max_steps):
        if not live:
            break
        children = extend(sampler, heads, prompt_tokens, live, widths, sampling, tally=tally,
                          delimiter=s.step_delimiter, max_step_tokens=s.max_step_tokens)
        flat = [c for kids in children for c in kids]
        if step == 0:   # subtree t (DVTS) grows from the root's candidates t*M .. t*M + M - 1
            for c in flat:
                c.tree = c.path[-1] // s.width
        score(scorer, problems, prompt_tokens, flat, tally)
        live = []
        for i in range(len(problems)):
            mine = [c for c in flat if c.problem == i]
            if s.diverse:   # each subtree keeps its best candidate; it is over once that one has finished (reference)
                for t in sorted({c.tree for c in mine}):
                    best = max((c for c in mine if c.tree == t), key=lambda c: ranked(c.score))
                    (finished[i] if best.done else live).append(best)
            else:
                finished[i] += [c for c in mine if c.done]
                live += sorted((c for c in mine if not c.done), key=lambda c: ranked(c.score), reverse=True)[:beams]
        widths = [s.width] * len(live)
    for i in range(len(problems)):
        # A finished solution beats any partial one; what is still open competes only when nothing finished.
        leaves = finished[i] or [b for b in live if b.problem == i]
        best = max(leaves, key=lambda c: ranked(c.score))
        yield i, [completion(best, tally[i], prompt_tokens[i], {"budget": budget, "width": s.width})]
