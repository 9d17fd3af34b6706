r"""Converters between :class:`r1theory.TabularMDP` and other tabular conventions.

Gymnasium toy text (FrozenLake, CliffWalking, Taxi)
---------------------------------------------------
``env.unwrapped.P[s][a]`` is a list of ``(prob, next_state, reward, terminated)`` tuples
(a table the toy-text environments expose, though not part of Gymnasium's official API), and
``env.unwrapped.initial_state_distrib`` is the start distribution. The conversion:

* expected rewards r[s, a] = Σ prob · reward over the list (the reward of a terminating transition
  is earned);
* a transition flagged ``terminated`` ends the episode: it leads to ONE extra absorbing state with
  reward 0, appended at index S, whatever Gymnasium's table says would follow; all others go to
  ``next_state`` (duplicate entries are summed);
* ρ = ``initial_state_distrib`` with 0 on the absorbing state.

So the converted MDP has S + 1 states, and V(s) for s < S is the expected discounted return of the
episode started at s. Rewards are copied as they are (CliffWalking's −1/−100 and Taxi's −1/−10/+20
lie outside [0, 1]; the engine accepts them, the classic constants do not).

pymdptoolbox
------------
pymdptoolbox stores transitions action-first, ``P[a, s, s']`` of shape (A, S, S) (or a sequence of
A (S, S) matrices, possibly scipy-sparse: its sparse form is a list of A ``scipy.sparse.csr_matrix``),
and rewards as (S, A), (S,) (state rewards, the same for every action) or (A, S, S) (transition
rewards, whose expectation Σ_{s'} P[a, s, s'] R[a, s, s'] is the (s, a) reward). It has no start
distribution; :func:`from_mdptoolbox` uses a uniform one unless ``rho`` is given. No import of
pymdptoolbox is needed.

Sparse MDPs convert both ways without densifying, in O(nnz): :func:`to_mdptoolbox` gives a sparse
MDP's P as the list of A ``csr_matrix`` (S, S), the rows a, a + A, a + 2A, ... of ``mdp.P``, and
:func:`from_mdptoolbox` turns a list of sparse matrices into a sparse TabularMDP (row s*A + a =
P[a][s, :]). pymdptoolbox itself is not O(nnz) on sparse input: its input check
(``mdptoolbox.util.check``, run by every solver's constructor) forms S × S temporaries (``matrix >=
0`` on a sparse matrix, and ``matrix.sum(axis=1) - ones(S)`` broadcasting an (S, 1) ``np.matrix``
against (S,)), ``ValueIteration`` reads the S columns one at a time to bound its iteration count,
and ``PolicyIteration`` densifies P_π; and it accepts row sums only within 10·eps of 1, where
TabularMDP accepts 1e-9. So its solvers suit moderate S even with sparse P.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse

from r1theory import TabularMDP

from ._types import Array

__all__ = ["from_gymnasium", "from_mdptoolbox", "to_mdptoolbox"]

_GYM_HINT = "pip install 'r1theory[gym]'"


def _import_gymnasium() -> Any:
    try:
        return importlib.import_module("gymnasium")
    except ImportError as exc:
        raise ImportError(
            f"from_gymnasium needs the optional dependency gymnasium; install it with: {_GYM_HINT}"
        ) from exc


def from_gymnasium(env_or_id: Any, gamma: float = 0.99, **make_kwargs: Any) -> TabularMDP:
    r"""Convert a Gymnasium toy-text environment (or its id) into a TabularMDP with S + 1 states.

    Parameters
    ----------
    env_or_id
        An environment (its ``unwrapped`` must have the table ``P`` and ``initial_state_distrib``)
        or an id such as ``"FrozenLake-v1"``, ``"CliffWalking-v1"``, ``"Taxi-v4"``
        (``"Taxi-v3"`` before Gymnasium 1.3).
    gamma
        Discount of the returned MDP, in [0, 1).
    **make_kwargs
        Passed to ``gymnasium.make`` when ``env_or_id`` is an id (e.g. ``map_name="4x4"``,
        ``is_slippery=False``); not allowed with an environment object.

    Returns
    -------
    TabularMDP
        P of shape (S + 1, A, S + 1), with state S absorbing and reward-free; r the expected
        rewards; ρ the environment's start distribution (0 on state S).

    Raises
    ------
    ImportError
        If gymnasium is not installed (with the install hint), when an id is given or needed.
    ValueError
        If the environment has no transition table or start distribution, or the table is
        inconsistent (a probability that is negative, rows not summing to 1, a state out of range).
    TypeError
        If ``make_kwargs`` are given together with an environment object.
    """
    made = isinstance(env_or_id, str)
    if made:
        env = _import_gymnasium().make(env_or_id, **make_kwargs)
    else:
        if make_kwargs:
            raise TypeError(f"make_kwargs {sorted(make_kwargs)} apply only when an environment id is given")
        env = env_or_id
    try:
        base = getattr(env, "unwrapped", env)
        table = getattr(base, "P", None)
        if not isinstance(table, dict) or not table:
            raise ValueError(
                f"{type(base).__name__} has no transition table unwrapped.P (dict P[s][a] = [(p, s', r, terminated)]);"
                " only Gymnasium's toy-text environments (FrozenLake, CliffWalking, Taxi) have one"
            )
        start = getattr(base, "initial_state_distrib", None)
        if start is None:
            raise ValueError(f"{type(base).__name__} has no unwrapped.initial_state_distrib (start distribution)")
        return _from_table(table, np.asarray(start, dtype=np.float64), gamma)
    finally:
        if made:
            env.close()


def _from_table(table: dict[Any, Any], start: Array, gamma: float) -> TabularMDP:
    S = len(table)
    if sorted(int(s) for s in table) != list(range(S)):
        raise ValueError(f"the table's states must be 0..{S - 1}")
    A = len(table[0])
    if start.shape != (S,):
        raise ValueError(f"initial_state_distrib has shape {start.shape}; expected ({S},)")
    P = np.zeros((S + 1, A, S + 1))
    r = np.zeros((S + 1, A))
    for s in range(S):
        row = table[s]
        if len(row) != A or sorted(int(a) for a in row) != list(range(A)):
            raise ValueError(f"state {s} has actions {sorted(row)}; expected 0..{A - 1}")
        for a in range(A):
            for entry in row[a]:
                prob, s2, reward, terminated = entry[0], entry[1], entry[2], entry[3]
                p = float(prob)
                if not 0.0 <= p <= 1.0:
                    raise ValueError(f"P[{s}][{a}] has probability {p}")
                if not 0 <= int(s2) < S:
                    raise ValueError(f"P[{s}][{a}] leads to state {s2} outside 0..{S - 1}")
                nxt = S if bool(terminated) else int(s2)
                P[s, a, nxt] += p
                r[s, a] += p * float(reward)
    P[S, :, S] = 1.0
    rho = np.concatenate([start, [0.0]])
    try:
        return TabularMDP(P, r, gamma, rho)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the converted Gymnasium table is not a valid MDP: {exc}") from exc


def to_mdptoolbox(mdp: TabularMDP) -> tuple[Array | list[Any], Array]:
    r"""The pymdptoolbox arrays ``(P, R)`` of ``mdp``, with R = mdp.r (S, A).

    Dense MDP: P is the (A, S, S) array P[a, s, s'] = mdp.P[s, a, s']. Sparse MDP: P is
    pymdptoolbox's sparse form, a list of A ``scipy.sparse.csr_matrix`` of shape (S, S) with
    ``P[a][s, s']`` = Pr(s' | s, a), taken from the rows s*A + a of ``mdp.P`` in O(nnz) without
    densifying. (``csr_matrix``, not ``csr_array``: pymdptoolbox's ``ValueIteration`` calls
    ``.todense().A1``, which only ``np.matrix`` has.)

    The arrays are fresh writable copies. γ and ρ are not part of pymdptoolbox's arrays (pass γ as
    its ``discount``).
    """
    if mdp.is_sparse:
        P: Any = mdp.P
        return [scipy.sparse.csr_matrix(P[a :: mdp.A], copy=True) for a in range(mdp.A)], mdp.r.copy()
    return np.ascontiguousarray(mdp.P.transpose(1, 0, 2)), mdp.r.copy()


def _is_sequence(x: Any) -> bool:
    """A list, tuple or object array (pymdptoolbox's sequence of per-action matrices)."""
    return isinstance(x, list | tuple) or (isinstance(x, np.ndarray) and x.dtype == object)


def _dense(x: Any) -> Array:
    """A dense float64 array from an array, a scipy-sparse matrix or a sequence of them."""
    if hasattr(x, "toarray"):
        return np.asarray(x.toarray(), dtype=np.float64)
    if _is_sequence(x):
        return np.stack([_dense(m) for m in x])
    return np.asarray(x, dtype=np.float64)


def _csr_blocks(P: Any) -> list[Any]:
    """The A matrices (S, S) of pymdptoolbox's P (a sequence of matrices or an (A, S, S) array) as csr_arrays."""
    if _is_sequence(P):
        mats = list(P)
    elif scipy.sparse.issparse(P) or np.ndim(P) != 3:
        raise ValueError(
            f"P must have pymdptoolbox's shape (A, S, S) = P[a, s, s'] or be a sequence of A (S, S) matrices; "
            f"got {'a sparse matrix of ' if scipy.sparse.issparse(P) else ''}shape {np.shape(P)}"
        )
    else:
        mats = list(np.asarray(P, dtype=np.float64))
    if not mats:
        raise ValueError("P must hold at least one action: pymdptoolbox's shape (A, S, S) with A >= 1")
    blocks: list[Any] = []
    for a, m in enumerate(mats):
        blk = scipy.sparse.csr_array(m) if scipy.sparse.issparse(m) else None
        if blk is None:
            arr = np.asarray(m)
            if arr.ndim != 2:
                raise ValueError(f"P[{a}] must be an (S, S) matrix (pymdptoolbox's shape (A, S, S)); got {arr.shape}")
            blk = scipy.sparse.csr_array(arr)
        if blk.ndim != 2 or blk.shape[0] != blk.shape[1] or (blocks and blk.shape != blocks[0].shape):
            raise ValueError(
                f"P must have pymdptoolbox's shape (A, S, S) = P[a, s, s']: P[{a}] has shape {blk.shape}"
                + (f", P[0] has {blocks[0].shape}" if blocks else "")
            )
        blocks.append(blk)
    return blocks


def _sparse_from_mdptoolbox(P: Any, R: Any) -> tuple[Any, Array]:
    """The (S·A, S) CSR transition matrix (row s*A + a = P[a][s, :]) and r (S, A), in O(nnz + S·A)."""
    blocks = _csr_blocks(P)
    A, S = len(blocks), blocks[0].shape[0]
    stacked = scipy.sparse.vstack(blocks, format="csr")  # row a*S + s
    order = (np.arange(A)[None, :] * S + np.arange(S)[:, None]).ravel()  # order[s*A + a] = a*S + s
    P_csr = stacked[order]
    if _is_sequence(R) and any(scipy.sparse.issparse(m) for m in R):
        if len(R) != A:
            raise ValueError(f"R as a sequence of sparse matrices must have A = {A} (S, S) transition rewards")
        Rs = [scipy.sparse.csr_array(m) for m in R]
        if any(m.shape != (S, S) for m in Rs):
            raise ValueError(f"R as a sequence of A matrices must have shape (S, S) = {(S, S)} each")
        r = np.column_stack([np.asarray(b.multiply(m).sum(axis=1)).ravel() for b, m in zip(blocks, Rs, strict=True)])
        return P_csr, r
    r = _rewards(
        R,
        S,
        A,
        lambda Ra: np.column_stack([np.asarray(b.multiply(Ra[a]).sum(axis=1)).ravel() for a, b in enumerate(blocks)]),
    )
    return P_csr, r


def _rewards(R: Any, S: int, A: int, expected: Callable[[Array], Array]) -> Array:
    """The rewards r (S, A) from pymdptoolbox's R, dense or sparse P alike.

    R of shape (S, A) as is; (S,) the same for every action; (A, S, S) transition rewards, reduced to
    r[s, a] = Σ_{s'} P[a, s, s'] R[a, s, s'] by ``expected``.
    """
    Ra = _dense(R)
    if Ra.shape == (S, A):
        return Ra
    if Ra.shape == (S,):
        return np.repeat(Ra[:, None], A, axis=1)
    if Ra.shape == (A, S, S):
        return expected(Ra)
    raise ValueError(f"R must have shape (S, A) = {(S, A)}, (S,) = {(S,)} or (A, S, S) = {(A, S, S)}; got {Ra.shape}")


def from_mdptoolbox(P: Any, R: Any, gamma: float, rho: Any = None, *, sparse: bool | None = None) -> TabularMDP:
    r"""TabularMDP from pymdptoolbox's arrays.

    Parameters
    ----------
    P
        Transitions P[a, s, s'] of shape (A, S, S), or a sequence (list, tuple, object array) of A
        (S, S) matrices, dense or scipy-sparse.
    R
        Rewards of shape (S, A); or (S,) — a state reward, the same for every action; or
        (A, S, S) — transition rewards R[a, s, s'], converted to r[s, a] = Σ_{s'} P[a, s, s'] R[a, s, s']
        (also as a sequence of A (S, S) matrices, dense or scipy-sparse).
    gamma
        Discount in [0, 1) (pymdptoolbox's ``discount``; its undiscounted γ = 1 is not supported).
    rho
        Start distribution (S,); uniform when None.
    sparse
        Storage of the result. None (default): sparse exactly when P is a sequence holding at
        least one scipy-sparse matrix (dense members are converted). True: sparse, also from a
        dense P. False: dense (densifies sparse P and R). A sparse result is built in
        O(nnz + S·A) without densifying: P becomes the (S·A, S) ``csr_array`` with row s*A + a =
        P[a][s, :], and transition rewards given as a sequence of sparse matrices stay sparse.

    Raises
    ------
    ValueError
        On inconsistent shapes, or arrays that do not form a valid MDP (message from TabularMDP).
    TypeError
        When the entries are not real numbers (message from TabularMDP).
    """
    if sparse is None:
        sparse = _is_sequence(P) and any(scipy.sparse.issparse(m) for m in P)
    if sparse:
        P_csr, r = _sparse_from_mdptoolbox(P, R)
        S = P_csr.shape[1]
        return TabularMDP(P_csr, r, gamma, np.full(S, 1.0 / S) if rho is None else rho)
    Pa = _dense(P)
    if Pa.ndim != 3 or Pa.shape[1] != Pa.shape[2]:
        raise ValueError(f"P must have pymdptoolbox's shape (A, S, S) = P[a, s, s']; got {Pa.shape}")
    A, S, _ = Pa.shape
    r = _rewards(R, S, A, lambda Ra: np.einsum("ast,ast->sa", Pa, Ra))
    rho_arr = np.full(S, 1.0 / S) if rho is None else rho
    return TabularMDP(Pa.transpose(1, 0, 2), r, gamma, rho_arr)
