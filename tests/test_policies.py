"""Parametrisations beyond tabular softmax: log-linear and neural policies with their dense Fisher."""

from __future__ import annotations

import numpy as np
import pytest

import r1theory as r1
from r1theory.policies import LogLinear, NeuralSoftmax

EPS = float(np.finfo(np.float64).eps)


def _mdp(S: int = 4, A: int = 3, gamma: float = 0.85, seed: int = 0) -> r1.TabularMDP:
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S))
    P /= P.sum(axis=-1, keepdims=True)
    return r1.TabularMDP(P, rng.random((S, A)), gamma, np.full(S, 1.0 / S))


def _J(mdp: r1.TabularMDP, theta: np.ndarray, param: r1.Parametrisation) -> float:
    return r1.policy_point(mdp, theta, param).ev.J


def _fd_grad(mdp: r1.TabularMDP, theta: np.ndarray, param: r1.Parametrisation, h: float = 1e-6) -> np.ndarray:
    out = np.zeros_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e.flat[i] = h
        out.flat[i] = (_J(mdp, theta + e, param) - _J(mdp, theta - e, param)) / (2 * h)
    return out


def _score_outer_fisher(mdp: r1.TabularMDP, theta: np.ndarray, param: r1.Parametrisation) -> np.ndarray:
    """E_{s∼d, a∼π}[u uᵀ], u = J_{s,a} − Σ_b π_b J_{s,b}, enumerated (independent of the engine's F)."""
    p = r1.policy_point(mdp, theta, param)
    J = p.lin.jacobian()
    k = J.shape[2]
    F = np.zeros((k, k))
    for s in range(mdp.S):
        for a in range(mdp.A):
            u = J[s, a] - p.pi[s] @ J[s]
            F += p.ev.d[s] * p.pi[s, a] * np.outer(u, u)
    return F


def test_one_hot_log_linear_reproduces_tabular_softmax() -> None:
    mdp = _mdp()
    theta = np.random.default_rng(1).normal(size=(4, 3))
    onehot = LogLinear.one_hot(4, 3)
    vec = theta.ravel()
    assert r1.policy_point(mdp, vec, onehot).ev.J == pytest.approx(r1.evaluate(mdp, r1.softmax(theta)).J, abs=1e-15)
    np.testing.assert_allclose(r1.policy_gradient(mdp, vec, onehot), r1.policy_gradient(mdp, theta).ravel(), atol=1e-15)
    np.testing.assert_allclose(r1.fisher(mdp, vec, onehot).dense(), r1.fisher(mdp, theta).dense(), atol=1e-15)
    np.testing.assert_allclose(
        r1.natural_gradient(mdp, vec, param=onehot), r1.natural_gradient(mdp, theta).ravel(), atol=1e-9
    )
    for method in r1.METHODS:
        lam = 1e-2 if method in r1.DAMPED_METHODS else None
        want = r1.direction(method, mdp, theta, damping=lam).ravel()
        got = r1.direction(method, mdp, vec, damping=lam, param=onehot)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.abs(want).max(), err_msg=method)
    run_t = r1.iterate(mdp, theta, "r1-precond", 0.5, 20, damping=1e-2)
    run_l = r1.iterate(mdp, vec, "r1-precond", 0.5, 20, damping=1e-2, param=onehot)
    np.testing.assert_allclose(run_l.J, run_t.J, atol=1e-13)


@pytest.mark.parametrize("k", [2, 5])
def test_low_dimensional_features_give_a_dense_fisher(k: int) -> None:
    mdp = _mdp(5, 3, seed=2)
    rng = np.random.default_rng(3)
    param = LogLinear(rng.normal(size=(5, 3, k)))
    theta = rng.normal(size=k)
    F = r1.fisher(mdp, theta, param)
    dense = F.dense()
    np.testing.assert_allclose(dense, _score_outer_fisher(mdp, theta, param), atol=1e-14)
    assert np.linalg.matrix_rank(dense) == k  # generic features: non-singular, unlike tabular softmax
    assert np.count_nonzero(np.abs(dense) > 1e-12) == k * k  # dense, not block-diagonal
    v = rng.normal(size=k)
    np.testing.assert_allclose(F.mv(v), dense @ v, atol=1e-14)
    g = r1.policy_gradient(mdp, theta, param)
    np.testing.assert_allclose(g, _fd_grad(mdp, theta, param), atol=1e-8)
    np.testing.assert_allclose(r1.natural_gradient(mdp, theta, param=param), np.linalg.solve(dense, g), rtol=1e-8)
    lam = 0.1
    np.testing.assert_allclose(
        r1.natural_gradient(mdp, theta, 0.1, param), np.linalg.solve(dense + lam * np.eye(k), g), rtol=1e-10
    )


