"""Row-wise softmax policies, computed in log space.

π(a|s) = exp θ(s, a) / Σ_b exp θ(s, b), evaluated as exp(θ − logsumexp θ) so that logits of
any magnitude (|θ| = 1e3 and beyond) give finite probabilities that sum to one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._types import Array
from ._validate import as_real_array, check_finite


def log_softmax(theta: Any) -> Array:
    """Row-wise ``log π = θ − logsumexp(θ)`` along the last axis (stable for any finite θ)."""
    t = as_real_array(theta, "theta")
    if t.ndim < 1 or t.shape[-1] == 0:
        raise ValueError(f"theta must have at least one action along its last axis; got shape {t.shape}")
    check_finite(t, "theta")
    return log_softmax_unchecked(t)


def log_softmax_unchecked(t: Array) -> Array:
    """:func:`log_softmax` of a validated float64 array with a nonempty last axis of finite logits (no checks).

    The hot path of the exact iterates (:func:`r1theory.iterate`), whose θ_{t+1} is float64 and checked
    finite by the loop: the same arithmetic, without re-validating (and copying) θ at every iteration.
    ``np.maximum.reduce``/``np.add.reduce`` are what ``ndarray.max``/``ndarray.sum`` call.
    """
    z = t - np.maximum.reduce(t, axis=-1, keepdims=True)
    return z - np.log(np.add.reduce(np.exp(z), axis=-1, keepdims=True))


def softmax(theta: Any) -> Array:
    """Row-wise softmax π = exp(log_softmax(θ)); rows sum to 1, entries in [0, 1]."""
    return np.exp(log_softmax(theta))
