"""CheckResult: one claim tested under one set of conditions (docs/architecture.md#claims-and-checks)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

VERDICTS = ("holds", "fails", "inconclusive")


def jsonable(value: Any, nonfinite_as_strings: bool = True) -> Any:
    """Convert numpy scalars/arrays and nested containers to JSON-ready Python objects.

    Non-finite floats become the strings "inf", "-inf" and "nan" so the JSON stays standard; with
    ``nonfinite_as_strings=False`` they stay floats (for ``json.dumps(..., allow_nan=True)``, whose ``NaN`` and
    ``Infinity`` Python's and pandas' JSON readers read back as floats).
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v, nonfinite_as_strings) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, nonfinite_as_strings) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v, nonfinite_as_strings) for v in value.tolist()]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        if not nonfinite_as_strings:
            return f
        if np.isnan(f):
            return "nan"
        if np.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f
    return value


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one claim under stated conditions.

    Attributes
    ----------
    claim : stable identifier, e.g. ``mei2020.smoothness`` or ``c1.faster-than-pg``.
    statement : the claim exactly as tested (with its constants).
    variant : the method or variant the claim is about ("pg" for classic PG results).
    conditions : the conditions of this test (instance, γ, λ, η, protocol, ε, ...).
    measured : what was measured (numbers).
    bound : the bound or comparison target the measurement is held against.
    verdict : ``holds``, ``fails`` or ``inconclusive``.
    slack : how far the measurement is from the bound (positive = room to spare); None if n/a.
    evidence : supporting data: reasons, iteration indices, counterexample files, figures.
    """

    claim: str
    statement: str
    variant: str
    conditions: dict[str, Any]
    measured: dict[str, Any]
    bound: dict[str, Any]
    verdict: str
    slack: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}; got {self.verdict!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary with the keys of ``results.json``."""
        return jsonable(asdict(self))
