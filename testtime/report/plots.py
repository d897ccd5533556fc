"""Figures of an analysis, as matplotlib Figures and PNGs: accuracy vs inference FLOPs (or device-seconds, or
dollars) with fitted curves and bands, total compute vs expected queries, the compute-optimal frontier, pass/fail
beside the gold answer's log-probability by model size, the compute-optimal allocation by difficulty, the pass@k
forecast, and the sequential x parallel grid (thinking budget x samples) with its frontier.

Rules every figure keeps, so that none misleads: every plotted point carries its CI (error bars, or a band around a
curve); bands are clipped to [0, 1]; a fit flagged unreliable (`CurveFit.unreliable`) is not drawn; a figure that
sets runs side by side says on how many shared problems, and carries the analysis' warnings (no or few shared
problems) in red; pass@k on a multiple-choice benchmark is drawn beside the chance level 1 - (1 - 1/m)^k.

Figures are built on `matplotlib.figure.Figure` with the Agg canvas directly, not pyplot: no global figure state,
no display needed, safe in threads and on headless machines.

Example:
    result = analyze(["runs/a", "runs/b"], compare=True)
    pngs = {name: png_bytes(fig) for name, fig in figures(result).items()}
"""

from __future__ import annotations

import io
import sys
import textwrap

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from testtime.analysis import Analysis, curve_points, frontier, label
from testtime.analysis.runs import matches, series
from testtime.analysis.sections import alpha_text

AXES = {"flops": ("flops_per_problem", "inference FLOPs per problem"),
        "eflops": ("eflops_per_problem", "eFLOPs per problem (FLOPs + memory bytes x the device's FLOPs per byte)"),
        "seconds": ("seconds_per_problem", "device-seconds per problem (measured throughput)"),
        "request_seconds": ("request_seconds_per_problem", "seconds per problem (measured per request)"),
        "dollars": ("dollars_per_problem", "dollars per problem"),
        "token_dollars": ("token_dollars_per_problem", "dollars per problem (per-token prices)")}
"""Cost axes: name -> (table column, axis label)."""


