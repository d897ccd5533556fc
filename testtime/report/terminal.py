"""A run's summary for the terminal (`testtime show`). Results render themselves (`console.print(Results.load(run))`,
testtime.store.records); live progress is testtime.report.progress.

Example:
    console.print(summary_table(existing_manifest("runs/<run>")))
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from testtime.report.progress import fmt_duration
from testtime.store.manifest import Manifest


def summary_table(manifest: Manifest) -> Table:
    """Key facts of one run directory (for `show`)."""
    cfg, timings, facts, engine = manifest.config, manifest.timings, manifest.model_facts, manifest.engine
    table = Table(show_header=False, title=manifest.run_id or "", title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    s = cfg.sampling if cfg is not None else None
    items = [
        ("status", manifest.status),
        ("model", f"{manifest.model} ({facts.get('params', 0) / 1e6:.0f}M params)" if facts else manifest.model),
        ("benchmark", f"{manifest.benchmark} ({len(manifest.problems)} problems)"),
        ("sampling", f"n={s.n} T={s.temperature} top_p={s.top_p} max_tokens={s.max_tokens} seed={s.seed}" if s
         else "-"),
        ("engine", f"{engine.get('backend')} {engine.get('vllm', '')}"),
        ("throughput", f"{timings.get('tokens_per_s', '-')} tok/s over {fmt_duration(timings.get('sampling_s'))}"),
        ("grading", grading_line(manifest)),
        ("versions", ", ".join(f"{k} {v}" for k, v in manifest.versions.items())),
        ("git", manifest.git_commit),
    ]
    for key, value in items:
        table.add_row(key, str(value))
    return table


def grading_line(manifest: Manifest) -> str:
    """The policy the results count, the grader that graded the samples, how the pool's answers were found and its
    sample accuracy under both policies; what to run when the samples were graded by an older grader."""
    from benchmarks.grading import GRADER_VERSION

    grades = manifest.grades
    version = manifest.grader_version
    policy = grades.get("policy") or manifest.grading
    parts = [f"{policy} (grader {version})"]
    acc = grades.get("accuracy") or {}
    if acc.get("flexible") is not None:
        strict = "-" if acc.get("strict") is None else f"{acc['strict']:.1%}"
        parts.append(f"samples correct: flexible {acc['flexible']:.1%}, strict {strict}")
    found = grades.get("extraction") or {}
    if found:
        total = sum(found.values()) or 1
        parts.append("answers: " + ", ".join(f"{k} {v / total:.0%}" for k, v in found.items()))
    if version < GRADER_VERSION or grades.get("without_strict_grade"):
        output_dir = manifest.config.output_dir if manifest.config is not None else "runs"
        where = Path(output_dir or "runs") / (manifest.run_id or "RUN")
        lacks = ", without strict grades" if version < 2 or grades.get("without_strict_grade") else ""
        parts.append(f"[yellow]graded by an older grader (now {GRADER_VERSION}){lacks}: "
                     f"`python -m testtime regrade {where}` grades it again from its texts[/]")
    return "; ".join(parts)
