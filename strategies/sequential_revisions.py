"""Sequential revisions (Snell et al. 2024, "Scaling LLM Test-Time Compute Optimally can be More Effective than
Scaling Model Parameters", arXiv:2408.03314, section 6): the model sees its earlier attempts and writes a revised
solution. Snell et al. fine-tune a revision model; for models without that training a self-refine-style prompt
(Madaan et al. 2023) stands in: the problem, the chain's previous attempts, and "check them and write a corrected
solution".

A budget of N generations per problem runs C chains of L attempts in parallel (N = C x L): `chain_length` L, or
`sequential_ratio` r = L : C, which takes the divisor L of N closest to sqrt(N r) (Snell et al. sweep this ratio at a
fixed budget, Fig. 7). Round 1: the C first attempts (one request, n = C). Round t: each chain is shown only its own
last `context` attempts (4, as Snell et al.) and writes one more. The answer: majority vote over all N attempts
(`select: majority`), or a weighted majority by a scorer's scores (`select: self_verify`, ...: Snell et al.'s
verifier-weighted selection across all revisions; the scorer's passes are charged).

Spend: every generated token at its own context position; a revision prompt is a new prompt, so the part of it past
what the prefix cache holds is prefilled and charged (`prefill_tokens`: the engine's count where it reports one,
else past the whole cache blocks of the prefix it shares with the problem's prompt); the problem's own prompt is
prefilled once. Each revision request has its own seed (chain, round), so equal chains still revise independently
on a seeded engine.

Example:
    sr = SequentialRevisions(chain_length=4)
    for i, [answer] in sr.stream(sampler, problems, Sampling(max_tokens=256), budget=8): ...   # 2 chains x 4
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar, Iterator, Sequence

from strategies.base import BoundScorer, check_positive
from strategies.steps import vote_weights
from strategies.voting import answer_classes, weighted_vote
from testtime.registry import register
from testtime.sampler import Completion, Sampler, Sampling, Spend, node_seed

REVISE = ("Your previous attempts at this problem are above; some may be wrong. Check them step by step, then "
          "write a corrected, complete solution and put the final answer in \\boxed{}.")


@register("strategy", "sequential_revisions")
@dataclass(frozen=True)
class SequentialRevisions:
    kind: ClassVar[str] = "generation"
    name: ClassVar[str] = "sequential_revisions"
    budget_unit: ClassVar[str] = "generations"
    revision: ClassVar[int] = 2
    """2: revisions seeded per chain and round, charged the prefill past the cache hit."""
    independent_samples: ClassVar[bool] = False
    grid_select: ClassVar[tuple[str, ...]] = ()
    chain_length: int | None = 4
    """L, attempts per chain (the budget must be a multiple); None: from `sequential_ratio`."""
    sequential_ratio: float | None = None
    """L : C at every budget (e.g. 1.0: as long as wide); used when chain_length is None."""
    context: int = 4
    """Most recent attempts of its own chain a revision sees."""
    select: str = "majority"
    """majority, or a scorer's name for a weighted majority by its scores."""
    instruction: str = REVISE

    def __post_init__(self) -> None:
        if (self.chain_length is None) == (self.sequential_ratio is None) or (self.chain_length or 1) < 1 \
                or (self.sequential_ratio or 1) <= 0 or self.context < 1:
            raise ValueError("sequential_revisions: set exactly one of chain_length (>= 1) and sequential_ratio "
                             "(> 0); context >= 1")

    @property
    def scorer(self) -> str | None:
        """The scorer `select` names (the runner binds it); None for majority."""
        return None if self.select == "majority" else self.select

    def chains(self, budget: int) -> tuple[int, int]:
        """(L, C) at `budget` generations."""
        if self.chain_length is not None:
            if budget % self.chain_length:
                raise ValueError(f"{self.name}: the budget ({budget}) must be a multiple of chain_length "
                                 f"({self.chain_length})")
            return self.chain_length, budget // self.chain_length
        target = math.sqrt(budget * self.sequential_ratio)
        L = min((d for d in range(1, budget + 1) if budget % d == 0), key=lambda d: abs(math.log(d / target)))
        return L, budget // L

    def check_budget(self, budget: int) -> None:
        check_positive(self.name, budget, "generations")
        self.chains(budget)

    def prompt(self, problem, attempts: Sequence[str]) -> str:
        """The user message of a revision: the problem, the chain's last `context` attempts, the instruction."""
        shown = list(attempts)[-self.context:]
        first = len(attempts) - len(shown) + 1
        body = "\n\n".join(f"Attempt {first + k}:\n{a}" for k, a in enumerate(shown))
        return f"{problem.prompt}\n\n{body}\n\n{self.instruction}"

    def stream(self, sampler: Sampler, problems: Sequence, sampling: Sampling, *, budget: int,
               scorer: BoundScorer | None = None) -> Iterator[tuple[int, list[Completion]]]:
        """Run C chains of L attempts per problem; yield (index, [the selected attempt])."""
        L, C = self.chains(budget)
        if self.scorer is not None and scorer is None:
            raise ValueError(f"{self.name}: select={self.select!r} needs that scorer bound")
        heads = [sampler.chat_prompt(p.prompt) for p in problems]
        one = replace(sampling, n=1, logprobs=0, min_tokens=0)
        chains: list[list[list[Completion]]] = [[[] for _ in range(C)] for _ in problems]
        spend = [Spend() for _ in problems]
        prompt_tokens = [0] * len(problems)
        for i, cs in sampler.stream(heads, replace(one, n=C, seed=node_seed(sampling.seed, "attempts")), raw=True):
            prompt_tokens[i] = cs[0].prompt_tokens
            for chain, c in zip(chains[i], cs):
                chain.append(c)
                spend[i].decode_segments.append((c.prompt_tokens, c.n_tokens))
        for round_ in range(2, L + 1):
            todo = [(i, k) for i in range(len(problems)) for k in range(C)]
            texts = [sampler.chat_prompt(self.prompt(problems[i], [c.text for c in chains[i][k]])) for i, k in todo]
            params = [replace(one, seed=node_seed(sampling.seed, "revise", k, round_)) for _, k in todo]
            for j, (c,) in sampler.stream(texts, params, raw=True):
                i, k = todo[j]
                chains[i][k].append(c)
                # The revision prompt shares the problem's prompt up to where the two texts part; the rest is new.
                shared = sampler.count_tokens(heads[i][:_common_prefix(heads[i], texts[j])])
                spend[i].prefill(c, shared, sampler.prefix_block)
                spend[i].decode_segments.append((c.prompt_tokens, c.n_tokens))
        for i, problem in enumerate(problems):
            attempts = [c for chain in chains[i] for c in chain]   # chain by chain, in order
            weights = [1.0] * len(attempts)
            if scorer is not None:
                weights = vote_weights(scorer.score(problem, attempts))
                spend[i].score_flops = float(sum(scorer.flops(problem, attempts) or [0.0]))
            pick = weighted_vote(answer_classes(problem, [c.text for c in attempts]), weights)
            best = attempts[pick if pick is not None else -1]
            yield i, [Completion(
                text=best.text, n_tokens=sum(c.n_tokens for c in attempts), prompt_tokens=prompt_tokens[i],
                logprob=best.logprob, finish_reason=best.finish_reason, token_logprobs=best.token_logprobs,
                extra={"budget": budget, "chains": C, "chain_length": L,
                       "selected_round": attempts.index(best) % L + 1, "solution_tokens": best.n_tokens},
                spend=spend[i])]


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
