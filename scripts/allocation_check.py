"""The compute multiplier's interval against its point, by simulation on planted pools with a known gain.

Each seeded data set has P problems x N samples: half easy (right with p_easy, wrong answers scattered, so majority
vote wins; scores are noise) and half hard (right with p_hard, wrong answers all alike, so the vote loses; right
samples score higher, so best-of-n by the score wins). Binning by difficulty can pick each half's winner, and the
best single strategy cannot: a planted gain of ~2-4x at matched accuracy. For each data set it prints the multiplier
against best single and best-of-N, its 95% interval, the share of bootstrap replicates below the point (about half
when point and replicates measure the same thing) and the verdict.

    .venv/bin/python scripts/allocation_check.py --problems 400 --datasets 6
"""

import argparse
from pathlib import Path

import numpy as np

from testtime.analysis.allocation import allocate
from testtime.analysis.pools import RunPools
from testtime.analysis.uncertainty import evaluate_cells
from testtime.store.pool import Pool


def planted_gain(P: int, N: int = 16, *, seed: int = 0, p_easy: float = 0.8, p_hard: float = 0.4) -> RunPools:
    """A pool where each half of the problems has its own best strategy (module docstring)."""
    rng = np.random.default_rng(seed)
    hard = rng.random(P) < 0.5
    correct = rng.random((P, N)) < np.where(hard, p_hard, p_easy)[:, None]
    wrong = np.where(hard[:, None], 1, rng.integers(1, 1000, (P, N)))
    scores = np.where(hard[:, None], np.where(correct, -1.0, -2.0), 0.0) + rng.normal(0, 0.05, (P, N))
    pool = Pool(problem_ids=tuple(f"p{i:04d}" for i in range(P)), answer_ids=np.where(correct, 0, wrong),
                correct=correct, output_tokens=np.full((P, N), 10), prompt_tokens=np.full(P, 5),
                decode_flops=np.full((P, N), 1e3), prefill_flops=np.full(P, 100.0), scores={"logprob": scores})
    return RunPools(path=Path("planted"), run="planted", model="m", benchmark="b", pool=pool)


def check(*, problems: int, datasets: int, n_boot: int, bins: int = 3, strategies=("majority_vote", "best_of_n:logprob"),
          p_easy: float = 0.8, p_hard: float = 0.4, seed: int = 0) -> list[dict]:
    """One row per (data set, baseline): multiplier, interval, share of replicates below the point, verdict."""
    rows = []
    for d in range(datasets):
        run = planted_gain(problems, seed=seed + d, p_easy=p_easy, p_hard=p_hard)
        cells = evaluate_cells([run], n_boot=n_boot, strategies=list(strategies), seed=seed + d)
        result = allocate(cells, run=run.run, binning="oracle", bins=bins, seed=seed + d)
        for _, s in result.summary.iterrows():
            reps = result.replicates[s["baseline"]]
            rows.append({"dataset": d, "baseline": s["baseline"], "multiplier": s["multiplier"],
                         "low": s["multiplier_low"], "high": s["multiplier_high"],
                         "below": float(np.mean(reps < s["multiplier"])), "verdict": s["verdict"]})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=400)
    ap.add_argument("--datasets", type=int, default=6)
    ap.add_argument("--n-boot", type=int, default=100)
    ap.add_argument("--bins", type=int, default=3)
    ap.add_argument("--p-easy", type=float, default=0.8)
    ap.add_argument("--p-hard", type=float, default=0.4)
    ap.add_argument("--strategies", default="majority_vote,best_of_n:logprob,weighted_majority:logprob")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = check(problems=args.problems, datasets=args.datasets, n_boot=args.n_boot, bins=args.bins,
                 strategies=args.strategies.split(","), p_easy=args.p_easy, p_hard=args.p_hard, seed=args.seed)
    for r in rows:
        print(f"data set {r['dataset']} {r['baseline']:<12} {r['multiplier']:.2f}x [{r['low']:.2f}, {r['high']:.2f}]"
              f"  replicates below the point {r['below']:.2f}  {r['verdict']}")
    print(f"mean share below the point {np.mean([r['below'] for r in rows]):.2f}; verdict gain in "
          f"{sum(r['verdict'].startswith('gain') for r in rows)} of {len(rows)}")


if __name__ == "__main__":
    main()
