"""Adaptive stopping from a stored pool: samples are taken from a problem's N stored samples in a random order until
a stopping rule fires, capped at n; the expected accuracy, the expected samples and each stored sample's expected
share of generation (its `usage`), at every cap, over all orderings.

Two ways to the expectation:

- `exact_stopping` (rules that read only the vote counts, in a random order: Adaptive-Consistency's Beta and
  Dirichlet criteria, the supermajority of doubling rounds, ESC's unanimous window). Drawing without replacement in
  a uniformly random order is a Markov chain on the number drawn from each answer class, and two classes of the same
  size and correctness are exchangeable, so a state keeps, per such class type, how many of its classes have 0, 1,
  2, ... samples drawn (the many singleton answers of a weak model collapse into one count). The chain is walked
  once to N; every cap n is read off it (stopped before n, or alive at n and voted there). Equal-type classes have
  equal expected draws, so a sample's usage is its type's expected draws over the type's samples. The result is
  cached by the problem's class structure (many problems share one). A problem whose chain holds more than
  `max_states` states at some step is left to Monte Carlo.
- `simulate` (any rule, also ones that read weights or lengths): `n_draws` seeded orderings per problem, vectorised
  over orderings and problems; its standard error is reported. Sequential rules read a random order; parallel ones
  (`order="shortest"`) launch a random size-n subset at once and read the samples as they finish, shortest first
  (ties in random order), and every launched sample is charged up to the stop (`usage` < 1 for those cut off).

Votes follow `expected_majority_vote`: samples without an answer (id -1) abstain, ties are split uniformly, a class
is correct when most of its samples are. A rule's own answer (ESC's unanimous window) replaces the vote where it says.

The package: rules.py (the count rules), chain.py (the exact chain), montecarlo.py (`simulate`), and here `stopping`,
which takes each problem the exact way where it can and the Monte-Carlo way where not.

Example:
    acc, se, samples, usage, exact = stopping(pool.answer_ids, pool.correct, 16, BetaRule(threshold=0.95))
"""

from __future__ import annotations

import numpy as np

from testtime.store.stopping.chain import Outcome, exact_stopping, state_bound, structure
from testtime.store.stopping.montecarlo import Draws, class_cumsum, occurrences, simulate
from testtime.store.stopping.rules import (BetaRule, CountRule, DirichletRule, SupermajorityRule, WindowRule,
                                          beta_stop_probability, dirichlet_top_probability)

__all__ = ["BetaRule", "DirichletRule", "SupermajorityRule", "WindowRule", "CountRule", "Outcome", "stopping",
           "exact_stopping", "simulate", "class_cumsum", "occurrences", "structure", "Draws", "state_bound",
           "beta_stop_probability", "dirichlet_top_probability"]


def stopping(answer_ids, correct, n: int, rule, *, n_draws: int = 2000, seed: int = 0, max_states: int = 20_000):
    """A count rule in a random order, capped at n: exact per problem whose chain is bounded by `max_states` states
    (`state_bound`), Monte Carlo for the rest.

    Returns:
        (accuracy [P], stderr [P] or None when every problem is exact, samples [P], usage [P, N], exact [P]).
    """
    acc, samples, usage, _, exact = exact_stopping(answer_ids, correct, n, rule, max_states=max_states)
    se = np.zeros(len(acc))
    if not exact.all():
        rest = ~exact
        a, s, m, u = simulate(np.asarray(answer_ids)[rest], np.asarray(correct)[rest], n, rule, n_draws=n_draws,
                              seed=seed)
        acc[rest], se[rest], samples[rest], usage[rest] = a, s, m, u
    return acc, (None if exact.all() else se), samples, usage, exact
