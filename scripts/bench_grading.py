"""Grading and vote-class speed before and after issue 11 (point 4), and whether the vote classes stay identical.

Two pools: the stored 10 x 64 GSM8K pool of the default model (runs/gsm8k-smollm2-135m-n64-e677eecf, when it is
there), and a synthetic n = 256 pool with ~150 distinct answers per problem in realistic surface forms (integers,
decimals, "1,000", fractions, "x = 5", expressions, units, LaTeX variants, sets, a small model's prose), written as
responses around the stored pool's texts. "before" is the pairwise algorithm kept in tests/benchmarks/test_grading.py as
the reference; "after" is benchmarks/grading.py. Each measurement runs in a fresh process, after one warm-up problem
(sympy and the LaTeX parser warm up over a run's first problems), grading every sample and then grouping every
problem's answers, as testtime/pipeline/samples.py does.

    .venv/bin/python scripts/bench_grading.py                        # both pools, before and after (minutes)
    .venv/bin/python scripts/bench_grading.py --problems 2 --no-before
    .venv/bin/python scripts/bench_grading.py --write-fixture        # tests/data/vote_classes.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORED = ROOT / "runs" / "gsm8k-smollm2-135m-n64-e677eecf"
FIXTURE = ROOT / "tests" / "data" / "vote_classes.json"
sys.path[:0] = [str(ROOT)]


def stored_pool(run: Path = STORED) -> list[dict]:
    """The stored run's pool: gold, responses, and the answers and vote classes the run stored."""
    import pandas as pd

    samples = pd.concat(pd.read_parquet(f) for f in sorted((run / "samples").glob("*.parquet")))
    if "group" in samples:
        samples = samples[samples["group"] == "sample"]
    gold = dict(pd.read_parquet(run / "gold.parquet")[["problem_id", "gold"]].values)
    problems = []
    for pid, rows in samples.sort_values(["problem_id", "sample_index"]).groupby("problem_id", sort=True):
        problems.append(dict(problem_id=pid, gold=gold[pid], texts=list(rows.text),
                             answers=[a if isinstance(a, str) else None for a in rows.answer],
                             ids=[int(i) for i in rows.answer_id]))
    return problems


# ---- the synthetic pool -----------------------------------------------------------------------------------------


def _integer(v: int, rng: random.Random) -> str:
    """One way a model writes the integer v."""
    a = rng.randint(1, max(1, v - 1)) if v > 1 else 0
    forms = [(40, f"{v}"), (4, f"{v}.0"), (4, f"{v:,}"), (4, f"\\${v}"), (3, f"{v} dollars"),
             (2, f"{v} \\text{{ apples}}"), (3, f"x = {v}"), (2, f"\\frac{{{2 * v}}}{{2}}"), (2, f"{v}\\%"),
             (2, f"{a} + {v - a} = {v}"), (1, f"\\left( {v} \\right)"), (1, f"{v}.00"), (1, f"\\text{{{v}}}"),
             (1, f"{v} \\times 1"), (1, f"\\dfrac{{{3 * v}}}{{3}}"), (1, f"{v} hours")]
    return rng.choices([f for _, f in forms], [w for w, _ in forms])[0]


def _tail(rng: random.Random, prose: list[str]) -> str:
    """A rarely repeated answer: mostly a wrong number, sometimes an expression, an equation, a set, or prose."""
    k, m = rng.randint(2, 60), rng.randint(2, 12)
    kinds = [
        (55, lambda: _integer(rng.randint(1, 2000), rng)),
        (10, lambda: f"{rng.randint(0, 500)}.{rng.randint(1, 99):02d}"),
        (7, lambda: rng.choice([f"\\frac{{{k}}}{{{m}}}", f"{k}/{m}", f"\\dfrac{{{k}}}{{{m}}}",
                                f"-\\frac{{{k}}}{{{m}}}"])),
        (5, lambda: rng.choice([f"\\sqrt{{{k}}}", f"{m}\\sqrt{{{k}}}", f"{m}\\pi", f"2^{{{m}}}",
                                f"\\frac{{\\sqrt{{{k}}}}}{{{m}}}", f"({m}+1)^2", f"{k}e^{{{m}}}"])),
        (4, lambda: rng.choice([f"x = {k}", f"y = {m}x + {k}", f"{m}x = {k}", f"n = {k}",
                                f"x = \\frac{{{k}}}{{{m}}}"])),
        (6, lambda: rng.choice(prose)),
        (2, lambda: rng.choice([f"({k}, {m})", f"{k}, {m}", f"\\{{{k}, {m}\\}}", f"[{m}, {k}]"])),
        (2, lambda: rng.choice([f"{m}.5 \\times 10^{{{m % 4 + 1}}}", f"{k}:{m}", f"{k} \\text{{ cm}}^2",
                                f"{k}^\\circ"])),
    ]
    return rng.choices([f for _, f in kinds], [w for w, _ in kinds])[0]()