def _axes(n: int, title: str, warnings=()) -> tuple[Figure, list]:
    width = max(6.4 * n, 7.5)
    wrapped = ["\n".join(textwrap.wrap("warning: " + w, int(width * 12))) for w in warnings]   # ~12 chars/inch
    fig = Figure(figsize=(width, 4.9 + 0.22 * sum(t.count("\n") + 1 for t in wrapped)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)[0].tolist()
    text = title + "".join("\n" + t for t in wrapped)
    fig.suptitle(text, color="black" if not warnings else "#b00000", fontsize=11)
    return fig, axes


def _label(model: str, strategy: str, scorer: str | None) -> str:
    return f"{model} · {label(strategy, scorer)}"


def _yerr(g: pd.DataFrame, y="accuracy", lo="ci_low", hi="ci_high") -> np.ndarray:
    return np.clip([g[y] - g[lo], g[hi] - g[y]], 0, None)


def _problems_note(b: pd.DataFrame) -> str:
    runs = b["run"].nunique()
    shared = b[b.get("problem_set", pd.Series("own", index=b.index)) == "shared"]
    if runs > 1 and len(shared):
        return f"{runs} runs on {int(shared['problems'].iloc[0])} shared problems"
    counts = b.drop_duplicates("run")["problems"]
    return f"{int(counts.iloc[0])} problems" if runs == 1 and counts.notna().all() else f"{runs} runs, own problems"


def choices_of(benchmark: str) -> int | None:
    """The number of answer choices of a multiple-choice benchmark (its module's LETTERS), else None."""
    try:
        import benchmarks  # noqa: F401  (registers them)
        from testtime.registry import get

        letters = getattr(sys.modules[get("benchmark", benchmark).__module__], "LETTERS", None)
    except Exception:   # an unknown or unloadable benchmark simply gets no chance line
        return None
    return len(letters) if letters else None


def accuracy_figure(table: pd.DataFrame, fits=(), *, x: str = "flops", warnings=(), price: float | None = None):
    """Accuracy (95% CI bars) vs cost per problem (log x), one colour per model x strategy, one panel per
    benchmark; on the FLOPs axis each reliable fit as a line with its band; pass@k beside the chance level on
    multiple-choice benchmarks. None when no point has the cost (no timings, or no price for dollars)."""
    col, xlabel = AXES[x]
    if x == "dollars" and price:
        xlabel += f" at ${price:g}/device-hour"
    t = table[np.isfinite(table[col].astype(float))] if col in table else table.iloc[:0]
    if t.empty:
        return None
    curves = curve_points(fits) if x == "flops" else pd.DataFrame()
    benches = list(dict.fromkeys(t["benchmark"]))
    fig, axes = _axes(len(benches), "accuracy vs inference " + ("compute" if x == "flops" else x), warnings)
    for ax, bench in zip(axes, benches):
        b = t[t["benchmark"] == bench]
        # Several models: one colour per strategy, one marker and line style per model, so that a strategy is
        # followed from model to model
        models = list(dict.fromkeys(b["model"]))
        styles = dict(zip(models, [("o", "-"), ("s", "--"), ("^", ":"), ("D", "-.")] * 8))
        colours: dict = {}
        for (model, strategy, scorer), g in series(b, ["model", "strategy", "scorer"]):
            g = g.sort_values(col)
            marker, line = styles[model]
            key = label(strategy, scorer)
            colour = colours.setdefault(key, f"C{len(colours) % 10}") if len(models) > 1 else None
            bars = ax.errorbar(g[col], g["accuracy"], yerr=_yerr(g), fmt=marker, ls=line, ms=4, capsize=2, lw=0.8,
                               color=colour, label=_label(model, strategy, scorer))
            c = curves[(curves["model"] == model) & (curves["benchmark"] == bench) & (curves["strategy"] == strategy)
                       & matches(curves["scorer"], scorer)] if len(curves) else curves
            if len(c) and c["unreliable"].isna().all():
                color = bars.lines[0].get_color()
                ax.plot(c["flops_per_problem"], c["accuracy_fit"], color=color, lw=1.6, alpha=0.6, ls="--")
                ax.fill_between(c["flops_per_problem"], c["band_low"], c["band_high"], color=color, alpha=0.12, lw=0)
        m = choices_of(bench)
        passk = b[b["strategy"] == "pass_at_k"].sort_values(col)
        if m and len(passk):
            for model, g in passk.groupby("model", sort=False):
                chance = 1 - (1 - 1 / m) ** g["n"].astype(float)
                ax.plot(g[col], chance, color="grey", ls=":", lw=1.5,
                        label=f"chance: pass@k of random guessing, 1-(1-1/{m})^k")
                break
        ax.set_xscale("log")
        ax.set(title=f"{bench} ({_problems_note(b)}; CIs: {_levels(b)})", xlabel=xlabel, ylabel="accuracy")
        ax.set_ylim(-0.02, min(1.02, max(0.1, float(b["ci_high"].max()) * 1.1 + 0.02)))
        ax.grid(alpha=0.3, which="both")
        _legend(ax)
    return fig


def _legend(ax) -> None:
    """The legend inside the axes for a few series; beside them (right, in columns of 25) for many."""
    entries = len(ax.get_legend_handles_labels()[1])
    if entries <= 10:
        ax.legend(fontsize=7)
    else:
        ncol = -(-entries // 25)
        w, h = ax.figure.get_size_inches()
        ax.figure.set_size_inches(w + 3.4 * ncol, max(h, 5.5))
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=ncol, frameon=False)


def _levels(b: pd.DataFrame) -> str:
    levels = sorted(set(b["ci_levels"])) if "ci_levels" in b else ["problems"]
    return " / ".join(levels)


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
    _legend(ax)
    return fig


def frontier_figure(table: pd.DataFrame, front: pd.DataFrame | None = None, *, x: str = "flops", warnings=(),
                    price: float | None = None) -> Figure | None:
    """Every (model, strategy, n) point with its CI, accuracy vs cost per problem (log x), one panel per
    benchmark; oracle strategies hollow (upper bounds); the Pareto frontier of the others as a thick black step
    line drawn over the points, carried to the right edge. None when no point has the cost."""
    col, xlabel = AXES[x]
    if x == "dollars" and price:
        xlabel += f" at ${price:g}/device-hour"
    t = table[np.isfinite(table[col].astype(float))] if col in table else table.iloc[:0]
    if t.empty:
        return None
    front = frontier(t, x=col) if front is None or x != "flops" else front
    benches = list(dict.fromkeys(t["benchmark"]))
    fig, axes = _axes(len(benches), "compute-optimal frontier" + ("" if x == "flops" else f" ({x})"), warnings)
    for ax, bench in zip(axes, benches):
        b = t[t["benchmark"] == bench]
        for (model, strategy, scorer), g in series(b, ["model", "strategy", "scorer"]):
            oracle = bool(g["oracle"].any())
            h = ax.errorbar(g[col], g["accuracy"], yerr=_yerr(g), fmt="o", ms=5, capsize=2, lw=0.8, alpha=0.75,
                            mfc="none" if oracle else None, label=_label(model, strategy, scorer)
                            + (" (reads gold)" if oracle else ""), zorder=2)
            if oracle:
                h.lines[0].set_markeredgecolor(h.lines[0].get_color())
        f = front[front["benchmark"] == bench].sort_values(col)
        if len(f):
            xs = np.append(f[col].to_numpy(float), b[col].max() * 1.15)
            ys = np.append(f["accuracy"].to_numpy(float), f["accuracy"].iloc[-1])
            ax.plot(xs, ys, drawstyle="steps-post", color="black", lw=2.5, zorder=5, label="frontier")
            ax.plot(f[col], f["accuracy"], "s", color="black", ms=6, mfc="yellow", zorder=6)
        ax.set_xscale("log")
        ax.set(title=f"{bench} ({_problems_note(b)})", xlabel=xlabel, ylabel="accuracy")
        ax.grid(alpha=0.3, which="both")
        _legend(ax)
    return fig


def signal_figure(signal: pd.DataFrame, table: pd.DataFrame, warnings=()) -> Figure | None:
    """Per benchmark, single-sample accuracy and the gold answer's log-probability (95% CIs over problems) against
    model size N (log x), one point per run, on the problems the runs share: a jump in the first with a smooth trend
    in the second marks an emergence that is the metric's doing (Schaeffer et al. 2023). Points are joined only
    when they are on the same problems. None without two runs of known size with gold likelihoods."""
    if signal is None or signal.empty:
        return None
    size = table.drop_duplicates("run").set_index("run")["params"]
    s = signal.assign(params=signal["run"].map(size))
    s = s[np.isfinite(s["params"].astype(float)) & np.isfinite(s["gold_logprob"].astype(float))]
    if len(s) < 2:
        return None
    fig, (acc, gold) = _axes(2, "pass/fail vs a continuous signal, by model size", warnings)
    for bench, g in s.groupby("benchmark", sort=False):
        g = g.sort_values("params")
        shared = bool(g["shared"].all()) if "shared" in g else g["problems"].nunique() == 1
        joined = "o-" if shared else "o"
        name = (f"{bench} ({int(g['problems'].iloc[0])} shared problems)" if shared
                else f"{bench} (no shared problems: each run on its own, not comparable)")
        acc.errorbar(g["params"], g["accuracy"], yerr=_yerr(g, "accuracy", "accuracy_low", "accuracy_high"),
                     fmt=joined, capsize=3, label=name)
        gold.errorbar(g["params"], g["gold_logprob"],
                      yerr=_yerr(g, "gold_logprob", "gold_logprob_low", "gold_logprob_high"), fmt=joined, capsize=3,
                      label=name)
        for _, r in g.iterrows():
            for ax, y in ((acc, r["accuracy"]), (gold, r["gold_logprob"])):
                ax.annotate(f"{r['model_name']} ({int(r['problems'])})", (r["params"], y), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
    acc.set(xscale="log", xlabel="parameters N", ylabel="single-sample accuracy", title="pass/fail (95% CI)")
    gold.set(xscale="log", xlabel="parameters N", ylabel="log P(gold answer), nats",
             title="gold-answer likelihood (95% CI over problems)")
    lo, hi = np.nanmin(s["gold_logprob_low"].astype(float)), np.nanmax(s["gold_logprob_high"].astype(float))
    if np.isfinite(lo) and np.isfinite(hi):
        pad = max(0.5, 0.1 * (hi - lo))   # never zoom into a spread far smaller than a nat: it would look like a trend
        gold.set_ylim(lo - pad, hi + pad)
    acc.set_ylim(-0.02, min(1.02, max(0.1, float(np.nanmax(s["accuracy_high"].astype(float))) * 1.2)))
    for ax in (acc, gold):
        ax.grid(alpha=0.3, which="both")
        _legend(ax)
    return fig


def allocation_figure(allocations, warnings=()) -> Figure | None:
    """Per (run, binning): the compute-optimal curve (held-out, cross-fitted) beside the best single strategy,
    best-of-N and the in-sample bound, accuracy vs FLOPs spent, each with its 95% band (problems and samples
    resampled)."""
    if not allocations:
        return None
    n = len(allocations)
    cols = min(n, 2 if n % 2 == 0 else 3)   # two runs x two binnings: a 2 x 2 grid, one run per row
    rows_n = int(np.ceil(n / cols))
    fig = Figure(figsize=(6.2 * cols, 4.6 * rows_n + 0.3), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(rows_n, cols, squeeze=False).ravel())
    fig.suptitle("compute-optimal allocation by difficulty bin (Snell et al. 2024), two-fold cross-fitted",
                 color="#b00000" if warnings else "black")
    styles = {"compute-optimal": ("C3", "-", 2.2), "best single": ("C0", "--", 1.5), "best-of-N": ("C2", "-.", 1.5),
              "in-sample bound": ("grey", ":", 1.5)}
    for ax, a in zip(axes, allocations):
        for method, g in a.curves.groupby("method", sort=False):
            color, ls, lw = styles[method]
            g = g.sort_values("flops")
            ax.plot(g["flops"], g["accuracy"], color=color, ls=ls, lw=lw, marker="o", ms=3, label=method)
            ax.fill_between(g["flops"], g["ci_low"], g["ci_high"], color=color, alpha=0.1, lw=0)
        ax.set_xscale("log")
        bins = f"{a.bins} bins of " + ("pass@1 (oracle)" if a.binning == "oracle" else f"mean {a.binning} score")
        ax.set(title=f"{a.model} · {bins}\n{a.problems} problems", xlabel="inference FLOPs per problem (spent)",
               ylabel="held-out accuracy")
        ax.set_ylim(-0.02, min(1.02, max(0.1, float(a.curves["ci_high"].max()) * 1.1 + 0.02)))
        ax.grid(alpha=0.3, which="both")
        _legend(ax)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig


def forecast_figure(forecasts, warnings=()) -> Figure | None:
    """Per run: pass@k measured from all N samples (95% CI over problems) beside the forecasts from the first n'
    samples (beta-binomial, Schaeffer et al. 2025; exp(a k^b), Brown et al. 2024), each with its band, log k."""
    if not forecasts:
        return None
    fig, axes = _axes(len(forecasts), "pass@k forecast from the first n' samples vs measured", warnings)
    for ax, (run, t, facts) in zip(axes, forecasts):
        m = t[np.isfinite(t["measured"])]
        ax.errorbar(m["k"], m["measured"], yerr=_yerr(m, "measured", "measured_low", "measured_high"), fmt="o",
                    color="black", capsize=2, label=f"measured (all {facts['samples']} samples)", zorder=5)
        ax.plot(t["k"], t["beta"], color="C3", lw=1.8, label=f"beta-binomial: exponent alpha {alpha_text(facts)}")
        ax.fill_between(t["k"], np.clip(t["beta_low"], 0, 1), np.clip(t["beta_high"], 0, 1), color="C3", alpha=0.12)
        if np.isfinite(t["brown"]).any():
            ax.plot(t["k"], t["brown"], color="C0", ls="--", lw=1.5, label=f"Brown et al. exp(a k^b): b={facts['brown_b']:.2f}")
            ax.fill_between(t["k"], np.clip(t["brown_low"], 0, 1), np.clip(t["brown_high"], 0, 1), color="C0", alpha=0.1)
        ax.axvline(facts["first"], color="grey", ls=":", lw=1)
        ax.axvline(facts["samples"], color="grey", ls="-", lw=1, alpha=0.5)
        ax.set_xscale("log", base=2)
        model = t["model"].iloc[0] if "model" in t else run
        ax.set(title=f"{model}: fitted on the first {facts['first']} of {facts['samples']} samples "
                     f"({facts['problems']} problems)", xlabel="k (samples)", ylabel="pass@k")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3, which="both")
        _legend(ax)
    return fig


def grid_figure(grid: pd.DataFrame, warnings=()) -> Figure | None:
    """The sequential x parallel grid: one panel per (run, generation strategy, selection strategy), one line per
    budget through n = 1, 2, 4, ..., N (accuracy with its 95% CI vs inference FLOPs per problem, log x; n written
    beside each point), and the panel's frontier as a thick black step line. None without grid rows."""
    from testtime.analysis.grid import GRID_KEY

    if grid is None or grid.empty:
        return None
    panels = list(series(grid, GRID_KEY))
    cols = min(len(panels), 3)
    rows_n = int(np.ceil(len(panels) / cols))
    fig = Figure(figsize=(6.4 * cols, 4.8 * rows_n + 0.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows_n, cols, squeeze=False).ravel()
    fig.suptitle("sequential x parallel: thinking budget x samples on one compute axis"
                 + "".join("\nwarning: " + w for w in warnings), color="#b00000" if warnings else "black", fontsize=11)
    for ax, ((run, generation, strategy, scorer), g) in zip(axes, panels):
        unit = g["budget_unit"].dropna().iloc[0] if g["budget_unit"].notna().any() else "budget"
        for budget, b in g.groupby("budget", sort=True):
            b = b.sort_values("n")
            ax.errorbar(b["flops_per_problem"], b["accuracy"], yerr=_yerr(b), fmt="o-", ms=4, capsize=2, lw=1,
                        label=f"{unit} {int(budget)}")
            for x, y, n in zip(b["flops_per_problem"], b["accuracy"], b["n"]):
                ax.annotate(f"n={int(n)}", (x, y), fontsize=6, xytext=(2, -8), textcoords="offset points")
        f = g[g["frontier"].astype(bool)].sort_values("flops_per_problem")
        if len(f):
            xs = np.append(f["flops_per_problem"].to_numpy(float), g["flops_per_problem"].max() * 1.15)
            ys = np.append(f["accuracy"].to_numpy(float), f["accuracy"].iloc[-1])
            ax.plot(xs, ys, drawstyle="steps-post", color="black", lw=2.5, zorder=5, label="frontier")
            ax.plot(f["flops_per_problem"], f["accuracy"], "s", color="black", ms=6, mfc="yellow", zorder=6)
        gold = " (reads gold)" if bool(g["oracle"].any()) else ""
        problems = int(g["problems"].iloc[0]) if pd.notna(g["problems"].iloc[0]) else "?"
        ax.set_xscale("log")
        ax.set(title=f"{g['model'].iloc[0]} · {label(strategy, scorer)}{gold}\nover {generation} ({problems} "
                     f"problems, {int(g['samples_per_problem'].max())} samples per budget)",
               xlabel="inference FLOPs per problem", ylabel="accuracy")
        ax.set_ylim(-0.02, min(1.02, max(0.1, float(g["ci_high"].max()) * 1.1 + 0.02)))
        ax.grid(alpha=0.3, which="both")
        _legend(ax)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return fig


def cost_frontiers_figure(table: pd.DataFrame, choices: pd.DataFrame | None = None, warnings=()) -> Figure | None:
    """The frontier under FLOPs beside the frontier under each other cost the table has (eFLOPs, seconds, dollars),
    one panel per cost (first benchmark): every non-oracle cell with its CI, the frontier's step line, and, ringed in
    red and named, a cost's choice at each accuracy where the costs choose differently (`cost_choices`). None with
    FLOPs alone."""
    from testtime.analysis.costs import COSTS, available, cell_label, cost_choices, cost_frontiers

    costs = available(table)
    if len(costs) < 2 or "flops" not in costs:
        return None
    bench = table["benchmark"].iloc[0]
    t = table[(table["benchmark"] == bench) & ~table["oracle"].astype(bool)]
    fronts = cost_frontiers(t)
    choices = cost_choices(t) if choices is None or choices.empty else choices[choices["benchmark"] == bench]
    differ = choices[~choices["agree"]] if len(choices) else choices
    cols = min(len(costs), 3)
    rows_n = int(np.ceil(len(costs) / cols))
    fig = Figure(figsize=(6.4 * cols, 4.6 * rows_n + 0.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows_n, cols, squeeze=False).ravel()
    fig.suptitle(f"the frontier under each cost ({bench}, {_problems_note(t)}); ringed: each cost's choice where the "
                 "costs choose differently" + "".join("\nwarning: " + w for w in warnings),
                 color="#b00000" if warnings else "black", fontsize=11)
    # one colour per model; with one model, per strategy (where the costs part ways between strategies)
    by = t["model"] if t["model"].nunique() > 1 else pd.Series([label(a, b) for a, b in zip(t["strategy"],
                                                                                            t["scorer"])], t.index)
    colors = {m: f"C{i % 10}" for i, m in enumerate(dict.fromkeys(by))}
    labels = pd.Series([cell_label(r) for _, r in t.iterrows()], index=t.index)
    for ax, name in zip(axes, costs):
        col = COSTS[name][0]
        g = t[np.isfinite(t[col].astype(float))]
        for key, m in g.groupby(by.loc[g.index], sort=False):
            ax.errorbar(m[col], m["accuracy"], yerr=_yerr(m), fmt="o", ms=3, capsize=1.5, lw=0.6, alpha=0.55,
                        color=colors[key], label=key)
        f = fronts[fronts["cost"] == name].sort_values("cost_per_problem")
        if len(f):
            xs = np.append(f["cost_per_problem"].to_numpy(float), g[col].max() * 1.15)
            ys = np.append(f["accuracy"].to_numpy(float), f["accuracy"].iloc[-1])
            ax.plot(xs, ys, drawstyle="steps-post", color="black", lw=2.2, zorder=5, label="frontier")
            ax.plot(f["cost_per_problem"], f["accuracy"], "s", color="black", ms=5, mfc="yellow", zorder=6)
        if len(differ) and name in differ:
            picked = g[labels.loc[g.index].isin(set(differ[name]))]
            if len(picked):
                ax.plot(picked[col], picked["accuracy"], "o", ms=13, mfc="none", mec="red", mew=1.8, zorder=7,
                        label="its choice where the costs differ")
                for _, r in picked.iterrows():
                    ax.annotate(f"{r['model']}: {label(r['strategy'], r['scorer'])}@{int(r['n'])}",
                                (r[col], r["accuracy"]), fontsize=6, xytext=(4, 4), textcoords="offset points",
                                color="red")
        ax.set_xscale("log")
        ax.set(title=COSTS[name][1], xlabel=AXES[name][1] if name in AXES else COSTS[name][1], ylabel="accuracy")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=6)
    for ax in axes[len(costs):]:
        ax.set_visible(False)
    return fig


def stability_figure(stability: pd.DataFrame, warnings=()) -> Figure | None:
    """Per run, pass@k, G-Pass@k_0.5, G-Pass@k_0.75, pass^k and mG-Pass@k against k (log x), with their 95% bands:
    the gap between pass@k and pass^k is what sampling more does not make reliable. None without rows."""
    if stability is None or stability.empty:
        return None
    runs = list(dict.fromkeys(stability["run"]))
    fig, axes = _axes(len(runs), "stability from the pool: any, most, all of k samples right", warnings)
    for ax, run in zip(axes, runs):
        s = stability[stability["run"] == run].sort_values("k")
        for name, style in (("pass@k", "o-"), ("G-Pass@k_0.5", "s--"), ("G-Pass@k_0.75", "^--"), ("pass^k", "v-"),
                            ("mG-Pass@k", "d:")):
            line = ax.plot(s["k"], s[name], style, ms=4, lw=1.2, label=name)[0]
            ax.fill_between(s["k"], s[f"{name}_low"], s[f"{name}_high"], color=line.get_color(), alpha=0.12, lw=0)
        ax.set_xscale("log", base=2)
        ax.set(title=f"{s['model'].iloc[0]} ({s['benchmark'].iloc[0]}, {int(s['problems'].iloc[0])} problems)",
               xlabel="k (samples)", ylabel="share of problems")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3, which="both")
        _legend(ax)
    return fig


def figures(analysis: Analysis) -> dict[str, Figure]:
    """name -> Figure for every plot the analysis supports (total compute only with exchange rates; seconds and
    dollars only with measured timings and a price)."""
    w = analysis.warnings
    price = analysis.price_per_hour
    out = {"accuracy": accuracy_figure(analysis.table, analysis.fits, warnings=w),
           "accuracy_seconds": accuracy_figure(analysis.table, x="seconds", warnings=w),
           "accuracy_dollars": accuracy_figure(analysis.table, x="dollars", warnings=w, price=price),
           "frontier": frontier_figure(analysis.table, analysis.frontier, warnings=w),
           "frontier_seconds": frontier_figure(analysis.table, x="seconds", warnings=w),
           "frontier_dollars": frontier_figure(analysis.table, x="dollars", warnings=w, price=price),
           "total_compute": total_compute_figure(analysis.exchange, analysis.queries),
           "signal": signal_figure(analysis.signal, analysis.table, warnings=w),
           "allocation": allocation_figure(analysis.allocations, warnings=w),
           "forecast": forecast_figure(analysis.forecasts, warnings=w),
           "grid": grid_figure(analysis.grid),
           "frontier_eflops": frontier_figure(analysis.table, x="eflops", warnings=w),
           "frontier_request_seconds": frontier_figure(analysis.table, x="request_seconds", warnings=w),
           "frontier_token_dollars": frontier_figure(analysis.table, x="token_dollars", warnings=w),
           "cost_frontiers": cost_frontiers_figure(analysis.table, analysis.cost_choices, warnings=w),
           "stability": stability_figure(analysis.stability, warnings=w)}
    return {k: v for k, v in out.items() if v is not None}


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
