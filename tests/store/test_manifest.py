"""The typed Manifest (testtime.store.manifest) and the bootstrap seed apart from the subset seed."""

import json
from pathlib import Path

import pytest

from testtime.config import RunConfig, load_config
from testtime.errors import UserError
from testtime.pipeline.evaluate import evaluate, make_strategy
from testtime.pipeline.regrade import regrade
from testtime.pipeline.runner import run
from testtime.store.manifest import Manifest, existing_manifest, read_manifest
from testtime.store.records import Results
from testtime.store.store import Store


def fake_config(data_dir, out, **settings):
    return load_config(settings={"backend": "fake", "benchmark": "gsm8k", "data_dir": str(data_dir), "limit": 6,
                                 "sampling.n": 4, "sampling.max_tokens": 64, "output_dir": str(out), **settings})


def test_a_run_manifest_reads_typed_and_round_trips_exactly(data_dir, tmp_path):
    results = run(fake_config(data_dir, tmp_path))
    on_disk = json.loads((results.path / "manifest.json").read_text())
    manifest = existing_manifest(results.path)
    assert manifest == results.manifest and manifest.to_dict() == on_disk
    assert isinstance(manifest.config, RunConfig) and manifest.config.sampling.n == 4
    assert manifest.config == fake_config(data_dir, tmp_path) and manifest.sample_key == on_disk["sample_key"]
    assert manifest.status == "complete" and len(manifest.problems) == 6 and manifest.grader_version >= 2
    assert manifest.run_id == results.path.name and manifest.timings["sampled_tokens"] > 0
    assert manifest.config_dropped == () and manifest.extra == {}


def test_an_older_manifest_reads_with_defaults_and_keeps_what_this_version_does_not_know(tmp_path):
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    old = {"run_id": "old", "status": "sampled", "problems": ["gsm8k/test/1"],
           "config": {"model": "m", "benchmark": "gsm8k", "retired": 3, "sampling": {"n": 8, "gone": True}},
           "someday": {"x": 1}}
    (run_dir / "manifest.json").write_text(json.dumps(old))
    manifest = read_manifest(run_dir)
    assert manifest.grader_version == 1 and manifest.timings == {} and manifest.grades == {}
    assert manifest.config.sampling.n == 8 and manifest.config.bootstrap_seed == 0
    assert manifest.config_dropped == ("retired", "sampling.gone") and manifest.extra == {"someday": {"x": 1}}
    assert manifest.model == "m" and manifest.problems == ("gsm8k/test/1",)
    Store(run_dir).update_manifest(status="complete")   # a rewrite keeps every key it does not set, as it was
    assert json.loads((run_dir / "manifest.json").read_text()) == {**old, "status": "complete"}


def test_a_run_made_before_the_bootstrap_seed_keeps_its_subset_seed_as_its_bootstrap_seed(tmp_path):
    # Before bootstrap_seed existed subset_seed seeded the bootstrap: re-evaluating such a run reproduces its CIs.
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    old = {"run_id": "old", "config": {"model": "m", "benchmark": "gsm8k", "subset_seed": 3}}
    (run_dir / "manifest.json").write_text(json.dumps(old))
    manifest = read_manifest(run_dir)
    assert manifest.config.subset_seed == 3 and manifest.config.bootstrap_seed == 3
    assert manifest.config_dropped == () and manifest.to_dict() == old
    (run_dir / "manifest.json").write_text(json.dumps({**old, "config": {**old["config"], "bootstrap_seed": 0}}))
    assert read_manifest(run_dir).config.bootstrap_seed == 0


def test_a_config_this_version_refuses_is_none_with_the_reason(tmp_path):
    run_dir = tmp_path / "bad"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text(json.dumps({"run_id": "bad", "config": {"grading": "lenient"}}))
    manifest = read_manifest(run_dir)
    assert manifest.config is None and "grading must be flexible or strict" in manifest.config_error
    assert manifest.model == "unknown" and manifest.grading == "flexible"
    with pytest.raises(UserError, match="cannot regrade: its config is not valid in this version"):
        regrade(run_dir)
    assert Manifest().to_dict() == {} and Manifest(run_id="r", problems=("a",)).to_dict() == {
        "run_id": "r", "problems": ["a"]}


