"""Update directions of the method family (docs/claims.md#the-method-family).

Every method updates θ ← θ + η · direction(method, mdp, θ). With g = ∇J (exact policy gradient),
F the true Fisher, u_{s,a} = ∇log π(a|s) the score and n(s,a) = ‖u_{s,a}‖²:

==============  ===============================================================================
``pg``          g
``npg``         F⁺g = per-state-centred A/(1−γ) (closed form, Agarwal et al. 2021, Lemma 5.1)
``npg-damped``  (F + λI)^{-1} g (blockwise Sherman–Morrison, O(SA))
``r1-eigen``    (λI + σ₁v₁v₁ᵀ)^{-1} g, σ₁v₁v₁ᵀ a best rank-1 approximation of F (Eckart–Young), with the
                canonical v₁ = P_E g/‖P_E g‖, E the top eigenspace (eigenvalues ≥ (1 − 1e-9)σ₁);
                if P_E g = 0, the fallback of :class:`r1theory.fisher.TopEigenspace`
``r1-grad``     (λI + g gᵀ)^{-1} g = g/(λ + ‖g‖²)                          (V1)
``r1-same``     E_{s∼d,a∼π}[(λI + u uᵀ)^{-1} Â u], Â = A(s,a)/(1−γ)        (V2)
``r1-precond``  E_{s∼d,a∼π}[(λI + u uᵀ)^{-1}] g                            (V3)
==============  ===============================================================================

All rank-1 inverses are Sherman–Morrison, (λI + uuᵀ)^{-1}v = (v − u(uᵀv)/(λ + ‖u‖²))/λ, applied
without forming a matrix. For the two expectations over (s, a) the per-sample formulas are
summed in closed form, O(SA) in total for tabular softmax (derivations in each function's
docstring). For another parametrisation (:mod:`r1theory.policies`) with logit Jacobian J, the
score is u_{s,a} = Jᵀ(e_{(s,a)} − π_s): every logit-space sum is pulled back by Jᵀ once, and
n(s,a) = ‖u_{s,a}‖² costs O(S·A·k).

Batched directions. Every built-in method also has a ``batch_direction`` (:class:`r1theory.Method`): the
same formula evaluated at B tabular-softmax points of one MDP at once (a
:class:`r1theory.batch.BatchPolicyPoint`, per-point dampings λ of shape (B,)), written beside its single
form with the same elementwise operations (the reductions over actions and the dot products may sum in
another order, so rows agree to rounding), for :func:`r1theory.iterate_batch`. ``pg``, ``npg``,
``npg-damped``, ``r1-grad``, ``r1-same`` and ``r1-precond`` are vectorised outright. ``r1-eigen`` is
vectorised for every row whose canonical v₁ is the projection P_E g/‖P_E g‖ of the gradient
(:func:`_r1_eigen_batch`: the candidate blocks of all rows are diagonalised in one stacked ``eigh``), and
falls back to the single :func:`_r1_eigen` on the rows where :class:`r1theory.fisher.TopEigenspace` needs
its deterministic fallback vector (‖P_E g‖ ≤ rtol·‖g‖, e.g. g = 0), where F = 0 (σ₁ ≤ 0), and for A = 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import batch_param as bp
from ._types import Array, IntArray
from .batch import BatchPolicyPoint, combine_scores_rows, max_actions, score_dot_rows, sum_actions
from .fisher import TOP_RTOL, fisher_at, natural_gradient_at, npg_closed_form
from .mdp import TabularMDP
from .methods import DAMPED_METHODS, METHODS, Method, Operator, Preconditioner, get_method, register_method
from .point import PolicyPoint, policy_point
from .policies import Parametrisation
from .score import combine_scores, score_dot
from .sherman_morrison import sherman_morrison

__all__ = ["DAMPED_METHODS", "METHODS", "check_method", "direction", "direction_at", "same_sample_sum"]


def _pg(p: PolicyPoint, lam: float) -> Array:
    return p.gradient


def _npg(p: PolicyPoint, lam: float) -> Array:
    """F⁺∇J: :func:`r1theory.fisher.natural_gradient_at` at λ = 0 (for tabular softmax its closed form, directly)."""
    return npg_closed_form(p) if p.param.is_tabular else natural_gradient_at(p, 0.0)


def _npg_damped(p: PolicyPoint, lam: float) -> Array:
    return fisher_at(p).solve(p.gradient, lam)


def _r1_eigen(p: PolicyPoint, lam: float) -> Array:
    """(λI + σ₁v₁v₁ᵀ)^{-1} g by Sherman–Morrison with u = √σ₁ v₁, v₁ canonical.

    σ₁v₁v₁ᵀ is a best rank-1 approximation of F (Eckart–Young); it is unique only when σ₁ is simple, and
    at θ = 0 (the uniform policy) it never is: every block has the eigenvalue d(s)/A with multiplicity
    A − 1, and states of equal d tie across blocks. So v₁ is defined from the top eigenspace E (all
    eigenpairs with eigenvalue ≥ (1 − :data:`r1theory.fisher.TOP_RTOL`)σ₁, across all blocks), which is a
    function of F: v₁ = P_E g/‖P_E g‖, the limit of power iteration on F started at g = ∇J
    (:meth:`r1theory.fisher.TopEigenspace.canonical_vector`). When P_E g vanishes, every unit v ∈ E gives
    the same direction g/λ, and v₁ is the stated deterministic fallback. The direction is then a function
    of the MDP and θ alone, equivariant under relabelling states and actions.
    """
    g = p.gradient
    sigma, v = fisher_at(p).top_eigenpair(toward=g)
    return sherman_morrison(np.sqrt(sigma) * v.ravel(), lam).mv(g.ravel()).reshape(g.shape)


def _r1_eigen_preconditioner(p: PolicyPoint, lam: float) -> Preconditioner:
    """(λI + σ₁v₁v₁ᵀ)^{-1}, Sherman–Morrison with u = √σ₁ v₁ (the canonical v₁ of :func:`_r1_eigen`)."""
    sigma, v = fisher_at(p).top_eigenpair(toward=p.gradient)
    return sherman_morrison(np.sqrt(sigma) * v.ravel(), lam)


def _r1_grad(p: PolicyPoint, lam: float) -> Array:
    """(λI + ggᵀ)^{-1} g = g/(λ + ‖g‖²) (Sherman–Morrison with u = v = g)."""
    g = p.gradient
    return g / (lam + float(np.vdot(g, g)))


def _r1_grad_preconditioner(p: PolicyPoint, lam: float) -> Preconditioner:
    """(λI + ggᵀ)^{-1}, Sherman–Morrison with u = g = ∇J."""
    return sherman_morrison(p.gradient.ravel(), lam)


def _npg_damped_preconditioner(p: PolicyPoint, lam: float) -> Preconditioner:
    """(F + λI)^{-1}, applied by the Fisher's own damped solve (blockwise for tabular softmax)."""
    F, shape = fisher_at(p), p.theta.shape
    return Operator(p.theta.size, lambda v: F.solve(v.reshape(shape), lam).ravel())


