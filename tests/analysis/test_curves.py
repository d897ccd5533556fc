"""Curve fits recover planted parameters, model selection picks the planted form, bad data fails in one line."""

import dataclasses

import numpy as np
import pytest

from testtime.analysis.curves import (
    ExpPower,
    LogSigmoid,
    PowerLaw,
    exp_power,
    log_sigmoid,
    power_law,
    select_model,
)
from testtime.errors import UserError

X = np.geomspace(1, 4096, 16)
SEEDS = range(5)

# (estimator, planted params, noiseless accuracy, noise on accuracy)
PLANTED = {
    "power_law": (PowerLaw(n_boot=100), {"e_inf": 0.2, "a": 0.6, "alpha": 0.5},
                  lambda x, p: 1 - power_law(x, **p)),
    "log_sigmoid": (LogSigmoid(n_boot=100), {"lo": 0.05, "hi": 0.85, "k": 1.2, "log_c50": np.log(30.0)},
                    lambda x, p: log_sigmoid(x, **p)),
    "exp_power": (ExpPower(n_boot=100), {"a": -2.0, "b": -0.5},
                  lambda x, p: exp_power(x, **p)),
}


def _noisy(f, params, seed, sd=0.01, x=X):
    rng = np.random.default_rng(seed)
    return np.clip(f(x, params) + rng.normal(0, sd, len(x)), 0, 1)


@pytest.mark.parametrize("family", PLANTED)
def test_fit_recovers_planted_parameters_inside_bootstrap_ci(family):
    est, planted, f = PLANTED[family]
    misses = []
    for seed in SEEDS:
        model = dataclasses.replace(est, seed=seed).fit(X, _noisy(f, planted, seed))
        for name, true in planted.items():
            lo, hi = model.ci_[name]
            assert lo <= model.params_[name] <= hi
            # Point estimates land close to the truth at 1% accuracy noise.
            assert model.params_[name] == pytest.approx(true, rel=0.15, abs=0.03), (seed, name)
            if not lo <= true <= hi:
                misses.append((seed, name, true, (lo, hi)))
    # 95% intervals over 10-20 (seed, parameter) checks: ~0.5-1 misses expected by chance; today each family has
    # exactly one (pairs-bootstrap percentile intervals at 16 points run slightly narrow). Two would still be fine.
    assert len(misses) <= 2, misses


def test_parameters_on_an_edge_of_the_search_range_are_flagged():
    # A planted interior fit has no parameter on an edge; a flat-then-jump series drives the sigmoid's steepness
    # to its cap (k <= 50), which the data cannot pin down.
    est, planted, f = PLANTED["log_sigmoid"]
    assert dataclasses.replace(est, n_boot=0).fit(X, _noisy(f, planted, seed=0)).at_bound_ == ()
    step = np.where(X < 100, 0.1, 0.6)
    assert "k" in LogSigmoid(n_boot=0).fit(X, step).at_bound_


@pytest.mark.parametrize("family", PLANTED)
def test_predict_returns_accuracy_and_band_brackets_it(family):
    est, planted, f = PLANTED[family]
    model = dataclasses.replace(est).fit(X, _noisy(f, planted, seed=0))
    grid = np.geomspace(1, 8192, 7)
    pred = model.predict(grid)
    np.testing.assert_allclose(pred, f(grid, planted), atol=0.03)
    lo, hi = model.predict_band(grid, level=0.9)
    assert np.all(lo <= pred + 1e-9) and np.all(pred <= hi + 1e-9)
    assert np.all(model.residual_.shape == X.shape)


def test_fit_returns_self_and_params_are_constructor_only():
    model = PowerLaw(n_boot=10)
    assert dataclasses.asdict(model) == {"loss": "huber", "huber_delta": 1e-3, "n_starts": 8, "n_boot": 10, "seed": 0}
    assert model.fit(X, 1 - power_law(X, 0.1, 0.5, 0.4)) is model
    assert set(model.params_) == {"e_inf", "a", "alpha"}


def test_power_law_handles_flop_scale_compute():
    # Budgets in FLOPs (1e12..1e18): internal rescaling keeps the fit well posed; `a` comes back in FLOP units.
    flops = np.geomspace(1e12, 1e18, 12)
    acc = 1 - power_law(flops, 0.15, 2e3, 0.3)
    model = PowerLaw(n_boot=0).fit(flops, acc)
    assert model.params_["alpha"] == pytest.approx(0.3, rel=1e-3)
    assert model.params_["a"] == pytest.approx(2e3, rel=1e-2)
    assert model.params_["e_inf"] == pytest.approx(0.15, rel=1e-3)


