"""What the runner tells whoever watches it: a small protocol of events, no state.

The runner calls these as it goes; the reporter (testtime.report.progress: a live table on a terminal, heartbeat
lines elsewhere) keeps the counts, the rate and the ETA. `NullReporter` ignores everything (the Python API's
default).

Example:
    run(cfg, reporter=LiveProgress(console))
"""

from __future__ import annotations

from typing import Protocol

from testtime.sampler import EngineProgress


class Reporter(Protocol):
    def phase(self, name: str, detail: str = "") -> None:
        """A new phase ("loading model", a built-in model's one-time install or conversion, "scoring stored
        samples", "sampling", "evaluating", "done") or progress within one (`detail`, e.g. "12/30 problems")."""
        ...

    def start_sampling(self, *, total: int, resumed: int, samples_per_problem: int, max_tokens: int,
                       engine: EngineProgress | None) -> None:
        """Sampling begins: `total` problem jobs of which `resumed` were already stored; each problem asks for
        `samples_per_problem` samples of at most `max_tokens` tokens; `engine` reports the engine's live token
        counts (None when the backend cannot)."""
        ...

    def problem_done(self, *, samples: int, tokens: int, correct: int) -> None:
        """One problem's samples were graded and stored."""
        ...


class NullReporter:
    """Ignores every event."""

    def phase(self, name: str, detail: str = "") -> None:
        pass

    def start_sampling(self, *, total: int, resumed: int, samples_per_problem: int, max_tokens: int,
                       engine: EngineProgress | None) -> None:
        pass

    def problem_done(self, *, samples: int, tokens: int, correct: int) -> None:
        pass
