"""A policy point: θ, its softmax policy in log space, and its exact evaluation.

Every derived quantity (gradient, Fisher, directions) at one θ shares one evaluation, so a
method costs one LU factorisation per iterate. This is also the parametrisation seam
(:mod:`r1theory.policies`): the tabular softmax logits are θ itself (identity Jacobian); other
parametrisations map their parameters to logits and pull the logit-space quantities back through
the Jacobian.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._types import Array
from ._validate import as_real_array, check_finite, check_shape
from .evaluation import Evaluation, _evaluate
from .mdp import TabularMDP
from .policies import Linearisation, Parametrisation, TabularSoftmax
from .score import combine_scores
from .softmax import log_softmax, log_softmax_unchecked


def check_theta(mdp: TabularMDP, theta: Any) -> Array:
    """Validate softmax logits θ of shape (S, A): real and finite."""
    t = as_real_array(theta, "theta")
    check_shape(t, (mdp.S, mdp.A), "theta", "(S, A) = logits θ(s, a)")
    check_finite(t, "theta")
    return t


@dataclass(frozen=True)
class PolicyPoint:
    """θ with its parametrisation linearised at θ, π = softmax(logits), log π, and the exact evaluation of π."""

    mdp: TabularMDP
    theta: Array
    log_pi: Array
    pi: Array
    ev: Evaluation
    param: Parametrisation
    lin: Linearisation

    @property
    def logit_gradient(self) -> Array:
        """∂J/∂ℓ(s, a) = d(s) π(a|s) A(s, a) / (1 − γ), the gradient in logit space (Agarwal et al. 2021, Lemma C.1)."""
        return self.ev.d[:, None] * self.pi * self.ev.A / (1.0 - self.mdp.gamma)

    @property
    def gradient(self) -> Array:
        """∇_θ J = Jᵀ ∂J/∂ℓ (for tabular softmax, ∂J/∂θ(s, a) = d(s) π(a|s) A(s, a)/(1 − γ)).

        For another parametrisation the logit gradient g_ℓ is centred per state before the pullback, as
        g_ℓ(s, ·) − π_s Σ_a g_ℓ(s, a) (:func:`r1theory.score.combine_scores`; the dominant action's entry
        is formed without cancellation). Σ_a g_ℓ(s, a) = d(s)Σ_a π A/(1 − γ) = 0 in exact arithmetic
        (Σ_a π(a|s)A(s, a) = 0), so this is the identity mathematically; numerically, the row sums of the
        uncentred g_ℓ carry the rounding of the Q-sized advantages (up to ~1e-11 of max|g_ℓ(s, ·)|
        observed), and Jᵀ would pass it on along every per-state logit shift the parametrisation can
        express (a per-state bias feature, a neural output bias): a direction along which J is constant
        would get a gradient of rounding noise. After centring the rows sum to ~ε·max|g_ℓ(s, ·)|. The
        π-weighted (oblique) centring moves an entry by π(a|s) times the row sum, so small entries of a
        near-deterministic π keep their relative accuracy (the orthogonal centring subtracts the mean
        from every entry alike). Tabular softmax keeps g_ℓ itself (its closed forms are written for it).
        """
        if self.param.is_tabular:
            return self.logit_gradient
        return self.lin.pullback(combine_scores(self.logit_gradient, self.pi))


def resolve(mdp: TabularMDP, param: Parametrisation | None) -> Parametrisation:
    """The parametrisation to use (tabular softmax by default), checked against the MDP's sizes."""
    if param is None:
        return TabularSoftmax(mdp.S, mdp.A)
    if not isinstance(param, Parametrisation):
        raise TypeError(f"param must be an r1theory.policies.Parametrisation; got {type(param).__name__}")
    if (param.S, param.A) != (mdp.S, mdp.A):
        raise ValueError(f"param is for (S, A) = {(param.S, param.A)} but the MDP has {(mdp.S, mdp.A)}")
    return param


def policy_point(mdp: TabularMDP, theta: Any, param: Parametrisation | None = None) -> PolicyPoint:
    """Validate θ and evaluate its softmax policy exactly (tabular softmax unless ``param`` says otherwise)."""
    par = resolve(mdp, param)
    t = check_theta(mdp, theta) if par.is_tabular else par.check_theta(theta)
    lin = par.at(t)
    log_pi = log_softmax(lin.logits)
    pi = np.exp(log_pi)
    return PolicyPoint(mdp=mdp, theta=t, log_pi=log_pi, pi=pi, ev=_evaluate(mdp, pi), param=par, lin=lin)


def next_point(mdp: TabularMDP, theta: Array, param: Parametrisation) -> PolicyPoint:
    """:func:`policy_point` at an iterate θ_{t+1} = θ_t + η·direction that the caller has checked finite.

    For tabular softmax θ is then a float64 (S, A) array of finite logits, so the validation of
    :func:`policy_point` (which copies θ and scans it twice) is skipped: the same arithmetic
    (:func:`r1theory.softmax.log_softmax_unchecked`, then :func:`r1theory.evaluation._evaluate`), bit for bit.
    Other parametrisations go through :func:`policy_point` unchanged, since their logits may still overflow.
    """
    if not param.is_tabular:
        return policy_point(mdp, theta, param)
    log_pi = log_softmax_unchecked(theta)
    pi = np.exp(log_pi)
    return PolicyPoint(
        mdp=mdp, theta=theta, log_pi=log_pi, pi=pi, ev=_evaluate(mdp, pi), param=param, lin=param.at(theta)
    )


def policy_gradient(mdp: TabularMDP, theta: Any, param: Parametrisation | None = None) -> Array:
    """Exact policy gradient of J(θ) = ρ·V^{π_θ}, θ-shaped ((S, A) for tabular softmax).

    ∂J/∂θ(s, a) = d(s) π(a|s) A(s, a) / (1 − γ) for tabular softmax, with d the normalised discounted
    visitation from ρ (policy gradient theorem; Agarwal et al. 2021, Lemma C.1; Mei et al. 2020,
    Lemma 1); each row sums to zero (softmax shift invariance) up to rounding. For another
    parametrisation, ∇_θJ = Jᵀ of that logit-space gradient.
    """
    return policy_point(mdp, theta, param).gradient
