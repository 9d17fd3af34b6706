"""How well each rank-1 variant approximates the damped natural gradient.

For a method whose direction is M g with a fixed preconditioner M (``r1-grad``: (λI + ggᵀ)^{-1};
``r1-eigen``: (λI + σ₁v₁v₁ᵀ)^{-1}; ``r1-precond``: E_{s∼d,a∼π}[(λI + uuᵀ)^{-1}];
``npg-damped``: (F + λI)^{-1} itself), the error on the range of F is

    E = Π (M − (F + λI)^{-1}) Π,   Π = F F⁺ the orthogonal projector onto range(F),

reported in spectral norm, Frobenius norm, and spectral norm relative to ‖Π(F + λI)^{-1}Π‖₂.
``r1-same`` (V2) has no fixed preconditioner (its per-sample inverse multiplies the per-sample
gradient), so only its direction is compared.

Every method is compared with the natural gradient F⁺∇J by the cosine of the two directions in
range(F), where directions that differ by a null direction of F — the same policy update to first
order — coincide.

Two routes, one set of definitions:

* **Tabular softmax** (``param=None``): matrices of size (S·A)², F = blockdiag_s d(s)(diag π_s − π_s π_sᵀ)
  in closed form. range(F) is, per visited state, the vectors summing to 0 over the support of π_s,
  so the cosine is taken after centring each state's block (:func:`centred_cosine`), and F⁺∇J is the
  per-state-centred advantage over (1 − γ) (:func:`r1theory.fisher.npg_closed_form`).
* **Any other parametrisation** (log-linear, neural; :mod:`r1theory.policies`): matrices of size k², with
  the exact dense Fisher F = Jᵀ F_ℓ J = Σ_{s,a} d(s)π(a|s) u_{s,a}u_{s,a}ᵀ, u_{s,a} = Jᵀ(e_{(s,a)} − π_s),
  diagonalised once on its range, F = V_r diag(w_r) V_rᵀ (:meth:`r1theory.fisher.ParamFisher.spectrum`,
  the thin SVD of the factor X of F = XᵀX), keeping the eigenvalues w_i > :data:`RANK_RTOL`·w_max
  (see there): Π = V_r V_rᵀ, F⁺∇J = V_r diag(1/w_r) V_rᵀ∇J, and the cosine is that of Πx and Πy. Under full support
  (d > 0, π > 0) the tabular per-state centring *is* the projection onto range(F), so one-hot
  log-linear features reproduce the tabular numbers (up to rounding).

In exact arithmetic every method's direction already lies in range(F): ∇J = Jᵀ F_ℓ (A/(1 − γ)) and each
preconditioner maps range(F) into itself (its rank-1 terms are scores or ∇J, or v₁). The projection
therefore removes rounding and the components along eigenvalues below the rank tolerance.

The matrices are dense, so these diagnostics are for small and moderate instances
(k ≤ :data:`MAX_DENSE`, k = S·A for tabular softmax).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ._types import Array
from ._validate import check_damping
from .directions import direction_at
from .fisher import PINV_RCOND, ParamFisher, TabularFisher, fisher_at, npg_closed_form
from .mdp import TabularMDP
from .methods import Method, get_method, registered_methods
from .numerics import cosine
from .point import PolicyPoint, policy_point, resolve
from .policies import Parametrisation

#: Largest number of parameters k (S·A for tabular softmax) for which dense diagnostics are formed.
MAX_DENSE = 4000

#: Relative rank tolerance of the dense (parametrised) Fisher: an eigenvalue w_i of F counts as
#: nonzero iff w_i > RANK_RTOL·max(w_max, 0). It is the cut-off of the engine's pseudo-inverse
#: (:data:`r1theory.fisher.PINV_RCOND`), so Π is exactly the range on which ``npg`` (F⁺∇J) acts.
#: F is PSD and rank-deficient in general (every per-state logit shift the parametrisation can express
#: is a null direction; one-hot log-linear features have rank S(A − 1) of S·A): those eigenvalues come
#: out of the SVD as O(ε²‖F‖) or O(ε‖F‖), far below the cut-off. Genuine eigenvalues below it (a nearly
#: deterministic π, a nearly unvisited state) are counted as null too.
RANK_RTOL: float = PINV_RCOND


@dataclass(frozen=True)
class Diagnostic:
    """One method's agreement with the (damped) natural gradient at one θ.

    Attributes
    ----------
    method : the method name.
    cosine : cosine between the method's direction and F⁺∇J in range(F) (tabular: per-state centred;
        otherwise after projecting both onto range(F)); NaN if either is 0 there.
    spectral_error, frobenius_error, relative_spectral_error : norms of Π(M − (F + λI)^{-1})Π;
        None for methods without a fixed preconditioner (``r1-same``, ``pg``).
    top_eigenvalue, top_multiplicity : for ``r1-eigen`` only (None otherwise): σ₁ = λ_max(F) and the
        multiplicity of σ₁, dim E of the top eigenspace E (eigenvalues within
        :data:`r1theory.fisher.TOP_RTOL` of σ₁; :class:`r1theory.fisher.TopEigenspace`). With multiplicity
        > 1 the best rank-1 approximation σ₁v₁v₁ᵀ is not unique and the canonical v₁ = P_E∇J/‖P_E∇J‖ is used;
        the error norms do not depend on which unit v ∈ E is used when E is an exact eigenspace.
    """

    method: str
    cosine: float
    spectral_error: float | None
    frobenius_error: float | None
    relative_spectral_error: float | None
    top_eigenvalue: float | None = None
    top_multiplicity: int | None = None


def centred_cosine(x: Array, y: Array) -> float:
    """Cosine (:func:`r1theory.numerics.cosine`) of x and y after subtracting each state's mean (rows of (S, A) arrays).

    NaN if either centres to 0.
    """
    return cosine(x - x.mean(axis=1, keepdims=True), y - y.mean(axis=1, keepdims=True))


def _projected_cosine(x: Array, y: Array, Pi: Array) -> float:
    """Cosine of Πx and Πy (x, y θ-shaped, flattened row-major); NaN if one projects to 0."""
    return cosine(Pi @ x.ravel(), Pi @ y.ravel())


@dataclass(frozen=True)
class _Spectrum:
    """F = V diag(σ) Vᵀ on range(F) (:meth:`ParamFisher.spectrum`: eigenvalues > RANK_RTOL·σ₁, V of shape (k, r))."""

    sigma: Array
    V: Array

    @classmethod
    def of(cls, F: ParamFisher) -> _Spectrum:
        sigma, V = F.spectrum()
        return cls(sigma=sigma, V=V)

    def projector(self) -> Array:
        """Π = V Vᵀ, the orthogonal projector onto range(F)."""
        return self.V @ self.V.T

    def damped_inverse(self, lam: float) -> Array:
        """(F + λI)^{-1} = (I − VVᵀ)/λ + V diag(1/(σ + λ)) Vᵀ."""
        k = self.V.shape[0]
        return (np.eye(k) - self.projector()) / lam + (self.V / (self.sigma + lam)) @ self.V.T

    def pinv_apply(self, x: Array) -> Array:
        """F⁺x = V diag(1/σ) Vᵀ x (x flat), the pseudo-inverse with the rank cut-off."""
        return self.V @ ((self.V.T @ x) / self.sigma)


def _param_fisher(point: PolicyPoint) -> ParamFisher:
    F = fisher_at(point)
    assert isinstance(F, ParamFisher)
    return F


def _damping_of(method: Method, damping: float) -> float | None:
    return damping if method.damped else None


def preconditioner(point: PolicyPoint, method: str, damping: float) -> Array | None:
    """Dense preconditioner M of ``method`` at ``point``: its record's operator, formed (None if it has none).

    Shape (S·A, S·A) for tabular softmax, (k, k) for another parametrisation (θ flattened row-major).
    An undamped method's preconditioner is formed at λ = 0.
    """
    m = get_method(method)
    if m.preconditioner is None:
        return None
    return m.preconditioner(point, m.check_damping(_damping_of(m, damping))).dense()


def _range_projector(F: TabularFisher) -> Array:
    n = F.shape[0]
    return np.stack([F.project_range(e) for e in np.eye(n)], axis=1)


def range_projector(point: PolicyPoint) -> Array:
    """Π = F F⁺, the dense orthogonal projector onto range(F) at ``point``.

    Tabular softmax: per visited state, centring over the support of π_s (exact). Otherwise
    V_r V_rᵀ from the eigenvectors of F with eigenvalue > :data:`RANK_RTOL`·σ₁ (:meth:`ParamFisher.spectrum`).
    """
    if point.param.is_tabular:
        return _range_projector(TabularFisher(d=point.ev.d, pi=point.pi))
    return _Spectrum.of(_param_fisher(point)).projector()


def _errors(method: str, cos: float, PiMPi: Array, ref: Array, ref_norm: float) -> Diagnostic:
    """Norms of E = ΠMΠ − Π(F + λI)^{-1}Π (symmetrised against rounding)."""
    E = PiMPi - ref
    E = 0.5 * (E + E.T)
    spec = float(np.max(np.abs(np.linalg.eigvalsh(E))))
    rel = spec / ref_norm if ref_norm > 0 else float("nan")
    return Diagnostic(method, cos, spec, float(np.linalg.norm(E)), rel)


def _sym_norm(X: Array) -> float:
    return float(np.max(np.abs(np.linalg.eigvalsh(0.5 * (X + X.T)))))


def _with_top(out: dict[str, Diagnostic], point: PolicyPoint) -> dict[str, Diagnostic]:
    """Record σ₁ and its multiplicity (the top eigenspace of F the ``r1-eigen`` direction uses) on its entry."""
    if "r1-eigen" in out:
        E = fisher_at(point).top_eigenspace()
        out["r1-eigen"] = replace(out["r1-eigen"], top_eigenvalue=E.sigma, top_multiplicity=E.multiplicity)
    return out


def _diagnose(point: PolicyPoint, damping: float, cosine: Any, Pi: Array, ref: Array) -> dict[str, Diagnostic]:
    """One :class:`Diagnostic` per registered exact method.

    ``cosine(direction)`` with F⁺∇J, and for a method with a fixed preconditioner M (its record's
    operator) the norms of Π M Π − ``ref``.
    """
    ref_norm = _sym_norm(ref)
    out: dict[str, Diagnostic] = {}
    for m in registered_methods():
        lam = _damping_of(m, damping)
        cos = cosine(direction_at(point, m.name, lam))
        M = preconditioner(point, m.name, damping)
        out[m.name] = (
            Diagnostic(m.name, cos, None, None, None) if M is None else _errors(m.name, cos, Pi @ M @ Pi, ref, ref_norm)
        )
    return _with_top(out, point)


def _tabular_diagnostics(point: PolicyPoint, damping: float) -> dict[str, Diagnostic]:
    npg = npg_closed_form(point)
    F = TabularFisher(d=point.ev.d, pi=point.pi)
    Pi = _range_projector(F)
    inverse = np.stack([F.solve(e, damping) for e in np.eye(F.shape[0])], axis=1)  # (F + λI)^{-1}
    return _diagnose(point, damping, lambda d: centred_cosine(d, npg), Pi, Pi @ inverse @ Pi)


def _param_diagnostics(point: PolicyPoint, damping: float) -> dict[str, Diagnostic]:
    spec = _Spectrum.of(_param_fisher(point))
    Pi = spec.projector()
    npg = spec.pinv_apply(point.gradient.ravel())
    ref = Pi @ spec.damped_inverse(damping) @ Pi
    return _diagnose(point, damping, lambda d: _projected_cosine(d, npg, Pi), Pi, ref)


def fisher_diagnostics(
    mdp: TabularMDP, theta: Any, damping: float, *, param: Parametrisation | None = None
) -> dict[str, Diagnostic]:
    """Diagnostics of every registered exact method at θ with damping λ > 0 (see the module docstring).

    Parameters
    ----------
    mdp, theta
        The MDP and the parameters θ (softmax logits of shape (S, A) for tabular softmax).
    damping
        λ > 0, used by every damped method and by the reference (F + λI)^{-1}.
    param
        The policy parametrisation (:mod:`r1theory.policies`); tabular softmax by default. For another
        parametrisation every matrix lives in θ-space (k × k) with the dense Fisher F = Jᵀ F_ℓ J, the
        range of F is found with the relative rank tolerance :data:`RANK_RTOL`, and the cosine is
        taken after projecting both directions onto range(F). One-hot log-linear features reproduce
        the tabular diagnostics.

    Returns
    -------
    dict[str, Diagnostic]
        One :class:`Diagnostic` per method: ``pg`` and :data:`r1theory.directions.DAMPED_METHODS`; the
        ``r1-eigen`` entry also carries σ₁ and its multiplicity (``top_eigenvalue``, ``top_multiplicity``).

    Raises
    ------
    TypeError, ValueError
        If the damping is not a real number > 0, ``param`` is not a parametrisation of this MDP's
        (S, A), θ is invalid, or the number of parameters k (S·A for tabular softmax) exceeds
        :data:`MAX_DENSE`.
    """
    lam = check_damping(damping, positive=False)
    if lam == 0.0:
        raise ValueError(
            "damping must be > 0 for fisher_diagnostics (every damped method and the reference "
            "(F + λI)^{-1} invert λI plus a PSD matrix); got 0"
        )
    par = resolve(mdp, param)
    k = par.n_params
    if k > MAX_DENSE:
        what = "k = S·A" if par.is_tabular else f"k (the number of parameters of {par.name})"
        raise ValueError(f"fisher_diagnostics forms dense k × k matrices; {what} = {k} exceeds MAX_DENSE = {MAX_DENSE}")
    point = policy_point(mdp, theta, par)
    if par.is_tabular:
        return _tabular_diagnostics(point, lam)
    return _param_diagnostics(point, lam)
