"""The one sample reader (testtime.store.reader): Store.pool and the analyzer's load_pools build the same pool from
a planted run directory, by the same rule for a problem with fewer samples than the others."""

import json

import numpy as np
import pytest

from testtime.analysis.pools import load_pools
from testtime.errors import UserError
from testtime.store.reader import read_samples, to_pool
from testtime.store.records import SampleRecord
from testtime.store.store import Store


def record(pid, i, *, group="sample", correct=None, score=None, strict=True):
    correct = (i % 2 == 0) if correct is None else correct
    return SampleRecord(run_id="r", model="m", benchmark="gsm8k", group=group, problem_id=pid, sample_index=i,
                        strategy="sample", prompt_tokens=10, output_tokens=5 + i, text=f"answer {i}",
                        finish_reason="stop", answer=str(i % 3), answer_id=i % 3, correct=correct,
                        logprob_sum=-1.0 - i, logprob_mean=-0.1 * i, token_logprobs=None, prefill_flops=100.0,
                        decode_flops=50.0 + i, extraction="boxed",
                        correct_strict=correct if strict else None, answer_id_strict=i % 3 if strict else None,
                        scores={"logprob": -0.1 * i if score is None else score})


@pytest.fixture
def planted(tmp_path):
    """Problems a and b with all 4 samples each; c with 2 (interrupted); a generation group with the same shape."""
    run = tmp_path / "r"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"run_id": "r", "status": "sampling",
                                                   "config": {"model": "m", "benchmark": "gsm8k"}}))
    store = Store(run)
    for pid, n in (("a", 4), ("c", 2), ("b", 4)):
        store.append([record(pid, i) for i in range(n)])
        store.append([record(pid, i, group="budget_forcing-0123abcd@64") for i in range(n)])
    return run


def _same(p, q):
    assert p.problem_ids == q.problem_ids and p.left_out == q.left_out and p.grading == q.grading
    for name in ("answer_ids", "correct", "output_tokens", "prompt_tokens", "decode_flops", "prefill_flops",
                 "score_flops"):
        assert np.array_equal(getattr(p, name), getattr(q, name)), name
    assert p.scores.keys() == q.scores.keys() and all(np.array_equal(p.scores[k], q.scores[k]) for k in p.scores)
    assert p.answers == q.answers


@pytest.mark.parametrize("grading", ["flexible", "strict"])
def test_store_and_analyzer_build_the_same_pool_leaving_the_short_problem_out(planted, grading):
    manifest = json.loads((planted / "manifest.json").read_text())
    manifest["config"]["grading"] = grading   # the analyzer reads the grade the run counts
    (planted / "manifest.json").write_text(json.dumps(manifest))
    mine = Store(planted).pool(grading=grading)
    theirs = load_pools([planted])[0]
    assert mine.problem_ids == ("a", "b") and mine.left_out == ("c",) and mine.n_samples == 4
    _same(mine, theirs.pool)
    generated = theirs.generated[("budget_forcing", 64)]
    assert generated.left_out == ("c",)
    _same(Store(planted).pool(group="budget_forcing-0123abcd@64", grading=grading), generated)


def test_asking_for_a_short_or_missing_problem_is_one_line_naming_it(planted):
    pool = Store(planted).pool(["b", "a"])
    assert pool.problem_ids == ("b", "a") and pool.left_out == ()
    with pytest.raises(UserError, match=r"1 of 2 problems are not fully sampled \(1 have fewer than 4; e.g. c\); "
                                        r"re-run the same command"):
        Store(planted).pool(["a", "c"])
    with pytest.raises(UserError, match=r"2 of 3 .*1 have no samples, 1 have fewer than 4; e.g. zz"):
        Store(planted).pool(["a", "zz", "c"])
    df = read_samples(planted)
    with pytest.raises(UserError, match="not fully sampled"):
        to_pool(df[df["group"] == "sample"], problem_ids=["c"])


def test_newest_copy_wins_in_both_readers(planted):
    store = Store(planted)
    store.append([record("a", i, score=7.0) for i in range(4)])   # a rescore: the newer part wins
    assert (store.pool().scores["logprob"][0] == 7.0).all()
    assert (load_pools([planted])[0].pool.scores["logprob"][0] == 7.0).all()
    df = read_samples(planted)
    assert "text" not in df.columns and len(df) == 2 * (4 + 4 + 2)
    assert "text" in read_samples(planted, columns=None).columns


def test_strict_grades_missing_name_regrade_in_both_readers(tmp_path):
    run = tmp_path / "old"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"run_id": "old", "config": {"grading": "strict"}}))
    Store(run).append([record("a", i, strict=False) for i in range(2)])
    for read in (lambda: Store(run).pool(grading="strict"), lambda: load_pools([run])):
        with pytest.raises(UserError, match=f"regrade {run}"):
            read()


def test_no_samples_is_one_line(tmp_path):
    run = tmp_path / "empty"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"run_id": "empty"}))
    with pytest.raises(UserError, match="holds no samples yet"):
        Store(run).pool()
    assert read_samples(run) is None and load_pools([run])[0].pool is None


def test_the_analyzer_notes_the_problems_left_out(planted):
    from testtime.analysis.uncertainty import evaluate_cells

    cells = evaluate_cells(load_pools([planted]), n_boot=10, strategies=["majority_vote"])
    assert cells.problems == ("a", "b")
    assert any("1 problems left out" in n and "e.g. c" in n for n in cells.notes)


def test_request_timings_are_stored_and_old_parts_still_load(tmp_path):
    """A part written before timings existed (no ttft_s, tpot_s, request_s columns) and one with them read as one
    pool: seconds per sample = time to first token + per output token x the other tokens, else the request's seconds,
    NaN where nothing was measured."""
    import dataclasses

    import pyarrow.parquet as pq

    run = tmp_path / "r"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"run_id": "r", "status": "sampling",
                                                   "config": {"model": "m", "benchmark": "gsm8k"}}))
    store = Store(run)
    store.append([record("a", i) for i in range(3)])
    old = store.parts()[0]
    table = pq.read_table(old)
    pq.write_table(table.drop_columns(["ttft_s", "tpot_s", "request_s"]), old)   # as stored before timings
    timed = [dataclasses.replace(record("b", 0), ttft_s=0.5, tpot_s=0.1, request_s=9.0),
             dataclasses.replace(record("b", 1), request_s=2.0), record("b", 2)]
    store.append(timed)
    pool = to_pool(read_samples(run)[lambda d: d["group"] == "sample"])
    assert pool.problem_ids == ("a", "b")
    assert np.isnan(pool.seconds[0]).all()                                   # the old part: nothing measured
    assert pool.seconds[1, 0] == pytest.approx(0.5 + 0.1 * (5 - 1))          # 5 output tokens
    assert pool.seconds[1, 1] == 2.0 and np.isnan(pool.seconds[1, 2])
    assert load_pools([run])[0].pool.seconds[1, 0] == pytest.approx(0.9)
