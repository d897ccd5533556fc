"""`testtime import FORMAT PATH`: another tool's samples as a testtime run directory, so that `show`, `analyze` and
`compare` read them like a run of testtime's own.

Formats (each read as the tool writes it; the writer code named is where the fields come from):

    lm-eval      lm-evaluation-harness `--log_samples` files, samples_<task>_<date>.jsonl (a file, or a folder of
                 them): one line per document and filter, `resps` = [[response 1, ..., response K]] for a task with
                 `repeats: K` (lm_eval/evaluator.py: `cloned_reqs.extend([req] * req.repeats)`, then
                 `req.resps.append(x)`; the logged example holds doc_id, doc, target, arguments, resps,
                 filtered_resps, filter and the metrics). A document's lines (one per filter) share their responses.
    lighteval    lighteval details, details/<model>/<date>/details_<task>_<date>.parquet: one row per document with
                 columns doc (query, choices, gold_index, id, ...), model_response (text: one entry per sample,
                 output_tokens, ...) and metric (src/lighteval/logging/evaluation_tracker.py `save_details`,
                 info_loggers.py `DetailsLogger.Detail`, models/model_output.py `ModelResponse`,
                 tasks/requests.py `Doc`).
    nemo-skills  NeMo-Skills generations, output-rs<seed>.jsonl (a folder of them, one file per random seed: sample k
                 of a problem is line i of the k-th seed's file): the input's fields (problem, expected_answer, id)
                 plus generation, predicted_answer and symbolic_correct (nemo_skills/evaluation/math_grader.py
                 `batch_evaluate_results`), num_generated_tokens where the generation wrote it.

Every sample is graded again by testtime's grader for `--benchmark` (answer, vote classes, flexible and strict
grades); the tool's own grade is kept beside it (`original_grade`: per sample where the tool grades each sample,
NeMo-Skills; else its per-document metric, named in `original_metric`). Tokens are counted with the model's tokenizer
when the model is available here (a built-in, or a local folder: `--model`), or read from the tool's own token ids
(lighteval) or counts (NeMo-Skills); FLOPs need the model's facts (its config.json). Whatever is not known is stored
as missing (null tokens, NaN FLOPs) and the manifest says so (`imported.tokens`, `imported.flops`); nothing is
guessed. No logprobs come with the samples, so the run evaluates majority_vote and pass_at_k.

Example:
    results = import_samples("lm-eval", "lm_eval_out/samples_gsm8k_2025-01-01T00-00-00.jsonl",
                             benchmark="gsm8k", model="smollm2-135m", into="runs/gsm8k-lmeval")
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import benchmarks
from benchmarks.base import Problem
from testtime import models
from testtime.config import RunConfig, check_run_name
from testtime.errors import UserError
from testtime.files import check_folder
from testtime.flops import decode_flops, prefill_flops
from testtime.pipeline.events import NullReporter
from testtime.pipeline.provenance import provenance
from testtime.pipeline.runner import Plan, finish
from testtime.pipeline.samples import grade_texts
from testtime.sampler import Sampling
from testtime.store.records import Results, SampleRecord
from testtime.store.store import POOL, Store

STRATEGIES = ("majority_vote", "pass_at_k")
"""What an import evaluates: the samples carry no logprobs, so no ranking by them."""


@dataclass
class Item:
    """One problem of another tool's log: its samples and what the tool said about them."""

    id: str
    question: str
    gold: str
    texts: list[str]
    prompt_text: str | None = None
    """The prompt as the tool sent it (for its token count); None when the log does not hold it."""
    output_tokens: list[int | None] | None = None
    """Tokens per sample as the tool counted them; None when it did not."""
    original: list[float | None] = field(default_factory=list)
    """The tool's grade of each sample (or its per-document metric, repeated)."""


@dataclass
class Log:
    items: list[Item]
    task: str
    model: str | None
    metric: str
    """What `Item.original` is (e.g. "exact_match,strict-match", "symbolic_correct")."""
    files: list[str]


