"""fisher_diagnostics: errors Π(M − (F + λI)^{-1})Π and centred cosines, against dense references."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg

import r1theory as r1
from r1theory.diagnostics import MAX_DENSE, RANK_RTOL, _projected_cosine, preconditioner, range_projector

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
    assert set(diag) == set(r1.METHODS)
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
    with pytest.raises(ValueError, match=r"k = S·A = 4032 exceeds MAX_DENSE = 4000"):
        r1.fisher_diagnostics(mdp, np.zeros((S, A)), 0.1)


# ---------------------------------------------------------------------------------------------
# Other parametrisations: the same diagnostics in θ-space with the dense Fisher F = Jᵀ F_ℓ J
# ---------------------------------------------------------------------------------------------
FIXED = ("npg-damped", "r1-eigen", "r1-grad", "r1-precond")


def _param_case(name: str, ref):
    """(mdp, param, θ): rank-deficient log-linear (k > S(A−1)), low-dimensional log-linear
    (k < S(A−1), F non-singular), one- and two-layer tanh policies (F rank S(A−1) ≪ k)."""
    rng = np.random.default_rng(11)
    if name == "loglinear-k10-rank8":
        return ref.random_mdp(21, 4, 3, 0.9), r1.LogLinear(rng.normal(size=(4, 3, 10))), rng.normal(size=10)
    if name == "loglinear-k4-fullrank":
        return ref.random_mdp(22, 5, 3, 0.8), r1.LogLinear(rng.normal(size=(5, 3, 4))), rng.normal(size=4)
    if name == "neural-(3,)":
        net = r1.NeuralSoftmax(3, 3, (3,))
        return ref.random_mdp(23, 3, 3, 0.9), net, net.init(np.random.default_rng(5))
    if name == "neural-(3,2)":
        net = r1.NeuralSoftmax(4, 3, (3, 2))
        return ref.random_mdp(24, 4, 3, 0.95), net, net.init(np.random.default_rng(6))
    raise KeyError(name)


PARAM_CASES = ["loglinear-k10-rank8", "loglinear-k4-fullrank", "neural-(3,)", "neural-(3,2)"]


class BruteForce:
    """Dense θ-space references from the definitions, by enumerating (s, a).

    π, d and A come from the conftest references (naive softmax of the logits, dense solves); the
    scores u_{s,a} = J_{s,a} − Σ_b π(b|s)J_{s,b} from the dense Jacobian; every inverse is numpy.linalg.inv.
    """

    def __init__(self, ref, mdp, param, theta, lam):
        lin = param.at(np.asarray(theta, dtype=float))
        J = lin.jacobian()
        S, A, k = J.shape
        pi = ref.naive_softmax(lin.logits)
        d = ref.occupancy(mdp, pi)
        self.g = np.einsum("sak,sa->k", J, d[:, None] * pi * ref.advantage(mdp, pi)) / (1.0 - mdp.gamma)
        eye = np.eye(k)
        self.F = np.zeros((k, k))
        precond = np.zeros((k, k))
        for s in range(S):
            for a in range(A):
                u = J[s, a] - pi[s] @ J[s]
                self.F += d[s] * pi[s, a] * np.outer(u, u)
                precond += d[s] * pi[s, a] * np.linalg.inv(lam * eye + np.outer(u, u))
        w, V = np.linalg.eigh(self.F)
        self.M = {
            "npg-damped": np.linalg.inv(self.F + lam * eye),
            "r1-grad": np.linalg.inv(lam * eye + np.outer(self.g, self.g)),
            "r1-eigen": np.linalg.inv(lam * eye + w[-1] * np.outer(V[:, -1], V[:, -1])),
            "r1-precond": precond,
        }
        Q = scipy.linalg.orth(self.F, rcond=RANK_RTOL)
        self.rank = Q.shape[1]
        self.Pi_orth = Q @ Q.T
        Fp = np.linalg.pinv(self.F, rcond=RANK_RTOL, hermitian=True)
        self.Pi_pinv = self.F @ Fp
        self.npg = Fp @ self.g

    def cosine(self, x):
        xp, yp = self.Pi_orth @ np.ravel(x), self.Pi_orth @ self.npg
        return float(xp @ yp / (np.linalg.norm(xp) * np.linalg.norm(yp)))


@pytest.mark.parametrize("lam", DAMPINGS)
def test_one_hot_log_linear_reproduces_tabular_diagnostics(instance, lam):
    """φ(s, a) = e_{(s,a)}: the θ-space route (eigh of the dense F, projection) = the tabular route
    (closed-form blocks, per-state centring). Measured max deviation ≈ 3e-13 (relative to max(1, |x|))."""
    mdp, theta = instance
    tab = r1.fisher_diagnostics(mdp, theta, lam)
    onehot = r1.fisher_diagnostics(mdp, theta.ravel(), lam, param=r1.LogLinear.one_hot(mdp.S, mdp.A))
    explicit = r1.fisher_diagnostics(mdp, theta, lam, param=r1.TabularSoftmax(mdp.S, mdp.A))
    assert explicit == tab  # param=TabularSoftmax is the tabular route itself
    assert set(onehot) == set(tab)
    for name, dt in tab.items():
        do = onehot[name]
        assert do.method == name
        assert do.cosine == pytest.approx(dt.cosine, rel=1e-9, abs=1e-9), name
        for field in ("spectral_error", "frobenius_error", "relative_spectral_error"):
            want, got = getattr(dt, field), getattr(do, field)
            if want is None:
                assert got is None, (name, field)
            else:
                assert got == pytest.approx(want, rel=1e-9, abs=1e-9), (name, field)


def test_one_hot_log_linear_matrices_are_the_tabular_ones(instance):
    mdp, theta = instance
    lam = 0.1
    pt = r1.policy_point(mdp, theta)
    po = r1.policy_point(mdp, theta.ravel(), r1.LogLinear.one_hot(mdp.S, mdp.A))
    np.testing.assert_allclose(range_projector(po), range_projector(pt), atol=1e-11)
    for method in FIXED:
        np.testing.assert_allclose(
            preconditioner(po, method, lam), preconditioner(pt, method, lam), atol=1e-11 / lam, err_msg=method
        )
    assert preconditioner(po, "r1-same", lam) is None
    assert preconditioner(po, "pg", lam) is None


@pytest.mark.parametrize("lam", DAMPINGS)
@pytest.mark.parametrize("case", PARAM_CASES)
def test_param_preconditioners_match_brute_force(case, lam, ref):
    """Each dense k × k preconditioner against Σ_{s,a} enumeration and numpy.linalg.inv.

    ‖M‖₂ ≤ 1/λ; tolerance 1e-10/λ (measured ≤ ~1e-13/λ)."""
    mdp, param, theta = _param_case(case, ref)
    bf = BruteForce(ref, mdp, param, theta, lam)
    point = r1.policy_point(mdp, theta, param)
    k = theta.size
    for method in FIXED:
        M = preconditioner(point, method, lam)
        assert M.shape == (k, k)
        np.testing.assert_allclose(M, bf.M[method], rtol=0, atol=1e-10 / lam, err_msg=method)
    assert preconditioner(point, "r1-same", lam) is None


@pytest.mark.parametrize("case", PARAM_CASES)
def test_param_range_projector_matches_orth_and_pinv(case, ref):
    """Π from eigh with the rank tolerance = QQᵀ (Q = scipy.linalg.orth(F)) = F F⁺ (numpy pinv);
    an orthogonal projector of rank rank(F). Measured max deviation ≈ 7e-14."""
    mdp, param, theta = _param_case(case, ref)
    bf = BruteForce(ref, mdp, param, theta, 0.1)
    Pi = range_projector(r1.policy_point(mdp, theta, param))
    np.testing.assert_allclose(Pi, bf.Pi_orth, atol=1e-11)
    np.testing.assert_allclose(Pi, bf.Pi_pinv, atol=1e-11)
    np.testing.assert_allclose(Pi @ Pi, Pi, atol=1e-12)
    np.testing.assert_allclose(Pi, Pi.T, atol=1e-15)
    assert np.trace(Pi) == pytest.approx(bf.rank, abs=1e-10)
    S, A = mdp.S, mdp.A
    assert bf.rank == min(theta.size, S * (A - 1))  # generic features / weights: the largest possible rank
    np.testing.assert_allclose(Pi @ bf.F, bf.F, atol=1e-13)  # Π fixes range(F)


def test_projector_of_rank_deficient_one_hot_is_the_per_state_centring(ref):
    """One-hot features: rank F = S(A − 1) of S·A; Π centres each state's block."""
    mdp = ref.random_mdp(3, 3, 4, 0.9)
    theta = np.random.default_rng(0).normal(size=12)
    Pi = range_projector(r1.policy_point(mdp, theta, r1.LogLinear.one_hot(3, 4)))
    C = np.kron(np.eye(3), np.eye(4) - np.full((4, 4), 0.25))
    np.testing.assert_allclose(Pi, C, atol=1e-12)
    assert np.trace(Pi) == pytest.approx(9.0, abs=1e-12)


