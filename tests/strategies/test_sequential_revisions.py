"""Sequential revisions: each chain sees exactly its own earlier attempts (the last `context` of them), chains x
length = budget, the sequential:parallel ratio picks the chain length, selection is over every attempt, and the
revision prompts' new text is charged as prefill."""

import re

import pytest

from benchmarks.base import Problem
from strategies.sequential_revisions import SequentialRevisions
from testtime.sampler import Completion, Sampling
from testtime.samplers.fake import FakeSampler

PROBLEMS = [Problem(id=str(i), prompt=f"question {i}", gold="3") for i in range(2)]


class Numbered(FakeSampler):
    """Every completion is a distinct attempt "attempt #k \\boxed{a}" (k counts all completions made), so a prompt
    shows which attempts it holds. `answers(k)` plants the answer of attempt k."""

    def __init__(self, answers=lambda k: k):
        super().__init__()
        self.answers, self.made, self.calls = answers, 0, []

    def stream(self, prompts, sampling, *, raw=False):
        each = [sampling] * len(prompts) if isinstance(sampling, Sampling) else list(sampling)
        for i, (prompt, s) in enumerate(zip(prompts, each)):
            out = []
            for _ in range(s.n):
                text = f"attempt #{self.made} \\boxed{{{self.answers(self.made)}}}"
                self.made += 1
                out.append(Completion(text=text, n_tokens=5, prompt_tokens=len(prompt.split()), logprob=-1.0,
                                      finish_reason="stop", token_logprobs=(-0.2,) * 5))
            self.calls.append((prompt, out))
            yield i, out


@pytest.mark.parametrize("L,C,context", [(3, 2, 4), (4, 2, 2), (1, 4, 4)])
def test_chains_see_exactly_their_own_earlier_attempts(L, C, context):
    sampler = Numbered()
    sr = SequentialRevisions(chain_length=L, context=context)
    out = dict(sr.stream(sampler, PROBLEMS, Sampling(max_tokens=50), budget=L * C))
    # round 1: one request per problem, n = C
    firsts = sampler.calls[:len(PROBLEMS)]
    assert [len(cs) for _, cs in firsts] == [C] * len(PROBLEMS)
    chains = {(i, k): [firsts[i][1][k].text] for i in range(len(PROBLEMS)) for k in range(C)}
    rest = sampler.calls[len(PROBLEMS):]
    assert len(rest) == len(PROBLEMS) * C * (L - 1)
    for r in range(L - 1):   # each later round: one request per chain, in (problem, chain) order
        for j, (i, k) in enumerate((i, k) for i in range(len(PROBLEMS)) for k in range(C)):
            prompt, [c] = rest[r * len(PROBLEMS) * C + j]
            seen = re.findall(r"attempt #\d+", prompt)
            mine = [re.search(r"attempt #\d+", t)[0] for t in chains[(i, k)]]
            assert seen == mine[-context:]   # its own attempts, oldest first, only the last `context`
            assert f"Attempt {len(mine) - len(seen) + 1}:" in prompt and PROBLEMS[i].prompt in prompt
            assert prompt == sampler.chat_prompt(sr.prompt(PROBLEMS[i], chains[(i, k)]))
            chains[(i, k)].append(c.text)
    for i, [answer] in out.items():
        assert answer.extra["chains"] == C and answer.extra["chain_length"] == L
        assert answer.n_tokens == 5 * L * C   # every attempt's tokens
        generated = [t for s, t in answer.spend.decode_segments if t == 5]
        assert len(generated) == L * C
        # each revision prompt is prefilled past what the cache holds; this engine does not report it, so past the
        # whole cache blocks of the prefix it shares with the problem's prompt
        prefill = answer.spend.prefill_segments
        assert answer.spend.prefill_tokens == sum(t for _, t in prefill) and len(prefill) == C * (L - 1)
        head = sampler.chat_prompt(PROBLEMS[i].prompt)
        assert all(s == len(head.split()) // 16 * 16 for s, _ in prefill)
        assert (answer.spend.prefill_tokens > 0) == (L > 1) and answer.spend.cache_reported == (L == 1)


def test_ratio_sets_the_chain_length():
    assert SequentialRevisions(chain_length=None, sequential_ratio=4.0).chains(16) == (8, 2)
    assert SequentialRevisions(chain_length=None, sequential_ratio=1.0).chains(16) == (4, 4)
    assert SequentialRevisions(chain_length=None, sequential_ratio=1 / 16).chains(16) == (1, 16)   # best-of-16
    assert SequentialRevisions(chain_length=2).chains(8) == (2, 4)
    with pytest.raises(ValueError, match="multiple of chain_length"):
        SequentialRevisions(chain_length=3).chains(8)
    with pytest.raises(ValueError):
        SequentialRevisions(chain_length=2, sequential_ratio=1.0)


def test_majority_over_all_revisions():
    # attempts 0..7 of problem 0 (two chains of four): answers 1, 3, 3, 2, 3, 1, 0, 0 -> 3 wins (three votes)
    plan = [1, 3, 3, 2, 3, 1, 0, 0]
    sampler = Numbered(answers=lambda k: plan[k % 8])
    [(_, [answer])] = list(SequentialRevisions(chain_length=4).stream(sampler, PROBLEMS[:1], Sampling(), budget=8))
    assert answer.text.endswith("\\boxed{3}")


class Prefers:
    """A scorer that loves one attempt (by its number)."""

    def __init__(self, k):
        self.k = k

    def score(self, problem, completions):
        return [1.0 if f"#{self.k} " in c.text else 0.1 for c in completions]

    def flops(self, problem, completions):
        return [7.0] * len(completions)


def test_selection_by_a_scorer_is_a_weighted_vote_and_charged():
    plan = [1, 2, 3, 4]
    sr = SequentialRevisions(chain_length=2, select="self_verify")
    assert sr.scorer == "self_verify" and SequentialRevisions().scorer is None
    [(_, [answer])] = list(sr.stream(Numbered(answers=lambda k: plan[k]), PROBLEMS[:1], Sampling(), budget=4,
                                     scorer=Prefers(2)))
    assert answer.text.startswith("attempt #2 ") and answer.spend.score_flops == 7.0 * 4
    with pytest.raises(ValueError, match="needs that scorer"):
        list(sr.stream(Numbered(), PROBLEMS[:1], Sampling(), budget=4))
