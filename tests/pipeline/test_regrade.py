"""Grades you can audit: strict and flexible grades per sample, the policy results count, and `regrade` of a stored
run from its texts (planted changes found exactly, atomic rewrite, runs from before grader 2 load and regrade)."""

import dataclasses
import json
import multiprocessing

import numpy as np
import pyarrow.parquet as pq
import pytest

from benchmarks.grading import GRADER_VERSION
from tests.helpers import cli_in_process
from testtime.config import RunConfig, load_config
from testtime.errors import UserError
from testtime.pipeline.lock import RunDirectoryBusy, run_lock
from testtime.pipeline.regrade import regrade
from testtime.pipeline.runner import run
from testtime.sampler import Sampling
from testtime.store.records import Results
from testtime.store.store import Store

GRADES = ["answer", "answer_id", "correct", "extraction", "correct_strict", "answer_id_strict"]


@pytest.fixture
def fake_run(data_dir, tmp_path):
    """A finished fake-backend GSM8K run (4 problems x 8 samples); returns (run directory, its config)."""
    cfg = RunConfig(backend="fake", benchmark="gsm8k", data_dir=str(data_dir), limit=4, output_dir=str(tmp_path),
                    name="r", sampling=Sampling(n=8, max_tokens=64), bootstrap=50)
    run(cfg)
    return tmp_path / "r", cfg


def _tokens(run_dir):
    return json.loads((run_dir / "manifest.json").read_text())["timings"]["sampled_tokens"]


def test_samples_store_both_grades_and_results_name_the_policy(fake_run):
    run_dir, cfg = fake_run
    df = Store(run_dir).table().to_pandas()
    assert set(df["extraction"]) == {"boxed"}   # the fake sampler boxes every answer
    assert df["correct_strict"].tolist() == df["correct"].tolist()
    assert df["answer_id_strict"].tolist() == df["answer_id"].tolist()
    saved = json.loads((run_dir / "results.json").read_text())
    assert saved["grading"] == "flexible" and saved["grader_version"] == GRADER_VERSION
    assert {r["grading"] for r in saved["rows"]} == {"flexible"}
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["grader_version"] == GRADER_VERSION and manifest["grades"]["policy"] == "flexible"
    assert manifest["grades"]["extraction"] == {"boxed": 32} and manifest["grades"]["without_strict_grade"] == 0


def test_grading_policy_is_not_part_of_the_sample_identity(fake_run):
    run_dir, cfg = fake_run
    strict = load_config(None, ["grading=strict"], settings={"backend": "fake", "benchmark": "gsm8k", "limit": 4,
                                                            "data_dir": cfg.data_dir, "output_dir": cfg.output_dir,
                                                            "sampling.n": 8, "sampling.max_tokens": 64})
    assert strict.grading == "strict" and strict.sample_key() == cfg.sample_key()
    assert RunConfig(grading="strict").run_name() == RunConfig().run_name()
    tokens = _tokens(run_dir)
    results = run(dataclasses.replace(cfg, grading="strict"))   # the stored samples, graded strictly
    assert _tokens(run_dir) == tokens and results.grading == "strict"
    assert json.loads((run_dir / "results.json").read_text())["grading"] == "strict"
    assert "strict grades" in str(results.tables()[0].title)
    with pytest.raises(UserError, match="grading must be flexible or strict"):
        RunConfig(grading="lenient")