@pytest.mark.parametrize("lam", DAMPINGS)
@pytest.mark.parametrize("case", ["one-hot", *PARAM_CASES])
def test_param_preconditioner_times_gradient_is_the_direction(case, lam, ref):
    """M ∇J = direction_at(point, method, λ) for every fixed-preconditioner method: the matrices the
    diagnostics measure are the ones the directions apply. Tolerance 1e-10·‖direction‖_∞
    (measured ≤ ~1e-12, at λ = 1e-3)."""
    if case == "one-hot":
        mdp, param = ref.random_mdp(5, 5, 4, 0.8), r1.LogLinear.one_hot(5, 4)
        theta = np.random.default_rng(1005).normal(size=20)
    else:
        mdp, param, theta = _param_case(case, ref)
    point = r1.policy_point(mdp, theta, param)
    for method in FIXED:
        want = r1.direction_at(point, method, lam)
        got = preconditioner(point, method, lam) @ point.gradient.ravel()
        np.testing.assert_allclose(got, want.ravel(), rtol=0, atol=1e-10 * np.abs(want).max(), err_msg=method)


@pytest.mark.parametrize("lam", DAMPINGS)
@pytest.mark.parametrize("case", PARAM_CASES)
def test_param_errors_and_cosines_match_brute_force(case, lam, ref):
    mdp, param, theta = _param_case(case, ref)
    bf = BruteForce(ref, mdp, param, theta, lam)
    diag = r1.fisher_diagnostics(mdp, theta, lam, param=param)
    assert set(diag) == set(r1.METHODS)
    Pi = bf.Pi_orth
    target = Pi @ bf.M["npg-damped"] @ Pi
    target_norm = np.abs(np.linalg.eigvalsh(0.5 * (target + target.T))).max()
    tol = 1e-10 / lam
    for method in FIXED:
        E = Pi @ bf.M[method] @ Pi - target
        E = 0.5 * (E + E.T)
        spec = np.abs(np.linalg.eigvalsh(E)).max()
        dg = diag[method]
        assert dg.spectral_error == pytest.approx(spec, abs=tol), method
        assert dg.frobenius_error == pytest.approx(np.linalg.norm(E), abs=tol), method
        assert dg.relative_spectral_error == pytest.approx(spec / target_norm, abs=tol / target_norm), method
        assert dg.frobenius_error >= dg.spectral_error * (1 - 1e-12)
        assert dg.cosine == pytest.approx(bf.cosine(bf.M[method] @ bf.g), abs=1e-9), method
    assert diag["npg-damped"].spectral_error <= 1e-12 * target_norm
    assert diag["r1-precond"].spectral_error > 1e-6 * target_norm
    assert diag["pg"].cosine == pytest.approx(bf.cosine(bf.g), abs=1e-10)
    r1_same = r1.direction("r1-same", mdp, theta, damping=lam, param=param)
    assert diag["r1-same"].cosine == pytest.approx(bf.cosine(r1_same), abs=1e-10)
    for name in ("pg", "r1-same"):
        assert diag[name].spectral_error is None
        assert diag[name].frobenius_error is None
        assert diag[name].relative_spectral_error is None
    # r1-grad is PG rescaled by 1/(λ + ‖g‖²): the same cosine
    assert diag["r1-grad"].cosine == pytest.approx(diag["pg"].cosine, abs=1e-13)
    for dg in diag.values():
        assert -1.0 - 1e-12 <= dg.cosine <= 1.0 + 1e-12


