"""testtime: an inference-time scaling testbed. The public Python API (details in testtime.api):

    run(config, settings)        sample, score, store, evaluate -> Results (a run directory)
    load_results(run_dir)        results as a pandas DataFrame;  Results.load(run_dir) as objects
    load_samples(run_dir)        every stored sample as a DataFrame
    evaluate(run_dir, strategy)  a selection strategy on a stored pool, at every n, without sampling
    analyze(run_dirs)            curve fits, frontier, exchange rates, signal
    RunConfig, load_config, Sampling, Completion, Results, ResultRow, UserError

Names are imported when first used, so `import testtime` (and `python -m testtime --help`) stays light.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "run": "testtime.api", "load_results": "testtime.api", "load_samples": "testtime.api",
    "evaluate": "testtime.api", "analyze": "testtime.api",
    "RunConfig": "testtime.config", "load_config": "testtime.config",
    "Sampling": "testtime.sampler", "Completion": "testtime.sampler",
    "Results": "testtime.store.records", "ResultRow": "testtime.store.records",
    "UserError": "testtime.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'testtime' has no attribute {name!r}")
