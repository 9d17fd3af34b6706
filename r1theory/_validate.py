"""Input validation shared by the engine: clear errors naming the field and the fix."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from ._types import Array

#: Tolerance for "sums to one" checks of transition rows and distributions.
SUM_TOL = 1e-9


def as_real_array(value: Any, field: str) -> Array:
    """Return ``value`` as a float64 array, or raise ``TypeError`` naming ``field``.

    Booleans, complex numbers, strings and objects are refused: they are never a valid
    probability, reward or logit, and silently casting them hides mistakes.
    """
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{field} must be a real numeric array; got {type(value).__name__} ({exc})") from exc
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(
            f"{field} must be a real numeric array (float or int); got dtype {arr.dtype}. "
            "Convert it with numpy.asarray(..., dtype=float)."
        )
    return np.array(arr, dtype=np.float64)


def check_shape(arr: Array, shape: tuple[int, ...], field: str, meaning: str) -> None:
    """Raise ``ValueError`` unless ``arr.shape == shape``."""
    if arr.shape != shape:
        raise ValueError(f"{field} must have shape {shape} {meaning}; got shape {arr.shape}")


def check_finite(arr: Array, field: str) -> None:
    """Raise ``ValueError`` if ``arr`` has NaN or infinite entries."""
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{field} has a NaN or infinite entry at index {tuple(int(i) for i in bad)}")


def check_distribution(arr: Array, field: str, axis: int = -1) -> None:
    """Raise ``ValueError`` unless ``arr`` is nonnegative and sums to one along ``axis``."""
    check_finite(arr, field)
    if np.any(arr < 0):
        bad = np.argwhere(arr < 0)[0]
        raise ValueError(
            f"{field} has a negative entry {arr[tuple(bad)]:.3g} at index {tuple(int(i) for i in bad)}; "
            "probabilities must be >= 0"
        )
    sums = arr.sum(axis=axis)
    err = np.abs(sums - 1.0)
    if np.any(err > SUM_TOL):
        where = np.unravel_index(int(np.argmax(err)), np.shape(sums)) if np.ndim(sums) else ()
        worst = float(np.asarray(sums)[where]) if np.ndim(sums) else float(sums)
        loc = f" at index {tuple(int(i) for i in where)}" if where else ""
        raise ValueError(
            f"{field} must sum to 1 along its last axis; the sum is {worst!r}{loc} "
            f"(tolerance {SUM_TOL:g}). Normalise it before building the object."
        )


def as_scalar(value: Any, field: str) -> float:
    """Return ``value`` as a Python float, or raise ``TypeError`` naming ``field``."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{field} must be a real number; got {type(value).__name__}")
    out = float(value)
    if not np.isfinite(out):
        raise ValueError(f"{field} must be finite; got {out}")
    return out


def check_damping(value: Any, *, positive: bool, method: str | None = None) -> float:
    """Validate a damping λ: finite, >= 0, and > 0 when ``positive``."""
    lam = as_scalar(value, "damping")
    if lam < 0:
        raise ValueError(f"damping must be >= 0; got {lam}")
    if positive and lam == 0:
        who = f"method {method!r}" if method else "this operation"
        raise ValueError(
            f"damping must be > 0 for {who} (it inverts λI + a rank-1 or PSD matrix); got 0. "
            "Use method 'npg' for the undamped natural gradient."
        )
    return lam


def check_method_damping(
    method: Any,
    damping: Any,
    *,
    methods: Sequence[str],
    damped: Collection[str],
    kind: str = "",
    example: float = 1e-2,
    undamped_fix: Mapping[str, str] | None = None,
) -> float:
    """Validate a method name from ``methods`` and its damping; return λ (0.0 for undamped methods).

    A method in ``damped`` needs a damping λ > 0; any other must get None or 0. ``kind`` qualifies the
    method in messages ("stochastic "), ``example`` is the λ suggested when one is missing, and
    ``undamped_fix`` maps an undamped method to the fix suggested when it is given a damping.
    """
    names = ", ".join(methods)
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, one of {names}; got {type(method).__name__}")
    if method not in methods:
        raise ValueError(f"unknown {kind}method {method!r}; choose one of {names}")
    if method in damped:
        if damping is None:
            raise ValueError(f"method {method!r} needs damping=λ > 0 (e.g. damping={example:g})")
        return check_damping(damping, positive=True, method=method)
    if damping is not None and check_damping(damping, positive=False) != 0.0:
        fix = (undamped_fix or {}).get(method, "pass damping=None")
        raise ValueError(f"method {method!r} is undamped but damping={damping} was given; {fix}")
    return 0.0
