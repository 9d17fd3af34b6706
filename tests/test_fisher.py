"""The true Fisher F = E_{s∼d, a∼π}[u uᵀ] against a dense average of score outer products built by hand."""

from __future__ import annotations

import numpy as np
import pytest

import r1theory as r1

DAMPINGS = [1e-4, 1e-2, 1.0, 30.0]


def _dense_ref(ref, mdp, theta):
    """Reference F, built from ref.occupancy (dense solve), the naive softmax and score outer products."""
    pi = ref.naive_softmax(theta)
    d = ref.occupancy(mdp, pi)
    return ref.fisher_dense(d, pi), d, pi


# ------------------------------------------------------------------------------------------------
# Representations: blocks, dense, mv
# ------------------------------------------------------------------------------------------------
def test_blocks_dense_mv_match_score_outer_products(instance, ref):
    mdp, theta = instance
    S, A = mdp.S, mdp.A
    F_ref, _, _ = _dense_ref(ref, mdp, theta)
    F = r1.fisher(mdp, theta)
    assert F.shape == (S * A, S * A)
    dense = F.dense()
    np.testing.assert_allclose(dense, F_ref, rtol=0, atol=1e-14)
    blocks = F.blocks
    assert blocks.shape == (S, A, A)
    for s in range(S):
        np.testing.assert_allclose(blocks[s], F_ref[s * A : (s + 1) * A, s * A : (s + 1) * A], rtol=0, atol=1e-14)
    rng = np.random.default_rng(0)
    for _ in range(3):
        v = rng.normal(size=(S, A))
        out = F.mv(v)
        assert out.shape == (S, A)
        np.testing.assert_allclose(out.ravel(), F_ref @ v.ravel(), rtol=0, atol=1e-14 * np.abs(v).max())
        flat = F.mv(v.ravel())
        assert flat.shape == (S * A,)
        np.testing.assert_allclose(flat, F_ref @ v.ravel(), rtol=0, atol=1e-14 * np.abs(v).max())


def test_fisher_is_block_diagonal(instance):
    mdp, theta = instance
    S, A = mdp.S, mdp.A
    dense = r1.fisher(mdp, theta).dense().reshape(S, A, S, A)
    for s in range(S):
        for t in range(S):
            if s != t:
                np.testing.assert_array_equal(dense[s, :, t, :], 0.0)


def test_fisher_psd_null_space_and_rank(instance):
    mdp, theta = instance
    S, A = mdp.S, mdp.A
    F = r1.fisher(mdp, theta)
    dense = F.dense()
    np.testing.assert_allclose(dense, dense.T, rtol=0, atol=0)
    w = np.linalg.eigvalsh(dense)
    assert w.min() >= -1e-15 * w.max()
    # each state's all-ones vector is a null vector
    for s in range(S):
        ones_s = np.zeros((S, A))
        ones_s[s] = 1.0
        np.testing.assert_allclose(F.mv(ones_s), 0.0, rtol=0, atol=1e-16)
        np.testing.assert_allclose(dense @ ones_s.ravel(), 0.0, rtol=0, atol=1e-16)
    # full support (every d(s) > 0 and π(a|s) > 0): rank S(A − 1)
    assert np.linalg.matrix_rank(dense) == S * (A - 1)


def test_second_order_kl_identity(instance, ref):
    """E_{s∼d} KL(π_θ(·|s) ‖ π_{θ+εv}(·|s)) = (ε²/2) vᵀFv + O(ε³)."""
    mdp, theta = instance
    pi = ref.naive_softmax(theta)
    d = ref.occupancy(mdp, pi)
    F = r1.fisher(mdp, theta)
    rng = np.random.default_rng(1)
    eps = 1e-4
    for _ in range(3):
        v = rng.normal(size=theta.shape)
        pi_eps = ref.naive_softmax(theta + eps * v)
        kl = float(np.sum(d[:, None] * pi * (np.log(pi) - np.log(pi_eps))))
        quad = float(np.vdot(v, F.mv(v)))
        assert kl == pytest.approx(0.5 * eps**2 * quad, rel=1e-3, abs=0)  # O(ε) relative remainder


