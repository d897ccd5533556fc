"""An analysis as readable tables: the same formatted sections for the terminal (rich) and the HTML report.

Example:
    result = analyze(["runs/a", "runs/b"], compare=True)
    for table in analysis_tables(result): console.print(table)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from rich.table import Table

from testtime.analysis import Analysis, label

TITLES = {
    "models": "models (N, D and training compute 6ND from the catalog)",
    "results": "accuracy per model, strategy and budget",
    "fits": "accuracy vs inference FLOPs: chosen curve (held-out error) and parameters with 95% bootstrap CIs "
            "(* at an edge of its search range: not pinned down by the data)",
    "exchange": "iso-accuracy exchange rate: inference FLOPs the smaller model needs to match the larger one's n=1",
    "frontier": "compute-optimal frontier (accuracy vs inference FLOPs per problem; strategies that read the "
                "gold answer left out)",
    "signal": "pass/fail vs continuous signals: log-probability of the gold answer (nats, mean over problems) and "
              "the samples' mean token logprob",
}


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


def sections(analysis: Analysis) -> dict[str, pd.DataFrame]:
    """Section name -> DataFrame of formatted strings, in reading order; empty sections left out."""
    t = analysis.table
    out = {}
    models = t.drop_duplicates(["run"])
    out["models"] = pd.DataFrame({
        "model": models["model"], "benchmark": models["benchmark"], "run": models["run"],
        "N (params)": models["params"].map(fmt_num), "D (tokens)": models["training_tokens"].map(fmt_num),
        "6ND (FLOPs)": models["training_flops"].map(fmt_num), "note": models["catalog_note"]})
    out["results"] = pd.DataFrame({
        "model": t["model"], "benchmark": t["benchmark"], "strategy": _strategies(t), "n": _n(t),
        "accuracy (95% CI)": [f"{_pct(a)} ({_pct(lo)}-{_pct(hi)})" for a, lo, hi in
                              zip(t["accuracy"], t["ci_low"], t["ci_high"])],
        "tokens/problem": t["tokens_per_problem"].map(lambda x: "-" if not np.isfinite(x) else f"{x:,.0f}"),
        "FLOPs/problem": t["flops_per_problem"].map(fmt_num)})
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
                     "curve": form, "held-out MAE": mae, "parameters [95% CI]": params})
    out["fits"] = pd.DataFrame(rows)
    e = analysis.exchange
    if not e.empty:
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
        out["exchange"] = ex
    f = analysis.frontier
    out["frontier"] = pd.DataFrame({
        "benchmark": f["benchmark"], "model": f["model"], "strategy": _strategies(f), "n": _n(f),
        "accuracy": f["accuracy"].map(_pct),
        "FLOPs/problem": f["flops_per_problem"].map(fmt_num)})
    s = analysis.signal
    out["signal"] = pd.DataFrame({
        "run": s["run"], "model": s["model_name"], "benchmark": s["benchmark"],
        "single-sample accuracy": s["accuracy"].map(_pct),
        "correct / samples": [f"{_count(c)} / {_count(n)}" for c, n in zip(s["correct_samples"], s["samples"])],
        "gold logprob (per token)": [f"{fmt_num(a)} ({fmt_num(b)})" for a, b in
                                     zip(s["gold_logprob"], s["gold_logprob_per_token"])],
        "P(gold)": s["gold_prob"].map(fmt_num),
        "mean logprob (correct)": s["mean_logprob_correct"].map(fmt_num),
        "mean logprob (all)": s["mean_logprob_all"].map(fmt_num)})
    return {k: v for k, v in out.items() if not v.empty}


def analysis_tables(analysis: Analysis, omit: Sequence[str] = ()) -> list[Table]:
    """One rich Table per section (but those named in `omit`), then the notes (catalog gaps, series that could not
    be fitted)."""
    tables = []
    for name, df in sections(analysis).items():
        if name in omit:
            continue
        table = Table(title=TITLES[name], title_justify="left")
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
