"""Selection strategies at every n, generation strategies at every budget, from stored pools: accuracy with bootstrap
CIs, tokens and FLOPs, as ResultRows.

Example:
    rows = evaluate(pool, [make_strategy("majority_vote")], ns=[1, 2, 4, 8])
    rows[0]   # ResultRow(strategy="majority_vote", scorer=None, n=1, accuracy=0.05, ci_low=..., ...)
    grid = evaluate_grid(BudgetForcing(), {64: pool64, 256: pool256}, [make_strategy("majority_vote")])
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from testtime.config import typed_settings
from testtime.errors import UserError
from testtime.registry import construct, get
from testtime.store.estimators import bootstrap_ci, sample_counts
from testtime.store.pool import Pool, sample_cost
from testtime.store.records import ResultRow


def make_strategy(spec: str, default_scorer: str = "logprob", options: dict | None = None):
    """A strategy from "name" or "name:scorer" (e.g. "best_of_n:oracle"); a strategy with a `scorer` setting gets
    `default_scorer` when none is named; `options` maps strategy names to their settings."""
    name, _, scorer = spec.partition(":")
    cls = get("strategy", name)
    kwargs = typed_settings(cls, dict((options or {}).get(name, {})), f"strategy_options.{name}.")
    fields = {f.name for f in dataclasses.fields(cls)}
    if scorer:
        if "scorer" not in fields:
            # A strategy whose scorer is one of its settings (deepconf's `confidence`) is named so in results:
            # "deepconf:bottom_group_confidence" is that strategy as configured, nothing else.
            built = construct("strategy", name, cls, kwargs, fields)
            if built.scorer == scorer:
                return built
            raise UserError(f"strategy {name!r} takes no scorer (got {spec!r})")
        get("scorer", scorer)
        kwargs["scorer"] = scorer
    elif "scorer" in fields:
        get("scorer", default_scorer)
        kwargs.setdefault("scorer", default_scorer)
    return construct("strategy", name, cls, kwargs, fields)


def evaluate(pool: Pool, strategies: Sequence, *, ns: Sequence[int] | None = None, n_boot: int = 1000,
             seed: int = 0) -> list[ResultRow]:
    """One row per (strategy, n), n in `ns` (default 1, 2, 4, ..., N): mean accuracy over problems with its 95%
    bootstrap CI (resamples seeded by `seed`), the Monte-Carlo standard error where the estimate is not exact, and the
    mean tokens and FLOPs per problem."""
    N = pool.n_samples
    ns = sorted(set(ns or sample_counts(N)))
    if ns[0] < 1 or ns[-1] > N:
        raise UserError(f"n must lie in 1..{N} (samples per problem); got {ns}")
    rows = []
    for strategy in strategies:
        for n in ns:
            est = strategy.evaluate(pool, n)
            mean, lo, hi = bootstrap_ci(est.accuracy, n_boot=n_boot, seed=seed)
            se = None if est.stderr is None else float(np.sqrt(np.sum(est.stderr**2)) / len(est.stderr))
            # an adaptive strategy may stop before n: its expected samples go beside its accuracy
            samples = float(np.mean(est.samples)) if getattr(strategy, "adaptive", False) else None
            rows.append(ResultRow(
                strategy=strategy.name, scorer=strategy.scorer, n=n, accuracy=mean, ci_low=lo, ci_high=hi,
                mc_stderr=se, tokens_per_problem=float(est.tokens.mean()), flops_per_problem=float(est.flops.mean()),
                flops_per_problem_naive=float(est.flops_naive.mean()), problems=pool.n_problems,
                oracle=strategy.reads_gold, grading=pool.grading, samples=samples))
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
            problems=pool.n_problems, samples_per_problem=pool.n_samples, grading=pool.grading))
    return rows


def evaluate_grid(generation, pools: dict[int, Pool], selections: Sequence, *, n_boot: int = 1000,
                  seed: int = 0) -> list[ResultRow]:
    """The sequential x parallel grid: each selection strategy over a generation strategy's samples at each budget,
    at n = 1, 2, 4, ..., N, exactly as `evaluate` answers a pool (same estimators, CIs and FLOPs: one shared prefill
    plus n times the budget's mean sample). Only for generation strategies whose samples at a budget are
    independent draws per problem (`independent_samples`: budget forcing); a search's or a vote's records are not.

    Args:
        generation: the generation strategy (its name and budget_unit label the rows).
        pools: budget -> the strategy's stored samples at that budget; every budget on the same problems.
        selections: selection strategies (`make_strategy`).
        n_boot: bootstrap resamples over problems.
        seed: their seed.

    Returns:
        Rows selection by selection, budget by budget, n ascending, with `budget`, `budget_unit`,
        `samples_per_problem` (N) and `generation` set. At n = 1 every strategy's accuracy is the budget's mean.

    Example:
        evaluate_grid(bf, {64: p64, 128: p128}, [make_strategy("majority_vote"), make_strategy("pass_at_k")])
    """
    if not generation.independent_samples:
        raise UserError(f"{generation.name}'s records are not independent samples per problem; selection "
                        "strategies apply only to those of a strategy such as budget_forcing")
    problems = {b: p.problem_ids for b, p in pools.items()}
    if len(set(problems.values())) > 1:
        raise UserError(f"{generation.name}: the budgets' samples are on different problems; finish the run first")
    rows = []
    for strategy in selections:
        for budget, pool in sorted(pools.items()):
            rows += [dataclasses.replace(r, budget=budget, budget_unit=generation.budget_unit,
                                         samples_per_problem=pool.n_samples, generation=generation.name)
                     for r in evaluate(pool, [strategy], n_boot=n_boot, seed=seed)]
    return rows
