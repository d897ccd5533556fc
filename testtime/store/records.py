"""What a run directory holds, as types: one sample record, one result row, the `Results` collection, and the
per-problem summary the analyzer reads. Every reader and writer of those files goes through here (the manifest's
type is in manifest.py; pools are read back by reader.py).

    SampleRecord    one row of samples/part-*.parquet (one sample of one problem)
    ResultRow       one row of results.json: a strategy at one n (a generation strategy: at one budget)
    Results         a run's result rows + its manifest (a Manifest, testtime.store.manifest); `Results.load(run_dir)`;
                    renders itself in rich
    summary.parquet one row per problem: the gold answer's likelihood and the samples' mean logprobs (sums and
                    counts, so any set of problems aggregates exactly)

Example:
    results = Results.load("runs/gsm8k-smollm2-135m-n64-1a2b3c4d")
    console.print(results)                 # one table per (strategy, scorer)
    results.to_pandas()                    # one row per (strategy, scorer, n or budget)
    load_summary("runs/...")               # DataFrame, one row per problem
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from testtime.errors import UserError
from testtime.config import RunConfig
from testtime.files import atomic_write, write_json
from testtime.store.manifest import MANIFEST, Manifest, existing_manifest, read_manifest  # noqa: F401  (read here)

RESULTS = "results.json"
RESULTS_CSV = "results.csv"
SUMMARY = "summary.parquet"


# ---- samples ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SampleRecord:
    """One stored sample: what was generated, how it graded, what it cost. Written by the runner, one Parquet row."""

    run_id: str
    model: str
    benchmark: str
    group: str
    """"sample" for the pool; "<strategy>-<settings digest>@<budget>" for a generation strategy's samples."""
    problem_id: str
    sample_index: int
    strategy: str
    """"sample" for the pool, else the generation strategy's name."""
    prompt_tokens: int
    output_tokens: int
    text: str
    finish_reason: str | None
    answer: str | None
    """The extracted answer (canonical form); None when nothing was extracted."""
    answer_id: int
    """Equal ids within a problem are equivalent answers; -1 for no answer. The flexible policy's vote classes."""
    correct: bool
    """The flexible grade: the extracted answer, however it was found, equals the gold answer."""
    logprob_sum: float | None
    logprob_mean: float | None
    token_logprobs: tuple[float, ...] | None
    prefill_flops: float
    """One prefill of the prompt (shared by the problem's samples)."""
    decode_flops: float
    """Every other forward pass of the sample: its generated tokens at their context positions, and for a generation
    strategy the prefill of its continuation requests past what the engine's prefix cache held."""
    extraction: str | None = None
    """How the answer was found: boxed | marked | last_number | letter | none (benchmarks.base.EXTRACTIONS); None in
    samples graded before grader 2 (`python -m testtime regrade RUN` adds it)."""
    correct_strict: bool | None = None
    """The strict grade: correct, and the answer explicitly marked (boxed or marked); None before grader 2."""
    answer_id_strict: int | None = None
    """The strict policy's vote classes: those of the explicitly marked answers only (-1 for the rest); None before
    grader 2."""
    ttft_s: float | None = None
    """Seconds to the first token of the request that produced the sample, as the engine measured it
    (`Completion.ttft_s`); None where not measured (and in samples stored before it was)."""
    tpot_s: float | None = None
    """Seconds per output token after the first, of that request; None where not measured."""
    request_s: float | None = None
    """Wall seconds of that whole request; None where not measured."""
    scores: dict[str, float] = field(default_factory=dict)
    """Scorer name -> score (column score_<name>)."""
    scorer_flops: dict[str, float] = field(default_factory=dict)
    """Scorer name -> FLOPs that scorer spent on this sample (column scorer_flops_<name>)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """A generation strategy's own fields (budget, thinking_tokens, steps, score_flops, ...), one column each."""

    def graded(self, grading: str) -> bool:
        """The grade under policy `grading` ("flexible" or "strict")."""
        return bool(self.correct_strict if grading == "strict" else self.correct)

    @classmethod
    def from_row(cls, row: dict) -> "SampleRecord":
        """The record of a flat row (as `to_row` writes it, or a stored sample read back)."""
        fixed = {k: row.get(k) for k in SAMPLE_COLUMNS}
        rest = {k: v for k, v in row.items() if k not in SAMPLE_COLUMNS}
        lps = fixed["token_logprobs"]
        fixed["token_logprobs"] = tuple(float(x) for x in lps) if lps is not None else None
        return cls(**fixed, scores={k.removeprefix("score_"): v for k, v in rest.items()
                                    if k.startswith("score_") and k != "score_flops"},
                   scorer_flops={k.removeprefix("scorer_flops_"): v for k, v in rest.items()
                                 if k.startswith("scorer_flops_")},
                   extra={k: v for k, v in rest.items() if not k.startswith(("score_", "scorer_flops_"))
                          or k == "score_flops"})

    def to_row(self) -> dict:
        """The flat Parquet row: the fixed columns, then score_<name>, scorer_flops_<name> and the extra fields."""
        row = {f: getattr(self, f) for f in SAMPLE_COLUMNS}
        row["token_logprobs"] = list(self.token_logprobs) if self.token_logprobs else None
        row.update({f"score_{k}": float(v) for k, v in self.scores.items()})
        row.update({f"scorer_flops_{k}": float(v) for k, v in self.scorer_flops.items()})
        row.update(self.extra)
        return row