@pytest.mark.parametrize("lam", DAMPINGS)
def test_full_rank_low_dim_features_need_no_projection(lam, ref):
    """k < S(A − 1) generic features: F is non-singular, Π = I, F⁺ = F^{-1}, and the diagnostics are the
    plain cosines with F^{-1}∇J and the plain norms of M − (F + λI)^{-1}."""
    mdp, param, theta = _param_case("loglinear-k4-fullrank", ref)
    k = theta.size
    assert k < mdp.S * (mdp.A - 1)
    bf = BruteForce(ref, mdp, param, theta, lam)
    assert np.linalg.matrix_rank(bf.F) == k
    point = r1.policy_point(mdp, theta, param)
    np.testing.assert_allclose(range_projector(point), np.eye(k), atol=1e-13)
    npg = np.linalg.solve(bf.F, bf.g)
    diag = r1.fisher_diagnostics(mdp, theta, lam, param=param)

    def cos(x):
        return float(x @ npg / (np.linalg.norm(x) * np.linalg.norm(npg)))

    assert diag["pg"].cosine == pytest.approx(cos(bf.g), abs=1e-12)
    for method in FIXED:
        E = bf.M[method] - bf.M["npg-damped"]
        assert diag[method].spectral_error == pytest.approx(np.abs(np.linalg.eigvalsh(E)).max(), abs=1e-10 / lam)
        assert diag[method].frobenius_error == pytest.approx(np.linalg.norm(E), abs=1e-10 / lam)
        assert diag[method].cosine == pytest.approx(cos(bf.M[method] @ bf.g), abs=1e-10)


