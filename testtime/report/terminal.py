"""A run's summary for the terminal (`testtime show`). Results render themselves (`console.print(Results.load(run))`,
testtime.store.records); live progress is testtime.report.progress.

Example:
    console.print(summary_table(existing_manifest("runs/<run>")))
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from testtime.report.progress import fmt_duration


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
        ("grading", grading_line(manifest)),
        ("versions", ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items())),
        ("git", manifest.get("git_commit")),
    ]
    for key, value in items:
        table.add_row(key, str(value))
    return table


def grading_line(manifest: dict) -> str:
    """The policy the results count, the grader that graded the samples, how the pool's answers were found and its
    sample accuracy under both policies; what to run when the samples were graded by an older grader."""
    from benchmarks.grading import GRADER_VERSION

    grades = manifest.get("grades") or {}
    version = manifest.get("grader_version", 1)
    policy = grades.get("policy") or manifest.get("config", {}).get("grading", "flexible")
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
        where = Path(manifest.get("config", {}).get("output_dir") or "runs") / manifest.get("run_id", "RUN")
        parts.append(f"[yellow]graded by an older grader (now {GRADER_VERSION}), without strict grades: "
                     f"`python -m testtime regrade {where}` grades it again from its texts[/]")
    return "; ".join(parts)
