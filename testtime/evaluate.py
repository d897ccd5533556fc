"""Selection strategies at every budget, from one stored pool: accuracy with bootstrap CIs, tokens and FLOPs.

Example:
    rows = evaluate(pool, [make_strategy("majority_vote")], budgets=[1, 2, 4, 8])
    rows[0]   # {"strategy": "majority_vote", "scorer": "none", "n": 1, "accuracy": 0.05, "ci_low": ..., ...}
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from testtime.errors import UserError
from testtime.estimators import bootstrap_ci, budgets as default_budgets
from testtime.pool import Pool
from testtime.registry import get

RESULT_COLUMNS = ("strategy", "scorer", "n", "accuracy", "ci_low", "ci_high", "mc_stderr", "tokens_per_problem",
                  "flops_per_problem", "flops_per_problem_naive", "problems")


def make_strategy(spec: str, default_scorer: str = "logprob"):
    """A strategy from "name" or "name:scorer" (e.g. "best_of_n:oracle"); scorer-driven strategies get
    `default_scorer` when none is named."""
    name, _, scorer = spec.partition(":")
    cls = get("strategy", name)
    if getattr(cls, "kind", "selection") != "selection":
        raise UserError(f"strategy {name!r} generates its own samples; run it with its own config")
    fields = {f.name for f in dataclasses.fields(cls)}
    if scorer:
        if "scorer" not in fields:
            raise UserError(f"strategy {name!r} takes no scorer (got {spec!r})")
        get("scorer", scorer)
        return cls(scorer=scorer)
    if getattr(cls, "uses_scorer", False):
        get("scorer", default_scorer)
        return cls(scorer=default_scorer)
    return cls()


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
            rows.append({"strategy": strategy.name, "scorer": getattr(strategy, "scorer", "none"), "n": n,
                         "accuracy": mean, "ci_low": lo, "ci_high": hi, "mc_stderr": se,
                         "tokens_per_problem": float(est.tokens.mean()), "flops_per_problem": float(est.flops.mean()),
                         "flops_per_problem_naive": float(est.flops_naive.mean()), "problems": pool.n_problems})
    return rows