@pytest.mark.parametrize("case", PARAM_CASES)
def test_param_npg_damped_cosine_tends_to_one(case, ref):
    """In F's eigenbasis (F + λI)^{-1}g has components y_i·w_i/(w_i + λ) of y = F⁺g's, so it is y + e with
    ‖e‖ ≤ δ‖y‖, δ = λ/(w_min + λ) (w_min the smallest nonzero eigenvalue), and 1 − cos ≤ 1 − √(1 − δ²) ≤ δ²."""
    mdp, param, theta = _param_case(case, ref)
    F = BruteForce(ref, mdp, param, theta, 1.0).F
    w = np.linalg.eigvalsh(F)
    w_min = w[w > RANK_RTOL * w[-1]].min()
    lams = (1.0, 1e-2, 1e-4, 1e-7)
    gaps = [1.0 - r1.fisher_diagnostics(mdp, theta, lam, param=param)["npg-damped"].cosine for lam in lams]
    assert all(gap >= -1e-14 for gap in gaps)
    for lam, gap in zip(lams, gaps, strict=True):
        assert gap <= (lam / (w_min + lam)) ** 2 + 1e-12
    assert all(b <= a + 1e-14 for a, b in itertools.pairwise(gaps))


def test_neural_policy_diagnostics_from_init(ref):
    """NeuralSoftmax(S, A, (3,)) at θ = init(rng): k = 3(S + 1) + A·4 parameters, F of rank S(A − 1)."""
    S, A = 4, 3
    mdp = ref.random_mdp(31, S, A, 0.9)
    net = r1.NeuralSoftmax(S, A, (3,))
    theta = net.init(np.random.default_rng(32))
    assert theta.size == 3 * (S + 1) + A * 4
    lam = 0.05
    bf = BruteForce(ref, mdp, net, theta, lam)
    assert bf.rank == S * (A - 1)
    diag = r1.fisher_diagnostics(mdp, theta, lam, param=net)
    for method in FIXED:
        assert diag[method].cosine == pytest.approx(bf.cosine(bf.M[method] @ bf.g), abs=1e-9)
    assert diag["npg-damped"].spectral_error <= 1e-12 / lam
    assert 0.0 < diag["r1-eigen"].relative_spectral_error


