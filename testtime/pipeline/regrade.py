"""`testtime regrade RUN`: grade a stored run again from its texts with the current grader, without sampling.

Every stored sample (the pool and each generation strategy's samples) is extracted and graded again: how its answer
was found, the flexible and the strict grade, and the vote classes under each policy. The sample parts are
rewritten (one new part written atomically, then the old ones removed; readers prefer the newest copy), then the
results, summary and manifest, each atomically, as a finished run writes them. The report counts what changed and
sets strict accuracy beside flexible accuracy for every strategy at every n or budget. It holds the run directory's lock
(testtime.pipeline.lock), so no run writes the directory meanwhile.

Example:
    report = regrade("runs/gsm8k-smollm2-135m-n64-1a2b3c4d")
    console.print(report)        # samples, grades and vote classes changed, time taken; strict vs flexible
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import benchmarks
from benchmarks.base import EXTRACTIONS
from benchmarks.grading import GRADER_VERSION
from testtime.config import RunConfig
from testtime.errors import UserError
from testtime.pipeline.evaluate import evaluate, evaluate_budgets
from testtime.pipeline.events import NullReporter
from testtime.pipeline.lock import run_lock
from testtime.pipeline.runner import Plan, finish
from testtime.pipeline.samples import grade_texts
from testtime.store.manifest import Manifest
from testtime.store.records import ResultRow
from testtime.store.store import POOL, Store, generation_group

GRADE_COLUMNS = ("answer", "answer_id", "correct", "extraction", "correct_strict", "answer_id_strict")
"""The sample columns a regrade rewrites; every other column (texts, tokens, scores, FLOPs) is kept as it is."""


@dataclass
class Regraded:
    """What `regrade` changed, and the run's accuracy under both policies. Renders itself in rich."""

    run: Path
    samples: int
    problems: int
    """(sample group, problem) pairs: a problem with a generation strategy's samples counts once per budget."""
    grader: tuple[int, int]
    """The grader version before and after."""
    flexible_changed: int
    """Samples whose flexible grade changed."""
    strict_changed: int
    """Samples whose strict grade changed (among those that had one)."""
    strict_added: int
    """Samples that had no strict grade (graded before grader 2)."""
    answers_changed: int
    """Samples whose extracted answer changed."""
    classes_changed: int
    """(group, problem) pairs whose flexible vote classes changed."""
    strict_classes_changed: int
    """(group, problem) pairs whose strict vote classes changed (among those that had them)."""
    extraction: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """Pool samples by extraction -> (samples, correct flexibly, correct strictly)."""
    side_by_side: list[tuple[ResultRow, ResultRow]] = field(default_factory=list)
    """(flexible row, strict row) per strategy and n (or budget)."""
    grading: str = "flexible"
    """The policy results.json counts."""
    results: str = ""
    """What happened to results.json."""
    seconds: float = 0.0

    def __rich__(self):
        from rich.console import Group
        from rich.table import Table

        head = Table(show_header=False, title=f"regrade {self.run}  (grader {self.grader[0]} -> {self.grader[1]})",
                     title_justify="left")
        head.add_column(style="bold")
        head.add_column(justify="right")
        head.add_column()
        head.add_row("samples", f"{self.samples:,}", f"{self.problems:,} (problem, sample group) sets")
        head.add_row("flexible grades changed", f"{self.flexible_changed:,}", "")
        head.add_row("strict grades changed", f"{self.strict_changed:,}",
                     f"{self.strict_added:,} added (graded before grader 2)" if self.strict_added else "")
        head.add_row("answers changed", f"{self.answers_changed:,}", "")
        head.add_row("vote classes changed (flexible)", f"{self.classes_changed:,}", "sets")
        head.add_row("vote classes changed (strict)", f"{self.strict_classes_changed:,}",
                     "sets" + (" (of those that had strict classes)" if self.strict_added else ""))
        head.add_row("results", self.grading, self.results)
        head.add_row("time taken", f"{self.seconds:.1f} s", "")
        parts = [head]
        if self.extraction:
            total = sum(v[0] for v in self.extraction.values()) or 1
            t = Table(title="pool samples by how their answer was found", title_justify="left")
            for col in ("extraction", "samples", "share", "correct (flexible)", "correct (strict)"):
                t.add_column(col, justify="left" if col == "extraction" else "right")
            for how, (n, ok, ok_strict) in self.extraction.items():
                t.add_row(how, f"{n:,}", f"{n / total:.1%}", f"{ok:,}", f"{ok_strict:,}")
            parts.append(t)
        if self.side_by_side:
            t = Table(title="accuracy, flexible vs strict grades (95% CI)", title_justify="left")
            for col in ("strategy", "n", "flexible", "strict", "strict - flexible"):
                t.add_column(col, justify="left" if col == "strategy" else "right")
            for a, b in self.side_by_side:
                t.add_row(a.label, str(a.n if a.budget is None else a.budget),
                          f"{a.accuracy:.1%} ({a.ci_low:.1%}-{a.ci_high:.1%})",
                          f"{b.accuracy:.1%} ({b.ci_low:.1%}-{b.ci_high:.1%})", f"{b.accuracy - a.accuracy:+.1%}")
            parts.append(t)
        return Group(*parts)


