"""Exact policy evaluation: V, Q, A, the discounted visitation d, and J.

With P_π[s, s'] = Σ_a π(a|s) P[s, a, s'] and r_π(s) = Σ_a π(a|s) r(s, a):

* V^π = (I − γ P_π)^{-1} r_π                       (Bellman equation)
* Q^π(s, a) = r(s, a) + γ Σ_{s'} P[s, a, s'] V^π(s')
* A^π(s, a) = Q^π(s, a) − Σ_b π(b|s) Q^π(s, b)
* d(s) = (1 − γ) [ρᵀ (I − γ P_π)^{-1}](s)           (normalised discounted visitation; sums to 1)
* J(π) = ρ · V^π

One LU factorisation of I − γP_π serves both solves (V by a forward solve, d by the
transposed solve). Agarwal et al. 2021, §2; Mei et al. 2020, §2.

Which states have d(s) = 0
--------------------------
d(s) > 0 exactly on the states reachable from supp(ρ) along positive entries of P_π (d = (1 − γ)
Σ_t γ^t ρᵀP_π^t), and that decision is never taken from a computed d or from a computed π:

* for a policy of full support — every softmax policy (:func:`r1theory.policy_point`), whatever
  the float value of π — the reachable set is the MDP's structural one, :attr:`TabularMDP.reachable`
  (reachable under some action; computed once per MDP). A π(a|s) that underflowed to 0.0, or a
  d(s) that rounds to ≤ 0, does not make a state unreachable (issue #14: NPG zeroed such states
  and stalled);
* for a policy given as an array with exact zeros (``evaluate`` by default, policy iteration),
  the zeros are taken as real, and the set is that of P_π (:func:`r1theory.mdp.reachable`).

Then d(s) = 0 exactly off the reachable set, and on it d(s) = max(d̂(s), :data:`D_FLOOR`): the
computed value d̂, raised to the smallest positive normal float64 where the true d(s) is below the
float range or the solve's rounding made d̂ ≤ 0. The floor is far below the solve's absolute
accuracy (~1e-16·cond(I − γP_π)), so the error bound and Σ_s d(s) = 1 are unchanged, and it keeps
the invariant d(s) > 0 ⇔ s reachable (:attr:`Evaluation.reachable`) on which the Fisher and the
natural gradient rely. Such a d(s) is a lower-accuracy placeholder, not a value: only its sign
carries information (the exact d(s) may be e^{-10⁴}).

Sparse MDPs (``mdp.is_sparse``)
-------------------------------
A direct sparse LU of I − γP_π is not viable at scale: on random transition graphs (Garnet) its
fill-in grows like that of a random expander, i.e. towards dense. The two systems are therefore
solved by restarted GMRES (``scipy.sparse.linalg.gmres``, restart :data:`KRYLOV_RESTART`) on the
matrix-free operators x ↦ x − γP_πx and x ↦ x − γP_πᵀx, with P_π kept in CSR (O(nnz) memory and
work per iteration; nothing of size S² is ever formed), zero initial guess (policy iteration
warm-starts from the previous sweep), and the stopping rule on the *true* residual

    ‖b − (I − γP_π)x‖₂ ≤ :data:`KRYLOV_RTOL` · ‖b‖₂,   KRYLOV_RTOL = 1e-12,

which scipy checks with an explicit matvec at the end of every restart cycle. Since
‖(I − γP_π)^{-1}‖_∞ ≤ 1/(1 − γ) (and ‖(I − γP_π)^{-ᵀ}‖_1 likewise), the error of V is at most
‖residual‖_∞/(1 − γ) ≤ 1e-12·‖r_π‖₂/(1 − γ), and that of d, in ℓ₁, at most √S·1e-12·‖(1 − γ)ρ‖₂/(1 − γ):
relative errors ~1e-12·cond instead of the dense LU's ~1e-16·cond. GMRES
needs few iterations here: the spectrum of γP_π lies in the disc of radius γ, and on expander-like
graphs all but the Perron eigenvalue are much smaller (≈ 33 iterations per system at γ = 0.9,
S = 100,000, Garnet branching 3). The achieved residuals and iteration counts are returned in
:attr:`Evaluation.krylov` (a :class:`KrylovInfo`); a solve that does not reach the tolerance within
:data:`KRYLOV_MAXITER` restart cycles raises ``RuntimeError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg
from numpy.typing import NDArray

from ._einsum import einsum
from ._types import Array, IntArray
from ._validate import as_real_array, check_distribution, check_shape
from .mdp import TabularMDP, reachable
from .score import score_dot

#: Relative residual tolerance of the Krylov solves of sparse MDPs: ‖b − Mx‖₂ ≤ rtol·‖b‖₂.
KRYLOV_RTOL = 1e-12
#: GMRES restart length (scipy's default; longer restarts cost more orthogonalisation per iteration).
KRYLOV_RESTART = 20
#: Maximum number of GMRES restart cycles (KRYLOV_RESTART iterations each) before giving up.
KRYLOV_MAXITER = 1000
#: d(s) of a reachable state whose computed visitation is below the float range or rounded to ≤ 0:
#: the smallest positive normal float64 (2.2e-308), so that d(s) > 0 ⇔ s reachable and 1/d(s) is finite.
D_FLOOR = float(np.finfo(np.float64).tiny)
#: Smallest computed d below which the reachable set is consulted (rounding noise is ~1e-16·cond).
_D_CHECK = 1e-8


@dataclass(frozen=True)
class KrylovInfo:
    """Diagnostics of the two Krylov solves of a sparse evaluation.

    Attributes
    ----------
    solver : "gmres" (scipy.sparse.linalg.gmres, restarted every ``restart`` iterations).
    rtol : the requested relative residual, :data:`KRYLOV_RTOL`.
    residual_V : achieved ‖r_π − (I − γP_π)V‖₂ / ‖r_π‖₂ (0 when r_π = 0).
    residual_d : achieved ‖(1 − γ)ρ − (I − γP_π)ᵀd‖₂ / ‖(1 − γ)ρ‖₂, for d as the solver returned it
        (before unreachable states are set to 0 and reachable ones floored at :data:`D_FLOOR`).
    iterations_V, iterations_d : GMRES (inner) iterations; each costs one product with P_π or P_πᵀ,
        O(nnz), plus the Arnoldi orthogonalisation, O(restart·S).
    restart : GMRES restart length.
    """

    solver: str
    rtol: float
    residual_V: float
    residual_d: float
    iterations_V: int
    iterations_d: int
    restart: int


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
    d : (S,) normalised discounted visitation from ρ; nonnegative, sums to 1; d(s) > 0 exactly on the
        states reachable from ρ (module docstring: structurally for a softmax π, even where the float
        π underflows; values below the float range are floored at :data:`D_FLOOR`).
    J : float, ρ · V^π.
    pi : (S, A) the policy evaluated.
    krylov : for a sparse MDP, the :class:`KrylovInfo` of the two GMRES solves (achieved
        residuals, iterations); None for a dense MDP (direct LU, residual at rounding level).
    """

    V: Array
    Q: Array
    A: Array
    d: Array
    J: float
    pi: Array
    krylov: KrylovInfo | None = None

    @property
    def reachable(self) -> NDArray[np.bool_]:
        """(S,) bool: the states with d(s) > 0 in exact arithmetic — by construction of ``d``, d > 0.

        Use this, not a threshold on d's value, for "is s visited" decisions (the zero Fisher blocks,
        the states the natural gradient updates).
        """
        return self.d > 0

    @property
    def residual(self) -> float | None:
        """Largest relative residual of the two Krylov solves (sparse MDPs); None for dense MDPs."""
        return None if self.krylov is None else max(self.krylov.residual_V, self.krylov.residual_d)


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


