"""evaluate_batch: a batch of dense MDPs evaluated at once equals a loop of single evaluations.

Theorem tested: both solve the same well-conditioned linear systems by backward-stable LU
factorisations, so element b of the batch equals evaluate(TabularMDP(P[b], r[b], γ_b, ρ[b]), π[b]) to
rounding: |ΔV|, |ΔQ|, |ΔA|, |ΔJ| ≤ 1e-12·(1 + max|r|/(1 − γ)) and |Δd| ≤ 1e-12 (the tolerance stated in
r1theory/batch.py); d is exactly 0 at the same (unreachable) states.
"""

from __future__ import annotations

import numpy as np
import pytest

import r1theory as r1

TOL = 1e-12


def _batch(seed: int, B: int, S: int, A: int, *, gamma=None, sparse: bool = False, temp: float = 1.0):
    rng = np.random.default_rng(seed)
    P = rng.random((B, S, A, S))
    if sparse:  # zeros in P and in ρ: some states unreachable in some MDPs
        P *= rng.random((B, S, A, S)) < 0.3
        P[..., 0] += 1e-3 * (rng.random((B, S, A)) < 0.5)
        P[np.arange(B)[:, None, None], np.arange(S)[None, :, None], np.arange(A)[None, None, :], 0] += P.sum(-1) == 0
    P /= P.sum(axis=-1, keepdims=True)
    r = rng.random((B, S, A))
    g = rng.uniform(0.0, 0.99, B) if gamma is None else gamma
    rho = rng.random((B, S)) * (rng.random((B, S)) < (0.4 if sparse else 2.0))
    rho[:, 0] += 0.05
    rho /= rho.sum(axis=1, keepdims=True)
    pi = r1.softmax(temp * rng.standard_normal((B * S, A))).reshape(B, S, A)
    return P, r, g, rho, pi


def _assert_equals_loop(P, r, g, rho, pi) -> r1.BatchEvaluation:
    be = r1.evaluate_batch(P, r, g, rho, pi)
    B, S, A = r.shape
    gammas = np.broadcast_to(np.asarray(g, dtype=float), (B,))
    assert be.V.shape == (B, S) and be.Q.shape == be.A.shape == (B, S, A) and be.d.shape == (B, S)
    assert be.J.shape == (B,) and len(be) == B
    for b in range(B):
        ev = r1.evaluate(r1.TabularMDP(P[b], r[b], gammas[b], rho[b]), pi[b])
        tol = TOL * (1.0 + np.max(np.abs(r[b])) / (1.0 - gammas[b]))
        for field in ("V", "Q", "A"):
            np.testing.assert_allclose(
                getattr(be, field)[b], getattr(ev, field), rtol=0, atol=tol, err_msg=f"{b} {field}"
            )
        np.testing.assert_allclose(be.d[b], ev.d, rtol=0, atol=TOL, err_msg=f"{b} d")
        np.testing.assert_array_equal(be.d[b] == 0, ev.d == 0, err_msg=f"{b}: d = 0 at the same states")
        assert abs(be.J[b] - ev.J) <= tol
        item = be[b]
        assert isinstance(item, r1.Evaluation) and item.J == float(be.J[b])
        np.testing.assert_array_equal(item.pi, pi[b])
    return be


def test_batch_equals_loop_with_per_mdp_gamma():
    _assert_equals_loop(*_batch(0, 200, 10, 4))


def test_batch_equals_loop_with_scalar_gamma_and_near_deterministic_policies():
    _assert_equals_loop(*_batch(1, 50, 6, 3, gamma=0.95, temp=30.0))


