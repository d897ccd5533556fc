"""The readable analysis (testtime.analysis.sections) on a hand-made `Analysis`: each section's function formats
known values, returns None when its tables are empty, and `Analysis` prints itself through rich with every section's
title."""

import io

import numpy as np
import pandas as pd
from rich.console import Console

from testtime.analysis import Allocation, Analysis, CurveFit
from testtime.analysis.sections import (SECTIONS, TITLES, allocation_choices_section, allocation_section,
                                        exchange_section, fits_section, fmt_num, forecast_section, frontier_section,
                                        grid_frontier_section, grid_section, matched_section, models_section,
                                        overlap_section, paired_section, results_section, rich_tables, sections,
                                        signal_section)
from testtime.report.analysis_tables import analysis_tables

ORDER = ["overlap", "models", "results", "paired", "allocation", "allocation_choices", "forecast", "fits", "exchange",
         "frontier", "cost_frontiers", "cost_choices", "matched", "grid", "grid_frontier", "signal", "stability",
         "ranks"]

POINT = {"run": "r-small", "model": "small", "model_name": "small", "benchmark": "gsm8k", "strategy": "best_of_n",
         "scorer": "logprob", "n": 4, "budget": np.nan, "accuracy": 0.5, "ci_low": 0.4, "ci_high": 0.6,
         "ci1_low": 0.45, "ci1_high": 0.55, "problems": 20, "ci_levels": "problems+samples",
         "tokens_per_problem": 1234.0, "flops_per_problem": 2e12, "seconds_per_problem": 0.25,
         "dollars_per_problem": 0.25 * 2.5 / 3600, "params": 1.35e8, "training_tokens": 2e12,
         "training_flops": 6 * 1.35e8 * 2e12, "catalog_note": "", "device": "H200", "seconds_per_token": 2e-4}


class PowerLaw:
    """What fits_section reads of a fitted curve (the form is the class's name)."""
    params_ = {"e_inf": 0.15, "alpha": 0.35}
    ci_ = {"alpha": (0.3, 0.4)}
    at_bound_ = ("e_inf",)


