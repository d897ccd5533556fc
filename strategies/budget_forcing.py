"""Budget forcing / extended chain-of-thought (s1, Muennighoff et al. 2025, arXiv:2501.19393, section 3.1).

For a thinking budget B: generate until the end-of-thinking delimiter (or the end of the turn) or B tokens. If the
model stops early and extensions remain, suppress the delimiter, append the continuation cue ("Wait") and keep
thinking, up to `max_waits` times. When thinking ends (naturally or at the budget), close it with the delimiter and
an answer cue, and generate the short final answer. Thinking tokens (generated plus inserted cues) never exceed B.

Each round is one batch of continuations; a continuation's prompt is its whole prefix, so with vLLM's prefix caching
only the new tokens and the last partial cache block are prefilled: what the engine reports it prefilled is charged
(`testtime.sampler.Spend.prefill`), every generated token at its own context position. After "Wait" at least one
token is generated (s1's `min_tokens=1`), and each extension draws with its own seed (a seeded engine would
otherwise continue two equal traces alike). The final answer runs to the brace that closes `\\boxed{`
(`\\frac{1}{2}` keeps its inner braces), or `answer_tokens`. Delimiters are configurable: `<think>` / `</think>` for
reasoning models; for ordinary chat models (the default) thinking is the answer the model writes, ended by its
end-of-turn token.

The N samples stored per problem at each budget are independent (`independent_samples`), so selection strategies
apply to them as to a pool: `select` names those the runner evaluates at every n = 1, 2, 4, ..., N of every budget,
thinking budget x samples as one grid on one FLOPs axis (`testtime.pipeline.evaluate.evaluate_grid`).

Example:
    bf = BudgetForcing(max_waits=1, select=("majority_vote", "best_of_n:logprob", "pass_at_k"))
    for i, completions in bf.stream(sampler, problems, Sampling(n=8), budget=256): ...
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Iterator, Sequence

from testtime.registry import register
from strategies.base import BoundScorer, check_positive, evaluation_only
from testtime.sampler import Completion, Sampler, Sampling, Spend, node_seed


@register("strategy", "budget_forcing")
@dataclass(frozen=True)
class BudgetForcing:
    kind: ClassVar[str] = "generation"
    name: ClassVar[str] = "budget_forcing"
    budget_unit: ClassVar[str] = "thinking budget"
    revision: ClassVar[int] = 2
    """2: extensions seeded per trace, one token at least after "Wait", the answer runs to the closing brace,
    continuations charged their prefill."""
    scorer: ClassVar[str | None] = None
    independent_samples: ClassVar[bool] = True
    """The samples stored at one budget are independent draws per problem: selection strategies apply to them."""
    think_start: str = ""
    """Text that opens thinking after the chat template (e.g. "<think>\\n"); empty for ordinary chat models."""
    think_end: str = ""
    """Delimiter that ends thinking (e.g. "</think>"); empty: the model's end of turn ends it."""
    cue: str = "Wait"
    """Appended (after a blank line) when the model stops early, to make it think longer."""
    max_waits: int = 1
    """How many times to suppress the end of thinking; 0 only caps thinking at the budget."""
    answer_cue: str = "\n\nFinal answer: \\boxed{"
    """Appended after thinking to elicit the final answer."""
    answer_tokens: int = 24
    """Most tokens for the final answer."""
    samples: int | None = None
    """Samples per problem at each budget (accuracy is their mean); None: the run's n."""
    select: tuple[str, ...] = evaluation_only(())
    """Selection strategies ("name" or "name:scorer") to apply to each budget's samples at n = 1, 2, 4, ..., samples:
    the sequential x parallel grid. Its samples store the logprob score only (and the oracle's correctness), so
    best_of_n and weighted_majority rank by logprob or oracle. Changing it never re-samples."""

    def __post_init__(self) -> None:
        select = (self.select,) if isinstance(self.select, str) else tuple(self.select or ())
        if not all(isinstance(s, str) and s for s in select):
            raise ValueError(f"budget_forcing: select must list selection strategies, e.g. [majority_vote, "
                             f"pass_at_k]; got {self.select!r}")
        object.__setattr__(self, "select", select)
        if self.max_waits < 0 or self.answer_tokens < 1 or (self.samples is not None and self.samples < 1):
            raise ValueError("budget_forcing: max_waits must be >= 0, answer_tokens and samples >= 1")

    @property
    def grid_select(self) -> tuple[str, ...]:
        """The selection strategies of the grid: `select`."""
        return self.select

    def check_budget(self, budget: int) -> None:
        check_positive(self.name, budget, "thinking tokens")

    def stream(self, sampler: Sampler, problems: Sequence, sampling: Sampling, *, budget: int,
               scorer: BoundScorer | None = None) -> Iterator[tuple[int, list[Completion]]]:
        """Yield (problem index, n completions) once each problem's samples have thought and answered."""
        self.check_budget(budget)
        stop = (self.think_end,) if self.think_end else ()
        block = sampler.prefix_block
        heads = [sampler.chat_prompt(p.prompt) + self.think_start for p in problems]
        # One request per problem for the first round: the n samples share the prompt's prefill.
        first = replace(sampling, n=self.samples or sampling.n, max_tokens=budget, stop=stop, logprobs=0, min_tokens=0,
                        seed=node_seed(sampling.seed, "think"))
        traces: list[list[_Trace]] = [[] for _ in problems]
        for i, completions in sampler.stream(heads, first, raw=True):
            traces[i] = [_Trace(head=heads[i], prompt_tokens=c.prompt_tokens, index=k).add(c)
                         for k, c in enumerate(completions)]
        flat = [t for ts in traces for t in ts]
        # Extension rounds: every trace that stopped early gets the cue, while waits and budget remain.
        cue = "\n\n" + self.cue
        cue_tokens = sampler.count_tokens(cue)
        for _ in range(self.max_waits):
            active = [t for t in flat if t.stopped and budget - t.thinking_tokens > cue_tokens]
            if not active:
                break
            for t in active:
                t.append(cue, cue_tokens)
            params = [replace(sampling, n=1, max_tokens=budget - t.thinking_tokens, stop=stop, logprobs=0,
                              min_tokens=1, seed=node_seed(sampling.seed, "wait", t.index, t.waits)) for t in active]
            for j, (c,) in sampler.stream([t.text for t in active], params, raw=True):
                active[j].spend.prefill(c, active[j].computed, block)
                active[j].add(c)
        # Answer round: close thinking, cue the answer (greedy); it ends at the brace that closes the box.
        close = (self.think_end or "") + self.answer_cue
        close_tokens = sampler.count_tokens(close)
        answer = replace(sampling, n=1, temperature=0.0, max_tokens=self.answer_tokens, stop=("\n",), logprobs=0,
                         min_tokens=0, seed=node_seed(sampling.seed, "answer"))
        answers: list[Completion | None] = [None] * len(flat)
        for j, (c,) in sampler.stream([t.text + close for t in flat], answer, raw=True):
            flat[j].spend.prefill(c, flat[j].computed, block)
            answers[j] = c
        k = 0
        for i, ts in enumerate(traces):
            out = []
            for t in ts:
                out.append(t.finish(close, close_tokens, answers[k], budget=budget))
                k += 1
            yield i, out


