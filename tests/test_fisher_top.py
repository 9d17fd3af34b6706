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


# ------------------------------------------------------------------------------------------------
# The canonical top eigenpair at degenerate points (issue #14), against a dense reference
# ------------------------------------------------------------------------------------------------
def _restart_mdp(rho: np.ndarray, A: int, seed: int = 0) -> r1.TabularMDP:
    """Every (s, a) restarts from ρ (P[s, a, ·] = ρ), so d = ρ for every policy: ties in d are exact by design."""
    S = rho.size
    P = np.broadcast_to(rho, (S, A, S)).copy()
    r = np.random.default_rng(seed).random((S, A))
    return r1.TabularMDP(P, r, 0.9, rho)


def _dense_top(F: np.ndarray, g: np.ndarray, rtol: float = 1e-9) -> tuple[float, int, np.ndarray]:
    """σ₁, dim E and P_E g/‖P_E g‖ from numpy's eigh of the dense F, eigenvalues grouped within rtol of σ₁."""
    w, U = np.linalg.eigh(F)
    sel = w >= (1.0 - rtol) * w[-1]
    Pg = U[:, sel] @ (U[:, sel].T @ g)
    return float(w[-1]), int(sel.sum()), Pg / np.linalg.norm(Pg)


def test_canonical_top_eigenpair_at_theta0_against_dense_reference() -> None:
    """θ = 0, d = (0.35, 0.35, 0.2, 0.1): blocks 0 and 1 tie, each with d/A of multiplicity A − 1, so dim E = 2(A − 1).

    v₁ = P_E∇J/‖P_E∇J‖ (numpy eigh of the dense F, eigenvalues grouped within 1e-9), and the r1-eigen
    direction equals the dense solve (λI + σ₁v₁v₁ᵀ)^{-1}∇J; the same through one-hot log-linear features
    (the dense ParamFisher route)."""
    A = 3
    mdp = _restart_mdp(np.array([0.35, 0.35, 0.2, 0.1]), A)
    theta = np.zeros((4, A))
    g = r1.policy_gradient(mdp, theta)
    F = r1.fisher(mdp, theta)
    sigma_ref, mult_ref, v_ref = _dense_top(F.dense(), g.ravel())
    assert mult_ref == 2 * (A - 1)
    assert sigma_ref == pytest.approx(0.35 / A, rel=1e-12)
    E = F.top_eigenspace()
    assert E.multiplicity == mult_ref
    assert E.sigma == pytest.approx(sigma_ref, rel=1e-12)
    _, v = F.top_eigenpair(toward=g)
    np.testing.assert_allclose(v.ravel(), v_ref, rtol=0, atol=1e-12)
    assert float(np.vdot(v, g)) > 0
    for lam in (1e-3, 0.1, 1.0):
        want = np.linalg.solve(lam * np.eye(g.size) + sigma_ref * np.outer(v_ref, v_ref), g.ravel())
        got = r1.direction("r1-eigen", mdp, theta, lam)
        np.testing.assert_allclose(got.ravel(), want, rtol=0, atol=1e-12 * np.abs(want).max())
        # one-hot log-linear features: the dense route gives the same canonical pair and direction
        param = r1.LogLinear.one_hot(4, A)
        got_p = r1.direction("r1-eigen", mdp, theta.ravel(), lam, param=param)
        np.testing.assert_allclose(got_p, want, rtol=0, atol=1e-10 * np.abs(want).max())
    Fp = r1.fisher(mdp, theta.ravel(), r1.LogLinear.one_hot(4, A))
    assert Fp.top_eigenspace().multiplicity == mult_ref
    np.testing.assert_allclose(Fp.top_eigenpair(toward=g.ravel())[1], v_ref, rtol=0, atol=1e-10)
    d = r1.fisher_diagnostics(mdp, theta, 0.1)["r1-eigen"]
    assert d.top_multiplicity == mult_ref
    assert d.top_eigenvalue == pytest.approx(sigma_ref, rel=1e-12)


def test_canonical_fallback_when_the_gradient_misses_the_top_eigenspace() -> None:
    """r = 0: ∇J = 0, so P_E∇J = 0 and v₁ is the fallback P_E e_i/‖P_E e_i‖, i the lowest flat index maximising
    (P_E)_{ii} (dense reference); every unit v ∈ E gives the same direction ∇J/λ = 0."""
    A = 3
    rho = np.array([0.2, 0.4, 0.4])
    mdp0 = _restart_mdp(rho, A)
    mdp = r1.TabularMDP(mdp0.P, np.zeros((3, A)), mdp0.gamma, rho)
    theta = np.zeros((3, A))
    F = r1.fisher(mdp, theta)
    w, U = np.linalg.eigh(F.dense())
    sel = w >= (1.0 - 1e-9) * w[-1]
    Pi = U[:, sel] @ U[:, sel].T
    diag = np.diag(Pi)
    i = int(np.flatnonzero(diag >= (1.0 - 1e-9) * diag.max())[0])
    assert i == A  # state 1's first action: states 1 and 2 tie on top, (P_E)_{ii} = (A − 1)/A on both blocks
    want = Pi[:, i] / np.linalg.norm(Pi[:, i])
    for toward in (None, np.zeros((3, A))):
        _, v = F.top_eigenpair(toward=toward)
        np.testing.assert_allclose(v.ravel(), want, rtol=0, atol=1e-12)
    assert np.all(r1.direction("r1-eigen", mdp, theta, 0.1) == 0.0)


@pytest.mark.parametrize("rel, mult", [(1e-13, 4), (1e-11, 4), (1e-7, 2), (1e-3, 2)])
def test_top_eigenspace_groups_within_the_stated_tolerance(rel: float, mult: int) -> None:
    """Blocks whose top eigenvalues differ by a relative δ are grouped iff δ ≤ TOP_RTOL = 1e-9."""
    from r1theory.fisher import TOP_RTOL

    assert TOP_RTOL == 1e-9
    rho = np.array([0.35 * (1.0 + rel), 0.35, 0.3 - 0.35 * rel])
    mdp = _restart_mdp(rho / rho.sum(), 3)
    E = r1.fisher(mdp, np.zeros((3, 3))).top_eigenspace()
    assert E.multiplicity == mult


def test_param_top_eigenspace_of_a_singular_dense_fisher() -> None:
    """Log-linear features with k > S·A (XXᵀ route) and a duplicated feature block: the top eigenspace from the
    value-subset eigh matches numpy's dense eigh grouped within 1e-9, and v₁ = P_E∇J/‖P_E∇J‖."""
    rng = np.random.default_rng(3)
    S, A = 2, 2
    mdp = _restart_mdp(np.array([0.5, 0.5]), A)
    base = rng.normal(size=(S, A, 3))
    phi = np.concatenate([base, base, np.eye(S * A).reshape(S, A, S * A)], axis=2)  # k = 10 > S·A = 4
    param = r1.LogLinear(phi)
    theta = np.zeros(phi.shape[2])
    F = r1.fisher(mdp, theta, param)
    g = r1.policy_gradient(mdp, theta, param)
    sigma_ref, mult_ref, v_ref = _dense_top(F.dense(), g)
    E = F.top_eigenspace()
    assert E.multiplicity == mult_ref
    assert E.sigma == pytest.approx(sigma_ref, rel=1e-10)
    np.testing.assert_allclose(F.top_eigenpair(toward=g)[1], v_ref, rtol=0, atol=1e-9)
