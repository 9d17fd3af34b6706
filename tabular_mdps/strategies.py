"""Hypothesis strategies for random valid tabular MDPs, softmax logits, dampings and step sizes.

Use them to state the engine's identities as properties that hold on *every* valid input::

    from hypothesis import given, settings, strategies as st
    from tabular_mdps.strategies import dampings, mdps, thetas

    @settings(deadline=None)
    @given(mdp=mdps(max_states=4), data=st.data())
    def test_gradient_rows_sum_to_zero(mdp, data):
        theta = data.draw(thetas(mdp))
        ...

Every generated MDP satisfies the conventions of ``docs/conventions.md``:

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

The conditions of the classic theorems are available as options, so a property can be stated exactly
under its theorem's hypotheses:

* ``mdps(min_gap=m)`` — a *unique* optimal action per state with Q*-gap Δ*(s) ≥ m (Mei et al. 2020,
  Lemma 9 and Theorem 10 need Δ* > 0), built by :func:`tabular_mdps.enforce_min_gap`, which keeps P, γ, ρ
  and the optimal policy and keeps r in [0, 1];
* ``mdps(full_support_rho=True)`` — min_s ρ(s) > 0 (Mei et al. 2020, Assumption 2), also with sparse rows;
* ``mdps(gamma_min=0.9)`` — γ near 1 (with ``gamma_max`` = 0.999 drawn often); :func:`gammas` alone;
* :func:`bandits` — one state, γ = 0 (Mei et al. 2020, §3), optionally with a minimum arm gap;
* :func:`near_deterministic_thetas` — one dominant action per state, ahead of every other by a logit
  margin m, so π(dominant|s) ≥ e^m/(e^m + A − 1) (where rank-1 variants and PG plateaus misbehave).

For other policy parametrisations (:mod:`r1theory.policies`): :func:`features` draws log-linear features
φ of shape (S, A, k) (multiples of 1/4, so shrunk features are simple exact numbers) and
:func:`parameter_vectors` draws a parameter vector θ of a given length.

Shrinking. Every strategy shrinks towards small and simple instances: S and A towards their minimum,
rewards and logits towards 0, transition rows towards one successor (state 0), γ towards its smallest
allowed value, margins towards ``min_margin``, dampings and steps towards ``min_value``. With the
default options the draws are the same as before these options existed, so derandomised tests keep
their examples.

Profiles. :func:`register_profiles` registers the two hypothesis profiles of the project: ``"ci"``
(derandomised, 50 examples, no deadline: fast and reproducible) and ``"long"`` (2000 random examples;
for users and for ``r1theory falsify``, which derives its settings from it with
``max_examples=budget``, ``database=None`` and a seed). :func:`profile_settings` returns them without
registering. Select one with ``settings.load_profile("long")`` or ``HYPOTHESIS_PROFILE=long`` (the
test suite's ``conftest.py``).

Requires hypothesis, a run-time dependency of r1theory (``r1theory falsify`` uses it): ``pip install -e .``
or ``pip install 'r1theory[test]'``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

try:
    from hypothesis import HealthCheck, settings
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # pragma: no cover - exercised only without the test extra
    raise ImportError(
        "tabular_mdps.strategies needs the 'hypothesis' package, which is not installed. It is a dependency "
        "of r1theory; reinstall with: pip install -e . (or pip install 'r1theory[test]')"
    ) from exc

from r1theory import TabularMDP

from .gaps import check_min_gap, enforce_min_gap

__all__ = [
    "PROFILES",
    "SIMPLE_REWARDS",
    "bandits",
    "dampings",
    "features",
    "gammas",
    "mdps",
    "near_deterministic_thetas",
    "parameter_vectors",
    "profile_settings",
    "register_profiles",
    "steps",
    "thetas",
]

#: The project's hypothesis profiles: name → settings keyword arguments (see :func:`profile_settings`).
PROFILES: dict[str, dict[str, Any]] = {
    "ci": {"derandomize": True, "max_examples": 50, "deadline": None, "print_blob": True},
    "long": {"derandomize": False, "max_examples": 2000, "deadline": None, "print_blob": True},
}


def profile_settings(name: str) -> settings:
    """The settings of profile ``name`` ("ci" or "long"), with the too_slow health check suppressed.

    ``"ci"``: derandomised, 50 examples, no deadline — a quick and reproducible run for continuous
    integration. ``"long"``: 2000 random examples, no deadline — for users hunting counterexamples and
    the base of ``r1theory falsify``.

    Raises
    ------
    ValueError
        For an unknown profile name.
    """
    if name not in PROFILES:
        raise ValueError(f"unknown hypothesis profile {name!r}; choose one of {', '.join(PROFILES)}")
    # parent: hypothesis's built-in defaults, not whichever profile is loaded now
    return settings(
        settings.get_profile("default"),
        suppress_health_check=[HealthCheck.too_slow],
        **PROFILES[name],
    )


def register_profiles() -> None:
    """Register the profiles of :data:`PROFILES` with hypothesis under their names ("ci", "long").

    The test suite registers the same two profiles in ``tests/conftest.py``; load one with
    ``settings.load_profile(name)``.
    """
    for name in PROFILES:
        settings.register_profile(name, profile_settings(name))


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


#: Simple reward levels for ``reward_values``: ties and near-ties (0 vs 0.01, 0.02, 0.05) on purpose.
SIMPLE_REWARDS: tuple[float, ...] = (0.0, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


def _reward_array(
    shape: tuple[int, ...], reward_min: float, reward_max: float, reward_values: tuple[float, ...] | None
) -> st.SearchStrategy[NDArray[np.float64]]:
    if reward_values is not None:
        # every entry drawn on its own (no fill value), from the sorted levels: shrinks to the smallest
        return hnp.arrays(np.float64, shape, elements=st.sampled_from(reward_values), fill=st.nothing())
    elements = st.floats(reward_min, reward_max, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    return hnp.arrays(np.float64, shape, elements=elements)


def _check_reward_values(values: Any) -> tuple[float, ...] | None:
    if values is None:
        return None
    try:
        out = tuple(sorted({float(v) for v in values}))
    except (TypeError, ValueError):
        raise ValueError(f"reward_values must be a non-empty sequence of finite numbers; got {values!r}") from None
    if not out or not all(math.isfinite(v) for v in out):
        raise ValueError(f"reward_values must be a non-empty sequence of finite numbers; got {values!r}")
    return out


def _gamma_draw(gamma_min: float, gamma_max: float) -> st.SearchStrategy[float]:
    """γ in [gamma_min, gamma_max]: 0, 0.5, 0.9, 0.99 and the two ends drawn often, else uniform.

    Shrinks towards ``gamma_min`` (the first of the sorted common values).
    """
    common = sorted({g for g in (0.0, 0.5, 0.9, 0.99, gamma_min, gamma_max) if gamma_min <= g <= gamma_max})
    return st.one_of(st.sampled_from(common), st.floats(gamma_min, gamma_max, allow_subnormal=False))


def _check_gamma_range(gamma_min: float, gamma_max: float) -> None:
    for name, value in (("gamma_min", gamma_min), ("gamma_max", gamma_max)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must lie in [0, 1); got {value!r}")
    if gamma_min > gamma_max:
        raise ValueError(f"gamma_min must be <= gamma_max; got gamma_min={gamma_min!r} > gamma_max={gamma_max!r}")


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
    gamma_min: float = 0.0,
    min_gap: float | None = None,
    full_support_rho: bool = False,
    reward_values: tuple[float, ...] | None = None,
) -> TabularMDP:
    S = draw(st.integers(min_states, max_states))
    A = draw(st.integers(min_actions, max_actions))
    P = _distribution_rows(draw, (S, A, S), sparse)
    if sparse:
        absorbing = draw(hnp.arrays(np.bool_, (S,), elements=st.booleans()))
        for s in np.flatnonzero(absorbing):
            P[s] = 0.0
            P[s, :, s] = 1.0
    r = draw(_reward_array((S, A), reward_min, reward_max, reward_values))
    gamma = draw(_gamma_draw(gamma_min, gamma_max))
    rho = _distribution_rows(draw, (S,), sparse and not full_support_rho)
    mdp = TabularMDP(P, r, gamma, rho)
    return mdp if min_gap is None else enforce_min_gap(mdp, min_gap)


def mdps(
    min_states: int = 1,
    max_states: int = 6,
    min_actions: int = 1,
    max_actions: int = 5,
    sparse: bool = True,
    gamma_max: float = 0.999,
    reward_min: float = 0.0,
    reward_max: float = 1.0,
    *,
    gamma_min: float = 0.0,
    min_gap: float | None = None,
    full_support_rho: bool = False,
    reward_values: Sequence[float] | None = None,
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
    gamma_min, gamma_max
        Range of the discount factor, 0 ≤ gamma_min ≤ gamma_max < 1. The ends and 0, 0.5, 0.9, 0.99
        (when in range) are drawn often; ``gamma_min=0.9`` gives γ near 1 only.
    reward_min, reward_max
        Range of the rewards r(s, a) (before ``min_gap`` is enforced).
    min_gap
        None, or m ∈ (0, 1): every state has a *unique* optimal action with Q*-gap
        Δ*(s) = Q*(s, a*(s)) − max_{a≠a*(s)} Q*(s, a) ≥ m, by r' = (1 − c) r + c·1[a = a*(s)]
        (:func:`tabular_mdps.enforce_min_gap`; P, γ, ρ and the optimal policy are kept). Needs
        0 ≤ reward_min ≤ reward_max ≤ 1; r' stays in [0, 1].
    full_support_rho
        If True, ρ(s) > 0 for every s (Mei et al. 2020, Assumption 2) even when ``sparse``.
    reward_values
        If given, every r(s, a) is one of these values (``reward_min``/``reward_max`` are then not
        used), e.g. :data:`SIMPLE_REWARDS`: exact ties and near-ties between actions, simple numbers in
        a shrunk counterexample. Shrinks towards the smallest value.

    Raises
    ------
    ValueError
        For an empty or invalid range, a discount outside [0, 1), or ``min_gap`` with rewards
        outside [0, 1].
    """
    _check_range("states", min_states, max_states, 1)
    _check_range("actions", min_actions, max_actions, 1)
    _check_gamma_range(gamma_min, gamma_max)
    if not (math.isfinite(reward_min) and math.isfinite(reward_max) and reward_min <= reward_max):
        raise ValueError(f"need finite reward_min <= reward_max; got {reward_min!r}, {reward_max!r}")
    gap = check_min_gap(min_gap)
    values = _check_reward_values(reward_values)
    lo, hi = (values[0], values[-1]) if values is not None else (reward_min, reward_max)
    if gap is not None and not (0.0 <= lo and hi <= 1.0):
        raise ValueError(
            f"min_gap needs rewards in [0, 1] (enforce_min_gap mixes r with an indicator); "
            f"got rewards in [{lo!r}, {hi!r}]"
        )
    return _mdps(
        min_states,
        max_states,
        min_actions,
        max_actions,
        sparse,
        gamma_max,
        reward_min,
        reward_max,
        gamma_min,
        gap,
        bool(full_support_rho),
        values,
    )