def _tamper(run_dir, data_dir):
    """Plant known changes in the stored grades (and one text); return what regrade must find."""
    store = Store(run_dir)
    df = store.table().to_pandas()
    pool = df.index[df["group"] == "sample"]
    from benchmarks import load

    golds = {p.id: p.gold for p in load("gsm8k", data_dir=str(data_dir)).problems()}
    # 1. Three flexible grades flipped (the grader would not give them).
    for i in pool[[0, 9, 17]]:
        df.loc[i, "correct"] = not df.loc[i, "correct"]
    # 2. Two strict grades flipped, on other samples.
    for i in pool[[3, 20]]:
        df.loc[i, "correct_strict"] = not df.loc[i, "correct_strict"]
    # 3. One problem's vote classes merged into one; another's strict classes merged.
    first, second = sorted(set(df["problem_id"]))[:2]
    rows = df.index[df["problem_id"] == first]
    assert df.loc[rows, "answer_id"].nunique() > 1
    df.loc[rows, "answer_id"] = 0
    rows = df.index[df["problem_id"] == second]
    assert df.loc[rows, "answer_id_strict"].nunique() > 1
    df.loc[rows, "answer_id_strict"] = 0
    # 4. A text cut off mid-working whose last number is the gold: flexible right, strict wrong, last_number.
    i = [k for k in pool[::-1] if df.loc[k, "problem_id"] not in (first, second)][0]   # a problem not merged above
    df.loc[i, "text"] = f"Let me think. 3 + 4 = {golds[df.loc[i, 'problem_id']]} and then"
    store.rewrite(df)
    # Its problem's vote classes change too: a new answer (flexible), one answer fewer (strict).
    return {"flexible": 3 + 1, "strict": 2, "classes": 1 + 1, "strict_classes": 1 + 1, "text_row": i}


def test_regrade_finds_exactly_the_planted_changes_and_rewrites_atomically(fake_run, data_dir, monkeypatch):
    run_dir, cfg = fake_run
    original = Store(run_dir).table().to_pandas()
    before = Results.load(run_dir)
    planted = _tamper(run_dir, data_dir)
    tampered = Store(run_dir).table().to_pandas()

    # A crash while writing the new part leaves the stored samples as they were, and no temporary file.
    def crash(self, table):
        raise OSError("disk full")

    monkeypatch.setattr(Store, "_write_part", crash)
    with pytest.raises(OSError):
        regrade(run_dir)
    monkeypatch.undo()
    after_crash = Store(run_dir).table().to_pandas()
    assert after_crash[GRADES + ["text"]].equals(tampered[GRADES + ["text"]])
    assert not list(run_dir.rglob("*.tmp"))

    report = regrade(run_dir)
    assert (report.samples, report.flexible_changed, report.strict_changed, report.strict_added) == (
        32, planted["flexible"], planted["strict"], 0)
    assert (report.classes_changed, report.strict_classes_changed) == (planted["classes"], planted["strict_classes"])
    assert report.answers_changed == 1 and report.grader == (GRADER_VERSION, GRADER_VERSION) and report.seconds > 0
    store = Store(run_dir)
    assert len(store.parts()) == 1 and not list(run_dir.rglob("*.tmp"))
    df = store.table().to_pandas()
    i = planted["text_row"]
    assert (df.loc[i, "extraction"], df.loc[i, "correct"], df.loc[i, "correct_strict"]) == (
        "last_number", True, False)
    assert df.loc[i, "answer_id_strict"] == -1
    keep = df.index != i   # every other sample is graded as it was before the tampering
    for c in GRADES:
        assert df.loc[keep, c].tolist() == original.loc[keep, c].tolist(), c
    same = ["problem_id", "sample_index", "output_tokens", "score_logprob", "decode_flops", "logprob_sum"]
    assert df[same].equals(original[same])
    # Results rewritten from the regraded samples; the strict and flexible tables differ by the planted sample.
    after = Results.load(run_dir)
    assert [r.n for r in after] == [r.n for r in before] and after.grader_version == GRADER_VERSION
    pairs = {(a.strategy, a.n): (a.accuracy, b.accuracy) for a, b in report.side_by_side}
    assert pairs[("pass_at_k", 8)][0] > pairs[("pass_at_k", 8)][1]
    assert report.extraction == {"boxed": (31, 0, 0), "last_number": (1, 1, 0)}
    # Nothing left to change: a second regrade changes nothing and rewrites no part.
    parts = store.parts()
    again = regrade(run_dir)
    assert (again.flexible_changed, again.strict_changed, again.classes_changed, again.answers_changed) == (0, 0, 0, 0)
    assert store.parts() == parts