def synthetic_pool(problems: int, n: int = 256, seed: int = 0) -> list[dict]:
    """`problems` problems of n responses: 28% the gold, 16% four common wrong values, the rest a long tail."""
    source = stored_pool() if STORED.is_dir() else []
    bodies = [t for p in source for t in p["texts"]] or ["Let me think step by step about the numbers given."]
    prose = sorted({a for p in source for a in p["answers"] if a and re.search(r"[A-Za-z]{4}", a)})
    prose = prose or ["not possible", "the total leftover of 11", "two-thirds of 60, which is 120"]
    rng = random.Random(seed)
    pool = []
    for j in range(problems):
        gold = rng.randint(5, 400)
        common = [gold + 1, gold - 1, 2 * gold, rng.randint(5, 400)]
        texts = []
        for _ in range(n):
            r = rng.random()
            answer = _integer(gold, rng) if r < 0.28 else _integer(rng.choice(common), rng) if r < 0.44 else _tail(
                rng, prose)
            body = rng.choice(bodies)
            r = rng.random()
            if r < 0.85:
                texts.append(f"{body}\n\nThe final answer is $\\boxed{{{answer}}}$.")
            elif r < 0.97:  # no box: the body's own boxes and "####" would win
                texts.append(re.sub(r"\\boxed|\\fbox|####", "", body) + f"\nSo the answer is {answer}.")
            else:
                texts.append("I could not work this one out.")
        pool.append(dict(problem_id=f"synthetic/{j}", gold=str(gold), texts=texts))
    return pool


# ---- one measurement, in a fresh process ------------------------------------------------------------------------


_warm: set[str] = set()  # per process: a worker warms up once


def _measure(pool: list[dict], warmup: dict, algorithm: str) -> dict:
    from benchmarks import grading
    from benchmarks.grading import _clean, extract_answer

    if algorithm == "before":
        from tests.benchmarks import test_grading

        verify, group = test_grading.pairwise_verify, test_grading.pairwise_group_answers
    else:
        verify, group = grading._verify, grading.group_answers

    def grade(gold, text):
        answer = extract_answer(text)
        return answer, answer is not None and verify(_clean(gold), answer)

    if algorithm == "pipeline":   # what a run does: testtime/pipeline/samples.py, strict and flexible
        return _measure_pipeline(pool, warmup)
    if algorithm not in _warm:
        _warm.add(algorithm)
        group([grade(warmup["gold"], t)[0] for t in warmup["texts"]])
    start, cpu = time.perf_counter(), time.process_time()
    grades = [[grade(p["gold"], t) for t in p["texts"]] for p in pool]
    graded = time.perf_counter()
    ids = [group([a for a, _ in g]) for g in grades]
    grouped = time.perf_counter()
    return dict(grade_s=graded - start, group_s=grouped - graded, cpu_s=time.process_time() - cpu, ids=ids,
                answers=[[a for a, _ in g] for g in grades], correct=[[c for _, c in g] for g in grades])


def _measure_pipeline(pool: list[dict], warmup: dict) -> dict:
    # The runner's own call per problem: each sample graded flexibly and strictly, then vote classes under both.
    from benchmarks.base import Problem
    from benchmarks.gsm8k import GSM8K
    from testtime.pipeline.samples import grade_texts

    bench = GSM8K()
    problem = lambda p: Problem(id=p.get("problem_id", "warm-up"), prompt="", gold=p["gold"])  # noqa: E731
    if "pipeline" not in _warm:
        _warm.add("pipeline")
        grade_texts(problem(warmup), warmup["texts"], bench)
    start, cpu = time.perf_counter(), time.process_time()
    out = [grade_texts(problem(p), p["texts"], bench) for p in pool]
    wall = time.perf_counter() - start
    return dict(grade_s=wall, group_s=0.0, cpu_s=time.process_time() - cpu, ids=[ids for _, ids, _ in out],
                answers=[[g.answer for g in grades] for grades, _, _ in out],
                correct=[[g.correct for g in grades] for grades, _, _ in out])


def measure(pool: list[dict], warmup: dict, algorithm: str) -> dict:
    with multiprocessing.get_context("spawn").Pool(1) as worker:
        return worker.apply(_measure, (pool, warmup, algorithm))


