"""An `Analysis` as readable sections: one function per section turns its tables into a DataFrame of formatted
strings (None when the section is empty), registered in reading order with its title. The terminal (rich Tables,
`Analysis.__rich__`, the CLI) and the HTML report show the same sections.

Example:
    result = analyze(["runs/a", "runs/b"], compare=True)
    rich.print(result)                       # warnings, every section as a titled table, notes
    sections(result)["fits"]                 # one section's display DataFrame
    SECTIONS["frontier"].show(result)        # the same, from its function
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import pandas as pd
from rich.table import Table

from testtime.analysis.runs import label

if TYPE_CHECKING:
    from testtime.analysis.result import Analysis


@dataclass(frozen=True)
class Section:
    """One section of the readable analysis."""

    title: str
    """The table's title: what it shows and how its CIs were made."""
    show: Callable[[Analysis], pd.DataFrame | None]
    """Analysis -> DataFrame of formatted strings, or None when the section is empty."""


SECTIONS: dict[str, Section] = {}
"""Section name -> Section, in reading order (the order of registration below)."""


def section(name: str, title: str):
    """Register the decorated function as section `name`, after those registered before it."""
    def register(show):
        SECTIONS[name] = Section(title, show)
        return show
    return register


def sections(analysis: Analysis) -> dict[str, pd.DataFrame]:
    """Section name -> DataFrame of formatted strings, in reading order; empty sections left out."""
    out = {name: s.show(analysis) for name, s in SECTIONS.items()}
    return {name: df for name, df in out.items() if df is not None and not df.empty}


def rich_tables(analysis: Analysis, omit: Sequence[str] = ()) -> list[Table]:
    """The warnings first (no or few shared problems), then one rich Table per section (but those named in `omit`),
    then the notes (catalog gaps, series that could not be fitted)."""
    tables = []
    if analysis.warnings:
        warn = Table(title="warnings", title_justify="left", show_header=False, style="red")
        warn.add_column("warning", overflow="fold", style="bold red")
        for w in analysis.warnings:
            warn.add_row(w)
        tables.append(warn)
    for name, df in sections(analysis).items():
        if name in omit:
            continue
        table = Table(title=SECTIONS[name].title, title_justify="left")
        for col in df.columns:
            table.add_column(str(col), overflow="fold")
        for row in df.itertuples(index=False):
            table.add_row(*(str(v) for v in row))
        tables.append(table)
    if analysis.notes:
        notes = Table(title="notes", title_justify="left", show_header=False)
        notes.add_column("note", overflow="fold")
        for note in analysis.notes:
            notes.add_row(note)
        tables.append(notes)
    return tables


# ---- formatting ---------------------------------------------------------------------------------------------------

def fmt_num(x) -> str:
    """Compact number: '-' for NaN/None, 'inf', else 3 significant digits (scientific when large or small)."""
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "-"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e5 or x == 0 else f"{x:.2e}"


def _pct(x) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.1%}"


def _count(x) -> str:
    return "-" if pd.isna(x) else f"{int(x)}"


def _strategies(df: pd.DataFrame) -> list[str]:
    # "strategy (scorer)", or the strategy alone when it ranks by nothing
    return [label(s, c) for s, c in zip(df["strategy"], df["scorer"])]


def _n(df: pd.DataFrame) -> list[str]:
    # Generation strategies report n=1 at every thinking budget; the budget is what varies.
    budget = df["budget"] if "budget" in df else [np.nan] * len(df)
    return [f"{int(n)}" + ("" if pd.isna(b) else f" (budget {int(b)})") for n, b in zip(df["n"], budget)]


def _ci(a, lo, hi) -> str:
    return f"{_pct(a)} ({_pct(lo)}-{_pct(hi)})"


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df else pd.Series(np.nan, index=df.index)


def _shown(df: pd.DataFrame) -> pd.DataFrame | None:
    return None if df.empty else df


# ---- the sections, in reading order -------------------------------------------------------------------------------

