"""DeepConf: the confidence measures against the reference code's formulas, offline filtering against a brute-force
reference on small pools, and online early stopping on planted confidences (stops exactly the traces whose window
confidence falls below the warm-up threshold, charges only the tokens they generated)."""

import math
import re
from itertools import combinations

import numpy as np
import pytest

from benchmarks.base import Problem
from tests.helpers import cli_in_process
from strategies.deepconf import DeepConf, expected_filtered_vote
from strategies.deepconf_online import DeepConfOnline, first_drop
from strategies.scorers.confidence import (BottomGroupConfidence, LowestGroupConfidence, TailConfidence,
                                           token_confidence)
from testtime.errors import UserError
from testtime.sampler import Completion, Sampling
from testtime.samplers.fake import FakeSampler
from testtime.store.pool import Pool


# ---- the measures (facebookresearch/deepconf utils.py, transcribed) ------------------------------------------------

def ref_windows(confs, window):
    if len(confs) < window:
        return [sum(confs) / len(confs)]
    return [sum(confs[i:i + window]) / window for i in range(len(confs) - window + 1)]


def ref_bottom(confs, window, bottom=0.1):
    means = ref_windows(confs, window)
    k = max(1, int(len(means) * bottom))
    return float(np.mean(sorted(means)[:k]))


def completion_with(conf, k=3, extra_sampled=()):
    """A completion whose every token lists k logprobs -c (token confidence c); positions in `extra_sampled` also
    list a less likely sampled token, as vLLM does when the sampled token is not in the top k."""
    top = tuple(tuple([-c] * k + ([-50.0] if t in extra_sampled else [])) for t, c in enumerate(conf))
    return Completion(text="x", n_tokens=len(conf), prompt_tokens=3, logprob=-1.0, finish_reason="stop",
                      top_logprobs=top)


def test_token_confidence_is_minus_mean_of_top_k():
    # vLLM lists the sampled token beside the top k when it is not among them: the k largest are used
    assert token_confidence([(-1.0, -2.0, -3.0), (-1.0, -2.0, -3.0, -9.0)]).tolist() == [2.0, 2.0]
    assert token_confidence([(-1.0, -3.0, -5.0)], k=2).tolist() == [2.0]
    # a listed -inf (probability 0) is as if not listed, never an infinite confidence
    assert token_confidence([(-1.0, -3.0, float("-inf"))], k=3).tolist() == [2.0]


@pytest.mark.parametrize("window", [1, 3, 5, 40])
def test_measures_match_the_reference_code(window):
    rng = np.random.default_rng(window)
    conf = list(rng.uniform(0.5, 4, 30).round(3))
    c = completion_with(conf, extra_sampled={2, 7})
    assert math.isclose(LowestGroupConfidence(window=window).score(None, [c])[0], min(ref_windows(conf, window)))
    assert math.isclose(BottomGroupConfidence(window=window).score(None, [c])[0], ref_bottom(conf, window))
    assert math.isclose(TailConfidence(tail=window).score(None, [c])[0], float(np.mean(conf[-window:])))


def test_no_top_k_lists_score_nan():
    c = Completion(text="x", n_tokens=2, prompt_tokens=1, logprob=-1.0, finish_reason="stop", token_logprobs=(-1, -1))
    assert math.isnan(TailConfidence().score(None, [c])[0])


# ---- offline: filtering and confidence-weighted vote -----------------------------------------------------------

