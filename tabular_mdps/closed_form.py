r"""Small MDPs with closed-form values, for tests of the engine and of the catalog.

* ``absorbing``: one state, every action stays, reward r: V = r/(1 − γ) for every policy.
* ``two_cycle``: states 0 ↔ 1 deterministically under action 0 ("move"), action 1 "stays" with
  reward 0. Under the cycling policy V(0) = (r₀ + γ r₁)/(1 − γ²), V(1) = (r₁ + γ r₀)/(1 − γ²).
"""

from __future__ import annotations

import numpy as np

from r1theory import TabularMDP

from ._checks import check_int, check_real
from .registry import Built, register

__all__ = ["absorbing", "two_cycle", "two_cycle_values"]


def absorbing(reward: float = 0.5, *, gamma: float = 0.9, A: int = 1) -> TabularMDP:
    r"""One absorbing state with ``A`` identical actions of reward r: V^π = r/(1 − γ) for every π."""
    rew = check_real(reward, "reward", 0.0, 1.0, closed_high=True)
    g = check_real(gamma, "gamma", 0.0, 1.0)
    A = check_int(A, "A", 1)
    return TabularMDP(np.ones((1, A, 1)), np.full((1, A), rew), g, np.ones(1))


@register(
    "absorbing",
    summary="one absorbing state, reward r: V = r/(1 − γ)",
    source="closed form (Bellman equation V = r + γV)",
    used_by="engine tests: evaluation, J, d = ρ",
    provenance="exact",
)
def _absorbing(*, reward: float = 0.5, gamma: float = 0.9, A: int = 1) -> Built:
    """Single absorbing state; see :func:`tabular_mdps.closed_form.absorbing`."""
    return Built(absorbing(reward, gamma=gamma, A=A))


def two_cycle(r0: float = 1.0, r1: float = 0.5, *, gamma: float = 0.9) -> TabularMDP:
    r"""Two-state deterministic cycle: action 0 moves s → 1 − s with reward r_s; action 1 stays, reward 0.

    ρ = (1/2, 1/2). With r₀, r₁ > 0 cycling is the unique optimal policy (staying forfeits a reward
    now for the same future), and V*(s) = (r_s + γ r_{1−s})/(1 − γ²) (:func:`two_cycle_values`).
    """
    a = check_real(r0, "r0", 0.0, 1.0, closed_high=True)
    b = check_real(r1, "r1", 0.0, 1.0, closed_high=True)
    g = check_real(gamma, "gamma", 0.0, 1.0)
    P = np.zeros((2, 2, 2))
    P[0, 0, 1] = P[1, 0, 0] = 1.0
    P[0, 1, 0] = P[1, 1, 1] = 1.0
    r = np.array([[a, 0.0], [b, 0.0]])
    return TabularMDP(P, r, g, np.array([0.5, 0.5]))


def two_cycle_values(r0: float, r1: float, gamma: float) -> tuple[float, float]:
    """Closed-form values of the cycling policy: ((r₀ + γ r₁)/(1 − γ²), (r₁ + γ r₀)/(1 − γ²))."""
    d = 1.0 - gamma * gamma
    return (r0 + gamma * r1) / d, (r1 + gamma * r0) / d


@register(
    "two_cycle",
    summary="two-state deterministic cycle (move / stay): V(0) = (r0 + γ r1)/(1 − γ²)",
    source="closed form (2x2 Bellman system)",
    used_by="engine tests: evaluation and optimal on a periodic chain",
    provenance="exact",
)
def _two_cycle(*, r0: float = 1.0, r1: float = 0.5, gamma: float = 0.9) -> Built:
    """Two-state cycle; see :func:`tabular_mdps.closed_form.two_cycle`."""
    return Built(two_cycle(r0, r1, gamma=gamma))