@section("overlap", "problems per benchmark: cross-run figures use only the problems every run shares")
def overlap_section(analysis: Analysis) -> pd.DataFrame | None:
    """Per benchmark: how many runs, the problems they share and each run's problems."""
    o = analysis.overlap
    if o.empty:
        return None
    return pd.DataFrame({"benchmark": o["benchmark"], "runs": o["runs"], "shared problems": o["shared"],
                         "problems per run": o["detail"]})


@section("models", "models (N, D and training compute 6ND from the catalog; measured device and engine time per "
                   "token)")
def models_section(analysis: Analysis) -> pd.DataFrame | None:
    """One row per run: the model's N, D and 6ND, the device and seconds per token, the catalog's note."""
    models = analysis.table.drop_duplicates(["run"])
    return _shown(pd.DataFrame({
        "model": models["model"], "benchmark": models["benchmark"], "run": models["run"],
        "N (params)": models["params"].map(fmt_num), "D (tokens)": models["training_tokens"].map(fmt_num),
        "6ND (FLOPs)": models["training_flops"].map(fmt_num),
        "device": _col(models, "device").fillna("-"),
        "s/token": _col(models, "seconds_per_token").map(fmt_num), "note": models["catalog_note"]}))


@section("results", "accuracy per model, strategy and budget (95% CIs: resampling problems then each problem's "
                    "samples, and problems only)")
def results_section(analysis: Analysis) -> pd.DataFrame | None:
    """One row per (model, benchmark, strategy, scorer, budget): accuracy with both CIs, tokens, FLOPs, seconds
    (and dollars, given a price per hour) per problem."""
    t = analysis.table
    res = {"model": t["model"], "benchmark": t["benchmark"], "strategy": _strategies(t), "n": _n(t),
           "problems": _col(t, "problems").map(_count),
           "accuracy (95% CI)": [_ci(a, lo, hi) for a, lo, hi in zip(t["accuracy"], t["ci_low"], t["ci_high"])],
           "CI resamples": _col(t, "ci_levels").fillna("problems"),
           "CI, problems only": [_ci(a, lo, hi) if np.isfinite(lo) else "-" for a, lo, hi in
                                 zip(t["accuracy"], _col(t, "ci1_low"), _col(t, "ci1_high"))],
           "tokens/problem": t["tokens_per_problem"].map(lambda x: "-" if not np.isfinite(x) else f"{x:,.0f}"),
           "FLOPs/problem": t["flops_per_problem"].map(fmt_num),
           "s/problem": _col(t, "seconds_per_problem").map(fmt_num)}
    # columns only where some row has a figure: expected samples (adaptive stopping), eFLOPs, measured seconds
    expected = _col(t, "expected_samples").astype(float)
    if (np.abs(expected - t["n"].astype(float)) > 1e-9).any():
        res["samples/problem"] = expected.map(lambda x: "-" if not np.isfinite(x) else f"{x:.2f}")
    for col, name in (("eflops_per_problem", "eFLOPs/problem"), ("request_seconds_per_problem",
                                                                 "s/problem (per request)")):
        if np.isfinite(_col(t, col).astype(float)).any():
            res[name] = _col(t, col).map(fmt_num)
    if analysis.price_per_hour:
        res[f"$/problem at ${analysis.price_per_hour:g}/h"] = _col(t, "dollars_per_problem").map(fmt_num)
    if np.isfinite(_col(t, "token_dollars_per_problem").astype(float)).any():
        res["$/problem (per token)"] = _col(t, "token_dollars_per_problem").map(fmt_num)
    return _shown(pd.DataFrame(res))


@section("paired", "paired comparisons on the same problems: difference A - B with its 95% CI resampling problems "
                   "(two-level CI beside it), the sign-flip test's p-value, and p Holm-adjusted within each kind "
                   "(the asked comparisons; every adjacent n of the analysis)")
