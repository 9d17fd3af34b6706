"""Numerical hostility against a high-precision mpmath route: γ = 0.999, logits up to 1e3, underflowing
probabilities, unreachable states. The engine must answer correctly to float64 accuracy."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import r1theory as r1


def _mp_reference(mdp: r1.TabularMDP, theta: np.ndarray, lam: float) -> dict[str, np.ndarray]:
    """V, d, A, ∇J, the centred natural gradient and r1-same in high precision, then rounded.

    The dominant action's advantage is ~e^{-2 max|θ|} times a difference of O(1) values, so the
    working precision is 50 digits plus the ~0.87·max|θ| digits that this cancellation consumes.
    """
    with mp.workdps(50 + int(0.87 * float(np.abs(theta).max())) + 10):
        return _mp_reference_at_precision(mdp, theta, lam)


def _mp_reference_at_precision(mdp: r1.TabularMDP, theta: np.ndarray, lam: float) -> dict[str, np.ndarray]:
    S, A = theta.shape
    g = mp.mpf(mdp.gamma)
    pi = []
    for s in range(S):
        m = max(theta[s])
        e = [mp.exp(mp.mpf(theta[s, a]) - mp.mpf(m)) for a in range(A)]
        z = mp.fsum(e)
        pi.append([x / z for x in e])
    M = mp.matrix(S, S)
    rpi = mp.matrix(S, 1)
    for s in range(S):
        rpi[s] = mp.fsum(pi[s][a] * mp.mpf(mdp.r[s, a]) for a in range(A))
        for t in range(S):
            M[s, t] = (1 if s == t else 0) - g * mp.fsum(pi[s][a] * mp.mpf(mdp.P[s, a, t]) for a in range(A))
    V = mp.lu_solve(M, rpi)
    rho = mp.matrix([mp.mpf(x) for x in mdp.rho])
    d = (1 - g) * mp.lu_solve(M.T, rho)
    Q = [[mp.mpf(mdp.r[s, a]) + g * mp.fsum(mp.mpf(mdp.P[s, a, t]) * V[t] for t in range(S)) for a in range(A)]
         for s in range(S)]  # fmt: skip
    Adv = [[Q[s][a] - mp.fsum(pi[s][b] * Q[s][b] for b in range(A)) for a in range(A)] for s in range(S)]
    grad = [[d[s] * pi[s][a] * Adv[s][a] / (1 - g) for a in range(A)] for s in range(S)]
    npg = [[(Adv[s][a] - mp.fsum(Adv[s]) / A) / (1 - g) for a in range(A)] for s in range(S)]
    L = mp.mpf(lam)
    same = []
    for s in range(S):
        n = [1 - 2 * pi[s][a] + mp.fsum(p * p for p in pi[s]) for a in range(A)]
        c = [pi[s][a] * Adv[s][a] / ((1 - g) * (L + n[a])) for a in range(A)]
        same.append([d[s] * (c[a] - pi[s][a] * mp.fsum(c)) for a in range(A)])

    def arr(x: object) -> np.ndarray:
        return (
            np.array(mp.matrix(x).tolist(), dtype=float)
            if not isinstance(x, list)
            else np.array([[float(v) for v in row] for row in x])
        )

    return {
        "V": np.array([float(V[s]) for s in range(S)]),
        "d": np.array([float(d[s]) for s in range(S)]),
        "A": arr(Adv),
        "grad": arr(grad),
        "npg": arr(npg),
        "same": arr(same),
    }


def _random_mdp(S: int, A: int, gamma: float, seed: int, sparse: bool = False) -> r1.TabularMDP:
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S))
    if sparse:
        P *= rng.random((S, A, S)) < 0.5
        P[..., 0] += 1e-3
    P /= P.sum(axis=-1, keepdims=True)
    return r1.TabularMDP(P, rng.random((S, A)), gamma, np.full(S, 1.0 / S))


def _close(got: np.ndarray, want: np.ndarray, rel: float) -> None:
    """Entrywise relative accuracy, with an absolute floor at the float64 underflow threshold."""
    np.testing.assert_allclose(got, want, rtol=rel, atol=1e-300)


@pytest.mark.parametrize("gamma", [0.9, 0.999])
def test_near_one_discount(gamma: float) -> None:
    mdp = _random_mdp(4, 3, gamma, 0)
    theta = np.random.default_rng(1).normal(size=(4, 3))
    ref = _mp_reference(mdp, theta, 1e-2)
    ev = r1.evaluate(mdp, r1.softmax(theta))
    cond = 1.0 / (1.0 - gamma)  # condition number of I − γP_π in the ∞-norm is ≤ (1 + γ)/(1 − γ)
    _close(ev.V, ref["V"], 1e-13 * cond)
    _close(ev.d, ref["d"], 1e-13 * cond)
    scale = np.abs(ref["grad"]).max()
    np.testing.assert_allclose(r1.policy_gradient(mdp, theta), ref["grad"], rtol=0, atol=1e-12 * cond * scale)
    np.testing.assert_allclose(
        r1.natural_gradient(mdp, theta), ref["npg"], rtol=0, atol=1e-12 * cond * np.abs(ref["npg"]).max()
    )


@pytest.mark.parametrize("logit", [30.0, 300.0, 1e3])
def test_near_deterministic_policies_keep_relative_accuracy(logit: float) -> None:
    """With logits ±logit, π(a|s) goes down to e^{-2·logit} (below float64 range for 1e3)."""
    mdp = _random_mdp(3, 3, 0.95, 2)
    signs = np.array([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0], [-1.0, 0.5, 1.0]])
    theta = logit * signs
    ref = _mp_reference(mdp, theta, 1e-3)
    g = r1.policy_gradient(mdp, theta)
    assert np.all(np.isfinite(g))
    # every component — including the dominant action's, which is a sum of tiny terms — to 1e-9 relative
    _close(g, ref["grad"], 1e-9)
    _close(r1.evaluate(mdp, r1.softmax(theta)).A, ref["A"], 1e-9)
    _close(r1.direction("r1-same", mdp, theta, damping=1e-3), ref["same"], 1e-9)
    # with λ far below rounding level, the weight 1/(λ + ‖u‖²) of the dominant action needs ‖u‖² accurate
    tiny = _mp_reference(mdp, theta, 1e-30)["same"]
    _close(r1.direction("r1-same", mdp, theta, damping=1e-30), tiny, 1e-9)
    npg = r1.natural_gradient(mdp, theta)
    np.testing.assert_allclose(npg, ref["npg"], rtol=1e-12, atol=1e-12 * np.abs(ref["npg"]).max())
    for method in r1.METHODS:
        damping = 1e-3 if method in r1.DAMPED_METHODS else None
        assert np.all(np.isfinite(r1.direction(method, mdp, theta, damping=damping))), method


def test_unreachable_states_have_zero_visitation_and_zero_fisher_block() -> None:
    P = np.zeros((3, 2, 3))
    P[0, :, 0], P[0, 1, :] = 1.0, [0.5, 0.5, 0.0]
    P[1, :, 1] = 1.0
    P[2, :, 0] = 1.0  # state 2 leads back, but nothing leads to it and ρ(2) = 0
    mdp = r1.TabularMDP(P, np.array([[0.1, 0.5], [1.0, 0.0], [0.3, 0.9]]), 0.9, np.array([1.0, 0.0, 0.0]))
    theta = np.random.default_rng(0).normal(size=(3, 2))
    ref = _mp_reference(mdp, theta, 1e-2)
    ev = r1.evaluate(mdp, r1.softmax(theta))
    assert ev.d[2] == 0.0 and ref["d"][2] == 0.0
    _close(ev.d, ref["d"], 1e-13)
    F = r1.fisher(mdp, theta)
    assert np.all(F.blocks[2] == 0.0)
    x = F.solve(np.ones((3, 2)) + np.arange(6).reshape(3, 2), 0.0)
    assert np.all(x[2] == 0.0) and np.all(np.isfinite(x))
    np.testing.assert_array_equal(r1.natural_gradient(mdp, theta)[2], 0.0)
