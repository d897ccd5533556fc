"""The store: what a run directory holds, below strategies/ in the flow.

    records.py     SampleRecord, ResultRow, Results and the per-problem summary (every file's types)
    manifest.py    Manifest: manifest.json typed (its RunConfig, status, problems, timings, ...), read tolerantly
    store.py       Store: the run directory's samples, appended whole problems at a time, crash-safe; its pools
    reader.py      the read-only sample reader Store.pool and the analyzer share (one rule for short problems)
    pool.py        Pool (N samples x P problems as arrays), Estimate and sample_cost (a strategy's answer and spend)
    estimators.py  pass@k, exact best-of-n and vote expectations, bootstrap CIs
    stopping/      adaptive stopping over random orderings of a pool: rules.py (the count rules), chain.py (the
                   exact chain), montecarlo.py (`simulate`), and `stopping`, which picks per problem

Example:
    from testtime.store import Store
    pool = Store.open(run_dir, sample_key).pool(problem_ids)   # every stored sample of those problems

Names are imported when first used: importing one module (the analyzer reads records.py) loads only what it needs.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "SampleRecord": "testtime.store.records", "ResultRow": "testtime.store.records",
    "Results": "testtime.store.records", "load_summary": "testtime.store.records",
    "Manifest": "testtime.store.manifest",
    "Store": "testtime.store.store", "generation_group": "testtime.store.store",
    "Pool": "testtime.store.pool", "Estimate": "testtime.store.pool", "sample_cost": "testtime.store.pool",
    "usage_cost": "testtime.store.pool",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'testtime.store' has no attribute {name!r}")