def paired_section(analysis: Analysis) -> pd.DataFrame | None:
    """The comparisons asked for, then each budget against the next one up."""
    p = analysis.paired
    if p.empty:
        return None
    p = p.sort_values("kind", key=lambda k: k != "asked", kind="stable")
    return pd.DataFrame({
        "kind": p["kind"], "A": p["a"], "B": p["b"], "problems": p["problems"].map(_count),
        "A - B (95% CI)": [f"{d:+.1%} ({lo:+.1%}, {hi:+.1%})" for d, lo, hi in
                           zip(p["difference"], p["ci_low"], p["ci_high"])],
        "p-value": p["p_value"].map(lambda v: f"{v:.3g}"),
        "p (Holm)": _col(p, "p_holm").map(lambda v: "-" if pd.isna(v) else f"{v:.3g}"),
        "two-level CI": [f"({lo:+.1%}, {hi:+.1%})" for lo, hi in zip(p["ci2_low"], p["ci2_high"])]})


@section("allocation", "compute-optimal allocation by difficulty (cross-fitted on held-out halves): FLOPs to reach "
                       "the baseline's best accuracy, the multiplier with its 95% CI, and the p-value of 'no gain' "
                       "Holm-adjusted over every run, binning and baseline shown")
def allocation_section(analysis: Analysis) -> pd.DataFrame | None:
    """One row per (run, binning, baseline): the FLOPs the baseline and the compute-optimal rule need."""
    rows = []
    for a in analysis.allocations:
        for _, r in a.summary.iterrows():
            mult = ("not reached" if not np.isfinite(r["multiplier"]) else f"{r['multiplier']:.2f}x")
            unscored = int(r.get("unscored", 0) or 0)
            rows.append({"model": a.model, "benchmark": a.benchmark, "problems": a.problems,
                         "bins by": ("pass@1 (oracle)" if a.binning == "oracle" else f"mean {a.binning}")
                         + (f" ({unscored} unscored, at the median)" if unscored else ""),
                         "baseline": r["baseline"], "target accuracy": _pct(r["target_accuracy"]),
                         "baseline FLOPs": fmt_num(r["baseline_flops"]),
                         "compute-optimal FLOPs": fmt_num(r["optimal_flops"]),
                         "multiplier [95% CI]": f"{mult} [{r['multiplier_low']:.2f}, {r['multiplier_high']:.2f}]",
                         "replicates reaching it": r["replicates_reached"],
                         "p no gain (Holm)": "-" if pd.isna(r.get("p_holm", np.nan)) else f"{r['p_holm']:.2g}",
                         "reading": r.get("verdict", "")})
    return _shown(pd.DataFrame(rows))


@section("allocation_choices", "what the compute-optimal rule (fitted on all problems) picks per difficulty bin at "
                               "the largest compute")
def allocation_choices_section(analysis: Analysis) -> pd.DataFrame | None:
    """One row per (run, binning, difficulty bin): the cell the rule picks at its largest FLOPs cap."""
    picks = []
    for a in analysis.allocations:
        c = a.choices
        if len(c):
            top = c[c["level"] == c["level"].max()]
            for _, r in top.iterrows():
                picks.append({"model": a.model, "bins by": a.binning, "bin": r["bin"],
                              "difficulty range": r["difficulty_range"], "problems": r["bin_problems"],
                              "choice": r["choice"], "bin accuracy (in-sample)": _pct(r["bin_accuracy"])})
    return _shown(pd.DataFrame(picks))


@section("forecast", "pass@k forecast from the first n' samples per problem vs measured from all of them")
def forecast_section(analysis: Analysis) -> pd.DataFrame | None:
    """One row per (run, k): measured pass@k beside the beta-binomial and Brown forecasts, with the exponent."""
    rows = []
    for run, f, facts in analysis.forecasts:
        lo, hi = facts["alpha_ci"]
        for _, r in f.iterrows():
            rows.append({"model": f["model"].iloc[0], "fitted on": f"first {facts['first']} of {facts['samples']}",
                         "k": int(r["k"]),
                         "measured (95% CI)": "-" if not np.isfinite(r["measured"]) else
                         _ci(r["measured"], r["measured_low"], r["measured_high"]),
                         "beta-binomial [band]": _ci(r["beta"], r["beta_low"], r["beta_high"]),
                         "Brown exp(a k^b) [band]": _ci(r["brown"], r["brown_low"], r["brown_high"]),
                         "exponent alpha [CI]": alpha_text(facts)})
    return _shown(pd.DataFrame(rows))


