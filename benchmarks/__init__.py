"""Benchmarks by name: load one, take a seeded subset of its problems.

Example:
    bench = benchmarks.load("gsm8k", data_dir="../shared/data")
    problems = benchmarks.select(bench.problems(), limit=20, seed=0)
    bench.grade(problems[0], "... \\boxed{18}")

Each benchmark is one file that registers itself; its rows come from `benchmarks.data.read_rows`.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks import (aime24, aime25, aime26, amc23, aqua, beyond_aime, brumo25, gpqa_diamond,  # noqa: F401
                        gsm8k, hmmt_feb25, hmmt_feb26, math500, minerva_math, mmlu_stem, olympiadbench, omni_math,
                        svamp)  # (registers them)
from benchmarks.base import Benchmark, Grade, Problem
from benchmarks.data import read_rows, select
from testtime.registry import get, names

__all__ = ["Benchmark", "Grade", "Problem", "describe", "load", "names", "read_rows", "select"]


def load(name: str, *, data_dir: str | None = None, split: str = "test") -> Benchmark:
    """The registered benchmark `name`, reading from `data_dir` (default: env TESTTIME_DATA_DIR)."""
    return get("benchmark", name)(data_dir=data_dir, split=split)


def describe(name: str, *, data_dir: str | None = None) -> dict:
    """What `testtime list` and docs/benchmarks.md show of a benchmark: problems graded and left out (counted in the
    local copy; the source's size when there is none), its answer type, its public source, and whether it is
    available offline (<data_dir>/<name>/test.jsonl exists)."""
    cls = get("benchmark", name)
    data_dir = data_dir or os.environ.get("TESTTIME_DATA_DIR")
    offline = bool(data_dir) and Path(data_dir, name, "test.jsonl").is_file()
    out = {"name": name, "answer": cls.answer, "source": cls.source, "offline": offline,
           "problems": cls.size, "left_out": None}
    if offline:
        bench = cls(data_dir=data_dir)
        out["problems"] = len(bench.problems())
        out["left_out"] = len(getattr(bench, "excluded", None) or {})
    return out
