"""B log-linear policy points of one MDP at once, and every built-in direction at them (dense Fisher, batched).

A :class:`r1theory.LogLinear` policy has logits ℓ = Φθ, Φ of shape (S, A, k), θ of shape (k,); its Jacobian
is Φ itself (:mod:`r1theory.policies`). For B parameter vectors θ^b stacked (B, k):

* logits ℓ^b = Φθ^b, one (S·A, k) × (k, 1) product per row;
* π^b, log π^b, the exact evaluation and the logit-space gradient g_ℓ^b(s, a) = d^b(s)π^b(a|s)A^b(s, a)/(1 − γ)
  are the batched tabular ones at the logits (:class:`r1theory.batch.BatchPolicyPoint`, batched LU);
* ∇J^b = Φᵀ C_π g_ℓ^b, C_π the π-weighted per-state centring of :attr:`r1theory.PolicyPoint.gradient`
  (:func:`r1theory.batch.combine_scores_rows`): one (1, S·A) × (S·A, k) product per row;
* the Fisher F^b = Φᵀ F_ℓ^b Φ = X_bᵀX_b, with X_b the (S·A, k) factor of rows √(d(s)π(a|s))·u_{s,a},
  u_{s,a} = φ(s, a) − Σ_c π(c|s)φ(s, c) the score (:meth:`r1theory.ParamFisher.dense`), formed only for the
  rows of a method that needs it (:meth:`BatchParamPoint.factor`).

The directions (``param_batch_direction`` of each built-in :class:`r1theory.Method`) are the formulas of
:mod:`r1theory.directions` for a parametrisation, i.e. of :class:`r1theory.ParamFisher`, evaluated row by row
in stacked form:

==============  ==================================================================================
``pg``          ∇J
``npg``         F⁺∇J from the thin SVD of X (stacked ``numpy.linalg.svd``, the call
                :meth:`r1theory.ParamFisher.spectrum` makes), eigenvalues ≤ PINV_RCOND·σ₁ dropped per row;
                the two products with the kept vectors row by row (the single code's, bit for bit)
``npg-damped``  (F + λI)⁻¹∇J: XᵀX + λI (k ≤ S·A) or the Woodbury form with XXᵀ + λI (stacked), each
                factored and solved by the Cholesky calls of :meth:`r1theory.ParamFisher.solve`, row by
                row (numpy has no stacked Cholesky solve)
``r1-eigen``    (λI + σ₁v₁v₁ᵀ)⁻¹∇J with the top eigenspace E = {eigenvalues ≥ (1 − TOP_RTOL)σ₁} of the
                smaller Gram matrix of X (its two ``dsyevr`` calls row by row, the single code's: numpy's
                stacked ``eigh`` computes every eigenpair, no faster at k = 30), v₁ = P_E g/‖P_E g‖, the fallback
                P_E e_i/‖P_E e_i‖ of :class:`r1theory.fisher.TopEigenspace` on rows where
                ‖P_E g‖ ≤ rtol·‖g‖ and u = 0 where σ₁ ≤ 0 (F = 0: E is the whole space, direction g/λ),
                all vectorised; Sherman–Morrison with the input scaling of
                :meth:`r1theory.ShermanMorrison.mv`
``r1-grad``     ∇J/(λ + ‖∇J‖²)
``r1-same``     Φᵀ[d(s) Σ_a c(s, a)(e_a − π_s)], c = πÂ/(λ + n), n(s, a) = ‖u_{s,a}‖² = δᵀG_sδ
``r1-precond``  ∇J/λ − Φᵀ[Σ_a c(s, a)(e_a − π_s)], c = dπ(u_{s,a}ᵀ∇J)/(λ(λ + n))
==============  ==================================================================================

Agreement with :func:`r1theory.direction_at` at the single point: the same formulas; the logits, Φᵀx,
Φv, the factor X, the Gram matrices, the SVD, the Cholesky solves and the eigenpairs are the very calls
of the single code (equal bit for bit on equal input); the sums over actions run column by column as in
:mod:`r1theory.batch` and r1-eigen's projections onto E as stacked products, so rows agree to the
rounding of those sums (npg, npg-damped, pg, r1-same, r1-precond: bit for bit in the tests' draws).

Independence of the batch: every product is a stacked call of one shape per row, every reduction runs
within a row, so row b is the same bit for bit whatever the other rows and B (the sweep's cache relies on
it, as for :mod:`r1theory.batch`).

Scope: :class:`r1theory.LogLinear` only. :class:`r1theory.NeuralSoftmax` (a θ-dependent Jacobian from a
reverse pass per point) is not batched: run it with :func:`r1theory.iterate`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg.lapack
from numpy.typing import NDArray

from ._types import Array
from .batch import BatchPolicyPoint, _batch_policy_point, combine_scores_rows, score_dot_rows, shared_rows
from .fisher import PINV_RCOND, TOP_RTOL
from .mdp import TabularMDP
from .point import PolicyPoint
from .policies import LogLinear

__all__ = ["BatchParamPoint", "batch_param_point"]


def _rowdot(x: Array, y: Array) -> Array:
    """⟨x_b, y_b⟩ for every row of two (n, k) arrays (a reduction within each row)."""
    return np.einsum("bi,bi->b", x, y)


@dataclass(frozen=True)
class BatchParamPoint:
    """B log-linear points θ^b (stacked (B, k)) on one MDP, each evaluated exactly.

    The batched :class:`r1theory.PolicyPoint` of a :class:`r1theory.LogLinear` parametrisation.

    Attributes
    ----------
    mdp : the (dense) MDP shared by the batch.
    param : the log-linear parametrisation (features Φ, shape (S, A, k)).
    theta : (B, k) the parameters.
    logit : the tabular :class:`r1theory.batch.BatchPolicyPoint` at the logits Φθ^b: its ``pi``, ``log_pi``,
        ``ev``, ``dominant`` are π^b's, and its ``gradient`` is the logit-space gradient g_ℓ.
    gradient : (B, k) ∇J^b = Φᵀ C_π g_ℓ^b (module docstring).
    """

    mdp: TabularMDP
    param: LogLinear
    theta: Array
    logit: BatchPolicyPoint
    gradient: Array
    _parent: tuple[BatchParamPoint, Any] | None = field(default=None, repr=False, compare=False)
    _cache: dict[str, NDArray[Any]] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.theta.shape[0])

    @property
    def pi(self) -> Array:
        """(B, S, A) π^b."""
        return self.logit.pi

    @property
    def log_pi(self) -> Array:
        """(B, S, A) log π^b."""
        return self.logit.log_pi

    @property
    def ev(self) -> Any:
        """The :class:`r1theory.BatchEvaluation` of π."""
        return self.logit.ev

    @property
    def phi(self) -> Array:
        """Φ as an (S·A, k) matrix (row-major (s, a))."""
        f = self.param.features
        return f.reshape(f.shape[0] * f.shape[1], f.shape[2])

    def take(self, rows: slice | NDArray[np.intp] | NDArray[np.int64]) -> BatchParamPoint:
        """The sub-batch of the given rows (shares the root's per-point caches, as :class:`BatchPolicyPoint`)."""
        return BatchParamPoint(
            mdp=self.mdp,
            param=self.param,
            theta=self.theta[rows],
            logit=self.logit.take(rows),
            gradient=self.gradient[rows],
            _parent=(self, rows),
        )

    def _shared(self, name: str, compute: Callable[[BatchParamPoint], Array]) -> Array:
        """``compute`` at this point, computed once for the root batch (:func:`r1theory.batch.shared_rows`)."""
        return shared_rows(self, name, compute)

    def pullback(self, x: Array) -> Array:
        """Φᵀx_b for every row of a logit-space x (B, S, A): (B, k), the product of :meth:`LogLinear.at`'s pullback."""
        return _pull(self.phi, x)

    def pushforward(self, v: Array) -> Array:
        """Φv_b for every row of a θ-shaped v (B, k): (B, S, A)."""
        return _push(self.phi, v, self.mdp.S, self.mdp.A)

    def score_sq_norm(self) -> Array:
        """(B, S, A) n(s, a) = ‖u_{s,a}‖² = δᵀG_sδ, δ = e_a − π_s (``Linearisation.score_sq_norm``)."""
        return self._shared("score_sq_norm", _score_sq_norm)

    def factor(self) -> Array:
        """(B, S·A, k) the factor X of F = XᵀX, rows √(d(s)π(a|s))·u_{s,a} (:meth:`r1theory.ParamFisher.dense`).

        Computed for this (sub-)batch only (the rows of the methods that need it), not for the root.
        """
        out = self._cache.get("factor")
        if out is None:
            out = self._cache["factor"] = _factor(self)
        return out

    def gram(self) -> Array:
        """The smaller Gram matrix of X: XᵀX (k ≤ S·A, it is F) or XXᵀ, as :class:`r1theory.ParamFisher` forms it."""
        out = self._cache.get("gram")
        if out is None:
            X = self.factor()
            Xt = X.transpose(0, 2, 1)
            out = self._cache["gram"] = np.matmul(Xt, X) if X.shape[2] <= X.shape[1] else np.matmul(X, Xt)
        return out

    def __getitem__(self, b: int) -> PolicyPoint:
        """Row ``b`` as a single log-linear :class:`r1theory.PolicyPoint` (for a method without a batched form)."""
        theta = self.theta[b]
        return PolicyPoint(
            mdp=self.mdp,
            theta=theta,
            log_pi=self.log_pi[b],
            pi=self.pi[b],
            ev=self.ev[b],
            param=self.param,
            lin=self.param.at(theta),
        )


def _score_sq_norm(p: BatchParamPoint) -> Array:
    """δᵀG_sδ with D[s, a, b] = [a = b] − π(b|s), the dominant diagonal entry 1 − π(m|s) without cancellation."""
    pi = p.pi
    A = pi.shape[2]
    D = np.repeat(-pi[:, :, None, :], A, axis=2)
    idx = np.arange(A)
    D[:, :, idx, idx] = p.logit.one_minus()
    return np.einsum("nsab,nsab->nsa", np.matmul(D, p.param.gram), D)


def _factor(p: BatchParamPoint) -> Array:
    """X (B, S·A, k): scores u_{s,a} = φ(s, a) − Σ_c π(c|s)φ(s, c) scaled by √(d(s)π(a|s)).

    The products of :func:`r1theory.score.score_dot` (its trailing-dimension path), one (1, A) × (A, k)
    product per (row, state): for the dominant action m the difference is Σ_c π(c|s)(φ(s, m) − φ(s, c)),
    without cancellation when π(m|s) is close to 1.
    """
    pi, phi = p.pi, p.param.features
    n, S, A = pi.shape
    k = phi.shape[2]
    w = pi[:, :, None, :]  # (n, S, 1, A)
    dom = p.logit.dominant
    phim = phi[np.arange(S)[None, :], dom]  # (n, S, k): φ(s, m(s))
    dominant = np.matmul(w, phim[:, :, None, :] - phi[None])[:, :, 0]
    U = phi[None] - np.matmul(w, phi[None])
    U.reshape(n * S, A, k)[np.arange(n * S), dom.reshape(-1)] = dominant.reshape(n * S, k)
    U *= np.sqrt(p.ev.d[:, :, None] * pi)[:, :, :, None]
    return U.reshape(n, S * A, k)


def _pull(phi: Array, x: Array) -> Array:
    """Φᵀx_b per row: (B, S, A) logit-space rows to (B, k), one (1, S·A) × (S·A, k) product per row."""
    return np.matmul(np.ascontiguousarray(x).reshape(x.shape[0], 1, -1), phi)[:, 0]


def _push(phi: Array, v: Array, S: int, A: int) -> Array:
    """Φv_b per row: (B, k) to (B, S, A), one (S·A, k) × (k, 1) product per row (the product of LogLinear.at)."""
    return np.matmul(phi, v[:, :, None])[:, :, 0].reshape(v.shape[0], S, A)


def batch_param_point(mdp: TabularMDP, param: LogLinear, theta: Array) -> BatchParamPoint:
    """Evaluate the log-linear policies θ^b (a finite float64 (B, k) array, not checked) on one dense MDP."""
    S, A = mdp.S, mdp.A
    phi = param.features.reshape(S * A, -1)
    logit = _batch_policy_point(mdp, _push(phi, theta, S, A))  # logits Φθ^b
    centred = combine_scores_rows(logit.gradient, logit.pi, logit.dominant_flat, logit.one_minus())
    return BatchParamPoint(mdp=mdp, param=param, theta=theta, logit=logit, gradient=_pull(phi, centred))


# ---------------------------------------------------------------------------------------------
# the directions (module docstring); λ of shape (B,), 0.0 for the undamped methods
# ---------------------------------------------------------------------------------------------
def pg_param(p: BatchParamPoint, lam: Array) -> Array:
    """∇J at every point."""
    return p.gradient


def npg_param(p: BatchParamPoint, lam: Array) -> Array:
    """F⁺∇J = V diag(1/σ) Vᵀ∇J over the eigenvalues σ > PINV_RCOND·σ₁ (:meth:`r1theory.ParamFisher.solve`, λ = 0).

    The thin SVDs of all rows' factors X in one stacked call (the call :meth:`r1theory.ParamFisher.spectrum`
    makes); the two products with the kept singular vectors row by row, as the single solve forms them: F⁺
    scales the last bits of its input by up to 1/(PINV_RCOND·σ₁), so the sums must run in the same order.
    """
    _, s, Vt = np.linalg.svd(p.factor(), full_matrices=False)
    sigma = s * s
    keep = sigma > PINV_RCOND * sigma[:, :1]
    g = p.gradient
    out = np.empty(g.shape)
    for b in range(g.shape[0]):
        V = Vt[b][keep[b]].T
        out[b] = V @ ((V.T @ g[b]) / sigma[b][keep[b]])
    return out


_POTRF, _POTRS = scipy.linalg.lapack.get_lapack_funcs(("potrf", "potrs"), (np.empty((1, 1)),))


def npg_damped_param(p: BatchParamPoint, lam: Array) -> Array:
    """(F + λI)^{-1}∇J: (XᵀX + λI)x = g for k ≤ S·A, else x = (g − Xᵀ(XXᵀ + λI)^{-1}Xg)/λ (Woodbury).

    The Gram matrices of all rows in one stacked product; the Cholesky solve row by row with the LAPACK calls
    of :meth:`r1theory.ParamFisher.solve` (``dpotrf``, ``dpotrs``: numpy has no stacked Cholesky solve, and a
    stacked LU would round otherwise).
    """
    X, g = p.factor(), p.gradient
    n, m, k = X.shape
    G = p.gram().copy()
    size = G.shape[1]
    G.reshape(n, size * size)[:, :: size + 1] += lam[:, None]
    out = np.empty(g.shape)
    for b in range(n):  # scipy.linalg.cho_factor(G, overwrite_a=True) and cho_solve, by their LAPACK calls
        c, _ = _POTRF(G[b], lower=0, overwrite_a=1, clean=0)
        if k <= m:
            out[b] = _POTRS(c, g[b], lower=0)[0]
        else:
            y = _POTRS(c, X[b] @ g[b], lower=0)[0]
            out[b] = (g[b] - X[b].T @ y) / lam[b]
    return out


@functools.lru_cache(maxsize=16)
def _syevr(n: int) -> tuple[Any, int, int]:
    """LAPACK's dsyevr and the workspace sizes :func:`scipy.linalg.eigh` gives it for an n × n matrix."""
    syevr, syevr_lwork = scipy.linalg.lapack.get_lapack_funcs(("syevr", "syevr_lwork"), (np.empty((1, 1)),))
    lwork, liwork = scipy.linalg.lapack._compute_lwork(syevr_lwork, n=n, lower=True)
    return syevr, int(lwork), int(liwork)


def _top_eigenspaces(p: BatchParamPoint) -> tuple[Array, Array]:
    """σ₁ (n,) and an orthonormal basis of each row's top eigenspace E, zero-padded: (n, k, r_max).

    Row by row, the LAPACK calls of :meth:`r1theory.ParamFisher.top_eigenspace` (``dsyevr`` with the
    workspace :func:`scipy.linalg.eigh` passes: σ₁ alone by index, then the eigenpairs ≥ (1 − rtol)σ₁ by
    value, the top pair by index if rounding left that empty), so that E's basis is the single code's bit
    for bit: its columns in descending order of eigenvalue, for G = XXᵀ mapped to Xᵀw/‖Xᵀw‖. Rows with
    σ₁ ≤ 0 (F = 0) get σ₁ = 0 and no basis vector.
    """
    X, G = p.factor(), p.gram()
    n, m, k = X.shape
    size = G.shape[1]
    syevr, lwork, liwork = _syevr(size)
    ws = {"lower": 1, "lwork": lwork, "liwork": liwork}
    sigma = np.zeros(n)
    bases: list[Array | None] = []
    for b in range(n):
        w, _, found, _, _ = syevr(G[b], compute_v=0, range="I", il=size, iu=size, **ws)
        top = float(w[:found][0])
        if top <= 0.0:
            bases.append(None)
            continue
        w, W, found, _, _ = syevr(G[b], compute_v=1, range="V", vl=(1.0 - TOP_RTOL) * top, vu=np.inf, **ws)
        if found == 0:
            w, W, found, _, _ = syevr(G[b], compute_v=1, range="I", il=size, iu=size, **ws)
        w, W = w[:found], W[:, :found]
        V = W if k <= m else X[b].T @ W
        V = V / np.linalg.norm(V, axis=0)
        sigma[b] = float(w.max())
        bases.append(V[:, ::-1])
    r = max((B.shape[1] for B in bases if B is not None), default=1)
    basis = np.zeros((n, k, r))
    for b, B in enumerate(bases):
        if B is not None:
            basis[b, :, : B.shape[1]] = B
    return sigma, basis


def r1_eigen_param(p: BatchParamPoint, lam: Array) -> Array:
    """(λI + σ₁v₁v₁ᵀ)^{-1}∇J with σ₁ and the canonical v₁ of :meth:`r1theory.ParamFisher.top_eigenpair` (toward ∇J).

    E from :func:`_top_eigenspaces` (the single code's eigenpairs); then, vectorised over the rows,
    v₁ = P_E g/‖P_E g‖ when ‖P_E g‖ > rtol·‖g‖, else the fallback P_E e_i/‖P_E e_i‖, i the first index
    within rtol of the largest (P_E)_ii (:meth:`r1theory.fisher.TopEigenspace.canonical_vector`); σ₁ ≤ 0
    gives u = 0 (:meth:`r1theory.fisher.TopEigenspace.whole_space`: the direction is then g/λ). The update
    is Sherman–Morrison with u = √σ₁v₁ applied to g scaled by max|g|, as :meth:`r1theory.ShermanMorrison.mv`.
    """
    rtol = TOP_RTOL
    g = p.gradient
    sigma, basis = _top_eigenspaces(p)
    whole = sigma <= 0.0
    coef = np.matmul(g[:, None, :], basis)[:, 0]  # b_jᵀg
    pg = np.matmul(basis, coef[:, :, None])[:, :, 0]  # P_E g
    norm_pg = np.sqrt(_rowdot(pg, pg))
    ok = norm_pg > rtol * np.sqrt(_rowdot(g, g))
    with np.errstate(divide="ignore", invalid="ignore"):
        v = pg / norm_pg[:, None]
    fallback = np.flatnonzero(~ok & ~whole)
    if fallback.size:  # P_E g ≈ 0: v₁ = P_E e_i/‖P_E e_i‖, (P_E)_ii = Σ_j b_j[i]²
        bf = basis[fallback]
        diag = np.einsum("bkr,bkr->bk", bf, bf)
        first = np.argmax(diag >= ((1.0 - rtol) * diag.max(axis=1))[:, None], axis=1)
        row_i = bf[np.arange(fallback.size), first]  # (f, r): b_j[i]
        pe = np.matmul(bf, row_i[:, :, None])[:, :, 0]
        v[fallback] = pe / np.sqrt(_rowdot(pe, pe))[:, None]
    v[whole] = 0.0  # F = 0: u = √0·v₁ = 0
    u = np.sqrt(sigma)[:, None] * v
    # Sherman–Morrison (λI + uuᵀ)^{-1}g on g/max|g|, scaled back (ShermanMorrison.mv)
    scale = np.max(np.abs(g), axis=1)
    scale[scale == 0.0] = 1.0
    xs = g / scale[:, None]
    uv, uu = _rowdot(u, xs), _rowdot(u, u)
    return scale[:, None] * ((xs - u * (uv / (lam + uu))[:, None]) / lam[:, None])


def r1_grad_param(p: BatchParamPoint, lam: Array) -> Array:
    """∇J/(λ + ‖∇J‖²) at every point."""
    g = p.gradient
    return g / (lam + _rowdot(g, g))[:, None]


def r1_same_param(p: BatchParamPoint, lam: Array) -> Array:
    """V2 (:func:`r1theory.directions.same_sample_sum` with X = A): Φᵀ[d(s)Σ_a c(s, a)u_{s,a}], c = πÂ/(λ + n)."""
    lp = p.logit
    c = lp.pi * lp.ev.A / ((1.0 - p.mdp.gamma) * (lam[:, None, None] + p.score_sq_norm()))
    return p.pullback(lp.ev.d[:, :, None] * combine_scores_rows(c, lp.pi, lp.dominant_flat, lp.one_minus()))


def r1_precond_param(p: BatchParamPoint, lam: Array) -> Array:
    """V3: g/λ − Φᵀ[Σ_a c(s, a)u_{s,a}], c = d π (u_{s,a}ᵀg)/(λ(λ + n)) (:mod:`r1theory.directions`)."""
    lp, g = p.logit, p.gradient
    lam3 = lam[:, None, None]
    uv = score_dot_rows(p.pushforward(g), lp.pi, lp.dominant_flat)
    c = lp.ev.d[:, :, None] * lp.pi * uv / (lam3 * (lam3 + p.score_sq_norm()))
    return g / lam[:, None] - p.pullback(combine_scores_rows(c, lp.pi, lp.dominant_flat, lp.one_minus()))
