"""Benchmarks by name: load one, take a seeded subset of its problems.

Example:
    bench = benchmarks.load("gsm8k", data_dir="../shared/data")
    problems = benchmarks.select(bench.problems(), limit=20, seed=0)
    bench.grade(problems[0], "... \\boxed{18}")

Each benchmark is one file that registers itself; its rows come from `benchmarks.data.read_rows`.
"""

from __future__ import annotations

from benchmarks import aime24, amc23, aqua, gsm8k, math500, mmlu_stem, svamp  # noqa: F401  (registers them)
from benchmarks.base import Benchmark, Grade, Problem
from benchmarks.data import read_rows, select
from testtime.registry import get, names

__all__ = ["Benchmark", "Grade", "Problem", "load", "names", "read_rows", "select"]


def load(name: str, *, data_dir: str | None = None, split: str = "test") -> Benchmark:
    """The registered benchmark `name`, reading from `data_dir` (default: env TESTTIME_DATA_DIR)."""
    return get("benchmark", name)(data_dir=data_dir, split=split)
