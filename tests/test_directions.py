"""Every method of ``direction`` against a DENSE reference built here from the definitions."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import r1theory as r1

DAMPINGS = [1e-3, 0.1, 10.0]


class Dense:
    """Dense quantities at one θ, from dense solves and score outer products (no engine direction code)."""

    def __init__(self, ref, mdp, theta):
        self.mdp = mdp
        self.pi = pi = ref.naive_softmax(theta)
        self.d = d = ref.occupancy(mdp, pi)
        self.A_hat = ref.advantage(mdp, pi) / (1.0 - mdp.gamma)  # Â = A/(1−γ)
        self.g = (d[:, None] * pi * self.A_hat).ravel()  # policy gradient theorem
        self.U = ref.score_vectors(pi)  # rows u_{s,a}
        self.w = ref.sample_weights(d, pi)  # d(s)π(a|s)
        self.F = ref.fisher_dense(d, pi)
        self.n = self.g.size
        self.shape = theta.shape

    def sm(self, u, lam):
        return np.linalg.inv(lam * np.eye(self.n) + np.outer(u, u))

    def direction(self, method, lam):
        g, n = self.g, self.n
        if method == "pg":
            out = g
        elif method == "npg":
            out = np.linalg.pinv(self.F, hermitian=True) @ g
        elif method == "npg-damped":
            out = np.linalg.solve(self.F + lam * np.eye(n), g)
        elif method == "r1-eigen":
            w, V = np.linalg.eigh(self.F)
            out = self.sm(np.sqrt(w[-1]) * V[:, -1], lam) @ g
        elif method == "r1-grad":
            out = self.sm(g, lam) @ g
        elif method == "r1-same":
            A_flat = self.A_hat.ravel()
            out = sum(self.w[k] * self.sm(self.U[k], lam) @ (A_flat[k] * self.U[k]) for k in range(n))
        elif method == "r1-precond":
            M = sum(self.w[k] * self.sm(self.U[k], lam) for k in range(n))
            out = M @ g
        else:  # pragma: no cover
            raise AssertionError(method)
        return np.asarray(out).reshape(self.shape)


def _scale(mdp):
    return (1.0 + float(np.max(np.abs(mdp.r))) / (1.0 - mdp.gamma)) / (1.0 - mdp.gamma)


@pytest.mark.parametrize("lam", DAMPINGS)
@pytest.mark.parametrize("method", r1.METHODS)
def test_direction_matches_dense_reference(instance, ref, method, lam):
    mdp, theta = instance
    dense = Dense(ref, mdp, theta)
    if method == "r1-eigen":
        w = np.linalg.eigvalsh(dense.F)
        assert w[-1] - w[-2] > 1e-6 * w[-1]  # unique top eigenvector: the rank-1 approximation is unique
    damping = lam if method in r1.DAMPED_METHODS else None
    got = r1.direction(method, mdp, theta, damping=damping)
    expected = dense.direction(method, lam)
    assert got.shape == (mdp.S, mdp.A)
    # the inverses have condition number ≤ (λ + 2)/λ (‖u‖² < 2, ‖F‖ ≤ 1) or (λ + ‖g‖²)/λ for r1-grad;
    # npg's pinv is on a well-conditioned F (moderate θ, full support)
    kappa = (lam + 2.0 + float(dense.g @ dense.g)) / lam if damping is not None else 1e4
    tol = 1e-13 * kappa * (1.0 + np.abs(expected).max()) + 1e-12 * _scale(mdp)
    np.testing.assert_allclose(got, expected, rtol=0, atol=tol)


@pytest.mark.parametrize("method", r1.METHODS)
def test_direction_at_equals_direction(instance, method):
    mdp, theta = instance
    damping = 0.05 if method in r1.DAMPED_METHODS else None
    point = r1.policy_point(mdp, theta)
    np.testing.assert_array_equal(
        r1.direction_at(point, method, damping), r1.direction(method, mdp, theta, damping=damping)
    )


def test_undamped_methods_accept_zero_damping(instance):
    mdp, theta = instance
    for method in ("pg", "npg"):
        np.testing.assert_array_equal(r1.direction(method, mdp, theta, damping=0.0), r1.direction(method, mdp, theta))
    np.testing.assert_array_equal(r1.direction("pg", mdp, theta), r1.policy_gradient(mdp, theta))
    np.testing.assert_array_equal(r1.direction("npg", mdp, theta), r1.natural_gradient(mdp, theta))


@pytest.mark.parametrize("lam", DAMPINGS)
def test_r1_grad_is_rescaled_gradient(instance, lam):
    """(λI + ggᵀ)^{-1} g = g/(λ + ‖g‖²): PG with the step η/(λ + ‖g‖²)."""
    mdp, theta = instance
    g = r1.policy_gradient(mdp, theta)
    np.testing.assert_allclose(
        r1.direction("r1-grad", mdp, theta, damping=lam), g / (lam + np.sum(g * g)), rtol=1e-14, atol=0
    )


def test_scores_and_their_squared_norms(instance, ref):
    """``scores`` are the blocks of u_{s,a} = e_{(s,a)} − Σ_b π(b|s)e_{(s,b)}; n(s,a) = ‖u_{s,a}‖²."""
    mdp, theta = instance
    pi = ref.naive_softmax(theta)
    U = ref.score_vectors(pi)
    A = mdp.A
    G = r1.scores(pi)
    for s in range(mdp.S):
        np.testing.assert_allclose(G[s], U[s * A : (s + 1) * A, s * A : (s + 1) * A], rtol=0, atol=1e-16)
    np.testing.assert_allclose(r1.score_sq_norm(pi).ravel(), np.sum(U * U, axis=1), rtol=1e-14, atol=0)


def test_score_sq_norm_is_accurate_for_near_deterministic_policies():
    """n(s, m) for the likely action is ≈ (1 − π_m)², far below rounding of 1 − 2π_m + ‖π‖²: exact check."""
    pi = r1.softmax(np.array([[0.0, -20.0, -25.0], [3.0, -30.0, 0.0]]))
    n = r1.score_sq_norm(pi)
    for s in range(2):
        p = [Fraction(float(x)) for x in pi[s]]
        p = [x / sum(p) for x in p]
        for a in range(3):
            exact = sum(((1 if b == a else 0) - p[b]) ** 2 for b in range(3))
            assert float(n[s, a]) == pytest.approx(float(exact), rel=1e-12, abs=0)


# ------------------------------------------------------------------------------------------------
# Ascent: PD preconditioners give a positive inner product with g
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lam", [1e-6, *DAMPINGS, 1e3])
@pytest.mark.parametrize("method", ["npg-damped", "r1-eigen", "r1-grad", "r1-precond", "npg", "pg"])
def test_pd_preconditioned_directions_ascend(instance, method, lam):
    """gᵀ M g ≥ ‖g‖²/λ_max(M^{-1}) > 0; λ_max(M^{-1}) ≤ λ + max(‖F‖, ‖g‖², 2)."""
    mdp, theta = instance
    g = r1.policy_gradient(mdp, theta)
    gg = float(np.sum(g * g))
    assert gg > 0
    damping = lam if method in r1.DAMPED_METHODS else None
    x = r1.direction(method, mdp, theta, damping=damping)
    inner = float(np.sum(g * x))
    if method == "npg":  # F⁺ on range(F) ∋ g: gᵀF⁺g ≥ ‖g‖²/‖F‖ ≥ ‖g‖²
        assert inner >= gg * (1 - 1e-9)
    elif method == "pg":
        assert inner == gg
    else:
        assert inner >= gg / (lam + max(2.0, gg)) * (1 - 1e-9)


def test_r1_same_is_not_always_an_ascent_direction(ref):
    """V2 weights each sample by 1/(λ + ‖u‖²), which blows up for the likely action: on this bandit
    (r = (0.3, 0.9, 0.1), θ = (2, −4, −3), λ = 1e-4) its inner product with ∇J is NEGATIVE, and a small
    step along it decreases J (checked with the dense reference too)."""
    mdp = r1.TabularMDP(np.ones((1, 3, 1)), [[0.3, 0.9, 0.1]], 0.0, [1.0])
    theta = np.array([[2.0, -4.0, -3.0]])
    lam = 1e-4
    g = r1.policy_gradient(mdp, theta)
    x = r1.direction("r1-same", mdp, theta, damping=lam)
    np.testing.assert_allclose(x, Dense(ref, mdp, theta).direction("r1-same", lam), rtol=1e-8, atol=0)
    cos = float(np.sum(g * x) / (np.linalg.norm(g) * np.linalg.norm(x)))
    assert cos < -0.02
    eta = 1e-6 / np.abs(x).max()
    assert ref.J(mdp, theta + eta * x) < ref.J(mdp, theta)
    # while V3 (r1-precond) at the same point ascends
    assert float(np.sum(g * r1.direction("r1-precond", mdp, theta, damping=lam))) > 0


# ------------------------------------------------------------------------------------------------
# Per-state constants: which directions are orthogonal to every 1_s
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", r1.METHODS)
def test_every_direction_has_per_state_mean_zero(instance, method):
    """All seven directions are orthogonal to each state's all-ones vector 1_s:

    * pg: Σ_a π A = 0;  npg: centred;  r1-grad: a multiple of g;
    * npg-damped, r1-precond: M 1_s = 1_s/λ for M = (F + λI)^{-1} and E[(λI + uuᵀ)^{-1}] (F 1_s = 0 and
      uᵀ1_s = 0), so 1_sᵀMg = 1_sᵀg/λ = 0;
    * r1-eigen: v₁ ⊥ 1_s (an eigenvector of a positive eigenvalue of a PSD block with null vector 1);
    * r1-same: a combination of scores u_{s,a} = e_a − π_s, each summing to 0.
    """
    mdp, theta = instance
    damping = 0.05 if method in r1.DAMPED_METHODS else None
    x = r1.direction(method, mdp, theta, damping=damping)
    ev = r1.evaluate(mdp, r1.softmax(theta))
    # rounding: g's row sums are ε·d(s)·|Q|/(1−γ) (A = Q − V), and every M maps 1_s to at most 1_s/λ
    g_rounding = ev.d * np.abs(ev.Q).max(axis=1) / (1.0 - mdp.gamma) * (1.0 / damping if damping else 1.0)
    row_sums, row_sizes = np.abs(x.sum(axis=1)), np.abs(x).sum(axis=1)
    assert np.all(row_sums <= 1e-14 * (row_sizes + g_rounding)), row_sums / row_sizes


def test_preconditioners_are_not_projections(instance, ref):
    """What is NOT true: the damped preconditioners do not annihilate 1_s; they map it to 1_s/λ.

    So a direction orthogonal to 1_s comes only from g being orthogonal to it (checked through the
    dense r1-precond preconditioner and the damped Fisher solve)."""
    mdp, theta = instance
    lam = 0.3
    dense = Dense(ref, mdp, theta)
    M = sum(dense.w[k] * dense.sm(dense.U[k], lam) for k in range(dense.n))
    ones = np.zeros((mdp.S, mdp.A))
    ones[0] = 1.0
    np.testing.assert_allclose(M @ ones.ravel(), ones.ravel() / lam, rtol=1e-12)
    np.testing.assert_allclose(r1.fisher(mdp, theta).solve(ones, lam), ones / lam, rtol=1e-12)


# ------------------------------------------------------------------------------------------------
# Limits in λ
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", sorted(r1.DAMPED_METHODS))
def test_large_damping_is_scaled_pg(instance, method):
    """λ·(λI + M)^{-1} g → g as λ → ∞ for every damped method (error O(1/λ))."""
    mdp, theta = instance
    g = r1.policy_gradient(mdp, theta)
    lam = 1e6
    x = lam * r1.direction(method, mdp, theta, damping=lam)
    # ‖λ(λI + M)^{-1}g − g‖ ≤ ‖M‖‖g‖/λ with ‖M‖ ≤ max(2, ‖g‖², ‖F‖) (r1-same: per-sample ‖uuᵀ‖ < 2)
    bound = max(2.0, float(np.sum(g * g))) * np.linalg.norm(g) / lam
    assert np.linalg.norm(x - g) <= 1.01 * bound + 1e-12 * np.linalg.norm(g)


def test_small_damping_npg_damped_tends_to_npg(instance):
    mdp, theta = instance
    npg = r1.direction("npg", mdp, theta)
    x = r1.direction("npg-damped", mdp, theta, damping=1e-9)
    np.testing.assert_allclose(x, npg, rtol=0, atol=1e-4 * (1 + np.abs(npg).max()))
