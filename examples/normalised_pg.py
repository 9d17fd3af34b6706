"""Add a variant in one file: normalised policy gradient, D(θ) = ∇J/‖∇J‖₂.

Load it with ``--plugin`` on any command, or import it from Python::

    r1theory verify --quick --only c1 --plugin examples/normalised_pg.py
    r1theory falsify ascent.stated-step --method normalised-pg --plugin examples/normalised_pg.py
    r1theory figures --plugin examples/normalised_pg.py

Registering the record is all it takes: the method then runs in ``r1theory.iterate`` and
``r1theory.fisher_diagnostics``, joins C1's candidates (undamped, so one series per family, at every
step of the grid), the ascent search and the figures (with a default colour and this label).
"""

from __future__ import annotations

import numpy as np

import r1theory as r1
from r1theory.point import PolicyPoint


def normalised_gradient(p: PolicyPoint, damping: float) -> np.ndarray:
    """∇J/‖∇J‖₂ at the evaluated point ``p`` (0 where ∇J = 0); ``damping`` is unused (undamped method)."""
    g = p.gradient
    norm = float(np.linalg.norm(g))
    return g / norm if norm > 0 else np.zeros_like(g)


r1.register_method(
    r1.Method(
        "normalised-pg",
        "normalised pg",
        damped=False,
        direction=normalised_gradient,
        summary="∇J/‖∇J‖₂ (Mei et al. 2021's normalised step, as a direction)",
        rescaled_pg=True,
    ),
    replace=True,  # importing the file twice (a notebook re-run) replaces the record instead of failing
)