SAMPLE_COLUMNS = tuple(f.name for f in dataclasses.fields(SampleRecord) if f.name not in ("scores", "scorer_flops",
                                                                                          "extra"))
"""The fixed columns of every sample part, in order."""


# ---- results ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ResultRow:
    """One strategy at one n (a generation strategy: at one budget): accuracy with its CI and what it cost, averaged
    over the run's problems."""

    strategy: str
    scorer: str | None
    """The scorer the strategy ranks or weighs by (or a search's step scorer); None for none."""
    n: int
    """Samples selected among (selection strategies); 1 for a generation strategy's budget rows."""
    accuracy: float
    ci_low: float
    ci_high: float
    """95% bootstrap CI over problems."""
    tokens_per_problem: float
    flops_per_problem: float
    flops_per_problem_naive: float
    """FLOPs if every sample prefilled its own copy of the prompt (no prefix caching)."""
    problems: int
    mc_stderr: float | None = None
    """Monte-Carlo standard error of `accuracy` where the estimate is not exact."""
    budget: int | None = None
    """A generation strategy's budget (thinking tokens, candidates per step); None for selection strategies."""
    budget_unit: str | None = None
    """What `budget` counts."""
    samples_per_problem: int | None = None
    """A generation strategy's samples per problem at each budget."""
    oracle: bool = False
    """The strategy reads the gold answer (pass@k, best-of-n by oracle): an upper bound, not a deployable choice."""
    grading: str = "flexible"
    """The grade `accuracy` counts: "flexible" (any extracted answer, the last-number fallback included) or "strict"
    (explicitly marked answers only). Results files written before the choice existed are flexible."""
    samples: float | None = None
    """Expected samples per problem of a selection strategy that may stop before n (adaptive stopping: samples
    started, averaged over orderings); None where it is n."""
    generation: str | None = None
    """The sequential x parallel grid: the generation strategy among whose samples at `budget` this selection
    strategy chose n; None for the pool's rows and for a generation strategy's own rows."""

    @classmethod
    def from_dict(cls, d: dict) -> "ResultRow":
        """A row from results.json; files written before `oracle` existed mark the oracle scorer by its name."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        if kw.get("scorer") == "none":   # results files written before scorer became optional
            kw["scorer"] = None
        if "oracle" not in d:
            kw["oracle"] = d.get("scorer") == "oracle"   # legacy files: the only scorer that reads the gold answer
        for k in ("accuracy", "ci_low", "ci_high", "tokens_per_problem", "flops_per_problem",
                  "flops_per_problem_naive"):
            kw[k] = float(kw[k]) if kw.get(k) is not None else math.nan
        return cls(**kw)

    @property
    def label(self) -> str:
        """"strategy" or "strategy (scorer)", for tables and plots."""
        return self.strategy if self.scorer is None else f"{self.strategy} ({self.scorer})"


@dataclass
class Results:
    """A run's result rows, in order (strategy by strategy, budgets ascending), and its manifest."""

    rows: list[ResultRow]
    manifest: Manifest = field(default_factory=Manifest)
    path: Path | None = None
    grader_version: int | None = None
    """The grader that graded the samples (benchmarks.grading.GRADER_VERSION); None in files written before it was
    recorded (grader 1)."""

    @classmethod
    def load(cls, run_dir: str | Path) -> "Results":
        """The results of a run directory; a one-line UserError when it has none yet."""
        run_dir = Path(run_dir)
        if not run_dir.exists():
            raise UserError(f"{run_dir} does not exist; pass a run directory (see `python -m testtime show`)")
        manifest = existing_manifest(run_dir)
        path = run_dir / RESULTS
        if not path.is_file():
            raise UserError(f"{run_dir} has no results yet (status: {manifest.status or 'unknown'}); "
                            "run the same `python -m testtime run` command again to finish it")
        try:
            data = json.loads(path.read_text())
            rows = [ResultRow.from_dict(r) for r in data.get("rows") or []]
            version = data.get("grader_version")
        except (json.JSONDecodeError, AttributeError, TypeError, KeyError):
            raise UserError(f"{path} is not a results file; re-run the same command to rewrite it") from None
        if not rows:
            raise UserError(f"{run_dir} has no results yet (results.json is empty); re-run the same command")
        return cls(rows=rows, manifest=manifest, path=run_dir, grader_version=version)

    @property
    def grading(self) -> str:
        """The grade the rows count ("flexible" or "strict")."""
        return self.rows[0].grading if self.rows else "flexible"

    def save(self, run_dir: str | Path) -> None:
        """Write results.json and results.csv atomically; results.json names the grading policy and grader."""
        run_dir = Path(run_dir)
        write_json(run_dir / RESULTS, {"grading": self.grading, "grader_version": self.grader_version,
                                       "rows": [dataclasses.asdict(r) for r in self.rows]})
        df = self.to_pandas()
        atomic_write(run_dir / RESULTS_CSV, lambda tmp: df.to_csv(tmp, index=False))

    @property
    def run_id(self) -> str:
        return self.manifest.run_id or (self.path.name if self.path else "")

    @property
    def config(self) -> RunConfig | None:
        """The run's RunConfig (its manifest's); None when the manifest holds none this version can read."""
        return self.manifest.config

    def __iter__(self) -> Iterator[ResultRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def to_pandas(self):
        """One row per (strategy, scorer, n or budget), columns as ResultRow's fields."""
        import pandas as pd

        cols = [f.name for f in dataclasses.fields(ResultRow)]
        return pd.DataFrame([dataclasses.asdict(r) for r in self.rows], columns=cols)

    def tables(self, title: str = "") -> list:
        """One rich Table per (strategy, scorer): n (or budget) | accuracy (95% CI) | expected samples/problem (a
        strategy that stops early) | tokens/problem | FLOPs/problem."""
        from rich.table import Table

        tables = []
        for _, group in groupby(self.rows, key=lambda r: (r.generation, r.strategy, r.scorer)):
            group = list(group)
            first = group[0]
            by = "" if first.scorer is None else f" by {first.scorer}"
            budgets = first.budget is not None
            grid = first.generation is not None   # budget x n: a selection strategy over a generation's samples
            if grid:
                by += f" over {first.generation}'s {first.samples_per_problem} samples per {first.budget_unit}"
            elif budgets:
                k = first.samples_per_problem or "?"
                by += f", {k} sample{'' if k == 1 else 's'} per budget"
            table = Table(title=f"{title}{first.strategy}{by}  ({first.problems} problems, {first.grading} grades)",
                          title_justify="left")
            table.add_column(first.budget_unit or "thinking budget" if budgets else "n", justify="right")
            if grid:
                table.add_column("n", justify="right")
            table.add_column("accuracy (95% CI)", justify="right")
            adaptive = any(r.samples is not None for r in group)
            if adaptive:
                table.add_column("samples/problem", justify="right")
            table.add_column("tokens/problem", justify="right")
            table.add_column("FLOPs/problem", justify="right")
            for r in group:
                acc = f"{r.accuracy:.1%} ({r.ci_low:.1%}-{r.ci_high:.1%})"
                if r.mc_stderr:
                    acc += f" ±{r.mc_stderr:.2%} MC"  # MC error is often < 0.05%: one decimal would print ±0.0%
                table.add_row(str(r.budget if budgets else r.n), *([str(r.n)] if grid else []), acc,
                              *([f"{r.samples:.2f}" if r.samples is not None else str(r.n)] if adaptive else []),
                              f"{r.tokens_per_problem:,.0f}", fmt_flops(r.flops_per_problem))
            tables.append(table)
        return tables

    def __rich__(self):
        from rich.console import Group

        return Group(*self.tables())


def fmt_flops(x: float) -> str:
    return f"{x:.3g}" if x < 1e4 else f"{x:.2e}"


# ---- the per-problem summary ------------------------------------------------------------------------------------

SUMMARY_COLUMNS = ("problem_id", "samples", "correct_samples", "logprob_mean_sum", "logprob_mean_count",
                   "logprob_mean_sum_correct", "logprob_mean_count_correct", "gold_tokens", "gold_logprob_sum",
                   "gold_logprob_mean")
"""Per problem of the pool: sample counts, sums and counts of the samples' mean token logprob (all and correct
ones; NaN logprobs not counted), and the gold answer's log-probability (NaN when not read)."""


def write_summary(run_dir: str | Path, frame) -> None:
    """Write the per-problem summary (a DataFrame with SUMMARY_COLUMNS) atomically."""
    frame = frame[list(SUMMARY_COLUMNS)]
    atomic_write(Path(run_dir) / SUMMARY, lambda tmp: frame.to_parquet(tmp, index=False))


def load_summary(run_dir: str | Path):
    """The per-problem summary of a run as a DataFrame (SUMMARY_COLUMNS); None for runs evaluated before it
    existed (re-running the run's command writes it without sampling)."""
    import pandas as pd

    path = Path(run_dir) / SUMMARY
    return pd.read_parquet(path) if path.is_file() else None


def sample_columns(rows: Iterable[dict]) -> Sequence[str]:
    """Column order for sample rows: the fixed columns first, then the rest in first-seen order."""
    extra: dict[str, None] = {}
    for r in rows:
        extra.update(dict.fromkeys(k for k in r if k not in SAMPLE_COLUMNS))
    return [*SAMPLE_COLUMNS, *extra]


# ---- reading parts while a run writes them -----------------------------------------------------------------------

def read_parquet(path: str | Path, columns: Sequence[str] | Callable[[str], bool] | None = None, *, remedy: str):
    """A Parquet file of the run directory as a pyarrow Table (the `columns` it has, or those a predicate keeps; all
    by default). One that cannot be read (truncated, not Parquet, a disk error) is a one-line UserError naming it
    and `remedy`, never skipped in silence. FileNotFoundError passes through: a writer may have just replaced it
    (`read_parts` lists again)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        keep = columns if callable(columns) else (lambda c: c in columns) if columns is not None else None
        return pq.read_table(path, columns=[c for c in names if keep(c)] if keep else None)
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError) as e:
        reason = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
        raise UserError(f"{path} is damaged and cannot be read ({reason}); {remedy}") from None


def read_part(path: Path, columns: Sequence[str] | Callable[[str], bool] | None = None):
    """One sample part (the `columns` it has, or those a predicate keeps, and "group"; all by default). Parts
    written before sample groups existed hold pool samples only ("sample")."""
    import shlex

    import pyarrow as pa

    quoted = shlex.quote(str(path))
    wanted = columns if columns is None or callable(columns) else set(columns).__contains__
    table = read_parquet(path, None if wanted is None else lambda c: c == "group" or wanted(c),
                         remedy=f"to drop it and sample its problems again: mv {quoted} {quoted}.damaged, then run "
                                "the same command")
    if "group" not in table.column_names:
        table = table.add_column(0, "group", pa.array(["sample"] * table.num_rows, pa.string()))
    if columns is not None and not callable(columns):
        table = table.select([c for c in columns if c in table.column_names])
    return table


def read_parts(run_dir: str | Path, read: Callable[[list[Path]], Any], *, attempts: int = 20):
    """`read(parts)` on the run's sample parts, listed again whenever one vanishes while read: a writer compacting
    or rescoring writes the new part first and removes the old ones after, so every listing holds whole problems
    (read with `drop_duplicates`, newest copy kept)."""
    import time

    for _ in range(attempts):
        try:
            return read(sorted((Path(run_dir) / "samples").glob("part-*.parquet")))
        except FileNotFoundError:
            time.sleep(0.05)
    raise UserError(f"{run_dir}/samples kept changing while it was read; try again")