def regrade(run_dir: str | Path, *, grading: str | None = None, data_dir: str | None = None) -> Regraded:
    """Grade every stored sample of a run again from its text with the current grader; rewrite what changed.

    Args:
        run_dir: the run directory.
        grading: the policy results.json counts from now on ("flexible" or "strict"); default the run's own.
        data_dir: where the benchmark's files are, when not where the run read them.
    Returns:
        What changed (Regraded), with strict and flexible accuracy side by side.
    Example:
        regrade("runs/r").flexible_changed   # 0 when the grader did not change
    """
    t0 = time.monotonic()
    store = Store.existing(run_dir)
    with run_lock(store.path):   # no run writes the directory meanwhile (and none starts)
        report = _regrade(store, grading=grading, data_dir=data_dir)
    report.seconds = time.monotonic() - t0
    return report


def _regrade(store: Store, *, grading: str | None, data_dir: str | None) -> Regraded:
    manifest = store.manifest() or Manifest()
    cfg = stored_config(manifest, grading=grading, data_dir=data_dir)
    df = store.table().to_pandas()
    if df.empty:
        raise UserError(f"{store.path} holds no samples yet; nothing to regrade")
    bench = benchmarks.load(cfg.benchmark, data_dir=cfg.data_dir)
    problems = {p.id: p for p in bench.problems()}
    unknown = sorted(set(df["problem_id"]) - set(problems))
    if unknown:
        raise UserError(f"{len(unknown)} stored problems (e.g. {unknown[0]}) are not in {cfg.benchmark}'s data; pass "
                        "--data-dir with the files the run was sampled from")

    old = {c: (df[c].to_numpy(dtype=object) if c in df.columns else np.full(len(df), None, dtype=object))
           for c in GRADE_COLUMNS}
    new = {c: np.full(len(df), None, dtype=object) for c in GRADE_COLUMNS}
    classes_changed = strict_classes_changed = 0
    groups = df.groupby(["group", "problem_id"], sort=False).indices
    for (_, pid), rows in groups.items():
        rows = rows[np.argsort(df["sample_index"].to_numpy()[rows], kind="stable")]
        grades, ids, strict_ids = grade_texts(problems[pid], df["text"].to_numpy()[rows].tolist(), bench)
        new["answer"][rows] = [g.answer for g in grades]
        new["answer_id"][rows] = ids
        new["correct"][rows] = [bool(g.correct) for g in grades]
        new["extraction"][rows] = [g.extraction for g in grades]
        new["correct_strict"][rows] = [bool(g.correct_strict) for g in grades]
        new["answer_id_strict"][rows] = strict_ids
        classes_changed += _differ(old["answer_id"][rows], ids)
        if not any(_missing(v) for v in old["answer_id_strict"][rows]):
            strict_classes_changed += _differ(old["answer_id_strict"][rows], strict_ids)

    had_strict = np.array([not _missing(v) for v in old["correct_strict"]])
    changed = {c: np.array([_value(a) != _value(b) for a, b in zip(old[c], new[c])]) for c in GRADE_COLUMNS}
    before = manifest.grader_version
    report = Regraded(
        run=store.path, samples=len(df), problems=len(groups), grader=(before, GRADER_VERSION),
        flexible_changed=int(changed["correct"].sum()),
        strict_changed=int((changed["correct_strict"] & had_strict).sum()),
        strict_added=int((~had_strict).sum()), answers_changed=int(changed["answer"].sum()),
        classes_changed=classes_changed, strict_classes_changed=strict_classes_changed, grading=cfg.grading)

    if any(c.any() for c in changed.values()):
        for c in GRADE_COLUMNS:
            df[c] = new[c]
        store.rewrite(df)
    store.update_manifest(grader_version=GRADER_VERSION, regraded={
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "grader": [before, GRADER_VERSION],
        **{k: getattr(report, k) for k in ("samples", "flexible_changed", "strict_changed", "strict_added",
                                           "answers_changed", "classes_changed", "strict_classes_changed")}})

    pool = df[df["group"] == POOL]
    for how in [*EXTRACTIONS, *sorted(set(pool["extraction"].dropna()) - set(EXTRACTIONS))]:
        mine = pool[pool["extraction"] == how]
        if len(mine):
            report.extraction[how] = (len(mine), int(mine["correct"].astype(bool).sum()),
                                      int(mine["correct_strict"].astype(bool).sum()))
    plan = Plan.of(cfg)
    ids = list(manifest.problems)
    if manifest.status == "complete" and ids:
        results = finish(cfg, store, plan, ids, NullReporter())
        report.results = f"rewritten ({len(results.rows)} rows)"
        rows = results.rows
    else:
        report.results = f"not written: the run is {manifest.status or 'unfinished'} (finish it with `run`)"
        ids, rows = None, []
    try:
        report.side_by_side = side_by_side(store, cfg, plan, ids, rows)
    except UserError as e:   # an unfinished run: no samples of a group yet, or grades missing
        report.results += f"; no side-by-side table ({e})"
    return report


