"""Progress you can trust: the ETA against simulated engines (wide batches and narrow ones, GPU-like and CPU-like
step costs) and recorded vLLM traces, heartbeat lines outside a terminal, the live table on one, and a failing
engine count that never breaks a run."""

import io
import json
import time

import numpy as np
import pytest
from rich.console import Console

from tests.helpers import TESTS
from testtime.report.eta import COMPUTE_BOUND_SHARE, EtaEstimator, makespan, survival
from testtime.report.progress import LiveProgress, fmt_duration


def draw(seed: int, n: int, cap: int, *, to_cap: float = 0.35, median: float = 180, sigma: float = 0.6):
    """Sample lengths: a lognormal body of answers that end (EOS), and a share that runs on to max_tokens."""
    rng = np.random.default_rng(seed)
    lengths = np.exp(rng.normal(np.log(median), sigma, n)).astype(int) + 1
    lengths[rng.random(n) < to_cap] = cap
    return np.minimum(lengths, cap)


def simulate(lengths, *, slots: int, cap: int, step_s, poll_s: float = 1.0):
    """A small engine: `slots` sequences decode at once, one token each per step, the queue fills free slots in
    order. Returns (snapshots every poll_s seconds, the time the last sequence ends)."""
    n = len(lengths)
    tokens_so_far, state = np.zeros(n, int), np.zeros(n, int)   # state: 0 queued, 1 running, 2 finished
    t, tokens, next_poll, admitted, finished, snaps = 0.0, 0, poll_s, 0, [], []
    while True:
        k = min(slots - int((state == 1).sum()), n - admitted)
        state[admitted:admitted + k] = 1
        admitted += k
        run = np.flatnonzero(state == 1)
        if not len(run):
            return snaps, t
        t += step_s(len(run)) if callable(step_s) else step_s
        tokens_so_far[run] += 1
        tokens += len(run)
        ended = run[tokens_so_far[run] >= lengths[run]]
        state[ended] = 2
        finished.extend(tokens_so_far[ended].tolist())
        while t >= next_poll:
            running = [(int(g), cap) for g in tokens_so_far[state == 1]]
            snaps.append((next_poll, tokens, list(finished), running, [cap] * int((state == 0).sum())))
            next_poll += poll_s


def misses(lengths, *, slots, cap, step_s, poll_s=1.0, until_running=0.0, compute_bound=None):
    """Where the ETA misses, as (time, ETA / true time left): off by more than 2x from the first minute (from 5% of
    the run if that is sooner) until the last 10% of the run; in that last 10% (the final stragglers, where 2x is a
    matter of seconds), off by more than 10% of the run. `until_running` stops looking once fewer than that share
    of the sequences is left; `compute_bound` is the engine's hint."""
    snaps, end = simulate(lengths, slots=slots, cap=cap, step_s=step_s, poll_s=poll_s)
    est = EtaEstimator(sequences=len(lengths), max_tokens=cap, compute_bound=compute_bound)
    out = []
    for t, tokens, finished, running, queued in snaps:
        est.observe(t, tokens=tokens, finished=finished, running=running, queued=queued)
        eta, left = est.eta(), end - t
        if t < min(60.0, 0.05 * end) or len(running) + len(queued) < until_running * len(lengths):
            continue
        assert eta is not None
        if not left / 2 <= eta <= 2 * left if left > 0.1 * end else abs(eta - left) > 0.1 * end:
            out.append((round(t), round(eta / left, 2)))
    return out


CASES = {   # name: (lengths, slots, step seconds, the engine's compute_bound hint)
    # the run: 128 problems, n=1, max_tokens 512, all in one batch, ~1 s a step on a CPU: 8.5 minutes
    "wide, 128 at once": (lambda s: draw(s, 128, 512), 256, 1.0, None),
    "wide, 30 problems x 64 on a GPU": (lambda s: draw(s, 30 * 64, 1024), 4096, 0.05, False),
    "narrow, 16 slots for 400": (lambda s: draw(s, 400, 512), 16, 0.1, None),
    "narrow, none to max_tokens": (lambda s: draw(s, 400, 512, to_cap=0.0), 16, 0.1, None),
    # compute-bound (CPU) steps get cheaper as the batch drains
    "wide, step cost grows with the batch": (lambda s: draw(s, 128, 512), 256, lambda b: 0.05 + 0.006 * b, True),
    "64 slots for 400, step cost grows": (lambda s: draw(s, 400, 512), 64, lambda b: 0.05 + 0.006 * b, True),
}