def _gmres(op: scipy.sparse.linalg.LinearOperator, b: Array, x0: Array | None, what: str) -> tuple[Array, int]:
    """Solve op x = b by restarted GMRES to the relative true residual :data:`KRYLOV_RTOL`; return (x, iterations)."""
    count = [0]

    def tick(_: float) -> None:
        count[0] += 1

    x, info = scipy.sparse.linalg.gmres(
        op,
        b,
        x0=x0,
        rtol=KRYLOV_RTOL,
        atol=0.0,
        restart=KRYLOV_RESTART,
        maxiter=KRYLOV_MAXITER,
        callback=tick,
        callback_type="pr_norm",
    )
    if info != 0:
        res = float(np.linalg.norm(b - op.matvec(x)) / max(float(np.linalg.norm(b)), np.finfo(float).tiny))
        raise RuntimeError(
            f"GMRES for {what} did not reach the relative residual {KRYLOV_RTOL:g} within {KRYLOV_MAXITER} "
            f"restart cycles of {KRYLOV_RESTART} (achieved {res:.3g}, {count[0]} iterations); "
            "the system I − γP_π is too ill-conditioned for the Krylov solver (γ very close to 1?)"
        )
    return np.asarray(x, dtype=np.float64), count[0]


def _visitation(mdp: TabularMDP, pi: Array, d: Array, full_support: bool) -> Array:
    """d(s) = max(d̂(s), D_FLOOR) on the reachable states and 0 elsewhere (module docstring).

    ``full_support`` says π(a|s) > 0 for every (s, a) in exact arithmetic (softmax); then, and when
    every float π(a|s) is positive, the reachable set is the cached :attr:`TabularMDP.reachable`;
    otherwise the zeros of π are real and the set is that of P_π. Nothing is done when
    min d̂ ≥ 1e-8 (every state then carries mass far above the rounding level, so all are reachable).
    """
    if float(d.min()) >= _D_CHECK:
        return d
    if full_support or float(pi.min()) > 0.0:
        reach = mdp.reachable
    else:
        reach = reachable(mdp.transition_matrix(pi), mdp.rho)
    return np.where(reach, np.maximum(d, D_FLOOR), 0.0)


