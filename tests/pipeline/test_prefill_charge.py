"""Continuation requests (search steps, online DeepConf's chunks, budget forcing's rounds, revisions) are charged
the prefill the engine really did: the prompt tokens past its prefix-cache hit, as the engine reports it, else past
the whole cache blocks of what it computed before. The record's FLOPs add those segments to the generated ones."""

import pytest

from benchmarks import load
from benchmarks.base import Problem
from strategies.beam_search import BeamSearch
from strategies.budget_forcing import BudgetForcing
from strategies.deepconf_online import DeepConfOnline
from strategies.scorers.logprob import LogprobScorer
from testtime.flops import decode_flops
from testtime.pipeline.samples import Job, to_records
from testtime.sampler import Completion, Sampling, Spend
from testtime.samplers import fake_facts
from testtime.samplers.fake import FakeSampler

LONG = Problem(id="long", prompt=" ".join(f"word{k}" for k in range(40)) + " what is it?", gold="1")


def test_spend_prefill_by_hand():
    c = Completion(text="x", n_tokens=1, prompt_tokens=50, logprob=None, finish_reason="stop", cached_tokens=32)
    s = Spend()
    s.prefill(c, computed=45, block=16)                       # reported: 32 cached, 18 prefilled at 32..49
    s.prefill(Completion("x", 1, 50, None, "stop"), computed=45, block=16)    # not reported: 2 whole blocks of 45
    s.prefill(Completion("x", 1, 50, None, "stop"), computed=60, block=16)    # never the last token: blocks of 49
    s.prefill(Completion("x", 1, 50, None, "stop"), computed=15, block=16)    # less than a block: nothing cached
    assert s.prefill_segments == [(32, 18), (32, 18), (48, 2), (0, 50)]
    assert s.cached_tokens == 32 + 32 + 48 and not s.cache_reported
    assert s.prefill_tokens == 18 + 18 + 2 + 50


class Recorder(FakeSampler):
    def __init__(self, **kw):
        super().__init__(top_logprobs=True, **kw)
        self.log = []

    def stream(self, prompts, sampling, *, raw=False):
        for i, cs in super().stream(prompts, sampling, raw=raw):
            self.log.append((prompts[i], cs))
            yield i, cs


RUNS = [
    (BeamSearch(width=2, max_steps=4, max_step_tokens=8), 4, Sampling(max_tokens=200)),
    (DeepConfOnline(warmup=2, window=4, top_k=3, chunk_tokens=6), 6, Sampling(max_tokens=200, logprobs=3)),
    (BudgetForcing(max_waits=2), 40, Sampling(n=2, max_tokens=200)),
]


@pytest.mark.parametrize("report", [True, False])
@pytest.mark.parametrize("strategy,budget,sampling", RUNS, ids=lambda x: getattr(x, "name", ""))
def test_each_continuation_is_charged_what_the_engine_prefilled(strategy, budget, sampling, report):
    sampler = Recorder(report_cached=report, prefix_block=8)
    scorer = LogprobScorer() if strategy.scorer else None
    [(_, out)] = list(strategy.stream(sampler, [LONG], sampling, budget=budget, scorer=scorer))
    # the first request prefills the prompt (the problem's one shared prefill); every later one is a continuation,
    # online DeepConf's first chunk included (the warm-up computed its prompt, the cache may not hold all of it)
    continuations = [cs[0] for _, cs in sampler.log[1:]]
    assert continuations
    charged = [seg for c in out for seg in c.spend.prefill_segments]
    assert len(charged) == len(continuations)
    if report:   # exactly the engine's counts
        assert sorted(charged) == sorted((c.cached_tokens, c.prompt_tokens - c.cached_tokens) for c in continuations)
        assert any(cached > 0 for cached, _ in charged)   # the long prompt's whole blocks were reused
    else:        # whole blocks only, and the last prompt token always
        assert all(start % 8 == 0 and t >= 1 for start, t in charged)
        assert sorted(start + t for start, t in charged) == sorted(c.prompt_tokens for c in continuations)
    assert all(c.spend.cache_reported == report for c in out)


def test_record_flops_add_the_prefill_segments():
    sampler = FakeSampler(prefix_block=8)
    [(_, [best])] = list(BeamSearch(width=2, max_steps=4, max_step_tokens=8).stream(
        sampler, [LONG], Sampling(max_tokens=200), budget=4, scorer=LogprobScorer()))
    facts = fake_facts()
    segments = best.spend.decode_segments + best.spend.prefill_segments
    [record] = to_records(LONG, [best], job=Job("beam_search-x", [], BeamSearch(), 4), bench=load("gsm8k"),
                          facts=facts, scorers={}, run_id="r", model="m")
    assert best.spend.prefill_tokens > 0
    assert record.decode_flops == pytest.approx(sum(float(decode_flops(facts, s, t)) for s, t in segments))
    generated_only = sum(float(decode_flops(facts, s, t)) for s, t in best.spend.decode_segments)
    assert record.decode_flops > generated_only


def test_record_stores_the_spend_as_its_columns():
    # the spend travels typed (Completion.spend), never as extra keys; the record's columns are those of before
    [(_, [best])] = list(BeamSearch(width=2, max_steps=4, max_step_tokens=8).stream(
        FakeSampler(prefix_block=8), [LONG], Sampling(max_tokens=200), budget=4, scorer=LogprobScorer()))
    assert not {"decode_segments", "prefill_segments", "search_score_flops", "prefill_tokens"} & set(best.extra)
    [record] = to_records(LONG, [best], job=Job("beam_search-x", [], BeamSearch(), 4), bench=load("gsm8k"),
                          facts=fake_facts(), scorers={}, run_id="r", model="m")
    s = best.spend
    assert {k: record.extra[k] for k in ("prefill_tokens", "cached_tokens", "cache_reported", "score_flops")} == {
        "prefill_tokens": s.prefill_tokens, "cached_tokens": s.cached_tokens, "cache_reported": s.cache_reported,
        "score_flops": s.score_flops}
    assert record.extra["steps"] == len(record.extra["candidates_per_step"]) >= 1
    assert not {"decode_segments", "prefill_segments", "search_score_flops"} & set(record.extra)


def test_a_plain_sample_has_no_spend():
    c = Completion(text="x", n_tokens=3, prompt_tokens=5, logprob=None, finish_reason="stop")
    assert c.spend is None
    [record] = to_records(LONG, [c], job=Job("sample", []), bench=load("gsm8k"), facts=fake_facts(), scorers={},
                          run_id="r", model="m")
    assert record.decode_flops == pytest.approx(float(decode_flops(fake_facts(), 5, 3))) and record.extra == {}
