"""Exact evaluation of a batch of small dense MDPs at once: every array has a leading batch axis.

For b = 0..B−1, with P_π^b[s, s'] = Σ_a π^b(a|s) P^b[s, a, s'] and r_π^b(s) = Σ_a π^b(a|s) r^b(s, a),

* V^b = (I − γ_b P_π^b)^{-1} r_π^b,
* Q^b(s, a) = r^b(s, a) + γ_b Σ_{s'} P^b[s, a, s'] V^b(s'),
* A^b(s, a) = Q^b(s, a) − Σ_c π^b(c|s) Q^b(s, c) (formed as in :func:`r1theory.evaluation.advantage`),
* d^b = (1 − γ_b) (I − γ_b P_π^b)^{-ᵀ} ρ^b (normalised discounted visitation; sums to 1),
* J^b = ρ^b · V^b,

exactly the quantities of :func:`r1theory.evaluate` for each MDP. :func:`evaluate_policies` is the
same evaluation for B policies on *one* MDP (P, r, γ, ρ shared, not copied B times), and
:class:`BatchPolicyPoint` the batched :class:`r1theory.PolicyPoint` built on it (θ stacked (B, S, A),
its softmax policies, their evaluation and gradients), which :func:`r1theory.iterate_batch` steps.
:func:`policy_values` is that evaluation's V alone, bit for bit, by one triangular solve (no d, Q, A or J):
what a stochastic run needs between the iterates it records (:func:`r1theory.stochastic_iterate_batch`).

Solver. One LU factorisation of M_b = I − γ_b P_π^b serves both systems (V by L then U, d by Uᵀ
then Lᵀ), as in the single evaluation. The B factorisations run together, vectorised over the
batch in a batch-last layout: Gaussian elimination of the bordered matrices [[M_b, r_π^b], [ρ^bᵀ, 0]]
(shape (S + 1, S + 1, B)) performs the factorisation and both forward substitutions at once, and
two back substitutions finish V and d (:func:`_run_elimination`). Each step is a numpy operation on
contiguous length-B rows, so the cost is O(B·S³) flops in O(S) numpy calls (on buffers and views
made once per batch shape and reused, :class:`_BorderedSolver`). Against one stacked LAPACK solve of
the 2B systems (``numpy.linalg.solve`` of M and Mᵀ stacked, ≈ 1 µs per matrix at S = 10), measured at
S = 10: 3× slower at B = 16, even at B = 64, 1.6× faster at B = 256; the solver cannot switch on B, since
row b would then depend on its batch size, and sweeps batch hundreds of rows. The elimination uses no pivoting,
which is safe here: M_b is strictly diagonally dominant by rows. As in the
single evaluation (:mod:`r1theory.evaluation`, "Which states have d(s) = 0"), d is set exactly to 0 on
the states not reachable from supp(ρ) and to max(d̂, D_FLOOR) > 0 on the reachable ones, only for the
MDPs whose smallest computed d is below 1e-8. Reachable means along positive entries of P_π (π's
zeros taken as real), or, with ``full_support=True`` or a π^b with no zero entry, along positive
entries of Σ_a P^b[s, a, s'] (structural: every softmax policy, whatever its float value) — one
vectorised breadth-first search over those MDPs.

For policies on one MDP with more than :data:`LAPACK_FROM` states, :func:`evaluate_policies` solves
the two systems of each policy by stacked LAPACK calls instead (``numpy.linalg.solve``, partial pivoting):
there the elimination's O(S) vectorised steps, each over an (S + 1)² × B array, cost more than B
compiled solves.

Agreement with a loop of :func:`r1theory.evaluate` calls: both are backward-stable LU solves of the
same systems (the single one with partial pivoting, ``scipy.linalg.lu_factor``) that differ only in
the order of floating-point operations, so they agree to rounding,
|ΔV|, |ΔQ|, |ΔA|, |ΔJ| ≤ 1e-12 · (1 + max|r|/(1 − γ)) and |Δd| ≤ 1e-12 for well-conditioned
systems (cond(I − γP_π) ≤ (1 + γ)/(1 − γ) in the ∞-norm), which the tests check.

Independence of the batch. Element b of :func:`evaluate_policies` and :class:`BatchPolicyPoint` is
the same, bit for bit, whatever the other elements and whatever B: every product runs per element
(stacked ``matmul`` calls of one shape per b, elementwise operations, reductions over contiguous
rows), never as one matrix product across the batch, whose BLAS kernel — and with it the rounding of
row b — changes with B. The sweep runner relies on it (a run's record must not depend on the runs
that shared its batch; tests/test_iterate_batch.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from ._types import Array, IntArray
from ._validate import SUM_TOL, as_real_array, check_distribution, check_finite
from .evaluation import _D_CHECK, D_FLOOR, Evaluation, _visitation
from .mdp import TabularMDP
from .point import PolicyPoint
from .policies import TabularSoftmax
from .score import score_dot

__all__ = [
    "BatchEvaluation",
    "BatchPolicyPoint",
    "batch_policy_point",
    "evaluate_batch",
    "evaluate_policies",
    "policy_values",
]


@dataclass(frozen=True)
class BatchEvaluation:
    """Exact evaluations of B policies on B MDPs (the batched :class:`r1theory.Evaluation`).

    Attributes
    ----------
    V : (B, S) state values.
    Q : (B, S, A) action values.
    A : (B, S, A) advantages; Σ_a π(a|s) A(s, a) = 0 to rounding.
    d : (B, S) normalised discounted visitations; nonnegative, each row sums to 1; d^b(s) > 0 exactly
        on the reachable states (module docstring).
    J : (B,) J^b = ρ^b · V^b.
    pi : (B, S, A) the policies evaluated.
    """

    V: Array
    Q: Array
    A: Array
    d: Array
    J: Array
    pi: Array

    def __len__(self) -> int:
        return int(self.V.shape[0])

    def __getitem__(self, b: int) -> Evaluation:
        """The evaluation of batch element ``b`` as a single :class:`r1theory.Evaluation`."""
        return Evaluation(V=self.V[b], Q=self.Q[b], A=self.A[b], d=self.d[b], J=float(self.J[b]), pi=self.pi[b])


def _as_float(value: Any, field: str) -> Array:
    """Like :func:`r1theory._validate.as_real_array` (same errors), but without a copy of float64 input.

    The batch inputs are only read, and a 4-d P is large: copying it would cost more than the checks.
    """
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value
    return as_real_array(value, field)


def _check_rows(arr: Array, field: str) -> None:
    """:func:`check_distribution` along the last axis, with a fast vectorised path for valid input.

    One pass for the minimum (NaN propagates; catches negatives) and one for the row sums (a
    matrix-vector product; an infinite entry makes its row sum infinite or NaN); only when one of
    them fails is the full check run, which raises with the first bad index.
    """
    if arr.size == 0:
        return
    lo = float(arr.min())  # NaN if any entry is NaN
    sums = arr.reshape(-1, arr.shape[-1]) @ np.ones(arr.shape[-1])  # +∞ (or NaN) if any entry is +∞
    if lo >= 0.0 and float(np.max(np.abs(sums - 1.0))) <= SUM_TOL:
        return
    check_distribution(arr, field)


def _check_batch(P: Any, r: Any, gamma: Any, rho: Any, pi: Any) -> tuple[Array, Array, Array, Array, Array]:
    """Validate the five batched inputs; every error names the field and the batch index."""
    P_arr = _as_float(P, "P")
    if P_arr.ndim != 4:
        raise ValueError(
            f"P must be a 4-d array of shape (B, S, A, S) (P[b, s, a, s'], a leading batch axis); got {P_arr.ndim}-d"
        )
    B, S, A, S2 = P_arr.shape
    if S == 0 or A == 0:
        raise ValueError(f"P must have at least one state and one action; got shape {P_arr.shape}")
    if S2 != S:
        raise ValueError(f"P must have shape (B, S, A, S) with P[b, s, a, s']; got {P_arr.shape} (S={S}, last={S2})")
    _check_rows(P_arr, "P (each row P[b, s, a, :])")
    r_arr = _as_float(r, "r")
    if r_arr.shape != (B, S, A):
        raise ValueError(f"r must have shape (B, S, A) = {(B, S, A)} (r[b, s, a]); got shape {r_arr.shape}")
    check_finite(r_arr, "r")
    g = _as_float(gamma, "gamma")
    if g.ndim == 0:
        g = np.full(B, float(g))
    elif g.shape != (B,):
        raise ValueError(f"gamma must be a scalar or have shape (B,) = {(B,)}; got shape {g.shape}")
    check_finite(g, "gamma")
    bad = np.flatnonzero((g < 0.0) | (g >= 1.0))
    if bad.size:
        raise ValueError(f"gamma must lie in [0, 1); got gamma[{int(bad[0])}] = {g[bad[0]]}")
    rho_arr = _as_float(rho, "rho")
    if rho_arr.shape != (B, S):
        raise ValueError(f"rho must have shape (B, S) = {(B, S)} (start distributions); got shape {rho_arr.shape}")
    _check_rows(rho_arr, "rho (each row rho[b, :])")
    pi_arr = as_real_array(pi, "pi")  # copied: it is returned in the result
    if pi_arr.shape != (B, S, A):
        raise ValueError(f"pi must have shape (B, S, A) = {(B, S, A)} (π^b(a|s)); got shape {pi_arr.shape}")
    _check_rows(pi_arr, "pi (each row π^b(·|s))")
    return P_arr, r_arr, g, rho_arr, pi_arr


def _reachable_batch(P_pi: Array, rho: Array) -> NDArray[np.bool_]:
    """States reachable from supp(ρ^b) along positive entries of P_π^b, for every b (shape (B, S)).

    ``P_pi`` may be any nonnegative (B, S, S) array with the support of the transition graph (e.g.
    Σ_a P^b[s, a, s'] for structural reachability).

    Breadth-first search for all MDPs at once: the frontier grows by one step per vectorised
    product until no MDP gains a state (at most S rounds, O(S²) per MDP each).
    """
    adj = (P_pi > 0).astype(np.float64)
    reach = rho > 0
    while True:
        grown = reach | (np.matmul(reach[:, None, :].astype(np.float64), adj)[:, 0, :] > 0)
        if np.array_equal(grown, reach):
            return reach
        reach = grown


_Step = tuple[Any, ...]


def _elimination_steps(aug: Array, S: int) -> list[_Step]:
    """The views of the elimination steps on ``aug`` (n, S + 1, B), n = S + 1 (bordered) or S (no border row).

    Step k: the multipliers column below the pivot, the pivot, the same column as (·, 1, B), the pivot row right
    of the pivot, a scratch block and the trailing block it updates; min(S, n − 1) steps (without a border row
    the last step would update nothing that is read).
    """
    n, B = aug.shape[0], aug.shape[2]
    scratch = np.empty((n - 1, S, B))
    return [
        (
            aug[k + 1 :, k],
            aug[k, k],
            aug[k + 1 :, k, None],
            aug[k, None, k + 1 :],
            scratch[: n - 1 - k, : S - k],
            aug[k + 1 :, k + 1 :],
        )
        for k in range(min(S, n - 1))
    ]


def _run_elimination(steps: list[_Step]) -> None:
    """Gaussian elimination without pivoting of the first S columns of ``aug``, in place.

    On the views of :func:`_elimination_steps`, three ufunc calls per step: the multipliers, their outer
    product with the pivot row, and the update of the trailing block.

    ``aug[:, :, b]`` is the bordered matrix [[M, r_π], [ρᵀ, 0]] with M = I − γP_π (batch-last layout). After the
    S steps:

    * ``aug[:S, :S]`` holds M = L U (strict lower triangle: L, unit diagonal implied; upper: U);
    * ``aug[:S, S]`` holds L⁻¹ r_π (the forward half of the V solve, done by the elimination itself);
    * ``aug[S, :S]`` holds the multipliers z with zᵀU = ρᵀ, i.e. z = U⁻ᵀρ (the forward half of the
      transposed solve (LU)ᵀx = ρ).

    Every entry is updated as a_ij ← a_ij − l_i·u_j once per step, in the same order as row by row.

    No pivoting is needed: M is strictly diagonally dominant by rows,
    |1 − γP_π(s, s)| − γ Σ_{s'≠s} P_π(s, s') ≥ 1 − γ > 0; every Schur complement stays so, hence every
    pivot is positive and the growth factor is at most 2 (Wilkinson), as stable as partial pivoting.
    """
    divide, multiply, subtract = np.divide, np.multiply, np.subtract
    for col, pivot, col3, row, update, trail in steps:
        divide(col, pivot, out=col)  # multipliers (column k of L, and z_k in the border row)
        multiply(col3, row, out=update)
        subtract(trail, update, out=trail)


def _run_back_substitution(steps: list[_Step]) -> None:
    """Solve U x = y for every batch column, in place in y.

    On precomputed views (y_k, pivot, y above, column, scratch, k) for k = S − 1, …, 0:
    y_k ← y_k / U_kk, then y_{<k} ← y_{<k} − U_{<k,k} y_k.
    """
    divide, multiply, subtract = np.divide, np.multiply, np.subtract
    for yk, pivot, above, col, scratch, k in steps:
        divide(yk, pivot, out=yk)
        if k:
            multiply(col, yk, out=scratch)
            subtract(above, scratch, out=above)


class _BorderedSolver:
    """Buffers and precomputed views of the bordered solve for one (S, B): the work of :func:`_solve_bordered`.

    A lockstep iteration solves a batch of the same shape again and again; each elimination or
    back-substitution step is then three ufunc calls on views made once (numpy's view creation costs
    as much as a small ufunc call). The operations, and so the results bit for bit, are those of
    :func:`_run_elimination` and :func:`_run_back_substitution`. One solver per thread and shape
    (:func:`_solver`); the caller fills :attr:`aug`, and :meth:`solve` returns fresh arrays.
    """

    def __init__(self, S: int, B: int) -> None:
        self.S, self.B = S, B
        self.aug = aug = np.empty((S + 1, S + 1, B))
        self.elim_steps = _elimination_steps(aug, S)
        # the two back substitutions side by side: U (columns 0..B−1) and Lᵀ with its unit diagonal (B..2B−1)
        self.T = T = np.empty((S, S, 2 * B))
        self.y = y = np.empty((S, 2 * B))
        col = np.empty((S, 2 * B))
        self.back_steps = [(y[k], T[k, k], y[:k], T[:k, k], col[:k], k) for k in range(S - 1, -1, -1)]
        self.diag = T.reshape(S * S, 2 * B)[:: S + 1, B:]

    def solve(self) -> tuple[Array, Array]:
        """V = M⁻¹r_π and x = M⁻ᵀρ, both (B, S) and C-contiguous, from :attr:`aug` (overwritten)."""
        S, B, aug, T, y = self.S, self.B, self.aug, self.T, self.y
        _run_elimination(self.elim_steps)
        LU = aug[:S, :S]
        T[:, :, :B] = LU  # only the upper triangle (with the diagonal) is read
        T[:, :, B:] = LU.transpose(1, 0, 2)  # Lᵀ: the strict upper triangle is L's strict lower one
        self.diag[...] = 1.0  # L's unit diagonal
        y[:, :B] = aug[:S, S]
        y[:, B:] = aug[S, :S]
        _run_back_substitution(self.back_steps)  # U V = L⁻¹r_π and Lᵀx = z together
        # C-contiguous (B, S): what follows then computes row b the same way whatever B is (module docstring).
        # Always copies: at S = 1 the transposed (B, 1) view already counts as C-contiguous, and
        # np.ascontiguousarray would hand back a view of this solver's buffer, overwritten by its next solve.
        return y[:, :B].T.copy(), y[:, B:].T.copy()


_solvers = threading.local()
#: Solvers kept per thread (one per batch shape; a lockstep run meets a new B only when rows stop).
_SOLVERS_KEPT = 8
_Solver = TypeVar("_Solver")
#: Largest bordered batch ((S + 1)²·B entries, 4 MB) whose solver is kept for reuse.
_SOLVER_KEPT_SIZE = 1 << 19


def _kept(make: Callable[[int, int], _Solver], S: int, B: int, size: int, name: str) -> _Solver:
    """The calling thread's solver ``make(S, B)`` from its cache ``name``, made on first use (the last few shapes kept).

    Only small shapes are kept (at most :data:`_SOLVER_KEPT_SIZE` entries in the solver's matrices, ``size``):
    a large solve does not need the saved calls, and its buffers are not held after it.
    """
    if size > _SOLVER_KEPT_SIZE:
        return make(S, B)
    cache: dict[tuple[int, int], _Solver] | None = getattr(_solvers, name, None)
    if cache is None:
        cache = {}
        setattr(_solvers, name, cache)
    ws = cache.get((S, B))
    if ws is None:
        if len(cache) >= _SOLVERS_KEPT:
            del cache[next(iter(cache))]
        ws = cache[(S, B)] = make(S, B)
    return ws


def _solver(S: int, B: int) -> _BorderedSolver:
    """The :class:`_BorderedSolver` of this thread for (S, B) (:func:`_kept`)."""
    return _kept(_BorderedSolver, S, B, (S + 1) * (S + 1) * B, "cache")


def shared_rows(point: Any, name: str, compute: Callable[[Any], Array]) -> Array:
    """``compute(point)`` cached on a batched point under ``name``; a sub-batch takes its rows of its root's value.

    For the batched points (:class:`BatchPolicyPoint`, :class:`r1theory.batch_param.BatchParamPoint`): a point
    made by ``take`` keeps ``_parent = (parent, rows)``, so a quantity computed row by row is computed once for
    the root batch and every sub-batch slices it.
    """
    out: Array | None = point._cache.get(name)
    if out is None:
        if point._parent is not None:
            parent, rows = point._parent
            out = shared_rows(parent, name, compute)[rows]
        else:
            out = compute(point)
        point._cache[name] = out
    return out


def _solve_bordered(aug: Array) -> tuple[Array, Array]:
    """V = M⁻¹r_π and x = M⁻ᵀρ, both (B, S), from the bordered matrices ``aug`` (S+1, S+1, B) (overwritten).

    :func:`_run_elimination` factors M = LU and does both forward halves; the two back substitutions,
    U V = L⁻¹r_π and Lᵀx = U⁻ᵀρ, then run as one upper-triangular solve over 2B columns: the
    triangles U (columns 0..B−1) and Lᵀ with its unit diagonal (columns B..2B−1, whose divisions by
    1.0 are exact) side by side. This is the one LU solve of every batched evaluation
    (:func:`evaluate_batch`, :func:`evaluate_policies`), run by a :class:`_BorderedSolver`; the
    evaluations fill the solver's own ``aug`` and skip this copy.
    """
    ws = _solver(aug.shape[0] - 1, aug.shape[2])
    if ws.aug is not aug:
        np.copyto(ws.aug, aug)
    return ws.solve()


def evaluate_batch(P: Any, r: Any, gamma: Any, rho: Any, pi: Any, *, full_support: bool = False) -> BatchEvaluation:
    """Exact V, Q, A, d and J of B policies on B dense MDPs at once (module docstring for the math).

    Parameters
    ----------
    P
        Transitions, shape (B, S, A, S): ``P[b, s, a, s']``; every row ``P[b, s, a, :]`` a distribution.
    r
        Rewards, shape (B, S, A).
    gamma
        Discount factors: a scalar shared by the batch, or shape (B,); each in [0, 1).
    rho
        Start distributions, shape (B, S).
    pi
        Policies, shape (B, S, A); every row ``pi[b, s, :]`` a distribution.
    full_support
        True when every π^b(a|s) > 0 in exact arithmetic (softmax policies, whose float entries may
        underflow to 0.0): d^b(s) = 0 then only off the structural reachable set (module docstring).
        False (default): π's zeros are taken as real, as in :func:`r1theory.evaluate`.

    Returns
    -------
    BatchEvaluation
        V (B, S), Q (B, S, A), A (B, S, A), d (B, S), J (B,); element b equals
        ``evaluate(TabularMDP(P[b], r[b], gamma[b], rho[b]), pi[b])`` to rounding (tolerance in the
        module docstring).

    Raises
    ------
    TypeError, ValueError
        When an input is not a real array of the right shape, a row is not a distribution, or a
        γ is outside [0, 1); the message names the field (and the batch index).
    """
    P_arr, r_arr, g, rho_arr, pi_arr = _check_batch(P, r, gamma, rho, pi)
    B, S, A, _ = P_arr.shape
    # batch-last layout: aug[:, :, b] = [[I − γ_b P_π^b, r_π^b], [ρ^bᵀ, 0]], shape (S + 1, S + 1, B)
    aug = _solver(S, B).aug
    M = aug[:S, :S]
    np.einsum("bsa,bsat->stb", pi_arr, P_arr, out=M)  # P_π^b[s, s'] = Σ_a π^b(a|s) P^b[s, a, s']
    M *= -g
    aug.reshape((S + 1) * (S + 1), B)[: (S + 1) * S : S + 2] += 1.0  # the diagonal of M: I − γP_π
    np.einsum("bsa,bsa->sb", pi_arr, r_arr, out=aug[:S, S])  # r_π
    aug[S, :S] = rho_arr.T
    aug[S, S] = 0.0
    V, x = _solve_bordered(aug)  # (I − γP_π) V = r_π and (I − γP_π)ᵀ x = ρ
    d = (1.0 - g)[:, None] * x  # d = (1 − γ) x
    low = np.flatnonzero(d.min(axis=1) < 1e-8)
    if low.size:  # exactly 0 where no path from ρ exists (not rounding noise), > 0 where one does
        structural = np.full(low.size, True) if full_support else pi_arr[low].min(axis=(1, 2)) > 0.0
        graph = np.einsum("bsa,bsat->bst", pi_arr[low], P_arr[low])  # P_π^b: π's zeros are real
        graph[structural] = P_arr[low[structural]].sum(axis=2)  # Σ_a P^b: every π > 0 has this support
        reach = _reachable_batch(graph, rho_arr[low])
        d[low] = np.where(reach, np.maximum(d[low], D_FLOOR), 0.0)
    Q = np.matmul(P_arr.reshape(B, S * A, S), V[:, :, None]).reshape(B, S, A)  # Σ_s' P[b, s, a, s'] V(s')
    Q *= g[:, None, None]
    Q += r_arr  # Q = r + γ P V
    adv = score_dot(Q.reshape(B * S, A), pi_arr.reshape(B * S, A)).reshape(B, S, A)
    J = np.einsum("bs,bs->b", rho_arr, V)
    return BatchEvaluation(V=V, Q=Q, A=adv, d=d, J=J, pi=pi_arr)


def evaluate_policies(mdp: TabularMDP, pi: Any, *, full_support: bool = False) -> BatchEvaluation:
    """Exact V, Q, A, d and J of B policies on one dense MDP (the batched :func:`r1theory.evaluate`).

    The same solver as :func:`evaluate_batch` (module docstring) with P, r, γ and ρ shared: P_π^b is
    formed by S stacked (B, A) × (A, S) products and Q^b = r + γ P V^b by one (S·A, S) × (S, B) product.
    d follows the rule of :mod:`r1theory.evaluation` ("Which states have d(s) = 0") through its own
    helper: for the policies whose smallest computed d is below 1e-8, d(s) = 0 exactly off the reachable
    set and max(d̂(s), D_FLOOR) on it — with ``full_support=True`` the structural set
    :attr:`r1theory.TabularMDP.reachable` (every softmax policy), else the set of each P_π.

    Parameters
    ----------
    mdp
        A dense :class:`r1theory.TabularMDP`.
    pi
        Policies, shape (B, S, A); every row ``pi[b, s, :]`` a distribution.
    full_support
        As for :func:`r1theory.evaluate`: True when every π^b(a|s) > 0 in exact arithmetic (softmax).

    Returns
    -------
    BatchEvaluation
        Element b equals ``evaluate(mdp, pi[b], full_support=full_support)`` to rounding (the tolerance
        of the module docstring).

    Raises
    ------
    TypeError, ValueError
        When ``pi`` is not a real (B, S, A) array of distributions, or the MDP is sparse.
    """
    return _evaluate_policies(mdp, _check_policies(mdp, pi), full_support=bool(full_support))


#: Above this many states the batched evaluation of policies on one MDP solves by stacked LAPACK calls
#: (``numpy.linalg.solve``, O(S³) per policy in compiled loops) instead of the vectorised elimination, whose
#: O(S) Python steps each sweep an (S + 1)² × B array: slower once that array leaves the cache.
LAPACK_FROM = 16


def _check_policies(mdp: TabularMDP, pi: Any) -> Array:
    """``pi`` as a real (B, S, A) array of distributions over A for the dense ``mdp``, or a clear error."""
    arr = as_real_array(pi, "pi")
    if arr.ndim != 3 or arr.shape[1:] != (mdp.S, mdp.A):
        raise ValueError(f"pi must have shape (B, S, A) with (S, A) = {(mdp.S, mdp.A)}; got shape {arr.shape}")
    _check_rows(arr, "pi (each row π^b(·|s))")
    _check_dense(mdp)
    return arr


def _check_dense(mdp: TabularMDP) -> None:
    """The batched evaluation's scope: a dense MDP."""
    if mdp.is_sparse:
        raise ValueError(
            "the batched evaluation needs a dense MDP (its LU is dense); use mdp.to_dense() for a small sparse "
            "MDP, or evaluate one policy at a time (r1theory.evaluate solves sparse MDPs by GMRES)"
        )


def _transition_rows(mdp: TabularMDP, pi: Array) -> Array:
    """(B, S, S) P_π^b[s, s'] = Σ_a π^b(a|s) P[s, a, s'], one product per (b, s): row b independent of B."""
    return np.matmul(np.asarray(mdp.P).transpose(0, 2, 1)[None], pi[:, :, :, None])[..., 0]


def _lapack_values(mdp: TabularMDP, pi: Array, P_pi: Array) -> tuple[Array, Array]:
    """(M, V): M = I − γP_π^b stacked (B, S, S) and V solved by stacked LAPACK calls (partial pivoting), (B, S)."""
    B, S, _ = P_pi.shape
    M = np.multiply(P_pi, -mdp.gamma)
    M.reshape(B, S * S)[:, :: S + 1] += 1.0  # I − γP_π
    return M, np.ascontiguousarray(np.linalg.solve(M, sum_actions(pi * mdp.r)[:, :, None])[:, :, 0])


def _evaluate_policies(mdp: TabularMDP, pi: Array, *, full_support: bool) -> BatchEvaluation:
    """:func:`evaluate_policies` without the input checks (``pi`` a float64 (B, S, A) array of distributions)."""
    return _evaluate_dominant(mdp, pi, _dominant_flat(np.argmax(pi, axis=2), pi.shape[2]), full_support=full_support)


def _evaluate_dominant(mdp: TabularMDP, pi: Array, fm: IntArray, *, full_support: bool) -> BatchEvaluation:
    """The batched evaluation, given the flat positions ``fm`` of the dominant actions (:func:`_dominant_flat`)."""
    _check_dense(mdp)
    B, S, A = pi.shape
    g = mdp.gamma
    P_pi = _transition_rows(mdp, pi)
    if S > LAPACK_FROM:  # stacked LAPACK solves (partial pivoting, one gesv per matrix): V, then x with Mᵀ
        M, V = _lapack_values(mdp, pi, P_pi)
        rhs = np.broadcast_to(mdp.rho[None, :, None], (B, S, 1))
        x = np.ascontiguousarray(np.linalg.solve(M.transpose(0, 2, 1), rhs)[:, :, 0])
    else:
        # batch-last layout: aug[:, :, b] = [[I − γP_π^b, r_π^b], [ρᵀ, 0]], shape (S + 1, S + 1, B)
        aug = _solver(S, B).aug
        np.multiply(P_pi.transpose(1, 2, 0), -g, out=aug[:S, :S])
        aug.reshape((S + 1) * (S + 1), B)[: (S + 1) * S : S + 2] += 1.0  # the diagonal of M: I − γP_π
        aug[:S, S] = sum_actions(pi * mdp.r).T  # r_π
        aug[S, :S] = mdp.rho[:, None]
        aug[S, S] = 0.0
        V, x = _solve_bordered(aug)  # (I − γP_π) V = r_π and (I − γP_π)ᵀ x = ρ
    d = (1.0 - g) * x
    low = np.flatnonzero(d.min(axis=1) < _D_CHECK) if d.min() < _D_CHECK else np.zeros(0, dtype=np.int64)
    if low.size and full_support:  # one call: the structural set is the same for every softmax policy
        d[low] = _visitation(mdp, pi[low], d[low], True)
    for b in low if not full_support else ():  # π's zeros are real: the reachable set of each P_π
        d[b] = _visitation(mdp, pi[b], d[b], False)
    Q = np.matmul(np.asarray(mdp.P).reshape(S * A, S), V[:, :, None]).reshape(B, S, A)  # Σ_s′ P[s, a, s′]V^b(s′)
    Q *= g
    Q += mdp.r  # Q = r + γ P V
    J = np.matmul(V[:, None, :], mdp.rho)[:, 0]  # ρ·V^b, one product per b (row-independent)
    return BatchEvaluation(V=V, Q=Q, A=score_dot_rows(Q, pi, fm), d=d, J=J, pi=pi)


# ---------------------------------------------------------------------------------------------
# The formulas of r1theory.score on (B, S, A) arrays, every reduction over the action axis done
# column by column (a numpy reduction over a short last axis costs 5–20 times more)
# ---------------------------------------------------------------------------------------------
#: Up to this many actions the sums over a are formed column by column (numpy's own order below 8 terms).
_COLUMNS = 7


def sum_actions(x: Array, out: Array | None = None) -> Array:
    """Σ_a x[..., a], shape x.shape[:-1], bit for bit ``x.sum(axis=-1)`` (into ``out`` if given).

    For A ≤ 7 it is formed column by column, (x₀ + x₁) + x₂ + …, the order numpy adds fewer than 8 terms in.
    """
    A = x.shape[-1]
    if A > _COLUMNS:
        return x.sum(axis=-1, out=out)
    if A == 1:
        if out is None:
            return x[..., 0].copy()
        out[...] = x[..., 0]
        return out
    out = np.add(x[..., 0], x[..., 1], out=out)
    for a in range(2, A):
        np.add(out, x[..., a], out=out)
    return out


def max_actions(x: Array) -> Array:
    """max_a x[..., a], shape x.shape[:-1] (exact, as ``x.max(axis=-1)``)."""
    A = x.shape[-1]
    if A > _COLUMNS:
        return x.max(axis=-1)
    if A == 1:
        return x[..., 0].copy()
    out = np.maximum(x[..., 0], x[..., 1])
    for a in range(2, A):
        np.maximum(out, x[..., a], out=out)
    return out


#: The block offsets (b·S + s)·A of :func:`_dominant_flat` per (B·S, A), made once (read-only).
_BLOCK_STARTS: dict[tuple[int, int], IntArray] = {}


def _dominant_flat(dominant: NDArray[np.intp] | IntArray, A: int) -> IntArray:
    """Flat positions b·S·A + s·A + m(b, s) of the actions ``dominant`` (B, S) in a C-contiguous (B, S, A) array."""
    starts = _BLOCK_STARTS.get((dominant.size, A))
    if starts is None:
        if len(_BLOCK_STARTS) > 64:
            _BLOCK_STARTS.clear()
        starts = np.arange(dominant.size, dtype=np.int64) * A
        starts.flags.writeable = False
        _BLOCK_STARTS[(dominant.size, A)] = starts
    return starts + dominant.reshape(-1)


def score_dot_rows(x: Array, pi: Array, fm: IntArray) -> Array:
    """:func:`r1theory.score.score_dot` on every block of (B, S, A) arrays.

    x(s, a) − Σ_b π(b|s) x(s, b), and for the dominant action m (flat positions ``fm``)
    Σ_b π(b|s)(x(s, m) − x(s, b)), without cancellation.
    """
    B, S = pi.shape[:2]
    out = x - sum_actions(pi * x)[:, :, None]
    xm = np.ascontiguousarray(x).reshape(-1)[fm].reshape(B, S)
    out.reshape(-1)[fm] = sum_actions(pi * (xm[:, :, None] - x)).reshape(-1)
    return out


def _others_rows(pi: Array, fm: IntArray) -> Array:
    """π with the dominant action of every block set to 0 (the π_b, b ≠ m, of the cancellation-free forms)."""
    others = pi.copy()
    others.reshape(-1)[fm] = 0.0
    return others


def one_minus_rows(pi: Array, fm: IntArray, others: Array | None = None) -> Array:
    """:func:`r1theory.score.one_minus` on every block: 1 − π(a|s), for the dominant action Σ_{b≠m} π(b|s).

    ``others`` is :func:`_others_rows` ``(pi, fm)`` when the caller has it.
    """
    out = 1.0 - pi
    rest = _others_rows(pi, fm) if others is None else others
    out.reshape(-1)[fm] = sum_actions(rest).reshape(-1)
    return out


def score_sq_norm_rows(pi: Array, fm: IntArray, others: Array | None = None, om: Array | None = None) -> Array:
    """:func:`r1theory.score.score_sq_norm` on every block.

    n(s, a) = 1 − 2π(a|s) + ‖π_s‖², and for the dominant action (Σ_{b≠m} π_b)² + Σ_{b≠m} π_b².
    ``others`` is :func:`_others_rows` ``(pi, fm)`` and ``om`` :func:`one_minus_rows` when the caller has them
    (Σ_{b≠m} π_b is then read from ``om``: the same sum, bit for bit).
    """
    n = 1.0 - 2.0 * pi + sum_actions(pi * pi)[:, :, None]
    rest = _others_rows(pi, fm) if others is None else others
    s1 = sum_actions(rest).reshape(-1) if om is None else om.reshape(-1)[fm]
    n.reshape(-1)[fm] = s1**2 + sum_actions(rest * rest).reshape(-1)
    return n


def combine_scores_rows(c: Array, pi: Array, fm: IntArray, om: Array) -> Array:
    """:func:`r1theory.score.combine_scores` on every block.

    c(s, ·) − π_s Σ_a c(s, a), and for the dominant action c_m(1 − π_m) − π_m Σ_{a≠m} c_a with the accurate
    1 − π_m of ``om`` (:func:`one_minus_rows`).
    """
    out = c - pi * sum_actions(c)[:, :, None]
    rest = np.array(c, copy=True)
    rest.reshape(-1)[fm] = 0.0
    flat_c = np.ascontiguousarray(c).reshape(-1)
    out.reshape(-1)[fm] = flat_c[fm] * om.reshape(-1)[fm] - pi.reshape(-1)[fm] * sum_actions(rest).reshape(-1)
    return out


@dataclass(frozen=True)
class BatchPolicyPoint:
    """B tabular-softmax points θ^b on one MDP, each evaluated exactly: the batched :class:`r1theory.PolicyPoint`.

    Element b is the point ``policy_point(mdp, theta[b])`` (to the rounding of the batched evaluation):
    π^b = softmax(θ^b) in log space, its exact evaluation (d by the structural reachability rule, every
    softmax policy having full support), and the gradient ∂J/∂θ^b(s, a) = d^b(s) π^b(a|s) A^b(s, a)/(1 − γ)
    (:attr:`r1theory.PolicyPoint.logit_gradient`, the same expression).

    Attributes
    ----------
    mdp : the (dense) MDP shared by the batch.
    theta, log_pi, pi, gradient : (B, S, A).
    ev : the :class:`BatchEvaluation` of ``pi``.
    dominant : (B, S) the most likely action m(s) = argmax_a π(a|s) of every block (``np.argmax``: the lowest
        index among ties), which the cancellation-safe formulas of :mod:`r1theory.score` single out.

    Shared functions of π (computed once per point, on first use, and shared with every sub-batch
    :meth:`take` makes, so that several methods' directions at one point do not recompute them):
    :meth:`one_minus`, :meth:`score_sq_norm`.
    """

    mdp: TabularMDP
    theta: Array
    log_pi: Array
    pi: Array
    ev: BatchEvaluation
    gradient: Array
    dominant: IntArray
    _parent: tuple[BatchPolicyPoint, Any] | None = field(default=None, repr=False, compare=False)
    _cache: dict[str, NDArray[Any]] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.theta.shape[0])

    def take(self, rows: slice | NDArray[np.intp] | NDArray[np.int64]) -> BatchPolicyPoint:
        """The sub-batch of the given rows (a slice gives views, an index array copies)."""
        ev = self.ev
        # built without the dataclass __init__ (a lockstep iteration takes one sub-batch per method):
        # the same fields, set directly
        sub_ev = object.__new__(BatchEvaluation)
        sub_ev.__dict__.update(V=ev.V[rows], Q=ev.Q[rows], A=ev.A[rows], d=ev.d[rows], J=ev.J[rows], pi=ev.pi[rows])
        sub = object.__new__(BatchPolicyPoint)
        sub.__dict__.update(
            mdp=self.mdp,
            theta=self.theta[rows],
            log_pi=self.log_pi[rows],
            pi=self.pi[rows],
            ev=sub_ev,
            gradient=self.gradient[rows],
            dominant=self.dominant[rows],
            _parent=(self, rows),
            _cache={},
        )
        return sub

    @property
    def dominant_flat(self) -> IntArray:
        """Flat positions of the dominant actions in a (B, S, A) array (index b·S·A + s·A + m)."""
        out = self._cache.get("dominant_flat")
        if out is None:
            out = self._cache["dominant_flat"] = _dominant_flat(self.dominant, self.pi.shape[2])
        return out

    def _shared(self, name: str, compute: Callable[[BatchPolicyPoint], Array]) -> Array:
        """``compute`` (a function of π, block by block) at this point, computed once for the root batch."""
        return shared_rows(self, name, compute)

    def _others(self) -> Array:
        """(B, S, A) π with each block's dominant action set to 0 (for :meth:`one_minus` and :meth:`score_sq_norm`)."""
        return self._shared("others", lambda p: _others_rows(p.pi, p.dominant_flat))

    def one_minus(self) -> Array:
        """(B, S, A) 1 − π(a|s), accurate for the dominant action (:func:`r1theory.score.one_minus`)."""
        return self._shared("one_minus", lambda p: one_minus_rows(p.pi, p.dominant_flat, p._others()))

    def score_sq_norm(self) -> Array:
        """(B, S, A) n(s, a) = ‖∇log π(a|s)‖² (:func:`r1theory.score.score_sq_norm`)."""
        return self._shared(
            "score_sq_norm", lambda p: score_sq_norm_rows(p.pi, p.dominant_flat, p._others(), p.one_minus())
        )

    def __getitem__(self, b: int) -> PolicyPoint:
        """Element ``b`` as a single tabular-softmax :class:`r1theory.PolicyPoint` (for a method's ``direction``)."""
        param = TabularSoftmax(self.mdp.S, self.mdp.A)
        theta = self.theta[b]
        return PolicyPoint(
            mdp=self.mdp,
            theta=theta,
            log_pi=self.log_pi[b],
            pi=self.pi[b],
            ev=self.ev[b],
            param=param,
            lin=param.at(theta),
        )


def batch_policy_point(mdp: TabularMDP, theta: Any) -> BatchPolicyPoint:
    """Evaluate B softmax policies θ^b (shape (B, S, A), finite) on one dense MDP at once.

    The batched :func:`r1theory.policy_point` for tabular softmax: log π = :func:`r1theory.log_softmax` (θ)
    row by row, π = exp(log π), one :func:`evaluate_policies` call with ``full_support=True``.

    Raises
    ------
    TypeError, ValueError
        When θ is not a real finite (B, S, A) array, or the MDP is sparse.
    """
    t = as_real_array(theta, "theta")
    if t.ndim != 3 or t.shape[1:] != (mdp.S, mdp.A):
        raise ValueError(f"theta must have shape (B, S, A) with (S, A) = {(mdp.S, mdp.A)}; got shape {t.shape}")
    check_finite(t, "theta")
    return _batch_policy_point(mdp, t)


def _batch_policy_point(mdp: TabularMDP, theta: Array) -> BatchPolicyPoint:
    """:func:`batch_policy_point` for a finite float64 (B, S, A) θ (not checked, not copied).

    log π = θ − max_a θ − log Σ_a exp(θ − max_a θ) and π = exp(log π): the operations of
    :func:`r1theory.log_softmax` (bit for bit: the same maximum, the same sum order), the reductions over
    the action axis column by column.
    """
    log_pi, pi = _softmax_rows(theta)
    dominant = np.argmax(pi, axis=2)
    ev = _evaluate_dominant(mdp, pi, _dominant_flat(dominant, pi.shape[2]), full_support=True)
    gradient = ev.d[:, :, None] * pi * ev.A / (1.0 - mdp.gamma)  # the expression of PolicyPoint.logit_gradient
    dominant = dominant.astype(np.int64, copy=False)
    return BatchPolicyPoint(mdp=mdp, theta=theta, log_pi=log_pi, pi=pi, ev=ev, gradient=gradient, dominant=dominant)


def _softmax_rows(theta: Array) -> tuple[Array, Array]:
    """Log π and π = softmax(θ) block by block, for a finite float64 (B, S, A) θ.

    The log-softmax of :func:`_batch_policy_point`: log π = θ − max_a θ − log Σ_a exp(θ − max_a θ) and
    π = exp(log π), the operations of :func:`r1theory.log_softmax` (the same maximum, the same sum order),
    elementwise per block.
    """
    z = theta - max_actions(theta)[:, :, None]
    log_pi = z - np.log(sum_actions(np.exp(z)))[:, :, None]
    return log_pi, np.exp(log_pi)


class _ValueSolver:
    """Buffers and views of the V-only bordered solve for one (S, B): :class:`_BorderedSolver` without ρ.

    ``aug`` (S, S + 1, B) holds [M, r_π] (no border row). The S elimination steps are those of
    :func:`_run_elimination` restricted to the rows of M — the border row of the full solve
    is only ever written, never read, by the other rows' updates — so the factor U and L⁻¹r_π come out
    the same bit for bit; the back substitution U V = L⁻¹r_π then runs in place in column S with the
    operations of :meth:`_BorderedSolver.solve` on its first B columns (same divisions, products and
    subtractions, elementwise). Hence V equals the V of the full evaluation bit for bit, at half the
    work (one triangular solve, not two, and no transposed copy).
    """

    def __init__(self, S: int, B: int) -> None:
        self.S, self.B = S, B
        self.aug = aug = np.empty((S, S + 1, B))
        self.elim_steps = _elimination_steps(aug, S)  # S − 1 steps: the last would only update the border row
        y = aug[:, S]
        col = np.empty((S, B))
        self.back_steps = [(y[k], aug[k, k], y[:k], aug[:k, k], col[:k], k) for k in range(S - 1, -1, -1)]

    def solve(self) -> Array:
        """V = M⁻¹r_π, (B, S) and C-contiguous, from :attr:`aug` (overwritten)."""
        _run_elimination(self.elim_steps)
        _run_back_substitution(self.back_steps)
        return self.aug[:, self.S].T.copy()  # a copy even when the view is C-contiguous (S = 1): see _BorderedSolver


def _value_solver(S: int, B: int) -> _ValueSolver:
    """The :class:`_ValueSolver` of this thread for (S, B) (:func:`_kept`)."""
    return _kept(_ValueSolver, S, B, S * (S + 1) * B, "value_cache")


def policy_values(mdp: TabularMDP, pi: Any) -> Array:
    """Exact state values V^b = (I − γP_π^b)⁻¹ r_π^b of B policies on one dense MDP, shape (B, S).

    The V of :func:`evaluate_policies` (``evaluate_policies(mdp, pi).V``) bit for bit, without Q, A, d
    and J: one triangular solve instead of two (no visitation), for a caller that needs V alone — the
    exact-value baseline of a stochastic run between the iterates it records
    (:func:`r1theory.stochastic_iterate_batch`). Row b does not depend on the other rows or on B.

    Raises
    ------
    TypeError, ValueError
        When ``pi`` is not a real (B, S, A) array of distributions, or the MDP is sparse.
    """
    return _policy_values(mdp, _check_policies(mdp, pi))


def _policy_values(mdp: TabularMDP, pi: Array) -> Array:
    """:func:`policy_values` without the checks (a dense MDP, ``pi`` a float64 (B, S, A) array of distributions).

    Every operation up to V is that of :func:`_evaluate_dominant` (the same P_π, M, r_π and solver route).
    """
    B, S, _ = pi.shape
    g = mdp.gamma
    P_pi = _transition_rows(mdp, pi)
    if S > LAPACK_FROM:
        return _lapack_values(mdp, pi, P_pi)[1]
    ws = _value_solver(S, B)
    aug = ws.aug  # aug[:, :, b] = [I − γP_π^b, r_π^b], shape (S, S + 1, B)
    np.multiply(P_pi.transpose(1, 2, 0), -g, out=aug[:, :S])
    aug.reshape(S * (S + 1), B)[:: S + 2] += 1.0  # the diagonal of M
    aug[:, S] = sum_actions(pi * mdp.r).T  # r_π
    return ws.solve()


def _batch_policy_values(mdp: TabularMDP, theta: Array) -> tuple[Array, Array, Array]:
    """(log π, π, V) of softmax(θ) for a finite float64 (B, S, A) θ, without d, Q, A, J or the gradient.

    The θ-side of :func:`_batch_policy_point` with :func:`_policy_values` for the evaluation: the same log π, π
    and V bit for bit.
    """
    log_pi, pi = _softmax_rows(theta)
    return log_pi, pi, _policy_values(mdp, pi)
