"""``einsum`` for the per-iterate hot path: numpy's C implementation without the Python wrapper.

``numpy.einsum(..., optimize=False)`` (its default) passes its operands straight to the C function
``c_einsum``; the wrapper and the ``__array_function__`` dispatch around it cost about 1 µs per call,
a tenth of an exact iteration's overhead at S = 5 (issue #17). Calling ``c_einsum`` directly is the same
computation bit for bit. Where numpy does not expose it (numpy < 2), this is ``numpy.einsum`` itself.
Use it only with ndarrays (no ``__array_function__`` overrides are honoured).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

einsum: Callable[..., Any]
try:
    from numpy._core.multiarray import c_einsum as einsum
except ImportError:  # pragma: no cover - numpy < 2 keeps it elsewhere; the public wrapper computes the same
    einsum = np.einsum

__all__ = ["einsum"]
