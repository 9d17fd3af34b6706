"""Stochastic methods: V4 exact expectations vs Monte Carlo, dense references, runs and their bookkeeping.

Monte-Carlo comparisons are Bonferroni z-tests at α = 1e-3 over the S·A coordinates (false alarm ≤ 1e-3
at a fixed seed, normal approximation).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest
from conftest import full_support_mdp as _mdp

import r1theory as r1
from r1theory import stochastic as st
from r1theory.estimators import gradient_sample
from r1theory.sampler import TabularSampler

Z = NormalDist().inv_cdf(1 - 1e-3 / (2 * 12))


MDP = _mdp()
THETA = 2.0 * np.random.default_rng(3).normal(size=(4, 3))  # a non-uniform policy: the forms differ
LAM = 0.1


def _score(pi: np.ndarray, s: int, a: int) -> np.ndarray:
    u = np.zeros_like(pi)
    u[s] = -pi[s]
    u[s, a] += 1.0
    return u.ravel()


@pytest.mark.parametrize(
    ("fisher", "batch", "baseline"),
    [
        ("same", 1, None),
        ("same", 1, "value"),
        ("same", 3, "value"),
        ("independent", 1, None),
        ("independent", 3, "value"),
    ],
)
def test_exact_expected_update_matches_monte_carlo(fisher: str, batch: int, baseline: str | None) -> None:
    exact = st.r1_sample_expectation(MDP, THETA, LAM, fisher, batch=batch, baseline=baseline)
    mc = st.r1_sample_monte_carlo(
        MDP, THETA, LAM, fisher, draws=60_000, rng=np.random.default_rng(7 + batch), batch=batch, baseline=baseline
    )
    z = np.abs(mc.mean - exact) / mc.se
    assert z.max() <= Z, z


def test_same_sample_bias_is_real_and_order_one_over_B() -> None:
    """The MC of the same form rejects the independent form's expectation (the bias is detectable)."""
    indep = st.r1_sample_expectation(MDP, THETA, LAM, "independent")
    same = st.r1_sample_expectation(MDP, THETA, LAM, "same", baseline="value")
    mc = st.r1_sample_monte_carlo(MDP, THETA, LAM, "same", draws=60_000, rng=np.random.default_rng(1), baseline="value")
    assert (np.abs(mc.mean - indep) / mc.se).max() > Z
    same4 = st.r1_sample_expectation(MDP, THETA, LAM, "same", batch=4, baseline="value")
    np.testing.assert_allclose(same4 - indep, (same - indep) / 4, atol=1e-14)


def test_exact_expectations_are_the_deterministic_variants() -> None:
    p = r1.policy_point(MDP, THETA)
    np.testing.assert_allclose(
        st.r1_sample_expectation(MDP, THETA, LAM, "independent"), r1.direction_at(p, "r1-precond", LAM), atol=1e-14
    )
    np.testing.assert_allclose(
        st.r1_sample_expectation(MDP, THETA, LAM, "same", baseline="value"),
        r1.direction_at(p, "r1-same", LAM),
        atol=1e-14,
    )


def test_same_sample_term_against_enumeration_with_dense_inverses() -> None:
    p = r1.policy_point(MDP, THETA)
    b = np.array([0.3, -1.0, 2.0, 0.5])
    ref = np.zeros(12)
    for s in range(4):
        for a in range(3):
            u = _score(p.pi, s, a)
            inv = np.linalg.inv(LAM * np.eye(12) + np.outer(u, u))
            ref += p.ev.d[s] * p.pi[s, a] * inv @ u * (p.ev.Q[s, a] - b[s]) / (1 - MDP.gamma)
    np.testing.assert_allclose(st.same_sample_term(p, LAM, b).ravel(), ref, atol=1e-12)


def test_baseline_sensitivity_is_the_derivative_and_vanishes_for_pg() -> None:
    sens = st.r1_same_baseline_sensitivity(MDP, THETA, LAM, batch=2)
    b = np.array([0.1, 0.2, -0.3, 0.4])
    base = st.r1_sample_expectation(MDP, THETA, LAM, "same", batch=2, baseline=b)
    for s in range(4):
        bb = b.copy()
        bb[s] += 1.0
        moved = st.r1_sample_expectation(MDP, THETA, LAM, "same", batch=2, baseline=bb)
        expect = np.zeros((4, 3))
        expect[s] = sens[s]
        np.testing.assert_allclose(moved - base, expect, atol=1e-13)
    assert np.linalg.norm(sens) > 1e-3
    assert np.max(np.abs(st.pg_baseline_sensitivity(MDP, THETA))) < 1e-15
    # the independent form does not depend on the baseline
    np.testing.assert_allclose(
        st.r1_sample_expectation(MDP, THETA, LAM, "independent", baseline=None),
        st.r1_sample_expectation(MDP, THETA, LAM, "independent", baseline="value"),
    )


def test_sampled_fisher_solve_against_dense() -> None:
    pi = r1.softmax(THETA)
    rng = np.random.default_rng(2)
    s = rng.integers(0, 4, 40)
    a = rng.integers(0, 3, 40)
    v = rng.normal(size=(4, 3))
    F = sum(np.outer(_score(pi, si, ai), _score(pi, si, ai)) for si, ai in zip(s, a, strict=True)) / 40
    ref = np.linalg.solve(F + LAM * np.eye(12), v.ravel())
    np.testing.assert_allclose(st.sampled_fisher_solve(pi, s, a, v, LAM).ravel(), ref, atol=1e-12)


