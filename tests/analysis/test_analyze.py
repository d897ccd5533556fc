"""The analyzer against known answers: planted curves, closed-form break-even volumes, a hand-computed exchange
rate, a non-dominated frontier, degenerate data, a hand-made per-problem summary; and `analyze` / `compare` end to
end on two fake-backend runs."""

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from tests.helpers import DATA, cli_in_process, one_line_error
from testtime.analysis import (analyze, break_even_queries, continuous_metric, exchange_rates, fit_curve, fit_curves,
                               frontier, load_runs, lookup, model_facts, total_compute, training_flops)
from testtime.analysis.curves import log_sigmoid
from testtime.analysis.sections import TITLES, fmt_num, sections
from testtime.errors import UserError
from testtime.report.html import write_report
from testtime.store.records import SUMMARY_COLUMNS
from testtime.store.store import Store

SMALL, LARGE = "smollm2-135m", "qwen2.5-coder-0.5b"


# ---- helpers -----------------------------------------------------------------------------------------------------

def series(strategy, scorer, flops, acc, ns=None, half_ci=0.05):
    ns = ns or [2**i for i in range(len(flops))]
    return [{"strategy": strategy, "scorer": scorer, "n": n, "accuracy": a, "ci_low": max(a - half_ci, 0),
             "ci_high": min(a + half_ci, 1), "mc_stderr": None, "tokens_per_problem": 100.0 * n,
             "flops_per_problem": f, "flops_per_problem_naive": f, "problems": 50} for n, f, a in zip(ns, flops, acc)]


def make_run(path, model, rows, benchmark="gsm8k", facts=None, summary=None):
    """A hand-built run directory: a manifest, results.json and (given rows) summary.parquet, no samples."""
    path.mkdir(parents=True)
    manifest = {"run_id": path.name, "status": "complete", "model_facts": facts or {},
                "config": {"model": model, "benchmark": benchmark, "sampling": {"n": 8}}}
    (path / "manifest.json").write_text(json.dumps(manifest))
    (path / "results.json").write_text(json.dumps({"rows": rows}))
    if summary is not None:
        pd.DataFrame(summary, columns=SUMMARY_COLUMNS).to_parquet(path / "summary.parquet", index=False)
    return path


# Three problems of four samples each, written out sample by sample so the summary's sums can be checked against
# the per-sample means the analyzer used to take: (correct, mean token logprob) per sample, gold log-probability.
SAMPLES = {"p1": ([True, True, False, False], [-0.2, -0.4, -0.6, -0.8]),
           "p2": ([True, False, False, False], [-0.5, -1.0, -1.5, np.nan]),
           "p3": ([False, False, False, False], [-1.0, -1.1, -1.2, -1.1])}
GOLD = {"p1": (2, -1.0), "p2": (1, -2.0), "p3": (np.nan, np.nan)}   # (tokens, total logprob); p3 not read


def summary_rows(samples=SAMPLES, gold=GOLD):
    """summary.parquet rows as the runner writes them: per problem, counts and sums of non-NaN logprobs."""
    rows = []
    for pid, (ok, lp) in samples.items():
        ok, lp = np.array(ok), np.array(lp)
        tokens, total = gold[pid]
        rows.append({"problem_id": pid, "samples": len(ok), "correct_samples": int(ok.sum()),
                     "logprob_mean_sum": np.nansum(lp), "logprob_mean_count": int(np.isfinite(lp).sum()),
                     "logprob_mean_sum_correct": np.nansum(lp[ok]),
                     "logprob_mean_count_correct": int(np.isfinite(lp[ok]).sum()),
                     "gold_tokens": tokens, "gold_logprob_sum": total, "gold_logprob_mean": total / tokens})
    return rows


@pytest.fixture(scope="module")
def fake_runs(tmp_path_factory):
    """Two fake-backend runs on svamp (its small answers let the fake sampler be right sometimes)."""
    if not DATA.is_dir():
        pytest.skip(f"benchmark data not found at {DATA}")
    root = tmp_path_factory.mktemp("runs")
    for model in (SMALL, LARGE):
        res = cli_in_process("run", "--backend", "fake", "--data-dir", DATA, "--benchmark", "svamp", "--limit", 20,
                             "--n", 8, "--model", model, "--output-dir", root, "--name", model)
        assert res.returncode == 0, res.stderr
    return [root / SMALL, root / LARGE]