def hand_made(**over) -> Analysis:
    """An Analysis with one or two rows in every section."""
    generation = {**POINT, "strategy": "budget_forcing", "scorer": None, "n": 1, "budget": 64, "accuracy": 0.3}
    table = pd.DataFrame([POINT, generation])
    fits = [CurveFit(model="small", benchmark="gsm8k", strategy="best_of_n", scorer="logprob", x_range=(1e10, 1e12),
                     estimator=PowerLaw(), selection=[{"heldout_mae": 0.0123}]),
            CurveFit(model="small", benchmark="gsm8k", strategy="majority_vote", scorer=None, x_range=(1e10, 1e12),
                     error="all wrong")]
    exchange = pd.DataFrame([{"small": "small", "large": "large", "benchmark": "gsm8k", "strategy": "best_of_n",
                              "scorer": "logprob", "target_accuracy": 0.6, "small_flops_needed": 4e12,
                              "flops_multiplier": 2.0, "flops_low": 3e12, "flops_high": np.nan,
                              "status": "measured", "training_ratio": 3.7, "break_even_queries": 1e9,
                              "verdict": "small is cheaper below Q*", "queries": 1e9, "total_small": 1e21,
                              "total_large": 2e21}])
    overlap = pd.DataFrame([{"benchmark": "gsm8k", "runs": 2, "shared": 20, "problems_per_run": [20, 30],
                             "detail": "r-small: 20, r-large: 30"}])
    paired = pd.DataFrame([
        {"kind": "adjacent budgets", "a": "best_of_n@4", "b": "best_of_n@2", "problems": 20, "difference": 0.05,
         "ci_low": -0.01, "ci_high": 0.11, "p_value": 0.2, "ci2_low": -0.02, "ci2_high": 0.12},
        {"kind": "asked", "a": "majority_vote@4", "b": "best_of_n@4", "problems": 20, "difference": 0.1,
         "ci_low": 0.02, "ci_high": 0.18, "p_value": 0.0123, "ci2_low": 0.01, "ci2_high": 0.19}])
    allocation = Allocation(
        run="r-small", model="small", benchmark="gsm8k", binning="oracle", bins=3, problems=20, curves=pd.DataFrame(),
        summary=pd.DataFrame([{"baseline": "majority_vote", "target_accuracy": 0.55, "baseline_flops": 4e12,
                               "optimal_flops": 2e12, "multiplier": 2.0, "multiplier_low": 1.5,
                               "multiplier_high": 2.5, "replicates_reached": 19, "verdict": "saves compute"}]),
        choices=pd.DataFrame([{"level": 1.0, "bin": 0, "difficulty_range": "0.00-0.33", "bin_problems": 7,
                               "choice": "majority_vote@4", "bin_accuracy": 0.125},
                              {"level": 0.5, "bin": 0, "difficulty_range": "0.00-0.33", "bin_problems": 7,
                               "choice": "majority_vote@2", "bin_accuracy": 0.1}]))
    forecast = pd.DataFrame([{"k": 16, "measured": np.nan, "measured_low": np.nan, "measured_high": np.nan,
                              "beta": 0.7, "beta_low": 0.6, "beta_high": 0.8, "brown": 0.72, "brown_low": 0.65,
                              "brown_high": 0.79, "model": "small"}])
    facts = {"first": 8, "samples": 16, "alpha": 0.456, "alpha_ci": (0.3, 0.6)}
    frontier = pd.DataFrame([POINT])
    matched = pd.DataFrame([{"benchmark": "gsm8k", "generation": "budget_forcing", "budget": 64, "problems": 20,
                             "generation_flops": 3e12, "generation_accuracy": 0.3, "generation_low": 0.2,
                             "generation_high": 0.4, "selection": "majority_vote", "n": 2, "selection_flops": 2.5e12,
                             "flops_ratio": 2.5 / 3, "selection_accuracy": 0.45, "selection_low": 0.35,
                             "selection_high": 0.55, "difference": -0.15, "ci_low": -0.25, "ci_high": -0.05,
                             "p_value": 0.004}])
    cell = {"model": "small", "generation": "budget_forcing", "strategy": "majority_vote", "scorer": None,
            "budget": 64, "n": 2, "accuracy": 0.4, "ci_low": 0.3, "ci_high": 0.5, "flops_per_problem": 3e12,
            "problems": 20, "tokens_per_problem": 2345.0, "frontier": True}
    grid = pd.DataFrame([cell, {**cell, "n": 4, "accuracy": 0.35, "frontier": False}])
    signal = pd.DataFrame([{"run": "r-small", "model_name": "small", "benchmark": "gsm8k", "problems": 20,
                            "accuracy": 0.25, "accuracy_low": 0.2, "accuracy_high": 0.3, "correct_samples": 40,
                            "samples": 160, "gold_logprob": -2.5, "gold_logprob_low": -3.0, "gold_logprob_high": -2.0,
                            "gold_logprob_per_token": -0.5, "gold_prob": 0.0821, "mean_logprob_correct": -0.3,
                            "mean_logprob_all": -0.6}])
    kw = dict(runs=["runs/r-small"], table=table, fits=fits, frontier=frontier, exchange=exchange, signal=signal,
              notes=["a note about the catalog"], queries=1e9, overlap=overlap, paired=paired,
              allocations=[allocation], forecasts=[("r-small", forecast, facts)], price_per_hour=2.5,
              warnings=["gsm8k: the runs share only 20 problems"], grid=grid, matched=matched,
              cost_frontiers=pd.DataFrame([{"cost": "eflops", "benchmark": "gsm8k", "model": "small", "run": "r-small",
                                            "strategy": "esc", "scorer": None, "n": 8, "accuracy": 0.5, "ci_low": 0.4,
                                            "ci_high": 0.6, "cost_per_problem": 3e12}]),
              cost_choices=pd.DataFrame([{"benchmark": "gsm8k", "target_accuracy": 0.5, "flops": "small · esc @ 8",
                                          "eflops": "large · majority_vote @ 2", "agree": False}]),
              stability=pd.DataFrame([{"run": "r-small", "model": "small", "benchmark": "gsm8k", "k": 4,
                                       "problems": 20, **{f"{m}{e}": v for m in ("pass@k", "pass^k", "G-Pass@k_0.5",
                                                                                  "G-Pass@k_0.75", "mG-Pass@k")
                                                          for e, v in (("", 0.5), ("_low", 0.4), ("_high", 0.6))}}]),
              ranks=pd.DataFrame([{"benchmark": "gsm8k", "n": 4, "model": "small", "run": "r-small",
                                   "strategy": "esc", "accuracy": 0.5, "rank": 1.5, "rank_low": 1.0,
                                   "rank_high": 3.0, "cells": 3}]))
    return Analysis(**{**kw, **over})


