"""Update directions of the method family (design.md, "The method family").

Every method updates θ ← θ + η · direction(method, mdp, θ). With g = ∇J (exact policy gradient),
F the true Fisher, u_{s,a} = ∇log π(a|s) the score and n(s,a) = ‖u_{s,a}‖²:

==============  ===============================================================================
``pg``          g
``npg``         F⁺g = per-state-centred A/(1−γ) (closed form, Agarwal et al. 2021, Lemma 5.1)
``npg-damped``  (F + λI)^{-1} g (blockwise Sherman–Morrison, O(SA))
``r1-eigen``    (λI + σ₁v₁v₁ᵀ)^{-1} g, σ₁v₁v₁ᵀ the best rank-1 approximation of F (Eckart–Young)
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

from collections.abc import Callable
from typing import Any

import numpy as np

from ._types import Array
from ._validate import check_method_damping
from .fisher import fisher_at, natural_gradient_at
from .mdp import TabularMDP
from .point import PolicyPoint, policy_point
from .policies import Parametrisation
from .score import combine_scores, score_dot
from .sherman_morrison import sherman_morrison

#: Deterministic methods, in the order of the design's table.
METHODS: tuple[str, ...] = ("pg", "npg", "npg-damped", "r1-eigen", "r1-grad", "r1-same", "r1-precond")
#: Methods that need damping λ > 0.
DAMPED_METHODS: frozenset[str] = frozenset({"npg-damped", "r1-eigen", "r1-grad", "r1-same", "r1-precond"})


def _pg(p: PolicyPoint, lam: float) -> Array:
    return p.gradient


def _npg(p: PolicyPoint, lam: float) -> Array:
    return natural_gradient_at(p, 0.0)


def _npg_damped(p: PolicyPoint, lam: float) -> Array:
    return fisher_at(p).solve(p.gradient, lam)


def _r1_eigen(p: PolicyPoint, lam: float) -> Array:
    """(λI + σ₁v₁v₁ᵀ)^{-1} g by Sherman–Morrison with u = √σ₁ v₁."""
    sigma, v = fisher_at(p).top_eigenpair()
    g = p.gradient
    return sherman_morrison(np.sqrt(sigma) * v.ravel(), lam).mv(g.ravel()).reshape(g.shape)


def _r1_grad(p: PolicyPoint, lam: float) -> Array:
    """(λI + ggᵀ)^{-1} g = g/(λ + ‖g‖²) (Sherman–Morrison with u = v = g)."""
    g = p.gradient
    return g / (lam + float(np.vdot(g, g)))


def _r1_same(p: PolicyPoint, lam: float) -> Array:
    """V2: Σ_s d(s) Σ_a π(a|s) Â(s,a) u_{s,a}/(λ + n(s,a)).

    Sherman–Morrison with v = u gives (λI + uuᵀ)^{-1}Âu = Âu/(λ + ‖u‖²). With
    c(s,a) = π(a|s)A(s,a)/((1−γ)(λ + n(s,a))) and u_{s,a} = e_a − π_s on block s, the sum over a
    is c_s − π_s Σ_a c(s,a); block s is scaled by d(s).
    """
    c = p.pi * p.ev.A / ((1.0 - p.mdp.gamma) * (lam + p.lin.score_sq_norm(p.pi)))
    return p.lin.pullback(p.ev.d[:, None] * combine_scores(c, p.pi))


def _r1_precond(p: PolicyPoint, lam: float) -> Array:
    """V3: E[(λI + uuᵀ)^{-1}] g = g/λ − Σ_{s,a} d(s)π(a|s) u_{s,a}(u_{s,a}ᵀg)/(λ(λ + n(s,a))).

    Σ_{s,a} d(s)π(a|s) = 1 gives the g/λ term; u_{s,a}ᵀg = g(s,a) − π_s·g_s. With
    c(s,a) = d(s)π(a|s)(u_{s,a}ᵀg)/(λ(λ + n(s,a))), the correction on block s is c_s − π_s Σ_a c(s,a).
    """
    g = p.gradient
    ug = score_dot(p.lin.pushforward(g), p.pi)
    c = p.ev.d[:, None] * p.pi * ug / (lam * (lam + p.lin.score_sq_norm(p.pi)))
    return g / lam - p.lin.pullback(combine_scores(c, p.pi))


_DIRECTIONS: dict[str, Callable[[PolicyPoint, float], Array]] = {
    "pg": _pg,
    "npg": _npg,
    "npg-damped": _npg_damped,
    "r1-eigen": _r1_eigen,
    "r1-grad": _r1_grad,
    "r1-same": _r1_same,
    "r1-precond": _r1_precond,
}


def check_method(method: Any, damping: Any) -> float:
    """Validate a method name and its damping; return λ (0.0 for undamped methods)."""
    return check_method_damping(
        method,
        damping,
        methods=METHODS,
        damped=DAMPED_METHODS,
        undamped_fix={"npg": "use 'npg-damped'", "pg": "pg has no damping; pass damping=None"},
    )


def direction_at(point: PolicyPoint, method: str, damping: float | None = None) -> Array:
    """The direction of ``method`` at an already evaluated :class:`PolicyPoint`."""
    lam = check_method(method, damping)
    return _DIRECTIONS[method](point, lam)


def direction(
    method: str, mdp: TabularMDP, theta: Any, damping: float | None = None, param: Parametrisation | None = None
) -> Array:
    """The exact update direction of ``method`` at θ, θ-shaped ((S, A) for tabular softmax).

    Parameters
    ----------
    method
        One of :data:`METHODS`.
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
    lam = check_method(method, damping)
    return _DIRECTIONS[method](policy_point(mdp, theta, param), lam)
