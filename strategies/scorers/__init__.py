"""Scorers: what ranks samples for best-of-n and weighs them in weighted votes. Higher is better.

A scorer is configuration (a frozen dataclass, settings from `scorer_options`); `bind(engines)` loads its model
through testtime.sampler's `Engines` and returns the bound scorer, which sees one problem and its completions right
after grading and returns one float per completion. The runner stores it as the column `score_<name>`, so every
selection strategy can use it later without re-running anything (protocols: strategies/base.py).

    logprob  mean token logprob of the sample (reward-free, from the sampler; Kang et al. 2025 use it as a baseline)
    oracle   gold correctness; every pool holds it (from `correct`, nothing stored); best-of-n by oracle is pass@k
    self_certainty  mean KL(uniform || next-token distribution) over the sample (Kang et al. 2025), from top-k logprobs
    orm      an outcome reward model's reward for (problem, sample) (needs scorer_model)
    prm      a process reward model's step scores, aggregated by min/last/prod/mean (needs scorer_model)
    self_verify  P("Yes") when a verifier (default: the policy) is asked whether the sample is correct
    lowest_group_confidence, bottom_group_confidence, tail_confidence
             DeepConf's confidence (Fu et al. 2025) from top-k logprobs: the least confident sliding window, the
             mean of the bottom 10% of windows, the mean over the last tokens

Model-based scorers (orm, prm, self_verify) load their model in `bind`, before sampling, and report the FLOPs of
their forward passes per sample in `flops(problem, completions)` (None for the free ones).
"""

from strategies.scorers import logprob, oracle, orm, prm, self_certainty, self_verify  # noqa: F401  (registers them)
from strategies.scorers import confidence  # noqa: F401