@pytest.mark.parametrize("hinted", [False, True], ids=["no hint", "hint"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", list(CASES))
def test_eta_within_a_factor_of_two_from_the_first_minute(name, seed, hinted):
    """With the engine's compute_bound hint and without it (an engine that does not say)."""
    lengths, slots, step_s, hint = CASES[name]
    lengths = lengths(seed)
    cap = int(lengths.max())
    assert misses(lengths, slots=slots, cap=cap, step_s=step_s, compute_bound=hint if hinted else None) == []


@pytest.mark.parametrize("seed", [0, 1, 2, 6])
def test_eta_of_a_wide_batch_without_runaways(seed):
    """No sample runs to max_tokens (a pure lognormal tail, lighter than the power-law tail the estimator
    extrapolates): the ETA errs long, by at most 2.5x while a quarter of the batch runs, and is never short by
    more than 2x until the last 5% of sequences, whose tail is a guess for anyone."""
    lengths = draw(seed, 128, 1024, to_cap=0.0)
    assert all(r <= 2.5 for _, r in misses(lengths, slots=256, cap=1024, step_s=1.0, until_running=0.25))
    assert all(r > 0.5 for _, r in misses(lengths, slots=256, cap=1024, step_s=1.0, until_running=0.05))


TRACES = json.loads((TESTS / "data" / "eta_traces.json").read_text())["traces"]


@pytest.mark.parametrize("trace", TRACES, ids=[t["name"] for t in TRACES])
def test_eta_on_recorded_vllm_traces(trace):
    """Real engines (tests/data/eta_traces.json: 24 GSM8K prompts x 4 samples in one batch; 64 x 1 through 8
    slots; the default config's 10 x 64 through 512 slots, ~55 s of prefill before every slot decodes, steps priced
    by their batch on the CPU; the same job under the old engine settings, with prefill steps of up to 9.5 s where
    almost nothing decodes, and under the new ones), with the engine's compute_bound hint: within 2x from the first minute (5% of the
    short runs) once tokens flow, to the last 10%, and there within 10% of the run; shown from the first minute."""
    cap, end = trace["max_tokens"], trace["end"]
    est = EtaEstimator(sequences=trace["sequences"], max_tokens=cap, compute_bound=trace["on_cpu"])
    finished, checked = [], 0
    for t, tokens, ended, running, queued in trace["snapshots"]:
        finished += ended
        est.observe(t, tokens=tokens, finished=finished, running=[(g, cap) for g, k in running for _ in range(k)],
                    queued=[cap] * queued)
        eta, left = est.eta(), end - t
        assert eta is not None or t < 60.0, t
        if t >= min(60.0, 0.05 * end) and eta is not None:
            if left > 0.1 * end:
                assert left / 2 <= eta <= 2 * left, (t, eta, left)
            else:
                assert abs(eta - left) <= 0.1 * end, (t, eta, left)
            checked += 1
    assert checked > 0.6 * len(trace["snapshots"])


def test_the_old_formula_read_zero_where_this_one_does_not():
    """The issue's shape: tokens in flight exceed (problems left x tokens per early finisher), so the old ETA was
    0:00 from the first finished problem; the estimator still sees the long ones running to max_tokens."""
    finished = [40, 60]                       # two short answers finished
    running = [(120, 512)] * 126              # the rest are 120 tokens in
    est = EtaEstimator(sequences=128, max_tokens=512)
    est.observe(60.0, tokens=128 * 60, finished=[], running=[(60, 512)] * 128, queued=[])
    est.observe(120.0, tokens=100 + 126 * 120, finished=finished, running=running, queued=[])
    old = max(126 * 50 - 126 * 120, 0)        # left x per-problem - in flight
    assert old == 0
    assert est.eta() == pytest.approx((512 - 120) * 120 / 120, rel=0.5)   # ~392 steps of ~1 s


def test_survival_and_makespan_helpers():
    S = survival([10, 10, 20], [30], max_tokens=100, horizon=100)
    assert S[9] == 1.0 and S[10] == pytest.approx(0.5) and S[20] == pytest.approx(0.25) and S[30] == S[20]
    assert makespan(np.array([3, 5]), np.array([4, 4]), slots=2) == 9   # 3+4, then 5+4
    assert makespan(np.array([3, 5]), np.array([]), slots=8) == 5


class Engine:
    """A live engine count for the reporter: tokens so far, and sequences (finished, running, queued)."""

    compute_bound = None   # the engine's hint: None (unknown) until a test sets it

    def __init__(self, tokens=0):
        self.tokens, self.finished, self.running, self.queued, self.broken = tokens, [], [], [], False

    def tokens_generated(self):
        if self.broken:
            raise RuntimeError("engine gone")
        return self.tokens

    def sequences(self):
        if self.broken:
            raise RuntimeError("engine gone")
        return self.finished, self.running, self.queued


def test_reporter_counts_in_flight_tokens_for_rate_and_eta():
    """A wide batch finishes its problems in a burst at the end: tokens, rate and ETA come from the engine's count
    (in-flight included) before any problem is done; a failing count falls back to finished problems."""
    clock = [100.0]
    engine = Engine(tokens=50)                 # 50 tokens generated before sampling: not this run's
    progress = LiveProgress(Console(file=io.StringIO()), clock=lambda: clock[0])
    progress.phase("sampling")
    engine.running = [(0, 1000)] * 4
    progress.start_sampling(total=4, resumed=0, samples_per_problem=1, max_tokens=1000, engine=engine)
    assert progress.estimator.prior_share == 0.5               # no compute_bound hint: either regime
    engine.compute_bound = True
    progress.start_sampling(total=4, resumed=0, samples_per_problem=1, max_tokens=1000, engine=engine)
    assert progress.estimator.prior_share == COMPUTE_BOUND_SHARE
    progress.poll()
    clock[0], engine.tokens, engine.running = 105.0, 1050, [(250, 1000)] * 4
    assert progress.poll().tokens_per_s == pytest.approx(200.0) and progress.read().eta is None   # one reading
    clock[0], engine.tokens, engine.running = 110.0, 2050, [(500, 1000)] * 4   # 2000 in flight, none finished
    p = progress.poll()
    assert p.tokens == 2000 and p.tokens_per_s == pytest.approx(200.0) and p.done == 0
    assert p.eta == pytest.approx(500 * 4 / 200, rel=0.01)     # to max_tokens: nothing has ended yet
    progress.problem_done(samples=1, tokens=600, correct=1)
    engine.broken = True
    p = progress.poll()
    assert p.done == 1 and p.tokens >= 600 and p.eta == pytest.approx(10.0 / 1 * 3)   # finished problems' rate


def test_heartbeat_outside_a_terminal_while_no_problem_finishes():
    out = io.StringIO()
    console = Console(file=out, width=200)
    assert not console.is_terminal
    engine = Engine()
    with LiveProgress(console, every_s=0.2) as progress:
        assert progress.live is None                       # no Live outside a terminal
        progress.phase("sampling")
        engine.running = [(0, 512)] * 8
        progress.start_sampling(total=8, resumed=0, samples_per_problem=1, max_tokens=512, engine=engine)
        for _ in range(10):                                # a second of sampling, no problem finishes
            time.sleep(0.1)
            engine.tokens += 80
            engine.running = [(g + 10, m) for g, m in engine.running]
        progress.phase("done")
    lines = out.getvalue().splitlines()
    beats = [line for line in lines if "] sampling: 0/8 problems" in line]
    assert len(beats) >= 4, lines                          # the phase line and >= 3 heartbeats in ~1 s
    assert "tok/s" in beats[-1] and "ETA" in beats[-1] and " tokens" in beats[-1]
    assert lines[-1].endswith("done")


def test_live_table_on_a_terminal():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with LiveProgress(console) as progress:
        assert progress.live is not None
        progress.phase("sampling")
        progress.start_sampling(total=2, resumed=1, samples_per_problem=4, max_tokens=64, engine=None)
        progress.problem_done(samples=4, tokens=100, correct=2)
        progress.poll()
    text = out.getvalue()
    assert "sampling" in text and "2/2 (1 resumed)" in text and "50.0%" in text


def test_fmt_duration():
    assert [fmt_duration(s) for s in (None, 0, 59.6, 61, 3723)] == ["-", "0:00", "1:00", "1:01", "1:02:03"]


def test_builtin_samplers_report_live_counts():
    from testtime.sampler import EngineProgress, Sampling
    from testtime.samplers.fake import FakeSampler

    sampler = FakeSampler()
    assert isinstance(sampler, EngineProgress)
    out = sampler.generate(["a", "b"], Sampling(n=3, max_tokens=8))
    finished, running, queued = sampler.sequences()
    assert len(finished) == 6 and sum(finished) == sampler.tokens_generated() == sum(c.n_tokens for o in out for c in o)
    assert running == [] and queued == []


@pytest.mark.parametrize("terminal", [False, True])
def test_a_refused_run_prints_only_its_error_line(terminal, data_dir, tmp_path, capsys, monkeypatch):
    """Bad input, or a run directory of another configuration: no "[0:00] starting" line (nor a table on a
    terminal) before the one-line error, since the run never began."""
    from testtime import cli

    if terminal:
        monkeypatch.setenv("FORCE_COLOR", "1")
    base = ["run", "--backend", "fake", "--data-dir", str(data_dir), "--limit", "2", "--output-dir",
            str(tmp_path / "runs"), "--name", "x"]
    assert cli.main([*base, "--n", "2"]) == 0
    assert "run directory:" in capsys.readouterr().out
    for extra, needle in [(["--temperature", "0.5"], "different configuration"), (["--n", "0"], "--n must be >= 1"),
                          (["--set", "sampling.temperature=-1"], "temperature")]:
        assert cli.main([*base, *extra]) == 2
        out, err = capsys.readouterr()
        assert out == "" and len(err.strip().splitlines()) == 1 and needle in err, (extra, out, err)


def test_nothing_before_the_first_event_but_the_heartbeat():
    from testtime.errors import UserError

    out = io.StringIO()
    with pytest.raises(UserError):
        with LiveProgress(Console(file=out, width=200), every_s=10):
            raise UserError("refused")             # as the runner refuses bad input, before any event
    assert out.getvalue() == ""
    with LiveProgress(Console(file=out, width=200), every_s=0.2):
        time.sleep(0.5)                            # a slow start: still a sign of life in a log
    assert "] starting" in out.getvalue()
