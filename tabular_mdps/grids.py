r"""Grid worlds: a gridworld with walls and Sutton & Barto's cliff walking, rewards in [0, 1].

Moves (both instances, as Gymnasium's CliffWalking): action 0 = up, 1 = right, 2 = down, 3 = left.
A move into a wall or off the grid leaves the agent in place. With ``slip`` > 0 the executed move
is the intended one with probability 1 − slip and a uniformly random one of the four (possibly the
intended one) with probability slip.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from r1theory import TabularMDP

from ._checks import check_int, check_real
from ._types import Array
from .registry import Built, register

__all__ = ["DEFAULT_LAYOUT", "MOVES", "cliff_walking", "grid_cells", "gridworld"]

#: (row, column) offsets of actions 0..3: up, right, down, left.
MOVES: tuple[tuple[int, int], ...] = ((-1, 0), (0, 1), (1, 0), (0, -1))

#: Default gridworld: ``S`` start, ``G`` goal, ``#`` wall, ``.`` free. Shortest path: 8 moves.
DEFAULT_LAYOUT: tuple[str, ...] = (
    "S...#",
    ".##.#",
    ".#...",
    ".#.#.",
    "...#G",
)


def _move_matrix(free: Array, slip: float) -> Array:
    """Transition tensor (R·C, 4, R·C) over all cells for the free-cell mask ``free`` (R, C)."""
    R, C = free.shape
    n = R * C
    det = np.zeros((n, 4), dtype=np.int64)  # deterministic successor of (cell, move)
    for i in range(R):
        for j in range(C):
            for a, (di, dj) in enumerate(MOVES):
                ni, nj = i + di, j + dj
                ok = 0 <= ni < R and 0 <= nj < C and bool(free[ni, nj])
                det[i * C + j, a] = ni * C + nj if ok else i * C + j
    P = np.zeros((n, 4, n))
    for a in range(4):
        for b in range(4):
            w = (1.0 - slip) * (a == b) + slip / 4.0
            if w > 0.0:
                P[np.arange(n), a, det[:, b]] += w  # (cell, a, successor) distinct over cells
    return P


def grid_cells(layout: Sequence[str]) -> list[tuple[int, int]]:
    """(row, column) of every non-wall cell of ``layout`` in row-major order: state s is ``cells[s]``."""
    return [(i, j) for i, row in enumerate(layout) for j, ch in enumerate(row) if ch != "#"]


def _parse(layout: Sequence[str]) -> tuple[Array, tuple[int, int], tuple[int, int]]:
    if isinstance(layout, str) or len(layout) == 0:
        raise TypeError("layout must be a non-empty sequence of equal-length strings")
    width = len(layout[0])
    if width == 0 or any(not isinstance(row, str) or len(row) != width for row in layout):
        raise ValueError("layout rows must be non-empty strings of equal length")
    bad = {ch for row in layout for ch in row} - set("SG#.")
    if bad:
        raise ValueError(f"layout may contain only 'S', 'G', '#', '.'; found {sorted(bad)}")
    starts = [(i, j) for i, row in enumerate(layout) for j, ch in enumerate(row) if ch == "S"]
    goals = [(i, j) for i, row in enumerate(layout) for j, ch in enumerate(row) if ch == "G"]
    if len(starts) != 1 or len(goals) != 1:
        raise ValueError(f"layout needs exactly one 'S' and one 'G'; found {len(starts)} and {len(goals)}")
    free = np.array([[ch != "#" for ch in row] for row in layout])
    return free, starts[0], goals[0]


def gridworld(layout: Sequence[str] = DEFAULT_LAYOUT, *, gamma: float = 0.9, slip: float = 0.0) -> TabularMDP:
    r"""Gridworld with walls: reward 1 for entering the goal, which is then absorbing with reward 0.

    States are the non-wall cells in row-major order (:func:`grid_cells`); walls are not states.
    r(s, a) = Pr(s' = G | s, a) for s ≠ G, and r(G, ·) = 0 with P(G | G, ·) = 1 (episode over).
    ρ is the start cell. With ``slip = 0`` and shortest path length d (moves) from S to G,
    V*(S) = γ^{d−1}: the reward arrives at step d − 1. Several shortest paths make Q* ties.
    """
    free, start, goal = _parse(layout)
    g = check_real(gamma, "gamma", 0.0, 1.0)
    p = check_real(slip, "slip", 0.0, 1.0, closed_high=True)
    full = _move_matrix(free, p)
    idx = np.flatnonzero(free.ravel())
    P = full[np.ix_(idx, np.arange(4), idx)]
    cells = grid_cells(layout)
    gs = cells.index(goal)
    r = P[:, :, gs].copy()
    P[gs] = 0.0
    P[gs, :, gs] = 1.0
    r[gs] = 0.0
    rho = np.zeros(len(cells))
    rho[cells.index(start)] = 1.0
    return TabularMDP(P, r, g, rho)


@register(
    "gridworld",
    summary="gridworld with walls (5x5 default): +1 for entering the goal, optional slip",
    source="standard textbook gridworld (Sutton & Barto 2018, ch. 3-4 style)",
    used_by="sparse-reward, multi-step instance for PG vs NPG vs rank-1 comparisons; exact V* = γ^(d−1)",
    provenance="standard",
)
def _gridworld(*, layout: tuple[str, ...] = DEFAULT_LAYOUT, gamma: float = 0.9, slip: float = 0.0) -> Built:
    """Gridworld with walls; see :func:`tabular_mdps.grids.gridworld` (states = free cells, row-major)."""
    return Built(gridworld(tuple(layout), gamma=gamma, slip=slip), None, "states are the free cells, row-major")


def cliff_walking(rows: int = 4, cols: int = 12, *, gamma: float = 0.9, slip: float = 0.0) -> TabularMDP:
    r"""Sutton & Barto's cliff walking (Example 6.6), continuing form, rewards mapped affinely to [0, 1].

    Grid ``rows`` × ``cols``, state s = row·cols + col (Gymnasium's CliffWalking indexing), start at
    the bottom-left, goal at the bottom-right, cliff on the bottom row between them. Original
    rewards: −1 per move, −100 for a move into the cliff, which returns the agent to the start; the
    episode ends on reaching the goal. Here the goal is absorbing with original reward 0 per step
    (the same returns as ending the episode), and every reward is mapped by u ↦ (u + 100)/100:
    a move pays 0.99, a fall 0, each step at the goal 1. An affine map of *all* rewards of a
    continuing MDP keeps every policy's ranking: V' = (V + 100/(1 − γ))/100. Cliff cells are states
    that are never occupied (moves into them are redirected to the start).

    Closed form (slip = 0): the optimal path walks along the cliff edge, n = cols + 1 moves, so
    V*(start) = ((−(1 − γ^n)/(1 − γ)) + 100/(1 − γ))/100.
    """
    R = check_int(rows, "rows", 2)
    C = check_int(cols, "cols", 2)
    g = check_real(gamma, "gamma", 0.0, 1.0)
    p = check_real(slip, "slip", 0.0, 1.0, closed_high=True)
    n = R * C
    start, goal = (R - 1) * C, (R - 1) * C + C - 1
    cliff = set(range(start + 1, goal))
    moved = _move_matrix(np.ones((R, C), dtype=bool), p)
    P = np.zeros((n, 4, n))
    r = np.zeros((n, 4))
    for s in range(n):
        if s == goal:
            P[s, :, s] = 1.0
            r[s, :] = 1.0
            continue
        for a in range(4):
            for s2 in np.flatnonzero(moved[s, a]):
                w = moved[s, a, s2]
                if int(s2) in cliff:  # fall: back to the start, original reward −100 ↦ 0
                    P[s, a, start] += w
                else:  # ordinary move: −1 ↦ 0.99
                    P[s, a, s2] += w
                    r[s, a] += w * 0.99
    rho = np.zeros(n)
    rho[start] = 1.0
    return TabularMDP(P, r, g, rho)


@register(
    "cliff",
    summary="cliff walking 4x12 (Sutton & Barto Ex. 6.6), continuing form, rewards (u+100)/100 in [0, 1]",
    source="Sutton & Barto 2018, Example 6.6; indexing as Gymnasium's CliffWalking",
    used_by="risky-path instance (slip > 0 makes the safe path optimal); converter cross-check with Gymnasium",
    provenance="standard",
)
def _cliff(*, rows: int = 4, cols: int = 12, gamma: float = 0.9, slip: float = 0.0) -> Built:
    """Cliff walking; see :func:`tabular_mdps.grids.cliff_walking`."""
    notes = "V' = (V_orig + 100/(1−γ))/100, where V_orig uses Sutton & Barto's −1 / −100 rewards."
    return Built(cliff_walking(rows, cols, gamma=gamma, slip=slip), None, notes)
