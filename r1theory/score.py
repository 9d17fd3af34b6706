"""The softmax score ∇_θ log π(a|s) = e_{(s,a)} − Σ_b π(b|s) e_{(s,b)} and its squared norm.

The score of (s, a) lives on block s only, with entries e_a − π_s, so
‖∇log π(a|s)‖² = n(s, a) = (1 − π(a|s))² + Σ_{b≠a} π(b|s)² = 1 − 2π(a|s) + ‖π_s‖²,
which lies in [0, 2) and vanishes only when π_s = e_a (docs/claims.md, notation).

The cancellation-safe forms below single out the dominant action m = argmax_a π(a|s) of each state
(``np.argmax``: the lowest index among exactly tied maxima). Every formula holds for any m in exact
arithmetic, and for any maximiser the rewritten entry has no cancellation, so ties affect only the
rounding (issue #14).
"""

from __future__ import annotations

import numpy as np

from ._einsum import einsum
from ._types import Array


def score_sq_norm(pi: Array) -> Array:
    """n(s, a) = ‖∇_θ log π(a|s)‖², shape (S, A), accurate also for near-deterministic π.

    For a ≠ argmax, π(a|s) ≤ 1/2 and 1 − 2π + ‖π‖² ≥ 1/4 has no cancellation. For the most
    likely action m the naive formula subtracts numbers near 1, so it is formed as
    (Σ_{b≠m} π_b)² + Σ_{b≠m} π_b², each term a sum of small nonnegative numbers.
    """
    rows = np.arange(pi.shape[0])
    n = 1.0 - 2.0 * pi + np.einsum("sa,sa->s", pi, pi)[:, None]
    m = np.argmax(pi, axis=1)
    others = pi.copy()
    others[rows, m] = 0.0
    n[rows, m] = others.sum(axis=1) ** 2 + np.einsum("sa,sa->s", others, others)
    return n


def scores(pi: Array) -> Array:
    """All scores restricted to their block: ``G[s, a, :] = e_a − π_s``, shape (S, A, A)."""
    A = pi.shape[1]
    return np.eye(A)[None, :, :] - pi[:, None, :]


def one_minus(pi: Array) -> Array:
    """1 − π(a|s), accurate also for the dominant action (formed as Σ_{b≠m} π(b|s))."""
    out = 1.0 - pi
    rows = np.arange(pi.shape[0])
    m = np.argmax(pi, axis=1)
    others = pi.copy()
    others[rows, m] = 0.0
    out[rows, m] = others.sum(axis=1)
    return out


def score_dot(x: Array, pi: Array) -> Array:
    """u_{s,a}ᵀ x_s = x(s, a) − Σ_b π(b|s) x(s, b) for every (s, a), shape (S, A, ...).

    ``x`` has shape (S, A) or (S, A, k) (then each trailing column is centred: the rows of the
    parametrisation's score Jᵀu). For the dominant action m the difference is formed as
    Σ_b π(b|s)(x(s, m) − x(s, b)), which has no cancellation when π(m|s) is close to 1.
    """
    rows = np.arange(pi.shape[0])
    m = pi.argmax(axis=1)
    if x.ndim == 2:
        # (s, m(s)) by flat index: take/put address the same entries as x[rows, m] with less overhead
        # (this runs once per evaluation, i.e. per iterate)
        fm = rows * x.shape[1] + m
        out = x - einsum("sa,sa->s", pi, x)[:, None]
        out.put(fm, einsum("sb,sb->s", pi, x.take(fm)[:, None] - x))
        return out
    # trailing dimensions: batched products π_sᵀ X_s. The dominant rows are formed first so that their
    # (S, A, k) temporary is freed before the result is allocated: one large live array at a time
    # (with two, glibc returned the memory to the OS on every call and the page faults made this
    # 6× slower at (S, A, k) = (50, 4, 1000)).
    X = x.reshape(x.shape[0], x.shape[1], -1)
    w = pi[:, None, :]
    dominant = np.matmul(w, X[rows, m][:, None, :] - X)[:, 0]
    out = X - np.matmul(w, X)
    out[rows, m] = dominant
    return out.reshape(x.shape)


def combine_scores(c: Array, pi: Array) -> Array:
    """Σ_a c(s, a) u_{s,a} on each block: c(s, ·) − π_s Σ_a c(s, a), shape (S, A).

    For the dominant action m, c_m − π_m Σ_a c_a = c_m (1 − π_m) − π_m Σ_{a≠m} c_a is formed with the
    accurate 1 − π_m of :func:`one_minus`, avoiding the cancellation of c_m against π_m c_m.
    """
    total = c.sum(axis=1, keepdims=True)
    out = c - pi * total
    rows = np.arange(pi.shape[0])
    m = np.argmax(pi, axis=1)
    rest = c.copy()
    rest[rows, m] = 0.0
    out[rows, m] = c[rows, m] * one_minus(pi)[rows, m] - pi[rows, m] * rest.sum(axis=1)
    return out