def _relative_residual(b: Array, Mx: Array) -> float:
    nb = float(np.linalg.norm(b))
    return float(np.linalg.norm(b - Mx)) / nb if nb > 0 else float(np.linalg.norm(Mx))


def _evaluate_sparse(mdp: TabularMDP, pi: Array, full_support: bool) -> Evaluation:
    """Evaluate a validated policy on a sparse MDP by two GMRES solves (module docstring)."""
    S, g = mdp.S, mdp.gamma
    P_pi = mdp.transition_matrix(pi)
    P_pi_T = P_pi.T  # CSC view of the same arrays: Mᵀx in O(nnz) without a transpose copy
    M = scipy.sparse.linalg.LinearOperator((S, S), matvec=lambda x: x - g * (P_pi @ x), dtype=np.float64)
    MT = scipy.sparse.linalg.LinearOperator((S, S), matvec=lambda x: x - g * (P_pi_T @ x), dtype=np.float64)
    r_pi = np.einsum("sa,sa->s", pi, mdp.r)
    b_d = (1.0 - g) * mdp.rho
    V, it_V = _gmres(M, r_pi, None, "V ((I − γP_π) V = r_π)")
    # d^T (I − γP_π) = (1 − γ) ρ^T  ⇔  (I − γP_π)^T d = (1 − γ) ρ
    d, it_d = _gmres(MT, b_d, None, "d ((I − γP_π)ᵀ d = (1 − γ) ρ)")
    info = KrylovInfo(
        solver="gmres",
        rtol=KRYLOV_RTOL,
        residual_V=_relative_residual(r_pi, M.matvec(V)),
        residual_d=_relative_residual(b_d, MT.matvec(d)),
        iterations_V=it_V,
        iterations_d=it_d,
        restart=KRYLOV_RESTART,
    )
    d = _visitation(mdp, pi, d, full_support)  # 0 exactly where no path from ρ exists, > 0 elsewhere
    Q = mdp.r + g * mdp.expected_next(V)
    return Evaluation(V=V, Q=Q, A=advantage(Q, pi), d=d, J=float(mdp.rho @ V), pi=pi, krylov=info)


