"""Outcome reward models (strategies/scorers/orm.py): tiny random one- and two-label models through the real
transformers path (batched and one by one, their FLOPs), and vLLM's pooling runner beside the real policy engine
reading the same logits (slow)."""

import importlib.util
import math

import pytest

from strategies.scorers.orm import OutcomeRewardScorer
from tests.strategies.scorers.common import COMPLETIONS, PROBLEM, completion
from testtime.errors import UserError
from testtime.flops import prefill_flops
from testtime.models import ModelFacts
from testtime.sampler import chat_text, encode
from testtime.samplers.engines import LocalEngines
from testtime.samplers.fake import FakeSampler


def test_orm_on_tiny_models(tiny):
    engines = LocalEngines(FakeSampler())   # the policy is not used
    one = OutcomeRewardScorer(model=str(tiny["orm1"])).bind(engines)   # loads now
    logits = one.score(PROBLEM, COMPLETIONS)
    assert len(logits) == 4 and all(math.isfinite(x) for x in logits) and len(set(logits)) > 1
    assert one.score(PROBLEM, COMPLETIONS) == pytest.approx(logits, abs=1e-6)   # no pad token: one at a time

    probs = OutcomeRewardScorer(model=str(tiny["orm2"]), batch_size=8).bind(engines).score(PROBLEM, COMPLETIONS)
    assert all(0 <= p <= 1 for p in probs)
    single = OutcomeRewardScorer(model=str(tiny["orm2"]), batch_size=1).bind(engines).score(PROBLEM, COMPLETIONS)
    assert single == pytest.approx(probs, abs=1e-5)   # a second load, one by one: what the right-padded batch gave

    tok = one.rm.tokenizer
    lengths = [len(encode(tok, chat_text(tok, PROBLEM.prompt, c.text))) for c in COMPLETIONS]
    facts = ModelFacts.from_folder(tiny["orm1"])
    assert one.flops(PROBLEM, COMPLETIONS) == pytest.approx([float(prefill_flops(facts, n)) for n in lengths])
    with pytest.raises(UserError, match="scorer_model"):
        OutcomeRewardScorer(engine="hf").bind(engines)
    with pytest.raises(UserError, match="unknown engine"):
        OutcomeRewardScorer(model=str(tiny["orm1"]), engine="tgi")


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm not installed")
def test_orm_on_vllm_matches_transformers(tiny, vllm_smollm):
    """vLLM's pooling runner, in its own engine beside a live policy engine (as in a run), reads the raw logits
    transformers gives for the same token ids. (The reward-model engines live until the process exits.)"""
    for name in ("orm1", "orm2"):
        on_vllm = OutcomeRewardScorer(model=str(tiny[name]), engine="vllm", gpu_memory_utilization=0.01).bind(
            LocalEngines(vllm_smollm))
        on_hf = OutcomeRewardScorer(model=str(tiny[name]), engine="hf").bind(LocalEngines(vllm_smollm))
        assert on_vllm.score(PROBLEM, COMPLETIONS) == pytest.approx(on_hf.score(PROBLEM, COMPLETIONS), abs=1e-4)
        assert on_vllm.flops(PROBLEM, COMPLETIONS) == on_hf.flops(PROBLEM, COMPLETIONS)
    short = OutcomeRewardScorer(model=str(tiny["orm1"]), engine="vllm", gpu_memory_utilization=0.01,
                                max_model_len=64).bind(LocalEngines(vllm_smollm))
    with pytest.raises(UserError, match="max_model_len"):
        short.score(PROBLEM, [completion("step " * 100)])
    # both engines' shares must fit: refused before anything loads
    with pytest.raises(UserError, match="engine.gpu_memory_utilization"):
        OutcomeRewardScorer(model=str(tiny["orm1"]), engine="vllm", gpu_memory_utilization=0.9).bind(
            LocalEngines(vllm_smollm))
    # the policy's engine still samples after the reward models' scorers are gone
    import gc

    from testtime.sampler import Sampling

    del on_vllm, short
    gc.collect()
    [(_, [sample])] = list(vllm_smollm.stream(["What is 1 + 1?"], Sampling(n=1, max_tokens=4, temperature=0.0)))
    assert sample.n_tokens > 0
