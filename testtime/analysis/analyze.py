"""The analyzer: stored runs -> one tidy table, accuracy-vs-FLOPs fits, the frontier, and small-vs-large trade-offs.

One row of the table per (model, benchmark, strategy, scorer, budget n), from each run's results.json, beside the
model's N, training tokens D and training compute 6ND from `testtime.analysis.catalog`. On top of it:
- `fit_curves`: accuracy vs inference FLOPs per problem, per (model, strategy); the family is chosen by held-out
  error on the largest budgets (`testtime.analysis.curves.select_model`), with bootstrap CIs and bands.
- `exchange_rates`: how many times the inference FLOPs of the larger model's single sample the smaller model needs
  to reach the same accuracy, beside the ratio of their training compute, and `break_even_queries`, the query
  volume at which the two cost the same in total (training + queries x inference; Sardana & Frankle 2023, "Beyond
  Chinchilla-Optimal: Accounting for Inference in Language Model Scaling Laws", section 3).
- `frontier`: the accuracy-vs-compute Pareto front over all models, strategies and budgets.
- `continuous_metric`: pass/fail accuracy beside the gold answer's log-probability (a smooth signal).

Example:
    result = analyze(["runs/a", "runs/b"], compare=True, queries=1e9)
    result.table          # pandas DataFrame, one row per (model, benchmark, strategy, scorer, n)
    result.exchange       # one row per (small, large, strategy)
    console.print(result)
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from testtime.analysis.catalog import lookup, training_flops
from testtime.analysis.curves import ExpPower, LogSigmoid, PowerLaw, select_model
from testtime.errors import UserError
from testtime.pipeline.store import Store

KEY = ["model", "benchmark", "strategy", "scorer"]
ORACLE_SCORERS = ("oracle",)
"""Scorers that peek at the gold answer (pass@k, best-of-n by oracle): upper bounds, not deployable strategies."""
EXTRAPOLATE_FACTOR = 1e3
"""With extrapolation on, a fitted curve is followed up to this multiple of the largest measured budget."""
MIN_BUDGETS = 4
"""Distinct budgets needed to fit: 3 to fit the smallest family (ExpPower, 2 parameters) plus 1 held out."""


# ---- loading ---------------------------------------------------------------------------------------------------

def load_runs(paths: Sequence[str | Path]) -> pd.DataFrame:
    """One tidy table from run directories: their results rows, labelled and joined with catalog facts.

    Args:
        paths: run directories (each with manifest.json and results.json).

    Returns:
        DataFrame with columns run, model (a label; "name [run]" when two runs share model and benchmark),
        model_name, benchmark, strategy, scorer, n, budget (a generation strategy's thinking budget, else NaN),
        accuracy, ci_low, ci_high, mc_stderr, tokens_per_problem,
        flops_per_problem, flops_per_problem_naive, problems, params (N), training_tokens (D), training_flops
        (6ND), catalog_note (why a fact is NaN, else "").

    Example:
        table = load_runs(["runs/gsm8k-smollm2-135m-n64"])
    """
    if not paths:
        raise UserError("no run directories given; pass one or more folders under runs/")
    frames, seen = [], set()
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise UserError(f"{path} does not exist; pass a run directory (see `python -m testtime show`)")
        if path.resolve() in seen:
            raise UserError(f"{path} was given twice; pass each run once")
        seen.add(path.resolve())
        frames.append(_load_run(path))
    table = pd.concat(frames, ignore_index=True)
    # Two runs of one model on one benchmark (other temperature, say) stay apart under "name [run]" labels.
    pairs = table.groupby(["model_name", "benchmark"])["run"].nunique()
    shared = {k for k, v in pairs.items() if v > 1}
    table["model"] = [f"{m} [{r}]" if (m, b) in shared else m
                      for m, b, r in zip(table["model_name"], table["benchmark"], table["run"])]
    return table[["run", "model", *[c for c in table.columns if c not in ("run", "model")]]]


def _load_run(path: Path) -> pd.DataFrame:
    manifest = Store.existing(path).manifest()
    results = path / "results.json"
    if not results.is_file():
        raise UserError(f"{path} has no results yet (status: {manifest.get('status', 'unknown')}); "
                        "run the same `python -m testtime run` command again to finish it")
    try:
        rows = json.loads(results.read_text()).get("rows") or []
    except (json.JSONDecodeError, AttributeError):
        raise UserError(f"{results} is not a results file; re-run the same command to rewrite it")
    if not rows:
        raise UserError(f"{path} has no results yet (results.json is empty); re-run the same command to finish it")
    cfg = manifest.get("config", {})
    df = pd.DataFrame(rows)
    numeric = ["n", "budget", "accuracy", "ci_low", "ci_high", "mc_stderr", "tokens_per_problem", "flops_per_problem",
               "flops_per_problem_naive", "problems"]
    for col in numeric:
        df[col] = pd.to_numeric(df[col] if col in df else np.nan, errors="coerce")
    df.insert(0, "run", manifest.get("run_id") or path.name)
    df.insert(1, "model_name", str(cfg.get("model", "unknown")))
    df.insert(2, "benchmark", str(cfg.get("benchmark", "unknown")))
    df["run_path"] = str(path)
    facts = _facts(str(cfg.get("model", "")), manifest.get("model_facts") or {}, cfg.get("model_card") or {})
    for k, v in facts.items():
        df[k] = v
    return df


def _facts(model: str, run_facts: dict, overrides: dict | None = None) -> dict:
    """N, D and 6ND of `model`: the catalog's card with the run config's `model_card` overrides applied."""
    overrides = overrides or {}
    try:
        card = lookup(model)
    except UserError:
        if overrides.get("params") and overrides.get("training_tokens"):
            n, d = float(overrides["params"]), float(overrides["training_tokens"])
            return {"params": n, "training_tokens": d, "training_flops": 6 * n * d,
                    "catalog_note": f"{model!r}: N and D from the run config's model_card"}
        # N is measured from the model's own config.json by the runner; D is published, so it has no fallback.
        n = run_facts.get("params")
        return {"params": float(n) if n else np.nan, "training_tokens": np.nan, "training_flops": np.nan,
                "catalog_note": f"{model!r} is not in the catalog: training tokens D and 6ND unknown"
                                + ("; N from the run's model facts" if n else "; N unknown")}
    card = card.with_overrides(overrides)
    return {"params": float(card.params), "training_tokens": float(card.training_tokens),
            "training_flops": training_flops(card), "catalog_note": ""}


# ---- (a) curve fits --------------------------------------------------------------------------------------------

@dataclass
class CurveFit:
    """A curve fitted to one (model, benchmark, strategy, scorer) series, or the reason it could not be."""

    model: str
    benchmark: str
    strategy: str
    scorer: str
    x_range: tuple[float, float]
    """Smallest and largest measured inference FLOPs per problem."""
    estimator: object | None = None
    """The fitted curves estimator (PowerLaw, LogSigmoid or ExpPower); None when fitting failed."""
    selection: list = field(default_factory=list)
    """select_model's table: held-out error of every candidate family, best first."""
    error: str | None = None
    """Why there is no fit (degenerate data, too few budgets), else None."""

    @property
    def form(self) -> str | None:
        return None if self.estimator is None else type(self.estimator).__name__


def fit_curve(flops, accuracy, *, label: str = "series", n_boot: int = 200, seed: int = 0,
              more: str = "sample more per problem (--n 8 gives 4 budgets)"):
    """Fit accuracy vs inference FLOPs, choosing among PowerLaw, LogSigmoid and ExpPower by held-out error.

    Args:
        flops: inference FLOPs per problem at each budget.
        accuracy: accuracy at each budget (clipped to [0, 1]; bootstrap means can land at -1e-17).
        label: names the series in error messages.
        n_boot: bootstrap refits behind the CIs and bands.
        seed: bootstrap seed.
        more: how to get more budgets, for the too-few-points message.

    Returns:
        (estimator, selection table) as `testtime.analysis.curves.select_model` returns them.

    Raises:
        UserError: one line naming the series: all wrong, all right, flat, or too few budgets.

    Example:
        best, table = fit_curve([1e10, 2e10, 4e10, 8e10], [0.2, 0.3, 0.38, 0.44], label="smollm2 best_of_n")
    """
    x, y = np.asarray(flops, float), np.clip(np.asarray(accuracy, float), 0.0, 1.0)
    if not np.all(np.isfinite(x)) or np.any(x <= 0) or not np.all(np.isfinite(y)):
        raise UserError(f"{label}: inference FLOPs must be positive and accuracy finite at every budget")
    k = len(np.unique(x))
    if k < MIN_BUDGETS:
        raise UserError(f"{label}: too few points to fit ({k} budgets; need at least {MIN_BUDGETS}: "
                        f"3 to fit plus 1 held out); {more}")
    if np.all(y == 0):
        raise UserError(f"{label}: all wrong (accuracy 0 at every budget); nothing to fit")
    if np.all(y == 1):
        raise UserError(f"{label}: all right (accuracy 1 at every budget); nothing to fit")
    if np.all(y == y[0]):
        raise UserError(f"{label}: accuracy is {y[0]:.3g} at every budget; nothing to fit")
    cands = [dataclasses.replace(c, n_boot=n_boot, seed=seed) for c in (PowerLaw(), LogSigmoid(), ExpPower())]
    try:
        return select_model(x, y, cands)
    except UserError as e:
        raise UserError(f"{label}: {e}") from None


def fit_curves(table: pd.DataFrame, *, n_boot: int = 200, seed: int = 0) -> list[CurveFit]:
    """One CurveFit per (model, benchmark, strategy, scorer); a series that cannot be fitted carries the reason in
    `error` instead of stopping the others."""
    fits = []
    for key, g in table.groupby(KEY, sort=False):
        g = g[g["flops_per_problem"] > 0].sort_values("flops_per_problem")
        fit = CurveFit(*key, x_range=(float(g["flops_per_problem"].min()), float(g["flops_per_problem"].max())))
        try:
            generated = "budget" in g and g["budget"].notna().any()   # budgets are thinking budgets, not n
            fit.estimator, fit.selection = fit_curve(
                g["flops_per_problem"], g["accuracy"], n_boot=n_boot, seed=seed, label=" / ".join(key),
                more="pass 4 or more --budgets" if generated else "sample more per problem (--n 8 gives 4 budgets)")
        except UserError as e:
            fit.error = str(e)
        fits.append(fit)
    return fits


def fits_table(fits: Sequence[CurveFit]) -> pd.DataFrame:
    """Fitted parameters with 95% bootstrap CIs, one row per (series, parameter); failed fits get one row with
    their error."""
    rows = []
    for f in fits:
        head = dict(model=f.model, benchmark=f.benchmark, strategy=f.strategy, scorer=f.scorer, form=f.form)
        if f.estimator is None:
            rows.append({**head, "param": None, "value": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                         "at_bound": False, "heldout_mae": np.nan, "error": f.error})
            continue
        mae = f.selection[0]["heldout_mae"] if f.selection else np.nan
        for name, value in f.estimator.params_.items():
            lo, hi = f.estimator.ci_.get(name, (np.nan, np.nan))
            rows.append({**head, "param": name, "value": value, "ci_low": lo, "ci_high": hi,
                         "at_bound": name in getattr(f.estimator, "at_bound_", ()), "heldout_mae": mae, "error": None})
    return pd.DataFrame(rows, columns=[*KEY, "form", "param", "value", "ci_low", "ci_high", "at_bound", "heldout_mae",
                                       "error"])


def curve_points(fits: Sequence[CurveFit], n: int = 100) -> pd.DataFrame:
    """Each fitted curve and its 95% band on `n` log-spaced FLOPs across the measured range (for plots, CSV)."""
    frames = []
    for f in fits:
        if f.estimator is None:
            continue
        x = np.geomspace(*f.x_range, n)
        lo, hi = f.estimator.predict_band(x) if f.estimator.n_boot else (np.full(n, np.nan),) * 2
        frames.append(pd.DataFrame({"model": f.model, "benchmark": f.benchmark, "strategy": f.strategy,
                                    "scorer": f.scorer, "form": f.form, "flops_per_problem": x,
                                    "accuracy_fit": f.estimator.predict(x), "band_low": lo, "band_high": hi}))
    cols = [*KEY, "form", "flops_per_problem", "accuracy_fit", "band_low", "band_high"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


# ---- (b, c) total compute, break-even, exchange rate ----------------------------------------------------------

def total_compute(training_flops, flops_per_query, queries):
    """Lifetime compute of a deployed model: training + queries x inference FLOPs per query (Sardana & Frankle
    2023 count 6ND training plus 2N per inference token; here inference FLOPs are the measured ones)."""
    return np.asarray(training_flops, float) + np.asarray(queries, float) * np.asarray(flops_per_query, float)


def break_even_queries(train_small: float, infer_small: float, train_large: float,
                       infer_large: float) -> tuple[float, str]:
    """The query volume Q* at which the two models' total compute is equal, and what it means.

    Solves train_small + Q infer_small = train_large + Q infer_large: Q* = (train_large - train_small) /
    (infer_small - infer_large), with infer_* the inference FLOPs per query at equal accuracy.

    Returns:
        (Q*, verdict): Q* is inf when the smaller model is cheaper at every volume, 0 when the larger one is, NaN
        when a figure is unknown.

    Example:
        break_even_queries(1e21, 4e10, 7e22, 1e10)   # (2.3e12, "smaller model cheaper below Q*, larger above")
    """
    figures = (train_small, infer_small, train_large, infer_large)
    if not all(np.isfinite(v) for v in figures):
        return np.nan, "unknown (a training or inference figure is missing)"
    saved, extra = train_large - train_small, infer_small - infer_large
    if saved > 0 and extra > 0:
        return saved / extra, "smaller model cheaper below Q*, larger above"
    if saved > 0 or (saved == 0 and extra < 0):
        return np.inf, "smaller model cheaper at every volume"
    if extra < 0:
        return saved / extra, "larger model cheaper below Q*, smaller above"
    if saved == 0 and extra == 0:
        return np.nan, "equal cost at every volume"
    return 0.0, "larger model cheaper at every volume"


def reach_flops(flops, accuracy, target: float, *, fit: CurveFit | None = None, extrapolate: bool = False) -> dict:
    """Inference FLOPs at which a series first reaches `target` accuracy.

    Within the measured range: the first budget at or above the target, interpolated linearly in log FLOPs from
    the budget before it (no fit needed, so no form is assumed). Beyond it, only with `extrapolate=True` and a
    fitted curve: the fit is followed up to EXTRAPOLATE_FACTOR x the largest budget, and the status says so.

    Returns:
        dict with flops (NaN when not reached), status ("reached at the smallest budget", "interpolated",
        "not reached within the measured range", "extrapolated (<form>)", or "not reached by the <form> fit up to
        1000x the largest budget").
    """
    order = np.argsort(flops)
    x, y = np.asarray(flops, float)[order], np.asarray(accuracy, float)[order]
    c = _crossing(x, y, target)
    if np.isfinite(c):
        return {"flops": c, "status": "reached at the smallest budget" if c == x[0] else "interpolated"}
    if not extrapolate or fit is None or fit.estimator is None:
        return {"flops": np.nan, "status": "not reached within the measured range"}
    grid = np.geomspace(x[-1], x[-1] * EXTRAPOLATE_FACTOR, 2000)
    c = _crossing(grid, fit.estimator.predict(grid), target)
    if np.isfinite(c):
        return {"flops": c, "status": f"extrapolated ({fit.form})"}
    return {"flops": np.nan, "status": f"not reached by the {fit.form} fit up to {EXTRAPOLATE_FACTOR:.0f}x the "
                                       "largest budget"}


def _crossing(x, y, target) -> float:
    hit = np.flatnonzero(y >= target - 1e-9)  # equal accuracies can differ in the last bit between estimators
    if not len(hit):
        return np.nan
    i = hit[0]
    if i == 0 or y[i] == y[i - 1]:
        return float(x[i])
    t = min(max((target - y[i - 1]) / (y[i] - y[i - 1]), 0.0), 1.0)
    return float(np.exp(np.log(x[i - 1]) + t * (np.log(x[i]) - np.log(x[i - 1]))))


def exchange_rates(table: pd.DataFrame, fits: Sequence[CurveFit] = (), *, extrapolate: bool = False,
                   queries: float | None = None) -> pd.DataFrame:
    """For every pair of models on a benchmark (smaller N first) and every strategy of the smaller one: the
    inference FLOPs it needs to match the larger model's single-sample (n=1) accuracy, as a multiple of the
    larger model's n=1 FLOPs, beside their training-compute ratio and the break-even query volume.

    The target is the larger model's n=1 accuracy under the same strategy and scorer (at n=1 every selection
    strategy is one sample; its mean over strategies when the larger run lacks that one). The bounds flops_low /
    flops_high are where the smaller model's CI (ci_high, ci_low) crosses the target: NaN when that edge is not
    reached within the measured range. `queries` adds the total compute of each model at that volume.

    Example:
        rates = exchange_rates(load_runs(["runs/small", "runs/large"]))
    """
    fit_of = {(f.model, f.benchmark, f.strategy, f.scorer): f for f in fits}
    rows = []
    for bench, b in table.groupby("benchmark", sort=False):
        sizes = b.groupby("model", sort=False)["params"].first()
        for m1, m2 in combinations(sizes.index, 2):
            if not (np.isfinite(sizes[m1]) and np.isfinite(sizes[m2])):
                continue  # load_runs' catalog_note says why
            small, large = (m1, m2) if sizes[m1] <= sizes[m2] else (m2, m1)
            # A single plain sample: n=1 of a selection strategy (generation strategies report n=1 at every budget).
            L = b[(b["model"] == large) & (b["n"] == 1) & b["budget"].isna()]
            if L.empty:
                continue
            smalls = b[b["model"] == small].sort_values("flops_per_problem")
            for (strategy, scorer), s in smalls.groupby(["strategy", "scorer"], sort=False):
                same = L[(L["strategy"] == strategy) & (L["scorer"] == scorer)]
                ref = same if len(same) else L
                target, large_flops = float(ref["accuracy"].mean()), float(ref["flops_per_problem"].mean())
                x = s["flops_per_problem"].to_numpy()
                reach = reach_flops(x, s["accuracy"], target, fit=fit_of.get((small, bench, strategy, scorer)),
                                    extrapolate=extrapolate)
                t_small, t_large = float(s["training_flops"].iloc[0]), float(L["training_flops"].iloc[0])
                q, verdict = break_even_queries(t_small, reach["flops"], t_large, large_flops)
                if np.isnan(reach["flops"]) and np.isfinite(t_small) and np.isfinite(t_large):
                    verdict = "larger model: the smaller one does not reach its accuracy" + (
                        "" if extrapolate else " in the measured range (--extrapolate follows the fit)")
                row = {"benchmark": bench, "small": small, "large": large, "strategy": strategy, "scorer": scorer,
                       "target_accuracy": target, "target_ci_low": float(ref["ci_low"].mean()),
                       "target_ci_high": float(ref["ci_high"].mean()), "large_flops_n1": large_flops,
                       "small_flops_needed": reach["flops"],
                       "flops_low": _crossing(x, s["ci_high"].to_numpy(), target),
                       "flops_high": _crossing(x, s["ci_low"].to_numpy(), target), "status": reach["status"],
                       "flops_multiplier": reach["flops"] / large_flops, "training_flops_small": t_small,
                       "training_flops_large": t_large, "training_ratio": t_large / t_small,
                       "params_ratio": float(sizes[large] / sizes[small]), "break_even_queries": q,
                       "verdict": verdict}
                if queries is not None:
                    row["queries"] = float(queries)
                    row["total_small"] = float(total_compute(t_small, reach["flops"], queries))
                    row["total_large"] = float(total_compute(t_large, large_flops, queries))
                rows.append(row)
    return pd.DataFrame(rows)


# ---- (d) frontier ----------------------------------------------------------------------------------------------

def frontier(table: pd.DataFrame, *, queries: float | None = None, include_oracles: bool = False) -> pd.DataFrame:
    """The compute-optimal frontier per benchmark: (model, strategy, budget) points that no other point beats on
    both accuracy and compute.

    Args:
        table: load_runs' table.
        queries: when given, compute per query includes training amortised over that many queries
            (training_flops / queries + inference FLOPs); points with unknown training compute drop out.
        include_oracles: keep strategies whose scorer reads the gold answer (pass@k): upper bounds, not choices.

    Returns:
        The frontier rows, cheapest first, with a compute_per_query column; strictly rising accuracy.

    Example:
        frontier(load_runs(["runs/a", "runs/b"]))
    """
    t = table if include_oracles else table[~table["scorer"].isin(ORACLE_SCORERS)]
    t = t.assign(compute_per_query=t["flops_per_problem"] + (0 if queries is None else t["training_flops"] / queries))
    t = t[np.isfinite(t["compute_per_query"]) & np.isfinite(t["accuracy"])]
    keep = []
    for _, b in t.groupby("benchmark", sort=False):
        best = -np.inf
        for i, row in b.sort_values(["compute_per_query", "accuracy"], ascending=[True, False]).iterrows():
            # A tolerance: exact estimators give 0.05 at one budget and 0.05000000000000001 at the next.
            if row["accuracy"] > best + 1e-9:
                keep.append(i)
                best = row["accuracy"]
    return t.loc[keep].reset_index(drop=True)


# ---- (e) a continuous metric -----------------------------------------------------------------------------------

def continuous_metric(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Pass/fail accuracy beside continuous likelihood signals, per run.

    Smooth metrics can show progress that pass/fail accuracy hides (Schaeffer et al. 2023, "Are Emergent Abilities
    of Large Language Models a Mirage?"). The main one is the log-probability the model gives each problem's gold
    answer after the problem and "The final answer is $\\boxed{" (the run's gold.parquet, read from prompt
    logprobs; see testtime.pipeline.runner.gold_likelihoods), averaged over problems: `gold_logprob` (the answer's total, in
    nats), `gold_logprob_per_token` and `gold_prob` (mean of exp(total)). It is NaN for runs made before it existed
    or with gold_likelihood off; re-running the run's command adds it without re-sampling.

    Beside it, from the samples: `mean_logprob_correct`, the mean over the correct samples of their mean token
    logprob (conditioned on success; NaN when nothing was right) and `mean_logprob_all`.

    Returns:
        DataFrame: run, model_name, benchmark, samples, correct_samples, accuracy (mean correctness of a single
        sample), gold_problems, gold_logprob, gold_logprob_per_token, gold_prob, mean_logprob_correct,
        mean_logprob_all.
    """
    rows = []
    for p in paths:
        store = Store.existing(p)
        cfg = store.manifest().get("config", {})
        df = store.table().to_pandas()
        if "group" in df:
            df = df[df["group"] == "sample"]  # the pool of plain samples, not a generation strategy's
        ok = df["correct"].astype(bool)
        lp = pd.to_numeric(df["logprob_mean"], errors="coerce")
        gold = store.gold()
        gold = gold.to_pandas() if gold is not None else pd.DataFrame(
            columns=["problem_id", "gold_logprob_sum", "gold_logprob_mean"])
        if len(df):  # the problems of this run's samples only
            gold = gold[gold["problem_id"].isin(set(df["problem_id"]))]
        total = pd.to_numeric(gold["gold_logprob_sum"], errors="coerce")
        rows.append({"run": store.manifest().get("run_id") or Path(p).name, "model_name": cfg.get("model"),
                     "benchmark": cfg.get("benchmark"), "samples": len(df), "correct_samples": int(ok.sum()),
                     "accuracy": float(ok.mean()) if len(df) else np.nan,
                     "gold_problems": len(gold),
                     "gold_logprob": float(total.mean()) if len(gold) else np.nan,
                     "gold_logprob_per_token": float(pd.to_numeric(gold["gold_logprob_mean"]).mean())
                     if len(gold) else np.nan,
                     "gold_prob": float(np.exp(total).mean()) if len(gold) else np.nan,
                     "mean_logprob_correct": float(lp[ok].mean()) if ok.any() else np.nan,
                     "mean_logprob_all": float(lp.mean()) if len(df) else np.nan})
    return pd.DataFrame(rows)


# ---- the whole analysis ----------------------------------------------------------------------------------------

@dataclass
class Analysis:
    """Everything `analyze` computed; tables are pandas DataFrames, `fits` CurveFit objects."""

    runs: list[str]
    table: pd.DataFrame
    fits: list[CurveFit]
    frontier: pd.DataFrame
    exchange: pd.DataFrame
    signal: pd.DataFrame
    notes: list[str]
    queries: float | None = None
    extrapolate: bool = False

    def save_tables(self, out: str | Path) -> list[Path]:
        """Write points, fits, curves, frontier, exchange and signal as CSV and Parquet under `out`."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, df in (("points", self.table), ("fits", fits_table(self.fits)), ("curves", curve_points(self.fits)),
                         ("frontier", self.frontier), ("exchange", self.exchange), ("signal", self.signal)):
            if df.empty and name == "exchange":
                continue  # a single-model analysis has no exchange rates
            df.to_csv(out / f"{name}.csv", index=False)
            _typed(df).to_parquet(out / f"{name}.parquet", index=False)
            written += [out / f"{name}.csv", out / f"{name}.parquet"]
        return written


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    # Parquet wants one type per column: object columns of numbers-or-None become floats, the rest strings.
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            numeric = out[c].map(lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)))
            out[c] = pd.to_numeric(out[c]) if numeric.all() else out[c].astype("string")
    return out


def analyze(paths: Sequence[str | Path], *, compare: bool = False, queries: float | None = None,
            extrapolate: bool = False, n_boot: int = 200, seed: int = 0) -> Analysis:
    """Load runs, fit every series, find the frontier, and (compare=True) the small-vs-large exchange rates.

    Args:
        paths: run directories.
        compare: also compute exchange rates and break-even volumes; needs two models on one benchmark.
        queries: expected queries Q; adds each model's total compute at Q to the exchange rates.
        extrapolate: let exchange rates follow a fitted curve beyond the measured budgets (flagged in status).
        n_boot: bootstrap refits per curve.
        seed: bootstrap seed.

    Example:
        result = analyze(["runs/a", "runs/b"], compare=True)
    """
    if n_boot < 0:
        raise UserError(f"n_boot must be 0 or more (bootstrap refits per curve); got {n_boot}")
    if queries is not None and not (np.isfinite(queries) and queries > 0):
        raise UserError(f"queries must be a positive number of expected queries; got {queries}")
    table = load_runs(paths)
    if compare:
        counts = table.groupby("benchmark")["model"].nunique()
        if counts.max() < 2:
            raise UserError("compare needs runs of at least two models on the same benchmark; got "
                            + ", ".join(f"{b}: {', '.join(sorted(set(table[table['benchmark'] == b]['model'])))}"
                                        for b in counts.index))
    fits = fit_curves(table, n_boot=n_boot, seed=seed)
    notes = sorted(set(n for n in table["catalog_note"] if n))
    notes += [f"no fit: {f.error}" for f in fits if f.error]
    exchange = exchange_rates(table, fits, extrapolate=extrapolate, queries=queries) if compare else pd.DataFrame()
    if compare and exchange.empty:
        notes.append("no exchange rates: no pair of models with known sizes and an n=1 result on one benchmark")
    return Analysis(runs=[str(p) for p in paths], table=table, fits=fits, frontier=frontier(table), exchange=exchange,
                    signal=continuous_metric(paths), notes=notes, queries=queries, extrapolate=extrapolate)