# ---- (a) fits ----------------------------------------------------------------------------------------------------

def test_planted_power_law_recovered_within_ci():
    rng = np.random.default_rng(0)
    x = np.geomspace(1e10, 1e13, 12)
    planted = {"e_inf": 0.15, "a": 2e3, "alpha": 0.35}
    y = 1 - (planted["e_inf"] + planted["a"] * x ** -planted["alpha"]) + rng.normal(0, 0.004, len(x))
    table = pd.DataFrame(series("best_of_n", "logprob", x, y, ns=list(range(1, 13)))).assign(
        model=SMALL, benchmark="gsm8k")
    (fit,) = fit_curves(table, n_boot=200)
    assert fit.error is None and fit.form == "PowerLaw"
    for name, value in planted.items():
        lo, hi = fit.estimator.ci_[name]
        assert lo <= value <= hi, (name, value, lo, hi)


def test_planted_log_sigmoid_recovered_within_ci():
    rng = np.random.default_rng(0)
    x = np.geomspace(1e9, 1e13, 14)
    planted = {"lo": 0.1, "hi": 0.8, "k": 1.2, "log_c50": np.log(1e11)}
    best, table = fit_curve(x, log_sigmoid(x, *planted.values()) + rng.normal(0, 0.004, len(x)))
    assert type(best).__name__ == "LogSigmoid" and table[0]["model"] == "LogSigmoid"
    for name, value in planted.items():
        lo, hi = best.ci_[name]
        assert lo <= value <= hi, (name, value, lo, hi)


@pytest.mark.parametrize("acc,needle", [
    ([0, 0, 0, 0], "all wrong"),
    ([1, 1, 1, 1], "all right"),
    ([0.3, 0.3, 0.3, 0.3], "accuracy is 0.3 at every point"),
    ([0.1, 0.2, 0.3], "too few points"),
])
def test_degenerate_data_gives_a_clear_user_error(acc, needle):
    with pytest.raises(UserError, match=needle) as e:
        fit_curve([1e10 * 2**i for i in range(len(acc))], acc, label="m / majority_vote")
    assert str(e.value).startswith("m / majority_vote:") and "\n" not in str(e.value)


def test_a_degenerate_series_is_reported_not_raised(tmp_path):
    good = series("best_of_n", "logprob", [1e10, 2e10, 4e10, 8e10], [0.2, 0.3, 0.35, 0.4])
    run = make_run(tmp_path / "r", SMALL, good + series("majority_vote", None, [1e10, 2e10, 4e10, 8e10], [0] * 4))
    result = analyze([run], n_boot=20)
    by = {f.strategy: f for f in result.fits}
    assert by["best_of_n"].estimator is not None
    assert by["majority_vote"].estimator is None and "all wrong" in by["majority_vote"].error
    assert any("all wrong" in note for note in result.notes)


# ---- (b) total compute and break-even ------------------------------------------------------------------------------

def test_break_even_matches_the_closed_form():
    ts, is_, tl, il = 1e21, 5e10, 7e22, 1e10
    q, verdict = break_even_queries(ts, is_, tl, il)
    assert q == pytest.approx((tl - ts) / (is_ - il)) and q == pytest.approx(1.725e12)
    assert verdict.startswith("smaller model cheaper below")
    assert total_compute(ts, is_, q) == pytest.approx(total_compute(tl, il, q))
    assert total_compute(ts, is_, q / 10) < total_compute(tl, il, q / 10)
    assert total_compute(ts, is_, q * 10) > total_compute(tl, il, q * 10)


@pytest.mark.parametrize("figures,q,verdict", [
    ((1e21, 1e10, 7e22, 2e10), np.inf, "smaller model cheaper at every volume"),
    ((8e22, 5e10, 7e22, 1e10), 0.0, "larger model cheaper at every volume"),
    ((8e22, 1e10, 7e22, 2e10), 1e12, "larger model cheaper below Q*, smaller above"),
    ((1e21, np.nan, 7e22, 1e10), np.nan, "unknown"),
])
def test_break_even_cases(figures, q, verdict):
    got, text = break_even_queries(*figures)
    assert (np.isnan(got) and np.isnan(q)) or got == pytest.approx(q)
    assert text.startswith(verdict)


# ---- (c) exchange rate ---------------------------------------------------------------------------------------------

