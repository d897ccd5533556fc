"""Live progress of a run: a table on a terminal, heartbeat lines everywhere else (CI logs, nohup, Slurm).

`LiveProgress` is the runner's Reporter (testtime.pipeline.events). Outside a terminal a background thread prints one
line at each phase change and at least every `every_s` seconds, whether or not a problem has finished: a wide batch
finishes its problems together at the end, so waiting for finished problems would print nothing for most of a run.
Tokens, tokens/s and the ETA come from the engine's live counts (testtime.sampler.EngineProgress) where it has them;
the ETA is testtime.report.eta's. Nothing is shown before the runner's first event but the heartbeat: a run refused
while it checks its input (a bad setting, a run directory of another configuration) prints only its error line.

Example:
    with LiveProgress(Console()) as progress:
        run(cfg, reporter=progress)
    # outside a terminal:
    # [2:31] sampling: 12/128 problems, 12 samples, 45,678 tokens, 812 tok/s, ETA 6:10, sample acc. 41.7%
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Callable

from rich.console import Console
from rich.live import Live
from rich.table import Table

from testtime.report.eta import EtaEstimator
from testtime.sampler import EngineProgress


def fmt_duration(seconds: float | None) -> str:
    """h:mm:ss or m:ss; "-" for None."""
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass(frozen=True)
class Progress:
    """One reading of the display: the runner's counts, the clock and the engine's live estimates."""

    phase: str = "starting"
    detail: str = ""
    total: int = 0
    resumed: int = 0
    done: int = 0
    samples: int = 0
    tokens: int = 0
    """Tokens generated since sampling began, requests still running included where the engine tells."""
    correct: int = 0
    solved: int = 0
    elapsed: float = 0.0
    tokens_per_s: float = 0.0
    eta: float | None = None

    def line(self) -> str:
        """The heartbeat line."""
        head = f"[{fmt_duration(self.elapsed)}] {self.phase}" + (f" ({self.detail})" if self.detail else "")
        if not self.total or self.phase != "sampling":
            return head
        resumed = f" ({self.resumed} resumed)" if self.resumed else ""
        acc = f"{self.correct / self.samples:.1%}" if self.samples else "-"
        return (f"{head}: {self.done}/{self.total} problems{resumed}, {self.samples:,} samples, "
                f"{self.tokens:,} tokens, {self.tokens_per_s:,.0f} tok/s, ETA {fmt_duration(self.eta)}, "
                f"sample acc. {acc}")

    def __rich__(self) -> Table:
        table = Table(title=self.phase + (f" ({self.detail})" if self.detail else ""), title_justify="left")
        for col in ("problems", "samples", "tokens", "tokens/s", "elapsed", "ETA", "sample acc.", "solved (any)"):
            table.add_column(col, justify="right")
        new = max(self.done - self.resumed, 0)
        resumed = f" ({self.resumed} resumed)" if self.resumed else ""
        table.add_row(f"{self.done}/{self.total}{resumed}", f"{self.samples:,}", f"{self.tokens:,}",
                      f"{self.tokens_per_s:,.0f}", fmt_duration(self.elapsed), fmt_duration(self.eta),
                      f"{self.correct / self.samples:.1%}" if self.samples else "-",
                      f"{self.solved / new:.1%}" if new else "-")
        return table


class LiveProgress:
    """The runner's Reporter for people: a live table on a terminal, heartbeat lines elsewhere. A context manager;
    its thread polls the engine every `poll_s` seconds and stops on exit.

    Args:
        console: where to show progress (stdout; engine logs go to a file, see testtime.samplers.logs).
        every_s: outside a terminal, the longest gap between two lines.
        poll_s: how often the engine's counts are read; at most every_s / 4.
        clock: seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, console: Console | None = None, *, every_s: float = 30.0, poll_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self.console = console or Console()
        self.every_s, self.poll_s, self.clock = every_s, min(poll_s, every_s / 4), clock
        self.started = clock()
        self.progress = Progress()
        self.engine: EngineProgress | None = None
        self.estimator: EtaEstimator | None = None
        self._base = (0, 0)          # the engine's (tokens, finished sequences) when sampling began
        self._sampling_t0: float | None = None
        self._reported_tokens = 0
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="testtime-progress", daemon=True)
        self._last_line = self.started
        self._last_text = ""
        self._entered = False
        self._shown = False   # set by the runner's first event; until then there is nothing to show
        # stderr stays unredirected: engine output written there must reach fd 2 (and so the engine log), not the
        # screen above the table. The table is rebuilt at each refresh so elapsed time ticks between events.
        self.live = Live(console=self.console, refresh_per_second=2, get_renderable=self.read,
                         redirect_stderr=False) if self.console.is_terminal else None

    def __enter__(self) -> "LiveProgress":
        self._entered = True
        if self.live and self._shown:   # an event came before the block
            self.live.__enter__()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if not self._shown:   # refused before it began: the error line says it all
            return
        if self.live:
            self.live.__exit__(*exc)
        elif self.progress.phase != "done" and self.poll().line() != self._last_text:
            self._print()   # where an interrupted or failed run stood

    def _show(self) -> None:
        """The runner's first event: the run has begun, so the live table (on a terminal) starts now."""
        if not self._shown:
            self._shown = True
            if self.live and self._entered:
                self.live.__enter__()

    # ---- the Reporter protocol (called from the runner's thread) -------------------------------------------------

    def phase(self, name: str, detail: str = "") -> None:
        self._show()
        with self._lock:
            changed = name != self.progress.phase
            self.progress = replace(self.progress, phase=name, detail=detail)
        if changed and not self.live and name != "sampling":   # start_sampling announces sampling, with counts
            self._print()

    def start_sampling(self, *, total: int, resumed: int, samples_per_problem: int, max_tokens: int,
                       engine: EngineProgress | None) -> None:
        self._show()
        base, compute_bound = (0, 0), None
        if engine is not None:
            try:
                base = (engine.tokens_generated(), len(engine.sequences()[0]))
                compute_bound = engine.compute_bound
            except Exception:   # a display estimate must never break a run
                engine = None
        with self._lock:
            self.engine, self._base, self._sampling_t0 = engine, base, self.clock()
            self.estimator = EtaEstimator(sequences=(total - resumed) * samples_per_problem, max_tokens=max_tokens,
                                          compute_bound=compute_bound)
            self.progress = replace(self.progress, total=total, resumed=resumed, done=resumed)
        if not self.live:
            self._print()

    def problem_done(self, *, samples: int, tokens: int, correct: int) -> None:
        with self._lock:
            p = self.progress
            self._reported_tokens += tokens
            self.progress = replace(p, done=p.done + 1, samples=p.samples + samples, correct=p.correct + correct,
                                    solved=p.solved + (correct > 0), tokens=max(p.tokens, self._reported_tokens))

    # ---- reading and showing ---------------------------------------------------------------------------------------

    def read(self) -> Progress:
        """The current reading (the live table's renderable)."""
        with self._lock:
            return self.progress

    def poll(self) -> Progress:
        """Read the engine, update the estimates and return the reading (the thread calls this every poll_s)."""
        with self._poll_lock:   # the thread and a phase change may both poll; the estimator is not shared
            return self._poll()

    def _poll(self) -> Progress:
        now = self.clock()
        with self._lock:
            engine, est, t0, base = self.engine, self.estimator, self._sampling_t0, self._base
            sampling = self.progress.phase == "sampling"
        live = None
        if sampling and engine is not None and est is not None and t0 is not None:
            try:
                finished, running, queued = engine.sequences()
                tokens = engine.tokens_generated() - base[0]
                est.observe(now - t0, tokens=tokens, finished=finished[base[1]:], running=running, queued=queued)
                live = (tokens, est.rate()[0] or tokens / max(now - t0, 1e-9), est.eta())
            except Exception:   # never let a failing count break a run: fall back to finished problems
                with self._lock:
                    self.engine = None
        with self._lock:
            p = self.progress
            if sampling and t0 is not None:
                t, new, left = now - t0, p.done - p.resumed, p.total - p.done
                tokens, rate, eta = live or (self._reported_tokens, self._reported_tokens / max(t, 1e-9), None)
                if eta is None and new > 0:
                    eta = t / new * left
                eta = 0.0 if left <= 0 else eta
                p = replace(p, tokens=max(tokens, self._reported_tokens), tokens_per_s=rate, eta=eta)
            self.progress = p = replace(p, elapsed=now - self.started)
        return p

    def _print(self) -> None:
        self._last_line = self.clock()
        self._last_text = self.poll().line()
        self.console.print(self._last_text, highlight=False, soft_wrap=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            p = self.poll()
            # Before the first event too: a slow start (a benchmark from the hub) still shows it is alive.
            if not self.live and p.phase != "done" and self.clock() - self._last_line >= self.every_s:
                self._print()
