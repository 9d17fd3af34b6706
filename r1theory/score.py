"""The softmax score ∇_θ log π(a|s) = e_{(s,a)} − Σ_b π(b|s) e_{(s,b)} and its squared norm.

The score of (s, a) lives on block s only, with entries e_a − π_s, so
‖∇log π(a|s)‖² = n(s, a) = (1 − π(a|s))² + Σ_{b≠a} π(b|s)² = 1 − 2π(a|s) + ‖π_s‖²,
which lies in [0, 2) and vanishes only when π_s = e_a (paper-claims.md §1.4).
"""

from __future__ import annotations

import numpy as np

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
