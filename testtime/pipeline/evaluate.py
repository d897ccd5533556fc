"""Strategies at every budget, from stored pools: accuracy with bootstrap CIs, tokens and FLOPs, as ResultRows.

Example:
    rows = evaluate(pool, [make_strategy("majority_vote")], budgets=[1, 2, 4, 8])
    rows[0]   # ResultRow(strategy="majority_vote", scorer=None, n=1, accuracy=0.05, ci_low=..., ...)
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from strategies.base import sample_cost
from testtime.errors import UserError
from testtime.pipeline.estimators import bootstrap_ci, budgets as default_budgets
from testtime.pipeline.pool import Pool
from testtime.pipeline.records import ResultRow
from testtime.registry import construct, get


def make_strategy(spec: str, default_scorer: str = "logprob", options: dict | None = None):
    """A strategy from "name" or "name:scorer" (e.g. "best_of_n:oracle"); a strategy with a `scorer` setting gets
    `default_scorer` when none is named; `options` maps strategy names to their settings."""
    name, _, scorer = spec.partition(":")
    cls = get("strategy", name)
    kwargs = dict((options or {}).get(name, {}))
    fields = {f.name for f in dataclasses.fields(cls)}
    if scorer:
        if "scorer" not in fields:
            raise UserError(f"strategy {name!r} takes no scorer (got {spec!r})")
        get("scorer", scorer)
        kwargs["scorer"] = scorer
    elif "scorer" in fields:
        get("scorer", default_scorer)
        kwargs.setdefault("scorer", default_scorer)
    return construct("strategy", name, cls, kwargs, fields)


def evaluate(pool: Pool, strategies: Sequence, *, budgets: Sequence[int] | None = None, n_boot: int = 1000,
             seed: int = 0) -> list[ResultRow]:
    """One row per (strategy, budget): mean accuracy over problems with its 95% bootstrap CI, the Monte-Carlo
    standard error where the estimate is not exact, and the mean tokens and FLOPs per problem."""
    N = pool.n_samples
    ns = sorted(set(budgets or default_budgets(N)))
    if ns[0] < 1 or ns[-1] > N:
        raise UserError(f"budgets must lie in 1..{N} (samples per problem); got {ns}")
    rows = []
    for strategy in strategies:
        for n in ns:
            est = strategy.evaluate(pool, n)
            mean, lo, hi = bootstrap_ci(est.accuracy, n_boot=n_boot, seed=seed)
            se = None if est.stderr is None else float(np.sqrt(np.sum(est.stderr**2)) / len(est.stderr))
            rows.append(ResultRow(
                strategy=strategy.name, scorer=strategy.scorer, n=n, accuracy=mean, ci_low=lo, ci_high=hi,
                mc_stderr=se, tokens_per_problem=float(est.tokens.mean()), flops_per_problem=float(est.flops.mean()),
                flops_per_problem_naive=float(est.flops_naive.mean()), problems=pool.n_problems,
                oracle=strategy.reads_gold))
    return rows


def evaluate_budgets(strategy, pools: dict[int, Pool], *, n_boot: int = 1000, seed: int = 0) -> list[ResultRow]:
    """One row per budget of a generation strategy: the expected accuracy of one of its samples (the mean over the
    problem's samples) with a bootstrap CI, and the tokens and FLOPs of one sample."""
    rows = []
    for budget, pool in sorted(pools.items()):
        est = sample_cost(pool, 1, pool.correct.mean(axis=1))
        mean, lo, hi = bootstrap_ci(est.accuracy, n_boot=n_boot, seed=seed)
        rows.append(ResultRow(
            strategy=strategy.name, scorer=strategy.scorer, n=1, budget=budget, budget_unit=strategy.budget_unit,
            accuracy=mean, ci_low=lo, ci_high=hi, tokens_per_problem=float(est.tokens.mean()),
            flops_per_problem=float(est.flops.mean()), flops_per_problem_naive=float(est.flops_naive.mean()),
            problems=pool.n_problems, samples_per_problem=pool.n_samples))
    return rows
