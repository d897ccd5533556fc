"""Figures of an analysis, as matplotlib Figures and PNGs: accuracy vs inference FLOPs with fitted curves and bands,
total compute vs expected queries, the compute-optimal frontier, and pass/fail beside the gold answer's
log-probability by model size.

Figures are built on `matplotlib.figure.Figure` with the Agg canvas directly, not pyplot: no global figure state,
no display needed, safe in threads and on headless machines.

Example:
    result = analyze(["runs/a", "runs/b"], compare=True)
    pngs = {name: png_bytes(fig) for name, fig in figures(result).items()}
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from testtime.analysis import Analysis, curve_points, label
from testtime.analysis.runs import matches, series


def _axes(n: int, title: str) -> tuple[Figure, list]:
    fig = Figure(figsize=(6.4 * n, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)[0].tolist()
    fig.suptitle(title)
    return fig, axes


def _label(model: str, strategy: str, scorer: str | None) -> str:
    return f"{model} · {label(strategy, scorer)}"


def accuracy_figure(table: pd.DataFrame, fits=()) -> Figure:
    """Accuracy (95% CI bars) vs inference FLOPs per problem, log x, one colour per model x strategy, one panel
    per benchmark; each series' fitted curve as a line with its bootstrap band shaded."""
    curves = curve_points(fits)
    benches = list(dict.fromkeys(table["benchmark"]))
    fig, axes = _axes(len(benches), "accuracy vs inference compute")
    for ax, bench in zip(axes, benches):
        for (model, strategy, scorer), g in series(table[table["benchmark"] == bench],
                                                   ["model", "strategy", "scorer"]):
            g = g.sort_values("flops_per_problem")
            yerr = np.clip([g["accuracy"] - g["ci_low"], g["ci_high"] - g["accuracy"]], 0, None)
            bars = ax.errorbar(g["flops_per_problem"], g["accuracy"], yerr=yerr, fmt="o", ms=4, capsize=2,
                               label=_label(model, strategy, scorer))
            c = curves[(curves["model"] == model) & (curves["benchmark"] == bench) & (curves["strategy"] == strategy)
                       & matches(curves["scorer"], scorer)]
            if len(c):
                color = bars.lines[0].get_color()
                ax.plot(c["flops_per_problem"], c["accuracy_fit"], color=color, lw=1.2, alpha=0.9)
                ax.fill_between(c["flops_per_problem"], c["band_low"], c["band_high"], color=color, alpha=0.15, lw=0)
        ax.set_xscale("log")
        ax.set(title=bench, xlabel="inference FLOPs per problem", ylabel="accuracy")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    return fig


def total_compute_figure(exchange: pd.DataFrame, queries: float | None = None) -> Figure | None:
    """Total compute (training + Q x inference per query) vs expected queries Q, log-log: per exchange-rate row
    the smaller model at the FLOPs it needs (dashed) and the larger model with one sample (solid), the break-even
    volume dotted. None when no row has the figures."""
    if exchange is None or exchange.empty:
        return None
    rows = exchange[np.isfinite(exchange["small_flops_needed"]) & np.isfinite(exchange["training_flops_small"])
                    & np.isfinite(exchange["training_flops_large"])]
    if rows.empty:
        return None
    qs = [q for q in rows["break_even_queries"] if np.isfinite(q) and q > 0] + ([queries] if queries else [])
    grid = np.geomspace(max(min(qs) / 1e3, 1.0), max(qs) * 1e3, 200) if qs else np.geomspace(1, 1e12, 200)
    fig, (ax,) = _axes(1, "total compute vs expected queries")
    drawn = set()
    for _, r in rows.iterrows():
        line = ax.plot(grid, r["training_flops_small"] + grid * r["small_flops_needed"], ls="--",
                       label=f"{_label(r['small'], r['strategy'], r['scorer'])} at {r['flops_multiplier']:.2g}x")[0]
        key = (r["benchmark"], r["large"], r["large_flops_n1"])
        if key not in drawn:
            drawn.add(key)
            ax.plot(grid, r["training_flops_large"] + grid * r["large_flops_n1"], color="black", lw=1.5,
                    label=f"{r['large']} n=1 ({r['benchmark']})")
        q = r["break_even_queries"]
        if np.isfinite(q) and q > 0:
            ax.axvline(q, color=line.get_color(), ls=":", lw=1)
    if queries:
        ax.axvline(queries, color="grey", lw=2, alpha=0.4, label=f"Q = {queries:.3g}")
    ax.set(xscale="log", yscale="log", xlabel="expected queries Q", ylabel="training + inference FLOPs")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return fig


