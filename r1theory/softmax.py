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
    m = t.max(axis=-1, keepdims=True)
    z = t - m
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def softmax(theta: Any) -> Array:
    """Row-wise softmax π = exp(log_softmax(θ)); rows sum to 1, entries in [0, 1]."""
    return np.exp(log_softmax(theta))
