"""The pruned top eigenpair of the blockwise Fisher against a dense eigensolver."""

from __future__ import annotations

import numpy as np
import pytest

import r1theory as r1


@pytest.mark.parametrize("scale", [0.0, 0.3, 1.0, 5.0, 40.0])
@pytest.mark.parametrize("S,A", [(1, 2), (7, 3), (40, 5), (12, 1)])
def test_top_eigenpair_is_the_largest_eigenpair(S: int, A: int, scale: float) -> None:
    rng = np.random.default_rng(S * 100 + A)
    P = rng.random((S, A, S))
    P /= P.sum(axis=-1, keepdims=True)
    mdp = r1.TabularMDP(P, rng.random((S, A)), 0.9, rng.dirichlet(np.ones(S)))
    theta = scale * rng.normal(size=(S, A))
    theta[0, :] = 0.0  # a block with all probabilities tied
    F = r1.fisher(mdp, theta)
    sigma, v = F.top_eigenpair()
    w = np.linalg.eigvalsh(F.dense())
    assert sigma == pytest.approx(w[-1], rel=1e-12, abs=1e-300)
    assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(F.mv(v), sigma * v, atol=1e-12 * max(sigma, 1e-300))
