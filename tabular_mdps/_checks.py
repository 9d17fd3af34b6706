"""Parameter checks shared by the builders: clear errors naming the parameter."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_int(value: Any, name: str, minimum: int) -> int:
    """Return ``value`` as an int ≥ ``minimum``, or raise TypeError / ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    v = int(value)
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {v}")
    return v


def check_real(value: Any, name: str, low: float, high: float, *, closed_high: bool = False) -> float:
    """Return ``value`` as a float in [low, high) (or [low, high]), else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    v = float(value)
    ok = low <= v <= high if closed_high else low <= v < high
    if not ok:
        bracket = "]" if closed_high else ")"
        raise ValueError(f"{name} must lie in [{low}, {high}{bracket}; got {v}")
    return v


def check_seed(seed: Any) -> np.random.Generator:
    """``numpy.random.default_rng(seed)`` for an explicit non-negative int seed."""
    s = check_int(seed, "seed", 0)
    return np.random.default_rng(s)


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ValueError naming ``name``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return str(value)