def gammas(min_value: float = 0.0, max_value: float = 0.999) -> st.SearchStrategy[float]:
    """Discount factors γ ∈ [min_value, max_value] ⊂ [0, 1), the ends and 0, 0.5, 0.9, 0.99 drawn often.

    The same draw as :func:`mdps` uses; shrinks towards ``min_value``.
    """
    _check_gamma_range(min_value, max_value)
    return _gamma_draw(float(min_value), float(max_value))


@st.composite
def _bandits(
    draw: st.DrawFn, min_actions: int, max_actions: int, min_gap: float | None, values: tuple[float, ...] | None
) -> TabularMDP:
    A = draw(st.integers(min_actions, max_actions))
    r = draw(_reward_array((1, A), 0.0, 1.0, values))
    mdp = TabularMDP(np.ones((1, A, 1)), r, 0.0, [1.0])
    return mdp if min_gap is None else enforce_min_gap(mdp, min_gap)


def bandits(
    min_actions: int = 2,
    max_actions: int = 5,
    min_gap: float | None = None,
    *,
    reward_values: Sequence[float] | None = None,
) -> st.SearchStrategy[TabularMDP]:
    """K-armed bandits as MDPs: S = 1, P = 1, γ = 0, ρ = [1], rewards r(0, a) ∈ [0, 1].

    With γ = 0 and d = 1, J(θ) = πᵀr, A(a) = r(a) − πᵀr and ∇J = π ∘ A: the setting of Mei et al. 2020,
    §3 (Update 1). ``min_gap`` ∈ (0, 1) makes the best arm unique with r(a*) − max_{a≠a*} r(a) ≥ min_gap.
    ``reward_values`` restricts the rewards to given levels in [0, 1] (as in :func:`mdps`).
    Shrinks towards ``min_actions`` arms and rewards 0 (then the gap construction's indicator).
    """
    _check_range("actions", min_actions, max_actions, 1)
    values = _check_reward_values(reward_values)
    if values is not None and not (0.0 <= values[0] and values[-1] <= 1.0):
        raise ValueError(f"bandit reward_values must lie in [0, 1]; got {values!r}")
    return _bandits(min_actions, max_actions, check_min_gap(min_gap), values)


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