@pytest.mark.parametrize("hidden", [(6,), (5, 4)])
def test_neural_policy_gradient_fisher_and_jacobian(hidden: tuple[int, ...]) -> None:
    mdp = _mdp(3, 2, seed=4)
    net = NeuralSoftmax(3, 2, hidden)
    theta = net.init(np.random.default_rng(5))
    lin = net.at(theta)
    h = 1e-6
    fd = np.zeros_like(lin.jacobian())
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        fd[:, :, i] = (net.at(theta + e).logits - net.at(theta - e).logits) / (2 * h)
    np.testing.assert_allclose(lin.jacobian(), fd, atol=1e-9)
    np.testing.assert_allclose(r1.policy_gradient(mdp, theta, net), _fd_grad(mdp, theta, net), atol=1e-8)
    np.testing.assert_allclose(r1.fisher(mdp, theta, net).dense(), _score_outer_fisher(mdp, theta, net), atol=1e-13)


def test_rank1_directions_of_a_dense_parametrisation_match_dense_references() -> None:
    mdp = _mdp(3, 3, seed=6)
    net = NeuralSoftmax(3, 3, (4,))
    theta = net.init(np.random.default_rng(7))
    p = r1.policy_point(mdp, theta, net)
    J = p.lin.jacobian()
    g = p.gradient
    k = theta.size
    lam = 0.05
    eye = np.eye(k)
    same = np.zeros(k)
    precond = np.zeros((k, k))
    for s in range(3):
        for a in range(3):
            u = J[s, a] - p.pi[s] @ J[s]
            inv = np.linalg.inv(lam * eye + np.outer(u, u))
            w = p.ev.d[s] * p.pi[s, a]
            same += w * inv @ (p.ev.A[s, a] / (1 - mdp.gamma) * u)
            precond += w * inv
    F = r1.fisher(mdp, theta, net).dense()
    w_, U = np.linalg.eigh(F)
    refs = {
        "r1-same": same,
        "r1-precond": precond @ g,
        "r1-grad": np.linalg.solve(lam * eye + np.outer(g, g), g),
        "npg-damped": np.linalg.solve(F + lam * eye, g),
        "r1-eigen": np.linalg.solve(lam * eye + w_[-1] * np.outer(U[:, -1], U[:, -1]), g),
    }
    for method, want in refs.items():
        got = r1.direction(method, mdp, theta, damping=lam, param=net)
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10 * np.abs(want).max(), err_msg=method)


def test_iterate_with_a_neural_policy_ascends() -> None:
    mdp = _mdp(3, 2, seed=8)
    net = NeuralSoftmax(3, 2, (5,))
    run = r1.iterate(mdp, net.init(np.random.default_rng(9)), "pg", 0.5, 30, param=net)
    assert run.theta.shape == net.theta_shape
    assert np.all(np.diff(run.J) > -1e-12) and run.J[-1] > run.J[0]


def test_parametrisation_errors_name_the_problem() -> None:
    mdp = _mdp()
    with pytest.raises(ValueError, match="theta must have shape"):
        r1.policy_gradient(mdp, np.zeros(5), LogLinear(np.ones((4, 3, 4))))
    with pytest.raises(ValueError, match="param is for"):
        r1.policy_gradient(mdp, np.zeros(2), LogLinear(np.ones((3, 3, 2))))
    with pytest.raises(TypeError, match="param must be"):
        r1.policy_gradient(mdp, np.zeros((4, 3)), "tabular")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="features must have shape"):
        LogLinear(np.ones((4, 3)))
    with pytest.raises(ValueError, match="hidden"):
        NeuralSoftmax(4, 3, (2, 2, 2))


@pytest.mark.parametrize("kind", ["loglinear", "neural"])
def test_score_sq_norm_against_enumerated_scores(kind: str) -> None:
    """‖Jᵀ(e_(s,a) − π_s)‖² from the Gram form equals the norm of each score formed explicitly."""
    rng = np.random.default_rng(11)
    S, A = 5, 4
    par: r1.Parametrisation = (
        LogLinear(rng.normal(size=(S, A, 7))) if kind == "loglinear" else NeuralSoftmax(S, A, (3, 2))
    )
    theta = rng.normal(size=par.theta_shape) * 2.0
    lin = par.at(theta)
    pi = r1.softmax(lin.logits)
    J = lin.jacobian()
    want = np.array([[np.sum((J[s, a] - pi[s] @ J[s]) ** 2) for a in range(A)] for s in range(S)])
    np.testing.assert_allclose(lin.score_sq_norm(pi), want, rtol=1e-12, atol=0)


