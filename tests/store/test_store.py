"""The run directory: atomic parts of whole problems, resume after kill -9 and Ctrl-C, no duplicates, no loss."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq
import pytest

from tests.helpers import ROOT, cli_in_process, wait_for_parts
from testtime.errors import UserError
from testtime.store.records import SAMPLE_COLUMNS, SampleRecord
from testtime.store.store import Store

FAKE = ["--backend", "fake", "--benchmark", "gsm8k"]


def run_args(data_dir, out, limit=6, n=8):
    return ["run", *FAKE, "--data-dir", data_dir, "--limit", limit, "--n", n, "--output-dir", out, "--name", "r"]


def test_fresh_run_writes_manifest_samples_results(data_dir, tmp_path):
    res = cli_in_process(*run_args(data_dir, tmp_path))
    assert res.returncode == 0, res.stderr
    run = tmp_path / "r"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    for key in ("config", "sample_key", "versions", "hardware", "model_facts", "engine", "timings", "git_commit"):
        assert key in manifest
    assert manifest["config"]["sampling"]["n"] == 8 and len(manifest["problems"]) == 6
    table = Store(run).table()
    assert table.num_rows == 6 * 8
    assert set(SAMPLE_COLUMNS) <= set(table.column_names) and "score_logprob" in table.column_names
    rows = json.loads((run / "results.json").read_text())["rows"]
    assert {r["strategy"] for r in rows} == {"best_of_n", "majority_vote", "pass_at_k"}
    assert [r["n"] for r in rows if r["strategy"] == "pass_at_k"] == [1, 2, 4, 8]
    assert "accuracy (95% CI)" in res.stdout and "FLOPs/problem" in res.stdout


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_run_resumes_without_loss_or_duplicates(data_dir, tmp_path, sig):
    out = tmp_path / "out"
    env = {**os.environ, "TESTTIME_FAKE_DELAY": "0.4", "COLUMNS": "120"}
    # A shell's background job (`make test &`, nohup) ignores SIGINT, and children inherit that: restore Ctrl-C.
    proc = subprocess.Popen([sys.executable, "-m", "testtime", *map(str, run_args(data_dir, out, limit=12))],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    run = out / "r"
    wait_for_parts(run, 3, proc, timeout=60)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "Traceback" not in stderr and "resume" in stderr
    else:
        assert proc.returncode == -signal.SIGKILL
    store = Store(run)
    before = store.table().to_pandas()
    stored = set(before["problem_id"])
    assert 3 <= len(stored) < 12
    assert (before.groupby("problem_id").size() == 8).all()  # whole problems only
    assert not list((run / "samples").glob(".*.tmp")) or sig == signal.SIGKILL
    assert not (run / "results.json").exists()

    res = cli_in_process(*run_args(data_dir, out, limit=12))
    assert res.returncode == 0, res.stderr
    assert "resumed" in res.stdout
    after = store.table().to_pandas()
    assert len(after) == 12 * 8 and not after.duplicated(["problem_id", "sample_index"]).any()
    # The problems stored before the interruption were not sampled again: their rows are unchanged.
    kept = after[after["problem_id"].isin(stored)].reset_index(drop=True)
    assert kept[["problem_id", "sample_index", "text"]].equals(before[["problem_id", "sample_index", "text"]]
                                                              .reset_index(drop=True))
    # And the resumed run equals an uninterrupted one (the fake sampler is deterministic per prompt).
    ref = cli_in_process(*run_args(data_dir, tmp_path / "ref", limit=12))
    assert ref.returncode == 0
    full = Store(tmp_path / "ref" / "r").table().to_pandas()
    assert after[["problem_id", "sample_index", "text", "correct"]].reset_index(drop=True).equals(
        full[["problem_id", "sample_index", "text", "correct"]].reset_index(drop=True))


def test_duplicate_parts_are_read_once_and_compacted(data_dir, tmp_path):
    assert cli_in_process(*run_args(data_dir, tmp_path, limit=3, n=4)).returncode == 0
    store = Store(tmp_path / "r")
    part = store.parts()[0]
    dup = part.with_name("part-99999999999999999999-dup.parquet")
    dup.write_bytes(part.read_bytes())  # as if compaction died after writing the merged part
    assert store.table().num_rows == 3 * 4
    store.compact()
    assert len(store.parts()) == 1 and pq.read_table(store.parts()[0]).num_rows == 12


def test_refuses_run_dir_of_another_config(data_dir, tmp_path):
    assert cli_in_process(*run_args(data_dir, tmp_path, limit=3, n=4)).returncode == 0
    res = cli_in_process(*run_args(data_dir, tmp_path, limit=3, n=4), "--temperature", "0.5")
    assert res.returncode == 2 and "different configuration" in res.stderr
    # n is not part of the identity: a smaller n reads the stored pool's first samples (issue 26)
    assert cli_in_process(*run_args(data_dir, tmp_path, limit=3, n=2)).returncode == 0
    with pytest.raises(UserError):
        Store.open(tmp_path / "r", {"other": 1})


def test_show(data_dir, tmp_path):
    assert cli_in_process(*run_args(data_dir, tmp_path, limit=2, n=2)).returncode == 0
    res = cli_in_process("show", tmp_path / "r")
    assert res.returncode == 0 and "complete" in res.stdout and "majority_vote" in res.stdout
    listing = cli_in_process("show", "--output-dir", tmp_path)
    assert "r" in listing.stdout
    bad = cli_in_process("show", tmp_path / "nope")
    assert bad.returncode == 2 and "not a testtime run directory" in bad.stderr


def test_a_new_scorer_scores_the_stored_pool_without_resampling(data_dir, tmp_path):
    """Naming a scorer after sampling scores the stored samples (one rewrite, nothing sampled again or lost)."""
    from dataclasses import dataclass
    from typing import ClassVar

    from testtime.config import RunConfig
    from testtime.registry import register
    from testtime.pipeline.runner import run
    from testtime.sampler import Sampling

    @register("scorer", "text_length_test")
    @dataclass(frozen=True)
    class TextLength:
        name: ClassVar[str] = "text_length_test"
        reads_gold: ClassVar[bool] = False

        def bind(self, engines):
            return self

        def score(self, problem, completions):
            return [float(len(c.text)) for c in completions]

        def flops(self, problem, completions):
            return [7.0] * len(completions)

    base = dict(backend="fake", benchmark="gsm8k", data_dir=str(data_dir), limit=4, output_dir=str(tmp_path),
                name="r", sampling=Sampling(n=4, max_tokens=64), bootstrap=50)
    run(RunConfig(**base, strategies=("best_of_n",)))
    before = Store(tmp_path / "r").table().to_pandas()
    tokens = json.loads((tmp_path / "r" / "manifest.json").read_text())["timings"]["sampled_tokens"]
    result = run(RunConfig(**base, strategies=("best_of_n:text_length_test",)))
    store = Store(tmp_path / "r")
    after = store.table().to_pandas()
    assert len(store.parts()) == 1 and len(after) == len(before) == 16
    assert after["text"].tolist() == before["text"].tolist()
    assert after["score_logprob"].tolist() == before["score_logprob"].tolist()
    assert after["score_text_length_test"].tolist() == [float(len(t)) for t in after["text"]]
    assert (after["scorer_flops_text_length_test"] == 7.0).all()
    assert json.loads((tmp_path / "r" / "manifest.json").read_text())["timings"]["sampled_tokens"] == tokens
    assert {r.strategy for r in result.rows} == {"best_of_n"} and result.rows[0].scorer == "text_length_test"
    pool = store.pool()
    assert pool.scores["text_length_test"].shape == (4, 4)
    # Only a strategy that ranks by the scorer pays its passes: 7 FLOPs per sample it looks at.
    from strategies.best_of_n import BestOfN
    from strategies.majority_vote import MajorityVote

    free, paid = BestOfN(scorer="logprob").evaluate(pool, 4), BestOfN(scorer="text_length_test").evaluate(pool, 4)
    assert paid.flops - free.flops == pytest.approx(np.full(4, 28.0))
    assert MajorityVote().evaluate(pool, 4).flops == pytest.approx(free.flops)
    extra = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in before.iloc[0].to_dict().items()}
    store.append([SampleRecord.from_row({**extra, "problem_id": "later"})])   # parts written after a rewrite still concatenate with it
    assert len(store.table()) == 17
    store.rewrite(store.table().filter(pa.compute.field("problem_id") != "later"))
    run(RunConfig(**base, strategies=("best_of_n:text_length_test",)))   # scored already: nothing to do
    assert Store(tmp_path / "r").table().to_pandas()["score_text_length_test"].tolist() == \
        after["score_text_length_test"].tolist()


def test_gold_likelihood_is_stored_once_per_problem_and_backfilled(data_dir, tmp_path):
    """Every run reads the gold answer's log-probability per problem (gold.parquet); a run made without it gets it
    on the next run of the same command, with nothing sampled again."""
    from benchmarks import load, select
    from testtime.config import RunConfig
    from testtime.pipeline.runner import GOLD_PREFIX, run
    from testtime.sampler import Sampling
    from testtime.samplers.fake import FakeSampler

    base = dict(backend="fake", benchmark="gsm8k", data_dir=str(data_dir), output_dir=str(tmp_path), name="r",
                sampling=Sampling(n=2, max_tokens=32), bootstrap=20, strategies=("majority_vote",))
    run(RunConfig(**base, limit=3, gold_likelihood=False))
    store = Store(tmp_path / "r")
    assert store.gold() is None
    parts = store.parts()
    run(RunConfig(**base, limit=3))
    assert store.parts() == parts                     # nothing resampled or rewritten
    gold = store.gold().to_pandas()
    problems = select(load("gsm8k", data_dir=str(data_dir)).problems(), limit=3, seed=0)
    assert gold["problem_id"].tolist() == [p.id for p in problems]
    # the fake sampler's logprobs for exactly this prompt, prefix and gold text
    want = FakeSampler().continuation_logprobs([p.prompt for p in problems], [p.gold for p in problems],
                                               prefix=GOLD_PREFIX)
    assert gold["gold_logprob_sum"].tolist() == pytest.approx([sum(w) for w in want])
    assert gold["gold_tokens"].tolist() == [len(w) for w in want]
    assert gold["gold_logprob_mean"].tolist() == pytest.approx([sum(w) / len(w) for w in want])
    assert json.loads((tmp_path / "r" / "manifest.json").read_text())["timings"]["gold_likelihood_s"] >= 0

    store.add_gold([{**gold.iloc[0].to_dict(), "gold_logprob_sum": -1.0}])   # replaces, does not duplicate
    assert len(store.gold()) == 3 and store.gold().to_pandas().set_index("problem_id")[
        "gold_logprob_sum"][problems[0].id] == -1.0


def test_a_strategy_revision_changes_its_group_and_revision_1_keeps_the_old_digest():
    """Samples of an older revision of a generation strategy are never resumed as this revision's."""
    import dataclasses
    import hashlib
    import json as json_

    from strategies.rebase import Rebase
    from testtime.store.store import generation_group

    old = hashlib.sha1(json_.dumps(dataclasses.asdict(Rebase()), sort_keys=True).encode()).hexdigest()[:8]
    assert Rebase.revision == 2 and generation_group(Rebase(), 8) != f"rebase-{old}@8"

    @dataclasses.dataclass(frozen=True)
    class First(Rebase):
        revision = 1

    assert generation_group(First(), 8) == f"rebase-{old}@8"