def alpha_text(facts: dict) -> str:
    """The forecast's exponent as the report shows it: value [CI], or why there is none (a fit stopped at the edge
    of its search, `testtime.analysis.forecast`)."""
    if facts.get("alpha_at_bound"):
        return (f"not identified: fit at its search bound ({', '.join(facts.get('at_bound', ()))}); "
                "the samples show no spread of difficulty")
    lo, hi = facts["alpha_ci"]
    return f"{facts['alpha']:.3g} [{fmt_num(lo)}, {fmt_num(hi)}]"


@section("fits", "accuracy vs inference FLOPs: chosen curve (held-out error) and parameters with 95% bootstrap CIs "
                 "(* at an edge of its search range: not pinned down by the data; unreliable fits are not drawn)")
def fits_section(analysis: Analysis) -> pd.DataFrame | None:
    """One row per series: the chosen curve and its parameters, or why there is none."""
    rows = []
    for f in analysis.fits:
        if f.estimator is None:
            params, form, mae = f.error, "-", "-"
        else:
            ci = f.estimator.ci_
            edge = set(getattr(f.estimator, "at_bound_", ()))
            params = ", ".join(f"{k}={fmt_num(v)}" + ("*" if k in edge else "")
                               + (f" [{fmt_num(ci[k][0])}, {fmt_num(ci[k][1])}]" if k in ci else "")
                               for k, v in f.estimator.params_.items())
            form, mae = f.form, fmt_num(f.selection[0]["heldout_mae"]) if f.selection else "-"
        rows.append({"model": f.model, "benchmark": f.benchmark, "strategy": label(f.strategy, f.scorer),
                     "curve": form, "held-out MAE": mae, "parameters [95% CI]": params,
                     "drawn": "no: " + f.unreliable if getattr(f, "unreliable", None) else
                     ("-" if f.estimator is None else "yes")})
    return _shown(pd.DataFrame(rows))


@section("exchange", "iso-accuracy exchange rate: inference FLOPs the smaller model needs to match the larger one's "
                     "n=1")
def exchange_section(analysis: Analysis) -> pd.DataFrame | None:
    """One row per (small, large, strategy): the FLOPs the small model needs, beside training compute and the
    break-even query volume (and total compute at Q, given queries)."""
    e = analysis.exchange
    if e.empty:
        return None
    ex = pd.DataFrame({
        "small -> large (benchmark)": e["small"] + " -> " + e["large"] + " (" + e["benchmark"] + ")",
        "strategy": _strategies(e),
        "target: large n=1": e["target_accuracy"].map(_pct),
        "small needs FLOPs (x large) [CI]": [
            "-" if not np.isfinite(a) else
            f"{fmt_num(a)} ({fmt_num(m)}x) [{fmt_num(lo)}, {'beyond' if np.isnan(hi) else fmt_num(hi)}]"
            for a, m, lo, hi in
            zip(e["small_flops_needed"], e["flops_multiplier"], e["flops_low"], e["flops_high"])],
        "status": e["status"], "training x": e["training_ratio"].map(fmt_num),
        "break-even Q*": e["break_even_queries"].map(fmt_num), "verdict": e["verdict"]})
    if "queries" in e:
        ex[f"total at Q={fmt_num(analysis.queries)} (small / large)"] = [
            f"{fmt_num(s)} / {fmt_num(l)}" for s, l in zip(e["total_small"], e["total_large"])]
    return ex


@section("frontier", "compute-optimal frontier (accuracy vs inference FLOPs per problem; strategies that read the "
                     "gold answer left out)")
def frontier_section(analysis: Analysis) -> pd.DataFrame | None:
    """The Pareto-optimal points: accuracy and FLOPs per problem."""
    f = analysis.frontier
    return _shown(pd.DataFrame({
        "benchmark": f["benchmark"], "model": f["model"], "strategy": _strategies(f), "n": _n(f),
        "accuracy (95% CI)": [_ci(a, lo, hi) for a, lo, hi in zip(f["accuracy"], f["ci_low"], f["ci_high"])],
        "FLOPs/problem": f["flops_per_problem"].map(fmt_num)}))


