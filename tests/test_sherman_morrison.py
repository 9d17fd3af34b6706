"""Sherman–Morrison (λI + u uᵀ)^{-1} against numpy.linalg.inv, single and batched."""

from __future__ import annotations

import numpy as np
import pytest

import r1theory as r1

CASES = [
    # (seed, n, u scale, λ)
    (0, 1, 1.0, 1.0),
    (1, 5, 1.0, 1e-2),
    (2, 12, 0.1, 3.0),
    (3, 7, 30.0, 1e-3),
    (4, 20, 1.0, 1e-6),
]


@pytest.mark.parametrize("seed,n,scale,lam", CASES)
def test_mv_and_dense_match_numpy_inverse(seed, n, scale, lam, ref):
    rng = np.random.default_rng(seed)
    u = scale * rng.normal(size=n)
    v = rng.normal(size=n)
    inv = ref.sm_dense(u, lam)
    op = r1.sherman_morrison(u, lam)
    assert op.n == n
    # κ(λI + uuᵀ) = (λ + ‖u‖²)/λ bounds the error of numpy's inverse
    kappa = (lam + u @ u) / lam
    np.testing.assert_allclose(op.dense(), inv, rtol=0, atol=1e-14 * kappa * np.abs(inv).max())
    np.testing.assert_allclose(op.mv(v), inv @ v, rtol=0, atol=1e-14 * kappa * np.abs(inv @ v).max())
    # it is the inverse: (λI + uuᵀ) x = v
    x = op.mv(v)
    np.testing.assert_allclose(lam * x + u * (u @ x), v, rtol=0, atol=1e-12 * kappa)


@pytest.mark.parametrize("seed,n,scale,lam", CASES)
def test_mv_of_u_is_rescaled_u(seed, n, scale, lam):
    """(λI + uuᵀ)^{-1} u = u/(λ + ‖u‖²), to the forward accuracy ε·κ, κ = (λ + ‖u‖²)/λ.

    (The O(n) formula forms u − u‖u‖²/(λ + ‖u‖²), a cancellation of relative size κ: any
    backward-stable solve of this system has the same worst-case forward error.)
    """
    u = scale * np.random.default_rng(seed).normal(size=n)
    kappa = (lam + u @ u) / lam
    np.testing.assert_allclose(r1.sherman_morrison(u, lam).mv(u), u / (lam + u @ u), rtol=1e-15 * kappa)


def test_zero_u_is_identity_over_lambda():
    v = np.array([1.0, -2.0, 3.0])
    op = r1.sherman_morrison(np.zeros(3), 0.5)
    np.testing.assert_array_equal(op.mv(v), v / 0.5)
    np.testing.assert_array_equal(op.dense(), np.eye(3) / 0.5)


def test_batched_u_and_v(ref):
    rng = np.random.default_rng(5)
    k, n, lam = 6, 4, 0.3
    U = rng.normal(size=(k, n)) * rng.uniform(0.1, 5.0, size=(k, 1))
    V = rng.normal(size=(k, n))
    op = r1.sherman_morrison(U, lam)
    out = op.mv(V)
    assert out.shape == (k, n)
    dense = op.dense()
    assert dense.shape == (k, n, n)
    for i in range(k):
        inv = ref.sm_dense(U[i], lam)
        np.testing.assert_allclose(out[i], inv @ V[i], rtol=0, atol=1e-12)
        np.testing.assert_allclose(dense[i], inv, rtol=0, atol=1e-12)
    # one v against a batch of u broadcasts
    v = rng.normal(size=n)
    out1 = op.mv(v)
    assert out1.shape == (k, n)
    for i in range(k):
        np.testing.assert_allclose(out1[i], ref.sm_dense(U[i], lam) @ v, rtol=0, atol=1e-12)
    # one u against a batch of v
    op1 = r1.sherman_morrison(U[0], lam)
    np.testing.assert_allclose(op1.mv(V), V @ ref.sm_dense(U[0], lam).T, rtol=0, atol=1e-12)


def test_large_and_tiny_u_stay_accurate(ref):
    """Backward stability for ‖u‖ = 1e4 with λ = 1e-3 (κ ≈ 5e11) and for ‖u‖ = 1e-8.

    The residual of (λI + uuᵀ)x = v is at most a few ε·‖λI + uuᵀ‖·‖x‖ (not ε·‖v‖: κ is huge).
    """
    rng = np.random.default_rng(6)
    for scale, lam in ((1e4, 1e-3), (1e-8, 1e-3)):
        u = scale * rng.normal(size=5)
        v = rng.normal(size=5)
        x = r1.sherman_morrison(u, lam).mv(v)
        assert np.all(np.isfinite(x))
        norm_A = lam + u @ u
        np.testing.assert_allclose(lam * x + u * (u @ x), v, rtol=0, atol=1e-14 * norm_A * np.linalg.norm(x))


def test_tiny_and_huge_right_hand_sides_keep_their_accuracy() -> None:
    """The map is linear in v, so v near the underflow (or overflow) threshold must give v/‖v‖∞'s answer scaled:
    unscaled, uᵀv/(λ + ‖u‖²) went subnormal and v = 2.2e-308, u = 987, λ = 1e-6 came out 10% wrong."""
    op = r1.sherman_morrison(np.array([987.0, 3.0]), 1e-6)
    base = op.mv(np.array([1.0, -0.5]))
    for s in (np.finfo(np.float64).tiny, 1e-300, 1e300):
        np.testing.assert_allclose(op.mv(np.array([1.0, -0.5]) * s), base * s, rtol=1e-12)


@pytest.mark.parametrize("seed,n,scale,lam", CASES)
def test_unchecked_fast_path_is_mv_bit_for_bit(seed: int, n: int, scale: float, lam: float) -> None:
    """The engine's unchecked ``_mv`` is the arithmetic of the public ``mv`` (which calls it after its checks):
    the same numbers bit for bit, single, batched and broadcast, zero and tiny right-hand sides included."""
    from r1theory.sherman_morrison import _mv

    rng = np.random.default_rng(seed)
    u = scale * rng.standard_normal((6, n))
    v = rng.standard_normal((6, n))
    v[1] = 0.0
    v[2] *= 1e-300
    op = r1.sherman_morrison(u, lam)
    np.testing.assert_array_equal(_mv(u, lam, v), op.mv(v))
    np.testing.assert_array_equal(_mv(u[0], lam, v[3]), r1.sherman_morrison(u[0], lam).mv(v[3]))
    np.testing.assert_array_equal(_mv(u, lam, v[4]), op.mv(v[4]))  # one v broadcast against a batch of u
    dense = op.dense()
    np.testing.assert_allclose(_mv(u, lam, v), np.einsum("bij,bj->bi", dense, v), rtol=1e-9, atol=0)


def test_public_mv_keeps_its_checks() -> None:
    op = r1.sherman_morrison(np.ones((2, 3)), 0.5)
    with pytest.raises(ValueError, match="v must have last dimension 3"):
        op.mv(np.ones(4))
    with pytest.raises(ValueError, match="v"):
        op.mv(np.array([1.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match="do not broadcast"):
        op.mv(np.ones((3, 3)))
    with pytest.raises(TypeError):
        op.mv(np.array(["a", "b", "c"]))