def same_sample_sum(p: PolicyPoint, lam: float, X: Array) -> Array:
    """Σ_{s,a} d(s)π(a|s) X(s,a) u_{s,a}/((1 − γ)(λ + n(s,a))), θ-shaped: the same-sample rank-1 sum.

    Sherman–Morrison with v = u gives (λI + uuᵀ)^{-1}u = u/(λ + ‖u‖²), so this is
    E_{s∼d,a∼π}[(λI + uuᵀ)^{-1} u X(s,a)/(1 − γ)]. With c(s,a) = π(a|s)X(s,a)/((1−γ)(λ + n(s,a))) and
    u_{s,a} = e_a − π_s on block s, the sum over a is c_s − π_s Σ_a c(s,a) (formed without cancellation by
    :func:`r1theory.score.combine_scores`); block s is scaled by d(s) and pulled back by Jᵀ.
    X = A gives V2 (``r1-same``); X = Q − b the same-sample expectation with a baseline b
    (:func:`r1theory.stochastic.same_sample_term`).
    """
    c = p.pi * X / ((1.0 - p.mdp.gamma) * (lam + p.lin.score_sq_norm(p.pi)))
    return p.lin.pullback(p.ev.d[:, None] * combine_scores(c, p.pi))


def _r1_same(p: PolicyPoint, lam: float) -> Array:
    """V2: Σ_s d(s) Σ_a π(a|s) Â(s,a) u_{s,a}/(λ + n(s,a)), Â = A/(1 − γ) (:func:`same_sample_sum` with X = A)."""
    return same_sample_sum(p, lam, p.ev.A)


