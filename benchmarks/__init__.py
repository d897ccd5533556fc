"""Benchmarks by name: load one, take a seeded subset of its problems.

Example:
    bench = benchmarks.load("gsm8k", data_dir="../shared/data")
    problems = benchmarks.select(bench.problems(), limit=20, seed=0)
    bench.grade(problems[0], "... \\boxed{18}")

Each benchmark is one file that registers itself; its rows come from `benchmarks.data.read_rows`.
"""

from __future__ import annotations

from benchmarks import (aime24, aime25, aime26, amc23, aqua, beyond_aime, brumo25, gpqa_diamond,  # noqa: F401
                        gsm8k, hmmt_feb25, hmmt_feb26, math500, minerva_math, mmlu_stem, olympiadbench, omni_math,
                        svamp)  # (registers them)
from benchmarks.base import Benchmark, Grade, Problem
from benchmarks.data import read_rows, select
from testtime.registry import get, names

__all__ = ["Benchmark", "Grade", "Problem", "load", "names", "read_rows", "select"]


def load(name: str, *, data_dir: str | None = None, split: str = "test") -> Benchmark:
    """The registered benchmark `name`, reading from `data_dir` (default: env TESTTIME_DATA_DIR)."""
    return get("benchmark", name)(data_dir=data_dir, split=split)
