"""r1theory.numerics: the one plain cosine and the one denominator floor."""

from __future__ import annotations

import math

import numpy as np
import pytest

from r1theory.numerics import TINY, cosine


def test_cosine_is_the_textbook_formula_and_scale_invariant():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    ref = float(np.vdot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y)))
    assert cosine(x, y) == pytest.approx(ref, rel=1e-14, abs=1e-15)
    for scale in (1e-200, 1e200):  # the unscaled formula under- or overflows here
        assert cosine(scale * x, y) == pytest.approx(ref, rel=1e-14, abs=1e-15)
        assert cosine(x, scale * y) == pytest.approx(ref, rel=1e-14, abs=1e-15)


def test_cosine_is_nan_for_a_zero_or_non_finite_vector_and_stays_in_range():
    x = np.array([1.0, 2.0])
    assert math.isnan(cosine(x, np.zeros(2)))
    assert math.isnan(cosine(np.array([np.inf, 1.0]), x))
    assert cosine(x, x) <= 1.0 and cosine(x, -x) >= -1.0


def test_tiny_is_the_smallest_normal_float():
    assert TINY == np.finfo(np.float64).tiny and TINY > 0
