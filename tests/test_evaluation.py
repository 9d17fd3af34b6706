"""Exact evaluation (V, Q, A, d, J), optimal control and the softmax, against independent routes."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

import r1theory as r1

SPARSE = [(11, 4, 3, 0.9), (12, 6, 2, 0.95), (13, 3, 4, 0.99), (14, 5, 2, 0.5)]


def _scale(mdp: r1.TabularMDP) -> float:
    """Size of values: 1 + max|r|/(1−γ) bounds |V|, |Q| and |A|/2."""
    return 1.0 + float(np.max(np.abs(mdp.r))) / (1.0 - mdp.gamma)


def _sparse_instance(ref, params):
    seed, S, A, gamma = params
    mdp = ref.random_mdp(seed, S, A, gamma, sparse=True, rho_full=False)
    theta = np.random.default_rng(seed).normal(scale=3.0, size=(S, A))
    return mdp, theta


# ------------------------------------------------------------------------------------------------
# V and d against the truncated power series Σ_t γ^t P_π^t
# ------------------------------------------------------------------------------------------------
def _check_against_power_series(ref, mdp, theta):
    pi = ref.naive_softmax(theta)
    ev = r1.evaluate(mdp, pi)
    V_ref, d_ref = ref.power_series(mdp, pi, tol=1e-14)
    # tolerance: series tail ≤ 1e-14·scale plus rounding of ~log(1e-16)/log(γ) summed terms
    np.testing.assert_allclose(ev.V, V_ref, rtol=0, atol=1e-11 * _scale(mdp))
    np.testing.assert_allclose(ev.d, d_ref, rtol=0, atol=1e-11)
    assert ev.J == pytest.approx(float(mdp.rho @ V_ref), abs=1e-11 * _scale(mdp))


def test_V_d_J_match_power_series(instance, ref):
    _check_against_power_series(ref, *instance)


@pytest.mark.parametrize("params", SPARSE, ids=str)
def test_V_d_J_match_power_series_sparse(params, ref):
    _check_against_power_series(ref, *_sparse_instance(ref, params))


def test_Q_and_A_definitions(instance, ref):
    mdp, theta = instance
    pi = ref.naive_softmax(theta)
    ev = r1.evaluate(mdp, pi)
    V_ref, _ = ref.power_series(mdp, pi)
    tol = 1e-11 * _scale(mdp)
    Q_ref = mdp.r + mdp.gamma * np.einsum("sat,t->sa", mdp.P, V_ref)
    np.testing.assert_allclose(ev.Q, Q_ref, rtol=0, atol=tol)
    np.testing.assert_allclose(ev.A, Q_ref - V_ref[:, None], rtol=0, atol=tol)
    # Σ_a π(a|s) A(s, a) = 0 and Σ_a π(a|s) Q(s, a) = V(s)
    np.testing.assert_allclose(np.sum(pi * ev.A, axis=1), 0.0, rtol=0, atol=1e-13 * _scale(mdp))
    np.testing.assert_allclose(np.sum(pi * ev.Q, axis=1), ev.V, rtol=0, atol=1e-13 * _scale(mdp))
    np.testing.assert_array_equal(ev.pi, pi)


def test_gamma_zero_is_one_step(ref):
    mdp = ref.random_mdp(3, 3, 2, 0.0)
    pi = ref.naive_softmax(np.arange(6.0).reshape(3, 2))
    ev = r1.evaluate(mdp, pi)
    np.testing.assert_allclose(ev.V, np.sum(pi * mdp.r, axis=1), rtol=1e-15, atol=0)
    np.testing.assert_allclose(ev.d, mdp.rho, rtol=1e-15, atol=0)
    np.testing.assert_allclose(ev.Q, mdp.r, rtol=1e-15, atol=0)


@pytest.mark.parametrize("params", SPARSE, ids=str)
def test_visitation_properties(params, ref):
    """d ≥ 0, Σ d = 1, d ≥ (1−γ)ρ and the flow equation d = (1−γ)ρ + γ P_πᵀ d."""
    mdp, theta = _sparse_instance(ref, params)
    pi = ref.naive_softmax(theta)
    d = r1.evaluate(mdp, pi).d
    P_pi, _ = ref.markov_chain(mdp, pi)
    assert np.all(d >= 0.0)
    assert d.sum() == pytest.approx(1.0, abs=1e-13)
    assert np.all(d >= (1.0 - mdp.gamma) * mdp.rho - 1e-15)
    np.testing.assert_allclose(d, (1 - mdp.gamma) * mdp.rho + mdp.gamma * P_pi.T @ d, rtol=0, atol=1e-13)


@pytest.mark.parametrize("absorbing", [True, False], ids=["absorbing", "leaks-back"])
def test_unreachable_state_has_no_visitation(absorbing, ref):
    mdp = ref.unreachable_mdp(absorbing)
    for theta in (np.zeros((3, 2)), np.array([[1.0, -1.0], [0.5, 2.0], [-3.0, 3.0]])):
        d = r1.evaluate(mdp, r1.softmax(theta)).d
        assert d[2] <= 1e-15  # exactly 0 in exact arithmetic; rounding level allowed here
        assert d[:2].sum() == pytest.approx(1.0, abs=1e-14)


# ------------------------------------------------------------------------------------------------
# Performance difference lemma (Kakade & Langford 2002)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_performance_difference_lemma(instance, ref, seed):
    """J(π) − J(π') = (1/(1−γ)) Σ_s d^π(s) Σ_a π(a|s) A^{π'}(s, a)."""
    mdp, theta = instance
    rng = np.random.default_rng(seed)
    pi = ref.naive_softmax(theta)
    pi2 = ref.naive_softmax(rng.normal(scale=2.0, size=theta.shape))
    ev, ev2 = r1.evaluate(mdp, pi), r1.evaluate(mdp, pi2)
    rhs = float(np.sum(ev.d[:, None] * pi * ev2.A)) / (1.0 - mdp.gamma)
    assert ev.J - ev2.J == pytest.approx(rhs, abs=1e-11 * _scale(mdp) / (1.0 - mdp.gamma))
    # and against the independent dense route for J
    assert ev.J == pytest.approx(ref.J(mdp, theta), abs=1e-11 * _scale(mdp))


# ------------------------------------------------------------------------------------------------
# Optimal control
# ------------------------------------------------------------------------------------------------
def _check_optimal(ref, mdp):
    opt = r1.optimal(mdp)
    V_vi = ref.value_iteration(mdp)
    scale = _scale(mdp)
    np.testing.assert_allclose(opt.V, V_vi, rtol=0, atol=1e-9 * scale)  # VI stops at 1e-13(1−γ) per sweep
    assert opt.J == pytest.approx(float(mdp.rho @ V_vi), abs=1e-9 * scale)
    Q_vi = mdp.r + mdp.gamma * np.einsum("sat,t->sa", mdp.P, V_vi)
    np.testing.assert_allclose(opt.Q, Q_vi, rtol=0, atol=1e-9 * scale)
    rows = np.arange(mdp.S)
    # the returned action is greedy for Q* (within the tie tolerance) and π is its one-hot
    assert np.all(Q_vi[rows, opt.actions] >= Q_vi.max(axis=1) - 1e-9 * scale)
    expected_pi = np.zeros((mdp.S, mdp.A))
    expected_pi[rows, opt.actions] = 1.0
    np.testing.assert_array_equal(opt.pi, expected_pi)
    assert opt.residual <= 1e-9 * scale
    assert np.all(opt.gap >= 0.0)
    if mdp.A == 1:
        assert np.all(np.isinf(opt.gap))
    else:
        Q_other = Q_vi.copy()
        Q_other[rows, opt.actions] = -np.inf
        np.testing.assert_allclose(opt.gap, Q_vi[rows, opt.actions] - Q_other.max(axis=1), rtol=0, atol=1e-8 * scale)
    return opt


def test_optimal_matches_value_iteration(instance, ref):
    _check_optimal(ref, instance[0])


@pytest.mark.parametrize("params", SPARSE, ids=str)
def test_optimal_matches_value_iteration_sparse(params, ref):
    _check_optimal(ref, _sparse_instance(ref, params)[0])


def test_optimal_sees_past_the_myopic_action():
    """State 0: stay for 0.5 or move (reward 0) to state 1, which pays 1 per step; γ = 0.9.

    V*(1) = 1/(1 − γ) = 10, V*(0) = γ·10 = 9 > 0.5/(1 − γ) = 5, so a*(0) = move although
    argmax_a r(0, a) = stay. Q*(0, stay) = 0.5 + 0.9·9 = 8.6, Q*(1, back) = 0.9·9 = 8.1.
    """
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, 0, 1] = P[1, 1, 0] = 1.0
    mdp = r1.TabularMDP(P, [[0.5, 0.0], [1.0, 0.0]], 0.9, [1.0, 0.0])
    opt = r1.optimal(mdp)
    np.testing.assert_array_equal(opt.actions, [1, 0])
    np.testing.assert_allclose(opt.V, [9.0, 10.0], rtol=1e-14, atol=0)
    np.testing.assert_allclose(opt.Q, [[8.6, 9.0], [10.0, 8.1]], rtol=1e-14, atol=0)
    np.testing.assert_allclose(opt.gap, [0.4, 1.9], rtol=1e-13, atol=0)
    assert opt.J == pytest.approx(9.0, rel=1e-14, abs=0)


@pytest.mark.parametrize("seed", range(3))
def test_optimal_beats_every_deterministic_policy(seed, ref):
    """Brute force: J* = max over all A^S deterministic policies (dense solves)."""
    mdp = ref.random_mdp(seed, 3, 3, 0.9)
    opt = r1.optimal(mdp)
    best = -np.inf
    for actions in itertools.product(range(mdp.A), repeat=mdp.S):
        pi = np.zeros((mdp.S, mdp.A))
        pi[np.arange(mdp.S), actions] = 1.0
        P_pi, r_pi = ref.markov_chain(mdp, pi)
        best = max(best, float(mdp.rho @ np.linalg.solve(np.eye(mdp.S) - 0.9 * P_pi, r_pi)))
    assert opt.J == pytest.approx(best, abs=1e-12 * _scale(mdp))


# ------------------------------------------------------------------------------------------------
# Softmax
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_softmax_matches_naive_for_small_theta(seed):
    theta = np.random.default_rng(seed).uniform(-5, 5, size=(4, 3))
    naive = np.exp(theta) / np.exp(theta).sum(axis=1, keepdims=True)  # no shift: fine for |θ| ≤ 5
    pi = r1.softmax(theta)
    np.testing.assert_allclose(pi, naive, rtol=1e-14, atol=0)
    np.testing.assert_allclose(pi.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(r1.log_softmax(theta), np.log(naive), rtol=0, atol=1e-14)


def test_softmax_large_logits_are_finite_and_normalised():
    theta = np.array(
        [
            [1e3, -1e3, 0.0],
            [-1e3, -1e3, -1e3],
            [1e3, 1e3 - 1.0, -1e3],
            [-1e3, 1e3, 1e3],
        ]
    )
    pi = r1.softmax(theta)
    assert np.all(np.isfinite(pi))
    assert np.all(np.isfinite(r1.log_softmax(theta)))
    np.testing.assert_allclose(pi.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(pi[0], [1.0, 0.0, 0.0], rtol=0, atol=1e-300)
    np.testing.assert_allclose(pi[1], [1 / 3] * 3, rtol=1e-15)
    e = math.exp(-1.0)
    np.testing.assert_allclose(pi[2], [1 / (1 + e), e / (1 + e), 0.0], rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(pi[3], [0.0, 0.5, 0.5], rtol=1e-15, atol=1e-300)
    # log π of an underflowed action is still the exact finite logit gap
    assert r1.log_softmax(theta)[0, 1] == pytest.approx(-2e3, rel=1e-15, abs=0)


def test_softmax_shift_invariance():
    theta = np.random.default_rng(7).normal(size=(3, 4))
    shift = np.array([[3.0], [-250.0], [700.0]])
    np.testing.assert_allclose(r1.softmax(theta + shift), r1.softmax(theta), rtol=1e-12, atol=0)


# ------------------------------------------------------------------------------------------------
# The advantage of the dominant action, without cancellation
# ------------------------------------------------------------------------------------------------
def test_dominant_action_advantage_is_accurate(ref):
    """For π(·|s) = (1 − ε, ε), A(s, 0) = ε (Q(s,0) − Q(s,1)): relative accuracy, not absolute."""
    mdp = ref.random_mdp(21, 2, 2, 0.9)
    eps = 1e-13
    pi = np.array([[1.0 - eps, eps], [0.5, 0.5]])
    ev = r1.evaluate(mdp, pi)
    # exact rational arithmetic on the engine's own Q, with π renormalised exactly
    q = [Fraction(float(x)) for x in ev.Q[0]]
    p = [Fraction(float(x)) for x in pi[0]]
    total = sum(p)
    p = [x / total for x in p]
    exact_A0 = q[0] - (p[0] * q[0] + p[1] * q[1])
    assert abs(float(exact_A0)) > 0
    assert float(ev.A[0, 0]) == pytest.approx(float(exact_A0), rel=1e-8, abs=0)  # approx has abs=1e-12 by default!


def test_optimal_reports_the_lowest_index_among_tied_actions() -> None:
    """Ties in Q* (issue #14): a*(s) is the lowest index among the actions within the tie tolerance of max_a Q*.

    State 0: action 0 loops (Q* = 0), action 1 (r = 0) leads to state 1 (r = 1 forever, V = 2 at γ = 1/2), action
    2 (r = 1) to state 2 (r = 0 forever): Q*(0, 1) = Q*(0, 2) = 1 exactly. Policy iteration starts from
    argmax_a r(0, a) = 2 and never strictly improves on it; the canonical report is action 1, with gap 0.
    """
    P = np.zeros((3, 3, 3))
    P[0, 0, 0] = P[0, 1, 1] = P[0, 2, 2] = 1.0
    P[1, :, 1] = P[2, :, 2] = 1.0
    r = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    opt = r1.optimal(r1.TabularMDP(P, r, 0.5, [1.0, 0.0, 0.0]))
    assert opt.Q[0, 1] == opt.Q[0, 2] == 1.0
    assert opt.actions.tolist() == [1, 0, 0]
    np.testing.assert_array_equal(opt.pi, np.eye(3)[[1, 0, 0]])
    assert opt.gap.tolist() == [0.0, 0.0, 0.0]
    assert opt.J == 1.0
