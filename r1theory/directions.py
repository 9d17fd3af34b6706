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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._types import Array
from .fisher import fisher_at, natural_gradient_at
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
    return natural_gradient_at(p, 0.0)


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


for _m in (
    Method(
        "pg",
        "pg",
        damped=False,
        direction=_pg,
        summary="∇J",
        undamped_fix="pg has no damping; pass damping=None",
        reference=True,
    ),
    Method(
        "npg",
        "npg",
        damped=False,
        direction=_npg,
        summary="F⁺∇J = per-state-centred A/(1−γ) (Agarwal et al. 2021, Lemma 5.1)",
        undamped_fix="use 'npg-damped'",
        reference=True,
    ),
    Method(
        "npg-damped",
        "npg-damped",
        damped=True,
        direction=_npg_damped,
        preconditioner=_npg_damped_preconditioner,
        summary="(F + λI)⁻¹∇J (blockwise Sherman–Morrison, O(SA))",
    ),
    Method(
        "r1-eigen",
        "r1-eigen",
        damped=True,
        direction=_r1_eigen,
        preconditioner=_r1_eigen_preconditioner,
        summary="(λI + σ₁v₁v₁ᵀ)⁻¹∇J, σ₁v₁v₁ᵀ the best rank-1 approximation of F (Eckart–Young), canonical v₁",
    ),
    Method(
        "r1-grad",
        "r1-grad (V1)",
        damped=True,
        direction=_r1_grad,
        preconditioner=_r1_grad_preconditioner,
        summary="(λI + ∇J∇Jᵀ)⁻¹∇J = ∇J/(λ + ‖∇J‖²)",
        rescaled_pg=True,
    ),
    Method(
        "r1-same",
        "r1-same (V2)",
        damped=True,
        direction=_r1_same,
        summary="E_{s∼d,a∼π}[(λI + uuᵀ)⁻¹ Â u], Â = A(s,a)/(1−γ)",
    ),
    Method(
        "r1-precond",
        "r1-precond (V3)",
        damped=True,
        direction=_r1_precond,
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