@st.composite
def _near_deterministic(
    draw: st.DrawFn, S: int, A: int, min_margin: float, max_margin: float, max_spread: float
) -> NDArray[np.float64]:
    # no fill values: every entry is drawn on its own, so the policies are varied
    dominant = draw(hnp.arrays(np.int64, (S,), elements=st.integers(0, A - 1), fill=st.nothing()))
    margin = draw(
        hnp.arrays(
            np.float64, (S,), elements=st.floats(min_margin, max_margin, allow_subnormal=False), fill=st.nothing()
        )
    )
    below = draw(
        hnp.arrays(np.float64, (S, A), elements=st.floats(0.0, max_spread, allow_subnormal=False), fill=st.nothing())
    )
    theta: NDArray[np.float64] = -below
    theta[np.arange(S), dominant] = margin
    return theta


def near_deterministic_thetas(
    mdp: TabularMDP, min_margin: float = 2.0, max_margin: float = 40.0, max_spread: float = 10.0
) -> st.SearchStrategy[NDArray[np.float64]]:
    """Logits with one dominant action per state: near-deterministic softmax policies.

    Each state s gets a dominant action a_s with θ(s, a_s) = m_s ∈ [min_margin, max_margin] and the
    other logits θ(s, b) = −x_{s,b} ∈ [−max_spread, 0], so θ(s, a_s) − θ(s, b) ≥ m_s and

        π(a_s|s) ≥ e^{m_s} / (e^{m_s} + A − 1).

    This is where the same-sample rank-1 step (V2) can stop being an ascent direction
    (docs/claims.md#v2-r1-same) and where PG plateaus. Shrinks towards a_s = 0, m_s = ``min_margin`` and
    equal non-dominant logits.
    """
    for name, value in (("min_margin", min_margin), ("max_margin", max_margin), ("max_spread", max_spread)):
        if isinstance(value, bool) or not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    if min_margin > max_margin:
        raise ValueError(f"need min_margin <= max_margin; got {min_margin!r} > {max_margin!r}")
    return _near_deterministic(mdp.S, mdp.A, float(min_margin), float(max_margin), float(max_spread))


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


