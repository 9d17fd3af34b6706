"""Rate tools recover known rates from synthetic gap curves."""

from __future__ import annotations

import numpy as np
import pytest

from r1theory import rates


def test_iterations_to() -> None:
    gap = np.array([1.0, 0.5, 0.2, 0.05, 0.01])
    assert rates.iterations_to(gap, 0.2) == 2
    assert rates.iterations_to(gap, 1e-3) is None
    assert rates.iterations_to(gap, 1.0) == 0


def test_sublinear_fit_recovers_exponent() -> None:
    t = np.maximum(np.arange(0, 5001, dtype=float), 1.0)
    gap = 3.0 / t
    fit = rates.fit_sublinear(gap)
    assert fit is not None
    assert fit.slope == pytest.approx(-1.0, abs=1e-3)
    assert fit.r2 > 0.999
    assert 1 <= fit.t_start < fit.t_end == 5000
    gap2 = 2.0 / t**2
    fit2 = rates.fit_sublinear(gap2)
    assert fit2 is not None and fit2.slope == pytest.approx(-2.0, abs=1e-3)


def test_linear_fit_recovers_rate_and_stops_at_floor() -> None:
    t = np.arange(200, dtype=float)
    gap = 0.9**t
    fit = rates.fit_linear(gap, floor=1e-6)
    assert fit is not None
    assert np.exp(fit.slope) == pytest.approx(0.9, rel=1e-9)
    assert gap[fit.t_end] > 1e-6 >= gap[fit.t_end + 1]


def test_levelling_distinguishes_one_over_t_from_slower() -> None:
    t = np.maximum(np.arange(0, 4001, dtype=float), 1.0)
    lev = rates.t_gap_levelling(5.0 / t)
    assert lev is not None
    assert lev.spread < 1.01
    assert abs(lev.trend) < 1e-2
    lev_slow = rates.t_gap_levelling(1.0 / np.sqrt(t))
    assert lev_slow is not None
    assert lev_slow.trend == pytest.approx(0.5, abs=1e-2)
    assert lev_slow.spread > 1.3


def test_too_few_points() -> None:
    assert rates.fit_sublinear(np.array([1.0, 0.5])) is None
    assert rates.fit_linear(np.array([1.0, 1e-20, 1e-30]), floor=1e-12) is None
    assert rates.t_gap_levelling(np.zeros(10)) is None
