"""Step-wise generation shared by the searches over solution steps (beam search, DVTS, particle filtering, REBASE):
a step is the text up to the step delimiter (a blank line); the step scorer scores partial solutions.

A node ends at the end of sequence or at `max_tokens` in all. A step cut at `max_step_tokens` does not end it: the
node goes on from where the step was cut (search-and-learn and the REBASE code let a step run to the delimiter; the
cap only bounds one request, so the next step continues the same text).

Seeds: every request extends one node and carries that node's own seed, from the run seed and the node's path from
the root (`testtime.sampler.node_seed`). On a seeded engine (a GPU, a server with per-request seeds) a request's
samples are a pure function of its seed and text, so nodes that share a text (beams at the root, REBASE's siblings
with equal steps) would otherwise get the same children, and a search would collapse into one beam. A node's
children come from one request (n = its children, one prefill), as a problem's pool samples do.

Spend, per problem (a `Tally`'s `testtime.sampler.Spend`, the record's `Completion.spend`): every generated step is
a segment at its own context position (the prompt's tokens plus the node's tokens so far); every continuation
request is charged the prefill of the prompt tokens the engine did not hold in its prefix cache
(`Completion.cached_tokens` where the engine reports it, else whole cached blocks of what it computed before: vLLM
recomputes the last partial block, and everything after a point where re-tokenising the text changes the ids); the
step scorer's passes add `score_flops`.

Example:
    tally = [Tally() for _ in problems]
    children = extend(sampler, heads, prompt_tokens, nodes, [4] * len(nodes), sampling, tally=tally)
    score(scorer, problems, prompt_tokens, children, tally)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Sequence

from strategies.base import BoundScorer
from testtime.sampler import Completion, Sampler, Sampling, Spend, node_seed


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
    path: tuple = ()
    """Where it sits in the search: () at the root, one child index more per step; the identity its seed comes from."""
    tree: int = 0
    """The subtree it belongs to (DVTS)."""

    def copy(self) -> "Node":
        return replace(self)


@dataclass
class Tally:
    """One problem's search so far: what it spent (its record's `Completion.spend`) and the shape of the search."""

    spend: Spend = field(default_factory=Spend)
    tokens: int = 0
    """Generated tokens."""
    steps: int = 0
    candidates: list = field(default_factory=list)
    """Nodes generated at each step."""


def extend(sampler: Sampler, heads: Sequence[str], prompt_tokens: Sequence[int], nodes: Sequence[Node],
           widths: Sequence[int], sampling: Sampling, *, tally: list[Tally], delimiter: str = "\n\n",
           max_step_tokens: int = 128) -> list[list[Node]]:
    """The children of each node: `widths[j]` next steps of nodes[j], from one request (n = width, one prefill)
    seeded by the node's path; child k's path is the node's plus (k,)."""
    todo = [j for j, w in enumerate(widths) if w > 0]
    params = [replace(sampling, n=widths[j], stop=(delimiter,), logprobs=0, min_tokens=0,
                      seed=node_seed(sampling.seed, *nodes[j].path),
                      max_tokens=max(1, min(max_step_tokens, sampling.max_tokens - nodes[j].tokens))) for j in todo]
    children: list[list[Node]] = [[] for _ in nodes]
    for k, completions in sampler.stream([heads[nodes[j].problem] + nodes[j].text for j in todo], params, raw=True):
        b = nodes[todo[k]]
        t = tally[b.problem]
        if b.text and completions:   # a continuation: the bare prompt's prefill is the problem's shared one
            t.spend.prefill(completions[0], prompt_tokens[b.problem] + b.tokens - 1, sampler.prefix_block)
        for c_k, c in enumerate(completions):
            t.tokens += c.n_tokens
            t.spend.decode_segments.append((prompt_tokens[b.problem] + b.tokens, c.n_tokens))
            total = b.tokens + c.n_tokens
            eos = c.finish_reason == "stop" and c.stop_string is None
            ended = eos or total >= sampling.max_tokens
            # A step cut at max_step_tokens goes on next step where it was cut (no delimiter: the step is not over).
            sep = delimiter if c.stop_string is not None and not ended else ""
            children[todo[k]].append(Node(
                problem=b.problem, text=b.text + c.text + sep, tokens=total, logprob=b.logprob + (c.logprob or 0.0),
                token_logprobs=b.token_logprobs + c.token_logprobs, done=ended, path=b.path + (c_k,), tree=b.tree))
    for i in {b.problem for b in nodes}:
        tally[i].steps += 1
        tally[i].candidates.append(sum(len(cs) for b, cs in zip(nodes, children) if b.problem == i))
    return children


def score(scorer: BoundScorer, problems: Sequence, prompt_tokens: Sequence[int], nodes: Sequence[Node],
          tally: list[Tally]) -> None:
    """Set each node's `score` to the scorer's reward for its partial solution (NaN stays NaN); charge the passes."""
    for i in sorted({n.problem for n in nodes}):
        mine = [n for n in nodes if n.problem == i]
        partial = [Completion(text=n.text, n_tokens=n.tokens, prompt_tokens=prompt_tokens[i], logprob=n.logprob,
                              finish_reason=None, token_logprobs=n.token_logprobs) for n in mine]
        for n, s in zip(mine, scorer.score(problems[i], partial)):
            n.score = float(s)
        flops = scorer.flops(problems[i], partial)
        if flops is not None:
            tally[i].spend.score_flops += float(sum(flops))


def completion(best: Node, tally: Tally, prompt_tokens: int, extra: dict) -> Completion:
    """The record of a search: the chosen solution, charged with the whole search's tokens, segments and scoring."""
    return Completion(
        text=best.text, n_tokens=tally.tokens, prompt_tokens=prompt_tokens, logprob=best.logprob,
        finish_reason="stop" if best.done else "length", token_logprobs=best.token_logprobs,
        extra={**extra, "steps": tally.steps, "candidates_per_step": tally.candidates, "best_score": best.score,
               "solution_tokens": best.tokens}, spend=tally.spend)


def ranked(score: float) -> float:
    """A score as a sort key: NaN (not scorable) ranks below every number."""
    return -math.inf if score != score else score


def vote_weights(rewards: Sequence[float]) -> list[float]:
    """Vote weights from rewards: as they are when all lie in [0, 1] (probabilities: prm, self_verify), else
    exp(reward - max) (log-probabilities, logits); NaN weighs 0."""
    finite = [r for r in rewards if math.isfinite(r)]
    if all(0 <= r <= 1 for r in finite):
        return [r if math.isfinite(r) else 0.0 for r in rewards]
    top = max(finite)
    return [math.exp(r - top) if math.isfinite(r) else 0.0 for r in rewards]
