"""Exact policy evaluation: V, Q, A, the discounted visitation d, and J.

With P_π[s, s'] = Σ_a π(a|s) P[s, a, s'] and r_π(s) = Σ_a π(a|s) r(s, a):

* V^π = (I − γ P_π)^{-1} r_π                       (Bellman equation)
* Q^π(s, a) = r(s, a) + γ Σ_{s'} P[s, a, s'] V^π(s')
* A^π(s, a) = Q^π(s, a) − Σ_b π(b|s) Q^π(s, b)
* d(s) = (1 − γ) [ρᵀ (I − γ P_π)^{-1}](s)           (normalised discounted visitation; sums to 1)
* J(π) = ρ · V^π

One LU factorisation of I − γP_π serves both solves (V by a forward solve, d by the
transposed solve). Agarwal et al. 2021, §2; Mei et al. 2020, §2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.csgraph
from numpy.typing import NDArray

from ._types import Array, IntArray
from ._validate import as_real_array, check_distribution, check_shape
from .mdp import TabularMDP
from .score import score_dot


@dataclass(frozen=True)
class Evaluation:
    """Exact evaluation of a policy π on an MDP.

    Attributes
    ----------
    V : (S,) state values V^π.
    Q : (S, A) action values Q^π.
    A : (S, A) advantages A^π = Q^π − V^π, computed so that Σ_a π(a|s) A(s, a) = 0 to rounding,
        with the dominant action's advantage formed as Σ_b π(b|s)(Q(s, a) − Q(s, b)) to avoid
        cancellation when π is near-deterministic.
    d : (S,) normalised discounted visitation from ρ; nonnegative, sums to 1.
    J : float, ρ · V^π.
    pi : (S, A) the policy evaluated.
    """

    V: Array
    Q: Array
    A: Array
    d: Array
    J: float
    pi: Array


def check_policy(mdp: TabularMDP, pi: Any, field: str = "pi") -> Array:
    """Validate a stochastic policy of shape (S, A) whose rows are distributions."""
    arr = as_real_array(pi, field)
    check_shape(arr, (mdp.S, mdp.A), field, "(S, A) = π(a|s)")
    check_distribution(arr, f"{field} (each row π(·|s))")
    return arr


def advantage(Q: Array, pi: Array) -> Array:
    """A(s, a) = Q(s, a) − Σ_b π(b|s) Q(s, b), stable for near-deterministic π.

    For the most likely action m of each state, Q(s, m) − V(s) is a difference of two nearly
    equal numbers; it is formed instead as Σ_b π(b|s)(Q(s, m) − Q(s, b)), in which every term
    is small and exact up to rounding.
    """
    return score_dot(Q, pi)


def reachable(P_pi: Array, rho: Array) -> NDArray[np.bool_]:
    """States reachable from the support of ρ along positive entries of P_π (breadth-first search).

    d(s) > 0 exactly for these states; elsewhere the linear solve returns rounding noise instead of 0.
    """
    S = len(rho)
    graph = scipy.sparse.csr_matrix(np.vstack([P_pi > 0, rho > 0]))  # extra node S points at supp(ρ)
    graph = scipy.sparse.hstack([graph, scipy.sparse.csr_matrix((S + 1, 1), dtype=bool)]).tocsr()
    order = scipy.sparse.csgraph.breadth_first_order(graph, S, directed=True, return_predecessors=False)
    out = np.zeros(S, dtype=bool)
    out[order[order < S]] = True
    return out


def _evaluate(mdp: TabularMDP, pi: Array) -> Evaluation:
    """Evaluate a validated policy (no input checks)."""
    S = mdp.S
    P_pi = mdp.transition_matrix(pi)
    r_pi = np.einsum("sa,sa->s", pi, mdp.r)
    M = np.eye(S) - mdp.gamma * P_pi
    lu = scipy.linalg.lu_factor(M, check_finite=False)
    V = scipy.linalg.lu_solve(lu, r_pi, check_finite=False)
    # d^T (I − γP_π) = (1 − γ) ρ^T  ⇔  (I − γP_π)^T d = (1 − γ) ρ
    d = (1.0 - mdp.gamma) * scipy.linalg.lu_solve(lu, mdp.rho, trans=1, check_finite=False)
    d = np.maximum(d, 0.0)  # remove rounding-level negatives
    if d.min() < 1e-8:
        d[~reachable(P_pi, mdp.rho)] = 0.0  # exactly 0 where no path from ρ exists (not rounding noise)
    Q = mdp.r + mdp.gamma * mdp.expected_next(V)
    return Evaluation(V=V, Q=Q, A=advantage(Q, pi), d=d, J=float(mdp.rho @ V), pi=pi)


def evaluate(mdp: TabularMDP, pi: Any) -> Evaluation:
    """Exact V, Q, A, d and J of a stochastic policy ``pi`` (shape (S, A)).

    Raises
    ------
    TypeError, ValueError
        When ``pi`` is not a real (S, A) array whose rows are distributions.
    """
    return _evaluate(mdp, check_policy(mdp, pi))


@dataclass(frozen=True)
class Optimal:
    """An optimal policy and its values.

    Attributes
    ----------
    V, Q : optimal values V*, Q* (shapes (S,), (S, A)).
    pi : (S, A) a deterministic (one-hot) greedy optimal policy.
    actions : (S,) the optimal action a*(s) of ``pi``.
    gap : (S,) Δ*(s) = Q*(s, a*(s)) − max_{a ≠ a*(s)} Q*(s, a); 0 means a tie (a*(s) not
        unique), +inf when A = 1. Mei et al. 2020's constant c needs a strict gap.
    J : ρ · V*.
    residual : Bellman optimality residual max_s |max_a Q*(s, a) − V*(s)|.
    iterations : number of policy-iteration sweeps.
    """

    V: Array
    Q: Array
    pi: Array
    actions: IntArray
    gap: Array
    J: float
    residual: float
    iterations: int


def optimal(mdp: TabularMDP, max_iterations: int = 10_000) -> Optimal:
    """Solve the MDP exactly by policy iteration (Howard), confirmed by the Bellman residual.

    Each sweep evaluates the current deterministic policy by an exact linear solve and switches a
    state's action only when another action is better by more than a tie tolerance, so the
    iteration reaches a fixed point in finitely many sweeps. At the fixed point, V is the value
    of a greedy policy with respect to its own Q, i.e. V = max_a Q: the Bellman optimality
    equation, whose residual is reported and must be at rounding level.

    Raises
    ------
    RuntimeError
        If policy iteration does not stabilise within ``max_iterations`` sweeps, or the final
        Bellman residual is not at rounding level (numerically ill-posed MDP).
    """
    S, A = mdp.S, mdp.A
    rows = np.arange(S)
    scale = 1.0 + float(np.max(np.abs(mdp.r))) / (1.0 - mdp.gamma)
    tie = 1e-12 * scale
    actions = np.argmax(mdp.r, axis=1)
    it = 0
    while True:
        it += 1
        if it > max_iterations:
            raise RuntimeError(f"policy iteration did not stabilise within {max_iterations} sweeps")
        pi = np.zeros((S, A))
        pi[rows, actions] = 1.0
        ev = _evaluate(mdp, pi)
        best = np.argmax(ev.Q, axis=1)
        improve = ev.Q[rows, best] > ev.Q[rows, actions] + tie
        if not np.any(improve):
            break
        actions = np.where(improve, best, actions)
    residual = float(np.max(np.abs(ev.Q.max(axis=1) - ev.V)))
    if residual > 1e-8 * scale:
        raise RuntimeError(f"Bellman residual {residual:.3g} of the policy-iteration fixed point is too large")
    Qm = ev.Q.copy()
    Qm[rows, actions] = -np.inf
    gap = np.maximum(ev.Q[rows, actions] - Qm.max(axis=1), 0.0) if A > 1 else np.full(S, np.inf)
    return Optimal(
        V=ev.V,
        Q=ev.Q,
        pi=pi,
        actions=actions.astype(np.int64),
        gap=gap,
        J=ev.J,
        residual=residual,
        iterations=it,
    )