def import_samples(fmt: str, path: str | Path, *, benchmark: str | None = None, model: str | None = None,
                   into: str | Path | None = None, output_dir: str = "runs") -> Results:
    """Make a run directory from another tool's sample log; its Results (majority_vote and pass_at_k at every n).

    Args:
        fmt: "lm-eval", "lighteval" or "nemo-skills" (see the module docstring).
        path: the tool's output file or folder.
        benchmark: testtime's benchmark whose grader grades the samples; default: guessed from the task name.
        model: the model, for tokens and FLOPs (a built-in name or a local folder); default: the one the log
            names, where it is a built-in's hub id or a local folder.
        into: the new run directory; default <output_dir>/<benchmark>-import-<format>-<digest of the path>.
    """
    if fmt not in FORMATS:
        raise UserError(f"unknown import format {fmt!r}; known: {', '.join(FORMATS)}")
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} not found; pass the {fmt} output file or folder")
    log = FORMATS[fmt](path)
    if not log.items:
        raise UserError(f"{path} holds no samples in the {fmt} format")
    bench_name = benchmark or guess_benchmark(log.task)
    bench = benchmarks.load(bench_name)   # a one-line UserError for an unknown name
    counts = {len(i.texts) for i in log.items}
    if len(counts) != 1:
        raise UserError(f"{path}: problems have different numbers of samples ({sorted(counts)}); a pool needs the "
                        "same number for each")
    n = counts.pop()
    folder, facts = local_model(model or log.model)
    into = Path(into) if into is not None else Path(output_dir) / default_name(bench_name, fmt, path)
    check_run_name(into.name)
    if into.exists():
        raise UserError(f"{into} already exists; pass another --name (or delete it to import again)")
    check_folder(into, "run directory", "pass another --output-dir or --name")
    count = tokenizer_counter(folder)
    cfg = RunConfig(model=str(model or log.model or "unknown"), benchmark=bench_name, limit=None,
                    sampling=Sampling(n=n, seed=None), strategies=STRATEGIES, output_dir=str(into.parent),
                    name=into.name, gold_likelihood=False, bootstrap=1000)
    into.parent.mkdir(parents=True, exist_ok=True)
    tmp = into.parent / f".{into.name}.importing-{uuid.uuid4().hex[:8]}"
    tokens_from = "tokenizer" if count else ("the log" if any(i.output_tokens for i in log.items) else "missing")
    try:
        store = Store(tmp)
        ids = []
        for item in log.items:
            problem = Problem(id=f"{bench_name}/{fmt}/{item.id}", prompt=item.question, gold=clean_gold(item.gold))
            ids.append(problem.id)
            store.append(records(problem, item, bench, facts, count, run_id=into.name, model=cfg.model))
        store.update_manifest(
            run_id=into.name, status="sampled", config=cfg.to_dict(), sample_key=cfg.sample_key(), problems=ids,
            model_path=str(folder) if folder else None, model_facts=facts.__dict__ if facts else {},
            engine={"backend": f"import:{fmt}"}, timings={}, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **provenance(),
            imported={"format": fmt, "path": str(path.resolve()), "files": log.files, "task": log.task,
                      "model": log.model, "original_metric": log.metric, "tokens": tokens_from,
                      "flops": "model facts" if facts and tokens_from != "missing" else "missing"})
        finish(cfg, store, Plan.of(cfg), ids, NullReporter())
        os.rename(tmp, into)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Results.load(into)


def records(problem: Problem, item: Item, bench, facts, count: Callable[[str], int] | None, *, run_id: str,
            model: str) -> list[SampleRecord]:
    """One imported problem's samples, graded by testtime; tokens and FLOPs where known, else missing."""
    grades, ids, strict_ids = grade_texts(problem, item.texts, bench)
    prompt = count(item.prompt_text if item.prompt_text is not None else problem.prompt) if count else None
    out = []
    for k, (text, g) in enumerate(zip(item.texts, grades)):
        tokens = count(text) if count else (item.output_tokens[k] if item.output_tokens else None)
        known = facts is not None and tokens is not None and prompt is not None
        original = item.original[k] if k < len(item.original) else None
        out.append(SampleRecord(
            run_id=run_id, model=model, benchmark=bench.name, group=POOL, problem_id=problem.id, sample_index=k,
            strategy=POOL, prompt_tokens=prompt, output_tokens=tokens, text=text, finish_reason=None,
            answer=g.answer, answer_id=ids[k], correct=bool(g.correct), extraction=g.extraction,
            correct_strict=g.correct_strict, answer_id_strict=strict_ids[k], logprob_sum=None, logprob_mean=None,
            token_logprobs=None, prefill_flops=float(prefill_flops(facts, prompt)) if known else math.nan,
            decode_flops=float(decode_flops(facts, prompt, tokens)) if known else math.nan,
            extra={"original_grade": None if original is None else float(original)}))
    return out


# ---- the formats ------------------------------------------------------------------------------------------------

