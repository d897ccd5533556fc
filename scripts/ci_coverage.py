"""Coverage of the accuracy CIs by simulation: one level (problems) vs two levels (problems, then samples).

Each replicate experiment draws P problems with success probabilities p ~ Beta(a, b) from a population, N samples
per problem, and computes the 95% interval of pass@k at several k with `testtime.analysis.uncertainty`; the target
is the population value E[1 - (1 - p)^k] (what a re-run on new problems and new samples estimates). Beside each
interval's coverage and mean width it prints the width the estimator's true spread calls for: 2 x 1.96 x the
standard deviation of the point estimate over the experiments (a width ratio above 1 is a wider interval than
needed, below 1 a narrower one), and the Monte-Carlo standard error of the coverage.

    .venv/bin/python scripts/ci_coverage.py --problems 200 --samples 8 --a 0.5 --b 2 --experiments 1000
"""

import argparse
from pathlib import Path

import numpy as np
from scipy.special import betaln, comb
from scipy.stats import betabinom

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


def exact_sd(k, a, b, N, P) -> float:
    """Standard deviation of the point estimate of pass@k (the mean over P problems of the unbiased estimator from N
    samples, 1 - C(N - c, k) / C(N, k)) over new problems and new samples: c ~ BetaBinomial(N, a, b) per problem."""
    c = np.arange(N + 1)
    est = 1 - comb(N - c, k) / comb(N, k)
    w = betabinom.pmf(c, N, a, b)
    return float(np.sqrt((w @ est ** 2 - (w @ est) ** 2) / P))


def two_level_sd(k, a, b, N, P) -> float | None:
    """The standard deviation the two-level resampling implies for pass@1 (k = 1): the one-level variance plus each
    problem's sample noise once more, E[c/N (1 - c/N)] / N per problem (the redraw of its samples); None for k > 1."""
    if k != 1:
        return None
    c = np.arange(N + 1)
    w = betabinom.pmf(c, N, a, b)
    q = c / N
    return float(np.sqrt(exact_sd(1, a, b, N, P) ** 2 + (w @ (q * (1 - q))) / N / P))


def coverage(*, problems, samples, a, b, experiments, n_boot, seed=0, levels=("problems", "both")) -> dict:
    """Coverage (centred and raw), mean width and the point estimates' spread of each level's interval of pass@k.

    Returns:
        dict: ks; coverage[(level, k, "centred" | "raw")]; width[(level, k)] (mean, of the interval as `points`
        reports it: centred at two levels, raw at one); needed[k] (2 x 1.96 x the point estimates' standard
        deviation over the experiments); exact[k] (the same from the closed form, `exact_sd`); experiments.
    """
    rng = np.random.default_rng(seed)
    ks = sorted({1, max(1, samples // 2), samples})
    hits = {(lv, k, c): 0 for lv in levels for k in ks for c in ("centred", "raw")}
    widths = {(lv, k): [] for lv in levels for k in ks}
    estimates = {k: [] for k in ks}
    for e in range(experiments):
        pool = planted_pool(rng, problems, samples, a, b)
        run = RunPools(path=Path("sim"), run="sim", model="m", benchmark="b", pool=pool)
        for lv in levels:
            cells = evaluate_cells([run], n_boot=n_boot, levels=lv, seed=seed + e, ns={"sim": ks},
                                   strategies=["pass_at_k"])
            for key, acc in cells.point.items():
                k = key[4]
                if lv == levels[0]:
                    estimates[k].append(float(acc.mean()))
                means = cells.replicate_means(key)
                for c, centre in (("centred", float(acc.mean())), ("raw", None)):
                    lo, hi = interval(means, centre=centre)
                    hits[(lv, k, c)] += lo - 1e-12 <= truth(k, a, b) <= hi + 1e-12
                lo, hi = interval(means, centre=float(acc.mean()) if lv != "problems" else None)
                widths[(lv, k)].append(hi - lo)
    return {"ks": ks, "experiments": experiments,
            "coverage": {key: v / experiments for key, v in hits.items()},
            "width": {key: float(np.mean(v)) for key, v in widths.items()},
            "needed": {k: float(2 * 1.96 * np.std(v, ddof=1)) for k, v in estimates.items()},
            "exact": {k: 2 * 1.96 * exact_sd(k, a, b, samples, problems) for k in ks}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=10)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--a", type=float, default=0.3)
    ap.add_argument("--b", type=float, default=3.0)
    ap.add_argument("--experiments", type=int, default=200)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = coverage(problems=args.problems, samples=args.samples, a=args.a, b=args.b, experiments=args.experiments,
                   n_boot=args.n_boot, seed=args.seed)
    se = np.sqrt(0.95 * 0.05 / args.experiments)
    print(f"P={args.problems} N={args.samples} p~Beta({args.a},{args.b}), {args.experiments} experiments, "
          f"{args.n_boot} replicates, seed {args.seed}; coverage's Monte-Carlo standard error at 95%: {se:.3f}")
    print("k    level     coverage(centred)  coverage(raw)  mean width  needed (simulated, exact)  ratio to exact")
    for k in out["ks"]:
        for lv in ("problems", "both"):
            w = out["width"][(lv, k)]
            print(f"{k:<4} {lv:<9} {out['coverage'][(lv, k, 'centred')]:>10.3f} {out['coverage'][(lv, k, 'raw')]:>14.3f}"
                  f"  {w:>10.4f}  {out['needed'][k]:>10.4f} {out['exact'][k]:>8.4f}  {w / out['exact'][k]:>12.2f}")


if __name__ == "__main__":
    main()
