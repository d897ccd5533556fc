"""Self-verification (strategies/scorers/self_verify.py): P(Yes) by hand, and on the real SmolLM2-135M through
transformers (a verifier of its own and the policy itself) and through the policy's vLLM engine (slow tests on the
session's engines)."""

import importlib.util
import math

import pytest

from benchmarks.base import Problem
from strategies.scorers.self_verify import SelfVerifyScorer, yes_probability
from tests.strategies.scorers.common import COMPLETIONS, PROBLEM, completion
from testtime.errors import UserError
from testtime.flops import decode_flops, prefill_flops
from testtime.models import ModelFacts
from testtime.samplers.engines import LocalEngines
from testtime.samplers.fake import FakeSampler


def test_yes_probability_by_hand():
    assert yes_probability([math.log(0.3)], [math.log(0.1)]) == pytest.approx(0.75)
    assert yes_probability([math.log(0.2), math.log(0.1)], [math.log(0.1)]) == pytest.approx(0.75)   # variants add
    assert yes_probability([-math.inf], [math.log(0.1)]) == 0.0
    assert math.isnan(yes_probability([-math.inf], [-math.inf]))


@pytest.mark.slow
def test_self_verify_with_transformers(smollm, hf_smollm):
    """A verifier model of its own (loaded by the scorer) and the policy verifying its own samples (the session's
    transformers engine) give the same P(Yes), batched or one prompt per pass."""
    problem = Problem(id="t/1", prompt="What is 1 + 1?", gold="2")
    completions = [completion("1 + 1 = 2. \\boxed{2}"), completion("1 + 1 = 3. \\boxed{3}")]
    sv = SelfVerifyScorer(model=str(smollm), batch_size=2).bind(LocalEngines(FakeSampler()))
    scores = sv.score(problem, completions)
    assert len(scores) == 2 and all(0 <= s <= 1 for s in scores)

    # The policy verifies its own samples, one prompt per pass: what the padded batch gave.
    bound = SelfVerifyScorer(batch_size=1).bind(LocalEngines(hf_smollm))
    assert bound.score(problem, completions) == pytest.approx(scores, abs=1e-4)

    facts = ModelFacts.from_folder(smollm)
    lengths = [len(p) for p in SelfVerifyScorer().prompts(sv.verifier.tokenizer, problem, completions)]
    expected = [float(prefill_flops(facts, n) + decode_flops(facts, n, 1)) for n in lengths]
    assert bound.flops(problem, completions) == pytest.approx(expected)


def test_self_verify_needs_a_verifier():
    with pytest.raises(UserError, match="fake backend cannot read next-token logprobs .* set scorer_model"):
        SelfVerifyScorer().bind(LocalEngines(FakeSampler()))


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm not installed")
def test_self_verify_on_the_policys_vllm_engine(smollm, vllm_smollm):
    """The vLLM path agrees with transformers, and never loses the outputs of a sampler's stream in flight."""
    from testtime.sampler import Sampling

    sampler = vllm_smollm
    sv = SelfVerifyScorer().bind(LocalEngines(sampler))
    completions = COMPLETIONS[:3]
    scores = sv.score(PROBLEM, completions)
    assert len(scores) == 3 and all(0 <= s <= 1 for s in scores)
    reference = SelfVerifyScorer(model=str(smollm)).bind(LocalEngines(sampler))
    assert scores == pytest.approx(reference.score(PROBLEM, completions), abs=2e-3)
    assert sv.flops(PROBLEM, completions) == pytest.approx(reference.flops(PROBLEM, completions))

    # Scoring while the policy is still sampling (as the runner does): either the sampler parks its stream's
    # outputs (it has next_token_logprobs) or the scorer refuses; either way every prompt is still delivered.
    prompts = [f"What is {i} + {i}?" for i in range(4)]
    budgets = [Sampling(n=2, max_tokens=4, temperature=0.8)] + [Sampling(n=2, max_tokens=64, temperature=0.8,
                                                                          stop=("NEVER",))] * 3
    stream = sampler.stream(prompts, budgets)
    seen = {next(stream)[0]}
    assert sampler.llm.llm_engine.has_unfinished_requests()   # the long requests are still in flight
    assert scores == pytest.approx(sv.score(PROBLEM, completions), abs=2e-3)
    seen |= {i for i, _ in stream}
    assert seen == set(range(4))

    from testtime.samplers.vllm_logprobs import next_token_logprobs   # without a place to park: refuse, lose nothing
    stream = sampler.stream(prompts, budgets)
    next(stream)
    with pytest.raises(UserError, match="still sampling"):
        next_token_logprobs(sampler.llm, [[1, 2, 3]], [4])
    assert len({i for i, _ in stream}) == 3