def test_score_sq_norm_keeps_its_accuracy_near_determinism() -> None:
    """One-hot features at logits ±40: the Gram form matches the tabular closed form to 1e-12 relative."""
    S, A = 3, 3
    theta = np.array([[40.0, 0.0, -3.0], [0.0, 0.0, 0.0], [-40.0, 2.0, 1.0]])
    pi = r1.softmax(theta)
    lin = LogLinear.one_hot(S, A).at(theta.ravel())
    np.testing.assert_allclose(lin.score_sq_norm(pi), r1.score_sq_norm(pi), rtol=1e-12, atol=0)


@pytest.mark.parametrize("k", [4, 15, 40])  # S·A = 15: fewer, as many and more parameters than rows of X
def test_param_fisher_solves_and_top_eigenpair_against_dense_references(k: int) -> None:
    """Cholesky of XᵀX + λI (k ≤ S·A) or Woodbury with XXᵀ + λI (k > S·A), the SVD pseudo-inverse and the
    one-eigenpair eigh agree with numpy on the dense F, singular (k > S(A−1)) or not."""
    mdp = _mdp(5, 3, seed=6)
    rng = np.random.default_rng(k)
    param = LogLinear(rng.normal(size=(5, 3, k)))
    theta = rng.normal(size=k)
    F = r1.fisher(mdp, theta, param)
    dense = F.dense()
    v = rng.normal(size=k)
    for lam in (1e-3, 0.1, 10.0):
        want = np.linalg.solve(dense + lam * np.eye(k), v)
        np.testing.assert_allclose(F.solve(v, lam), want, rtol=0, atol=1e-10 * np.abs(want).max())
    # pseudo-inverse: F = XᵀX with rows √(d π) u_{s,a} built here from the Jacobian, F⁺ = X⁺X⁺ᵀ (numpy's SVD
    # pinv of X; cut-off √1e-10 on singular values = 1e-10 on eigenvalues). The pinv of the formed F is less
    # accurate on its small eigenvalues (ε‖F‖ absolute), so it is held only to the conditioning it allows.
    p = r1.policy_point(mdp, theta, param)
    J = p.lin.jacobian()
    U = J - np.einsum("sb,sbk->sk", p.pi, J)[:, None, :]
    X = (np.sqrt(p.ev.d[:, None] * p.pi)[:, :, None] * U).reshape(-1, k)
    Xp = np.linalg.pinv(X, rcond=1e-5)
    want = Xp @ (Xp.T @ v)
    np.testing.assert_allclose(F.solve(v), want, rtol=0, atol=1e-10 * np.abs(want).max())
    w_all = np.linalg.eigvalsh(dense)
    kept = w_all[w_all > 1e-10 * w_all[-1]]
    cond = kept[-1] / kept[0]
    want_dense = np.linalg.pinv(dense, rcond=1e-10, hermitian=True) @ v
    np.testing.assert_allclose(F.solve(v), want_dense, rtol=0, atol=1e3 * EPS * cond * np.abs(want).max())
    w, U = np.linalg.eigh(dense)
    sigma, top = F.top_eigenpair()
    assert sigma == pytest.approx(w[-1], rel=1e-12)
    assert abs(float(top @ U[:, -1])) == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("hidden", [(3,), (4, 2)])
def test_gram_matrices_equal_the_dense_jacobian_products(hidden: tuple[int, ...]) -> None:
    """G_s = J_s J_sᵀ: the neural closed form over layers, and the log-linear one formed once per φ."""
    rng = np.random.default_rng(11)
    S, A = 4, 3
    for par in (
        r1.NeuralSoftmax(S, A, hidden),
        r1.NeuralSoftmax(S, A, hidden, rng.normal(size=(S, 5))),
        r1.LogLinear(rng.normal(size=(S, A, 6))),
    ):
        theta = rng.normal(size=par.theta_shape)
        lin = par.at(theta)
        J = lin.jacobian()
        ref = np.einsum("sak,sbk->sab", J, J)
        np.testing.assert_allclose(lin.gram(), ref, rtol=1e-13, atol=1e-13 * np.abs(ref).max())