@section("cost_frontiers", "the frontier under each cost: FLOPs, eFLOPs (memory traffic at the device's FLOPs per "
                           "byte), device-seconds, seconds measured per request, dollars (strategies that read the "
                           "gold answer left out)")
def cost_frontiers_section(analysis: Analysis) -> pd.DataFrame | None:
    """The Pareto-optimal points under each cost."""
    from testtime.analysis.costs import COSTS

    f = analysis.cost_frontiers
    if f.empty:
        return None
    return pd.DataFrame({
        "cost": f["cost"].map(lambda c: COSTS[c][1]), "benchmark": f["benchmark"], "model": f["model"],
        "strategy": _strategies(f), "n": f["n"].map(_count),
        "accuracy (95% CI)": [_ci(a, lo, hi) for a, lo, hi in zip(f["accuracy"], f["ci_low"], f["ci_high"])],
        "cost/problem": f["cost_per_problem"].map(fmt_num)})


@section("cost_choices", "the compute-optimal choice under each cost: the cheapest cell reaching each accuracy a "
                         "frontier reaches (differ: the costs disagree there)")
def cost_choices_section(analysis: Analysis) -> pd.DataFrame | None:
    """One row per (benchmark, accuracy target): each cost's cheapest cell reaching it."""
    from testtime.analysis.costs import COSTS

    c = analysis.cost_choices
    if c.empty:
        return None
    out = {"benchmark": c["benchmark"], "accuracy >=": c["target_accuracy"].map(_pct)}
    out.update({COSTS[k][1]: c[k] for k in COSTS if k in c.columns})
    out["agree"] = c["agree"].map(lambda a: "yes" if a else "differ")
    return pd.DataFrame(out)


@section("matched", "generation strategies at matched FLOPs: each budget point beside each selection strategy at the "
                    "largest n within its FLOPs per problem, on the problems both hold (95% CIs over problems; paired "
                    "difference generation - selection with its CI, p-value and p Holm-adjusted over every row)")
def matched_section(analysis: Analysis) -> pd.DataFrame | None:
    """One row per (generation budget point, selection strategy): both accuracies and their paired difference."""
    m = analysis.matched
    if m.empty:
        return None
    return pd.DataFrame({
        "benchmark": m["benchmark"], "generation": [f"{g} @ {int(b)}" for g, b in zip(m["generation"], m["budget"])],
        "problems": m["problems"].map(_count), "FLOPs/problem": m["generation_flops"].map(fmt_num),
        "accuracy (95% CI)": [_ci(a, lo, hi) for a, lo, hi in
                              zip(m["generation_accuracy"], m["generation_low"], m["generation_high"])],
        "vs": [f"{s} n={int(n)}" for s, n in zip(m["selection"], m["n"])],
        "its FLOPs (ratio)": [f"{fmt_num(f)} ({r:.2f}x)" for f, r in zip(m["selection_flops"], m["flops_ratio"])],
        "its accuracy (95% CI)": [_ci(a, lo, hi) for a, lo, hi in
                                  zip(m["selection_accuracy"], m["selection_low"], m["selection_high"])],
        "difference (95% CI)": [f"{d:+.1%} ({lo:+.1%}, {hi:+.1%})" for d, lo, hi in
                                zip(m["difference"], m["ci_low"], m["ci_high"])],
        "p-value": m["p_value"].map(lambda v: f"{v:.3g}"),
        "p (Holm)": _col(m, "p_holm").map(lambda v: "-" if pd.isna(v) else f"{v:.3g}")})


def _grid_cells(g: pd.DataFrame) -> dict:
    # The columns the grid and its frontier share.
    return {"model": g["model"], "over": g["generation"], "strategy": _strategies(g),
            "budget": g["budget"].map(_count), "n": g["n"].map(_count),
            "accuracy (95% CI)": [_ci(a, lo, hi) for a, lo, hi in zip(g["accuracy"], g["ci_low"], g["ci_high"])],
            "FLOPs/problem": g["flops_per_problem"].map(fmt_num)}


@section("grid", "sequential x parallel grid: selection strategies over a generation strategy's samples at each "
                 "budget (thinking budget x n; 95% CI over problems; FLOPs = one prefill + n x the budget's mean "
                 "sample; * on the panel's frontier)")
