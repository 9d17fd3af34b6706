"""The tabular MDP: validated, immutable arrays with the project's conventions.

Conventions (docs/conventions.md):

* ``P[s, a, s']`` has shape (S, A, S); each row ``P[s, a, :]`` is a distribution.
* ``r[s, a]`` has shape (S, A).
* ``gamma`` lies in [0, 1).
* ``rho`` has shape (S,) and is the start-state distribution; J(π) = ρ·V^π.

Every engine routine touches transitions only through :meth:`TabularMDP.transition_matrix`
and :meth:`TabularMDP.expected_next`, so another storage of ``P`` (sparse, batched) needs only
these two.

Sparse transitions
------------------
``P`` may also be a ``scipy.sparse`` matrix of shape (S·A, S) whose row ``s*A + a`` is the
distribution ``P(· | s, a)``. It is validated on its stored entries only (finite, nonnegative,
every row sums to 1 within 1e-9), never densified, and kept as a read-only canonical
``scipy.sparse.csr_array`` in ``mdp.P`` (sorted column indices, no duplicates, no explicit
zeros); :attr:`TabularMDP.is_sparse` tells the two storages apart. For a sparse MDP,

* ``mdp.P`` is that (S·A, S) CSR matrix — *not* the (S, A, S) tensor: ``mdp.P[s*A + a]`` is the row of
  (s, a). Code that indexes ``mdp.P[s, a, :]`` needs a dense MDP (:meth:`TabularMDP.to_dense`);
* :meth:`TabularMDP.transition_matrix` returns P_π as an (S, S) ``csr_array`` (O(nnz) to form), and
  :meth:`TabularMDP.expected_next` costs one sparse product, O(nnz);
* evaluation solves its two linear systems by a Krylov method (:mod:`r1theory.evaluation`), so
  every exact quantity costs memory O(nnz + S·A).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeAlias

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
from numpy.typing import NDArray

from ._types import Array
from ._validate import SUM_TOL, as_real_array, as_scalar, check_distribution, check_finite, check_shape

#: The storage of a sparse transition matrix: ``scipy.sparse.csr_array`` of shape (S·A, S).
SparseP: TypeAlias = scipy.sparse.csr_array


def _frozen(arr: Array) -> Array:
    arr = np.array(arr, dtype=np.float64, copy=True)
    arr.setflags(write=False)
    return arr


def _entry(row: int, A: int) -> str:
    s, a = divmod(int(row), A)
    return f"row s*A + a = {int(row)} (s={s}, a={a})"


def check_sparse_P(P: Any, A: int | None = None) -> tuple[SparseP, int, int]:
    """Validate a sparse transition matrix of shape (S·A, S) and return it as a read-only canonical CSR.

    Row ``s*A + a`` holds P(· | s, a). The checks touch only the stored entries and the row
    pointers, O(nnz): dtype real, shape (S·A, S) with S ≥ 1 and S·A a multiple of S, every stored
    entry finite and ≥ 0, every row sum within 1e-9 of 1 (an empty row sums to 0 and is refused).
    Duplicate entries are summed and explicit zeros dropped (canonical CSR), so ``P.nnz`` counts the
    positive transition probabilities. ``A`` (optional) is the expected number of actions.

    Returns
    -------
    (P, S, A)
        The validated ``csr_array`` (float64, arrays read-only) and the sizes.

    Raises
    ------
    TypeError
        When the entries are not real numbers (bool, complex, object).
    ValueError
        When the shape, an entry or a row sum is invalid; the message names ``P`` and the row (s, a).
    """
    if P.ndim != 2:
        raise ValueError(f"P (sparse) must be a 2-d matrix of shape (S*A, S), row s*A + a; got {P.ndim}-d")
    dtype = np.dtype(P.dtype)
    if dtype == np.bool_ or not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise TypeError(f"P (sparse) must have real numeric entries (float or int); got dtype {dtype}")
    n, S = (int(x) for x in P.shape)
    if S == 0 or n == 0:
        raise ValueError(f"P (sparse) must have at least one state and one action; got shape {P.shape}")
    if n % S != 0:
        raise ValueError(
            f"P (sparse) must have shape (S*A, S) with row s*A + a = P(·|s, a); got {P.shape}: "
            f"{n} rows is not a multiple of S = {S} columns"
        )
    nA = n // S
    if A is not None and nA != A:
        raise ValueError(f"P (sparse) has shape {P.shape} = (S*A, S) with A = {nA}, but A = {A} was expected")
    csr = scipy.sparse.csr_array(P, dtype=np.float64, copy=True)
    bad = ~np.isfinite(csr.data)
    if np.any(bad):
        k = int(np.argmax(bad))
        row = int(np.searchsorted(csr.indptr, k, side="right")) - 1
        raise ValueError(
            f"P (sparse) has a NaN or infinite entry at {_entry(row, nA)}, column s' = {int(csr.indices[k])}"
        )
    neg = csr.data < 0
    if np.any(neg):
        k = int(np.argmax(neg))
        row = int(np.searchsorted(csr.indptr, k, side="right")) - 1
        raise ValueError(
            f"P (sparse) has a negative entry {csr.data[k]:.3g} at {_entry(row, nA)}, column s' = "
            f"{int(csr.indices[k])}; probabilities must be >= 0"
        )
    csr.sum_duplicates()
    csr.eliminate_zeros()
    sums = np.asarray(csr.sum(axis=1)).ravel()
    err = np.abs(sums - 1.0)
    if np.any(err > SUM_TOL):
        row = int(np.argmax(err))
        raise ValueError(
            f"P (sparse) must have rows summing to 1 (row s*A + a = P(·|s, a)); the sum is {float(sums[row])!r} "
            f"at {_entry(row, nA)} (tolerance {SUM_TOL:g}). Normalise it before building the MDP."
        )
    for arr in (csr.data, csr.indices, csr.indptr):
        arr.setflags(write=False)
    return csr, S, nA


def reachable(P_pi: Array | SparseP, rho: Array) -> NDArray[np.bool_]:
    """States reachable from the support of ρ along positive entries of P_π (breadth-first search).

    For the policy π whose P_π this is (taken at face value: its zeros are real zeros), d^π(s) > 0
    exactly for these states, since d^π = (1 − γ) Σ_t γ^t ρᵀP_π^t; elsewhere d^π(s) = 0, and the
    linear solve returns rounding noise instead of 0. Any nonnegative (S, S) matrix with the
    support of P_π serves, e.g. Σ_a P[s, a, s'] for the reachability under every action
    (:attr:`TabularMDP.reachable`). A dense P_π (S, S) costs O(S²); a sparse one O(nnz + S): the
    graph is built from its CSR arrays directly (:func:`_reachable_sparse`).
    """
    if scipy.sparse.issparse(P_pi):
        return _reachable_sparse(P_pi, rho)
    S = len(rho)
    graph = scipy.sparse.csr_matrix(np.vstack([P_pi > 0, rho > 0]))  # extra node S points at supp(ρ)
    graph = scipy.sparse.hstack([graph, scipy.sparse.csr_matrix((S + 1, 1), dtype=bool)]).tocsr()
    order = scipy.sparse.csgraph.breadth_first_order(graph, S, directed=True, return_predecessors=False)
    out = np.zeros(S, dtype=bool)
    out[order[order < S]] = True
    return out


def _reachable_sparse(P_pi: SparseP, rho: Array) -> NDArray[np.bool_]:
    """:func:`reachable` for a sparse P_π, in O(nnz + S) time and memory.

    The graph has the S states plus a source node S with edges to supp(ρ); its CSR arrays are
    P_π's (kept entries > 0, in row order) with one row appended, so no sort or conversion is needed.
    """
    S = len(rho)
    csr = scipy.sparse.csr_array(P_pi)  # no copy when already CSR
    keep = csr.data > 0
    row_of = np.repeat(np.arange(S), np.diff(csr.indptr))
    counts = np.bincount(row_of[keep], minlength=S)
    start = np.flatnonzero(rho > 0)
    indices = np.concatenate([csr.indices[keep], start])
    indptr = np.concatenate([[0], np.cumsum(counts), [int(counts.sum()) + len(start)]])
    graph = scipy.sparse.csr_array((np.ones(len(indices)), indices, indptr), shape=(S + 1, S + 1))
    order = scipy.sparse.csgraph.breadth_first_order(graph, S, directed=True, return_predecessors=False)
    out = np.zeros(S, dtype=bool)
    out[order[order < S]] = True
    return out


@dataclass(frozen=True, eq=False, init=False)
class TabularMDP:
    """A finite discounted MDP ``(P, r, gamma, rho)``.

    Parameters
    ----------
    P
        Transition tensor of shape (S, A, S): ``P[s, a, s'] = Pr(s' | s, a)``. Entries must be
        finite and nonnegative and every row ``P[s, a, :]`` must sum to 1 (within 1e-9).
        Alternatively a ``scipy.sparse`` matrix of shape (S·A, S) with row ``s*A + a`` =
        P(· | s, a), validated in O(nnz) by :func:`check_sparse_P` and stored as a read-only
        canonical ``csr_array`` (see the module docstring: ``mdp.P`` is then that (S·A, S) matrix).
    r
        Expected reward ``r[s, a]``, shape (S, A), finite. The classic bounds assume r ∈ [0, 1];
        the engine itself does not.
    gamma
        Discount factor in [0, 1).
    rho
        Start-state distribution, shape (S,).

    The arrays are copied to float64 and made read-only, so an MDP cannot change after
    validation. Equality is identity; compare arrays explicitly if needed.

    Attributes
    ----------
    P : (S, A, S) array, or for a sparse MDP the (S·A, S) ``scipy.sparse.csr_array``.
    r, gamma, rho, S, A : as above.
    is_sparse : True when ``P`` is stored sparse (then the engine uses Krylov solves).
    reachable : (S,) bool, the states reachable from supp(ρ) under some action (cached): d^π(s) > 0
        there for every softmax π, d^π(s) = 0 elsewhere for every π.

    Raises
    ------
    TypeError
        When an argument is not a real number or real numeric array.
    ValueError
        When a shape, a probability or ``gamma`` is invalid; the message names the field.
    """

    P: Array | SparseP
    r: Array
    gamma: float
    rho: Array
    S: int = field(repr=True)
    A: int = field(repr=True)
    is_sparse: bool = field(repr=False)

    def __init__(self, P: Any, r: Any, gamma: Any, rho: Any) -> None:
        sparse = scipy.sparse.issparse(P)
        P_store: Array | SparseP
        if sparse:
            P_store, S, A = check_sparse_P(P)
        else:
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
        object.__setattr__(self, "P", P_store if sparse else _frozen(P_arr))
        object.__setattr__(self, "r", _frozen(r_arr))
        object.__setattr__(self, "gamma", g)
        object.__setattr__(self, "rho", _frozen(rho_arr))
        object.__setattr__(self, "S", int(S))
        object.__setattr__(self, "A", int(A))
        object.__setattr__(self, "is_sparse", bool(sparse))

    @cached_property
    def reachable(self) -> NDArray[np.bool_]:
        """The states reachable from supp(ρ) along transitions of positive probability under *some* action.

        A state s is reachable iff a path s_0 → … → s_k = s exists with ρ(s_0) > 0 and, for every step,
        P[s_i, a, s_{i+1}] > 0 for some action a: the support of Σ_a P[s, a, ·]. For every policy of
        full support (every softmax policy: π(a|s) > 0 for all finite logits, even where the float
        value of π underflows to 0), P_π[s, s'] = Σ_a π(a|s)P[s, a, s'] has exactly this support, so

            d^π(s) = (1 − γ) Σ_t γ^t Pr(s_t = s | s_0 ∼ ρ) > 0  ⇔  reachable[s]

        (d^π(s) ≥ (1 − γ)γ^k ρ(s_0) Π_i π(a_i|s_i)P[s_i, a_i, s_{i+1}] > 0 along a path of length k;
        no path, no mass). This is structural — a property of the MDP, not of a computed π or d — so
        it is computed once (:func:`reachable`, a breadth-first search on Σ_a P, O(S²·A) dense,
        O(nnz + S) sparse) and cached. Read-only bool array of shape (S,).
        """
        if self.is_sparse:  # Σ_a P(·|s, a): P_π of the all-ones "policy" (positive weights keep the support)
            adjacency: Array | SparseP = self.transition_matrix(np.ones((self.S, self.A)))
        else:
            adjacency = np.asarray(self.P).sum(axis=1)  # a sum of nonnegatives is 0 only if every term is
        out = reachable(adjacency, self.rho)
        out.setflags(write=False)
        return out

    def __repr__(self) -> str:
        kind = f", sparse nnz={self.nnz}" if self.is_sparse else ""
        return f"TabularMDP(S={self.S}, A={self.A}, gamma={self.gamma}{kind})"

    @property
    def nnz(self) -> int:
        """Number of stored transition probabilities: ``P.nnz`` when sparse, S·A·S when dense."""
        P: Any = self.P
        return int(P.nnz) if self.is_sparse else self.S * self.A * self.S

    def transition_matrix(self, pi: Array) -> Array | SparseP:
        """State-to-state matrix under π: ``P_π[s, s'] = Σ_a π(a|s) P[s, a, s']``, shape (S, S).

        Dense MDP: an (S, S) array. Sparse MDP: an (S, S) ``csr_array`` formed in O(nnz) without a
        sparse product — rows ``s*A .. s*A + A − 1`` of P are contiguous in CSR, so P_π shares P's
        column indices with the values scaled by π(a|s) and row pointers ``indptr[::A]``. Its
        column indices may repeat within a row (the A actions' entries for the same s'; products
        and solves sum them), and its index arrays are P's (read-only): copy it (``P_pi.copy()``)
        before modifying it in place, e.g. by ``sum_duplicates()`` for the canonical form.
        """
        if self.is_sparse:
            P: Any = self.P
            weights = np.repeat(pi.ravel(), np.diff(P.indptr))
            return scipy.sparse.csr_array((P.data * weights, P.indices, P.indptr[:: self.A]), shape=(self.S, self.S))
        return np.matmul(pi[:, None, :], self.P)[:, 0, :]

    def expected_next(self, V: Array) -> Array:
        """One-step expectation ``(P V)[s, a] = Σ_{s'} P[s, a, s'] V(s')``, shape (S, A); O(nnz) when sparse."""
        if self.is_sparse:
            return (self.P @ V).reshape(self.S, self.A)
        return self.P @ V

    def to_sparse(self) -> TabularMDP:
        """The same MDP with P stored as an (S·A, S) ``csr_array`` (row s*A + a); itself if already sparse."""
        if self.is_sparse:
            return self
        return TabularMDP(scipy.sparse.csr_array(self.P.reshape(self.S * self.A, self.S)), self.r, self.gamma, self.rho)

    def to_dense(self) -> TabularMDP:
        """The same MDP with P as an (S, A, S) array (memory S²·A; for small MDPs); itself if already dense."""
        if not self.is_sparse:
            return self
        P: Any = self.P
        return TabularMDP(P.toarray().reshape(self.S, self.A, self.S), self.r, self.gamma, self.rho)
