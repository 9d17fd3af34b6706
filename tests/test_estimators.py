"""Gradient estimators: unbiased within confidence bounds, a biased estimator is caught, exact moments.

The unbiasedness test is a Bonferroni z-test (:func:`r1theory.estimators.z_test`) at α = 1e-3 over the
S·A coordinates: a correct estimator is rejected with probability ≤ 1e-3 (normal approximation) at a
given seed; the seeds are fixed. The same test, with the same sample sizes, must reject deliberately
biased estimators (dropping the 1/(1 − γ) factor; undiscounted returns under a truncated horizon;
comparing a truncated estimator against the untruncated gradient).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import full_support_mdp as _mdp

import r1theory as r1
from r1theory import estimators as es
from r1theory.sampler import TabularSampler

ALPHA = 1e-3


MDP = _mdp()
THETA = np.random.default_rng(11).normal(size=(4, 3))


@pytest.mark.parametrize("estimator", ["one-sample", "reinforce", "gpomdp"])
@pytest.mark.parametrize("baseline", [None, "value", "fitted"])
def test_unbiased_under_geometric_termination(estimator: str, baseline: str | None) -> None:
    rng = np.random.default_rng(100 + len(estimator) + (0 if baseline is None else len(baseline)))
    mo = es.gradient_moments(
        MDP, THETA, estimator, batch=200, baseline=baseline, rng=rng, replicates=150, method="monte-carlo"
    )
    np.testing.assert_allclose(mo.exact_mean, r1.policy_gradient(MDP, THETA), atol=1e-15)
    test = es.z_test(mo, alpha=ALPHA)
    assert not test.rejected, (test.statistic, test.threshold)
    assert mo.cov_trace > 0


def test_dropping_the_one_over_one_minus_gamma_factor_is_caught() -> None:
    sampler = TabularSampler(MDP)
    p = r1.policy_point(MDP, THETA)
    g = p.gradient

    def biased(rng: np.random.Generator) -> np.ndarray:
        return (1.0 - MDP.gamma) * es.gradient_sample(sampler, p, "one-sample", 200, rng, baseline="value").gradient

    def correct(rng: np.random.Generator) -> np.ndarray:
        return es.gradient_sample(sampler, p, "one-sample", 200, rng, baseline="value").gradient

    ok = es.monte_carlo_moments(correct, np.random.default_rng(1), replicates=150, gradient=g, batch=200)
    bad = es.monte_carlo_moments(biased, np.random.default_rng(1), replicates=150, gradient=g, batch=200)
    assert not es.z_test(ok, alpha=ALPHA).rejected
    assert es.z_test(bad, alpha=ALPHA).rejected
    assert bad.bias_norm == pytest.approx(MDP.gamma * np.linalg.norm(g), rel=0.1)


def test_undiscounted_returns_under_truncation_are_caught() -> None:
    """GPOMDP with a truncated horizon must weight rewards by γᵗ; dropping the weights is biased."""
    H = 8
    sampler = TabularSampler(MDP)
    p = r1.policy_point(MDP, THETA)
    target = es.truncated_gradient(p, H)

    def gpomdp(rng: np.random.Generator, discounted: bool) -> np.ndarray:
        ep = sampler.episodes(p.pi, 200, rng, horizon=H)
        w = MDP.gamma ** ep.time.astype(float) if discounted else np.ones(ep.transitions)
        suffix, _ = es._suffix_sums(ep, w * ep.rewards)
        c = suffix - w * p.ev.V[ep.states]
        return es._scores_times(p.pi, ep.states, ep.actions, c, ep.episode, ep.n).mean(axis=0)

    ok = es.monte_carlo_moments(lambda r: gpomdp(r, True), np.random.default_rng(2), replicates=150, gradient=target)
    bad = es.monte_carlo_moments(lambda r: gpomdp(r, False), np.random.default_rng(2), replicates=150, gradient=target)
    assert not es.z_test(ok, alpha=ALPHA).rejected
    assert es.z_test(bad, alpha=ALPHA).rejected
    # the engine's own truncated GPOMDP is the discounted one
    mo = es.gradient_moments(
        MDP, THETA, "gpomdp", batch=200, baseline="value", horizon=H, rng=np.random.default_rng(3), replicates=150
    )
    assert not es.z_test(mo, target, alpha=ALPHA).rejected


def test_truncation_bias_is_exact_and_detected() -> None:
    """A short horizon: E ĝ = ∇J_H (exact), which the z-test distinguishes from ∇J."""
    H = 2
    mo = es.gradient_moments(
        MDP, THETA, "reinforce", batch=200, horizon=H, baseline="value", rng=np.random.default_rng(4), replicates=150
    )
    assert mo.exact_mean is not None
    assert not es.z_test(mo, mo.exact_mean, alpha=ALPHA).rejected
    assert es.z_test(mo, alpha=ALPHA).rejected  # against the untruncated ∇J


def test_truncated_gradient_matches_finite_differences_of_J_H() -> None:
    H = 5

    def J_H(theta: np.ndarray) -> float:
        pi = r1.softmax(theta)
        P_pi = MDP.transition_matrix(pi)
        r_pi = (pi * MDP.r).sum(axis=1)
        p, out = MDP.rho.copy(), 0.0
        for t in range(H):
            out += MDP.gamma**t * float(p @ r_pi)
            p = p @ P_pi
        return out

    h = 1e-6
    fd = np.zeros_like(THETA)
    for idx in np.ndindex(THETA.shape):
        e = np.zeros_like(THETA)
        e[idx] = h
        fd[idx] = (J_H(THETA + e) - J_H(THETA - e)) / (2 * h)
    np.testing.assert_allclose(es.expected_gradient(MDP, THETA, "gpomdp", horizon=H), fd, atol=1e-8)
    # and a long horizon converges to ∇J
    np.testing.assert_allclose(
        es.expected_gradient(MDP, THETA, "gpomdp", horizon=200), r1.policy_gradient(MDP, THETA), atol=1e-12
    )


@pytest.mark.parametrize("baseline", [None, "value"])
def test_exact_second_moment_of_the_one_sample_estimator(baseline: str | None) -> None:
    p = r1.policy_point(MDP, THETA)
    gs = es.gradient_sample(TabularSampler(MDP), p, "one-sample", 200_000, np.random.default_rng(5), baseline=baseline)
    sq = (gs.per_sample**2).sum(axis=(1, 2))
    exact = es.one_sample_second_moment(p, baseline)
    assert abs(sq.mean() - exact) <= 4.5 * sq.std() / np.sqrt(sq.size)
    # E[R̂² | s, a] against the per-(s, a) sample means
    R = gs.coef * (1 - MDP.gamma) + gs.b[gs.states]
    M = es.return_second_moment(p)
    for s, a in [(0, 0), (1, 2), (3, 1)]:
        sel = (gs.states == s) & (gs.actions == a)
        x = R[sel] ** 2
        assert abs(x.mean() - M[s, a]) <= 4.5 * x.std() / np.sqrt(x.size)


def test_exact_covariance_trace_within_the_monte_carlo_interval() -> None:
    ex = es.exact_moments(MDP, THETA, batch=50, baseline="value")
    mc = es.gradient_moments(
        MDP,
        THETA,
        "one-sample",
        batch=50,
        baseline="value",
        rng=np.random.default_rng(6),
        replicates=400,
        method="monte-carlo",
    )
    assert mc.cov_trace_ci is not None
    lo, hi = mc.cov_trace_ci
    width = hi - lo
    assert lo - width <= ex.cov_trace <= hi + width  # the CLT interval of a variance is approximate
    assert ex.bias_norm == 0.0
    assert es.gradient_moments(MDP, THETA, "one-sample", batch=50, baseline="value").method == "exact"


def test_value_baseline_reduces_variance_exactly() -> None:
    none = es.exact_moments(MDP, THETA, baseline=None)
    value = es.exact_moments(MDP, THETA, baseline="value")
    assert value.cov_trace < none.cov_trace


def test_reproducible_and_counts() -> None:
    a = r1.sample_gradient(MDP, THETA, "gpomdp", batch=30, rng=np.random.default_rng(9), baseline="fitted")
    b = r1.sample_gradient(MDP, THETA, "gpomdp", batch=30, rng=np.random.default_rng(9), baseline="fitted")
    np.testing.assert_array_equal(a.gradient, b.gradient)
    assert a.episodes == 60  # B for the gradient + B for the fitted baseline
    assert a.transitions > 0
    assert a.per_sample.shape == (30, 4, 3)
    c = r1.sample_gradient(MDP, THETA, "one-sample", batch=30, rng=np.random.default_rng(9))
    # one-sample: ĝ_i = c_i u_{s_i,a_i}
    pi = r1.softmax(THETA)
    for i in range(3):
        u = np.zeros((4, 3))
        u[c.states[i]] = -pi[c.states[i]]
        u[c.states[i], c.actions[i]] += 1
        np.testing.assert_allclose(c.per_sample[i], c.coef[i] * u, atol=1e-14)


def test_validation_names_the_field() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="batch"):
        r1.sample_gradient(MDP, THETA, batch=0, rng=rng)
    with pytest.raises(TypeError, match="batch"):
        r1.sample_gradient(MDP, THETA, batch=1.5, rng=rng)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="estimator"):
        r1.sample_gradient(MDP, THETA, "vanilla", batch=1, rng=rng)
    with pytest.raises(ValueError, match="baseline"):
        r1.sample_gradient(MDP, THETA, batch=1, rng=rng, baseline="critic")
    with pytest.raises(ValueError, match="horizon"):
        r1.sample_gradient(MDP, THETA, "one-sample", batch=1, rng=rng, horizon=5)
    with pytest.raises(ValueError, match="theta"):
        r1.sample_gradient(MDP, np.zeros((3, 3)), batch=1, rng=rng)
    with pytest.raises(TypeError, match="rng"):
        r1.sample_gradient(MDP, THETA, batch=1, rng=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exact"):
        es.gradient_moments(MDP, THETA, "gpomdp", method="exact")
    with pytest.raises(ValueError, match="fitted"):
        es.exact_moments(MDP, THETA, baseline="fitted")