def _make_old(run_dir):
    """Turn a run directory into one written before grader 2: no extraction or strict columns, no versions."""
    for part in (run_dir / "samples").glob("part-*.parquet"):
        table = pq.read_table(part)
        pq.write_table(table.drop_columns(["extraction", "correct_strict", "answer_id_strict"]), part)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for key in ("grader_version", "grades"):
        manifest.pop(key)
    manifest["config"].pop("grading")
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    saved = json.loads((run_dir / "results.json").read_text())
    saved = {"rows": [{k: v for k, v in r.items() if k != "grading"} for r in saved["rows"]]}
    (run_dir / "results.json").write_text(json.dumps(saved))


def test_a_run_from_before_grader_2_loads_says_so_and_regrades(fake_run, data_dir):
    run_dir, cfg = fake_run
    flexible = Store(run_dir).pool().correct.copy()
    _make_old(run_dir)
    results = Results.load(run_dir)
    assert results.grading == "flexible" and results.grader_version is None
    assert np.array_equal(Store(run_dir).pool().correct, flexible)
    with pytest.raises(UserError, match="regrade"):
        Store(run_dir).pool(grading="strict")
    shown = cli_in_process("show", run_dir)
    assert shown.returncode == 0 and "regrade" in shown.stdout and "grader 1" in shown.stdout
    tokens = _tokens(run_dir)
    # From the run's parent, not the repository: the repository's configs/default.yaml would shape other samples.
    refused = cli_in_process("run", "--backend", "fake", "--benchmark", "gsm8k", "--data-dir", data_dir, "--limit", 4,
                             "--n", 8, "--max-tokens", 64, "--output-dir", run_dir.parent, "--name", "r",
                             "--set", "grading=strict", cwd=run_dir.parent)
    assert refused.returncode == 2 and "regrade" in refused.stderr
    # A run resumed by the new grader keeps saying its older samples were graded by grader 1.
    assert run(cfg).grader_version == 1

    res = cli_in_process("regrade", run_dir, "--grading", "strict")
    assert res.returncode == 0, res.stderr
    assert "strict grades changed" in res.stdout and "32 added" in res.stdout and "time taken" in res.stdout
    assert "flexible vs strict" in res.stdout
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["grader_version"] == GRADER_VERSION and manifest["regraded"]["strict_added"] == 32
    assert manifest["regraded"]["flexible_changed"] == 0 and manifest["config"]["grading"] == "strict"
    assert Results.load(run_dir).grading == "strict" and _tokens(run_dir) == tokens
    assert np.array_equal(Store(run_dir).pool(grading="strict").correct, flexible)   # all boxed: the same
    assert "regrade" not in cli_in_process("show", run_dir).stdout


def test_regrade_refuses_what_is_not_a_run(tmp_path):
    res = cli_in_process("regrade", tmp_path / "nope")
    assert res.returncode == 2 and "not a testtime run directory" in res.stderr


def test_regrade_refuses_a_run_directory_a_run_is_writing(fake_run):
    run_dir, _ = fake_run
    ready, done = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(run_dir, ready, done))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(RunDirectoryBusy):
            regrade(run_dir)
    finally:
        done.set()
        holder.join(30)
    with run_lock(run_dir):   # released, and regrade takes it again afterwards
        pass
    assert regrade(run_dir).flexible_changed == 0


def _hold(run_dir, ready, done):
    with run_lock(run_dir):
        ready.set()
        done.wait(30)


def test_analyze_reads_the_grade_the_run_counts(fake_run, data_dir):
    from testtime.analysis.pools import load_pools, subset

    run_dir, cfg = fake_run
    _tamper(run_dir, data_dir)
    regrade(run_dir, grading="strict")   # one sample now right only flexibly (its last number)
    pool = load_pools([run_dir])[0].pool
    assert pool.grading == "strict" and not pool.correct.any() and (pool.answer_ids == -1).sum() == 1
    assert subset(pool, pool.problem_ids[:2]).grading == "strict"
    regrade(run_dir, grading="flexible")
    assert load_pools([run_dir])[0].pool.correct.sum() == 1
    _make_old(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["config"]["grading"] = "strict"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="regrade"):
        load_pools([run_dir])
