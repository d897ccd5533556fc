"""Training laws checked against the papers' own published numbers and against their own optimality conditions."""

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from testtime.errors import UserError
from testtime.analysis.laws import (BESIROGLU2024, CHINCHILLA, CHINCHILLA_UNROUNDED, KAPLAN2020, LAWS, PF_DAY,
                                    ParametricLaw, allocation_table)

GOPHER_FLOPS = 5.76e23  # Hoffmann et al. 2022, table 3: Gopher's budget (the 67B row of approach 1)
BUDGETS = [1e18, 1e21, GOPHER_FLOPS, 1e25, 1e27]


def test_chinchilla_loss_closed_form_at_chinchilla_size():
    # Chinchilla itself: 70B parameters, 1.4T tokens (Hoffmann et al. 2022, section 4).
    expected = 1.69 + 406.4 / 70e9**0.34 + 410.7 / 1.4e12**0.28
    assert CHINCHILLA.loss(70e9, 1.4e12) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(1.9366, abs=1e-4)


def test_chinchilla_exponents_match_table_2_approach_3():
    # Table 2: approach 3 gives N_opt ~ C^0.46, D_opt ~ C^0.54. Rounded printed constants give 0.452 / 0.548 (within
    # 0.01); the unrounded TeX constants reproduce the printed 0.46 / 0.54 to two decimals.
    for law, tol in ((CHINCHILLA, 0.01), (CHINCHILLA_UNROUNDED, 0.005)):
        a = _slope(law.n_opt)
        b = _slope(law.d_opt)
        assert a == pytest.approx(0.46, abs=tol)
        assert b == pytest.approx(0.54, abs=tol)
        assert a + b == pytest.approx(1.0, abs=1e-9)  # C = 6ND forces a + b = 1


def test_chinchilla_gopher_budget_optimum():
    # Section 3.3 / figure 4: approach 3 puts the Gopher-budget optimum at about 40B parameters. The unrounded
    # constants give 40.3B; the rounded printed ones give 32.2B (rounding beta from 0.2849 to 0.28 matters).
    assert CHINCHILLA_UNROUNDED.n_opt(GOPHER_FLOPS) == pytest.approx(40e9, rel=0.02)
    assert CHINCHILLA.n_opt(GOPHER_FLOPS) == pytest.approx(3.22e10, rel=0.01)
    # Closed form with the printed constants, written out (Hoffmann et al. eq. 4).
    g = (0.34 * 406.4 / (0.28 * 410.7)) ** (1 / 0.62)
    assert CHINCHILLA.n_opt(GOPHER_FLOPS) == pytest.approx(g * (GOPHER_FLOPS / 6) ** (0.28 / 0.62), rel=1e-12)
    assert CHINCHILLA.d_opt(GOPHER_FLOPS) == pytest.approx((GOPHER_FLOPS / 6) ** (0.34 / 0.62) / g, rel=1e-12)


def test_besiroglu_exponent_and_twenty_tokens_per_param():
    # Besiroglu et al. 2024: a = beta / (alpha + beta) = 0.5126, and their refit implies ~20 tokens per parameter,
    # consistent with Chinchilla's rule of thumb.
    law = BESIROGLU2024
    assert _slope(law.n_opt) == pytest.approx(0.5126, abs=1e-4)
    for C in (1e21, GOPHER_FLOPS, 1e24, 1e25):
        assert 15 < law.tokens_per_param(C) < 25


def test_kaplan_allocation_exponent_and_prefactor():
    # Kaplan et al. 2020, section 6.1 / figure 14: N_opt = 1.3e9 (C_min / PF-day)^0.73.
    law = KAPLAN2020
    assert _slope(law.n_opt) == pytest.approx(0.73, abs=1e-9)
    assert law.n_opt(PF_DAY) == pytest.approx(1.3e9, rel=1e-12)
    assert PF_DAY == 8.64e19


def test_kaplan_loss_reduces_to_single_variable_laws():
    law = KAPLAN2020
    # eq. 1.5 -> eq. 1.1 when D is unlimited, -> eq. 1.2 when N is unlimited.
    assert law.loss(1e9, 1e30) == pytest.approx((8.8e13 / 1e9) ** 0.076, rel=1e-6)
    assert law.loss(1e40, 1e10) == pytest.approx((5.4e13 / 1e10) ** 0.095, rel=1e-6)
    # eq. 1.3 at 1 PF-day.
    assert law.loss_frontier(PF_DAY) == pytest.approx(3.1e8**0.050, rel=1e-12)


