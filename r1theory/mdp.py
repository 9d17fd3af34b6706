"""The tabular MDP: validated, immutable arrays with the project's conventions.

Conventions (design.md):

* ``P[s, a, s']`` has shape (S, A, S); each row ``P[s, a, :]`` is a distribution.
* ``r[s, a]`` has shape (S, A).
* ``gamma`` lies in [0, 1).
* ``rho`` has shape (S,) and is the start-state distribution; J(π) = ρ·V^π.

Every engine routine touches transitions only through :meth:`TabularMDP.transition_matrix`
and :meth:`TabularMDP.expected_next`, so another storage of ``P`` (sparse, batched) needs only
these two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._types import Array
from ._validate import as_real_array, as_scalar, check_distribution, check_finite, check_shape


def _frozen(arr: Array) -> Array:
    arr = np.array(arr, dtype=np.float64, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False, init=False)
class TabularMDP:
    """A finite discounted MDP ``(P, r, gamma, rho)``.

    Parameters
    ----------
    P
        Transition tensor of shape (S, A, S): ``P[s, a, s'] = Pr(s' | s, a)``. Entries must be
        finite and nonnegative and every row ``P[s, a, :]`` must sum to 1 (within 1e-9).
    r
        Expected reward ``r[s, a]``, shape (S, A), finite. The classic bounds assume r ∈ [0, 1];
        the engine itself does not.
    gamma
        Discount factor in [0, 1).
    rho
        Start-state distribution, shape (S,).

    The arrays are copied to float64 and made read-only, so an MDP cannot change after
    validation. Equality is identity; compare arrays explicitly if needed.

    Raises
    ------
    TypeError
        When an argument is not a real number or real numeric array.
    ValueError
        When a shape, a probability or ``gamma`` is invalid; the message names the field.
    """

    P: Array
    r: Array
    gamma: float
    rho: Array
    S: int = field(repr=True)
    A: int = field(repr=True)

    def __init__(self, P: Any, r: Any, gamma: Any, rho: Any) -> None:
        P_arr = as_real_array(P, "P")
        if P_arr.ndim != 3:
            raise ValueError(f"P must be a 3-d array of shape (S, A, S) (P[s, a, s']); got {P_arr.ndim}-d")
        S, A, S2 = P_arr.shape
        if S == 0 or A == 0:
            raise ValueError(f"P must have at least one state and one action; got shape {P_arr.shape}")
        if S2 != S:
            raise ValueError(f"P must have shape (S, A, S) with P[s, a, s']; got {P_arr.shape} (S={S}, last={S2})")
        check_distribution(P_arr, "P (each row P[s, a, :])")
        r_arr = as_real_array(r, "r")
        check_shape(r_arr, (S, A), "r", "(S, A) = r[s, a]")
        check_finite(r_arr, "r")
        g = as_scalar(gamma, "gamma")
        if not 0.0 <= g < 1.0:
            raise ValueError(f"gamma must lie in [0, 1); got {g}")
        rho_arr = as_real_array(rho, "rho")
        check_shape(rho_arr, (S,), "rho", "(S,) = start distribution")
        check_distribution(rho_arr, "rho")
        object.__setattr__(self, "P", _frozen(P_arr))
        object.__setattr__(self, "r", _frozen(r_arr))
        object.__setattr__(self, "gamma", g)
        object.__setattr__(self, "rho", _frozen(rho_arr))
        object.__setattr__(self, "S", int(S))
        object.__setattr__(self, "A", int(A))

    def __repr__(self) -> str:
        return f"TabularMDP(S={self.S}, A={self.A}, gamma={self.gamma})"

    def transition_matrix(self, pi: Array) -> Array:
        """State-to-state matrix under π: ``P_π[s, s'] = Σ_a π(a|s) P[s, a, s']``, shape (S, S)."""
        return np.matmul(pi[:, None, :], self.P)[:, 0, :]

    def expected_next(self, V: Array) -> Array:
        """One-step expectation ``(P V)[s, a] = Σ_{s'} P[s, a, s'] V(s')``, shape (S, A)."""
        return self.P @ V