#: Log-linear feature entries are integer multiples of this quantum (exact in binary floating point).
FEATURE_QUANTUM = 0.25


@st.composite
def _features(draw: st.DrawFn, S: int, A: int, min_k: int, max_k: int, max_abs: float) -> NDArray[np.float64]:
    k = draw(st.integers(min_k, max_k))
    top = math.floor(max_abs / FEATURE_QUANTUM)
    ints = draw(hnp.arrays(np.int64, (S, A, k), elements=st.integers(-top, top), fill=st.nothing()))
    out: NDArray[np.float64] = ints.astype(np.float64) * FEATURE_QUANTUM
    return out


def features(
    mdp: TabularMDP, max_k: int | None = None, *, min_k: int = 1, max_abs: float = 3.0
) -> st.SearchStrategy[NDArray[np.float64]]:
    """Log-linear features φ of shape (mdp.S, mdp.A, k), k ∈ [min_k, max_k], for π(a|s) ∝ exp φ(s, a)ᵀθ.

    Every entry is drawn on its own (no fill value) as an integer multiple of :data:`FEATURE_QUANTUM`
    (1/4) with |φ(s, a, i)| ≤ ``max_abs``, so features are exact binary fractions and shrink towards 0 and
    simple numbers; k shrinks towards ``min_k``. ``max_k`` defaults to S·A + 2 (a few more features than
    the tabular class needs: k = S·A one-hot features reproduce tabular softmax).

    Raises
    ------
    ValueError
        For min_k < 1, max_k < min_k, or ``max_abs`` not a finite number ≥ 1/4.
    """
    hi = mdp.S * mdp.A + 2 if max_k is None else max_k
    _check_range("k", min_k, hi, 1)
    if isinstance(max_abs, bool) or not (math.isfinite(max_abs) and max_abs >= FEATURE_QUANTUM):
        raise ValueError(f"max_abs must be a finite number >= {FEATURE_QUANTUM}; got {max_abs!r}")
    return _features(mdp.S, mdp.A, min_k, hi, float(max_abs))


@st.composite
def _vectors(draw: st.DrawFn, n: int, max_abs: float) -> NDArray[np.float64]:
    common = sorted({x for x in (0.0, 1.0, 10.0, max_abs) if x <= max_abs})
    scale = draw(st.one_of(st.sampled_from(common), st.floats(0.0, max_abs, allow_subnormal=False)))
    unit = draw(hnp.arrays(np.float64, (n,), elements=st.floats(-1.0, 1.0, allow_subnormal=False), fill=st.nothing()))
    out: NDArray[np.float64] = np.clip(unit * scale, -max_abs, max_abs)
    return out


def parameter_vectors(n: int, max_abs: float = 10.0) -> st.SearchStrategy[NDArray[np.float64]]:
    """Parameter vectors θ of shape (n,) with ``|θ_i| ≤ max_abs`` (e.g. of a log-linear or neural policy).

    As in :func:`thetas`, a scale (0, 1, 10, ``max_abs`` or any value up to ``max_abs``) multiplies entries
    in [−1, 1] (each drawn on its own), so near-uniform and near-deterministic policies both occur;
    shrinks towards θ = 0.

    Raises
    ------
    ValueError
        For n < 1 or ``max_abs`` not a finite number ≥ 0.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    if isinstance(max_abs, bool) or not (math.isfinite(max_abs) and max_abs >= 0):
        raise ValueError(f"max_abs must be a finite number >= 0; got {max_abs!r}")
    return _vectors(n, float(max_abs))
