"""One problem's completions -> SampleRecords: graded (flexible and strict), grouped into answer classes under each
policy, scored, and costed in FLOPs.

Example:
    records = to_records(problem, completions, job=Job(POOL, []), bench=bench, facts=facts,
                         scorers={"logprob": LogprobScorer()}, run_id="r", model="smollm2-135m")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from benchmarks.base import Benchmark, Problem
from benchmarks.grading import group_answers
from testtime.flops import decode_flops, prefill_flops
from testtime.models import ModelFacts
from testtime.sampler import Completion
from testtime.store.records import SampleRecord
from testtime.store.store import POOL


@dataclass
class Job:
    """One set of samples to produce: the pool (group POOL), or a generation strategy's samples at one budget."""

    group: str
    todo: list[Problem]
    strategy: object = None
    budget: int | None = None
    first: dict[str, int] = field(default_factory=dict)
    """Problem id -> index of its first sample to draw: the samples it holds already (a pool grown in place)."""
    prior: dict[str, tuple[list, list]] = field(default_factory=dict)
    """Problem id -> its stored answers (flexible, strict), which the vote classes of its new samples build on."""


def answer_ids(problem: Problem, answers: Sequence[str | None]) -> list[int]:
    """Vote classes: the choice index for multiple choice, math-verify equivalence classes otherwise; -1 for none."""
    if problem.choices:
        return [problem.choices.index(a) if a in problem.choices else -1 for a in answers]
    return group_answers(answers)


def grade_texts(problem: Problem, texts: Sequence[str], bench: Benchmark,
                prior: tuple[Sequence, Sequence] = ((), ())) -> tuple[list, list[int], list[int]]:
    """One problem's samples graded: their Grades, and their vote classes under the flexible and strict policies
    (the strict ones among the explicitly marked answers only). `prior`: the answers (flexible, strict) of the
    problem's samples stored before these; classes are numbered by first appearance over them and these, so the
    new samples' classes are those one run of all of them gives (benchmarks.grading.group_answers)."""
    grades = [bench.grade(problem, t) for t in texts]
    flexible, strict = [g.answer for g in grades], [g.answer_strict for g in grades]
    before, before_strict = list(prior[0]), list(prior[1])
    ids = answer_ids(problem, before + flexible)[len(before):]
    if before_strict + strict == before + flexible:
        return grades, ids, ids
    return grades, ids, answer_ids(problem, before_strict + strict)[len(before_strict):]


def to_records(problem: Problem, completions: Sequence[Completion], *, job: Job, bench: Benchmark,
               facts: ModelFacts, scorers: dict, run_id: str, model: str) -> list[SampleRecord]:
    """The stored records of one problem's completions. Pool samples get every stored scorer's score and FLOPs;
    a generation strategy's samples get the logprob score only (its own scorer's spend comes in `Completion.spend`,
    stored as score_flops beside prefill_tokens, cached_tokens and cache_reported)."""
    first = job.first.get(problem.id, 0)
    grades, ids, strict_ids = grade_texts(problem, [c.text for c in completions], bench,
                                          job.prior.get(problem.id, ((), ())))
    prefill = float(prefill_flops(facts, completions[0].prompt_tokens)) if completions else 0.0
    use = scorers if job.group == POOL else {k: v for k, v in scorers.items() if k == "logprob"}
    scores = {name: s.score(problem, completions) for name, s in use.items()}
    # Scorers that run a model report the FLOPs of their passes per sample; only strategies ranking by them pay.
    spent = {name: f for name, s in use.items() if (f := s.flops(problem, completions)) is not None}
    records = []
    for k, (c, g) in enumerate(zip(completions, grades)):
        extra = dict(c.extra)
        decode = float(decode_flops(facts, c.prompt_tokens, c.n_tokens))
        if (s := c.spend) is not None:   # a generation strategy: its generated segments, each at its own context
            # position, and the prefill of its continuation requests past what the prefix cache held (the same
            # forward pass per token: decode_flops(facts, start, t) sums positions start+1 .. start+t)
            decode = float(sum(decode_flops(facts, start, t) for start, t in s.decode_segments + s.prefill_segments))
            extra.update(prefill_tokens=s.prefill_tokens, cached_tokens=s.cached_tokens,
                         cache_reported=s.cache_reported, score_flops=s.score_flops)
        records.append(SampleRecord(
            run_id=run_id, model=model, benchmark=bench.name, group=job.group, problem_id=problem.id,
            sample_index=first + k, strategy=job.strategy.name if job.strategy else POOL, prompt_tokens=c.prompt_tokens,
            output_tokens=c.n_tokens, text=c.text, finish_reason=c.finish_reason, answer=g.answer, answer_id=ids[k],
            correct=bool(g.correct), extraction=g.extraction, correct_strict=g.correct_strict,
            answer_id_strict=strict_ids[k], logprob_sum=c.logprob, logprob_mean=c.mean_logprob,
            token_logprobs=c.token_logprobs or None, prefill_flops=prefill, decode_flops=decode,
            ttft_s=c.ttft_s, tpot_s=c.tpot_s, request_s=c.request_s,
            scores={name: float(v[k]) for name, v in scores.items()},
            scorer_flops={name: float(v[k]) for name, v in spent.items()}, extra=extra))
    return records
