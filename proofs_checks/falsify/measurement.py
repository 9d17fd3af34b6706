"""What a falsifiable claim returns for one candidate: :class:`Measurement`, and the tolerances it uses.

A measurement compares ``measured`` with ``bound`` under ``relation``; a violation is a measurement beyond
the bound by more than the stated tolerance. Conditions are re-checked by every measurement (an instance
that does not meet them is never a violation), so a saved counterexample replays from its files alone.
The value tolerance τ_V is :func:`proofs_checks._classic.value_tolerance`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from r1theory.numerics import TINY

from ..result import jsonable
from .candidates import Candidate

__all__ = ["TABULAR_ONLY", "Measurement", "Spec", "not_applicable", "score_relative"]

#: Why a classic claim does not apply to a log-linear or neural candidate.
TABULAR_ONLY = "the theorem is stated for tabular softmax only"


@dataclass(frozen=True)
class Measurement:
    """A claim measured on one candidate: ``measured`` against ``bound`` under ``relation``.

    ``relation`` is ">=" (the claim says measured ≥ bound; a violation is measured < bound − tolerance)
    or "<=" (measured ≤ bound; a violation is measured > bound + tolerance). ``margin`` is how far the
    measurement lies beyond the bound (positive for a violation of any size, before the tolerance).
    ``applicable`` is False when the candidate does not meet the claim's conditions (never a
    violation); ``reason`` says why, or what was violated.
    """

    violated: bool
    quantity: str
    measured: float
    bound: float
    relation: str
    tolerance: float
    reason: str = ""
    applicable: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def margin(self) -> float:
        """Measured − bound for "<=", bound − measured for ">=" (positive = beyond the bound)."""
        return self.measured - self.bound if self.relation == "<=" else self.bound - self.measured

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (non-finite floats as strings)."""
        return jsonable(
            {
                "quantity": self.quantity,
                "measured": self.measured,
                "bound": self.bound,
                "relation": self.relation,
                "tolerance": self.tolerance,
                "margin": self.margin,
                "violated": self.violated,
                "applicable": self.applicable,
                "reason": self.reason,
                "details": self.details,
            }
        )


def not_applicable(quantity: str, relation: str, reason: str) -> Measurement:
    """The measurement of a candidate that does not meet the claim's conditions (never a violation)."""
    return Measurement(False, quantity, math.nan, math.nan, relation, 0.0, reason, applicable=False)


def score_relative(m: Measurement) -> float:
    """A search score (larger = closer to a violation): the margin relative to the larger of |bound|, |measured|."""
    scale = max(abs(m.bound), abs(m.measured), TINY)
    value = m.margin / scale
    return value if math.isfinite(value) else 0.0


@dataclass(frozen=True)
class Spec:
    """What a falsify adapter declares for one claim: the methods, the candidates, the measurement, the score.

    ``candidates(method)`` draws tabular candidates; ``param_candidates(method, kind)`` log-linear or
    neural ones (None when the claim is stated for tabular softmax only); ``measure(candidate, method)``
    measures one candidate; ``score(measurement)`` is the :func:`hypothesis.target` score (larger = closer to
    a violation). The claim's id and statement come from :mod:`proofs_checks.claims`.
    """

    #: The methods it applies to: a live view of the method registry (plugins' methods included).
    methods: Sequence[str]
    default_method: str
    candidates: Callable[[str], st.SearchStrategy[Candidate]]
    measure: Callable[[Candidate, str], Measurement]
    score: Callable[[Measurement], float]
    param_candidates: Callable[[str, str], st.SearchStrategy[Candidate]] | None = None
