"""Hypothesis strategies for random valid tabular MDPs, softmax logits, dampings and step sizes.

Use them to state the engine's identities as properties that hold on *every* valid input::

    from hypothesis import given, settings, strategies as st
    from tabular_mdps.strategies import dampings, mdps, thetas

    @settings(deadline=None)
    @given(mdp=mdps(max_states=4), data=st.data())
    def test_gradient_rows_sum_to_zero(mdp, data):
        theta = data.draw(thetas(mdp))
        ...

Every generated MDP satisfies the conventions of ``design.md``:

* ``P[s, a, s']`` has shape (S, A, S) and every row ``P[s, a, :]`` is a distribution;
* ``r[s, a]`` has shape (S, A), entries in ``[reward_min, reward_max]`` (default [0, 1], the range the
  classic bounds assume);
* ``gamma`` lies in ``[0, gamma_max]`` ⊂ [0, 1), with 0, 0.5, 0.9, 0.99 and ``gamma_max`` itself drawn
  often;
* ``rho`` has shape (S,) and is a distribution.

With ``sparse=True`` (the default) rows have few successors (many exact zeros), some states are
absorbing (``P[s, a, s] = 1`` for every a) and ``rho`` may put zero mass on some states, so some
states can be unreachable (``d(s) = 0``). With ``sparse=False`` every transition probability and every
entry of ``rho`` is positive (at least about 1e-6 / S before normalisation).

Logits from :func:`thetas` reach ``|θ| = max_abs`` (1e3 by default), far beyond the point where the
softmax policy is deterministic to double precision.

Requires hypothesis: ``pip install 'r1theory[test]'``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # pragma: no cover - exercised only without the test extra
    raise ImportError(
        "tabular_mdps.strategies needs the 'hypothesis' package, which is not installed. "
        "Install the test extra with: pip install 'r1theory[test]'"
    ) from exc

from r1theory import TabularMDP

__all__ = ["dampings", "mdps", "steps", "thetas"]

#: Smallest unnormalised weight of a transition or start probability that is not exactly zero.
MIN_WEIGHT = 1e-6

_weights = st.floats(min_value=MIN_WEIGHT, max_value=1.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _check_range(name: str, low: int, high: int, least: int) -> None:
    if low < least:
        raise ValueError(f"min_{name} must be >= {least}; got {low}")
    if high < low:
        raise ValueError(f"max_{name} must be >= min_{name}; got max_{name}={high} < min_{name}={low}")


def _distribution_rows(draw: st.DrawFn, shape: tuple[int, ...], sparse: bool) -> NDArray[np.float64]:
    """Random rows (along the last axis) that are distributions; sparse rows keep ≥ 1 successor."""
    W = draw(hnp.arrays(np.float64, shape, elements=_weights))
    if sparse:
        mask = draw(hnp.arrays(np.bool_, shape, elements=st.booleans()))
        n = shape[-1]
        keep = draw(hnp.arrays(np.int64, shape[:-1], elements=st.integers(0, n - 1)))
        np.put_along_axis(mask, keep[..., None], True, axis=-1)
        W = np.where(mask, W, 0.0)
    out: NDArray[np.float64] = W / W.sum(axis=-1, keepdims=True)
    return out


@st.composite
def _mdps(
    draw: st.DrawFn,
    min_states: int,
    max_states: int,
    min_actions: int,
    max_actions: int,
    sparse: bool,
    gamma_max: float,
    reward_min: float,
    reward_max: float,
) -> TabularMDP:
    S = draw(st.integers(min_states, max_states))
    A = draw(st.integers(min_actions, max_actions))
    P = _distribution_rows(draw, (S, A, S), sparse)
    if sparse:
        absorbing = draw(hnp.arrays(np.bool_, (S,), elements=st.booleans()))
        for s in np.flatnonzero(absorbing):
            P[s] = 0.0
            P[s, :, s] = 1.0
    r = draw(
        hnp.arrays(
            np.float64,
            (S, A),
            elements=st.floats(reward_min, reward_max, allow_nan=False, allow_infinity=False, allow_subnormal=False),
        )
    )
    common = sorted({g for g in (0.0, 0.5, 0.9, 0.99, gamma_max) if g <= gamma_max})
    gamma = draw(st.one_of(st.sampled_from(common), st.floats(0.0, gamma_max, allow_subnormal=False)))
    rho = _distribution_rows(draw, (S,), sparse)
    return TabularMDP(P, r, gamma, rho)


def mdps(
    min_states: int = 1,
    max_states: int = 6,
    min_actions: int = 1,
    max_actions: int = 5,
    sparse: bool = True,
    gamma_max: float = 0.999,
    reward_min: float = 0.0,
    reward_max: float = 1.0,
) -> st.SearchStrategy[TabularMDP]:
    """Valid random :class:`r1theory.TabularMDP` instances.

    Parameters
    ----------
    min_states, max_states
        Range of the number of states S (inclusive, S ≥ 1).
    min_actions, max_actions
        Range of the number of actions A (inclusive, A ≥ 1).
    sparse
        If True, transition rows and ρ have many exact zeros, absorbing states occur and some states
        may be unreachable from ρ. If False, every probability is positive.
    gamma_max
        Largest discount factor drawn, in [0, 1).
    reward_min, reward_max
        Range of the rewards r(s, a).
    """
    _check_range("states", min_states, max_states, 1)
    _check_range("actions", min_actions, max_actions, 1)
    if isinstance(gamma_max, bool) or not 0.0 <= gamma_max < 1.0:
        raise ValueError(f"gamma_max must lie in [0, 1); got {gamma_max!r}")
    if not (math.isfinite(reward_min) and math.isfinite(reward_max) and reward_min <= reward_max):
        raise ValueError(f"need finite reward_min <= reward_max; got {reward_min!r}, {reward_max!r}")
    return _mdps(min_states, max_states, min_actions, max_actions, sparse, gamma_max, reward_min, reward_max)


@st.composite
def _thetas(draw: st.DrawFn, S: int, A: int, max_abs: float) -> NDArray[np.float64]:
    common = sorted({x for x in (0.0, 1.0, 10.0, max_abs) if x <= max_abs})
    scale = draw(st.one_of(st.sampled_from(common), st.floats(0.0, max_abs, allow_subnormal=False)))
    unit = draw(hnp.arrays(np.float64, (S, A), elements=st.floats(-1.0, 1.0, allow_subnormal=False)))
    out: NDArray[np.float64] = np.clip(unit * scale, -max_abs, max_abs)
    return out


def thetas(mdp: TabularMDP, max_abs: float = 1e3) -> st.SearchStrategy[NDArray[np.float64]]:
    """Softmax logits θ of shape (mdp.S, mdp.A) with ``|θ(s, a)| ≤ max_abs``.

    A scale is drawn first (0, 1, 10, ``max_abs`` or any value up to ``max_abs``) and multiplies
    entries in [-1, 1], so moderate, near-uniform, tied and near-deterministic policies all occur.
    """
    if isinstance(max_abs, bool) or not (math.isfinite(max_abs) and max_abs >= 0):
        raise ValueError(f"max_abs must be a finite number >= 0; got {max_abs!r}")
    return _thetas(mdp.S, mdp.A, float(max_abs))


def _log_uniform(min_value: float, max_value: float, name: str, common: tuple[float, ...]) -> st.SearchStrategy[float]:
    if not (math.isfinite(min_value) and math.isfinite(max_value) and 0 < min_value <= max_value):
        raise ValueError(f"{name} needs finite 0 < min_value <= max_value; got {min_value!r}, {max_value!r}")
    lo, hi = math.log10(min_value), math.log10(max_value)
    usual = sorted({c for c in common if min_value <= c <= max_value} | {min_value, max_value})
    spread = st.floats(lo, hi).map(lambda e: min(max(10.0**e, min_value), max_value))
    return st.one_of(st.sampled_from(usual), spread)


def dampings(min_value: float = 1e-6, max_value: float = 1e3) -> st.SearchStrategy[float]:
    """Dampings λ > 0, log-uniform on [min_value, max_value], with 1e-3, 1e-2, 0.1, 1 and 10 drawn often."""
    return _log_uniform(min_value, max_value, "dampings", (1e-3, 1e-2, 0.1, 1.0, 10.0))


def steps(min_value: float = 1e-4, max_value: float = 1e4) -> st.SearchStrategy[float]:
    """Step sizes η > 0, log-uniform on [min_value, max_value], with 1e-2, 0.1, 1, 10 and 100 drawn often."""
    return _log_uniform(min_value, max_value, "steps", (1e-2, 0.1, 1.0, 10.0, 100.0))