def brute_force(answer_ids, correct, conf, n, eta):
    """Every size-n subset through the reference code's steps: drop traces without an answer, keep those at or above
    the (1 - eta) percentile (np.percentile), vote with the confidences; ties split uniformly."""
    out = []
    for p in range(answer_ids.shape[0]):
        hits = []
        for s in combinations(range(answer_ids.shape[1]), n):
            s = [k for k in s if answer_ids[p, k] >= 0]
            if not s:
                hits.append(0.0)
                continue
            thr = np.percentile(conf[p, s], (1 - eta) * 100)
            kept = [k for k in s if conf[p, k] >= thr]
            votes = {}
            for k in kept:
                votes[answer_ids[p, k]] = votes.get(answer_ids[p, k], 0.0) + conf[p, k]
            top = max(votes.values())
            winners = [a for a, v in votes.items() if v >= top - 1e-9 * sum(votes.values())]
            right = {a for a in winners if correct[p][answer_ids[p] == a].mean() > 0.5}
            hits.append(len(right) / len(winners))
        out.append(np.mean(hits))
    return np.array(out)


def planted_pool(seed, P=4, N=7):
    rng = np.random.default_rng(seed)
    ids = rng.integers(-1, 3, (P, N))              # -1: no answer
    correct = (ids == 0)                           # class 0 is right
    conf = rng.integers(1, 5, (P, N)).astype(float)   # few values: ties at the percentile and in the vote
    return ids, correct, conf