def grid_section(analysis: Analysis) -> pd.DataFrame | None:
    """One row per (run, generation, selection strategy, budget, n), * marking its panel's frontier."""
    g = analysis.grid
    if g.empty:
        return None
    return pd.DataFrame({**_grid_cells(g), "problems": _col(g, "problems").map(_count),
                         "tokens/problem": g["tokens_per_problem"].map(lambda x: f"{x:,.0f}"),
                         "frontier": g["frontier"].map(lambda f: "*" if f else "")})


@section("grid_frontier", "frontier of the grid: per selection strategy, the (budget, n) points no cheaper point "
                          "matches in accuracy")
def grid_frontier_section(analysis: Analysis) -> pd.DataFrame | None:
    """The grid's rows on its frontier."""
    g = analysis.grid
    if g.empty:
        return None
    return _shown(pd.DataFrame(_grid_cells(g))[g["frontier"].to_numpy(bool)])


@section("signal", "pass/fail vs continuous signals: log-probability of the gold answer (nats, mean over problems) "
                   "and the samples' mean token logprob")
def signal_section(analysis: Analysis) -> pd.DataFrame | None:
    """One row per run: single-sample accuracy beside the gold answer's log-probability and the samples' mean
    token logprob."""
    s = analysis.signal
    return _shown(pd.DataFrame({
        "run": s["run"], "model": s["model_name"], "benchmark": s["benchmark"], "problems": s["problems"].map(_count),
        "single-sample accuracy (95% CI)": [_ci(a, lo, hi) for a, lo, hi in
                                            zip(s["accuracy"], s["accuracy_low"], s["accuracy_high"])],
        "correct / samples": [f"{_count(c)} / {_count(n)}" for c, n in zip(s["correct_samples"], s["samples"])],
        "gold logprob [95% CI] (per token)": [f"{fmt_num(a)} [{fmt_num(lo)}, {fmt_num(hi)}] ({fmt_num(b)})"
                                              for a, lo, hi, b in zip(s["gold_logprob"], s["gold_logprob_low"],
                                                                      s["gold_logprob_high"],
                                                                      s["gold_logprob_per_token"])],
        "P(gold)": s["gold_prob"].map(fmt_num),
        "mean logprob (correct)": s["mean_logprob_correct"].map(fmt_num),
        "mean logprob (all)": s["mean_logprob_all"].map(fmt_num)}))


@section("stability", "stability from the pool, exact: pass@k (any of k right), pass^k (all k), G-Pass@k_tau (at "
                      "least tau k of k) and mG-Pass@k (OpenCompass), 95% CIs over problems")
def stability_section(analysis: Analysis) -> pd.DataFrame | None:
    """One row per (run, k)."""
    s = analysis.stability
    if s.empty:
        return None
    out = {"model": s["model"], "benchmark": s["benchmark"], "k": s["k"].map(_count)}
    for name in ("pass@k", "pass^k", "G-Pass@k_0.5", "G-Pass@k_0.75", "mG-Pass@k"):
        out[name] = [_ci(a, lo, hi) for a, lo, hi in zip(s[name], s[f"{name}_low"], s[f"{name}_high"])]
    return pd.DataFrame(out)


@section("ranks", "ranks by accuracy at each n across runs and strategies (1 = best), with 95% intervals from the "
                  "two-level bootstrap")
def ranks_section(analysis: Analysis) -> pd.DataFrame | None:
    """One row per (n, cell)."""
    r = analysis.ranks
    if r.empty:
        return None
    rank = lambda x: f"{x:g}"  # noqa: E731
    return pd.DataFrame({"benchmark": r["benchmark"], "n": r["n"].map(_count), "model": r["model"],
                         "strategy": r["strategy"], "accuracy": r["accuracy"].map(_pct),
                         "rank [95% interval]": [f"{rank(a)} [{rank(lo)}, {rank(hi)}]" for a, lo, hi in
                                                 zip(r["rank"], r["rank_low"], r["rank_high"])],
                         "of": r["cells"].map(_count)})


TITLES = {name: s.title for name, s in SECTIONS.items()}
"""Section name -> title."""
