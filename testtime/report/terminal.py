"""Terminal output with rich: the live sampling table and the accuracy-vs-budget tables.

Example:
    with LiveProgress(console) as live:
        run(cfg, on_progress=live.update)
    for table in result_tables(rows): console.print(table)
"""

from __future__ import annotations

import time
from itertools import groupby
from typing import Sequence

from rich.console import Console
from rich.live import Live
from rich.table import Table


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def fmt_flops(x: float) -> str:
    return f"{x:.3g}" if x < 1e4 else f"{x:.2e}"


def progress_table(p) -> Table:
    detail = f" {p.detail}" if getattr(p, "detail", "") else ""
    table = Table(title=f"sampling ({p.phase}{detail})", title_justify="left")
    for col in ("problems", "samples", "tokens/s", "elapsed", "ETA", "sample acc.", "solved (any)"):
        table.add_column(col, justify="right")
    new = max(p.done - p.resumed, 0)
    acc = f"{p.correct / p.samples:.1%}" if p.samples else "-"
    solved = f"{p.solved / new:.1%}" if new else "-"
    resumed = f" ({p.resumed} resumed)" if p.resumed else ""
    table.add_row(f"{p.done}/{p.total}{resumed}", f"{p.samples:,}", f"{p.tokens_per_s:,.0f}", fmt_duration(p.elapsed),
                  fmt_duration(p.eta), acc, solved)
    return table


class LiveProgress:
    """Shows a runner.Progress: a live table on a terminal; elsewhere (CI logs, pipes) one line per phase change and
    at most one per 30 s, so logs stay readable. `update` is the runner's on_progress callback."""

    def __init__(self, console: Console | None = None, refresh_per_second: float = 2, every_s: float = 30):
        self.console = console or Console()
        self.progress = None
        # The table is rebuilt at every refresh, so elapsed time ticks while a wide batch has nothing finished yet.
        self.live = Live(console=self.console, refresh_per_second=refresh_per_second, get_renderable=self._render) \
            if self.console.is_terminal else None
        self.every_s = every_s
        self._last = (None, 0.0)

    def __enter__(self) -> "LiveProgress":
        if self.live:
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self.live.__exit__(*exc)

    def _render(self):
        return progress_table(self.progress) if self.progress is not None else ""

    def update(self, p) -> None:
        self.progress = p
        if self.live:
            self.live.refresh()
            return
        now = time.monotonic()
        phase, last = self._last
        if phase == p.phase and now - last < self.every_s and p.done < p.total:
            return
        self._last = (p.phase, now)
        acc = f"{p.correct / p.samples:.1%}" if p.samples else "-"
        detail = f" ({p.detail})" if getattr(p, "detail", "") else ""
        self.console.print(f"[{fmt_duration(p.elapsed)}] {p.phase}{detail}: {p.done}/{p.total} problems"
                           f"{f' ({p.resumed} resumed)' if p.resumed else ''}, {p.samples:,} samples, "
                           f"{p.tokens_per_s:,.0f} tok/s, ETA {fmt_duration(p.eta)}, sample accuracy {acc}",
                           highlight=False)


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
