"""pass@k forecasts on planted Beta pools: the exponent is recovered, and pass@N predicted from the first samples
matches pass@N measured from all of them."""

import numpy as np
import pytest

from testtime.analysis.forecast import BetaBinomial, forecast, spread_note
from testtime.errors import UserError


def beta_pool(alpha, beta, P=1500, N=64, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.beta(alpha, beta, P)
    return rng.random((P, N)) < p[:, None]


@pytest.mark.parametrize("alpha,beta", [(0.3, 3.0), (0.6, 8.0)])
def test_planted_exponent_recovered(alpha, beta):
    correct = beta_pool(alpha, beta)
    fit = BetaBinomial(n_boot=60).fit(correct.sum(axis=1), correct.shape[1])
    lo, hi = fit.ci_["alpha"]
    assert lo <= alpha <= hi and hi - lo < 0.5 * alpha
    # The power law: 1 - pass@k ~ k^(-alpha) far out.
    k = np.array([1e4, 1e5])
    slope = np.diff(np.log(1 - fit.pass_at_k(k))) / np.diff(np.log(k))
    assert slope[0] == pytest.approx(-fit.params_["alpha"], rel=0.05)


def test_forecast_from_the_first_samples_matches_measured():
    correct = beta_pool(0.4, 4.0, P=800, seed=1)
    table, facts = forecast(correct, first=8, n_boot=60)
    row = table.set_index("k").loc[64]
    assert row["beta_low"] <= row["measured"] <= row["beta_high"]
    assert abs(row["beta"] - row["measured"]) < 0.05
    assert facts["alpha_ci"][0] <= 0.4 <= facts["alpha_ci"][1]
    assert np.isnan(table.set_index("k").loc[1024, "measured"]) and table["k"].max() == 1024
    assert np.isfinite(table["brown"]).all()


def test_nothing_to_fit_is_a_clear_error():
    with pytest.raises(UserError, match="no problem has a correct sample"):
        forecast(np.zeros((5, 16), bool), first=8)
    with pytest.raises(UserError, match="forecast-from"):
        forecast(np.ones((5, 16), bool), first=32)


def test_samples_that_cannot_tell_problems_apart_are_flagged():
    # One success rate for all (2%, as SmolLM2-135M on GSM8K): 8 samples show no spread, and the statistic says so;
    # a planted spread of the same mean is seen.
    rng = np.random.default_rng(2)
    alike = rng.random((100, 64)) < 0.02
    _, facts = forecast(alike, first=8, n_boot=0)
    assert facts["spread_lr"] < 2.71
    spread = beta_pool(0.3, 15.0, P=100, seed=3)   # mean 2%, most problems near 0
    _, facts = forecast(spread, first=32, n_boot=0)
    assert facts["spread_lr"] > 2.71 and facts["alpha"] < 2


def test_the_note_says_when_to_fit_on_more_samples():
    rng = np.random.default_rng(4)
    _, facts = forecast(rng.random((60, 16)) < 0.03, first=4, n_boot=0)
    note = spread_note("r", facts)
    assert note is not None and "first 4 samples" in note and "--forecast-from" in note
    _, facts = forecast(beta_pool(0.3, 3.0, P=200, seed=5), first=8, n_boot=0)
    assert spread_note("r", facts) is None


def test_a_fit_stopped_at_its_bound_is_flagged_not_given_an_interval():
    # Planted no spread: every problem has exactly 1 correct sample of 8, less spread than one success rate for all
    # would give, so the likelihood rises without end toward "all problems alike" and the search stops at beta = e^7
    # with alpha = e^7 x (1/8) / (7/8) (what produced "alpha = 22.5 [12.5, 31.1]" on a 2% pool).
    correct = np.zeros((100, 16), bool)
    correct[:, 0] = True
    table, facts = forecast(correct, first=8, n_boot=50)
    assert facts["alpha_at_bound"] and facts["at_bound"] == ("beta",)
    assert facts["alpha"] == pytest.approx(np.exp(7) / 7, rel=0.01)
    assert facts["alpha_ci"][1] == np.inf               # every refit at the bound too: open above
    # The report shows no value and no interval for it.
    from testtime.analysis.sections import alpha_text
    assert alpha_text(facts).startswith("not identified") and "22" not in alpha_text(facts)
    # pass@k is still the one-rate limit's, 1 - (7/8)^k.
    assert table.set_index("k").loc[4, "beta"] == pytest.approx(1 - (7 / 8) ** 4, abs=1e-3)


def test_an_identified_fit_is_not_flagged():
    fit = BetaBinomial(n_boot=20).fit(beta_pool(0.3, 3.0, P=400).sum(axis=1), 64)
    assert fit.at_bound_ == () and np.isfinite(fit.ci_["alpha"]).all()
    from testtime.analysis.sections import alpha_text
    _, facts = forecast(beta_pool(0.3, 3.0, P=200, seed=5), first=8, n_boot=20)
    assert not facts["alpha_at_bound"] and alpha_text(facts).startswith(f"{facts['alpha']:.3g} [")
