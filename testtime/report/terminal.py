"""Terminal output with rich: the accuracy-vs-budget tables and a run's summary (live progress is in
testtime.report.progress).

Example:
    for table in result_tables(rows): console.print(table)
"""

from __future__ import annotations

from itertools import groupby
from typing import Sequence

from rich.table import Table

from testtime.report.progress import fmt_duration


def fmt_flops(x: float) -> str:
    return f"{x:.3g}" if x < 1e4 else f"{x:.2e}"


def result_tables(rows: Sequence[dict], title: str = "") -> list[Table]:
    """One table per (strategy, scorer): n | accuracy (95% CI) | tokens/problem | FLOPs/problem."""
    tables = []
    for (strategy, scorer), group in groupby(rows, key=lambda r: (r["strategy"], r["scorer"])):
        group = list(group)
        by = f" by {scorer}" if scorer not in ("none", "oracle") or strategy == "best_of_n" else ""
        budgets = group[0].get("budget") is not None
        if budgets:
            k = group[0].get("samples_per_problem", "?")
            by += f", {k} sample{'' if k == 1 else 's'} per budget"
        table = Table(title=f"{title}{strategy}{by}  ({group[0]['problems']} problems)", title_justify="left")
        table.add_column(group[0].get("budget_unit") or "thinking budget" if budgets else "n", justify="right")
        table.add_column("accuracy (95% CI)", justify="right")
        table.add_column("tokens/problem", justify="right")
        table.add_column("FLOPs/problem", justify="right")
        for r in group:
            acc = f"{r['accuracy']:.1%} ({r['ci_low']:.1%}-{r['ci_high']:.1%})"
            if r.get("mc_stderr"):
                acc += f" ±{r['mc_stderr']:.2%} MC"  # MC error is often < 0.05%: one decimal would print ±0.0%
            table.add_row(str(r["budget"] if budgets else r["n"]), acc, f"{r['tokens_per_problem']:,.0f}", fmt_flops(r["flops_per_problem"]))
        tables.append(table)
    return tables


def summary_table(manifest: dict) -> Table:
    """Key facts of one run directory (for `show`)."""
    cfg = manifest.get("config", {})
    timings = manifest.get("timings", {})
    facts = manifest.get("model_facts", {})
    table = Table(show_header=False, title=manifest.get("run_id", ""), title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    sampling = cfg.get("sampling", {})
    items = [
        ("status", manifest.get("status")),
        ("model", f"{cfg.get('model')} ({facts.get('params', 0) / 1e6:.0f}M params)" if facts else cfg.get("model")),
        ("benchmark", f"{cfg.get('benchmark')} ({len(manifest.get('problems', []))} problems)"),
        ("sampling", f"n={sampling.get('n')} T={sampling.get('temperature')} top_p={sampling.get('top_p')} "
                     f"max_tokens={sampling.get('max_tokens')} seed={sampling.get('seed')}"),
        ("engine", f"{manifest.get('engine', {}).get('backend')} {manifest.get('engine', {}).get('vllm', '')}"),
        ("throughput", f"{timings.get('tokens_per_s', '-')} tok/s over {fmt_duration(timings.get('sampling_s'))}"),
        ("versions", ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items())),
        ("git", manifest.get("git_commit")),
    ]
    for key, value in items:
        table.add_row(key, str(value))
    return table
