"""The true Fisher information of a tabular softmax policy, kept as S blocks of size A × A.

F = E_{s∼d, a∼π}[∇log π(a|s) ∇log π(a|s)ᵀ] = blockdiag_s d(s) (diag π_s − π_s π_sᵀ)
(Kakade 2001; Agarwal et al. 2021, eq. (15)), since ∇_θ log π(a|s) = e_{(s,a)} − Σ_b π(b|s) e_{(s,b)}.

Each block H(π_s) = diag π_s − π_s π_sᵀ is PSD with null vector 1, so rank F = S(A − 1) when every
d(s) > 0 and every π(a|s) > 0. The operator never inverts a singular matrix:

* damped solves (F + λI)x = v use, per block, d H + λI = D − d π πᵀ with D = diag(dπ + λ)
  (diagonal minus rank-1), inverted by Sherman–Morrison; the denominator
  1 − d πᵀD^{-1}π = Σ_a π_a λ/(dπ_a + λ) is formed without cancellation;
* undamped solves return the minimum-norm solution F⁺v, per block
  (1/d(s)) · C(C v_s / π_s), where C = I − 11ᵀ/A centres over all actions (the pseudo-inverse of
  diag π − ππᵀ for π_s > 0, whose range is 1^⊥); blocks with d(s) = 0 give 0.

Support (issue #14). π is a softmax policy, so π(a|s) > 0 for every action in exact arithmetic
even where its float value underflowed to 0.0, and d(s) > 0 exactly on the states reachable from
ρ (:attr:`r1theory.TabularMDP.reachable`; :class:`r1theory.Evaluation` keeps d(s) > 0 there, floored
at the smallest normal float if it underflows). The blocks, range and pseudo-inverse are those of
that exact Fisher: range(F) = {x : Σ_a x(s, a) = 0 on states with d(s) > 0, x(s, ·) = 0 elsewhere},
never the smaller range of the rounded matrix (whose pseudo-inverse would drop the underflowed
directions — the stall of issue #14). Where d(s)π(a|s) underflows on a reachable state the exact F⁺
has entries beyond the float range and the undamped solve raises; F⁺∇J itself is finite there and
comes from :func:`npg_closed_form`, which needs neither d nor 1/π.

Vectors are (S, A) arrays or flat (S·A,) arrays in row-major order (index s·A + a); results
keep the input's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import scipy.linalg

from ._types import Array, IntArray
from ._validate import as_real_array, check_damping, check_finite
from .mdp import TabularMDP
from .point import PolicyPoint, policy_point
from .policies import Linearisation, Parametrisation
from .score import one_minus, score_dot


def _norm(x: Array) -> float:
    """‖x‖₂ of a flat vector by one fused product (numpy's norm is a threaded BLAS call: slow on shared cores)."""
    return float(np.sqrt(np.einsum("i,i->", x, x)))


#: Relative tolerance of the top eigenspace: the eigenvalues μ of F with μ ≥ (1 − TOP_RTOL)·σ₁ count as σ₁
#: (:class:`TopEigenspace`). Far above the rounding of the computed eigenvalues (each candidate block, or the
#: Gram matrix, is diagonalised with absolute error ~ε·σ₁) and of d (forward error ≤ 2ε/(1 − γ) relative,
#: i.e. ≤ 5e-13 for γ ≤ 0.999), so that exact ties (θ = 0, states of equal d, tied probabilities) are
#: grouped whatever the order of the states and actions, and far below any gap that matters.
TOP_RTOL = 1e-9


@dataclass(frozen=True)
class TopEigenspace:
    """The top eigenspace E of a PSD Fisher F and the canonical unit vector v₁ ∈ E.

    E is the span of all eigenvectors of F with eigenvalue μ ≥ (1 − rtol)·σ₁, σ₁ = λ_max(F) (rtol =
    :data:`TOP_RTOL` by default). The best rank-1 approximation σ₁v₁v₁ᵀ of F (Eckart–Young) is unique only
    when dim E = 1; at θ = 0 every tabular block d(s)(diag π_s − π_s π_sᵀ) has the eigenvalue d(s)/A with
    multiplicity A − 1 and states of equal d tie across blocks. E itself is a function of F (the orthogonal
    projector P_E is, even though no individual basis vector is), so v₁ is defined from E:

    * **canonical v₁** (:meth:`canonical_vector` with ``toward = g``, g = ∇J): v₁ = P_E g/‖P_E g‖, the limit
      of power iteration on F started at g (the components of g along the other eigenvalues die out), and
      the unit vector of E closest to g, so v₁ᵀg = ‖P_E g‖ ≥ 0 fixes the sign;
    * **fallback** (no g, or ‖P_E g‖ ≤ rtol·‖g‖, e.g. g = 0): v₁ = P_E e_i/‖P_E e_i‖ for the lowest flat
      index i = s·A + a (row-major) among those maximising ‖P_E e_i‖² = (P_E)_{ii} within the relative
      tolerance rtol; its entry i is positive. In this case every unit v ∈ E gives the same
      ``r1-eigen`` direction, (λI + σ₁vvᵀ)^{-1}g = g/λ (vᵀg = 0), so the choice only fixes the reported v₁.
    * σ₁ = 0 (F = 0, e.g. A = 1): every vector is an eigenvector, E is the whole space (multiplicity = the
      number of parameters) and v₁ = g/‖g‖, or e_0 by the fallback.

    Storage: r orthonormal basis vectors, each given by its nonzero entries, basis vector j =
    Σ_c vectors[j, c]·e_{index[j, c]} in flat (row-major) coordinates; a tabular basis vector lives on one
    state's block (m = A entries), a parametrised one is dense (m = k). Projections cost O(r·m).

    Attributes
    ----------
    sigma : σ₁ = λ_max(F) ≥ 0.
    values : (r,) the eigenvalues grouped with σ₁, all in [(1 − rtol)σ₁, σ₁]; r = dim E = :attr:`multiplicity`.
    vectors : (r, m) the entries of the orthonormal basis.
    index : (r, m) their flat coordinates.
    shape : the shape of a parameter vector ((S, A) for tabular softmax, θ's shape otherwise).
    rtol : the grouping tolerance.
    """

    sigma: float
    values: Array
    vectors: Array
    index: IntArray
    shape: tuple[int, ...]
    rtol: float

    @classmethod
    def whole_space(cls, shape: tuple[int, ...], rtol: float) -> TopEigenspace:
        """E = the whole space (F = 0, σ₁ = 0): the standard basis."""
        n = int(np.prod(shape))
        return cls(
            sigma=0.0,
            values=np.zeros(n),
            vectors=np.ones((n, 1)),
            index=np.arange(n, dtype=np.int64)[:, None],
            shape=shape,
            rtol=rtol,
        )

    @property
    def multiplicity(self) -> int:
        """The multiplicity of σ₁: dim E, the number of eigenvalues of F (with multiplicity) within rtol of σ₁."""
        return int(self.values.size)

    @property
    def size(self) -> int:
        """The number of parameters n (E ⊂ Rⁿ)."""
        return int(np.prod(self.shape))

    def _flat(self, x: Any, field: str) -> Array:
        v = as_real_array(x, field)
        if v.size != self.size or v.shape not in (self.shape, (self.size,)):
            raise ValueError(f"{field} must have shape {self.shape} or ({self.size},); got {v.shape}")
        check_finite(v, field)
        return v.reshape(-1)

    def _scatter(self, weights: Array) -> Array:
        """Σ_j Σ_c weights[j, c] e_{index[j, c]} as a flat vector."""
        return np.bincount(self.index.ravel(), weights=weights.ravel(), minlength=self.size).astype(np.float64)

    def project(self, x: Any) -> Array:
        """P_E x = Σ_j b_j (b_jᵀx), in x's shape (θ-shaped or flat)."""
        flat = self._flat(x, "x")
        coef = np.einsum("jc,jc->j", self.vectors, flat[self.index])
        return self._scatter(coef[:, None] * self.vectors).reshape(np.shape(x))

    def canonical_vector(self, toward: Any = None) -> Array:
        """The canonical unit v₁ ∈ E (θ-shaped): P_E g/‖P_E g‖ for g = ``toward``, else the fallback (see the class)."""
        if toward is not None:
            g = self._flat(toward, "toward")
            pg = self.project(g)
            norm_pg = _norm(pg)
            if norm_pg > self.rtol * _norm(g):
                return (pg / norm_pg).reshape(self.shape)
        diag = self._scatter(self.vectors**2)  # (P_E)_{ii} = ‖P_E e_i‖²
        i = int(np.flatnonzero(diag >= (1.0 - self.rtol) * diag.max())[0])
        e = np.zeros(self.size)
        e[i] = 1.0
        pe = self.project(e)
        return (pe / _norm(pe)).reshape(self.shape)


@dataclass(frozen=True)
class TabularFisher:
    """The true Fisher at a policy, as an operator over (S, A) arrays.

    Attributes
    ----------
    d : (S,) the normalised discounted visitation weighting the blocks; d(s) > 0 exactly on the
        reachable states (as :class:`r1theory.Evaluation` gives it), 0 on the others.
    pi : (S, A) a softmax policy: positive in exact arithmetic, so every action is in the support of
        every block with d(s) > 0, also where the float π(a|s) underflowed to 0 (module docstring).
    """

    d: Array
    pi: Array

    @property
    def shape(self) -> tuple[int, int]:
        """Shape (S·A, S·A) of the dense matrix."""
        n = self.pi.size
        return (n, n)

    @property
    def blocks(self) -> Array:
        """Blocks d(s)(diag π_s − π_s π_sᵀ), shape (S, A, A)."""
        return self.blocks_of(np.arange(self.pi.shape[0], dtype=np.int64))

    def blocks_of(self, states: IntArray) -> Array:
        """The blocks of the given states, shape (len(states), A, A)."""
        pi, A = self.pi[states], self.pi.shape[1]
        H = -pi[:, :, None] * pi[:, None, :]
        H[:, np.arange(A), np.arange(A)] = pi * one_minus(pi)  # π(1 − π) without cancellation
        return self.d[states, None, None] * H

    def dense(self) -> Array:
        """The dense (S·A, S·A) matrix (row-major flattening); O((SA)²) memory."""
        S, A = self.pi.shape
        out = np.zeros((S, A, S, A))
        idx = np.arange(S)
        out[idx, :, idx, :] = self.blocks
        return out.reshape(S * A, S * A)

    def _as_blocks(self, v: Any, field: str = "v") -> tuple[Array, tuple[int, ...]]:
        x = as_real_array(v, field)
        S, A = self.pi.shape
        if x.shape not in ((S, A), (S * A,)):
            raise ValueError(f"{field} must have shape (S, A) = {(S, A)} or (S*A,) = {(S * A,)}; got {x.shape}")
        check_finite(x, field)
        return x.reshape(S, A), x.shape

    def mv(self, v: Any) -> Array:
        """F v, blockwise d(s) π_s ∘ (v_s − π_s·v_s); O(SA), accurate for near-deterministic π."""
        x, shape = self._as_blocks(v)
        return (self.d[:, None] * self.pi * score_dot(x, self.pi)).reshape(shape)

    def project_range(self, v: Any) -> Array:
        """Orthogonal projection of v onto range(F) = F F⁺ v.

        Per block with d(s) > 0: centre over all actions (range of diag π_s − π_sπ_sᵀ for the softmax
        π_s > 0, whatever its float value); blocks with d(s) = 0 project to 0.
        """
        x, shape = self._as_blocks(v)
        return self._centre_support(x).reshape(shape)

    def _centre_support(self, x: Array) -> Array:
        """C x on the blocks with d(s) > 0 (C = I − 11ᵀ/A: the support of a softmax π_s is every action), 0 elsewhere.

        The support is structural, not ``pi > 0``: an underflowed π(a|s) is still positive, and the
        range of the exact block d(s)(diag π_s − π_sπ_sᵀ) is all of 1^⊥ (module docstring).
        """
        visited = self.d[:, None] > 0
        return np.where(visited, x - x.mean(axis=1, keepdims=True), 0.0)

    def solve(self, v: Any, damping: float = 0.0) -> Array:
        """Solve (F + λI) x = v for λ = damping > 0, or x = F⁺v (minimum norm) for λ = 0.

        O(SA) in both cases; see the module docstring for the formulas. λ = 0 is the pseudo-inverse of
        the exact softmax Fisher (every action in the support of every visited block): F⁺v(s, ·) =
        (1/d(s)) C(C v_s / π_s). Where d(s)π(a|s) is 0 in floating point on a visited state (underflow)
        that is beyond the float range and a ``ValueError`` is raised, rather than returning the
        pseudo-inverse of the rounded matrix; for F⁺∇J use :func:`npg_closed_form`. A d(s) at the
        evaluation's floor (:data:`r1theory.evaluation.D_FLOOR`) stands for a visitation below the
        float range, so 1/d(s) there is as inaccurate as d(s) itself.
        """
        x, shape = self._as_blocks(v)
        lam = check_damping(damping, positive=False)
        if lam == 0.0:
            out = self._centre_support(x)
            with np.errstate(divide="ignore", invalid="ignore"):
                out = np.where(out != 0.0, out / self.pi, 0.0)
            out = self._centre_support(out)
            with np.errstate(divide="ignore", invalid="ignore"):
                out = np.where(self.d[:, None] > 0, out / self.d[:, None], 0.0)
            if not np.all(np.isfinite(out)):
                raise ValueError(
                    "F⁺v overflows: the Fisher has eigenvalues below the float range (π or d underflow); "
                    "use damping > 0, or npg_closed_form for F⁺∇J"
                )
            return out.reshape(shape)
        dpi = self.d[:, None] * self.pi
        Dinv = 1.0 / (dpi + lam)
        denom = np.einsum("sa,sa->s", self.pi, lam * Dinv)  # = 1 − d πᵀD⁻¹π > 0
        y = Dinv * x
        coef = self.d * np.einsum("sa,sa->s", self.pi, y) / denom
        return (y + Dinv * self.pi * coef[:, None]).reshape(shape)

    def top_eigenspace(self, rtol: float = TOP_RTOL) -> TopEigenspace:
        """σ₁ = λ_max(F) and the top eigenspace E (eigenvalues ≥ (1 − rtol)σ₁), by blockwise eigh of the candidates.

        Only blocks that can hold an eigenvalue of E are diagonalised. The largest eigenvalue μ of
        H(π) = diag π − ππᵀ lies in [π_(2), π_(1)] (the two largest probabilities: eigenvalues of a
        rank-1 downdate interlace those of diag π) and is the root there of the decreasing secular
        function f(μ) = 1 − Σ_a π_a²/(π_a − μ) (Golub 1973); with π_(1) = π_(2) it is π_(1) exactly
        (eigenvector e_a − e_b on two tied coordinates). A few vectorised bisection steps bracket
        μ for every block at once; a block is skipped when its upper bracket d(s)·hi is below
        (1 − 2·rtol) times the best lower bracket (the factor 2 keeps every block within rtol of σ₁
        despite the rounding of the brackets), and the remaining blocks are diagonalised exactly.
        Every eigenpair of theirs with eigenvalue ≥ (1 − rtol)σ₁ joins E (a block can contribute
        several: at θ = 0, A − 1). Different blocks are orthogonal, and the span of one block's selected
        eigenvectors does not depend on which orthonormal basis eigh returns, so E (not the basis) is a
        function of F. With A = 1 (or d = 0 everywhere) F = 0 and E is the whole space.
        """
        S, A = self.pi.shape
        if A == 1 or not np.any(self.d > 0):
            return TopEigenspace.whole_space((S, A), rtol)
        keep = 1.0 - 2.0 * rtol
        srt = np.sort(self.pi, axis=1)
        lo, hi = srt[:, -2].copy(), srt[:, -1].copy()
        tied = hi - lo <= 1e-14 * hi  # equal top probabilities: μ = π_(1) exactly
        lo[tied] = hi[tied]
        cand = np.flatnonzero(self.d * hi >= keep * (self.d * lo).max())
        pi2 = self.pi**2
        for _ in range(40):
            sub = cand[~tied[cand]]  # bisect only the blocks still in contention
            if cand.size <= 2 or sub.size == 0 or np.all(hi[sub] - lo[sub] <= 0.25 * rtol * hi[sub]):
                break  # nothing left to prune: ≤ 2 blocks, or every bracket is below the tolerance
            mid = 0.5 * (lo[sub] + hi[sub])
            with np.errstate(divide="ignore", invalid="ignore"):
                f = 1.0 - np.sum(pi2[sub] / (self.pi[sub] - mid[:, None]), axis=1)
            above = f > 0  # the root lies above mid
            lo[sub] = np.where(above, mid, lo[sub])
            hi[sub] = np.where(above, hi[sub], mid)
            cand = cand[self.d[cand] * hi[cand] >= keep * (self.d[cand] * lo[cand]).max()]
        cand = cand.astype(np.int64)
        w, U = np.linalg.eigh(self.blocks_of(cand))  # ascending eigenvalues per block
        sigma = float(w[:, -1].max())
        if sigma <= 0.0:
            return TopEigenspace.whole_space((S, A), rtol)
        blk, col = np.nonzero(w >= (1.0 - rtol) * sigma)
        return TopEigenspace(
            sigma=sigma,
            values=w[blk, col],
            vectors=U[blk, :, col],  # (r, A): eigenvector col of block blk
            index=(cand[blk] * A)[:, None] + np.arange(A, dtype=np.int64),
            shape=(S, A),
            rtol=rtol,
        )

    def top_eigenpair(self, toward: Any = None, rtol: float = TOP_RTOL) -> tuple[float, Array]:
        """σ₁ and the canonical unit vector v₁ ∈ E (shape (S, A)): σ₁v₁v₁ᵀ, a best rank-1 approximation of F.

        v₁ = P_E g/‖P_E g‖ for g = ``toward`` (the engine passes ∇J), else (or if that projection
        vanishes) the deterministic fallback of :class:`TopEigenspace`; E from :meth:`top_eigenspace`.
        With dim E = 1, v₁ is the top eigenvector with the sign v₁ᵀg ≥ 0.
        """
        E = self.top_eigenspace(rtol)
        return E.sigma, E.canonical_vector(toward)


#: Relative eigenvalue cut-off of the dense pseudo-inverse (eigenvalues ≤ PINV_RCOND·σ₁ count as 0).
PINV_RCOND = 1e-10


@dataclass(frozen=True)
class ParamFisher:
    """The true Fisher F = Jᵀ F_ℓ J of a general parametrisation, a dense (k, k) operator.

    ``mv`` costs O(S·A·k) (J applied twice, F_ℓ blockwise) and never forms F. ``dense`` forms it as
    XᵀX (O(S·A·k²)). The damped solve and ``top_eigenspace`` work with the smaller Gram matrix of the
    (S·A, k) factor X (XᵀX or XXᵀ: a Cholesky factorisation, a top-of-the-spectrum ``eigh``);
    the pseudo-inverse and ``project_range`` use :meth:`spectrum`, the thin SVD of X
    (O(S·A·k·min(S·A, k)), never forming F). The undamped solve is
    the pseudo-inverse with eigenvalues below :data:`PINV_RCOND`·σ₁ treated as 0 (F is singular in
    general: every per-state logit shift that the parametrisation can express is a null direction).
    """

    logit: TabularFisher
    lin: Linearisation

    @property
    def shape(self) -> tuple[int, int]:
        """(k, k)."""
        k = int(self.lin.theta.size)
        return (k, k)

    def _vec(self, v: Any, field: str = "v") -> Array:
        x = as_real_array(v, field)
        if x.shape != self.lin.theta.shape:
            raise ValueError(f"{field} must have the shape of θ, {self.lin.theta.shape}; got {x.shape}")
        check_finite(x, field)
        return x

    def mv(self, v: Any) -> Array:
        """F v = Jᵀ(F_ℓ(J v)) without forming F."""
        x = self._vec(v)
        return self.lin.pullback(self.logit.mv(self.lin.pushforward(x)))

    def dense(self) -> Array:
        """F = Σ_s J_sᵀ d(s)(diag π_s − π_s π_sᵀ) J_s = XᵀX, shape (k, k), exactly symmetric and PSD.

        With the scores u_{s,a} = J_{s,a} − Σ_b π(b|s) J_{s,b} (rows of Jᵀ(e_{(s,a)} − π_s)), the block
        identity diag π_s − π_s π_sᵀ = Σ_a π(a|s)(e_a − π_s)(e_a − π_s)ᵀ gives F = Σ_{s,a} d(s)π(a|s) u uᵀ,
        formed as one product XᵀX with rows x_{s,a} = √(d(s)π(a|s)) u_{s,a}: O(S·A·k²) in a single
        BLAS call.
        """
        X = self._X()
        return X.T @ X

    def _X(self) -> Array:
        """The (S·A, k) factor X of F = XᵀX, rows x_{s,a} = √(d(s)π(a|s)) u_{s,a}."""
        U = score_dot(self.lin.jacobian(), self.logit.pi)
        w = np.sqrt(self.logit.d[:, None] * self.logit.pi)
        return (w[:, :, None] * U).reshape(-1, U.shape[2])

    def spectrum(self) -> tuple[Array, Array]:
        """F = V diag(σ) Vᵀ on its range: eigenvalues σ (descending, > PINV_RCOND·σ₁) and eigenvectors V (k, r).

        From the thin SVD X = W diag(s) Vᵀ of the factor F = XᵀX: σ = s², O(S·A·k·min(S·A, k)), never
        forming F. Eigenvalues come out with absolute error ~ε·s₁·s_i instead of ε·σ₁ for an
        eigendecomposition of F itself, so small ones keep their relative accuracy. Eigenvalues at or
        below the pseudo-inverse cut-off :data:`PINV_RCOND`·σ₁ are dropped (the null space of F).
        """
        _, s, Vt = np.linalg.svd(self._X(), full_matrices=False)
        sigma = s * s
        keep = sigma > PINV_RCOND * float(sigma[0]) if sigma.size else np.zeros(0, dtype=bool)
        return sigma[keep], Vt[keep].T

    def solve(self, v: Any, damping: float = 0.0) -> Array:
        """(F + λI)^{-1} v (λ > 0), or the pseudo-inverse F⁺v (λ = 0).

        λ > 0: a Cholesky solve with the smaller Gram matrix of the factor X ((S·A) × k): F + λI = XᵀX + λI
        itself when k ≤ S·A, else the Woodbury form (F + λI)^{-1}x = (x − Xᵀ(XXᵀ + λI)^{-1}Xx)/λ; both
        matrices are symmetric positive definite with condition number ≤ (σ₁ + λ)/λ.
        λ = 0: F⁺x = V diag(1/σ) Vᵀx from :meth:`spectrum` (the rank decision needs the eigenvalues).
        """
        x = self._vec(v)
        lam = check_damping(damping, positive=False)
        flat = x.ravel()
        if lam > 0:
            X = self._X()
            m, k = X.shape
            if k <= m:
                G = X.T @ X
                G[np.diag_indices(k)] += lam
                out = scipy.linalg.cho_solve(scipy.linalg.cho_factor(G, overwrite_a=True, check_finite=False), flat)
            else:
                G = X @ X.T
                G[np.diag_indices(m)] += lam
                y = scipy.linalg.cho_solve(scipy.linalg.cho_factor(G, overwrite_a=True, check_finite=False), X @ flat)
                out = (flat - X.T @ y) / lam
            return np.asarray(out).reshape(x.shape)
        sigma, V = self.spectrum()
        return (V @ ((V.T @ flat) / sigma)).reshape(x.shape)

    def project_range(self, v: Any) -> Array:
        """Orthogonal projection onto the span of the eigenvectors kept by the pseudo-inverse."""
        x = self._vec(v)
        _, V = self.spectrum()
        return (V @ (V.T @ x.ravel())).reshape(x.shape)

    def top_eigenspace(self, rtol: float = TOP_RTOL) -> TopEigenspace:
        """σ₁ and the top eigenspace E of F (eigenvalues ≥ (1 − rtol)σ₁), a dense orthonormal basis (k, r).

        Only the top of the spectrum of the smaller Gram matrix G of X is computed, by LAPACK's ``syevr``:
        first σ₁ alone (a one-index subset), then the eigenpairs with eigenvalue in ((1 − rtol)σ₁, ∞) (a value
        subset). G = XᵀX = F when k ≤ S·A; else G = XXᵀ, with the same nonzero eigenvalues, and an
        eigenvector w of eigenvalue μ > 0 gives the eigenvector Xᵀw/‖Xᵀw‖ = Xᵀw/√μ of F (normalised by its
        computed norm). The eigenvalues come out with absolute error ~ε·σ₁, far below rtol·σ₁. With
        σ₁ = 0 (F = 0) E is the whole space.
        """
        shape = tuple(int(n) for n in self.lin.theta.shape)
        X = self._X()
        m, k = X.shape
        small = k <= m
        G = X.T @ X if small else X @ X.T
        n = G.shape[0]
        top = scipy.linalg.eigh(G, eigvals_only=True, subset_by_index=[n - 1, n - 1], check_finite=False)
        if float(top[0]) <= 0.0:
            return TopEigenspace.whole_space(shape, rtol)
        w, W = scipy.linalg.eigh(G, subset_by_value=[(1.0 - rtol) * float(top[0]), np.inf], check_finite=False)
        if w.size == 0:  # the second reduction's σ₁ rounded below the first's cut-off: keep the top pair
            w, W = scipy.linalg.eigh(G, subset_by_index=[n - 1, n - 1], check_finite=False)
        V = W if small else X.T @ W
        V = V / np.linalg.norm(V, axis=0)
        return TopEigenspace(
            sigma=float(w.max()),
            values=w[::-1].copy(),
            vectors=np.ascontiguousarray(V[:, ::-1].T),
            index=np.broadcast_to(np.arange(k, dtype=np.int64), (w.size, k)).copy(),
            shape=shape,
            rtol=rtol,
        )

    def top_eigenpair(self, toward: Any = None, rtol: float = TOP_RTOL) -> tuple[float, Array]:
        """σ₁ and the canonical unit v₁ ∈ E (θ-shaped): σ₁v₁v₁ᵀ, a best rank-1 approximation of F.

        v₁ = P_E g/‖P_E g‖ for g = ``toward`` (the engine passes ∇J), else (or if that projection vanishes)
        the deterministic fallback of :class:`TopEigenspace`; E from :meth:`top_eigenspace`.
        """
        E = self.top_eigenspace(rtol)
        return E.sigma, E.canonical_vector(toward)


def fisher_at(point: PolicyPoint) -> TabularFisher | ParamFisher:
    """The true Fisher at an evaluated policy point (blockwise for tabular softmax, dense otherwise)."""
    logit = TabularFisher(d=point.ev.d, pi=point.pi)
    return logit if point.param.is_tabular else ParamFisher(logit=logit, lin=point.lin)


@overload
def fisher(mdp: TabularMDP, theta: Any, param: None = None) -> TabularFisher: ...


@overload
def fisher(mdp: TabularMDP, theta: Any, param: Parametrisation) -> TabularFisher | ParamFisher: ...


def fisher(mdp: TabularMDP, theta: Any, param: Parametrisation | None = None) -> TabularFisher | ParamFisher:
    """The true Fisher F(θ) = E_{s∼d, a∼π}[∇log π ∇log πᵀ] of the policy at θ on ``mdp``.

    For tabular softmax (the default) F = blockdiag_s d(s)(diag π_s − π_s π_sᵀ), a
    :class:`TabularFisher`; for another parametrisation F = Jᵀ F_ℓ J, a :class:`ParamFisher`.
    """
    return fisher_at(policy_point(mdp, theta, param))


def npg_closed_form(point: PolicyPoint) -> Array:
    """F⁺∇J in closed form: the per-state-centred advantage over (1 − γ).

    F⁺∇J(s, ·) = (A(s, ·) − mean_a A(s, ·)) / (1 − γ) for every state reachable from ρ (d(s) > 0),
    and 0 for the unreachable ones (d(s) = 0, zero Fisher block). Agarwal et al. 2021, Lemma 5.1; the
    mean is the uniform one because the Moore–Penrose pseudo-inverse returns the component orthogonal
    to the per-state constant vectors. Exact for the real-valued policy (π > 0 always); no division
    by π or d, so it holds for logits of any magnitude.

    "Reachable" is structural (:attr:`r1theory.Evaluation.reachable`, from
    :attr:`r1theory.TabularMDP.reachable` for softmax policies): a state whose visitation underflows
    (a near-deterministic π upstream, d(s) ≈ e^{-10⁴}) still gets its centred advantage — the exact
    iteration's, not 0 (issue #14: zeroing it froze NPG at a suboptimal policy).
    """
    A = point.ev.A
    centred = A - np.add.reduce(A, axis=1, keepdims=True) / A.shape[1]  # A.mean(axis=1) bit for bit, less overhead
    return np.where(point.ev.reachable[:, None], centred, 0.0) / (1.0 - point.mdp.gamma)


def natural_gradient_at(point: PolicyPoint, damping: float = 0.0) -> Array:
    """F⁺∇J (λ = 0) or (F + λI)^{-1}∇J (λ > 0) at an evaluated point; closed form for tabular softmax."""
    lam = check_damping(damping, positive=False)
    if lam == 0.0 and point.param.is_tabular:
        return npg_closed_form(point)
    return fisher_at(point).solve(point.gradient, lam)


def natural_gradient(mdp: TabularMDP, theta: Any, damping: float = 0.0, param: Parametrisation | None = None) -> Array:
    """Natural gradient of J at θ: F⁺∇J (damping 0) or (F + λI)^{-1}∇J (damping λ > 0), θ-shaped.

    Tabular softmax uses the closed form :func:`npg_closed_form` and the blockwise
    :meth:`TabularFisher.solve`; other parametrisations use :meth:`ParamFisher.solve`.
    """
    check_damping(damping, positive=False)
    return natural_gradient_at(policy_point(mdp, theta, param), damping)