def read_lm_eval(path: Path) -> Log:
    files = sorted(path.glob("samples_*.jsonl")) if path.is_dir() else [path]
    if not files:
        raise UserError(f"{path} holds no samples_*.jsonl (lm-evaluation-harness writes them with --log_samples)")
    items: dict[str, Item] = {}
    metric, task = "", files[0].stem.removeprefix("samples_").rsplit("_", 1)[0]
    for f in files:
        for line_no, row in jsonl(f):
            try:
                doc_id, resps = str(row["doc_id"]), row["resps"]
                texts = [r if isinstance(r, str) else r[0] for r in resps[0]]   # [[r1..rK]]; older: [[[r1]],..]
            except (KeyError, IndexError, TypeError):
                raise UserError(f"{f} line {line_no} is not an lm-evaluation-harness sample (it needs doc_id and "
                                "resps: [[response, ...]])") from None
            scores = {k: float(v) for k, v in row.items() if isinstance(v, (int, float)) and k != "doc_id"}
            name = next(iter(scores), None)
            if doc_id in items:   # the same document under another filter: same responses
                continue
            doc = row.get("doc") or {}
            metric = metric or (f"{name},{row.get('filter', 'none')}" if name else "")
            items[doc_id] = Item(id=doc_id, question=str(doc.get("question") or doc.get("problem") or ""),
                                 gold=str(row.get("target", "")), texts=texts, prompt_text=lm_eval_prompt(row),
                                 original=[scores.get(name)] * len(texts) if name else [])
    return Log(list(items.values()), task, lm_eval_model(files[0].parent), metric, [str(f) for f in files])


def lm_eval_model(folder: Path) -> str | None:
    """The model lm-evaluation-harness names in the results_*.json beside its samples: `model_name`, else the
    `pretrained=` of config.model_args (lm_eval/loggers/evaluation_tracker.py writes both)."""
    for f in sorted(folder.glob("results_*.json")):
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("model_name"):
            return str(data["model_name"])
        args = (data.get("config") or {}).get("model_args") or ""
        if isinstance(args, str):
            found = [a.split("=", 1)[1] for a in args.split(",") if a.startswith("pretrained=")]
            if found:
                return found[0]
    return None


def lm_eval_prompt(row: dict) -> str | None:
    """The context lm-evaluation-harness sent: arguments [[context, gen_kwargs]] (before 0.4.5) or
    {"gen_args_0": {"arg_0": context, "arg_1": gen_kwargs}}."""
    args = row.get("arguments")
    if isinstance(args, dict):
        first = next(iter(args.values()), {})
        return first.get("arg_0") if isinstance(first, dict) else None
    if isinstance(args, list) and args and isinstance(args[0], list) and args[0]:
        return args[0][0] if isinstance(args[0][0], str) else None
    return None


def read_lighteval(path: Path) -> Log:
    import pyarrow.parquet as pq

    files = sorted(path.rglob("details_*.parquet")) if path.is_dir() else [path]
    if not files:
        raise UserError(f"{path} holds no details_*.parquet (lighteval writes them with --save-details)")
    items, metric = [], ""
    task = files[0].stem.removeprefix("details_").rsplit("_", 1)[0]
    for f in files:
        try:
            rows = pq.read_table(f).to_pylist()
        except Exception as e:
            raise UserError(f"{f} cannot be read as Parquet ({e})") from None
        for i, row in enumerate(rows):
            doc, resp, scores = row.get("doc"), row.get("model_response"), row.get("metric") or {}
            if not isinstance(doc, dict) or not isinstance(resp, dict) or not resp.get("text"):
                raise UserError(f"{f} row {i} is not a lighteval detail (it needs doc and model_response.text)")
            gold = doc.get("gold_index")
            gold = gold[0] if isinstance(gold, list) else gold
            choices = doc.get("choices") or []
            if gold is None or not 0 <= gold < len(choices):
                raise UserError(f"{f} row {i}: doc.gold_index {doc.get('gold_index')!r} names no choice")
            name = next(iter(scores), None)
            metric = metric or (name or "")
            tokens = resp.get("output_tokens") or []
            texts = list(resp["text"])
            items.append(Item(id=str(doc.get("id") or i), question=str(doc.get("original_query") or doc.get("query")),
                              gold=str(choices[gold]), texts=texts, prompt_text=resp.get("input")
                              if isinstance(resp.get("input"), str) else None,
                              output_tokens=[len(t) for t in tokens] if len(tokens) == len(texts) else None,
                              original=[scores.get(name)] * len(texts) if name else []))
    return Log(items, task, lighteval_model(files[0]), metric, [str(f) for f in files])


