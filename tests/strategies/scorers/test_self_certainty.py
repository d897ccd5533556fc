"""Self-certainty (strategies/scorers/self_certainty.py): the KL from uniform on hand-computed cases, its fallbacks
when fewer logprobs are listed, and the vocabulary taken from the policy."""

import math

import numpy as np
import pytest

from strategies.scorers.self_certainty import SelfCertaintyScorer, self_certainty, token_kl_from_uniform
from tests.strategies.scorers.common import PROBLEM, completion


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
    # a listed -inf (probability 0) is as if not listed: finite, the same as the top-2 alone
    assert token_kl_from_uniform([log(0.5), log(0.25), -math.inf], 4) == pytest.approx(0.17328679513998632)


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
