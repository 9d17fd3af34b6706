"""Sparse transitions: P as a scipy.sparse (S·A, S) matrix, validated in O(nnz), solved by GMRES.

Theorems tested: on every small instance the sparse MDP gives the dense MDP's V, Q, A, d, J, optimum,
gradient, Fisher, natural gradient, every direction and iterates, to the Krylov tolerance. GMRES stops
at ‖b − Mx‖₂ ≤ 1e-12‖b‖₂ and ‖M⁻¹‖_∞ ≤ 1/(1 − γ), so the error of V is at most
1e-12·‖r_π‖₂/(1 − γ) ≤ 1e-12·√S·max|r|/(1 − γ): with S ≤ 40 and γ ≤ 0.95, below 1e-9 of the value scale
(1 + max|r|/(1 − γ)), the tolerance used here (TOL); d, which sums to 1, within TOL absolutely.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse

import r1theory as r1
from r1theory import evaluation
from r1theory.evaluation import reachable

TOL = 1e-9  # relative to the value scale 1 + max|r|/(1 − γ); see the module docstring


def sparse_garnet(S: int, A: int, b: int, gamma: float = 0.9, seed: int = 0, rho=None) -> r1.TabularMDP:
    """Garnet(S, A, b) built directly as a CSR (S·A, S) matrix: b distinct successors per (s, a),
    probabilities = uniform spacings of [0, 1]; r ~ U[0, 1); ρ uniform unless given. O(S·A·b) memory."""
    rng = np.random.default_rng(seed)
    n = S * A
    succ = rng.integers(0, S, size=(n, b))
    while True:  # redraw the rows with a repeated successor
        srt = np.sort(succ, axis=1)
        dup = np.any(srt[:, 1:] == srt[:, :-1], axis=1)
        if not dup.any():
            break
        succ[dup] = rng.integers(0, S, size=(int(dup.sum()), b))
    cuts = np.sort(rng.random((n, b - 1)), axis=1)
    probs = np.diff(np.concatenate([np.zeros((n, 1)), cuts, np.ones((n, 1))], axis=1), axis=1)
    P = scipy.sparse.csr_array((probs.ravel(), succ.ravel(), np.arange(0, n * b + 1, b)), shape=(n, S))
    rho = np.full(S, 1.0 / S) if rho is None else rho
    return r1.TabularMDP(P, rng.random((S, A)), gamma, rho)


def _scale(mdp: r1.TabularMDP) -> float:
    return 1.0 + float(np.max(np.abs(mdp.r))) / (1.0 - mdp.gamma)


def _instances(ref) -> list[tuple[str, r1.TabularMDP]]:
    """Small dense MDPs (with zeros in P, unreachable states, a single start state) to compare against."""
    single_start = ref.random_mdp(3, 25, 3, 0.9, sparse=True)
    rho = np.zeros(25)
    rho[4] = 1.0
    garnet = sparse_garnet(40, 3, 2, gamma=0.95, seed=7).to_dense()
    return [
        ("random-sparse", ref.random_mdp(1, 30, 4, 0.9, sparse=True)),
        ("random-dense", ref.random_mdp(2, 12, 3, 0.8)),
        ("single-start", r1.TabularMDP(single_start.P, single_start.r, 0.9, rho)),
        ("unreachable", ref.unreachable_mdp(absorbing=True)),
        ("unreachable-back", ref.unreachable_mdp(absorbing=False)),
        ("garnet", garnet),
    ]


@pytest.fixture
def pairs(ref):
    return [(name, m, m.to_sparse()) for name, m in _instances(ref)]


# ------------------------------------------------------------------------------------------------
# Storage and validation
# ------------------------------------------------------------------------------------------------
def test_sparse_storage_is_canonical_readonly_csr(ref):
    dense = ref.random_mdp(0, 6, 3, 0.9, sparse=True)
    coo = scipy.sparse.coo_array(dense.P.reshape(18, 6))
    # split every entry into two duplicates and add an explicit zero: the stored matrix is canonical
    dup = scipy.sparse.coo_array(
        (np.concatenate([coo.data / 2, coo.data / 2, [0.0]]), (np.r_[coo.row, coo.row, 0], np.r_[coo.col, coo.col, 5])),
        shape=(18, 6),
    )
    mdp = r1.TabularMDP(dup, dense.r, dense.gamma, dense.rho)
    assert mdp.is_sparse and not dense.is_sparse
    assert isinstance(mdp.P, scipy.sparse.csr_array) and mdp.P.shape == (18, 6)
    assert (mdp.S, mdp.A) == (6, 3) and mdp.nnz == np.count_nonzero(dense.P) == mdp.P.nnz
    assert mdp.P.has_canonical_format and np.all(mdp.P.data > 0)
    np.testing.assert_allclose(mdp.to_dense().P, dense.P, rtol=0, atol=1e-16)
    for arr in (mdp.P.data, mdp.P.indices, mdp.P.indptr):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 1
    assert "sparse nnz=" in repr(mdp)
    assert mdp.to_sparse() is mdp and dense.to_dense() is dense


def test_integer_sparse_entries_are_accepted():
    P = scipy.sparse.csr_array(np.array([[1, 0], [0, 1], [0, 1], [1, 0]]))
    mdp = r1.TabularMDP(P, np.zeros((2, 2)), 0.5, [0.5, 0.5])
    assert mdp.P.dtype == np.float64 and (mdp.S, mdp.A) == (2, 2)


def _bad_sparse():
    good = np.array(
        [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.1, 0.1, 0.8]]
    )
    unnormalised, negative, nan, inf, empty_row = (good.copy() for _ in range(5))
    unnormalised[3, 0] = 0.9
    negative[2] = [-0.2, 0.7, 0.5]
    nan[4, 2] = np.nan
    inf[1, 1] = np.inf
    empty_row[5] = 0.0
    csr = scipy.sparse.csr_array
    cases = {
        "unnormalised": (csr(unnormalised), ValueError, r"P \(sparse\) must have rows summing to 1.*0\.9.*s=1, a=1"),
        "empty-row": (csr(empty_row), ValueError, r"P \(sparse\) must have rows summing to 1.*0\.0.*s=2, a=1"),
        "negative": (
            csr(negative),
            ValueError,
            r"P \(sparse\) has a negative entry -0\.2 at row s\*A \+ a = 2 \(s=1, a=0\)",
        ),
        "nan": (
            csr(nan),
            ValueError,
            r"P \(sparse\) has a NaN or infinite entry at row s\*A \+ a = 4 \(s=2, a=0\), column s' = 2",
        ),
        "inf": (csr(inf), ValueError, r"P \(sparse\) has a NaN or infinite entry.*s=0, a=1"),
        "rows-not-multiple": (
            csr(good[:5]),
            ValueError,
            r"P \(sparse\) must have shape \(S\*A, S\).*5 rows is not a multiple of S = 3",
        ),
        "fewer-rows-than-S": (csr(good[:2]), ValueError, r"P \(sparse\) must have shape \(S\*A, S\)"),
        "empty": (csr((0, 3)), ValueError, r"P \(sparse\) must have at least one state"),
        "bool": (csr(good > 0), TypeError, r"P \(sparse\) must have real numeric entries.*bool"),
        "complex": (csr(good.astype(complex)), TypeError, r"P \(sparse\) must have real numeric entries.*complex"),
    }
    return [pytest.param(*case, id=name) for name, case in cases.items()]


@pytest.mark.parametrize("bad,exc,msg", _bad_sparse())
def test_bad_sparse_P_is_refused_naming_P(bad, exc, msg):
    with pytest.raises(exc, match=msg):
        r1.TabularMDP(bad, np.zeros((3, 2)), 0.9, np.full(3, 1 / 3))


def test_sparse_r_and_rho_are_checked_against_the_inferred_sizes():
    P = scipy.sparse.csr_array(np.eye(3)[[0, 1, 1, 2, 2, 0]])  # S = 3, A = 2
    with pytest.raises(ValueError, match=r"r must have shape \(3, 2\)"):
        r1.TabularMDP(P, np.zeros((3, 3)), 0.9, np.full(3, 1 / 3))
    with pytest.raises(ValueError, match=r"rho must have shape \(3,\)"):
        r1.TabularMDP(P, np.zeros((3, 2)), 0.9, np.full(6, 1 / 6))


def test_validation_does_not_densify():
    S = 20_000
    mdp_args = sparse_garnet(S, 4, 3, seed=1)
    tracemalloc.start()
    try:
        r1.TabularMDP(mdp_args.P, mdp_args.r, mdp_args.gamma, mdp_args.rho)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * mdp_args.P.nnz * 16  # a few copies of (data, indices); dense would be 12.8 GB


# ------------------------------------------------------------------------------------------------
# The transition operators
# ------------------------------------------------------------------------------------------------
def test_transition_matrix_and_expected_next_match_dense(pairs):
    rng = np.random.default_rng(0)
    for name, dense, sparse in pairs:
        pi = r1.softmax(rng.standard_normal((dense.S, dense.A)))
        P_pi = sparse.transition_matrix(pi)
        assert scipy.sparse.issparse(P_pi) and P_pi.shape == (dense.S, dense.S), name
        np.testing.assert_allclose(P_pi.toarray(), dense.transition_matrix(pi), rtol=1e-14, atol=1e-16, err_msg=name)
        V = rng.standard_normal(dense.S)
        np.testing.assert_allclose(sparse.expected_next(V), dense.expected_next(V), rtol=1e-13, atol=1e-14)


def test_sparse_reachable_equals_dense_reachable(ref):
    rng = np.random.default_rng(3)
    for seed in range(20):
        S = int(rng.integers(1, 15))
        P_pi = rng.random((S, S)) * (rng.random((S, S)) < 0.15)
        P_pi[rng.random((S, S)) < 0.1] = 0.0
        rho = np.where(rng.random(S) < 0.3, rng.random(S), 0.0)
        rho[rng.integers(S)] += 0.1
        want = reachable(P_pi, rho)
        sp = scipy.sparse.csr_array(P_pi)
        np.testing.assert_array_equal(reachable(sp, rho), want, err_msg=f"seed {seed}")
        # stored zeros and repeated column indices (as transition_matrix builds) do not create edges
        indptr = sp.indptr.copy()
        indptr[-1] += 3  # three stored zeros (one repeated column) appended to the last row
        zeros = np.zeros(3, dtype=sp.indices.dtype)
        dup = scipy.sparse.csr_array(
            (np.concatenate([sp.data, np.zeros(3)]), np.concatenate([sp.indices, zeros]), indptr), shape=(S, S)
        )
        np.testing.assert_array_equal(reachable(dup, rho), want, err_msg=f"seed {seed} (explicit zeros)")


# ------------------------------------------------------------------------------------------------
# Every exact quantity: sparse == dense on small instances
# ------------------------------------------------------------------------------------------------
def test_evaluate_sparse_equals_dense(pairs):
    rng = np.random.default_rng(1)
    for name, dense, sparse in pairs:
        for temp in (1.0, 8.0):  # a soft and a near-deterministic policy
            pi = r1.softmax(temp * rng.standard_normal((dense.S, dense.A)))
            a, b = r1.evaluate(dense, pi), r1.evaluate(sparse, pi)
            tol = TOL * _scale(dense)
            for field in ("V", "Q", "A"):
                np.testing.assert_allclose(
                    getattr(b, field), getattr(a, field), rtol=0, atol=tol, err_msg=f"{name} {field}"
                )
            np.testing.assert_allclose(b.d, a.d, rtol=0, atol=TOL, err_msg=f"{name} d")
            np.testing.assert_array_equal(b.d == 0, a.d == 0, err_msg=f"{name}: d = 0 exactly at the same states")
            assert abs(b.d.sum() - 1.0) < TOL and b.J == pytest.approx(a.J, abs=tol)
            np.testing.assert_allclose((pi * b.A).sum(axis=1), 0.0, atol=1e-12 * _scale(dense))
            info = b.krylov
            assert a.krylov is None and a.residual is None
            assert info is not None and info.solver == "gmres" and info.rtol == 1e-12
            assert (
                info.residual_V <= 1e-12
                and info.residual_d <= 1e-12
                and b.residual == max(info.residual_V, info.residual_d)
            )
            assert info.iterations_V >= 1 and info.iterations_d >= 1


def test_optimal_sparse_equals_dense(pairs):
    for name, dense, sparse in pairs:
        a, b = r1.optimal(dense), r1.optimal(sparse)
        np.testing.assert_array_equal(b.actions, a.actions, err_msg=name)
        np.testing.assert_allclose(b.V, a.V, rtol=0, atol=TOL * _scale(dense), err_msg=name)
        np.testing.assert_allclose(b.gap, a.gap, rtol=0, atol=2 * TOL * _scale(dense), err_msg=name)
        assert b.residual <= 1e-10 * _scale(dense) and b.J == pytest.approx(a.J, abs=TOL * _scale(dense))


def test_optimal_sparse_terminates_with_exact_ties():
    """Two identical actions: the Krylov error must not make policy iteration switch back and forth."""
    base = sparse_garnet(300, 2, 3, gamma=0.95, seed=5)
    P = base.P.toarray().reshape(300, 2, 300)
    r = base.r.copy()
    P = np.concatenate([P, P], axis=1)  # actions 2, 3 copy actions 0, 1
    r = np.concatenate([r, r], axis=1)
    mdp = r1.TabularMDP(scipy.sparse.csr_array(P.reshape(1200, 300)), r, 0.95, base.rho)
    opt = r1.optimal(mdp)
    ref = r1.optimal(mdp.to_dense())
    np.testing.assert_allclose(opt.V, ref.V, atol=TOL * _scale(mdp))
    assert opt.iterations < 50


def test_gradient_fisher_and_natural_gradient_sparse_equal_dense(pairs):
    rng = np.random.default_rng(2)
    for name, dense, sparse in pairs:
        theta = 2.0 * rng.standard_normal((dense.S, dense.A))
        tol = TOL * _scale(dense) / (1.0 - dense.gamma)
        np.testing.assert_allclose(
            r1.policy_gradient(sparse, theta), r1.policy_gradient(dense, theta), atol=tol, rtol=0
        )
        Fa, Fb = r1.fisher(dense, theta), r1.fisher(sparse, theta)
        np.testing.assert_allclose(Fb.blocks, Fa.blocks, atol=TOL, rtol=0, err_msg=name)
        for damping in (0.0, 1e-2):
            np.testing.assert_allclose(
                r1.natural_gradient(sparse, theta, damping),
                r1.natural_gradient(dense, theta, damping),
                atol=tol / max(damping, 1e-2) if damping else tol,
                rtol=1e-8,
                err_msg=f"{name} λ={damping}",
            )


@pytest.mark.parametrize("method", r1.METHODS)
def test_every_direction_sparse_equals_dense(pairs, method):
    rng = np.random.default_rng(4)
    damping = 1e-2 if method in r1.DAMPED_METHODS else None
    for name, dense, sparse in pairs:
        theta = rng.standard_normal((dense.S, dense.A))
        want = r1.direction(method, dense, theta, damping=damping)
        got = r1.direction(method, sparse, theta, damping=damping)
        scale = max(float(np.max(np.abs(want))), 1.0)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-8 * scale * _scale(dense), err_msg=name)


def test_iterate_sparse_equals_dense(ref):
    dense = ref.random_mdp(11, 15, 3, 0.9, sparse=True)
    sparse = dense.to_sparse()
    theta0 = np.zeros((15, 3))
    for method, damping in (("pg", None), ("npg", None), ("r1-grad", 1e-2)):
        a = r1.iterate(dense, theta0, method, 0.5, 15, damping)
        b = r1.iterate(sparse, theta0, method, 0.5, 15, damping)
        assert a.status == b.status and a.iterations == b.iterations
        np.testing.assert_allclose(b.J, a.J, atol=TOL * _scale(dense), rtol=0)
        np.testing.assert_allclose(b.theta, a.theta, atol=1e-7, rtol=0)


# ------------------------------------------------------------------------------------------------
# Scale: memory proportional to the nonzeros
# ------------------------------------------------------------------------------------------------
def test_large_sparse_garnet_memory_is_proportional_to_nnz():
    S, A = 10_000, 4
    mdp = sparse_garnet(S, A, 3, seed=2)
    theta = np.random.default_rng(0).standard_normal((S, A))
    tracemalloc.start()
    try:
        ev = r1.evaluate(mdp, r1.softmax(theta))
        direction = r1.direction("r1-precond", mdp, theta, damping=1e-2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # GMRES keeps restart + 1 = 21 basis vectors of length S; P_π has nnz entries: O(nnz + S·A)
    bound = 8 * (6 * mdp.nnz + 60 * S * A)
    assert peak < bound, (
        f"peak {peak / 2**20:.1f} MiB > {bound / 2**20:.1f} MiB (dense P_π alone: {8 * S * S / 2**30:.1f} GiB)"
    )
    assert ev.residual is not None and ev.residual <= 1e-12
    assert abs(ev.d.sum() - 1.0) < 1e-9 and np.all(np.isfinite(direction))


def test_krylov_failure_is_a_clear_error(monkeypatch):
    mdp = sparse_garnet(500, 2, 2, gamma=0.999, seed=3)
    monkeypatch.setattr(evaluation, "KRYLOV_MAXITER", 1)
    monkeypatch.setattr(evaluation, "KRYLOV_RESTART", 2)
    with pytest.raises(RuntimeError, match=r"GMRES for V .*did not reach the relative residual 1e-12"):
        r1.evaluate(mdp, np.full((500, 2), 0.5))