def lighteval_model(f: Path) -> str | None:
    """The model of details/<model name, maybe org/name>/<date>/details_*.parquet (evaluation_tracker.py
    `_get_details_sub_folder`)."""
    parts = f.resolve().parts
    if "details" not in parts:
        return None
    start = len(parts) - 1 - parts[::-1].index("details")
    name = "/".join(parts[start + 1:-2])
    return name or None


def read_nemo_skills(path: Path) -> Log:
    files = sorted(path.glob("output-rs*.jsonl"), key=lambda f: int(f.stem.removeprefix("output-rs") or 0)) \
        if path.is_dir() else [path]
    if not files:
        raise UserError(f"{path} holds no output-rs*.jsonl (NeMo-Skills writes one per random seed)")
    per_file = [[row for _, row in jsonl(f)] for f in files]
    if len({len(rows) for rows in per_file}) != 1:
        raise UserError(f"{path}: the output-rs*.jsonl files hold different numbers of lines; each must hold every "
                        "problem, in the same order")
    items = []
    for i, rows in enumerate(zip(*per_file)):
        if any(not r for r in rows):
            raise UserError(f"{path}: line {i + 1} is empty in some output-rs*.jsonl (an unfinished generation); "
                            "finish the generations first")
        head = rows[0]
        if "generation" not in head or "expected_answer" not in head:
            raise UserError(f"{files[0]} line {i + 1} is not a NeMo-Skills output (it needs generation and "
                            "expected_answer)")
        tokens = [r.get("num_generated_tokens") for r in rows]
        items.append(Item(id=str(head.get("id", i)), question=str(head.get("problem") or head.get("question") or ""),
                          gold=str(head["expected_answer"]), texts=[str(r["generation"]) for r in rows],
                          output_tokens=tokens if all(isinstance(t, int) for t in tokens) else None,
                          original=[float(r["symbolic_correct"]) if "symbolic_correct" in r else None for r in rows]))
    return Log(items, path.name if path.is_dir() else path.parent.name, None, "symbolic_correct",
               [str(f) for f in files])


FORMATS: dict[str, Callable[[Path], Log]] = {"lm-eval": read_lm_eval, "lighteval": read_lighteval,
                                              "nemo-skills": read_nemo_skills}


# ---- helpers ----------------------------------------------------------------------------------------------------

def jsonl(f: Path):
    """(line number, row) of a JSON Lines file; a bad line is one UserError naming it."""
    try:
        lines = f.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{f} cannot be read as UTF-8 text ({e})") from None
    for k, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{f} line {k} is not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise UserError(f"{f} line {k} is not a JSON object")
        yield k, row


def guess_benchmark(task: str) -> str:
    """testtime's benchmark for a tool's task name (gsm8k_cot_self_consistency -> gsm8k, math_500 -> math500);
    a one-line UserError when none fits."""
    from testtime.registry import names

    flat = task.lower().replace("-", "_").replace("|", "_")
    known = sorted(names("benchmark"), key=len, reverse=True)
    for name in known:
        if name in flat or name in flat.replace("_", ""):
            return name
    raise UserError(f"cannot tell which benchmark task {task!r} is; pass --benchmark (one of {', '.join(known)})")


def clean_gold(gold: str) -> str:
    """A gold answer as the tool logged it, reduced to the answer: a GSM8K solution's number after '####'."""
    return gold.split("####")[-1].strip().replace(",", "") if "####" in gold else gold.strip()


def local_model(name: str | None):
    """(folder, ModelFacts) of a model available here without a download: a built-in (by name or hub id) or a
    local folder; (None, None) otherwise."""
    if not name:
        return None, None
    builtin = next((b.name for b in models.BUILTINS.values() if name in (b.name, b.hub_id)), None)
    try:
        if builtin:
            folder = models.resolve(builtin, install=False, weights=False)
        elif Path(name).expanduser().is_dir():
            folder = models.resolve(name)
        else:
            return None, None
        return folder, models.ModelFacts.from_folder(folder)
    except UserError:
        return None, None


def tokenizer_counter(folder: Path | None) -> Callable[[str], int] | None:
    """Tokens of a text under the model's tokenizer (no special tokens); None without a tokenizer."""
    if folder is None:
        return None
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(folder))
    except Exception:   # no tokenizer files in the folder: tokens stay missing
        return None
    return lambda text: len(tok.encode(text or "", add_special_tokens=False))


def default_name(benchmark: str, fmt: str, path: Path) -> str:
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    return f"{benchmark}-import-{fmt}-{digest}"


