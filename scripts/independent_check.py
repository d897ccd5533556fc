"""Recompute a GSM8K run's headline numbers from its stored Parquet parts without importing testtime.

Reads RUN/samples/*.parquet with pandas (the pool: group == "sample"), regrades every sample's text against the
gold answer in the benchmark file with Math-Verify alone (its own extraction: `parse` over the whole text, the last
boxed or plain answer), groups each problem's answers into vote classes by pairwise `verify`, and computes at every
n = 1, 2, 4, ...:

- pass@k by Chen et al. (2021)'s unbiased estimator, 1 - C(N-c, k)/C(N, k), and by brute force over all k-subsets;
- majority@k: the exact mean over all k-subsets of the vote's correctness (ties split evenly, samples without an
  answer abstain, all abstaining is wrong);
- best-of-k by mean token logprob: the exact mean over all k-subsets of the highest-scoring sample's correctness.

Every k with at most 200k subsets (all k of a pool of 16) is enumerated.

Each is printed twice: from its own grades and from the stored `correct` / `answer_id` columns (so a difference
between the two is the grader's, not the estimators'), and beside it testtime's figure from RUN/results.json. Usage:

    python scripts/independent_check.py RUN [--data ../shared/data/gsm8k/test.jsonl]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from math_verify import parse, verify


def gold_answers(path: Path) -> dict[str, str]:
    """GSM8K gold: the number after '####', keyed as the store keys problems (gsm8k/test/<row>)."""
    out = {}
    for i, line in enumerate(path.read_text().splitlines()):
        out[f"gsm8k/test/{i}"] = json.loads(line)["answer"].split("####")[-1].strip().replace(",", "")
    return out


def classes_of(parsed: list) -> list[int]:
    """Vote class per sample: equal ids verify as equal (union of pairwise verify); -1 where nothing parsed."""
    ids = [-1] * len(parsed)
    reps: list[int] = []
    for i, p in enumerate(parsed):
        if not p:
            continue
        for r in reps:
            if verify(parsed[r], p) or verify(p, parsed[r]):
                ids[i] = ids[r]
                break
        else:
            ids[i] = len(reps)
            reps.append(i)
    return ids


def subsets(n_pool: int, k: int) -> np.ndarray:
    """All k-subsets of range(n_pool) as a 0/1 matrix (rows: subsets)."""
    rows = list(itertools.combinations(range(n_pool), k))
    m = np.zeros((len(rows), n_pool), dtype=np.int8)
    for r, c in enumerate(rows):
        m[r, list(c)] = 1
    return m


def majority(masks: np.ndarray, cls: np.ndarray, correct: np.ndarray) -> float:
    """Mean over subsets of the majority vote's correctness (ties split evenly)."""
    n_cls = cls.max() + 1
    if n_cls <= 0:
        return 0.0
    onehot = np.zeros((len(cls), n_cls))
    onehot[cls >= 0, cls[cls >= 0]] = 1
    counts = masks @ onehot                                   # subsets x classes
    class_correct = np.array([correct[cls == c].any() for c in range(n_cls)], dtype=float)
    top = counts.max(axis=1, keepdims=True)
    tied = (counts == top) & (top > 0)
    won = (tied * class_correct).sum(axis=1) / np.maximum(tied.sum(axis=1), 1)
    return float(won.mean())


def best_of(masks: np.ndarray, score: np.ndarray, correct: np.ndarray) -> float:
    """Mean over subsets of the correctness of the highest-scoring sample (ties split evenly)."""
    s = np.where(masks == 1, score[None, :], -np.inf)
    best = s.max(axis=1, keepdims=True)
    tied = (s == best) & (masks == 1)
    return float(((tied * correct[None, :]).sum(axis=1) / tied.sum(axis=1)).mean())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/gsm8k/test.jsonl"))
    a = ap.parse_args()
    df = pd.read_parquet(a.run / "samples")
    df = df[df["group"] == "sample"].sort_values(["problem_id", "sample_index"])
    golds = gold_answers(a.data)
    per_problem = []
    agree = total = 0
    differ: list[str] = []
    for pid, g in df.groupby("problem_id", sort=False):
        gold = parse(golds[pid])
        parsed = [parse(t) for t in g["text"]]
        mine = np.array([bool(p) and verify(gold, p) for p in parsed])
        agree += int((mine == g["correct"].to_numpy()).sum())
        for i in np.flatnonzero(mine != g["correct"].to_numpy()):
            differ.append(f"  {pid} sample {int(g['sample_index'].iloc[i])}: gold {golds[pid]}, Math-Verify alone "
                          f"parsed {parsed[i][1] if len(parsed[i]) > 1 else parsed[i]} ({'right' if mine[i] else 'wrong'}), "
                          f"stored answer {g['answer'].iloc[i]!r} ({'right' if not mine[i] else 'wrong'})")
        total += len(g)
        per_problem.append({"mine": mine, "stored": g["correct"].to_numpy().astype(bool),
                            "cls_mine": np.array(classes_of(parsed)), "cls_stored": g["answer_id"].to_numpy(),
                            "score": g["logprob_mean"].to_numpy(dtype=float)})
    n_pool = min(len(p["mine"]) for p in per_problem)
    print(f"{a.run.name}: {len(per_problem)} problems x {n_pool} samples; Math-Verify alone agrees with the stored "
          f"grade on {agree}/{total} samples ({agree / total:.2%})")
    print("\n".join(differ[:10]))
    # brute force over every k-subset: where there are at most 200k of them (all k of an n = 16 pool)
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64) if k <= n_pool and math.comb(n_pool, k) <= 200_000]
    rows = []
    for k in ks:
        masks = subsets(n_pool, k)
        row = {"n": k}
        for which, corr_key, cls_key in (("mine", "mine", "cls_mine"), ("stored", "stored", "cls_stored")):
            chen = np.mean([1 - math.comb(n_pool - c, k) / math.comb(n_pool, k)
                            for c in (int(p[corr_key][:n_pool].sum()) for p in per_problem)])
            brute = np.mean([float((masks @ p[corr_key][:n_pool].astype(int) > 0).mean()) for p in per_problem])
            assert abs(chen - brute) < 1e-9, (k, chen, brute)
            row[f"pass@k {which}"] = chen
            row[f"majority {which}"] = np.mean([majority(masks, p[cls_key][:n_pool], p[corr_key][:n_pool])
                                                for p in per_problem])
            row[f"best-of logprob {which}"] = np.mean([best_of(masks, p["score"][:n_pool], p[corr_key][:n_pool])
                                                       for p in per_problem])
        rows.append(row)
    table = pd.DataFrame(rows).set_index("n")
    # testtime's own figures from its results.json (a file it wrote; nothing of testtime is imported)
    results = a.run / "results.json"
    if results.exists():
        got = {(r["strategy"], r["scorer"], r["n"]): r["accuracy"] for r in json.loads(results.read_text())["rows"]
               if r.get("generation") is None}
        for col, key in (("pass@k testtime", ("pass_at_k", None)), ("majority testtime", ("majority_vote", None)),
                         ("best-of logprob testtime", ("best_of_n", "logprob"))):
            table[col] = [got.get((*key, k), np.nan) for k in table.index]
        table = table[[c for w in ("pass@k", "majority", "best-of logprob") for c in table.columns
                       if c.startswith(w + " ")]]
    table.columns = pd.MultiIndex.from_tuples([tuple(c.rsplit(" ", 1)) for c in table.columns])
    with pd.option_context("display.float_format", "{:.2%}".format, "display.width", 250,
                           "display.max_columns", None):
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
