"""Verifier-guided search over solution steps: beam search and DVTS (Snell et al. 2024, arXiv:2408.03314;
Beeching et al. 2024, huggingface/search-and-learn).

A step is the text up to the step delimiter (a blank line). With a budget of N and a beam width M:
    beam_search  N/M beams; each step expands every live beam into M candidate next steps (N candidates), a
                 step scorer (`prm` with aggregate "last", or `self_verify`) scores the partial solutions, and the
                 N/M best unfinished candidates become the next beams.
    dvts         Diverse Verifier Tree Search: N/M independent subtrees; each keeps only its best candidate and
                 expands it M ways, so the subtrees stay diverse.
A candidate that ends (end of sequence, or `max_tokens` in total) is finished; the search stops when no beam is live
or after `max_steps` steps. The answer is the best-scoring finished solution (ties: the first). The record of a
problem is that one solution, with the whole search's spend: every generated token (`n_tokens`), the decode segments
for FLOPs, and the scorer's FLOPs.

Example:
    bs = BeamSearch(width=4)
    for i, [best] in bs.stream(sampler, problems, Sampling(max_tokens=512), budget=16, scorer=prm): ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Iterator, Sequence

from testtime.registry import register
from strategies.base import BoundScorer
from testtime.sampler import Completion, Sampler, Sampling


@dataclass
class _Node:
    problem: int
    tree: int
    text: str = ""
    tokens: int = 0
    logprob: float = 0.0
    token_logprobs: tuple = ()
    done: bool = False
    score: float = float("-inf")


@register("strategy", "beam_search")
@dataclass(frozen=True)
class BeamSearch:
    kind: ClassVar[str] = "generation"
    name: ClassVar[str] = "beam_search"
    budget_unit: ClassVar[str] = "candidates per step"
    scorer: str = "self_verify"
    """Step scorer: any scorer that can score a partial solution (prm with aggregate "last", self_verify)."""
    width: int = 4
    """M: candidates per expanded beam; the budget N must be a multiple of M."""
    step_delimiter: str = "\n\n"
    max_step_tokens: int = 128
    """Most tokens of one step."""
    max_steps: int = 8
    diverse: bool = False
    """DVTS: N/M independent subtrees, each keeping its single best candidate."""

    def __post_init__(self) -> None:
        if self.width < 1 or self.max_steps < 1 or self.max_step_tokens < 1:
            raise ValueError(f"{self.name}: width, max_steps and max_step_tokens must be >= 1")

    def stream(self, sampler: Sampler, problems: Sequence, sampling: Sampling, *, budget: int,
               scorer: BoundScorer | None = None) -> Iterator[tuple[int, list[Completion]]]:
        """Search every problem at budget N = `budget` (candidates per step); yield (index, [best solution])."""
        if budget % self.width or budget < self.width:
            raise ValueError(f"{self.name}: the budget ({budget}) must be a positive multiple of width ({self.width})")
        if scorer is None:
            raise ValueError(f"{self.name} needs a step scorer (scorer={self.scorer!r})")
        heads = [sampler.chat_prompt(p.prompt) for p in problems]
        prompt_tokens = [sampler.count_tokens(h) for h in heads]
        beams_per_problem = budget // self.width
        live = [_Node(problem=i, tree=t) for i in range(len(problems)) for t in range(beams_per_problem)]
        finished: list[list[_Node]] = [[] for _ in problems]
        spent = [{"tokens": 0, "segments": [], "score_flops": 0.0, "candidates": [], "steps": 0} for _ in problems]
        for _ in range(self.max_steps):
            if not live:
                break
            params = [Sampling(n=self.width, temperature=sampling.temperature, top_p=sampling.top_p,
                               top_k=sampling.top_k, seed=sampling.seed, stop=(self.step_delimiter,), logprobs=0,
                               max_tokens=max(1, min(self.max_step_tokens, sampling.max_tokens - b.tokens)))
                      for b in live]
            children: list[_Node] = []
            for j, completions in sampler.stream([heads[b.problem] + b.text for b in live], params, raw=True):
                b = live[j]
                for c in completions:
                    s = spent[b.problem]
                    s["tokens"] += c.n_tokens
                    s["segments"].append((prompt_tokens[b.problem] + b.tokens, c.n_tokens))
                    ended = c.stop_string is None or b.tokens + c.n_tokens >= sampling.max_tokens
                    text = b.text + c.text + ("" if ended else self.step_delimiter)
                    children.append(_Node(problem=b.problem, tree=b.tree, text=text, tokens=b.tokens + c.n_tokens,
                                          logprob=b.logprob + (c.logprob or 0.0),
                                          token_logprobs=b.token_logprobs + c.token_logprobs, done=ended))
            for i in {c.problem for c in children}:
                spent[i]["candidates"].append(sum(c.problem == i for c in children))
                spent[i]["steps"] += 1
            self._score(scorer, problems, prompt_tokens, children, spent)
            live = []
            for i in range(len(problems)):
                mine = [c for c in children if c.problem == i]
                finished[i] += [c for c in mine if c.done]
                open_ = [c for c in mine if not c.done]
                if self.diverse:  # each subtree keeps its own best candidate
                    for t in sorted({c.tree for c in open_}):
                        live.append(max((c for c in open_ if c.tree == t), key=lambda c: c.score))
                else:
                    live += sorted(open_, key=lambda c: c.score, reverse=True)[:beams_per_problem]
        for b in live:  # out of steps: what is left competes as it is
            finished[b.problem].append(b)
        for i, problem in enumerate(problems):
            best = max(finished[i], key=lambda c: c.score)
            s = spent[i]
            yield i, [Completion(
                text=best.text, n_tokens=s["tokens"], prompt_tokens=prompt_tokens[i], logprob=best.logprob,
                finish_reason="stop" if best.done else "length", token_logprobs=best.token_logprobs,
                extra={"budget": budget, "width": self.width, "steps": s["steps"],
                       "candidates_per_step": s["candidates"], "decode_segments": s["segments"],
                       "search_score_flops": s["score_flops"], "best_score": best.score,
                       "solution_tokens": best.tokens})]

    def _score(self, scorer: BoundScorer, problems, prompt_tokens, nodes: list[_Node], spent) -> None:
        for i in {n.problem for n in nodes}:
            mine = [n for n in nodes if n.problem == i]
            partial = [Completion(text=n.text, n_tokens=n.tokens, prompt_tokens=prompt_tokens[i], logprob=n.logprob,
                                  finish_reason=None, token_logprobs=n.token_logprobs) for n in mine]
            for n, score in zip(mine, scorer.score(problems[i], partial)):
                n.score = float("-inf") if score != score else float(score)  # NaN: no step to judge yet
            flops = scorer.flops(problems[i], partial)
            if flops is not None:
                spent[i]["score_flops"] += float(sum(flops))


@register("strategy", "dvts")
@dataclass(frozen=True)
class DVTS(BeamSearch):
    name: ClassVar[str] = "dvts"
    diverse: bool = True
