"""The exact policy gradient ∇J against central finite differences and the vector form d H(π) Q."""

from __future__ import annotations

import numpy as np
import pytest

import r1theory as r1


def _fd_tol(mdp: r1.TabularMDP) -> float:
    """Central differences with h = 1e-4: error O(h²J''') + O(ε_mach J/h), J''' ~ scale²·(1/(1−γ))."""
    scale = 1.0 + float(np.max(np.abs(mdp.r))) / (1.0 - mdp.gamma)
    return 1e-10 * scale**2


def test_gradient_matches_central_differences(instance, ref):
    mdp, theta = instance
    g = r1.policy_gradient(mdp, theta)
    assert g.shape == (mdp.S, mdp.A)
    np.testing.assert_allclose(g, ref.fd_gradient(mdp, theta, h=1e-4), rtol=0, atol=_fd_tol(mdp))


@pytest.mark.parametrize(
    "seed,S,A,gamma,theta_scale", [(31, 4, 3, 0.9, 4.0), (32, 5, 2, 0.95, 2.0), (33, 3, 4, 0.7, 6.0)]
)
def test_gradient_matches_central_differences_sparse(seed, S, A, gamma, theta_scale, ref):
    mdp = ref.random_mdp(seed, S, A, gamma, sparse=True, rho_full=False)
    theta = np.random.default_rng(seed).normal(scale=theta_scale, size=(S, A))
    np.testing.assert_allclose(
        r1.policy_gradient(mdp, theta), ref.fd_gradient(mdp, theta, h=1e-4), rtol=0, atol=_fd_tol(mdp)
    )


def test_gradient_vector_form(instance, ref):
    """∇_θ(s,·) J = (1/(1−γ)) d(s) (diag π_s − π_s π_sᵀ) Q(s, ·), with dense d and Q (Agarwal et al.)."""
    mdp, theta = instance
    pi = ref.naive_softmax(theta)
    d = ref.occupancy(mdp, pi)
    P_pi, r_pi = ref.markov_chain(mdp, pi)
    V = np.linalg.solve(np.eye(mdp.S) - mdp.gamma * P_pi, r_pi)
    Q = mdp.r + mdp.gamma * np.einsum("sat,t->sa", mdp.P, V)
    expected = np.stack([d[s] * (np.diag(pi[s]) - np.outer(pi[s], pi[s])) @ Q[s] for s in range(mdp.S)]) / (
        1.0 - mdp.gamma
    )
    scale = 1.0 + float(np.max(np.abs(mdp.r))) / (1.0 - mdp.gamma)
    np.testing.assert_allclose(r1.policy_gradient(mdp, theta), expected, rtol=0, atol=1e-12 * scale / (1 - mdp.gamma))


def test_gradient_rows_sum_to_zero(instance):
    """Softmax shift invariance: J(θ + c 1_s) = J(θ), so each row of ∇J sums to 0."""
    mdp, theta = instance
    g = r1.policy_gradient(mdp, theta)
    np.testing.assert_allclose(g.sum(axis=1), 0.0, rtol=0, atol=1e-14 * (1 + np.abs(g).sum()))


def test_gradient_is_the_policy_point_gradient(instance):
    mdp, theta = instance
    np.testing.assert_array_equal(r1.policy_point(mdp, theta).gradient, r1.policy_gradient(mdp, theta))


def test_unreachable_state_has_zero_gradient(ref):
    """A state with ρ(s) = 0 that no transition reaches has d(s) = 0, hence a zero gradient row."""
    mdp = ref.unreachable_mdp(absorbing=True)
    theta = np.array([[0.3, -0.2], [1.0, 0.0], [0.0, 2.0]])
    g = r1.policy_gradient(mdp, theta)
    np.testing.assert_array_equal(g[2], 0.0)
    assert np.abs(g[:2]).max() > 1e-3
    np.testing.assert_allclose(g, ref.fd_gradient(mdp, theta, h=1e-4), rtol=0, atol=_fd_tol(mdp))


def test_bandit_gradient_closed_form():
    """One state, γ = 0: ∂(πᵀr)/∂θ_a = π_a (r_a − πᵀr) (Mei et al. 2020, Update 1)."""
    r = np.array([[1.0, 0.9, 0.1]])
    mdp = r1.TabularMDP(np.ones((1, 3, 1)), r, 0.0, [1.0])
    theta = np.array([[np.log(3.0), np.log(4.0), np.log(5.0)]])
    pi = np.array([3.0, 4.0, 5.0]) / 12.0
    expected = pi * (r[0] - pi @ r[0])
    np.testing.assert_allclose(r1.policy_gradient(mdp, theta)[0], expected, rtol=1e-13, atol=1e-16)
