"""One self-contained HTML page per analysis: PNG plots embedded as base64 data URIs, tables as HTML. The page
needs no other file, so it can be mailed or attached to an issue as is.

Example:
    result = analyze(["runs/a", "runs/b"], compare=True)
    paths = write_report(result, "runs/analysis/a-vs-b")   # report.html, *.png, *.csv, *.parquet
"""

from __future__ import annotations

import base64
import html
import time
from pathlib import Path

from testtime.analysis import Analysis
from testtime.files import write_bytes, write_text
from testtime.report.plots import figures, png_bytes
from testtime.report.analysis_tables import TITLES, sections

_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1800px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%}figure{margin:0}
h2{margin-top:1.5em;font-size:1.15em}.note{color:#555;font-size:13px}
.row{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}.row figure{flex:1 1 560px;max-width:860px;margin:0}
.warn{color:#b00000;font-weight:bold;border:2px solid #b00000;padding:0.5em 1em;background:#fff4f4}"""

_CAPTIONS = {
    "accuracy": "Accuracy vs inference FLOPs per problem; bars are 95% CIs resampling problems and then each "
                "problem's samples (see the results table). Dashed lines are fitted curves with their 95% bootstrap "
                "bands (clipped to [0, 1]); a fit flagged unreliable is not drawn (the fits table says why).",
    "accuracy_seconds": "The same points against device-seconds per problem: generated tokens x the run's measured "
                        "engine time per token (sampling time / sampled tokens, prefill and batching amortised).",
    "accuracy_dollars": "The same points against dollars per problem: device-seconds x --price-per-hour / 3600.",
    "frontier": "Every model x strategy x n with its 95% CI; hollow points read the gold answer (oracle "
                "strategies: upper bounds); the thick black step line (yellow squares) is the Pareto frontier of "
                "the others.",
    "frontier_seconds": "The frontier against device-seconds per problem.",
    "frontier_dollars": "The frontier against dollars per problem.",
    "frontier_eflops": "The frontier against eFLOPs per problem: FLOPs plus the memory bytes decoding reads (weights "
                       "once per step of the batch, the KV cache of every attended position) times the device's "
                       "FLOPs per byte (Kinetics; the notes say which device and batch).",
    "frontier_request_seconds": "The frontier against seconds per problem measured per request (time to first "
                                "token + per output token, stored with the samples).",
    "frontier_token_dollars": "The frontier against dollars per problem at per-token prices (the prompt at the "
                              "cached-input price after the first sample).",
    "cost_frontiers": "The same cells under each cost, side by side: the frontier (black step line) can pick other "
                      "cells when memory traffic, time or money is counted; ringed in red, the cells on a cost's "
                      "frontier that are not on the FLOPs frontier. The cost choices table lists the choice at "
                      "each accuracy.",
    "stability": "pass@k (any of k right), G-Pass@k_tau (at least tau k of k right), pass^k (all k right) and "
                 "mG-Pass@k against k, exact from the pool (hypergeometric), with 95% bands over problems.",
    "signal": "Single-sample accuracy and the gold answer's log-probability by model size, with 95% CIs over "
              "problems, on the problems the runs share (how many, in brackets); points are joined only when on "
              "the same problems.",
    "allocation": "Held-out accuracy of the compute-optimal rule (best strategy, scorer and n per difficulty bin, "
                  "chosen on the other half of the problems) against the best single strategy and best-of-N chosen "
                  "the same way, and the in-sample bound; shaded: 95% bands resampling problems and samples.",
    "forecast": "pass@k measured from all samples (black, 95% CI over problems) and forecast from the first n' "
                "samples only (dotted line: n'; solid grey: N): beta-binomial (Schaeffer et al. 2025) and "
                "exp(a k^b) (Brown et al. 2024), with 95% bootstrap bands over problems.",
    "grid": "The sequential x parallel grid: one panel per selection strategy over a generation strategy's samples "
            "(budget forcing), one line per budget (thinking tokens) through n = 1, 2, 4, ..., N samples, accuracy "
            "with its 95% CI over problems against inference FLOPs per problem; the thick black step line (yellow "
            "squares) is the panel's frontier: the (budget, n) to choose at each compute.",
    "total_compute": "Training + Q x inference FLOPs per query: dashed, the smaller model with the samples it needs "
                     "to match the larger model's single sample (solid); dotted, the break-even volume Q*.",
}


# The cost axes beside FLOPs: each row is one page-wide line of plots, the same points against FLOPs, device-seconds
# and dollars, so a reader compares the axes at a glance.
_ROWS = {"accuracy": ("accuracy_seconds", "accuracy_dollars"),
         "frontier": ("frontier_eflops", "frontier_seconds", "frontier_request_seconds", "frontier_dollars",
                      "frontier_token_dollars")}
_BESIDE = {n for row in _ROWS.values() for n in row}


def _figure(name: str, png: bytes) -> str:
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return (f"<figure><img alt='{html.escape(name)}' src='{uri}'>"
            f"<figcaption class='note'>{html.escape(_CAPTIONS.get(name, ''))}</figcaption></figure>")


def html_report(analysis: Analysis, images: dict[str, bytes], title: str = "testtime analysis") -> str:
    """The page as a string: run list, plots (PNG bytes by name, embedded), one table per section, notes."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p class='note'>generated {time.strftime('%Y-%m-%d %H:%M:%S')} from: "
             + ", ".join(html.escape(r) for r in analysis.runs) + "</p>"]
    if analysis.queries:
        parts.append(f"<p class='note'>expected queries Q = {analysis.queries:.3g}</p>")
    for w in analysis.warnings:
        parts.append(f"<p class='warn'>warning: {html.escape(w)}</p>")
    for name in images:
        if name in _BESIDE:   # drawn in the row of the plot it varies
            continue
        row = [n for n in (name, *_ROWS.get(name, ())) if n in images]
        parts.append(f"<h2>{html.escape(' | '.join(n.replace('_', ' ') for n in row))}</h2>"
                     + (f"<div class='row'>{''.join(_figure(n, images[n]) for n in row)}</div>" if len(row) > 1
                        else _figure(name, images[name])))
    for name, df in sections(analysis).items():
        parts.append(f"<h2>{html.escape(TITLES[name])}</h2>" + df.to_html(index=False, escape=True, border=0))
    if analysis.notes:
        parts.append("<h2>notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in analysis.notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(analysis: Analysis, out: str | Path, title: str = "testtime analysis") -> list[Path]:
    """Write PNGs, CSV and Parquet tables, and report.html (the PNGs embedded) under `out`, each atomically.

    Args:
        analysis: what `testtime.analysis.analyze` returned.
        out: folder (created if missing).
        title: the page's title.

    Returns:
        The paths written, report.html last.
    """
    out = Path(out)
    written = analysis.save_tables(out)
    images = {}
    for name, fig in figures(analysis).items():
        images[name] = png_bytes(fig)
        written.append(write_bytes(out / f"{name}.png", images[name]))
    return [*written, write_text(out / "report.html", html_report(analysis, images, title))]
