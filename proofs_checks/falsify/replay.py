"""Replay: re-measure a saved counterexample from its files (nothing is read from the recorded violation)."""

from __future__ import annotations

import os

import numpy as np

from .measurement import Measurement
from .records import load_counterexample
from .registry import resolve

__all__ = ["replay"]


def replay(path: str | os.PathLike[str]) -> Measurement:
    """Re-measure a saved counterexample with its claim's current measurement (conditions re-checked)."""
    cand, rec = load_counterexample(path)
    claim, method = resolve(rec["claim"], rec["method"], cand.kind)
    with np.errstate(all="ignore"):
        return claim.measure(cand, method)