def _deterministic_values_sparse(mdp: TabularMDP, actions: NDArray[np.intp], V0: Array | None) -> tuple[Array, Array]:
    """V^π and Q^π of the deterministic policy π(s) = ``actions[s]`` on a sparse MDP (one GMRES solve)."""
    S, A, g = mdp.S, mdp.A, mdp.gamma
    P: Any = mdp.P
    P_pi = P[np.arange(S) * A + actions]  # the chosen rows, CSR (S, S)
    M = scipy.sparse.linalg.LinearOperator((S, S), matvec=lambda x: x - g * (P_pi @ x), dtype=np.float64)
    V, _ = _gmres(M, mdp.r[np.arange(S), actions], V0, "V ((I − γP_π) V = r_π) in policy iteration")
    return V, mdp.r + g * mdp.expected_next(V)


_GETRF, _GETRS = scipy.linalg.get_lapack_funcs(("getrf", "getrs"), (np.empty((1, 1)),))


def _dense_values(mdp: TabularMDP, pi: Array) -> tuple[Array, Array, Array]:
    """(lu, piv, V): the LU factors of I − γP_π (LAPACK getrf) and V = (I − γP_π)⁻¹ r_π, for a dense MDP.

    The first half of :func:`_evaluate`, and all of it that a caller needing V alone pays for (the exact
    critic of :mod:`r1theory.actor_critic`): V is then bit for bit the evaluation's.
    """
    S = mdp.S
    M = mdp.transition_matrix(pi)  # a fresh S × S array: turned into I − γP_π in place (no extra copies)
    M *= -mdp.gamma
    M.flat[:: S + 1] += 1.0
    r_pi = einsum("sa,sa->s", pi, mdp.r)
    # LAPACK's getrf/getrs directly: scipy.linalg.lu_factor/lu_solve compute the same but add ~30 µs of
    # argument handling per call at S = 200 (4% of an iteration). I − γP_π is strictly diagonally
    # dominant (γ < 1), so it is never singular.
    lu, piv, _ = _GETRF(M, overwrite_a=1)
    V, _ = _GETRS(lu, piv, r_pi)
    return lu, piv, V


def _evaluate(mdp: TabularMDP, pi: Array, full_support: bool = True) -> Evaluation:
    """Evaluate a validated policy (no input checks); sparse MDPs go to :func:`_evaluate_sparse`.

    ``full_support=True`` (the default, for the softmax policies of :func:`r1theory.policy_point`):
    π(a|s) > 0 in exact arithmetic, so d(s) = 0 only off :attr:`TabularMDP.reachable`, whatever
    the float π; False: π's zeros are real (module docstring).
    """
    if mdp.is_sparse:
        return _evaluate_sparse(mdp, pi, full_support)
    lu, piv, V = _dense_values(mdp, pi)
    # d^T (I − γP_π) = (1 − γ) ρ^T  ⇔  (I − γP_π)^T d = (1 − γ) ρ
    d = (1.0 - mdp.gamma) * _GETRS(lu, piv, mdp.rho, trans=1)[0]
    d = _visitation(mdp, pi, d, full_support)  # 0 exactly where no path from ρ exists, > 0 elsewhere
    Q = mdp.r + mdp.gamma * mdp.expected_next(V)
    return Evaluation(V=V, Q=Q, A=advantage(Q, pi), d=d, J=float(mdp.rho @ V), pi=pi)