def side_by_side(store: Store, cfg: RunConfig, plan: Plan, ids, rows: list[ResultRow]
                 ) -> list[tuple[ResultRow, ResultRow]]:
    """(flexible row, strict row) for each selection strategy at each n, and each generation strategy at each
    of its budgets; `rows` (already evaluated under cfg.grading) are reused."""
    def evaluated(grading: str) -> list[ResultRow]:
        if rows and grading == cfg.grading:
            return rows
        out = evaluate(store.pool(ids, grading=grading, n=cfg.sampling.n), plan.selection, n_boot=cfg.bootstrap,
                       seed=cfg.bootstrap_seed) if plan.selection else []
        for g in plan.generation:
            pools = {b: store.pool(ids, group=generation_group(g, b), grading=grading) for b in cfg.budgets}
            out += evaluate_budgets(g, pools, n_boot=cfg.bootstrap, seed=cfg.bootstrap_seed)
        return out

    def key(r: ResultRow):
        return r.strategy, r.scorer, r.n, r.budget, getattr(r, "generation", None)

    strict = {key(r): r for r in evaluated("strict")}
    return [(r, strict[key(r)]) for r in evaluated("flexible") if key(r) in strict]


def stored_config(manifest: Manifest, *, grading: str | None = None, data_dir: str | None = None) -> RunConfig:
    """The RunConfig a run was made with (its manifest's, settings this version no longer knows left out), with
    `grading` and `data_dir` replaced where given."""
    cfg = manifest.config_or_refuse("regrade")
    changes = {k: v for k, v in (("grading", grading), ("data_dir", data_dir)) if v is not None}
    return dataclasses.replace(cfg, **changes) if changes else cfg


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _value(v):
    """A stored cell as a plain comparable value (numpy scalars, NaN and None alike)."""
    if _missing(v):
        return None
    return v.item() if hasattr(v, "item") else v


def _differ(old, new) -> bool:
    return [_value(v) for v in old] != [_value(v) for v in new]