def measure_parallel(pool: list[dict], warmup: dict, workers: int) -> dict:
    """"after" with the problems shared among worker processes (sympy objects do not survive pickling, so a
    problem is graded and grouped in one process): what a driver with free cores could do."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(workers + 1)
    with context.Pool(workers, initializer=_warm_up, initargs=(warmup, ready)) as worker:
        ready.wait()
        start = time.perf_counter()
        parts = worker.starmap(_measure, [([p], warmup, "after") for p in pool], chunksize=1)
        wall = time.perf_counter() - start
    merged = {k: sum((r[k] for r in parts), []) for k in ("ids", "answers", "correct")}
    share = sum(r["grade_s"] for r in parts) / max(1e-9, sum(r["grade_s"] + r["group_s"] for r in parts))
    return dict(grade_s=wall * share, group_s=wall * (1 - share), cpu_s=sum(r["cpu_s"] for r in parts), **merged)


def _warm_up(warmup: dict, ready) -> None:
    _measure([], warmup, "after")
    ready.wait()


# ---- report -----------------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=3, help="synthetic problems (n = 256 each)")
    parser.add_argument("--workers", type=int, default=1, help="also time 'after' with the problems shared "
                                                             "among this many processes")
    parser.add_argument("--no-before", action="store_true", help="skip the pairwise algorithm (slow)")
    parser.add_argument("--stored", type=Path, default=STORED, help="a stored GSM8K run directory to time "
                        "(default: the 10 x 64 pool the fixture was recorded from)")
    parser.add_argument("--write-fixture", action="store_true", help=f"write {FIXTURE.relative_to(ROOT)}")
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)
    pools = {}
    if args.stored.is_dir():
        pools["stored 10x64" if args.stored == STORED else f"stored {args.stored.name}"] = stored_pool(args.stored)
    else:
        console.print(f"[yellow]{args.stored} not found: stored pool skipped")
    synthetic = synthetic_pool(args.problems + 1, seed=0)
    pools[f"synthetic {args.problems}x256"] = synthetic[1:]
    warmup = synthetic[0]
    load = os.getloadavg()
    table = Table(title=f"grading + vote classes on {os.cpu_count()} cores (load before: "
                        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    for col in ("pool", "distinct / problem", "algorithm", "grading samples/s", "grouping samples/s",
                "both samples/s", "both samples / CPU s", "problems with other classes", "other grades"):
        table.add_column(col, justify="right" if "/" in col or "other" in col else "left")
    results = {}
    for name, pool in pools.items():
        samples = sum(len(p["texts"]) for p in pool)
        runs = {a: measure(pool, warmup, a) for a in (["after", "pipeline"] if args.no_before
                                                       else ["after", "pipeline", "before"])}
        if args.workers > 1:
            runs[f"after, {args.workers} processes"] = measure_parallel(pool, warmup, args.workers)
        results[name] = runs
        after = runs["after"]
        distinct = sum(len({grading_key(a) for a in answers if a}) for answers in after["answers"]) / len(pool)
        for algorithm, r in runs.items():
            if algorithm.startswith(("after", "pipeline")):
                reference = runs.get("before") or ({"ids": [p["ids"] for p in pool]} if "ids" in pool[0] else None)
            else:
                reference = after
            differ = "-" if reference is None else str(sum(a != b for a, b in zip(r["ids"], reference["ids"])))
            regraded = "-" if "before" not in runs else str(sum(
                a != b for x, y in zip(r["correct"], runs["before"]["correct"]) for a, b in zip(x, y)))
            grading, grouping = ((f"{samples / r['grade_s']:.0f}", f"{samples / r['group_s']:.0f}") if r["group_s"]
                                 else ("-", "-"))   # the pipeline's call does both, per problem
            table.add_row(name, f"{distinct:.0f}", algorithm, grading, grouping,
                          f"{samples / (r['grade_s'] + r['group_s']):.0f}",
                          f"{samples / r['cpu_s']:.0f}", differ, regraded)
    load = os.getloadavg()
    table.caption = f"load after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; per CPU s: what one free core would do " \
                    "(other jobs share this machine); 'after' rows compare with 'before' (or the stored run's classes)"
    console.print(table)
    if args.write_fixture:
        fixture = {"stored": [], "synthetic": []}
        for p in pools.get("stored 10x64", []):
            fixture["stored"].append(dict(problem_id=p["problem_id"], answers=p["answers"], ids=p["ids"]))
        name = f"synthetic {args.problems}x256"
        reference = results[name].get("before")
        if reference is None:
            sys.exit("--write-fixture needs the pairwise reference: drop --no-before")
        for p, answers, ids in zip(pools[name], reference["answers"], reference["ids"]):
            fixture["synthetic"].append(dict(problem_id=p["problem_id"], answers=answers, ids=ids))
        FIXTURE.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
        console.print(f"wrote {FIXTURE.relative_to(ROOT)} ({FIXTURE.stat().st_size // 1024} KB)")


def grading_key(answer: str) -> str:
    from benchmarks.grading import _clean, _key

    return _key(_clean(answer))


if __name__ == "__main__":
    main()