def test_batch_equals_loop_with_unreachable_states():
    be = _assert_equals_loop(*_batch(2, 200, 8, 2, sparse=True))
    assert np.any(be.d == 0.0), "the instance family must exercise the reachable-state logic"
    np.testing.assert_allclose(be.d.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("B,S,A", [(3, 1, 1), (4, 1, 3), (5, 4, 1), (1, 30, 5), (0, 3, 2)])
def test_batch_edge_sizes(B, S, A):
    _assert_equals_loop(*_batch(3, B, S, A, gamma=0.9))


def test_gamma_zero_and_close_to_one():
    P, r, _, rho, pi = _batch(4, 20, 7, 3)
    g = np.linspace(0.0, 0.999, 20)
    _assert_equals_loop(P, r, g, rho, pi)


def test_inputs_are_not_modified_and_result_owns_pi():
    P, r, g, rho, pi = _batch(5, 10, 4, 2)
    copies = [x.copy() for x in (P, r, g, rho, pi)]
    be = r1.evaluate_batch(P, r, g, rho, pi)
    for x, c in zip((P, r, g, rho, pi), copies, strict=True):
        np.testing.assert_array_equal(x, c)
    pi[0, 0, 0] = 123.0
    assert be.pi[0, 0, 0] != 123.0


def _bad_inputs():
    P, r, g, rho, pi = _batch(6, 3, 4, 2, gamma=np.array([0.5, 0.6, 0.7]))
    unnorm, neg, nan = P.copy(), P.copy(), P.copy()
    unnorm[1, 2, 0] *= 0.5
    neg[2, 0, 1, 0] = -0.1
    neg[2, 0, 1, 1] += 0.1
    nan[0, 3, 1, 2] = np.nan
    bad_rho, bad_pi = rho.copy(), pi.copy()
    bad_rho[1] *= 2
    bad_pi[2, 1] = [0.7, 0.7]
    ok = {"P": P, "r": r, "gamma": g, "rho": rho, "pi": pi}
    cases = {
        "P-3d": ({"P": P[0]}, ValueError, r"P must be a 4-d array of shape \(B, S, A, S\)"),
        "P-not-square": ({"P": P[..., :3]}, ValueError, r"P must have shape \(B, S, A, S\)"),
        "P-empty": ({"P": np.zeros((3, 0, 2, 0))}, ValueError, r"P must have at least one state"),
        "P-unnormalised": ({"P": unnorm}, ValueError, r"P \(each row P\[b, s, a, :\]\) must sum to 1.*\(1, 2, 0\)"),
        "P-negative": ({"P": neg}, ValueError, r"P \(each row P\[b, s, a, :\]\) has a negative entry.*\(2, 0, 1, 0\)"),
        "P-nan": (
            {"P": nan},
            ValueError,
            r"P \(each row P\[b, s, a, :\]\) has a NaN or infinite entry at index \(0, 3, 1, 2\)",
        ),
        "P-bool": ({"P": P > 0.5}, TypeError, r"P must be a real numeric array"),
        "r-shape": ({"r": r[:2]}, ValueError, r"r must have shape \(B, S, A\) = \(3, 4, 2\)"),
        "r-inf": ({"r": np.where(r > 0.5, np.inf, r)}, ValueError, r"r has a NaN or infinite entry"),
        "gamma-shape": (
            {"gamma": np.array([0.5, 0.6])},
            ValueError,
            r"gamma must be a scalar or have shape \(B,\) = \(3,\)",
        ),
        "gamma-range": (
            {"gamma": np.array([0.5, 1.0, 0.7])},
            ValueError,
            r"gamma must lie in \[0, 1\); got gamma\[1\] = 1\.0",
        ),
        "gamma-negative": ({"gamma": -0.1}, ValueError, r"gamma must lie in \[0, 1\); got gamma\[0\] = -0\.1"),
        "gamma-nan": ({"gamma": np.nan}, ValueError, r"gamma has a NaN or infinite entry"),
        "gamma-str": ({"gamma": "0.9"}, TypeError, r"gamma must be a real numeric array"),
        "rho-shape": ({"rho": rho[:, :3]}, ValueError, r"rho must have shape \(B, S\) = \(3, 4\)"),
        "rho-sum": ({"rho": bad_rho}, ValueError, r"rho \(each row rho\[b, :\]\) must sum to 1.*index \(1,\)"),
        "pi-shape": ({"pi": pi[:, :, :1]}, ValueError, r"pi must have shape \(B, S, A\) = \(3, 4, 2\)"),
        "pi-sum": ({"pi": bad_pi}, ValueError, r"pi \(each row π\^b\(·\|s\)\) must sum to 1.*index \(2, 1\)"),
    }
    return [pytest.param({**ok, **change}, exc, msg, id=name) for name, (change, exc, msg) in cases.items()]


@pytest.mark.parametrize("kwargs,exc,msg", _bad_inputs())
def test_bad_batch_input_names_the_field(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        r1.evaluate_batch(**kwargs)


@pytest.mark.parametrize(("S", "B"), [(1, 1), (2, 3), (10, 64), (80, 90)])  # the last: too large to be kept
def test_reused_solver_is_the_reference_elimination_bit_for_bit(S, B):
    """The solver a lockstep iteration reuses (buffers and views made once per shape) performs the operations of
    the plain loops below (the elimination and back substitution written out, views made at each step): the same
    V and x bit for bit, call after call (nothing of a previous solve leaks into the next), and V, x the
    solutions of M V = r_π and Mᵀx = ρ."""
    from r1theory.batch import _solve_bordered

    def _eliminate(aug: np.ndarray) -> None:  # a_ij ← a_ij − l_i·u_j, step k = 0..S−1, border row included
        S = aug.shape[0] - 1
        for k in range(S):
            aug[k + 1 :, k] /= aug[k, k]
            aug[k + 1 :, k + 1 :] -= aug[k + 1 :, k, None] * aug[k, None, k + 1 :]

    def _back_substitute_upper(LU: np.ndarray, y: np.ndarray) -> np.ndarray:  # U x = y, column by column of B
        for k in range(LU.shape[0] - 1, -1, -1):
            y[k] /= LU[k, k]
            if k:
                y[:k] -= LU[:k, k] * y[k]
        return y

    rng = np.random.default_rng(S * 100 + B)
    for _ in range(3):
        P = rng.random((B, S, S))
        P /= P.sum(axis=-1, keepdims=True)
        M = np.eye(S) - 0.9 * P
        aug = np.zeros((S + 1, S + 1, B))
        aug[:S, :S] = M.transpose(1, 2, 0)
        aug[:S, S] = rng.random((S, B))
        aug[S, :S] = rng.random((S, B))
        rhs_v, rhs_x = aug[:S, S].T.copy(), aug[S, :S].T.copy()
        ref = aug.copy()
        _eliminate(ref)
        LU = ref[:S, :S]
        L = np.tril(LU.transpose(2, 0, 1), -1) + np.eye(S)
        V_ref = _back_substitute_upper(LU, ref[:S, S].copy()).T
        x_ref = _back_substitute_upper(L.transpose(0, 2, 1).transpose(1, 2, 0).copy(), ref[S, :S].copy()).T
        V, x = _solve_bordered(aug)
        assert np.array_equal(V, V_ref) and np.array_equal(x, x_ref)
        assert V.flags.c_contiguous and x.flags.c_contiguous
        np.testing.assert_allclose(np.einsum("bst,bt->bs", M, V), rhs_v, rtol=0, atol=1e-13)
        np.testing.assert_allclose(np.einsum("bts,bt->bs", M, x), rhs_x, rtol=0, atol=1e-13)


@pytest.mark.parametrize(
    ("S", "A", "B"), [(1, 1, 1), (1, 3, 2), (4, 3, 64), (7, 2, 5), (16, 2, 3), (17, 3, 4), (30, 2, 9)]
)
def test_policy_values_is_the_full_evaluations_V_bit_for_bit(S: int, A: int, B: int) -> None:
    """policy_values (one triangular solve, no visitation) gives the V of evaluate_policies bit for bit — on both
    solver routes (the bordered elimination up to LAPACK_FROM states, stacked LAPACK above) — row b whatever the
    other rows and B, call after call, and V solves (I − γP_π)V = r_π (checked against the dense solve)."""
    from r1theory.batch import LAPACK_FROM, _batch_policy_point, _batch_policy_values, policy_values

    assert (S > LAPACK_FROM) == (S >= 17)
    P, r, _, rho, _ = _batch(S * 31 + A * 7 + B, 1, S, A)
    mdp = r1.TabularMDP(P[0], r[0], 0.93, rho[0])
    rng = np.random.default_rng(B)
    for temp in (1.0, 30.0):  # near-deterministic policies too
        theta = temp * rng.standard_normal((B, S, A))
        pis = r1.softmax(theta.reshape(B * S, A)).reshape(B, S, A)
        full = r1.batch.evaluate_policies(mdp, pis)
        for _ in range(2):
            V = policy_values(mdp, pis)
            assert V.shape == (B, S) and V.flags.c_contiguous
            np.testing.assert_array_equal(V, full.V)
        np.testing.assert_array_equal(policy_values(mdp, pis[::-1]), full.V[::-1])  # rows independent of the others
        np.testing.assert_array_equal(policy_values(mdp, pis[B // 2 :]), full.V[B // 2 :])  # and of B
        P_pi = np.einsum("bsa,sat->bst", pis, mdp.P)
        r_pi = np.einsum("bsa,sa->bs", pis, mdp.r)
        want = np.linalg.solve(np.eye(S) - mdp.gamma * P_pi, r_pi[:, :, None])[:, :, 0]
        np.testing.assert_allclose(V, want, rtol=0, atol=TOL * (1.0 + 1.0 / (1.0 - mdp.gamma)))
        point = _batch_policy_point(mdp, theta)
        log_pi, pi_v, V_v = _batch_policy_values(mdp, theta)  # the θ-side of the point, bit for bit
        for a, b in ((log_pi, point.log_pi), (pi_v, point.pi), (V_v, point.ev.V)):
            np.testing.assert_array_equal(a, b)


def test_policy_values_bad_input_names_the_field() -> None:
    from r1theory.batch import policy_values

    P, r, _, rho, pi = _batch(3, 1, 3, 2)
    mdp = r1.TabularMDP(P[0], r[0], 0.5, rho[0])
    with pytest.raises(ValueError, match=r"pi must have shape \(B, S, A\)"):
        policy_values(mdp, pi[0])
    bad = pi.copy()
    bad[0, 1, 0] += 0.5
    with pytest.raises(ValueError, match="pi"):
        policy_values(mdp, bad)
    with pytest.raises(ValueError, match="dense MDP"):
        policy_values(mdp.to_sparse(), pi)


def test_results_do_not_alias_the_reused_solver_buffers() -> None:
    """A single-state MDP (S = 1, where a transposed (B, 1) view counts as C-contiguous): the V of one batched
    evaluation is not overwritten by the next solve of the same shape (it was a view of the solver's buffer)."""
    from r1theory.batch import policy_values

    mdp = r1.TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 2.0]]), 0.5, np.ones(1))
    first, second = np.array([[[1.0, 0.0]], [[0.0, 1.0]]]), np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    e1, v1 = r1.batch.evaluate_policies(mdp, first), policy_values(mdp, first)
    r1.batch.evaluate_policies(mdp, second), policy_values(mdp, second)
    np.testing.assert_array_equal(e1.V[:, 0], [2.0, 4.0])  # V = r/(1 − γ)
    np.testing.assert_array_equal(v1[:, 0], [2.0, 4.0])
    np.testing.assert_array_equal(e1.d[:, 0], [1.0, 1.0])