def _r1_precond_preconditioner(p: PolicyPoint, lam: float) -> Preconditioner:
    """V3's M = E_{s∼d,a∼π}[(λI + uuᵀ)^{-1}]: Mv = v/λ − Σ_{s,a} d(s)π(a|s) u_{s,a}(u_{s,a}ᵀv)/(λ(λ + n(s,a))).

    Σ_{s,a} d(s)π(a|s) = 1 gives the v/λ term (Sherman–Morrison per sample); u_{s,a}ᵀv = ℓ(s,a) − π_s·ℓ_s
    with ℓ = Jv the logit-space image of v. With c(s,a) = d(s)π(a|s)(u_{s,a}ᵀv)/(λ(λ + n(s,a))), the
    correction on block s is c_s − π_s Σ_a c(s,a), pulled back by Jᵀ.
    """
    shape, n_sq = p.theta.shape, p.lin.score_sq_norm(p.pi)

    def apply(v: Array) -> Array:
        x = v.reshape(shape)
        uv = score_dot(p.lin.pushforward(x), p.pi)
        c = p.ev.d[:, None] * p.pi * uv / (lam * (lam + n_sq))
        return (x / lam - p.lin.pullback(combine_scores(c, p.pi))).ravel()

    return Operator(p.theta.size, apply)


def _r1_precond(p: PolicyPoint, lam: float) -> Array:
    """V3: E[(λI + uuᵀ)^{-1}] g, its preconditioner applied to g = ∇J."""
    g = p.gradient
    return _r1_precond_preconditioner(p, lam).mv(g.ravel()).reshape(g.shape)


# ---------------------------------------------------------------------------------------------
# Batched directions (module docstring): B points of one MDP, dampings λ of shape (B,)
# ---------------------------------------------------------------------------------------------
def _rows(p: BatchPolicyPoint) -> tuple[int, int, int]:
    n, S, A = p.pi.shape
    return n, S, A


def _per_row(fn: Callable[[PolicyPoint, float], Array], p: BatchPolicyPoint, lam: Array) -> Array:
    """The single direction ``fn`` at every point of the batch, stacked (the fallback of a batched direction)."""
    n, S, A = _rows(p)
    out = np.empty((n, S, A))
    for b in range(n):
        out[b] = fn(p[b], float(lam[b]))
    return out


def _pg_batch(p: BatchPolicyPoint, lam: Array) -> Array:
    """∇J at every point."""
    return p.gradient


def _npg_batch(p: BatchPolicyPoint, lam: Array) -> Array:
    """F⁺∇J: the per-state-centred advantage over (1 − γ) on reachable states (:func:`r1theory.npg_closed_form`)."""
    A = p.ev.A
    centred = A - (sum_actions(A) / A.shape[2])[:, :, None]  # the uniform mean (bit for bit A.mean(axis=-1))
    return np.where(p.ev.d[:, :, None] > 0, centred, 0.0) / (1.0 - p.mdp.gamma)


def _npg_damped_batch(p: BatchPolicyPoint, lam: Array) -> Array:
    """(F + λI)^{-1}∇J by the blockwise Sherman–Morrison of :meth:`r1theory.TabularFisher.solve`, λ per point."""
    d, pi, x = p.ev.d, p.pi, p.gradient
    lam3 = lam[:, None, None]
    dpi = d[:, :, None] * pi
    Dinv = 1.0 / (dpi + lam3)
    denom = sum_actions(pi * (lam3 * Dinv))  # = 1 − d πᵀD⁻¹π > 0
    y = Dinv * x
    coef = d * sum_actions(pi * y) / denom
    return y + Dinv * pi * coef[:, :, None]