@pytest.mark.parametrize("method", ["r1-sample-same", "r1-sample-independent", "npg-sample", "sgd-pg"])
def test_stochastic_direction_against_a_dense_replay(method: str) -> None:
    p = r1.policy_point(MDP, THETA)
    sampler = TabularSampler(MDP)
    lam = None if method == "sgd-pg" else LAM
    out = st.stochastic_direction(method, sampler, p, np.random.default_rng(5), batch=8, baseline="value", damping=lam)
    rng = np.random.default_rng(5)  # replay the same draws
    gs = gradient_sample(sampler, p, "one-sample", 8, rng, baseline="value")
    g = gs.gradient
    np.testing.assert_allclose(out.gradient, g)
    if method == "sgd-pg":
        np.testing.assert_allclose(out.direction, g)
        assert (out.transitions, out.episodes) == (gs.transitions, 8)
        return
    if method == "npg-sample":
        pairs = sampler.state_actions(p.pi, 8, rng)
        F = (
            sum(
                np.outer(_score(p.pi, s, a), _score(p.pi, s, a))
                for s, a in zip(pairs.states, pairs.actions, strict=True)
            )
            / 8
        )
        ref = np.linalg.solve(F + LAM * np.eye(12), g.ravel())
        assert out.episodes == 16
    else:
        if method == "r1-sample-same":
            s, a = int(gs.states[0]), int(gs.actions[0])
            assert out.episodes == 8
        else:
            pair = sampler.state_actions(p.pi, 1, rng)
            s, a = int(pair.states[0]), int(pair.actions[0])
            assert out.episodes == 9
        u = _score(p.pi, s, a)
        ref = np.linalg.solve(LAM * np.eye(12) + np.outer(u, u), g.ravel())
    np.testing.assert_allclose(out.direction.ravel(), ref, rtol=1e-10, atol=1e-12)


def test_runs_are_reproducible_and_record_exact_quantities() -> None:
    kw = {"batch": 20, "baseline": "value", "damping": 1.0, "estimator": "gpomdp"}
    a = st.stochastic_iterate(MDP, np.zeros((4, 3)), "r1-sample-independent", 0.3, 30, np.random.default_rng(1), **kw)
    b = st.stochastic_iterate(MDP, np.zeros((4, 3)), "r1-sample-independent", 0.3, 30, np.random.default_rng(1), **kw)
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.transitions, b.transitions)
    assert a.status == "max_iterations" and a.iterations == 30
    np.testing.assert_array_equal(a.t, np.arange(31))
    np.testing.assert_array_equal(a.episodes, np.arange(31) * 21)  # B per gradient + 1 Fisher pair
    assert np.all(np.diff(a.transitions) > 0)
    g = r1.policy_gradient(MDP, a.theta)
    assert a.grad_norm_sq[-1] == pytest.approx(float(np.vdot(g, g)), rel=1e-12)
    assert a.gap[-1] == pytest.approx(r1.optimal(MDP).J - r1.evaluate(MDP, r1.softmax(a.theta)).J, abs=1e-13)
    thin = st.stochastic_iterate(
        MDP, np.zeros((4, 3)), "r1-sample-independent", 0.3, 30, np.random.default_rng(1), record_every=7, **kw
    )
    np.testing.assert_array_equal(thin.t, [0, 7, 14, 21, 28, 30])
    np.testing.assert_array_equal(thin.theta, a.theta)


def test_sgd_with_a_large_batch_tracks_exact_pg() -> None:
    run = st.stochastic_iterate(
        MDP,
        np.zeros((4, 3)),
        "sgd-pg",
        0.5,
        20,
        np.random.default_rng(0),
        batch=4000,
        baseline="value",
        estimator="gpomdp",
    )
    exact = r1.iterate(MDP, np.zeros((4, 3)), "pg", 0.5, 20)
    np.testing.assert_allclose(run.J, exact.J, atol=0.02)
    assert run.gap[-1] < 0.5 * run.gap[0]


def test_divergence_is_reported() -> None:
    run = st.stochastic_iterate(MDP, np.zeros((4, 3)), "sgd-pg", 1e308, 5, np.random.default_rng(0), batch=5)
    assert run.status == "diverged"
    assert np.all(np.isfinite(run.theta))


def test_validation_names_the_field() -> None:
    rng = np.random.default_rng(0)
    th = np.zeros((4, 3))
    with pytest.raises(ValueError, match="unknown stochastic method"):
        st.stochastic_iterate(MDP, th, "adam", 0.1, 1, rng)
    with pytest.raises(ValueError, match="damping"):
        st.stochastic_iterate(MDP, th, "r1-sample-same", 0.1, 1, rng)
    with pytest.raises(ValueError, match="undamped"):
        st.stochastic_iterate(MDP, th, "sgd-pg", 0.1, 1, rng, damping=1.0)
    with pytest.raises(ValueError, match="batch"):
        st.stochastic_iterate(MDP, th, "sgd-pg", 0.1, 1, rng, batch=0)
    with pytest.raises(ValueError, match="geometric"):
        st.stochastic_iterate(MDP, th, "r1-sample-same", 0.1, 1, rng, damping=1.0, estimator="gpomdp", horizon=5)
    with pytest.raises(ValueError, match="fisher"):
        st.r1_sample_expectation(MDP, th, 1.0, "shared")
    with pytest.raises(ValueError, match="fitted"):
        st.r1_sample_expectation(MDP, th, 1.0, "same", baseline="fitted")
    with pytest.raises(TypeError, match="rng"):
        st.stochastic_iterate(MDP, th, "sgd-pg", 0.1, 1, 0)  # type: ignore[arg-type]