def boxed_content(text: str) -> str:
    """`text` up to the brace that closes an already opened `\\boxed{` (escaped braces \\{ \\} do not count); all of
    it when none does.

    Example:
        boxed_content("\\frac{1}{2}} so the answer")    # "\\frac{1}{2}"
    """
    depth, k = 1, 0
    while k < len(text):
        ch = text[k]
        if ch == "\\":
            k += 2
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth == 0:
            return text[:k]
        k += 1
    return text


class _Trace:
    """One sample's thinking so far: text after the head, tokens spent, logprobs, why it last stopped."""

    def __init__(self, head: str, prompt_tokens: int, index: int):
        self.head = head
        self.prompt_tokens = prompt_tokens
        self.index = index
        """Its place among the problem's samples (the seed of its extensions)."""
        self.body = ""
        self.thinking_tokens = 0
        self.generated = 0
        self.logprob = 0.0
        self.token_logprobs: list[float] = []
        self.stopped = False
        self.waits = 0
        self.computed = prompt_tokens
        """Tokens of its text the engine has run (the last sampled token never is): what a prefix cache can hold."""
        self.spend = Spend()

    @property
    def text(self) -> str:
        return self.head + self.body

    def add(self, c: Completion) -> "_Trace":
        self.spend.decode_segments.append((self.prompt_tokens + self.thinking_tokens, c.n_tokens))
        self.body += c.text
        self.thinking_tokens += c.n_tokens
        self.generated += c.n_tokens
        self.computed = self.prompt_tokens + self.thinking_tokens - 1
        self.logprob += c.logprob or 0.0
        self.token_logprobs.extend(c.token_logprobs)
        self.stopped = c.finish_reason == "stop"
        return self

    def append(self, cue: str, tokens: int) -> None:
        self.body += cue
        self.thinking_tokens += tokens
        self.waits += 1

    def finish(self, close: str, close_tokens: int, answer: Completion, *, budget: int) -> Completion:
        text = self.body + close + boxed_content(answer.text) + "}"
        total = self.thinking_tokens + close_tokens + answer.n_tokens  # every token after the prompt
        self.spend.decode_segments.append((self.prompt_tokens + self.thinking_tokens + close_tokens,
                                           answer.n_tokens))
        return Completion(
            text=text, n_tokens=total, prompt_tokens=self.prompt_tokens,
            logprob=self.logprob + (answer.logprob or 0.0), finish_reason="stop" if self.stopped else "length",
            token_logprobs=tuple(self.token_logprobs) + answer.token_logprobs,
            extra={"budget": budget, "thinking_tokens": self.thinking_tokens, "waits": self.waits,
                   "generated_tokens": self.generated + answer.n_tokens, "answer_tokens": answer.n_tokens},
            spend=self.spend)