def test_exchange_rate_on_a_hand_built_case(tmp_path):
    small = make_run(tmp_path / "s", SMALL, series("best_of_n", "logprob", [1e10, 2e10, 4e10, 8e10],
                                                   [0.20, 0.30, 0.45, 0.50]))
    large = make_run(tmp_path / "l", LARGE, series("best_of_n", "logprob", [1.5e10, 3e10, 6e10, 1.2e11],
                                                   [0.40, 0.48, 0.55, 0.60]))
    (row,) = exchange_rates(load_runs([small, large])).to_dict("records")
    # 0.40 lies 2/3 of the way from 0.30 (2e10) to 0.45 (4e10); linear in log FLOPs: 2e10 * 2**(2/3)
    need = 2e10 * 2 ** (2 / 3)
    assert (row["small"], row["large"], row["status"]) == (SMALL, LARGE, "interpolated")
    assert row["small_flops_needed"] == pytest.approx(need)
    assert row["flops_multiplier"] == pytest.approx(need / 1.5e10)
    c_s, c_l = training_flops(lookup(SMALL)), training_flops(lookup(LARGE))
    assert row["training_ratio"] == pytest.approx(c_l / c_s)
    assert row["break_even_queries"] == pytest.approx((c_l - c_s) / (need - 1.5e10))
    # the CI edges bracket the point estimate: ci_high (acc + 0.05) crosses earlier, ci_low later
    assert row["flops_low"] < need < row["flops_high"]


def test_exchange_rate_not_reached_is_said_and_extrapolation_is_flagged(tmp_path):
    x = 1e10 * 2.0 ** np.arange(8)
    acc = 1 - (0.1 + 600 * x**-0.3)  # 0.30 .. 0.76; the larger model's n=1 is 0.80
    small = make_run(tmp_path / "s", SMALL, series("best_of_n", "logprob", x, acc))
    large = make_run(tmp_path / "l", LARGE, series("best_of_n", "logprob", [5e10, 1e11, 2e11, 4e11],
                                                   [0.80, 0.82, 0.84, 0.85]))
    table = load_runs([small, large])
    (row,) = exchange_rates(table).to_dict("records")
    assert row["status"] == "not reached within the measured range" and np.isnan(row["flops_multiplier"])
    assert row["verdict"].startswith("larger model: the smaller one does not reach") and "--extrapolate" in row["verdict"]
    fits = fit_curves(table, n_boot=0)
    (row,) = exchange_rates(table, fits, extrapolate=True).to_dict("records")
    assert row["status"] == "extrapolated (PowerLaw)"
    assert row["small_flops_needed"] == pytest.approx((600 / (0.2 - 0.1)) ** (1 / 0.3), rel=0.01)


def test_unknown_model_gets_nan_and_a_note(tmp_path):
    rows = series("best_of_n", "logprob", [1e10, 2e10, 4e10, 8e10], [0.2, 0.3, 0.35, 0.4])
    mine = make_run(tmp_path / "m", "acme/unknown-7b", rows, facts={"params": 7e9})
    small = make_run(tmp_path / "s", SMALL, rows)
    table = load_runs([small, mine])
    m = table[table["model"] == "acme/unknown-7b"].iloc[0]
    assert m["params"] == 7e9 and np.isnan(m["training_tokens"]) and np.isnan(m["training_flops"])
    assert "not in the catalog" in m["catalog_note"]
    (row,) = exchange_rates(table).to_dict("records")
    assert np.isnan(row["break_even_queries"]) and row["verdict"].startswith("unknown")


# ---- (d) frontier --------------------------------------------------------------------------------------------------