def test_sections_are_registered_in_reading_order_with_their_titles():
    assert list(SECTIONS) == ORDER == list(TITLES)
    assert all(TITLES[name] == s.title and s.title for name, s in SECTIONS.items())
    assert list(sections(hand_made())) == ORDER


def test_empty_tables_leave_their_sections_out():
    empty = hand_made(overlap=pd.DataFrame(), paired=pd.DataFrame(), allocations=[], forecasts=[], fits=[],
                      exchange=pd.DataFrame(), matched=pd.DataFrame(), grid=pd.DataFrame(),
                      cost_frontiers=pd.DataFrame(), cost_choices=pd.DataFrame(), stability=pd.DataFrame(),
                      ranks=pd.DataFrame())
    for show in (overlap_section, paired_section, allocation_section, allocation_choices_section, forecast_section,
                 fits_section, exchange_section, matched_section, grid_section, grid_frontier_section,
                 SECTIONS["cost_frontiers"].show, SECTIONS["cost_choices"].show, SECTIONS["stability"].show,
                 SECTIONS["ranks"].show):
        assert show(empty) is None, show.__name__
    assert list(sections(empty)) == ["models", "results", "frontier", "signal"]
    no_frontier = hand_made(grid=hand_made().grid.assign(frontier=False))
    assert grid_frontier_section(no_frontier) is None and grid_section(no_frontier) is not None


def test_models_and_results_format_their_numbers():
    a = hand_made()
    models = models_section(a)
    assert len(models) == 1 and models.iloc[0]["N (params)"] == "1.35e+08" == fmt_num(1.35e8)
    assert models.iloc[0]["6ND (FLOPs)"] == "1.62e+21" and models.iloc[0]["s/token"] == "2.00e-04"
    res = results_section(a)
    assert list(res["strategy"]) == ["best_of_n (logprob)", "budget_forcing"]
    assert list(res["n"]) == ["4", "1 (budget 64)"]
    row = res.iloc[0]
    assert row["accuracy (95% CI)"] == "50.0% (40.0%-60.0%)" and row["CI, problems only"] == "50.0% (45.0%-55.0%)"
    assert row["tokens/problem"] == "1,234" and row["FLOPs/problem"] == "2.00e+12"
    assert row["$/problem at $2.5/h"] == "1.74e-04"
    assert not any(c.startswith("$/problem") for c in results_section(hand_made(price_per_hour=None)).columns)


def test_overlap_paired_and_exchange():
    a = hand_made()
    assert overlap_section(a).iloc[0].to_dict() == {"benchmark": "gsm8k", "runs": 2, "shared problems": 20,
                                                     "problems per run": "r-small: 20, r-large: 30"}
    p = paired_section(a)
    assert list(p["kind"]) == ["asked", "adjacent budgets"]   # the comparisons asked for first
    assert p.iloc[0]["A - B (95% CI)"] == "+10.0% (+2.0%, +18.0%)" and p.iloc[0]["p-value"] == "0.0123"
    assert p.iloc[0]["two-level CI"] == "(+1.0%, +19.0%)"
    e = exchange_section(a).iloc[0]
    assert e["small -> large (benchmark)"] == "small -> large (gsm8k)" and e["target: large n=1"] == "60.0%"
    assert e["small needs FLOPs (x large) [CI]"] == "4.00e+12 (2x) [3.00e+12, beyond]"
    assert e["total at Q=1.00e+09 (small / large)"] == "1.00e+21 / 2.00e+21"


