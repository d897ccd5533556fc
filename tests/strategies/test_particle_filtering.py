"""Particle filtering: N particles at every step, resampled with exactly softmax(log-odds(reward) / temperature) on
planted rewards; copies share a request; every generated token and scorer pass is charged."""

import math

import numpy as np
import pytest

import strategies.particle_filtering as pf_module
from benchmarks.base import Problem
from strategies.particle_filtering import ParticleFiltering, resampling_probabilities
from testtime.sampler import Sampling
from testtime.samplers.fake import FakeSampler
from tests.helpers import CountingSampler

PROBLEMS = [Problem(id=str(i), prompt=f"question {i} " * (i + 1), gold="1") for i in range(3)]


class Planted:
    """Rewards planted by text: a partial solution that took the "Let me think." step scores 0.9, others 0.2."""

    def score(self, problem, completions):
        return [0.9 if "Let me think." in c.text else 0.2 for c in completions]

    def flops(self, problem, completions):
        return [10.0] * len(completions)


def test_resampling_probabilities_hand_cases():
    # log-odds of 0.5 and 0.75 are 0 and log 3: softmax -> 1/4, 3/4
    np.testing.assert_allclose(resampling_probabilities([0.5, 0.75]), [0.25, 0.75])
    # temperature 2 halves the log-odds: 1 : sqrt(3)
    np.testing.assert_allclose(resampling_probabilities([0.5, 0.75], temperature=2), np.array([1, 3**0.5]) / (1 + 3**0.5))
    # raw rewards: softmax(r / T)
    np.testing.assert_allclose(resampling_probabilities([0.0, 1.0], log_odds=False), [1 / (1 + math.e), math.e / (1 + math.e)])
    # scores outside [0, 1] (log-probabilities) enter as they are; NaN weighs nothing; all NaN: uniform
    np.testing.assert_allclose(resampling_probabilities([-1.0, -2.0, math.nan]), [math.e / (math.e + 1), 1 / (math.e + 1), 0])
    np.testing.assert_allclose(resampling_probabilities([math.nan, math.nan]), [0.5, 0.5])


def test_multinomial_draws_follow_the_probabilities():
    p = resampling_probabilities([0.9, 0.5, 0.2, 0.2])
    draws = np.random.default_rng(0).choice(4, size=200_000, p=p)
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / draws.size, p, atol=0.005)


@pytest.mark.parametrize("N,temperature", [(4, 1.0), (8, 0.5), (5, 2.0)])
def test_particle_counts_and_resampling_on_planted_rewards(N, temperature, monkeypatch):
    calls = []
    real = pf_module.resampling_probabilities

    def record(rewards, **kw):
        p = real(rewards, **kw)
        calls.append((list(rewards), kw, p))
        return p

    monkeypatch.setattr(pf_module, "resampling_probabilities", record)
    sampler = CountingSampler(seed=2)
    out = dict(ParticleFiltering(temperature=temperature, max_steps=4).stream(
        sampler, PROBLEMS, Sampling(max_tokens=400), budget=N, scorer=Planted()))
    # step 1: all N particles are the empty solution: one request per problem with n = N
    assert [n for _, n in sampler.requests[0]] == [N] * len(PROBLEMS)
    for step in sampler.requests:   # never more live particles than N per problem
        per = {}
        for prompt, n in step:
            i = next(k for k, p in enumerate(PROBLEMS) if p.prompt in prompt)
            per[i] = per.get(i, 0) + n
        assert all(v <= N for v in per.values())
    assert calls
    for rewards, kw, p in calls:   # every resampling saw N planted rewards and used exactly their softmax
        assert len(rewards) == N and set(rewards) <= {0.9, 0.2}
        logit = np.log(np.array(rewards) / (1 - np.array(rewards)))
        expected = np.exp(logit / temperature) / np.exp(logit / temperature).sum()
        np.testing.assert_allclose(p, expected, rtol=1e-12)
        assert kw == {"temperature": temperature, "log_odds": True}
    for i, [best] in out.items():
        assert best.extra["particles"] == N and best.extra["budget"] == N
        assert best.n_tokens == sum(t for _, t in best.spend.decode_segments)
        # the planted scorer charged 10 FLOPs per scored partial solution: one per generated step
        assert best.spend.score_flops == 10.0 * sum(best.extra["candidates_per_step"])


def test_a_dominant_reward_takes_over():
    # temperature -> 0: every resampling keeps only the high-reward lineage, so the answer took the step
    out = dict(ParticleFiltering(temperature=1e-3, max_steps=4).stream(
        FakeSampler(seed=4), PROBLEMS, Sampling(max_tokens=400), budget=6, scorer=Planted()))
    searched = [best for [best] in out.values() if len(best.extra["candidates_per_step"]) > 1]
    assert searched   # some particle took the step at step 1 (else all ended there, and none was resampled)
    assert all("Let me think." in best.text and best.extra["distinct_particles"] >= 1 for best in searched)


def test_vote_and_bad_settings():
    out = dict(ParticleFiltering(select="vote").stream(FakeSampler(seed=1), PROBLEMS[:1], Sampling(max_tokens=400),
                                                       budget=4, scorer=Planted()))
    assert "\\boxed{" in out[0][0].text
    with pytest.raises(ValueError):
        ParticleFiltering(temperature=0)
    with pytest.raises(ValueError):
        ParticleFiltering(select="best-of")
    with pytest.raises(ValueError, match="step scorer"):
        next(ParticleFiltering().stream(FakeSampler(), PROBLEMS, Sampling(), budget=4))