def test_frontier_is_non_dominated_and_covers_every_point():
    rng = np.random.default_rng(1)
    rows = [{"benchmark": b, "model": m, "strategy": s, "scorer": None, "oracle": s == "pass_at_k", "n": n,
             "flops_per_problem": float(rng.choice([1, 2, 4]) * 1e10 * n), "accuracy": float(rng.uniform(0, 0.8)),
             "training_flops": 1e21}
            for b in ("gsm8k", "math500") for m in ("a", "b", "c") for s in ("majority_vote", "pass_at_k")
            for n in (1, 2, 4, 8)]
    table = pd.DataFrame(rows)
    front = frontier(table)
    assert "pass_at_k" not in set(front["strategy"])
    for bench, f in front.groupby("benchmark"):
        pts = table[(table["benchmark"] == bench) & ~table["oracle"]]
        assert np.all(np.diff(f["accuracy"]) > 0) and np.all(np.diff(f["flops_per_problem"]) >= 0)
        for _, p in f.iterrows():  # nothing beats a frontier point on both axes
            better = (pts["flops_per_problem"] <= p["flops_per_problem"]) & (pts["accuracy"] >= p["accuracy"])
            strictly = (pts["flops_per_problem"] < p["flops_per_problem"]) | (pts["accuracy"] > p["accuracy"])
            assert not (better & strictly).any()
        for _, p in pts.iterrows():  # every point is matched or beaten by a frontier point
            assert ((f["flops_per_problem"] <= p["flops_per_problem"]) & (f["accuracy"] >= p["accuracy"])).any()
    assert "pass_at_k" in set(frontier(table, include_oracles=True)["strategy"])


# ---- loading, errors -----------------------------------------------------------------------------------------------

def test_load_errors_are_one_clear_line(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_runs([tmp_path / "nowhere"])
    with pytest.raises(UserError, match="not a testtime run directory"):
        load_runs([tmp_path])
    run = make_run(tmp_path / "r", SMALL, series("best_of_n", "logprob", [1e10, 2e10], [0.2, 0.3]))
    with pytest.raises(UserError, match="given twice"):
        load_runs([run, run])
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "manifest.json").write_text((run / "manifest.json").read_text())
    with pytest.raises(UserError, match="has no results yet"):
        load_runs([unfinished])
    with pytest.raises(UserError, match="at least two models"):
        analyze([run], compare=True)


def test_scorer_none_and_oracle_from_results_old_and_new(tmp_path):
    # Files written before `oracle` existed spell "no scorer" as "none" and mark pass@k by its "oracle" scorer.
    old = series("majority_vote", "none", [1e10, 2e10], [0.2, 0.3]) + series("pass_at_k", "oracle", [1e10, 2e10],
                                                                                [0.4, 0.6])
    new = [{**r, "scorer": None, "oracle": r["strategy"] == "pass_at_k"} for r in old]
    for name, rows in (("old", old), ("new", new)):
        table = load_runs([make_run(tmp_path / name, SMALL, rows)])
        by = table.drop_duplicates("strategy").set_index("strategy")
        assert by.loc["majority_vote", "scorer"] is None and not by.loc["majority_vote", "oracle"]
        assert by.loc["pass_at_k", "oracle"]
        assert set(frontier(table)["strategy"]) == {"majority_vote"}
    fits = fit_curves(table, n_boot=0)   # a series without scorer is fitted, not dropped by groupby
    assert [(f.strategy, f.scorer) for f in fits] == [("majority_vote", None), ("pass_at_k", None)]


# ---- (e) the continuous signal, the report --------------------------------------------------------------------------

def test_continuous_metric_from_a_hand_made_summary(tmp_path):
    run = make_run(tmp_path / "r", SMALL, series("best_of_n", "logprob", [1e10], [0.3]), summary=summary_rows())
    row = continuous_metric([run]).iloc[0]
    # By hand: 3 of 12 samples right; correct samples' logprobs -0.2, -0.4, -0.5; 11 non-NaN logprobs summing to
    # -9.4; gold read for p1 (-1.0 over 2 tokens) and p2 (-2.0 over 1 token).
    assert (row["run"], row["model_name"], row["benchmark"], row["note"]) == ("r", SMALL, "gsm8k", "")
    assert (row["samples"], row["correct_samples"], row["gold_problems"]) == (12, 3, 2)
    assert row["accuracy"] == pytest.approx(0.25)
    assert row["mean_logprob_correct"] == pytest.approx(-1.1 / 3)
    assert row["mean_logprob_all"] == pytest.approx(-9.4 / 11)
    assert row["gold_logprob"] == pytest.approx(-1.5)
    assert row["gold_logprob_per_token"] == pytest.approx((-0.5 - 2.0) / 2)
    assert row["gold_prob"] == pytest.approx((np.exp(-1.0) + np.exp(-2.0)) / 2)
    # The same figures as the per-sample means the analyzer took before the summary existed.
    ok = np.concatenate([np.array(c) for c, _ in SAMPLES.values()])
    lp = pd.Series(np.concatenate([np.array(v) for _, v in SAMPLES.values()]))
    assert row["accuracy"] == ok.mean()
    assert row["mean_logprob_correct"] == pytest.approx(lp[ok].mean(), rel=1e-12)
    assert row["mean_logprob_all"] == pytest.approx(lp.mean(), rel=1e-12)


