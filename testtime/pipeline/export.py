"""`testtime export RUN --to DIR`: a run's pool as a folder a Hugging Face `datasets` user loads directly.

    DIR/
        README.md                            the dataset card: YAML front matter naming the data files (one config,
                                             one split "train"), then the run's config, model, grader version and
                                             counts
        data/train-00000-of-00001.parquet    one row per pool sample: problem_id, sample_index, text, answer, correct,
                                             correct_strict, tokens, FLOPs, scores, ..., and the problem's gold answer

`datasets.load_dataset(DIR)` reads the card's `configs:` (the Hub's layout for Parquet datasets), and
`datasets.load_dataset("parquet", data_dir=DIR)` finds the one Parquet file; both give a "train" split. pandas
reads it too: `pd.read_parquet(DIR + "/data")`. Written to a temporary folder beside DIR and renamed into place.

Example:
    export("runs/gsm8k-smollm2-135m-45ab1a7b", "exports/gsm8k-smollm2")
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from testtime.errors import UserError
from testtime.files import check_folder, write_text
from testtime.store.reader import first_samples
from testtime.store.store import POOL, Store

DATA_FILE = "data/train-00000-of-00001.parquet"


def export(run: str | Path, to: str | Path) -> Path:
    """Write the pool of the run directory `run` (every stored pool sample) to the new folder `to`; the folder.

    Args:
        run: a run directory.
        to: the dataset folder to make; it must not exist yet.
    """
    store = Store.existing(run)
    to = Path(to)
    if to.exists():
        raise UserError(f"{to} already exists; pass a new folder to --to")
    check_folder(to, "--to", "pass another --to")
    manifest = store.manifest()
    df = first_samples(store.table().to_pandas(), None)
    df = df[df["group"] == POOL].drop(columns=["group", "strategy"]).reset_index(drop=True)
    if not len(df):
        raise UserError(f"{run} holds no pool samples to export (a run of generation strategies only?)")
    gold = store.gold()
    golds = dict(zip(gold.column("problem_id").to_pylist(), gold.column("gold").to_pylist())) \
        if gold is not None and "gold" in gold.column_names else {}
    df.insert(df.columns.get_loc("problem_id") + 1, "gold", df["problem_id"].map(golds))
    table = pa.Table.from_pandas(df, preserve_index=False)
    to.parent.mkdir(parents=True, exist_ok=True)
    tmp = to.parent / f".{to.name}.exporting-{uuid.uuid4().hex[:8]}"
    try:
        (tmp / "data").mkdir(parents=True)
        pq.write_table(table, tmp / DATA_FILE)
        write_text(tmp / "README.md", card(manifest, df, store.path))
        os.rename(tmp, to)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return to


def card(manifest, df, path: Path) -> str:
    """The dataset card: front matter for `datasets` and the Hub, then what the samples are and how they were made."""
    cfg = manifest.config
    per_problem = df.groupby("problem_id").size()
    model = cfg.model if cfg else "unknown"
    benchmark = cfg.benchmark if cfg else "unknown"
    config = json.dumps(manifest.stored.get("config", {}), indent=2, default=str)
    imported = manifest.extra.get("imported")
    lines = [
        "---",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        f"    path: {DATA_FILE}",
        "tags:",
        "- testtime",
        "- inference-time-scaling",
        "---",
        "",
        f"# {manifest.run_id or path.name}: {benchmark} samples of {model}",
        "",
        f"A pool of samples exported by testtime from the run directory `{path.name}`: {len(per_problem)} problems, "
        f"{len(df)} samples ({per_problem.min()}-{per_problem.max()} per problem), one row each, graded by testtime's "
        f"grader version {manifest.grader_version} (`correct`: the flexible grade, `correct_strict`: an explicitly "
        "marked final answer only; `answer_id`: the answer's equivalence class within its problem).",
        "",
        "```python",
        "import datasets",
        'ds = datasets.load_dataset("<this folder>")["train"]   # or load_dataset("parquet", data_dir=...)',
        "```",
        "",
        "| | |",
        "|---|---|",
        f"| model | {model} |",
        f"| benchmark | {benchmark} |",
        f"| problems | {len(per_problem)} |",
        f"| samples | {len(df)} |",
        f"| samples per problem | {per_problem.min()}-{per_problem.max()} |",
        f"| sample accuracy (flexible) | {df['correct'].astype(bool).mean():.4f} |",
        f"| grader version | {manifest.grader_version} |",
        f"| created | {manifest.created or 'unknown'} |",
    ]
    if imported:
        lines.append(f"| imported from | {imported.get('format')}: {imported.get('path')} |")
    lines += ["", "## The run's configuration", "", "```json", config, "```", ""]
    return "\n".join(lines)