@pytest.mark.parametrize("law", LAWS, ids=lambda law: law.name)
@pytest.mark.parametrize("C", BUDGETS)
def test_compute_identity_holds(law, C):
    assert 6 * law.n_opt(C) * law.d_opt(C) == pytest.approx(C, rel=1e-9)
    assert law.tokens_per_param(C) == pytest.approx(law.d_opt(C) / law.n_opt(C), rel=1e-12)


@pytest.mark.parametrize("law", [CHINCHILLA, BESIROGLU2024, CHINCHILLA_UNROUNDED], ids=["printed", "epoch", "tex"])
@pytest.mark.parametrize("C", BUDGETS)
def test_closed_form_is_the_numerical_minimum(law, C):
    # First-order optimality: minimise loss(N, C / 6N) over log N numerically; it must land on n_opt(C).
    res = minimize_scalar(lambda logn: law.loss(math.exp(logn), C / (6 * math.exp(logn))),
                          bounds=(math.log(1e3), math.log(C / 6 / 1e3)), method="bounded",
                          options={"xatol": 1e-10})
    assert math.exp(res.x) == pytest.approx(law.n_opt(C), rel=1e-4)


def test_not_the_equal_split_shortcut():
    # A widespread misreading sets N = D = 0.1715 sqrt(C). Neither law says that.
    for law in (CHINCHILLA, BESIROGLU2024):
        C = 1e24
        assert law.n_opt(C) != pytest.approx(0.1715 * math.sqrt(C), rel=0.05)
        assert law.tokens_per_param(C) > 5


def test_vectorised_and_scalar_agree():
    law = CHINCHILLA
    arr = law.n_opt(np.array(BUDGETS))
    assert isinstance(law.n_opt(1e21), float)
    np.testing.assert_allclose(arr, [law.n_opt(C) for C in BUDGETS], rtol=1e-12)


def test_allocation_table_rows():
    rows = allocation_table(1e23)
    assert [row["law"] for row in rows] == ["chinchilla", "besiroglu2024", "kaplan2020"]
    for row, law in zip(rows, LAWS):
        assert set(row) == {"law", "compute", "n_opt", "d_opt", "tokens_per_param", "loss"}
        assert row["n_opt"] == law.n_opt(1e23)
        assert row["loss"] == pytest.approx(law.loss(row["n_opt"], row["d_opt"]))
    # Kaplan favours bigger models on less data than either Chinchilla fit.
    assert rows[2]["tokens_per_param"] < rows[0]["tokens_per_param"]
    assert rows[2]["tokens_per_param"] < rows[1]["tokens_per_param"]


@pytest.mark.parametrize("bad", [0, -1e21, float("nan")])
def test_bad_compute_raises_user_error(bad):
    with pytest.raises(UserError, match="compute must be a positive number"):
        allocation_table(bad)
    with pytest.raises(UserError, match="N must be a positive number"):
        CHINCHILLA.loss(bad, 1e9)


def test_laws_are_frozen():
    with pytest.raises(Exception):
        CHINCHILLA.E = 2.0


def test_one_parametric_law_with_the_published_constants():
    # Chinchilla and its Epoch refit are one law with other constants; the unrounded one differs in E, alpha, beta.
    assert isinstance(CHINCHILLA, ParametricLaw) and isinstance(BESIROGLU2024, ParametricLaw)
    assert (CHINCHILLA.E, CHINCHILLA.A, CHINCHILLA.B, CHINCHILLA.alpha, CHINCHILLA.beta) == (1.69, 406.4, 410.7, 0.34,
                                                                                             0.28)
    assert (BESIROGLU2024.E, BESIROGLU2024.A, BESIROGLU2024.B, BESIROGLU2024.alpha, BESIROGLU2024.beta) == (
        1.8172, 482.01, 2085.43, 0.3478, 0.3658)
    assert (CHINCHILLA_UNROUNDED.E, CHINCHILLA_UNROUNDED.A, CHINCHILLA_UNROUNDED.B, CHINCHILLA_UNROUNDED.alpha,
            CHINCHILLA_UNROUNDED.beta) == (1.6934, 406.4, 410.7, 0.3392, 0.2849)
    assert [law.name for law in LAWS] == ["chinchilla", "besiroglu2024", "kaplan2020"]


def _slope(f, lo=1e20, hi=1e26):
    return math.log(f(hi) / f(lo)) / math.log(hi / lo)