def _r1_grad_batch(p: BatchPolicyPoint, lam: Array) -> Array:
    """g/(λ + ‖g‖²) at every point."""
    g = p.gradient
    return g / (lam + np.einsum("bsa,bsa->b", g, g))[:, None, None]


def _r1_same_batch(p: BatchPolicyPoint, lam: Array) -> Array:
    """V2 (:func:`same_sample_sum` with X = A): Σ_a c(s,a)u_{s,a} scaled by d(s), c = πÂ/(λ + n)."""
    c = p.pi * p.ev.A / ((1.0 - p.mdp.gamma) * (lam[:, None, None] + p.score_sq_norm()))
    return p.ev.d[:, :, None] * combine_scores_rows(c, p.pi, p.dominant_flat, p.one_minus())


def _r1_precond_batch(p: BatchPolicyPoint, lam: Array) -> Array:
    """V3: E[(λI + uuᵀ)^{-1}] g (the operator of :func:`_r1_precond_preconditioner` applied to g), λ per point."""
    x, fm = p.gradient, p.dominant_flat
    lam3 = lam[:, None, None]
    uv = score_dot_rows(x, p.pi, fm)
    c = p.ev.d[:, :, None] * p.pi * uv / (lam3 * (lam3 + p.score_sq_norm()))
    return x / lam3 - combine_scores_rows(c, p.pi, fm, p.one_minus())


#: Iteration cap of the bracketing of :func:`_top_block_candidates` (each halves the log-width of a bracket).
_BRACKET_STEPS = 40
#: :func:`_top_block_candidates` stops narrowing once at most this many blocks per row (plus 8) remain.
_BLOCKS_PER_ROW = 2


