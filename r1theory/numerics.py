"""Small floating-point helpers shared by the engine and everything above it (one home each).

* :data:`TINY` — the floor of a denominator that may be 0 (``x / max(|y|, TINY)``): the smallest positive
  normal float64, so any nonzero normal |y| is used as it is.
* :func:`cosine` — cos(x, y) = ⟨x, y⟩/(‖x‖‖y‖), computed on x/‖x‖∞ and y/‖y‖∞ so that neither tiny
  (subnormal squares) nor huge (overflowing squares) entries spoil it; NaN when x or y is 0 or not finite.
  The per-state centred cosine of :mod:`r1theory.diagnostics` is this cosine of the centred arrays.
"""

from __future__ import annotations

import math

import numpy as np

from ._types import Array

__all__ = ["TINY", "cosine"]

#: Smallest positive normal float64 (≈ 2.2e-308): the one floor for a denominator that may vanish.
TINY: float = float(np.finfo(np.float64).tiny)


def cosine(x: Array, y: Array) -> float:
    """cos(x, y) = ⟨x, y⟩/(‖x‖₂‖y‖₂) over all entries; NaN if x or y is 0 or has a non-finite entry.

    Each vector is divided by its largest |entry| first (the cosine is scale-invariant), so entries of
    size 1e-200 or 1e200 give the same cosine as entries of size 1; the result is clipped to [−1, 1].
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    sx = float(np.max(np.abs(x))) if x.size else 0.0
    sy = float(np.max(np.abs(y))) if y.size else 0.0
    if not (sx > 0.0 and sy > 0.0 and math.isfinite(sx) and math.isfinite(sy)):
        return math.nan
    xs, ys = x / sx, y / sy
    c = float(np.vdot(xs, ys) / (np.linalg.norm(xs) * np.linalg.norm(ys)))
    return min(1.0, max(-1.0, c))  # rounding can put |c| an ulp above 1
