"""Rate tools for gap histories: iterations to ε, fitted sublinear and linear rates, t·gap shape.

* Sublinear rates (Mei et al. 2020: V* − V_t = Θ(1/t) for softmax PG) show as a straight line of
  log gap against log t with slope −1, and as t·gap levelling off to a constant.
* Linear rates (NPG with growing steps, GNPG, entropy-regularised methods) show as a straight line
  of log gap against t with slope log(rate) < 0.

Points below the float floor (gap ≤ ``floor``) carry no rate information and are excluded. The
fitted window is chosen from the data: the tail of the usable points, from the point where the
remaining curve spans the last ``tail`` fraction of the fitted axis (log t for sublinear fits, t
for linear fits); the window is returned with the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._types import Array, IntArray

#: Default float floor for gaps of values of size O(1/(1 − γ)): below this, gaps are rounding noise.
FLOOR_REL = 1e3 * np.finfo(np.float64).eps


@dataclass(frozen=True)
class RateFit:
    """A least-squares line through (x, log gap) on the window [t_start, t_end] (iteration indices).

    ``slope`` is d log(gap)/d log(t) for ``kind == "sublinear"`` and d log(gap)/dt for
    ``kind == "linear"`` (then exp(slope) is the per-iteration contraction). ``r2`` is the
    coefficient of determination; ``points`` the number of points fitted.
    """

    kind: str
    slope: float
    intercept: float
    r2: float
    t_start: int
    t_end: int
    points: int


def floor_for(J_star: float) -> float:
    """Float floor of the gap for values of magnitude |J*|: 1e3·eps·(1 + |J*|)."""
    return float(FLOOR_REL * (1.0 + abs(J_star)))


def iterations_to(gap: Array, eps: float) -> int | None:
    """First t with gap[t] ≤ ε, or None if never reached."""
    hit = np.flatnonzero(np.asarray(gap) <= eps)
    return int(hit[0]) if hit.size else None


def _usable(gap: Array, floor: float) -> IntArray:
    g = np.asarray(gap, dtype=np.float64)
    t = np.arange(len(g))
    ok = (g > floor) & np.isfinite(g)
    above = np.flatnonzero(~ok)
    end = int(above[0]) if above.size else len(g)  # stop at the first floor hit
    return t[:end][ok[:end]]


def _fit(x: Array, y: Array) -> tuple[float, float, float]:
    A = np.vstack([x, np.ones_like(x)]).T
    (slope, intercept), *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - (slope * x + intercept)
    ss = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss if ss > 0 else 1.0
    return float(slope), float(intercept), r2


def fit_sublinear(gap: Array, floor: float = 0.0, tail: float = 0.5, min_points: int = 5) -> RateFit | None:
    """Fit log gap = slope·log t + c on the last ``tail`` of the usable range in log t (t ≥ 1).

    Returns None when fewer than ``min_points`` usable points remain.
    """
    t = _usable(gap, floor)
    t = t[t >= 1]
    if t.size < min_points:
        return None
    lt = np.log(t.astype(np.float64))
    cut = lt[-1] - tail * (lt[-1] - lt[0])
    sel = t[lt >= cut]
    if sel.size < min_points:
        sel = t[-min_points:]
    slope, intercept, r2 = _fit(np.log(sel.astype(np.float64)), np.log(np.asarray(gap)[sel]))
    return RateFit("sublinear", slope, intercept, r2, int(sel[0]), int(sel[-1]), int(sel.size))


def fit_linear(gap: Array, floor: float = 0.0, tail: float = 0.5, min_points: int = 5) -> RateFit | None:
    """Fit log gap = slope·t + c on the last ``tail`` of the usable range in t.

    Returns None when fewer than ``min_points`` usable points remain.
    """
    t = _usable(gap, floor)
    if t.size < min_points:
        return None
    cut = t[-1] - tail * (t[-1] - t[0])
    sel = t[t >= cut]
    if sel.size < min_points:
        sel = t[-min_points:]
    slope, intercept, r2 = _fit(sel.astype(np.float64), np.log(np.asarray(gap)[sel]))
    return RateFit("linear", slope, intercept, r2, int(sel[0]), int(sel[-1]), int(sel.size))


@dataclass(frozen=True)
class Levelling:
    """Shape of t·gap over the tail window [t_start, t_end].

    ``spread`` = max/min of t·gap over the window (1 for an exact c/t curve); ``trend`` = the
    slope of log(t·gap) against log t (0 for Θ(1/t), −1 for Θ(1/t²), +1 for a constant gap).
    """

    t_start: int
    t_end: int
    spread: float
    trend: float
    final: float


def t_gap_levelling(gap: Array, floor: float = 0.0, tail: float = 0.5, min_points: int = 5) -> Levelling | None:
    """Measure whether t·gap levels off over the last ``tail`` of the usable range in log t."""
    fit = fit_sublinear(gap, floor=floor, tail=tail, min_points=min_points)
    if fit is None:
        return None
    t = np.arange(fit.t_start, fit.t_end + 1)
    tg = t * np.asarray(gap)[t]
    tg = tg[tg > 0]
    if tg.size == 0:
        return None
    return Levelling(fit.t_start, fit.t_end, float(tg.max() / tg.min()), fit.slope + 1.0, float(tg[-1]))
