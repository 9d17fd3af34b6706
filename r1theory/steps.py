"""Step-size rules: the step η_t is separate from the direction (docs/claims.md#the-method-family).

A rule maps (t, point, direction) to η_t ≥ 0. Rules from the theory:

* :func:`constant` — η_t = η.
* :func:`mei2020` — η = (1 − γ)³/8, the step of Mei et al. 2020, Theorem 4 (1/L with the
  smoothness constant L = 8/(1 − γ)³ of their Lemma 7); for a bandit (γ = 0) their Update 1 uses
  η = 2/5 = 1/L with L = 5/2 (Lemma 2), available as ``mei2020(0.0, bandit=True)``.
* :func:`agarwal2021_npg` — η = (1 − γ)² log|A|, the step at which Agarwal et al. 2021, Theorem 5.3
  gives ε-optimality of NPG within 2/((1 − γ)²ε) iterations.
* :func:`normalized` — η_t = η/‖direction_t‖₂, the geometry-aware normalised step of
  Mei et al. 2021 (GNPG) when the direction is ∇J.
* :func:`inverse_sqrt` — η_t = η₀/√(t + 1), the decreasing schedule of stochastic approximation for
  nonconvex smooth objectives (Ghadimi & Lan 2013, §2: E‖∇J‖² at a random iterate is O(log T/√T) for
  η_t ∝ 1/√t), used with a fixed batch by the C2 schedules (issue #18).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._types import Array
from ._validate import as_scalar


@dataclass(frozen=True)
class StepRule:
    """A step-size rule. ``kind`` is one of :data:`STEP_KINDS`; ``eta`` its scale (η or η₀); ``label`` for reports."""

    kind: str
    eta: float
    label: str

    def __call__(self, t: int, direction: Array) -> float:
        """η_t for iteration t with the given direction."""
        if self.kind == "normalized":
            norm = float(np.linalg.norm(direction))
            return self.eta / norm if norm > 0 else 0.0
        return self.eta

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready description (used in configurations and cache keys); :meth:`from_dict` inverts it."""
        return {"kind": self.kind, "eta": self.eta, "label": self.label}

    @classmethod
    def from_dict(cls, spec: Any, where: str = "step") -> StepRule:
        """The rule :meth:`as_dict` described: ``{"kind": one of STEP_KINDS, "eta": η > 0, "label": str}``.

        Raises
        ------
        ValueError
            Naming the field (prefixed by ``where``) that is missing or invalid.
        """
        if not isinstance(spec, dict) or spec.get("kind") not in STEP_KINDS:
            raise ValueError(f"{where} must be an object whose kind is one of {', '.join(STEP_KINDS)}; got {spec!r}")
        eta = _positive(spec.get("eta"), f"{where}.eta")
        label = spec.get("label", f"{spec['kind']} {eta:g}")
        if not isinstance(label, str):
            raise ValueError(f"{where}.label must be a string; got {label!r}")
        if spec["kind"] == "inverse-sqrt":
            return InverseSqrt("inverse-sqrt", eta, label)
        return cls(str(spec["kind"]), eta, label)


@dataclass(frozen=True)
class InverseSqrt(StepRule):
    """η_t = η₀/√(t + 1): the rule of kind ``"inverse-sqrt"`` (:func:`inverse_sqrt`).

    A subclass, so that an engine that vectorises only the kinds it knows (``constant``, ``normalized``)
    calls it row by row, as it calls any :class:`StepRule` subclass, instead of taking its η₀ for a
    constant step.
    """

    def __call__(self, t: int, direction: Array) -> float:
        """η₀/√(t + 1) (the direction is not used)."""
        return self.eta / math.sqrt(t + 1)


#: The kinds of :class:`StepRule` (every rule from the theory is one of these with its own η and label).
STEP_KINDS: tuple[str, ...] = ("constant", "normalized", "inverse-sqrt")


def _positive(eta: Any, field: str = "step") -> float:
    value = as_scalar(eta, field)
    if value <= 0:
        raise ValueError(f"{field} must be > 0; got {value}")
    return value


def constant(eta: float) -> StepRule:
    """η_t = η for all t."""
    value = _positive(eta)
    return StepRule("constant", value, f"constant {value:g}")


def normalized(eta: float) -> StepRule:
    """η_t = η/‖direction_t‖₂ (unit-length moves of size η; 0 when the direction vanishes)."""
    value = _positive(eta)
    return StepRule("normalized", value, f"normalized {value:g}")


def inverse_sqrt(eta0: float) -> StepRule:
    """η_t = η₀/√(t + 1) for t = 0, 1, ... (η₀ at the first update)."""
    value = _positive(eta0, "eta0")
    return InverseSqrt("inverse-sqrt", value, f"{value:g}/√(t+1)")


def mei2020(gamma: float, bandit: bool = False) -> StepRule:
    """η = (1 − γ)³/8 (Mei et al. 2020, Thm 4), or η = 2/5 for a bandit (their Update 1, Lemma 4)."""
    if bandit:
        return StepRule("constant", 0.4, "Mei et al. 2020 bandit: 2/5")
    g = as_scalar(gamma, "gamma")
    return StepRule("constant", (1.0 - g) ** 3 / 8.0, "Mei et al. 2020: (1-γ)³/8")


def agarwal2021_npg(gamma: float, A: int) -> StepRule:
    """η = (1 − γ)² log|A| (Agarwal et al. 2021, Thm 5.3: ε-optimal within 2/((1 − γ)²ε) iterations)."""
    g = as_scalar(gamma, "gamma")
    if A < 2:
        raise ValueError(f"agarwal2021_npg needs at least 2 actions (log|A| > 0); got A={A}")
    return StepRule("constant", (1.0 - g) ** 2 * math.log(A), "Agarwal et al. 2021: (1-γ)² log|A|")


def as_step_rule(step: Any) -> StepRule:
    """Accept a :class:`StepRule` or a positive number (a constant step)."""
    if isinstance(step, StepRule):
        return step
    return constant(step)
