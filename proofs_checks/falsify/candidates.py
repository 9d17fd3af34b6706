"""Candidates: the instances a falsifiable claim is measured on, and the parametrisations they use.

A candidate is an MDP, a point θ of a policy parametrisation (:mod:`r1theory.policies`) and, where the
claim has them, λ, η and a number of updates. :data:`PARAM_KINDS`:

* ``tabular`` (the default) — θ = the (S, A) logits.
* ``log-linear`` — π(a|s) ∝ exp φ(s, a)ᵀθ with features φ ∈ R^{S×A×k} from
  :func:`tabular_mdps.strategies.features` (k = 1 … S·A + 2, entries multiples of 1/4 with |φ| ≤ 3,
  shrinking to 0 and simple numbers) and θ ∈ R^k from :func:`~tabular_mdps.strategies.parameter_vectors`
  (|θ_i| ≤ :data:`PARAM_MAX_ABS`).
* ``neural`` — one tanh hidden layer of width 1 … :data:`NEURAL_MAX_WIDTH` on one-hot state inputs,
  θ (weights and biases) from ``parameter_vectors`` as above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from r1theory import LogLinear, NeuralSoftmax, Parametrisation, PolicyPoint, TabularMDP, TabularSoftmax, policy_point
from r1theory._types import Array
from r1theory.policies import PARAM_KINDS as ENGINE_PARAM_KINDS
from tabular_mdps.strategies import features, parameter_vectors

__all__ = [
    "NEURAL_MAX_WIDTH",
    "PARAM_KINDS",
    "PARAM_MAX_ABS",
    "Candidate",
    "J_after",
    "param_kind",
    "parametrised",
    "point",
]

#: Parametrisation kinds a search can fuzz over (``search(..., param=kind)``, ``--param``): the engine's spec kinds.
PARAM_KINDS: tuple[str, ...] = ENGINE_PARAM_KINDS
#: ``neural`` candidates: one hidden tanh layer of width 1 … NEURAL_MAX_WIDTH, one-hot state inputs.
NEURAL_MAX_WIDTH = 4
#: Largest |θ_i| drawn for a log-linear or neural candidate (features are bounded by 3, so logits by 30·k).
PARAM_MAX_ABS = 10.0


def param_kind(param: Parametrisation | None) -> str:
    """The kind of a parametrisation: "tabular" (None or tabular softmax), "log-linear" or "neural".

    Raises
    ------
    TypeError
        For anything else (only these three can be searched over, saved and replayed).
    """
    if param is None:
        return TabularSoftmax.kind
    if isinstance(param, TabularSoftmax | LogLinear | NeuralSoftmax):
        return param.kind
    raise TypeError(
        "param must be None, TabularSoftmax, LogLinear or NeuralSoftmax (r1theory.policies); "
        f"got {type(param).__name__}"
    )


@dataclass(frozen=True)
class Candidate:
    """One instance a claim is measured on.

    Attributes
    ----------
    mdp : the MDP.
    theta : the parameters of ``param`` (the point, or the initial point of a run): (S, A) logits for
        tabular softmax, a vector of length k for a log-linear or neural policy.
    damping : λ of a damped method, else None.
    step : the step η where the claim has one, else None.
    iterations : the number of updates where the claim runs a method, else None.
    param : the policy parametrisation (:mod:`r1theory.policies`); None means tabular softmax (the
        default, so candidates and records from before parametrisations existed keep their meaning).

    Raises
    ------
    TypeError, ValueError
        ``param`` is not None, TabularSoftmax, LogLinear or NeuralSoftmax, or is for other (S, A) than the MDP.
    """

    mdp: TabularMDP
    theta: Array
    damping: float | None = None
    step: float | None = None
    iterations: int | None = None
    param: Parametrisation | None = None

    def __post_init__(self) -> None:
        param_kind(self.param)  # TypeError for an unsupported parametrisation
        if self.param is not None and (self.param.S, self.param.A) != (self.mdp.S, self.mdp.A):
            raise ValueError(
                f"param is for (S, A) = {(self.param.S, self.param.A)} but the MDP has {(self.mdp.S, self.mdp.A)}"
            )

    @property
    def kind(self) -> str:
        """The parametrisation kind: "tabular", "log-linear" or "neural" (:func:`param_kind`)."""
        return param_kind(self.param)

    def describe(self) -> str:
        """A one-line summary: sizes, γ, the parametrisation (unless tabular), λ, η, iterations."""
        parts = [f"S={self.mdp.S}", f"A={self.mdp.A}", f"gamma={self.mdp.gamma:.6g}"]
        if isinstance(self.param, LogLinear):
            parts.append(f"param=log-linear(k={self.param.features.shape[2]})")
        elif isinstance(self.param, NeuralSoftmax):
            parts.append(f"param=neural(hidden={list(self.param.hidden)}, k={self.param.n_params})")
        if self.damping is not None:
            parts.append(f"damping={self.damping:.6g}")
        if self.step is not None:
            parts.append(f"step={self.step:.6g}")
        if self.iterations is not None:
            parts.append(f"iterations={self.iterations}")
        return ", ".join(parts)


def point(c: Candidate, theta: Array | None = None) -> PolicyPoint:
    """The policy point of the candidate's parametrisation at θ (the candidate's θ by default)."""
    return policy_point(c.mdp, c.theta if theta is None else theta, c.param)


def J_after(c: Candidate, theta: Array, step: float, d: Array) -> float:
    """J(θ + η·d) under the candidate's parametrisation; NaN when θ + η·d is not finite."""
    new = theta + step * d
    if not np.all(np.isfinite(new)):
        return math.nan
    return float(point(c, new).ev.J)


@st.composite
def parametrised(draw: st.DrawFn, mdp: TabularMDP, kind: str) -> tuple[Parametrisation, Array]:
    """A parametrisation of ``kind`` for ``mdp`` and a θ for it (module docstring, "Parametrisations")."""
    par: Parametrisation
    if kind == "log-linear":
        par = LogLinear(draw(features(mdp)))
    elif kind == "neural":
        par = NeuralSoftmax(mdp.S, mdp.A, (draw(st.integers(1, NEURAL_MAX_WIDTH)),))
    else:
        raise ValueError(f"no parametrised candidates of kind {kind!r}; choose one of: {', '.join(PARAM_KINDS[1:])}")
    return par, draw(parameter_vectors(par.n_params, PARAM_MAX_ABS))
