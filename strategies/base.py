"""The small protocols every strategy and scorer implements (what a selection strategy returns, `Estimate`, and
its usual spend, `sample_cost`, live beside the pool in testtime.store.pool).

- A *selection* strategy reads a stored pool of N samples per problem and answers any n <= N samples with the
  expected accuracy over all size-n subsets (exact where a closed form exists, Monte Carlo with its standard error
  where not). One pool, every n: sample once, select many times.
- A *generation* strategy drives the sampler itself (continuations, step-wise search) and stores what it generates,
  each record with what it spent (`testtime.sampler.Spend`: segments, continuation prefills, scorer FLOPs;
  handed over as `Completion.spend`).
- A *scorer* ranks samples (higher is better). It is configuration (a frozen dataclass); `bind(engines)` loads what
  it needs through testtime.sampler's `Engines` and returns the bound scorer that scores.

Example:
    strategy = get("strategy", "majority_vote")()
    est = strategy.evaluate(pool, n=8)      # Estimate: per-problem accuracy, tokens and FLOPs at n = 8
"""

from __future__ import annotations

from dataclasses import field
from typing import ClassVar, Iterator, Protocol, Sequence

from benchmarks.base import Problem
from testtime.registry import get
from testtime.sampler import Completion, Engines, Sampler, Sampling
from testtime.store.pool import Estimate, Pool


class BoundScorer(Protocol):
    """A scorer with its model loaded: one score per completion, and what scoring cost."""

    def score(self, problem: Problem, completions: Sequence[Completion]) -> list[float]:
        ...

    def flops(self, problem: Problem, completions: Sequence[Completion]) -> list[float] | None:
        """FLOPs of the scorer's own passes per completion; None for scorers that run no model."""
        ...


class Scorer(Protocol):
    name: ClassVar[str]
    reads_gold: ClassVar[bool]
    """True for the oracle: its score is the gold correctness, which the pool holds already (nothing stored)."""

    def bind(self, engines: Engines) -> BoundScorer:
        """Load what the scorer needs (its model, or the policy's) and return the scorer ready to score."""
        ...


def scorer_reads_gold(name: str | None) -> bool:
    """Whether the registered scorer `name` reads the gold answer (an upper bound, not a deployable choice)."""
    return name is not None and get("scorer", name).reads_gold


class Selection(Protocol):
    kind: ClassVar[str]  # "selection"
    name: ClassVar[str]
    scorer: str | None
    """The scorer it ranks or weighs by; None for none."""
    reads_gold: bool
    """Whether it peeks at the gold answer (pass@k, best-of-n by oracle)."""

    def evaluate(self, pool: Pool, n: int) -> Estimate:
        """Expected accuracy and spend with n samples per problem (1 <= n <= pool.n_samples)."""
        ...

    # Optional, for strategies that stop before n (adaptive stopping): `adaptive: ClassVar[bool] = True` puts their
    # expected samples in the results (ResultRow.samples); `replicate_levels: ClassVar[str] = "problems"` has the
    # analyzer's bootstrap resample problems only for them (testtime.analysis.uncertainty).


class Adaptive:
    """What every adaptive-stopping selection strategy declares (base class of the six that stop before n)."""

    kind: ClassVar[str] = "selection"
    scorer: ClassVar[str | None] = None
    reads_gold: ClassVar[bool] = False
    adaptive: ClassVar[bool] = True
    """It may stop before n: its results carry the expected samples (ResultRow.samples)."""
    replicate_levels: ClassVar[str] = "problems"
    """Its bootstrap replicates resample problems only (each problem's value is already an expectation over
    orderings; re-running it on B resampled pools would take minutes): testtime.analysis.uncertainty."""


class Generation(Protocol):
    kind: ClassVar[str]  # "generation"
    name: ClassVar[str]
    budget_unit: ClassVar[str]
    """What a budget counts ("thinking budget", "candidates per step"); the tables' column heading."""
    scorer: str | None
    """The step scorer a search is guided by; None for none."""
    revision: ClassVar[int]
    """1, bumped when a change makes the strategy store other samples than before (or charge them otherwise); from
    2 on it enters its settings digest (testtime.store.store.generation_group), so a resumed run never mixes
    samples of two revisions."""
    independent_samples: ClassVar[bool]
    """True where the records stored at one budget are independent samples per problem (budget forcing's N traces):
    selection strategies apply to them as to a pool (`testtime.pipeline.evaluate.evaluate_grid`, the sequential x
    parallel grid). False where they are the output of one search or vote."""
    grid_select: tuple[str, ...]
    """The selection strategies ("name" or "name:scorer") the runner applies to those samples at every budget; ()
    for none, and always () where `independent_samples` is False. Budget forcing's is its `select` setting, an
    `evaluation_only` field; the others declare `grid_select: ClassVar[tuple[str, ...]] = ()`."""

    def check_budget(self, budget: int) -> None:
        """Raise ValueError (one sentence naming the fix) if the strategy cannot run at `budget` with its settings;
        the runner asks for every budget before anything is sampled."""
        ...

    def stream(self, sampler: Sampler, problems: Sequence[Problem], sampling: Sampling, *, budget: int,
               scorer: BoundScorer | None = None) -> Iterator[tuple[int, list[Completion]]]:
        """Yield (problem index, its completions) as problems finish, at one budget."""
        ...


def check_positive(name: str, budget: int, unit: str) -> None:
    """The check of a strategy whose every budget >= 1 works."""
    if budget < 1:
        raise ValueError(f"{name}: the budget must be >= 1 {unit}, got {budget}")


EVALUATION_ONLY = "evaluation_only"
"""Field metadata key of a generation strategy's settings that do not shape its samples (its settings digest,
`testtime.store.store.generation_group`, leaves them out, so changing them never re-samples)."""


def evaluation_only(default):
    """A dataclass field for a setting that only changes how stored samples are evaluated, e.g. `select`."""
    return field(default=default, metadata={EVALUATION_ONLY: True})
