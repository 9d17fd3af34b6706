"""Log-linear features of the C1 families: conditioned features, and why Gaussian ones cannot decide C1."""

from __future__ import annotations

import numpy as np
import pytest

from proofs_checks.c1_faster_than_pg import loglinear, suite
from proofs_checks.runs import conditioned_features, instance, param_from
from r1theory import evaluate, iterate, softmax

RANDOM = {"S": 10, "A": 4, "gamma": 0.95, "seed": 1}


def _centred(phi: np.ndarray) -> np.ndarray:
    S, A, k = phi.shape
    return (phi - phi.mean(axis=1, keepdims=True)).reshape(S * A, k)


@pytest.mark.parametrize(("S", "A", "k", "cond"), [(10, 4, 30, 3.0), (6, 3, 12, 10.0), (4, 3, 5, 1.0), (3, 2, 9, 2.0)])
def test_conditioned_features_have_the_stated_spectrum_and_span(S: int, A: int, k: int, cond: float) -> None:
    rng = np.random.default_rng(7)
    phi = rng.normal(size=(S, A, k))
    out = conditioned_features(phi, cond)
    sv = np.linalg.svd(_centred(out), compute_uv=False)
    r = min(k, S * (A - 1))
    np.testing.assert_allclose(sv[:r], cond ** (-np.arange(r) / max(r - 1, 1)), rtol=1e-12)
    assert np.all(sv[r:] < 1e-12)
    np.testing.assert_allclose(out.sum(axis=1), 0.0, atol=1e-12)  # centred per state
    # the same column space of centred logits as the draw (only the singular values changed)
    Q_in = np.linalg.svd(_centred(phi), full_matrices=False)[0][:, :r]
    Q_out = np.linalg.svd(_centred(out), full_matrices=False)[0][:, :r]
    np.testing.assert_allclose(Q_in @ Q_in.T, Q_out @ Q_out.T, atol=1e-10)


def test_bad_condition_number_is_refused() -> None:
    phi = np.ones((2, 2, 3))
    with pytest.raises(ValueError, match="cond"):
        conditioned_features(phi, 0.5)
    with pytest.raises(ValueError, match="centred features are zero"):
        conditioned_features(phi, 2.0)  # constant per state: no centred direction


def test_quick_loglinear_family_is_the_full_class_and_gaussian_features_are_the_hard_case() -> None:
    """The documented diagnostic: on the random 10×4 MDP, Gaussian k = 40 features stall every method far
    above the tight ε = 1e-4·gap₀ within the quick cap, while the family's κ = 3 features let PG reach it."""
    mdp, _, opt = instance("random", RANDOM)
    fam = next(f for f in suite(quick=True) if f.param is not None)
    assert fam.param == loglinear(30) and fam.params == RANDOM
    gap0 = opt.J - evaluate(mdp, softmax(np.zeros((mdp.S, mdp.A)))).J
    best = {}
    for name, spec in (("gaussian", {"kind": "log-linear", "k": 40, "seed": 0}), ("family", fam.param)):
        par = param_from(spec, mdp)
        sv = np.linalg.svd(_centred(np.asarray(par.features)), compute_uv=False)
        sv = sv[sv > 1e-10 * sv[0]]
        assert len(sv) == mdp.S * (mdp.A - 1)  # both span the whole class of tabular softmax
        gaps = [
            iterate(mdp, np.zeros(par.theta_shape), "pg", eta, 1500, optimum=opt, param=par, tol=1e-4 * gap0).gap.min()
            for eta in (10.0, 100.0)
        ]
        best[name] = (min(gaps) / gap0, sv[0] / sv[-1])
    assert best["family"][1] == pytest.approx(3.0)
    assert best["gaussian"][1] > 10.0
    assert best["family"][0] <= 1e-4 * (1 + 1e-9)
    assert best["gaussian"][0] > 1e-3
