"""Step-wise generation shared by the searches over solution steps (particle filtering, REBASE), under beam search's
conventions (strategies/beam_search.py): a step is the text up to the step delimiter (a blank line); a node that
ends (end of sequence, or `max_tokens` in all) is finished; the step scorer scores partial solutions.

Spend, per problem: every generated step is a decode segment at its own context position (the prompt's tokens plus
the node's tokens so far: vLLM's prefix cache holds the rest), and the step scorer's passes add `score_flops`.

Example:
    spend = [Spend() for _ in problems]
    children = extend(sampler, heads, prompt_tokens, nodes, [4] * len(nodes), sampling, spend=spend)
    score(scorer, problems, prompt_tokens, children, spend)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Sequence

from strategies.base import BoundScorer
from testtime.sampler import Completion, Sampler, Sampling


@dataclass
class Node:
    problem: int
    text: str = ""
    tokens: int = 0
    logprob: float = 0.0
    token_logprobs: tuple = ()
    done: bool = False
    score: float = math.nan
    """The step scorer's reward for the partial solution; NaN before it is scored (or when it cannot be)."""

    def copy(self) -> "Node":
        return replace(self)


@dataclass
class Spend:
    tokens: int = 0
    segments: list = field(default_factory=list)
    score_flops: float = 0.0
    steps: int = 0
    candidates: list = field(default_factory=list)
    """Nodes generated at each step."""


def extend(sampler: Sampler, heads: Sequence[str], prompt_tokens: Sequence[int], nodes: Sequence[Node],
           widths: Sequence[int], sampling: Sampling, *, spend: list[Spend], delimiter: str = "\n\n",
           max_step_tokens: int = 128) -> list[list[Node]]:
    """The children of each node: `widths[j]` next steps of nodes[j], from one request (n = width, one prefill)."""
    todo = [j for j, w in enumerate(widths) if w > 0]
    params = [Sampling(n=widths[j], temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k,
                       seed=sampling.seed, stop=(delimiter,), logprobs=0,
                       max_tokens=max(1, min(max_step_tokens, sampling.max_tokens - nodes[j].tokens))) for j in todo]
    children: list[list[Node]] = [[] for _ in nodes]
    for k, completions in sampler.stream([heads[nodes[j].problem] + nodes[j].text for j in todo], params, raw=True):
        b = nodes[todo[k]]
        s = spend[b.problem]
        for c in completions:
            s.tokens += c.n_tokens
            s.segments.append((prompt_tokens[b.problem] + b.tokens, c.n_tokens))
            ended = c.stop_string is None or b.tokens + c.n_tokens >= sampling.max_tokens
            children[todo[k]].append(Node(
                problem=b.problem, text=b.text + c.text + ("" if ended else delimiter), tokens=b.tokens + c.n_tokens,
                logprob=b.logprob + (c.logprob or 0.0), token_logprobs=b.token_logprobs + c.token_logprobs,
                done=ended))
    for i in {b.problem for b in nodes}:
        spend[i].steps += 1
        spend[i].candidates.append(sum(len(cs) for b, cs in zip(nodes, children) if b.problem == i))
    return children


def score(scorer: BoundScorer, problems: Sequence, prompt_tokens: Sequence[int], nodes: Sequence[Node],
          spend: list[Spend]) -> None:
    """Set each node's `score` to the scorer's reward for its partial solution (NaN stays NaN); charge the passes."""
    for i in sorted({n.problem for n in nodes}):
        mine = [n for n in nodes if n.problem == i]
        partial = [Completion(text=n.text, n_tokens=n.tokens, prompt_tokens=prompt_tokens[i], logprob=n.logprob,
                              finish_reason=None, token_logprobs=n.token_logprobs) for n in mine]
        for n, s in zip(mine, scorer.score(problems[i], partial)):
            n.score = float(s)
        flops = scorer.flops(problems[i], partial)
        if flops is not None:
            spend[i].score_flops += float(sum(flops))


def completion(best: Node, spend: Spend, prompt_tokens: int, extra: dict) -> Completion:
    """The record of a search: the chosen solution, charged with the whole search's tokens, segments and scoring."""
    return Completion(
        text=best.text, n_tokens=spend.tokens, prompt_tokens=prompt_tokens, logprob=best.logprob,
        finish_reason="stop" if best.done else "length", token_logprobs=best.token_logprobs,
        extra={**extra, "steps": spend.steps, "candidates_per_step": spend.candidates,
               "decode_segments": spend.segments, "search_score_flops": spend.score_flops,
               "best_score": best.score, "solution_tokens": best.tokens})


def vote_weights(rewards: Sequence[float]) -> list[float]:
    """Vote weights from rewards: as they are when all lie in [0, 1] (probabilities: prm, self_verify), else
    exp(reward - max) (log-probabilities, logits); NaN weighs 0."""
    finite = [r for r in rewards if math.isfinite(r)]
    if all(0 <= r <= 1 for r in finite):
        return [r if math.isfinite(r) else 0.0 for r in rewards]
    top = max(finite)
    return [math.exp(r - top) if math.isfinite(r) else 0.0 for r in rewards]
