"""A policy point: θ, its softmax policy in log space, and its exact evaluation.

Every derived quantity (gradient, Fisher, directions) at one θ shares one evaluation, so a
method costs one LU factorisation per iterate. This is also the parametrisation seam: the
tabular softmax logits are θ itself (identity Jacobian); other parametrisations map their
parameters to these logits and pull the logit-space quantities back through the Jacobian.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._types import Array
from ._validate import as_real_array, check_finite, check_shape
from .evaluation import Evaluation, _evaluate
from .mdp import TabularMDP
from .softmax import log_softmax


def check_theta(mdp: TabularMDP, theta: Any) -> Array:
    """Validate softmax logits θ of shape (S, A): real and finite."""
    t = as_real_array(theta, "theta")
    check_shape(t, (mdp.S, mdp.A), "theta", "(S, A) = logits θ(s, a)")
    check_finite(t, "theta")
    return t


@dataclass(frozen=True)
class PolicyPoint:
    """θ with π = softmax(θ), log π, and the exact evaluation of π."""

    mdp: TabularMDP
    theta: Array
    log_pi: Array
    pi: Array
    ev: Evaluation

    @property
    def gradient(self) -> Array:
        """∂J/∂θ(s, a) = d(s) π(a|s) A(s, a) / (1 − γ)  (Agarwal et al. 2021, Lemma C.1)."""
        return self.ev.d[:, None] * self.pi * self.ev.A / (1.0 - self.mdp.gamma)


def policy_point(mdp: TabularMDP, theta: Any) -> PolicyPoint:
    """Validate θ and evaluate its softmax policy exactly."""
    t = check_theta(mdp, theta)
    log_pi = log_softmax(t)
    pi = np.exp(log_pi)
    return PolicyPoint(mdp=mdp, theta=t, log_pi=log_pi, pi=pi, ev=_evaluate(mdp, pi))


def policy_gradient(mdp: TabularMDP, theta: Any) -> Array:
    """Exact policy gradient of J(θ) = ρ·V^{π_θ} for tabular softmax, shape (S, A).

    ∂J/∂θ(s, a) = d(s) π(a|s) A(s, a) / (1 − γ), with d the normalised discounted visitation
    from ρ (policy gradient theorem; Agarwal et al. 2021, Lemma C.1; Mei et al. 2020, Lemma 1).
    Each row sums to zero (softmax shift invariance) up to rounding.
    """
    return policy_point(mdp, theta).gradient
