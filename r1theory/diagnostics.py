"""How well each rank-1 variant approximates the damped natural gradient.

For a method whose direction is M g with a fixed preconditioner M (``r1-grad``: (λI + ggᵀ)^{-1};
``r1-eigen``: (λI + σ₁v₁v₁ᵀ)^{-1}; ``r1-precond``: E_{s∼d,a∼π}[(λI + uuᵀ)^{-1}];
``npg-damped``: (F + λI)^{-1} itself), the error on the range of F is

    E = Π (M − (F + λI)^{-1}) Π,   Π = F F⁺ the orthogonal projector onto range(F),

reported in spectral norm, Frobenius norm, and spectral norm relative to ‖Π(F + λI)^{-1}Π‖₂.
``r1-same`` (V2) has no fixed preconditioner (its per-sample inverse multiplies the per-sample
gradient), so only its direction is compared.

Every method is compared with the natural gradient F⁺∇J by the cosine of the two directions after
centring each state's block (the per-state-centred subspace, where directions that differ by a
per-state constant — the same policy update — coincide).

The matrices are dense (S·A)², so these diagnostics are for small and moderate instances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._types import Array
from .directions import DAMPED_METHODS, direction_at
from .fisher import TabularFisher, fisher_at, npg_closed_form
from .mdp import TabularMDP
from .point import PolicyPoint, policy_point
from .score import score_sq_norm, scores
from .sherman_morrison import sherman_morrison

#: Largest S·A for which dense diagnostics are formed.
MAX_DENSE = 4000


@dataclass(frozen=True)
class Diagnostic:
    """One method's agreement with the (damped) natural gradient at one θ.

    Attributes
    ----------
    method : the method name.
    cosine : cosine between the method's direction and F⁺∇J, per-state centred; NaN if either is 0.
    spectral_error, frobenius_error, relative_spectral_error : norms of Π(M − (F + λI)^{-1})Π;
        None for methods without a fixed preconditioner (``r1-same``, ``pg``).
    """

    method: str
    cosine: float
    spectral_error: float | None
    frobenius_error: float | None
    relative_spectral_error: float | None


def centred_cosine(x: Array, y: Array) -> float:
    """Cosine of x and y after subtracting each state's mean (rows of (S, A) arrays); NaN if one is 0."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    nx, ny = float(np.linalg.norm(xc)), float(np.linalg.norm(yc))
    if nx == 0.0 or ny == 0.0:
        return float("nan")
    return float(np.vdot(xc, yc) / (nx * ny))


def _blockdiag(blocks: Array) -> Array:
    S, A, _ = blocks.shape
    out = np.zeros((S, A, S, A))
    idx = np.arange(S)
    out[idx, :, idx, :] = blocks
    return out.reshape(S * A, S * A)


def preconditioner(point: PolicyPoint, method: str, damping: float) -> Array | None:
    """Dense preconditioner M of ``method`` at ``point`` (None if the method has none)."""
    S, A = point.pi.shape
    n = S * A
    F = fisher_at(point)
    if method == "npg-damped":
        return np.stack([F.solve(e, damping) for e in np.eye(n)], axis=1)
    if method == "r1-grad":
        return sherman_morrison(point.gradient.ravel(), damping).dense()
    if method == "r1-eigen":
        sigma, v = F.top_eigenpair()
        return sherman_morrison(np.sqrt(sigma) * v.ravel(), damping).dense()
    if method == "r1-precond":
        U = scores(point.pi)  # (S, A, A): U[s, a] = u_{s,a} on block s
        w = point.ev.d[:, None] * point.pi / (damping * (damping + score_sq_norm(point.pi)))
        corr = np.einsum("sa,sai,saj->sij", w, U, U)
        return np.eye(n) / damping - _blockdiag(corr)
    return None


def _range_projector(F: TabularFisher) -> Array:
    n = F.shape[0]
    return np.stack([F.project_range(e) for e in np.eye(n)], axis=1)


def fisher_diagnostics(mdp: TabularMDP, theta: Any, damping: float) -> dict[str, Diagnostic]:
    """Diagnostics of ``pg`` and every damped method at θ with damping λ > 0.

    Raises
    ------
    ValueError
        If S·A exceeds :data:`MAX_DENSE` or the damping is not > 0.
    """
    point = policy_point(mdp, theta)
    n = point.pi.size
    if n > MAX_DENSE:
        raise ValueError(f"fisher_diagnostics forms dense (S·A)² matrices; S·A = {n} exceeds {MAX_DENSE}")
    npg = npg_closed_form(point)
    Pi = _range_projector(TabularFisher(d=point.ev.d, pi=point.pi))
    out: dict[str, Diagnostic] = {}
    ref = None
    for method in ("pg", *sorted(DAMPED_METHODS)):
        lam = None if method == "pg" else damping
        cos = centred_cosine(direction_at(point, method, lam), npg)
        M = None if lam is None else preconditioner(point, method, lam)
        if M is None:
            out[method] = Diagnostic(method, cos, None, None, None)
            continue
        if ref is None:
            ref = Pi @ preconditioner(point, "npg-damped", damping) @ Pi  # type: ignore[operator]
        E = Pi @ M @ Pi - ref
        E = 0.5 * (E + E.T)
        spec = float(np.max(np.abs(np.linalg.eigvalsh(E))))
        ref_norm = float(np.max(np.abs(np.linalg.eigvalsh(0.5 * (ref + ref.T)))))
        rel = spec / ref_norm if ref_norm > 0 else float("nan")
        out[method] = Diagnostic(method, cos, spec, float(np.linalg.norm(E)), rel)
    return out