def test_continuous_metric_without_gold_is_nan(tmp_path):
    gold = {pid: (np.nan, np.nan) for pid in SAMPLES}
    run = make_run(tmp_path / "r", SMALL, series("best_of_n", "logprob", [1e10], [0.3]),
                   summary=summary_rows(gold=gold))
    row = continuous_metric([run]).iloc[0]
    assert row["gold_problems"] == 0 and np.isnan(row["gold_logprob"]) and np.isnan(row["gold_prob"])
    assert row["correct_samples"] == 3 and row["note"] == ""


def test_continuous_metric_without_summary_is_nan_with_a_note(fake_runs, tmp_path):
    run = tmp_path / "r"   # a run made before summary.parquet existed: its pool is stored, re-running writes it
    shutil.copytree(fake_runs[0], run)
    (run / "summary.parquet").unlink()
    row = continuous_metric([run]).iloc[0]
    assert all(np.isnan(row[c]) for c in ("samples", "accuracy", "gold_logprob", "mean_logprob_all"))
    assert "summary.parquet" in row["note"] and "python -m testtime run" in row["note"]
    assert any("summary.parquet" in note for note in analyze([run], n_boot=0).notes)


def test_continuous_metric_of_a_run_without_a_pool_says_so(tmp_path):
    # only a generation strategy's samples (budget forcing): re-running would not write a summary, so do not say so
    rows = series("best_of_n", "logprob", [1e10, 2e10, 4e10, 8e10], [0.2, 0.3, 0.35, 0.4])
    row = continuous_metric([make_run(tmp_path / "r", SMALL, rows)]).iloc[0]
    assert np.isnan(row["accuracy"]) and "stored no sample pool" in row["note"]
    assert "again" not in row["note"]