def test_top_eigenpair(instance, ref):
    mdp, theta = instance
    F_ref, _, _ = _dense_ref(ref, mdp, theta)
    sigma, v = r1.fisher(mdp, theta).top_eigenpair()
    assert v.shape == (mdp.S, mdp.A)
    assert sigma == pytest.approx(np.linalg.eigvalsh(F_ref)[-1], rel=1e-12, abs=0)
    assert np.linalg.norm(v) == pytest.approx(1.0, rel=1e-12, abs=0)
    np.testing.assert_allclose(F_ref @ v.ravel(), sigma * v.ravel(), rtol=0, atol=1e-13)


def test_project_range_is_F_Fplus(instance, ref):
    mdp, theta = instance
    F_ref, _, _ = _dense_ref(ref, mdp, theta)
    Pi = F_ref @ np.linalg.pinv(F_ref, hermitian=True)
    v = np.random.default_rng(2).normal(size=theta.shape)
    np.testing.assert_allclose(r1.fisher(mdp, theta).project_range(v).ravel(), Pi @ v.ravel(), rtol=0, atol=1e-9)


# ------------------------------------------------------------------------------------------------
# Solves
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lam", DAMPINGS)
def test_damped_solve_matches_dense_solve(instance, ref, lam):
    mdp, theta = instance
    F_ref, _, _ = _dense_ref(ref, mdp, theta)
    F = r1.fisher(mdp, theta)
    rng = np.random.default_rng(3)
    n = mdp.S * mdp.A
    for v in (rng.normal(size=theta.shape), r1.policy_gradient(mdp, theta)):
        expected = np.linalg.solve(F_ref + lam * np.eye(n), v.ravel())
        x = F.solve(v, lam)
        assert x.shape == v.shape
        # cond(F + λI) ≤ (λ + 1)/λ; backward-stable solve
        np.testing.assert_allclose(x.ravel(), expected, rtol=0, atol=1e-13 * (1 + 1 / lam) * np.abs(expected).max())
        np.testing.assert_allclose(
            F.solve(v.ravel(), lam), expected, rtol=0, atol=1e-13 * (1 + 1 / lam) * np.abs(expected).max()
        )
        np.testing.assert_allclose(F.mv(x) + lam * x, v, rtol=0, atol=1e-12 * np.abs(v).max())


def test_undamped_solve_matches_pinv(instance, ref):
    """solve(v, 0) = F⁺v (minimum norm), on well-conditioned instances (full support, moderate θ)."""
    mdp, theta = instance
    F_ref, _, _ = _dense_ref(ref, mdp, theta)
    Fplus = np.linalg.pinv(F_ref, hermitian=True)
    w = np.linalg.eigvalsh(F_ref)
    smallest = w[w > 1e-12 * w.max()].min()
    F = r1.fisher(mdp, theta)
    rng = np.random.default_rng(4)
    for v in (rng.normal(size=theta.shape), r1.policy_gradient(mdp, theta)):
        expected = Fplus @ v.ravel()
        tol = 1e-12 * (w.max() / smallest) * np.abs(expected).max()  # relative error ≲ κ ε
        np.testing.assert_allclose(F.solve(v, 0.0).ravel(), expected, rtol=0, atol=tol)
        np.testing.assert_allclose(F.solve(v.ravel()), expected, rtol=0, atol=tol)


@pytest.mark.parametrize("absorbing", [True, False], ids=["absorbing", "leaks-back"])
def test_undamped_solve_with_unreachable_state_matches_pinv(absorbing, ref):
    """State 2 is unreachable (d(2) = 0): its Fisher block is 0, so F⁺ is 0 there."""
    mdp = ref.unreachable_mdp(absorbing)
    theta = np.zeros((3, 2))
    pi = ref.naive_softmax(theta)
    d = ref.occupancy(mdp, pi)
    d[2] = 0.0  # exact value: ρ(2) = 0 and no transition enters state 2
    F_ref = ref.fisher_dense(d, pi)
    Fplus = np.linalg.pinv(F_ref, hermitian=True)
    F = r1.fisher(mdp, theta)
    v = np.array([[0.3, -1.0], [2.0, 0.5], [1.0, -0.25]])
    expected = (Fplus @ v.ravel()).reshape(3, 2)
    np.testing.assert_array_equal(expected[2], 0.0)
    np.testing.assert_allclose(F.solve(v, 0.0), expected, rtol=0, atol=1e-10)
    g = r1.policy_gradient(mdp, theta)
    np.testing.assert_allclose(F.solve(g, 0.0), (Fplus @ g.ravel()).reshape(3, 2), rtol=0, atol=1e-10)


