"""The C2 sweep shared by the stochastic figures: :func:`proofs_checks.c2_sample_complexity.runs`.

The figures read the check's own runs, choices, fits and bias tasks (memoised per sweep runner), so after
``r1theory verify`` with the same ``--out`` nothing is recomputed and the figures show the report's
numbers.
"""

from __future__ import annotations

from proofs_checks.c2_bias import BIAS_POINTS, LAMBDA_BIAS
from proofs_checks.c2_sample_complexity import C2Sweep, runs, thresholds

__all__ = ["BIAS_POINTS", "LAMBDA_BIAS", "C2Sweep", "sweep", "thresholds"]

#: The C2 sweep of a context (run or read from the cache).
sweep = runs