def test_allocation_forecast_and_fits():
    a = hand_made()
    alloc = allocation_section(a).iloc[0]
    assert alloc["bins by"] == "pass@1 (oracle)" and alloc["multiplier [95% CI]"] == "2.00x [1.50, 2.50]"
    assert alloc["target accuracy"] == "55.0%" and alloc["reading"] == "saves compute"
    choices = allocation_choices_section(a)
    assert list(choices["choice"]) == ["majority_vote@4"]   # the largest compute level only
    assert choices.iloc[0]["bin accuracy (in-sample)"] == "12.5%"
    f = forecast_section(a).iloc[0]
    assert f["fitted on"] == "first 8 of 16" and f["measured (95% CI)"] == "-"
    assert f["beta-binomial [band]"] == "70.0% (60.0%-80.0%)" and f["exponent alpha [CI]"] == "0.456 [0.3, 0.6]"
    fits = fits_section(a)
    assert fits.iloc[0]["parameters [95% CI]"] == "e_inf=0.15*, alpha=0.35 [0.3, 0.4]"
    assert fits.iloc[0]["curve"] == "PowerLaw" and fits.iloc[0]["held-out MAE"] == "0.0123"
    assert fits.iloc[0]["drawn"] == "yes"
    assert fits.iloc[1][["curve", "parameters [95% CI]", "drawn"]].tolist() == ["-", "all wrong", "-"]


def test_frontier_matched_grid_and_signal():
    a = hand_made()
    assert frontier_section(a).iloc[0]["accuracy (95% CI)"] == "50.0% (40.0%-60.0%)"
    m = matched_section(a).iloc[0]
    assert m["generation"] == "budget_forcing @ 64" and m["vs"] == "majority_vote n=2"
    assert m["its FLOPs (ratio)"] == "2.50e+12 (0.83x)" and m["difference (95% CI)"] == "-15.0% (-25.0%, -5.0%)"
    g = grid_section(a)
    assert list(g["frontier"]) == ["*", ""] and g.iloc[0]["tokens/problem"] == "2,345"
    gf = grid_frontier_section(a)
    assert list(gf["n"]) == ["2"] and "frontier" not in gf
    s = signal_section(a).iloc[0]
    assert s["correct / samples"] == "40 / 160" and s["gold logprob [95% CI] (per token)"] == "-2.5 [-3, -2] (-0.5)"


def test_an_analysis_prints_itself_with_every_section():
    a = hand_made()
    console = Console(record=True, width=300, file=io.StringIO())
    console.print(a)
    text = " ".join(console.export_text().split())   # titles wrap at their table's width
    for name, title in TITLES.items():
        assert " ".join(title.split()) in text, name
    for value in ("1.35e+08", "+10.0% (+2.0%, +18.0%)", "budget_forcing @ 64", "0.456 [0.3, 0.6]", "40 / 160",
                  "warnings", "gsm8k: the runs share only 20 problems", "notes", "a note about the catalog"):
        assert value in text, value
    assert text.index("warnings") < text.index(TITLES["overlap"]) < text.index(TITLES["signal"]) < text.index("notes")


def test_the_report_tables_are_the_sections_tables():
    a = hand_made()
    shown = [t.title for t in analysis_tables(a, omit=("results",))]
    assert shown == ["warnings", *(TITLES[n] for n in ORDER if n != "results"), "notes"]
    assert [t.title for t in rich_tables(a)] == ["warnings", *(TITLES[n] for n in ORDER), "notes"]
