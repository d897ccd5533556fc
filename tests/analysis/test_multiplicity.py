"""Holm's adjustment against hand-worked families."""

import numpy as np
import pytest

from testtime.analysis.multiplicity import holm


def test_holm_by_hand():
    # Sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> kept non-decreasing: 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # Capped at 1; one test is left as it is.
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm([0.3]) == pytest.approx([0.3])


def test_nan_is_left_out_of_the_family():
    out = holm([0.02, np.nan, 0.01])
    assert np.isnan(out[1]) and out[[0, 2]] == pytest.approx([0.02, 0.02])
    assert holm([]).shape == (0,)


def test_holm_rejects_no_more_than_bonferroni_allows_and_no_fewer():
    p = np.random.default_rng(0).uniform(0, 0.05, 20)
    adj = holm(p)
    assert (adj >= p).all() and (adj <= np.minimum(p * len(p), 1) + 1e-15).all()
