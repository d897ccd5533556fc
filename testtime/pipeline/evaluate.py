"""Selection strategies at every budget, from one stored pool: accuracy with bootstrap CIs, tokens and FLOPs.

Example:
    rows = evaluate(pool, [make_strategy("majority_vote")], budgets=[1, 2, 4, 8])
    rows[0]   # {"strategy": "majority_vote", "scorer": "none", "n": 1, "accuracy": 0.05, "ci_low": ..., ...}
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from strategies.base import sample_cost
from testtime.errors import UserError
from testtime.pipeline.estimators import bootstrap_ci, budgets as default_budgets
from testtime.pipeline.pool import Pool
from testtime.registry import construct, get

RESULT_COLUMNS = ("strategy", "scorer", "n", "budget", "accuracy", "ci_low", "ci_high", "mc_stderr", "tokens_per_problem",
                  "flops_per_problem", "flops_per_problem_naive", "problems")


def make_strategy(spec: str, default_scorer: str = "logprob", options: dict | None = None):
    """A strategy from "name" or "name:scorer" (e.g. "best_of_n:oracle"); scorer-driven strategies get
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
    elif getattr(cls, "uses_scorer", False):
        get("scorer", default_scorer)
        kwargs.setdefault("scorer", default_scorer)
    return construct("strategy", name, cls, kwargs, fields)


def evaluate(pool: Pool, strategies: Sequence, *, budgets: Sequence[int] | None = None, n_boot: int = 1000,
             seed: int = 0) -> list[dict]:
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
            rows.append({"strategy": strategy.name, "scorer": getattr(strategy, "scorer", "none"), "n": n, "budget": None,
                         "accuracy": mean, "ci_low": lo, "ci_high": hi, "mc_stderr": se,
                         "tokens_per_problem": float(est.tokens.mean()), "flops_per_problem": float(est.flops.mean()),
                         "flops_per_problem_naive": float(est.flops_naive.mean()), "problems": pool.n_problems})
    return rows


def evaluate_budgets(name: str, pools: dict, *, n_boot: int = 1000, seed: int = 0, scorer: str = "none",
                     unit: str = "thinking budget") -> list[dict]:
    """One row per budget of a generation strategy: the expected accuracy of one of its samples (the mean over the
    problem's samples) with a bootstrap CI, and the tokens and FLOPs of one sample. `scorer` names what guided it
    (search strategies), `unit` what its budget counts (tables show it as the column heading)."""
    rows = []
    for budget, pool in sorted(pools.items()):
        est = sample_cost(pool, 1, pool.correct.mean(axis=1))
        mean, lo, hi = bootstrap_ci(est.accuracy, n_boot=n_boot, seed=seed)
        rows.append({"strategy": name, "scorer": scorer, "n": 1, "budget": budget, "budget_unit": unit,
                     "accuracy": mean, "ci_low": lo,
                     "ci_high": hi, "mc_stderr": None, "tokens_per_problem": float(est.tokens.mean()),
                     "flops_per_problem": float(est.flops.mean()),
                     "flops_per_problem_naive": float(est.flops_naive.mean()), "problems": pool.n_problems,
                     "samples_per_problem": pool.n_samples})
    return rows
