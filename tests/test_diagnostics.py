"""fisher_diagnostics: errors Π(M − (F + λI)^{-1})Π and centred cosines, against dense references."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import r1theory as r1

DAMPINGS = [1e-3, 0.1, 3.0]


def _dense_preconditioners(ref, mdp, theta, lam):
    pi = ref.naive_softmax(theta)
    d = ref.occupancy(mdp, pi)
    F = ref.fisher_dense(d, pi)
    n = F.shape[0]
    g = (d[:, None] * pi * ref.advantage(mdp, pi)).ravel() / (1.0 - mdp.gamma)
    w, V = np.linalg.eigh(F)
    U, wts = ref.score_vectors(pi), ref.sample_weights(d, pi)
    M = {
        "npg-damped": np.linalg.inv(F + lam * np.eye(n)),
        "r1-grad": ref.sm_dense(g, lam),
        "r1-eigen": ref.sm_dense(np.sqrt(w[-1]) * V[:, -1], lam),
        "r1-precond": sum(wts[k] * ref.sm_dense(U[k], lam) for k in range(n)),
    }
    Pi = F @ np.linalg.pinv(F, hermitian=True)
    return M, Pi, g


def test_diagnostics_keys_and_fields(instance):
    mdp, theta = instance
    diag = r1.fisher_diagnostics(mdp, theta, 0.1)
    assert set(diag) == {"pg"} | set(r1.DAMPED_METHODS)
    for name, dg in diag.items():
        assert dg.method == name
    for name in ("pg", "r1-same"):  # no fixed preconditioner
        assert diag[name].spectral_error is None
        assert diag[name].frobenius_error is None
        assert diag[name].relative_spectral_error is None


@pytest.mark.parametrize("lam", DAMPINGS)
def test_errors_match_dense_reference(instance, ref, lam):
    mdp, theta = instance
    M, Pi, _ = _dense_preconditioners(ref, mdp, theta, lam)
    target = Pi @ M["npg-damped"] @ Pi
    target_norm = np.abs(np.linalg.eigvalsh(target)).max()
    diag = r1.fisher_diagnostics(mdp, theta, lam)
    for method in ("npg-damped", "r1-grad", "r1-eigen", "r1-precond"):
        E = Pi @ M[method] @ Pi - target
        spec = np.abs(np.linalg.eigvalsh(0.5 * (E + E.T))).max()
        dg = diag[method]
        tol = 1e-10 / lam  # ‖M‖ ≤ 1/λ; the dense inverses and projectors are accurate to ~κ ε
        assert dg.spectral_error == pytest.approx(spec, abs=tol)
        assert dg.frobenius_error == pytest.approx(np.linalg.norm(E), abs=tol)
        assert dg.relative_spectral_error == pytest.approx(spec / target_norm, abs=tol / target_norm)
        assert dg.spectral_error >= 0.0
        assert dg.frobenius_error >= 0.0
        assert dg.relative_spectral_error >= 0.0
        assert dg.frobenius_error >= dg.spectral_error * (1 - 1e-12)  # ‖E‖_F ≥ ‖E‖_2
    # npg-damped IS the target: zero error
    assert diag["npg-damped"].spectral_error <= 1e-12 * target_norm
    assert diag["npg-damped"].frobenius_error <= 1e-12 * target_norm
    # the rank-1 preconditioners are not the target (an error that cannot be zero is reported)
    assert diag["r1-precond"].spectral_error > 1e-6 * target_norm


@pytest.mark.parametrize("lam", DAMPINGS)
def test_cosines_match_dense_reference(instance, ref, lam):
    mdp, theta = instance
    M, _, g = _dense_preconditioners(ref, mdp, theta, lam)
    pi = ref.naive_softmax(theta)
    npg = ref.centred(ref.advantage(mdp, pi)).ravel() / (1.0 - mdp.gamma)

    def cos(x):
        xc = ref.centred(x.reshape(mdp.S, mdp.A)).ravel()
        return float(xc @ npg / (np.linalg.norm(xc) * np.linalg.norm(npg)))

    diag = r1.fisher_diagnostics(mdp, theta, lam)
    assert diag["pg"].cosine == pytest.approx(cos(g), abs=1e-10)
    for method in ("npg-damped", "r1-grad", "r1-eigen", "r1-precond"):
        assert diag[method].cosine == pytest.approx(cos(M[method] @ g), abs=1e-9)
    r1_same = r1.direction("r1-same", mdp, theta, damping=lam)
    assert diag["r1-same"].cosine == pytest.approx(r1.centred_cosine(r1_same, npg.reshape(mdp.S, mdp.A)), abs=1e-12)
    for dg in diag.values():
        assert -1.0 - 1e-12 <= dg.cosine <= 1.0 + 1e-12


@pytest.mark.parametrize("lam", DAMPINGS)
def test_r1_grad_cosine_equals_pg_cosine(instance, lam):
    """r1-grad is PG rescaled by 1/(λ + ‖g‖²) > 0, so its cosine with the NPG is PG's."""
    mdp, theta = instance
    diag = r1.fisher_diagnostics(mdp, theta, lam)
    assert diag["r1-grad"].cosine == pytest.approx(diag["pg"].cosine, abs=1e-13)


def test_npg_damped_cosine_tends_to_one(instance):
    mdp, theta = instance
    gaps = [1.0 - r1.fisher_diagnostics(mdp, theta, lam)["npg-damped"].cosine for lam in (1.0, 1e-2, 1e-4, 1e-7)]
    assert all(gap >= -1e-14 for gap in gaps)
    assert gaps[-1] <= 1e-10
    # monotone (up to rounding) and O(λ²)-fast at the end: (1 − cos) = O(λ²)
    assert all(b <= a + 1e-14 for a, b in itertools.pairwise(gaps))
    assert gaps[2] <= max(1e-12, 1e-2 * gaps[1])


def test_centred_cosine_definition():
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    y = np.array([[10.0, 20.0, 30.0], [7.0, 7.0, 57.0]])  # y = 10x + per-state constants
    assert r1.centred_cosine(x, y) == pytest.approx(1.0, abs=1e-15)
    assert r1.centred_cosine(x, -y) == pytest.approx(-1.0, abs=1e-15)
    assert np.isnan(r1.centred_cosine(np.ones((2, 3)), y))  # a per-state constant centres to 0
    z = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]])
    w = np.array([[1.0, 1.0, -2.0], [0.0, 0.0, 0.0]])
    assert r1.centred_cosine(z, w) == pytest.approx(0.0, abs=1e-15)


def test_diagnostics_refuse_large_instances():
    S, A = 64, 63  # S·A = 4032 > MAX_DENSE = 4000
    P = np.zeros((S, A, S))
    P[:, :, 0] = 1.0
    mdp = r1.TabularMDP(P, np.zeros((S, A)), 0.5, np.full(S, 1.0 / S))
    with pytest.raises(ValueError, match="S·A = 4032"):
        r1.fisher_diagnostics(mdp, np.zeros((S, A)), 0.1)