def test_report_from_hand_made_runs_is_complete_and_atomic(tmp_path):
    small = make_run(tmp_path / "s", SMALL, series("best_of_n", "logprob", [1e10, 2e10, 4e10, 8e10],
                                                   [0.20, 0.30, 0.45, 0.50])
                     + series("pass_at_k", None, [1e10, 2e10, 4e10, 8e10], [0.2, 0.4, 0.6, 0.7]),
                     summary=summary_rows())
    large = make_run(tmp_path / "l", LARGE, series("best_of_n", "logprob", [1.5e10, 3e10, 6e10, 1.2e11],
                                                   [0.40, 0.48, 0.55, 0.60]), summary=summary_rows())
    result = analyze([small, large], compare=True, queries=1e9, n_boot=10)
    out = tmp_path / "out"
    paths = write_report(result, out)
    assert {p.name for p in out.iterdir()} == {p.name for p in paths}   # no temporary files left behind
    for name in ("accuracy", "frontier", "total_compute", "signal"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("points", "fits", "curves", "frontier", "exchange", "signal"):
        assert len(pd.read_parquet(out / f"{name}.parquet")) > 0
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and "best_of_n (logprob)" in page and ">None<" not in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium not installed (Debian: apt-get install chromium)")
def test_report_renders_in_headless_chromium(tmp_path):
    # The page as a browser draws it: every plot decodes and is drawn with a size, nothing overflows the window.
    small = make_run(tmp_path / "s", SMALL, series("best_of_n", "logprob", [1e10, 2e10, 4e10, 8e10],
                                                   [0.20, 0.30, 0.45, 0.50]), summary=summary_rows())
    large = make_run(tmp_path / "l", LARGE, series("best_of_n", "logprob", [1.5e10, 3e10, 6e10, 1.2e11],
                                                   [0.40, 0.48, 0.55, 0.60]), summary=summary_rows())
    write_report(analyze([small, large], compare=True, queries=1e9, n_boot=10), tmp_path / "out")
    script = Path(__file__).resolve().parents[2] / "scripts" / "render_report.py"
    res = subprocess.run([sys.executable, script, tmp_path / "out" / "report.html", "--width", "1400"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("\nok ") + res.stdout.startswith("ok ") == 4 and "NOT SHOWN" not in res.stdout
    assert "overflows" not in res.stdout
    tiles = sorted((tmp_path / "out" / "screenshots").glob("page-*.png"))
    assert tiles
    from PIL import Image
    with Image.open(tiles[0]) as im:   # not a blank page: the title and first plot put dark pixels on it
        assert im.convert("L").getextrema()[0] < 100


# ---- on fake-backend runs ------------------------------------------------------------------------------------------

def test_fake_runs_load_into_one_row_per_key(fake_runs):
    table = load_runs(fake_runs)
    assert not table.duplicated(["model", "benchmark", "strategy", "scorer", "n"]).any()
    assert set(table["model"]) == {SMALL, LARGE} and set(table["n"]) == {1, 2, 4, 8}
    for model in (SMALL, LARGE):
        row = table[table["model"] == model].iloc[0]
        card = lookup(model)
        assert row["params"] == card.params and row["training_flops"] == 6 * card.params * card.training_tokens
    assert (table["flops_per_problem"] > 0).all() and (table["tokens_per_problem"] > 0).all()


def test_an_analysis_of_fake_runs_prints_itself(fake_runs):
    # rich's protocol: console.print(result) shows the warnings, every non-empty section with its title, the notes.
    result = analyze(fake_runs, compare=True, queries=1e9, n_boot=10, forecast_from=4)
    console = Console(record=True, width=300, file=io.StringIO())
    console.print(result)
    text = " ".join(console.export_text().split())   # a title wraps at its table's width
    shown = sections(result)
    assert {"overlap", "models", "results", "paired", "forecast", "fits", "exchange", "frontier",
            "signal"} <= set(shown)
    for name, df in shown.items():
        assert " ".join(TITLES[name].split()) in text, name
        assert str(df.iloc[0, 0]) in text, name
    assert fmt_num(lookup(SMALL).params) in text and fmt_num(lookup(LARGE).params) in text
    assert all(" ".join(note.split()) in text for note in result.notes)


def test_continuous_metric_matches_the_samples_and_gold(fake_runs):
    # The runner's summary.parquet gives the same figures as the samples and gold likelihoods themselves.
    sig = continuous_metric(fake_runs).set_index("run")
    df = Store(fake_runs[0]).table().to_pandas()
    df = df[df["group"] == "sample"] if "group" in df else df
    row = sig.loc[SMALL]
    assert row["correct_samples"] == df["correct"].sum() > 0 and row["samples"] == len(df)
    assert row["accuracy"] == pytest.approx(df["correct"].mean())
    assert row["mean_logprob_correct"] == pytest.approx(df.loc[df["correct"], "logprob_mean"].mean())
    assert row["mean_logprob_all"] == pytest.approx(df["logprob_mean"].mean())
    gold = Store(fake_runs[0]).gold().to_pandas()
    assert row["gold_problems"] == len(gold) == 20
    assert row["gold_logprob"] == pytest.approx(gold["gold_logprob_sum"].mean())
    assert row["gold_logprob_per_token"] == pytest.approx(gold["gold_logprob_mean"].mean())
    assert row["gold_prob"] == pytest.approx(np.exp(gold["gold_logprob_sum"]).mean())
    assert row["gold_logprob"] < 0 and 0 < row["gold_prob"] < 1


def test_cli_compare_writes_report_plots_and_tables(fake_runs, tmp_path):
    out = tmp_path / "out"
    res = cli_in_process("compare", *fake_runs, "--out", out, "--queries", "1e9", "--n-boot", 20)
    assert res.returncode == 0, res.stderr
    assert "exchange rate" in res.stdout and str(out) in res.stdout.replace("\n", "")
    for name in ("accuracy", "frontier", "total_compute", "signal"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("points", "fits", "curves", "frontier", "exchange", "signal"):
        assert (out / f"{name}.csv").stat().st_size > 0
        assert len(pd.read_parquet(out / f"{name}.parquet")) > 0
    # Every results.json row is a point, re-evaluated on the shared problems; the pool answers more strategies.
    points, results = pd.read_parquet(out / "points.parquet"), load_runs(fake_runs)
    key = lambda df: set(zip(df["run"], df["strategy"], df["scorer"].fillna("-"), df["n"]))  # noqa: E731
    assert key(results) <= key(points) and len(points) > len(results)
    page = (out / "report.html").read_text()
    pngs = [p.stem for p in out.glob("*.png")]
    assert page.count("data:image/png;base64,") == len(pngs) >= 4 and "<table" in page and "src='http" not in page


def test_cli_analyze_default_out_and_bad_input(fake_runs, tmp_path):
    res = cli_in_process("analyze", fake_runs[0], "--n-boot", 10)
    assert res.returncode == 0, res.stderr
    written = list((fake_runs[0].parent / "analysis").glob("analyze-*/report.html"))
    assert len(written) == 1 and "report:" in res.stdout
    one_line_error(cli_in_process("analyze", tmp_path / "nowhere"), "does not exist")
    one_line_error(cli_in_process("analyze", tmp_path), "not a testtime run directory")
    one_line_error(cli_in_process("compare", fake_runs[0]), "at least two models")
    one_line_error(cli_in_process("compare", *fake_runs, "--queries", "-5"), "queries must be a positive number")


def test_model_card_overrides_from_the_run_config():
    base = model_facts("smollm2-135m", {})
    more = model_facts("smollm2-135m", {}, {"training_tokens": 4e12})
    assert more["training_tokens"] == 4e12 and more["training_flops"] == pytest.approx(2 * base["training_flops"])
    mine = model_facts("my-org/my-model", {}, {"params": 1e9, "training_tokens": 2e12})
    assert mine["training_flops"] == pytest.approx(6 * 1e9 * 2e12)
    with pytest.raises(UserError, match="unknown model card field"):
        model_facts("smollm2-135m", {}, {"tokens": 1})


# ---- plots that do not mislead; runs on different problems ---------------------------------------------------------

def test_unreliable_fit_is_flagged_and_not_drawn():
    from matplotlib.collections import PolyCollection

    from testtime.analysis import curve_points
    from testtime.report.plots import accuracy_figure

    x = np.geomspace(1e10, 1e12, 7)
    zigzag = pd.DataFrame(series("best_of_n", "logprob", x, [0.0, 0.3, 0.0, 0.4, 0.0, 0.5, 0.05], half_ci=0.01)
                          ).assign(model=SMALL, benchmark="gsm8k", run="r", oracle=False)
    (fit,) = fit_curves(zigzag, n_boot=100)
    assert fit.unreliable and "wide" in fit.unreliable
    curves = curve_points([fit])
    assert curves["band_low"].between(0, 1).all() and curves["band_high"].between(0, 1).all()
    bands = lambda fig: sum(isinstance(c, PolyCollection) for ax in fig.axes for c in ax.collections)  # noqa: E731
    assert bands(accuracy_figure(zigzag, [fit])) == 0
    fit.unreliable = None
    assert bands(accuracy_figure(zigzag, [fit])) == 1


@pytest.fixture(scope="module")
def disjoint_runs(tmp_path_factory):
    """Two fake-backend runs on svamp on different seeded subsets of 3 problems: they share none."""
    if not DATA.is_dir():
        pytest.skip(f"benchmark data not found at {DATA}")
    root = tmp_path_factory.mktemp("disjoint")
    for model, seed in ((SMALL, 1), (LARGE, 2)):
        res = cli_in_process("run", "--backend", "fake", "--data-dir", DATA, "--benchmark", "svamp", "--limit", 3,
                             "--n", 4, "--model", model, "--output-dir", root, "--name", model,
                             "--set", f"subset_seed={seed}")
        assert res.returncode == 0, res.stderr
    return [root / SMALL, root / LARGE]


def test_runs_sharing_no_problems_are_warned_and_never_joined(disjoint_runs):
    from testtime.report.plots import figures

    result = analyze(disjoint_runs, n_boot=20, forecast_from=None)
    assert any("share no problems" in w for w in result.warnings)
    assert int(result.overlap["shared"].iloc[0]) == 0
    assert set(result.table["problem_set"]) == {"own"} and not result.signal["shared"].any()
    figs = figures(result)
    assert "warning" in figs["accuracy"]._suptitle.get_text()
    if "signal" in figs:   # both models have catalogued sizes and gold likelihoods: no line joins their points
        for ax in figs["signal"].axes:
            assert all(line.get_linestyle() == "None" for line in ax.lines if len(line.get_xdata()) > 1)
            assert any(c.has_yerr for c in ax.containers)
            assert any("no shared problems" in t.get_text() for t in ax.get_legend().get_texts())


def test_shared_problems_paired_cli_and_report(fake_runs, tmp_path):
    out = tmp_path / "an"
    res = cli_in_process("analyze", *fake_runs, "--out", out, "--n-boot", 30, "--forecast-from", 4,
                         "--paired", f"majority_vote@8/{SMALL}", f"majority_vote@8/{LARGE}", "--price-per-hour", 3)
    assert res.returncode == 0, res.stderr
    paired = pd.read_parquet(out / "paired.parquet")
    asked = paired[paired["kind"] == "asked"].iloc[0]
    assert asked["problems"] == 20 and asked["ci_low"] <= asked["difference"] <= asked["ci_high"]
    points = pd.read_parquet(out / "points.parquet")
    shared = points[points["problem_set"] == "shared"]
    assert len(shared) and (shared["problems"] == 20).all()
    assert ((shared["ci_low"] >= 0) & (shared["ci_high"] <= 1)).all()
    assert (out / "allocation_summary.parquet").exists() and (out / "forecast.parquet").exists()
    # Holm within each family: the asked comparisons, every adjacent n, every allocation row of the analysis.
    from testtime.analysis.multiplicity import holm
    for _, family in paired.groupby("kind"):
        assert np.allclose(family["p_holm"], holm(family["p_value"].to_numpy()))
    alloc = pd.read_parquet(out / "allocation_summary.parquet")
    assert np.allclose(alloc["p_holm"], holm(alloc["p_gain"].to_numpy()))
    page = (out / "report.html").read_text()
    assert "paired comparisons" in page and "compute-optimal allocation" in page and "Holm" in page


def test_multiple_choice_pass_at_k_is_drawn_beside_chance():
    from testtime.report.plots import accuracy_figure

    x = np.geomspace(1e10, 1e11, 4)
    t = pd.DataFrame(series("pass_at_k", None, x, [0.3, 0.45, 0.6, 0.7], ns=[1, 2, 4, 8])).assign(
        model=SMALL, benchmark="mmlu_stem", run="r", oracle=True)
    (ax,) = accuracy_figure(t).axes
    (chance,) = [line for line in ax.lines if line.get_label().startswith("chance")]
    assert np.allclose(chance.get_ydata(), 1 - 0.75 ** np.array([1, 2, 4, 8]))


def test_adaptive_strategies_costs_and_stability_in_an_analysis_of_fake_runs(fake_runs, tmp_path):
    """Every pool answers the adaptive stopping rules (with their expected samples), every cell of a pool gets eFLOPs,
    the frontier is drawn under each cost, and stability and ranks are tabled; the report and the tables carry them."""
    from testtime.analysis.costs import CostModel
    from testtime.analysis.uncertainty import ADAPTIVE

    result = analyze(fake_runs, n_boot=20, forecast_from=None, price_per_hour=2.0,
                     cost_model=CostModel(device="h200", batch=None, price_per_mtok=(0.1, 0.05, 0.4)))
    pool_rows = result.table[result.table["budget"].isna()]
    assert set(ADAPTIVE) <= set(pool_rows["strategy"])
    adaptive = pool_rows[pool_rows["strategy"].isin(ADAPTIVE)]
    assert (adaptive["expected_samples"] <= adaptive["n"] + 1e-9).all()
    assert set(adaptive["ci_levels"]) == {"problems"}          # their replicates resample problems only
    assert np.isfinite(pool_rows["eflops_per_problem"]).all()
    assert (pool_rows["eflops_per_problem"] > pool_rows["flops_per_problem"]).all()
    assert np.isfinite(pool_rows["token_dollars_per_problem"]).all()
    assert {"flops", "eflops", "token_dollars"} <= set(result.cost_frontiers["cost"])
    assert len(result.cost_choices) and "agree" in result.cost_choices
    assert any(n.startswith("eFLOPs = FLOPs + 206 FLOP/byte (h200)") for n in result.notes)
    assert set(result.stability["k"]) == {1, 2, 4, 8} and len(result.ranks)
    written = {p.name for p in write_report(result, tmp_path / "out")}
    assert {"cost_frontiers.png", "frontier_eflops.png", "stability.png", "cost_choices.csv", "stability.parquet",
            "ranks.csv", "cost_frontiers.parquet"} <= written
    page = (tmp_path / "out" / "report.html").read_text()
    assert "the frontier under each cost" in page and "G-Pass@k_0.5" in page