def test_param_cosine_is_taken_modulo_null_directions(ref):
    """The θ-space analogue of per-state centring: shifting every logit by a constant (the output
    bias b_L += c·1 of a tanh policy, a null direction of F) does not change the projected cosine."""
    mdp, net, theta = _param_case("neural-(3,)", ref)
    point = r1.policy_point(mdp, theta, net)
    Pi = range_projector(point)
    null = np.zeros(theta.size)
    null[-mdp.A :] = 1.0  # b_L is the last A entries of θ
    np.testing.assert_allclose(r1.fisher(mdp, theta, net).mv(null), 0.0, atol=1e-15)
    np.testing.assert_allclose(Pi @ null, 0.0, atol=1e-14)
    x, y = point.gradient, r1.natural_gradient(mdp, theta, param=net)
    base = _projected_cosine(x, y, Pi)
    assert _projected_cosine(x + 5.0 * null, y - 3.0 * null, Pi) == pytest.approx(base, abs=1e-13)
    plain = float((x + 5.0 * null) @ y / (np.linalg.norm(x + 5.0 * null) * np.linalg.norm(y)))
    assert abs(plain - base) > 1e-3  # without the projection the shift would count
    assert np.isnan(_projected_cosine(np.zeros_like(x), y, Pi))


# ---------------------------------------------------------------------------------------------
# Bad input names the field
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "damping,exc,msg",
    [
        (0.0, ValueError, r"damping must be > 0 for fisher_diagnostics"),
        (-0.1, ValueError, r"damping must be >= 0"),
        (float("nan"), ValueError, r"damping must be finite"),
        (True, TypeError, r"damping must be a real number"),
    ],
)
def test_param_bad_damping(damping, exc, msg, ref):
    mdp, param, theta = _param_case("neural-(3,)", ref)
    with pytest.raises(exc, match=msg):
        r1.fisher_diagnostics(mdp, theta, damping, param=param)


def test_param_bad_inputs_name_the_field(ref):
    mdp, param, theta = _param_case("loglinear-k10-rank8", ref)  # S, A = 4, 3
    with pytest.raises(ValueError, match=r"param is for \(S, A\) = \(3, 3\)"):
        r1.fisher_diagnostics(mdp, np.zeros(2), 0.1, param=r1.LogLinear(np.ones((3, 3, 2))))
    with pytest.raises(ValueError, match=r"param is for \(S, A\) = \(4, 2\)"):
        r1.fisher_diagnostics(mdp, np.zeros(20), 0.1, param=r1.NeuralSoftmax(4, 2, (3,)))
    with pytest.raises(TypeError, match=r"param must be an r1theory.policies.Parametrisation"):
        r1.fisher_diagnostics(mdp, theta, 0.1, param="log-linear")
    with pytest.raises(ValueError, match=r"theta must have shape \(10,\)"):
        r1.fisher_diagnostics(mdp, np.zeros((4, 3)), 0.1, param=param)
    with pytest.raises(ValueError, match=r"theta has a NaN"):
        r1.fisher_diagnostics(mdp, np.full(10, np.nan), 0.1, param=param)
    with pytest.raises(TypeError):
        r1.fisher_diagnostics(mdp, theta, 0.1, param)  # param is keyword-only


def test_param_diagnostics_refuse_too_many_parameters(ref):
    mdp = ref.random_mdp(0, 2, 2, 0.5)
    big = r1.LogLinear(np.zeros((2, 2, MAX_DENSE + 1)))
    with pytest.raises(ValueError, match=r"k \(the number of parameters of log-linear\) = 4001 exceeds MAX_DENSE"):
        r1.fisher_diagnostics(mdp, np.zeros(MAX_DENSE + 1), 0.1, param=big)
    net = r1.NeuralSoftmax(2, 2, (1500,))  # k = 1500·3 + 2·1501 = 7502
    with pytest.raises(ValueError, match=r"k \(the number of parameters of neural softmax\) = 7502 exceeds"):
        r1.fisher_diagnostics(mdp, np.zeros(7502), 0.1, param=net)
    ok = r1.LogLinear(np.random.default_rng(0).normal(size=(2, 2, 3)))
    assert set(r1.fisher_diagnostics(mdp, np.zeros(3), 0.1, param=ok)) == set(r1.METHODS)