def _top_block_candidates(p: BatchPolicyPoint) -> IntArray:
    """Flat indices b·S + s (ascending) of the blocks that may hold an eigenvalue of row b's top eigenspace.

    Block (b, s) of F^b is d(s)H(π_s), H(π) = diag π − ππᵀ, with top eigenvalue d(s)μ(π_s). A block is kept
    unless an upper bound of d(s)μ is below (1 − 2·rtol) times the largest lower bound in its row — the
    pruning rule of :meth:`r1theory.TabularFisher.top_eigenspace`, which only decides which blocks are
    diagonalised: E and σ₁ are then those of every block with an eigenvalue ≥ (1 − rtol)σ₁, whichever
    superset of them is kept (the factor 2 covers the rounding of the bounds). The brackets of μ:
    μ ≤ min(π_(1), tr H) and μ ≥ max(π_(2), xᵀHx) with x = (e_m − e_m')/√2 on the two most likely actions
    (interlacing, H ⪰ 0, Rayleigh), every term a sum of nonnegative products (1 − π from
    :meth:`r1theory.batch.BatchPolicyPoint.one_minus`: no cancellation); tied top probabilities give μ = π_(1) exactly.
    While more than 2 blocks per row (plus 8) remain, the brackets of all of them are narrowed together by
    bisection of the secular function f(μ) = 1 − Σ_a π_a²/(π_a − μ) (decreasing on (π_(2), π_(1)), as in the
    single code) at the geometric mean of each bracket, which halves its log-width per step (also for
    the tiny μ of a near-deterministic π); the remaining blocks are cheaper to diagonalise than to narrow.
    """
    n, S, A = _rows(p)
    keep = 1.0 - 2.0 * TOP_RTOL
    dflat = p.ev.d.reshape(-1)
    fm = p.dominant_flat
    pi, om = p.pi.reshape(n * S, A), p.one_minus().reshape(n * S, A)
    others = pi.copy()
    others.reshape(-1)[fm] = 0.0
    p1, p2 = pi.reshape(-1)[fm], max_actions(others)  # the two largest probabilities
    lo = np.maximum(p2, 0.5 * (p1 * om.reshape(-1)[fm] + p2 * (1.0 - p2) + 2.0 * p1 * p2))
    hi = np.maximum(np.minimum(p1, sum_actions(pi * om)), lo)  # rounding must not invert a bracket
    tied = p1 - p2 <= 1e-14 * p1
    lo[tied] = hi[tied] = p1[tied]
    thr = keep * (dflat * lo).reshape(n, S).max(axis=1)
    cand = np.flatnonzero(dflat * hi >= np.repeat(thr, S)).astype(np.int64)
    if cand.size <= _BLOCKS_PER_ROW * n + 8:
        return cand
    # narrow the candidates' brackets (compact arrays; the rows stay sorted, so np.maximum.reduceat finds
    # each row's largest lower bound)
    row, dc, lo, hi = cand // S, dflat[cand], lo[cand], hi[cand]
    pc = pi[cand]
    pc2, moving = pc**2, ~tied[cand]
    for _ in range(_BRACKET_STEPS):
        mid = np.where(lo > 0.0, np.sqrt(lo) * np.sqrt(hi), 0.5 * hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = 1.0 - np.sum(pc2 / (pc - mid[:, None]), axis=1)
        up = f > 0  # the root lies above mid
        lo = np.where(up & moving, mid, lo)
        hi = np.where(~up & moving, mid, hi)
        best = np.maximum.reduceat(dc * lo, np.searchsorted(row, np.arange(n)))  # every row keeps a block
        kept = dc * hi >= keep * best[row]
        if not kept.all():
            cand, row, dc, lo, hi = cand[kept], row[kept], dc[kept], lo[kept], hi[kept]
            pc, pc2, moving = pc[kept], pc2[kept], moving[kept]
        if cand.size <= _BLOCKS_PER_ROW * n + 8 or not (moving & (hi - lo > 0.25 * TOP_RTOL * hi)).any():
            break
    return cand


def _r1_eigen_batch(p: BatchPolicyPoint, lam: Array) -> Array:
    """(λI + σ₁v₁v₁ᵀ)^{-1} g at every point, v₁ = P_E g/‖P_E g‖ the canonical top eigenvector (:func:`_r1_eigen`).

    E (the top eigenspace of :meth:`r1theory.TabularFisher.top_eigenspace`) for all rows at once: the
    candidate blocks (:func:`_top_block_candidates`) of every row are diagonalised by one stacked
    ``numpy.linalg.eigh`` (each block's eigenpairs are those the single code computes from the same
    block), σ₁^b is the largest of row b's, and row b's eigenpairs with eigenvalue ≥ (1 − rtol)σ₁^b span
    E^b, in the single code's order (by state, then eigenvalue). P_E g = Σ_j b_j(b_jᵀg) is scattered as in
    :meth:`r1theory.fisher.TopEigenspace.project`, and Sherman–Morrison with u = √σ₁ v₁ reduces to
    g/λ − σ₁/(λ(λ + σ₁))·P_E g (uᵀg = √σ₁‖P_E g‖, ‖u‖² = σ₁). Rows with ‖P_E g‖ ≤ rtol·‖g‖ get the
    fallback v₁ of :meth:`r1theory.fisher.TopEigenspace.canonical_vector` (P_E e_i/‖P_E e_i‖, i the first
    flat index of the largest (P_E)_ii), vectorised over those rows, and (λI + uuᵀ)^{-1}g = (g − u(uᵀg)/(λ + σ₁))/λ;
    rows with σ₁ ≤ 0 or with A = 1 are computed by the single :func:`_r1_eigen`.
    """
    n, S, A = _rows(p)
    if n == 0 or A == 1:
        return _per_row(_r1_eigen, p, lam)
    rtol = TOP_RTOL
    g = p.gradient.reshape(n, S * A)
    cand = _top_block_candidates(p)
    # the candidate blocks d(s)(diag π_s − π_sπ_sᵀ), formed as TabularFisher.blocks_of forms them
    pc = p.pi.reshape(n * S, A)[cand]
    H = -pc[:, :, None] * pc[:, None, :]
    diag = np.arange(A)
    H[:, diag, diag] = pc * p.one_minus().reshape(n * S, A)[cand]  # π(1 − π) without cancellation
    H *= p.ev.d.reshape(-1)[cand][:, None, None]
    w, U = np.linalg.eigh(H)
    row = cand // S
    sigma = np.maximum.reduceat(w[:, -1], np.searchsorted(row, np.arange(n)))  # every row keeps its top block
    blk, col = np.nonzero(w >= ((1.0 - rtol) * sigma)[row][:, None])
    vectors = U[blk, :, col]  # (r, A): eigenvector col of candidate block blk
    index = (cand[blk] * A)[:, None] + np.arange(A)  # flat coordinates in the (n·S·A) batch
    gflat = g.reshape(-1)
    coef = np.einsum("jc,jc->j", vectors, gflat[index])
    pg = np.bincount(index.ravel(), weights=(coef[:, None] * vectors).ravel(), minlength=n * S * A).reshape(n, S * A)
    norm_pg = np.sqrt(np.einsum("bi,bi->b", pg, pg))
    norm_g = np.sqrt(np.einsum("bi,bi->b", g, g))
    ok = (sigma > 0.0) & (norm_pg > rtol * norm_g)
    # Sherman–Morrison with u = √σ₁ v₁, v₁ = P_E g/‖P_E g‖: uᵀg = √σ₁‖P_E g‖ and ‖u‖² = σ₁, so
    # (λI + uuᵀ)^{-1}g = (g − u(uᵀg)/(λ + σ₁))/λ = g/λ − σ₁/(λ(λ + σ₁))·P_E g
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # the rows not ok are replaced below
        out = (g / lam[:, None] - (sigma / (lam * (lam + sigma)))[:, None] * pg).reshape(n, S, A)
    fallback = np.flatnonzero(~ok & (sigma > 0.0))
    if fallback.size:  # P_E g ≈ 0: the fallback v₁ of TopEigenspace.canonical_vector, for all such rows at once
        # (P_E)_ii = ‖P_E e_i‖²; i the first flat index within rtol of the row's largest; P_E e_i = Σ_j b_j b_j[i]
        p_diag = np.bincount(index.ravel(), weights=(vectors**2).ravel(), minlength=n * S * A).reshape(n, S * A)
        d_f = p_diag[fallback]
        first = np.argmax(d_f >= ((1.0 - rtol) * d_f.max(axis=1))[:, None], axis=1)
        target = np.full(n, -1, dtype=np.int64)
        target[fallback] = fallback * (S * A) + first  # flat coordinate of e_i in the (n·S·A) batch
        hit = index == target[row[blk]][:, None]  # (r, A): where eigenvector j has its entry b_j[i]
        coef_e = np.where(hit, vectors, 0.0).sum(axis=1)
        pe = np.bincount(index.ravel(), weights=(coef_e[:, None] * vectors).ravel(), minlength=n * S * A)
        pe = pe.reshape(n, S * A)[fallback]
        v = pe / np.sqrt(np.einsum("bi,bi->b", pe, pe))[:, None]
        u = np.sqrt(sigma[fallback])[:, None] * v
        lf = lam[fallback]
        gf = g[fallback]
        ug = np.einsum("bi,bi->b", u, gf)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out[fallback] = ((gf - u * (ug / (lf + sigma[fallback]))[:, None]) / lf[:, None]).reshape(-1, S, A)
    for b in np.flatnonzero(sigma <= 0.0):
        out[b] = _r1_eigen(p[int(b)], float(lam[b]))
    return out


for _m in (
    Method(
        "pg",
        "pg",
        damped=False,
        direction=_pg,
        batch_direction=_pg_batch,
        param_batch_direction=bp.pg_param,
        summary="∇J",
        undamped_fix="pg has no damping; pass damping=None",
        reference=True,
    ),
    Method(
        "npg",
        "npg",
        damped=False,
        direction=_npg,
        batch_direction=_npg_batch,
        param_batch_direction=bp.npg_param,
        summary="F⁺∇J = per-state-centred A/(1−γ) (Agarwal et al. 2021, Lemma 5.1)",
        undamped_fix="use 'npg-damped'",
        reference=True,
    ),
    Method(
        "npg-damped",
        "npg-damped",
        damped=True,
        direction=_npg_damped,
        batch_direction=_npg_damped_batch,
        param_batch_direction=bp.npg_damped_param,
        preconditioner=_npg_damped_preconditioner,
        summary="(F + λI)⁻¹∇J (blockwise Sherman–Morrison, O(SA))",
    ),
    Method(
        "r1-eigen",
        "r1-eigen",
        damped=True,
        direction=_r1_eigen,
        batch_direction=_r1_eigen_batch,
        param_batch_direction=bp.r1_eigen_param,
        preconditioner=_r1_eigen_preconditioner,
        summary="(λI + σ₁v₁v₁ᵀ)⁻¹∇J, σ₁v₁v₁ᵀ the best rank-1 approximation of F (Eckart–Young), canonical v₁",
    ),
    Method(
        "r1-grad",
        "r1-grad (V1)",
        damped=True,
        direction=_r1_grad,
        batch_direction=_r1_grad_batch,
        param_batch_direction=bp.r1_grad_param,
        preconditioner=_r1_grad_preconditioner,
        summary="(λI + ∇J∇Jᵀ)⁻¹∇J = ∇J/(λ + ‖∇J‖²)",
        rescaled_pg=True,
    ),
    Method(
        "r1-same",
        "r1-same (V2)",
        damped=True,
        direction=_r1_same,
        batch_direction=_r1_same_batch,
        param_batch_direction=bp.r1_same_param,
        summary="E_{s∼d,a∼π}[(λI + uuᵀ)⁻¹ Â u], Â = A(s,a)/(1−γ)",
    ),
    Method(
        "r1-precond",
        "r1-precond (V3)",
        damped=True,
        direction=_r1_precond,
        batch_direction=_r1_precond_batch,
        param_batch_direction=bp.r1_precond_param,
        preconditioner=_r1_precond_preconditioner,
        summary="E_{s∼d,a∼π}[(λI + uuᵀ)⁻¹] ∇J",
    ),
):
    register_method(_m)


def check_method(method: Any, damping: Any) -> float:
    """Validate an exact method's name and its damping; return λ (0.0 for undamped methods)."""
    return get_method(method).check_damping(damping)


def _checked(method: Method, theta: Array, out: Any) -> Array:
    """A method's direction, checked: a real array of θ's shape without NaN (±inf is left to the caller)."""
    if not isinstance(out, np.ndarray) or not np.issubdtype(out.dtype, np.number) or np.iscomplexobj(out):
        raise TypeError(f"method {method.name!r}: direction must return a real numpy array; got {type(out).__name__}")
    if out.shape != theta.shape:
        raise ValueError(
            f"method {method.name!r}: direction must return an array of θ's shape {theta.shape}; got {out.shape}"
        )
    if np.isnan(out).any():
        raise ValueError(f"method {method.name!r}: direction returned NaN at a finite θ")
    return np.asarray(out, dtype=np.float64)


def direction_at(point: PolicyPoint, method: str, damping: float | None = None) -> Array:
    """The direction of ``method`` (a registered exact :class:`~r1theory.methods.Method`) at an evaluated point.

    Raises
    ------
    TypeError, ValueError
        Unknown method or invalid damping; a direction that is not a real array of θ's shape, or has NaN
        (the message names the method).
    """
    m = get_method(method)
    lam = m.check_damping(damping)
    assert m.direction is not None
    return _checked(m, point.theta, m.direction(point, lam))


def direction(
    method: str, mdp: TabularMDP, theta: Any, damping: float | None = None, param: Parametrisation | None = None
) -> Array:
    """The exact update direction of ``method`` at θ, θ-shaped ((S, A) for tabular softmax).

    Parameters
    ----------
    method
        One of :data:`METHODS`: the built-in ones or any registered with :func:`r1theory.register_method`.
    mdp, theta
        The MDP and the softmax logits θ, shape (S, A).
    damping
        λ > 0, required by the damped methods (:data:`DAMPED_METHODS`); must be None or 0 for
        ``pg`` and ``npg``.
    param
        The policy parametrisation (:mod:`r1theory.policies`); tabular softmax by default. For
        other parametrisations the score u_{s,a} = Jᵀ(e_{(s,a)} − π_s) replaces the tabular one in
        every formula, and F = Jᵀ F_ℓ J.

    Raises
    ------
    TypeError, ValueError
        Unknown method, missing or invalid damping, or invalid θ.
    """
    get_method(method).check_damping(damping)
    return direction_at(policy_point(mdp, theta, param), method, damping)