def test_huber_fit_shrugs_off_one_outlier():
    acc = 1 - power_law(X, 0.2, 0.6, 0.5)
    acc[5] = 0.9  # one wildly wrong budget
    robust = PowerLaw(n_boot=0).fit(X, acc)
    plain = PowerLaw(n_boot=0, loss="linear").fit(X, acc)
    assert abs(robust.params_["alpha"] - 0.5) < 0.02
    assert abs(robust.params_["alpha"] - 0.5) < abs(plain.params_["alpha"] - 0.5)


@pytest.mark.parametrize("family, expected", [
    ("power_law", "PowerLaw"), ("log_sigmoid", "LogSigmoid"), ("exp_power", "ExpPower")])
@pytest.mark.parametrize("seed", [0, 1])
def test_select_model_picks_planted_form(family, expected, seed):
    _, planted, f = PLANTED[family]
    # Planted forms chosen to differ where it matters: beyond the measured budgets.
    planted = {"power_law": {"e_inf": 0.25, "a": 0.6, "alpha": 0.6},
               "log_sigmoid": {"lo": 0.05, "hi": 0.8, "k": 1.5, "log_c50": np.log(20.0)},
               "exp_power": {"a": -2.5, "b": -0.35}}[family]
    x = np.geomspace(1, 4096, 13)
    y = _noisy(f, planted, seed, sd=0.005, x=x)
    cands = (PowerLaw(n_boot=0), LogSigmoid(n_boot=0), ExpPower(n_boot=0))
    best, table = select_model(x, y, candidates=cands, n_holdout=3)
    assert type(best).__name__ == expected
    assert [row["model"] for row in table][0] == expected
    assert table[0]["heldout_mae"] <= table[1]["heldout_mae"] <= table[2]["heldout_mae"]
    assert best.params_  # refitted on every point


def test_select_model_scores_a_candidate_it_cannot_fit_as_inf():
    x = np.geomspace(1, 64, 6)
    y = 1 - power_law(x, 0.2, 0.6, 0.5)
    best, table = select_model(x, y, candidates=(PowerLaw(n_boot=0), LogSigmoid(n_boot=0)), n_holdout=2)
    assert type(best).__name__ == "PowerLaw"
    assert table[-1] == {"model": "LogSigmoid", "heldout_mae": float("inf"), "params": {}}


@pytest.mark.parametrize("x, y, message", [
    ([1, 2], [0.1, 0.2], "need at least 4 points to fit PowerLaw, got 2"),
    ([1, 2, 4, 8], [1.0, 1.0, 1.0, 1.0], "accuracy is 1.0 at every point; nothing to fit"),
    ([1, 2, 4, 8], [0.0, 0.0, 0.0, 0.0], "accuracy is 0.0 at every point; nothing to fit"),
    ([1, 0, 4, 8], [0.1, 0.2, 0.3, 0.4], "compute must be positive; got 0.0 at index 1"),
    ([1, -2, 4, 8], [0.1, 0.2, 0.3, 0.4], "compute must be positive; got -2.0 at index 1"),
    ([1, 2, 4, 8], [0.1, np.nan, 0.3, 0.4], "accuracy is nan at index 1; drop or fix that point"),
    ([1, np.inf, 4, 8], [0.1, 0.2, 0.3, 0.4], "compute is inf at index 1; drop or fix that point"),
    ([1, 2, 4, 8], [0.1, 0.2, 1.3, 0.4], "accuracy must be in [0, 1]; got 1.3 at index 2"),
    ([1, 1, 1, 8], [0.1, 0.2, 0.3, 0.4], "need at least 3 distinct compute values to fit PowerLaw, got 2"),
])
def test_degenerate_data_raises_one_line(x, y, message):
    with pytest.raises(UserError) as info:
        PowerLaw(n_boot=0).fit(x, y)
    assert str(info.value) == message
    assert "\n" not in str(info.value)


def test_point_count_names_the_family():
    with pytest.raises(UserError, match="need at least 5 points to fit LogSigmoid, got 4"):
        LogSigmoid().fit([1, 2, 4, 8], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(UserError, match="need at least 3 points to fit ExpPower, got 2"):
        ExpPower().fit([1, 2], [0.1, 0.2])


def test_misuse_raises_user_error():
    with pytest.raises(UserError, match="not fitted"):
        PowerLaw().predict([1.0])
    with pytest.raises(UserError, match="loss must be one of"):
        PowerLaw(loss="l2")
    model = ExpPower(n_boot=0).fit(X, exp_power(X, -2.0, -0.5))
    with pytest.raises(UserError, match="n_boot=0"):
        model.predict_band(X)
    with pytest.raises(UserError, match="sample_weight"):
        ExpPower().fit(X, exp_power(X, -2.0, -0.5), sample_weight=-np.ones_like(X))