def test_run_identity_of_earlier_runs_is_kept():
    """Sampling.min_tokens came later: at its default the run's key and name are those the code made before it
    (this name was printed by main at 308200e), so re-running an old command resumes its run directory."""
    from testtime.config import RunConfig
    from testtime.sampler import Sampling

    assert RunConfig().legacy_run_name() == "gsm8k-smollm2-135m-n1-a835e889"
    assert "min_tokens" in RunConfig(sampling=Sampling(min_tokens=2)).sample_key()["sampling"]
    # The problem choice came later too: random subsets keep their names; the first N and a list of ids differ.
    assert RunConfig(subset="random", problem_ids=()).legacy_run_name() == "gsm8k-smollm2-135m-n1-a835e889"
    # Since pools grow in place (issue 26) the name leaves n out; a directory of the old name is still found
    # (tests/store/test_pools.py: an old run directory resumes and grows).
    assert RunConfig().run_name() == RunConfig(sampling=Sampling(n=64)).run_name() == "gsm8k-smollm2-135m-45ab1a7b"
    first, ids = RunConfig(subset="first"), RunConfig(problem_ids=("gsm8k/test/3", "gsm8k/test/1"))
    assert first.sample_key()["subset"] == "first" and ids.sample_key()["problem_ids"] == ["gsm8k/test/1",
                                                                                            "gsm8k/test/3"]
    assert len({RunConfig().run_name(), first.run_name(), ids.run_name()}) == 3