@pytest.mark.parametrize("absorbing", [True, False], ids=["absorbing", "leaks-back"])
def test_natural_gradient_with_unreachable_state_matches_pinv(absorbing, ref):
    """npg_closed_form promises 0 on states with d(s) = 0, which is what F⁺∇J gives."""
    mdp = ref.unreachable_mdp(absorbing)
    theta = np.zeros((3, 2))
    pi = ref.naive_softmax(theta)
    d = ref.occupancy(mdp, pi)
    d[2] = 0.0
    g = r1.policy_gradient(mdp, theta)
    expected = (np.linalg.pinv(ref.fisher_dense(d, pi), hermitian=True) @ g.ravel()).reshape(3, 2)
    npg = r1.natural_gradient(mdp, theta)
    np.testing.assert_allclose(npg, expected, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(npg[2], 0.0)


# ------------------------------------------------------------------------------------------------
# Natural gradient
# ------------------------------------------------------------------------------------------------
def test_natural_gradient_matches_pinv_and_centred_advantage(instance, ref):
    mdp, theta = instance
    F_ref, _, pi = _dense_ref(ref, mdp, theta)
    g = r1.policy_gradient(mdp, theta)
    npg = r1.natural_gradient(mdp, theta)
    assert npg.shape == (mdp.S, mdp.A)
    scale = (1.0 + float(np.max(np.abs(mdp.r))) / (1.0 - mdp.gamma)) / (1.0 - mdp.gamma)
    # F⁺∇J by dense pseudo-inverse (well-conditioned: full support, moderate θ)
    via_pinv = (np.linalg.pinv(F_ref, hermitian=True) @ g.ravel()).reshape(g.shape)
    np.testing.assert_allclose(npg, via_pinv, rtol=0, atol=1e-9 * scale)
    # the per-state-centred advantage over (1−γ), advantage from a dense solve
    A_ref = ref.advantage(mdp, pi)
    np.testing.assert_allclose(npg, ref.centred(A_ref) / (1.0 - mdp.gamma), rtol=0, atol=1e-11 * scale)
    # and F (F⁺∇J) = ∇J since ∇J ∈ range(F)
    np.testing.assert_allclose((F_ref @ npg.ravel()).reshape(g.shape), g, rtol=0, atol=1e-12 * scale)
    np.testing.assert_array_equal(r1.npg_closed_form(r1.policy_point(mdp, theta)), npg)


@pytest.mark.parametrize("lam", DAMPINGS)
def test_damped_natural_gradient_matches_dense_solve(instance, ref, lam):
    mdp, theta = instance
    F_ref, _, _ = _dense_ref(ref, mdp, theta)
    g = r1.policy_gradient(mdp, theta)
    expected = np.linalg.solve(F_ref + lam * np.eye(g.size), g.ravel()).reshape(g.shape)
    np.testing.assert_allclose(
        r1.natural_gradient(mdp, theta, damping=lam),
        expected,
        rtol=0,
        atol=1e-13 * (1 + 1 / lam) * np.abs(expected).max(),
    )


def test_damped_natural_gradient_tends_to_npg(instance):
    """(F + λI)^{-1}∇J → F⁺∇J as λ → 0 (∇J ∈ range F); the error is O(λ)."""
    mdp, theta = instance
    npg = r1.natural_gradient(mdp, theta)
    errs = [np.abs(r1.natural_gradient(mdp, theta, damping=lam) - npg).max() for lam in (1e-3, 1e-5, 1e-7)]
    assert errs[1] < 0.05 * errs[0] + 1e-12
    assert errs[2] < 1e-3 * (1 + np.abs(npg).max())