@pytest.mark.parametrize("eta", [0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_filtered_vote_matches_brute_force(seed, eta):
    ids, correct, conf = planted_pool(seed)
    for n in range(1, 8):
        acc, se = expected_filtered_vote(ids, correct, conf, n, eta=eta)
        assert se is None
        np.testing.assert_allclose(acc, brute_force(ids, correct, conf, n, eta), atol=1e-12)


def test_monte_carlo_agrees_with_enumeration():
    ids, correct, conf = planted_pool(5, P=6, N=9)
    exact, _ = expected_filtered_vote(ids, correct, conf, 4, eta=0.5)
    mc, se = expected_filtered_vote(ids, correct, conf, 4, eta=0.5, max_exact=0, n_draws=4000)
    assert se is not None and (np.abs(mc - exact) <= 4 * se + 1e-9).all()


def pool_with(conf, ids, correct):
    P, N = ids.shape
    return Pool(problem_ids=tuple(map(str, range(P))), answer_ids=ids, correct=correct,
                output_tokens=np.full((P, N), 10), prompt_tokens=np.full(P, 5), decode_flops=np.full((P, N), 100.0),
                prefill_flops=np.full(P, 1000.0), scores={"tail_confidence": conf})


def test_strategy_reads_its_confidence_and_costs_n_samples():
    ids, correct, conf = planted_pool(3)
    est = DeepConf(confidence="tail_confidence", eta=0.5).evaluate(pool_with(conf, ids, correct), 4)
    np.testing.assert_allclose(est.accuracy, brute_force(ids, correct, conf, 4, 0.5))
    np.testing.assert_allclose(est.flops, 1000.0 + 4 * 100.0)
    assert DeepConf(confidence="tail_confidence").scorer == "tail_confidence"


def test_missing_top_k_logprobs_is_one_clear_line():
    ids, correct, conf = planted_pool(3)
    with pytest.raises(UserError, match=r"no top-k logprobs.*sampling\.logprobs=20"):
        DeepConf(confidence="tail_confidence").evaluate(pool_with(np.full(conf.shape, np.nan), ids, correct), 2)
    with pytest.raises(UserError, match="has no 'bottom_group_confidence' scores"):
        DeepConf().evaluate(pool_with(conf, ids, correct), 2)


def test_run_without_logprobs_says_how_to_sample_them(data_dir, tmp_path):
    res = cli_in_process("run", "--backend", "fake", "--data-dir", data_dir, "--limit", 2, "--n", 4, "--output-dir",
                         tmp_path, "--name", "dc", "--strategy", "deepconf")
    assert res.returncode == 2 and "sampling.logprobs=20" in res.stderr and len(res.stderr.strip().splitlines()) == 1


# ---- online: warm-up threshold, early stopping, honest tokens ----------------------------------------------------

class PlantedConfidence(FakeSampler):
    """Trace j of a prompt is planned: its tokens are the words "wJ_T" (T = position), each listing k logprobs -c
    (token confidence c = plan[j][T]); it ends after len(plan[j]) tokens with "\\boxed{answer}". A continuation (a
    prompt ending in "wJ_T") goes on with trace J; a fresh prompt starts the next planned trace."""

    def __init__(self, plans, answers, k=3):
        super().__init__()
        self.plans, self.answers, self.k, self.started = plans, answers, k, 0
        self.requests = []

    def stream(self, prompts, sampling, *, raw=False):
        each = [sampling] * len(prompts) if isinstance(sampling, Sampling) else list(sampling)
        for i, (prompt, s) in enumerate(zip(prompts, each)):
            self.requests.append((prompt, s))
            out = []
            for _ in range(s.n):
                m = re.search(r"w(\d+)_(\d+)$", prompt)
                j, t = (int(m[1]), int(m[2]) + 1) if m else (self.started, 0)
                self.started += not m
                plan = self.plans[j]
                n = min(s.max_tokens, len(plan) - t)
                text = (" " if t else "") + " ".join(f"w{j}_{t + q}" for q in range(n))
                ended = t + n == len(plan)
                out.append(Completion(
                    text=text + (f" \\boxed{{{self.answers[j]}}}" if ended else ""), n_tokens=n,
                    prompt_tokens=len(prompt.split()), logprob=-float(n), finish_reason="stop" if ended else "length",
                    token_logprobs=(-1.0,) * n, top_logprobs=tuple((-c,) * self.k for c in plan[t:t + n])))
            yield i, out


PLANS = [[5.0] * 10, [4.0] * 10, [3.0] * 10, [2.0] * 10,           # warm-up: lowest groups 5, 4, 3, 2
         [5.0] * 20,                                                # never falls: votes
         [5.0] * 6 + [1.0] * 14,                                    # falls at token 8 (window [5, 5, 1, 1])
         [1.0] * 3,                                                 # shorter than a window: never stopped
         [4.0] * 12 + [3.0] * 8]                                    # falls at token 15 ([4, 3, 3, 3] = 3.25)
ANSWERS = [7, 9, 1, 1, 9, 1, 1, 1]


@pytest.mark.parametrize("chunk", [1, 5, 64])
def test_online_stops_exactly_the_falling_traces_and_charges_their_tokens(chunk):
    window, eta = 4, 0.5
    sampler = PlantedConfidence(PLANS, ANSWERS)
    dc = DeepConfOnline(warmup=4, eta=eta, window=window, top_k=3, chunk_tokens=chunk)
    [(_, [voted])] = list(dc.stream(sampler, [Problem(id="p", prompt="q", gold="9")], Sampling(max_tokens=100),
                                    budget=8))
    threshold = np.percentile([5, 4, 3, 2], 100 * (1 - eta))          # 3.5
    assert voted.extra["threshold"] == threshold
    # brute force: a trace falls where a full window's mean first drops below the threshold
    falls = {}
    for j, plan in enumerate(PLANS[4:], start=4):
        means = [np.mean(plan[e - window:e]) for e in range(window, len(plan) + 1)]
        below = [e for e, m in zip(range(window, len(plan) + 1), means) if m < threshold]
        if below:
            falls[j] = below[0]
    assert falls == {5: 8, 7: 15}
    assert [first_drop(PLANS[j], window, threshold) for j in (4, 5, 6, 7)] == [None, 8, None, 15]
    # a stopped trace has generated up to the end of the chunk in which it fell, never more
    spent = {j: min(len(PLANS[j]), math.ceil(e / chunk) * chunk) for j, e in falls.items()}
    full = sum(len(p) for j, p in enumerate(PLANS) if j not in falls)
    assert voted.extra["stopped_traces"] == 2
    assert voted.extra["stopped_tokens"] == sum(spent.values())
    assert voted.extra["overshoot_tokens"] == sum(spent[j] - e for j, e in falls.items())
    assert voted.n_tokens == full + sum(spent.values()) == sum(t for _, t in voted.spend.decode_segments)
    if chunk == 1:   # stopping at every token is the logits processor's exact stop
        assert voted.extra["stopped_tokens"] == 8 + 15 and voted.extra["overshoot_tokens"] == 0
    # vote: warm-up traces at or above 3.5 (5: "7", 4: "9") and trace 4 (5: "9"); trace 6 (mean 1) does not vote
    assert voted.extra["voters"] == 3
    assert voted.text.endswith("\\boxed{9}") and voted.text.startswith("w4_0")
    # no continuation is requested for a stopped or finished trace, nor for a warm-up one
    for m in (re.search(r"w(\d+)_(\d+)$", p) for p, _ in sampler.requests):
        if m:
            j, t = int(m[1]), int(m[2])
            assert j >= 4 and t + 1 < spent.get(j, len(PLANS[j]))


def test_online_segments_sit_at_their_own_positions():
    sampler = PlantedConfidence(PLANS, ANSWERS)
    dc = DeepConfOnline(warmup=4, eta=0.5, window=4, top_k=3, chunk_tokens=5)
    [(_, [voted])] = list(dc.stream(sampler, [Problem(id="p", prompt="q", gold="9")], Sampling(max_tokens=100),
                                    budget=8))
    P = voted.prompt_tokens
    segments = voted.spend.decode_segments
    assert segments[:4] == [(P, 10)] * 4                       # warm-up: whole traces after the prompt
    assert (P, 5) in segments and (P + 5, 5) in segments and (P + 15, 5) in segments   # chunks of trace 4


def test_online_without_top_k_logprobs_is_a_user_error():
    with pytest.raises(UserError, match="top-k logprobs"):
        list(DeepConfOnline(warmup=2).stream(FakeSampler(), [Problem(id="p", prompt="q", gold="1")], Sampling(),
                                             budget=4))


def test_results_name_is_accepted_back():
    # results.json names deepconf by its confidence ("deepconf:bottom_group_confidence"); the analyzer rebuilds the
    # strategy from that name, so it must mean the strategy as configured, and nothing else.
    from testtime.errors import UserError
    from testtime.pipeline.evaluate import make_strategy

    assert make_strategy("deepconf:bottom_group_confidence").confidence == "bottom_group_confidence"
    tail = make_strategy("deepconf:tail_confidence", options={"deepconf": {"confidence": "tail_confidence"}})
    assert tail.scorer == "tail_confidence"
    with pytest.raises(UserError, match="takes no scorer"):
        make_strategy("deepconf:logprob")


def test_an_empty_warmup_trace_counts_as_confidence_zero():
    """One warm-up trace ends at once (no tokens): its confidence is 0 (the reference's compute_least_grouped), so
    the threshold is the percentile of [5, 4, 0, 2], not NaN; traces still stop and the confident ones vote."""
    plans = [[5.0] * 10, [4.0] * 10, [], [2.0] * 10, [5.0] * 20, [5.0] * 6 + [1.0] * 14]
    answers = [7, 9, 1, 1, 9, 1]
    sampler = PlantedConfidence(plans, answers)
    dc = DeepConfOnline(warmup=4, eta=0.5, window=4, top_k=3, chunk_tokens=5)
    [(_, [voted])] = list(dc.stream(sampler, [Problem(id="p", prompt="q", gold="9")], Sampling(max_tokens=100),
                                    budget=6))
    assert voted.extra["threshold"] == np.percentile([5, 4, 0, 2], 50) == 3.0
    assert voted.extra["stopped_traces"] == 1 and voted.extra["voters"] == 3   # 5 ("7"), 4 ("9"), trace 4 ("9")
    assert voted.text.endswith("\\boxed{9}")


def test_token_confidence_with_fewer_logprobs_than_k():
    """A position listing fewer than k tokens averages those it has: finite, never +inf."""
    conf = token_confidence([(-1.0, -2.0, -3.0), (-0.5,)], 5)
    assert conf.tolist() == [2.0, 0.5]
