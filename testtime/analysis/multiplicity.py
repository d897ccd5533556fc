"""Multiple comparisons: Holm's step-down adjustment of a family of p-values (Holm 1979, "A simple sequentially
rejective multiple test procedure"), which keeps the chance of any false rejection in the family at or under the
level whatever the tests' dependence. scipy has the false-discovery-rate adjustments
(`scipy.stats.false_discovery_control`) but not Holm's; statsmodels' `multipletests(p, method="holm")` gives the same
numbers (the tests check them by hand).

The families `analyze` adjusts over (each named where its p-values are shown):
    asked       the comparisons asked for with --paired, all together;
    adjacent    every n against the next one up, over every run, strategy and scorer of the analysis;
    matched     every (generation point, selection strategy) row of the matched-FLOPs table;
    allocation  every (run, binning, baseline) multiplier's test of "no gain" (multiplier <= 1).

Example:
    holm([0.01, 0.04, 0.03, 0.005])      # [0.03, 0.06, 0.06, 0.02]
"""

from __future__ import annotations

import numpy as np


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values, in the order given: the i-th smallest p times (m - i + 1), made non-decreasing along
    the sorted order and capped at 1. NaN entries are left out of the family and stay NaN.

    Args:
        p_values: the family's unadjusted p-values.

    Returns:
        [m] adjusted p-values; reject at level alpha where adjusted <= alpha.

    Example:
        holm([0.01, 0.04, 0.03, 0.005])      # [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(p_values, float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if not m:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out