def test_no_manifest_and_a_damaged_one_are_one_line(tmp_path):
    assert read_manifest(tmp_path) is None
    with pytest.raises(UserError, match="not a testtime run directory"):
        existing_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="not a run manifest"):
        read_manifest(tmp_path)


def _rows(results):
    return {(r.strategy, r.scorer, r.n): r for r in results.rows}


def _sampled_with_planted_grades(cfg):
    """Run `cfg`, then mark the samples whose vote class is 0 correct (the fake engine's answers never are), and
    evaluate again: results with CIs wide enough for a seed to move them."""
    run(cfg)
    store = Store(Path(cfg.output_dir) / cfg.run_name())
    df = store.table().to_pandas()
    df["correct"] = df["correct_strict"] = df["answer_id"] == 0
    store.rewrite(df)
    return run(cfg)


def test_bootstrap_seed_moves_the_intervals_only_and_keeps_the_run(data_dir, tmp_path):
    first = _sampled_with_planted_grades(fake_config(data_dir, tmp_path, limit=12))
    assert 0 < first.rows[0].accuracy < 1
    cfg = fake_config(data_dir, tmp_path, limit=12, bootstrap_seed=7)
    assert cfg.run_name() == first.path.name and cfg.sample_key() == fake_config(data_dir, tmp_path,
                                                                                  limit=12).sample_key()
    parts = Store(first.path).parts()
    second = run(cfg)
    assert second.path == first.path and Store(first.path).parts() == parts   # nothing sampled again
    a, b = _rows(first), _rows(second)
    assert a.keys() == b.keys()
    assert all(a[k].accuracy == b[k].accuracy for k in a)
    assert any((a[k].ci_low, a[k].ci_high) != (b[k].ci_low, b[k].ci_high) for k in a)
    assert existing_manifest(first.path).config.bootstrap_seed == 7


def test_subset_seed_picks_the_problems_but_not_the_bootstrap(data_dir, tmp_path):
    one = _sampled_with_planted_grades(fake_config(data_dir, tmp_path, subset_seed=1))
    zero = _sampled_with_planted_grades(fake_config(data_dir, tmp_path))
    assert one.path != zero.path and set(one.manifest.problems) != set(zero.manifest.problems)
    # Both CIs come from bootstrap_seed 0, whatever the subset's seed.
    for results in (one, zero):
        pool = Store(results.path).pool(list(results.manifest.problems))
        again = evaluate(pool, [make_strategy("majority_vote")], n_boot=results.manifest.config.bootstrap, seed=0)
        mine = [r for r in results.rows if r.strategy == "majority_vote"]
        assert [(r.ci_low, r.ci_high) for r in again] == [(r.ci_low, r.ci_high) for r in mine]
        assert any(r.ci_low < r.ci_high for r in mine)


def test_the_cli_takes_both_seeds(data_dir, tmp_path):
    from testtime.cli import build_parser, run_config

    args = build_parser().parse_args(["run", "--backend", "fake", "--data-dir", str(data_dir), "--subset-seed", "3",
                                      "--bootstrap-seed", "5", "--output-dir", str(tmp_path)])
    cfg = run_config(args)
    assert (cfg.subset_seed, cfg.bootstrap_seed) == (3, 5)
    assert cfg.run_name() == RunConfig(**{**cfg.__dict__, "bootstrap_seed": 0}).run_name()
    with pytest.raises(UserError, match="bootstrap_seed must be >= 0"):
        load_config(settings={"bootstrap_seed": -1})


def test_results_carry_the_typed_manifest(data_dir, tmp_path):
    results = run(fake_config(data_dir, tmp_path))
    loaded = Results.load(results.path)
    assert loaded.manifest == results.manifest and loaded.config.sampling.n == 4
