"""Coverage of the accuracy CIs by simulation: one level (problems) vs two levels (problems, then samples).

Each replicate experiment draws P problems with success probabilities p ~ Beta(a, b) from a population, N samples
per problem, and computes the 95% interval of pass@k at several k with `testtime.analysis.uncertainty`; the target
is the population value E[1 - (1 - p)^k] (what a re-run on new problems and new samples estimates).

    .venv/bin/python scripts/ci_coverage.py --problems 10 --samples 8 --a 0.3 --b 3 --experiments 200
"""

import argparse
from pathlib import Path

import numpy as np
from scipy.special import betaln

from testtime.analysis.pools import RunPools
from testtime.analysis.uncertainty import evaluate_cells, interval
from testtime.store.pool import Pool


def planted_pool(rng, P, N, a, b) -> Pool:
    p = rng.beta(a, b, P)
    correct = rng.random((P, N)) < p[:, None]
    return Pool(problem_ids=tuple(f"p{i:03d}" for i in range(P)), answer_ids=np.where(correct, 0, 1),
                correct=correct, output_tokens=np.full((P, N), 10), prompt_tokens=np.full(P, 5),
                decode_flops=np.full((P, N), 1000.0), prefill_flops=np.full(P, 100.0))


def truth(k, a, b) -> float:
    """E[1 - (1 - p)^k] for p ~ Beta(a, b)."""
    return float(1 - np.exp(betaln(a, b + k) - betaln(a, b)))


def coverage(*, problems, samples, a, b, experiments, n_boot, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    ks = sorted({1, max(1, samples // 2), samples})
    hits = {(lv, k, c): 0 for lv in ("problems", "both") for k in ks for c in ("centred", "raw")}
    widths = {(lv, k): [] for lv in ("problems", "both") for k in ks}
    for e in range(experiments):
        pool = planted_pool(rng, problems, samples, a, b)
        run = RunPools(path=Path("sim"), run="sim", model="m", benchmark="b", pool=pool)
        for lv in ("problems", "both"):
            cells = evaluate_cells([run], n_boot=n_boot, levels=lv, seed=e, ns={"sim": ks},
                                   strategies=["pass_at_k"])
            for key, acc in cells.point.items():
                k = key[4]
                means = cells.replicate_means(key)
                for c, centre in (("centred", float(acc.mean())), ("raw", None)):
                    lo, hi = interval(means, centre=centre)
                    hits[(lv, k, c)] += lo - 1e-12 <= truth(k, a, b) <= hi + 1e-12
                lo, hi = interval(means, centre=float(acc.mean()) if lv == "both" else None)
                widths[(lv, k)].append(hi - lo)
    return {"ks": ks, "coverage": {key: v / experiments for key, v in hits.items()},
            "width": {key: float(np.mean(v)) for key, v in widths.items()}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=10)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--a", type=float, default=0.3)
    ap.add_argument("--b", type=float, default=3.0)
    ap.add_argument("--experiments", type=int, default=200)
    ap.add_argument("--n-boot", type=int, default=200)
    args = ap.parse_args()
    out = coverage(problems=args.problems, samples=args.samples, a=args.a, b=args.b, experiments=args.experiments,
                   n_boot=args.n_boot)
    print(f"P={args.problems} N={args.samples} p~Beta({args.a},{args.b}), {args.experiments} experiments")
    print("k    level     coverage(centred)  coverage(raw)  mean width")
    for k in out["ks"]:
        for lv in ("problems", "both"):
            print(f"{k:<4} {lv:<9} {out['coverage'][(lv, k, 'centred')]:>10.3f} {out['coverage'][(lv, k, 'raw')]:>14.3f}"
                  f"  {out['width'][(lv, k)]:>10.4f}")


if __name__ == "__main__":
    main()