def evaluate(mdp: TabularMDP, pi: Any, *, full_support: bool = False) -> Evaluation:
    """Exact V, Q, A, d and J of a stochastic policy ``pi`` (shape (S, A)).

    ``pi`` is taken at face value: an entry 0.0 is a real zero, and d(s) = 0 exactly on the states
    that P_π cannot reach from ρ. Pass ``full_support=True`` when π(a|s) > 0 in exact arithmetic
    (e.g. ``softmax(θ)``, whose small entries may have underflowed to 0.0): then d(s) = 0 exactly off
    :attr:`TabularMDP.reachable` and d(s) > 0 on it (module docstring). :func:`r1theory.policy_point`
    does this for its softmax policies.

    Dense MDPs: one LU factorisation of I − γP_π (scipy.linalg.lu_factor) and two triangular solves.
    Sparse MDPs: two GMRES solves to the relative residual :data:`KRYLOV_RTOL` = 1e-12, memory
    O(nnz + S·A); the achieved residuals and iteration counts are in the result's ``krylov`` field
    (module docstring).

    Raises
    ------
    TypeError, ValueError
        When ``pi`` is not a real (S, A) array whose rows are distributions.
    """
    return _evaluate(mdp, check_policy(mdp, pi), full_support=bool(full_support))


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

    Ties: the returned ``actions`` (and ``pi``) are canonical, a*(s) = the lowest action index among
    those with Q*(s, a) ≥ max_b Q*(s, b) − tie (the tie tolerance below), a function of Q* rather than
    of the policy-iteration path (which starts from argmax_a r(s, a)). ``gap`` is then 0 on tied states.
    Lowest index is a convention: relabelling tied actions changes which one is reported.

    Sparse MDPs: each sweep solves (I − γP_π)V = r_π by GMRES (module docstring) with P_π the rows
    ``s*A + π(s)`` of P (nnz/A entries; d is not needed), warm-started from the previous sweep's V.
    The values then carry an error, and the tie tolerance is widened to cover it
    so that policy iteration still cannot cycle: for a deterministic π with computed V̂ the linear
    residual is ε(s) = Q̂(s, π(s)) − V̂(s), the true V^π differs by at most ‖ε‖_∞/(1 − γ) and the true
    Q^π by at most γ‖ε‖_∞/(1 − γ), so an action is switched only when it beats the current one by
    more than max(1e-12·scale, 2γ‖ε‖_∞/(1 − γ)) — a guaranteed true improvement. The returned
    policy is then optimal up to that tolerance (V* − V^π ≤ tie/(1 − γ)); ``residual`` (the
    Bellman optimality residual) stays at the Krylov tolerance's level (~1e-12·‖r_π‖₂).

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
    V_prev: Array | None = None  # warm start of the sparse (Krylov) solves
    while True:
        it += 1
        if it > max_iterations:
            raise RuntimeError(f"policy iteration did not stabilise within {max_iterations} sweeps")
        pi = np.zeros((S, A))
        pi[rows, actions] = 1.0
        if mdp.is_sparse:
            V, Q = _deterministic_values_sparse(mdp, actions, V_prev)
            V_prev = V
            eps = float(np.max(np.abs(Q[rows, actions] - V)))  # linear residual of V^π (∞-norm)
            tie = max(1e-12 * scale, 2.0 * mdp.gamma * eps / (1.0 - mdp.gamma))
        else:
            ev = _evaluate(mdp, pi, full_support=False)  # deterministic π: its zeros are real
            V, Q = ev.V, ev.Q
        best = np.argmax(Q, axis=1)
        improve = Q[rows, best] > Q[rows, actions] + tie
        if not np.any(improve):
            break
        actions = np.where(improve, best, actions)
    residual = float(np.max(np.abs(Q.max(axis=1) - V)))
    if residual > 1e-8 * scale:
        raise RuntimeError(f"Bellman residual {residual:.3g} of the policy-iteration fixed point is too large")
    # Ties (issue #14): the fixed point's actions depend on the path (the start argmax_a r(s, a) and the
    # sweeps); report instead the canonical a*(s) = the lowest index among the actions within the tie
    # tolerance of max_a Q*(s, a), a function of Q* alone. Each is optimal up to that tolerance, as above.
    actions = np.argmax(Q >= Q.max(axis=1, keepdims=True) - tie, axis=1)
    pi = np.zeros((S, A))
    pi[rows, actions] = 1.0
    Qm = Q.copy()
    Qm[rows, actions] = -np.inf
    gap = np.maximum(Q[rows, actions] - Qm.max(axis=1), 0.0) if A > 1 else np.full(S, np.inf)
    return Optimal(
        V=V,
        Q=Q,
        pi=pi,
        actions=actions.astype(np.int64),
        gap=gap,
        J=float(mdp.rho @ V),
        residual=residual,
        iterations=it,
    )