def frontier_figure(table: pd.DataFrame, front: pd.DataFrame) -> Figure:
    """Every (model, strategy, budget) point, accuracy vs inference FLOPs per problem (log x), one panel per
    benchmark; oracle strategies hollow (they are upper bounds), the Pareto frontier as a black step line."""
    benches = list(dict.fromkeys(table["benchmark"]))
    fig, axes = _axes(len(benches), "compute-optimal frontier")
    for ax, bench in zip(axes, benches):
        b = table[table["benchmark"] == bench]
        for (model, strategy, scorer), g in series(b, ["model", "strategy", "scorer"]):
            oracle = bool(g["oracle"].any())
            ax.scatter(g["flops_per_problem"], g["accuracy"], s=22, label=_label(model, strategy, scorer),
                       facecolors="none" if oracle else None,
                       edgecolors="C7" if oracle else None, marker="o")
        f = front[front["benchmark"] == bench].sort_values("flops_per_problem")
        if len(f):
            ax.plot(f["flops_per_problem"], f["accuracy"], drawstyle="steps-post", color="black", lw=1.5,
                    label="frontier")
        ax.set_xscale("log")
        ax.set(title=bench, xlabel="inference FLOPs per problem", ylabel="accuracy")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    return fig


def signal_figure(signal: pd.DataFrame, table: pd.DataFrame) -> Figure | None:
    """Per benchmark, single-sample accuracy and the gold answer's log-probability against model size N (log x),
    one point per run: a jump in the first with a smooth trend in the second marks an emergence that is the
    metric's doing (Schaeffer et al. 2023). None without two runs of known size with gold likelihoods."""
    if signal is None or signal.empty:
        return None
    size = table.drop_duplicates("run").set_index("run")["params"]
    s = signal.assign(params=signal["run"].map(size))
    s = s[np.isfinite(s["params"].astype(float)) & np.isfinite(s["gold_logprob"].astype(float))]
    if len(s) < 2:
        return None
    fig, (acc, gold) = _axes(2, "pass/fail vs a continuous signal, by model size")
    for bench, g in s.groupby("benchmark", sort=False):
        g = g.sort_values("params")
        acc.plot(g["params"], g["accuracy"], "o-", label=bench)
        gold.plot(g["params"], g["gold_logprob"], "o-", label=bench)
        for _, r in g.iterrows():
            acc.annotate(r["model_name"], (r["params"], r["accuracy"]), fontsize=7, xytext=(3, 3),
                         textcoords="offset points")
            gold.annotate(r["model_name"], (r["params"], r["gold_logprob"]), fontsize=7, xytext=(3, 3),
                          textcoords="offset points")
    acc.set(xscale="log", xlabel="parameters N", ylabel="single-sample accuracy", title="pass/fail")
    gold.set(xscale="log", xlabel="parameters N", ylabel="log P(gold answer), nats", title="gold-answer likelihood")
    for ax in (acc, gold):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    return fig


def figures(analysis: Analysis) -> dict[str, Figure]:
    """name -> Figure for every plot the analysis supports (total compute only with exchange rates)."""
    out = {"accuracy": accuracy_figure(analysis.table, analysis.fits),
           "frontier": frontier_figure(analysis.table, analysis.frontier)}
    total = total_compute_figure(analysis.exchange, analysis.queries)
    if total is not None:
        out["total_compute"] = total
    signal = signal_figure(analysis.signal, analysis.table)
    if signal is not None:
        out["signal"] = signal
    return out


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
