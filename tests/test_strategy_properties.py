"""Properties under their stated conditions: the public strategies, the classic bounds, the identities.

Part 1 checks that :mod:`tabular_mdps.strategies` honours its options (unique optimal actions with a
minimum gap, full-support ρ, γ near 1, bandits, near-deterministic logits, reward levels) and shrinks to
small, simple instances. Part 2 states every check's inequality as a property on the instances where its
conditions hold, with the tolerance next to it:

* Mei et al. 2020 Lemma 8 (Łojasiewicz) at random θ, unique optimal actions, ρ > 0, r ∈ [0, 1];
* the ascent inequality J(θ + ηg) − J(θ) ≥ η(1 − Lη/2)‖g‖², L = 8/(1−γ)³, for every η ≤ 1/L (Lemma 7),
  and L-Lipschitz gradients;
* the performance difference lemma, also with sparse rows, unreachable states, γ near 1 and
  near-deterministic policies;
* positive definite preconditioners give ⟨d, ∇J⟩ > 0 and a step at the certified size raises J;
* Agarwal et al. 2021 Theorem 5.3 from the uniform policy, Lemma 5.1 (NPG = multiplicative weights)
  and Lemma 5.2 (per-state improvement);
* Mei et al. 2020 Lemma 3 (bandit Łojasiewicz) and Theorem 4 with the running minimum c_t.

They run under the derandomised "ci" profile of ``conftest.py`` (50 examples each).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

import r1theory as r1
from proofs_checks import falsify as fz
from tabular_mdps.strategies import (
    PROFILES,
    SIMPLE_REWARDS,
    bandits,
    dampings,
    gammas,
    mdps,
    near_deterministic_thetas,
    profile_settings,
    register_profiles,
    steps,
    thetas,
)

EPS = float(np.finfo(np.float64).eps)
FIND = settings(database=None, max_examples=300, derandomize=True, phases=(Phase.generate, Phase.shrink))


def _logits(mdp):
    return st.one_of(thetas(mdp, max_abs=30.0), near_deterministic_thetas(mdp))


def _scales(mdp):
    H = 1.0 / (1.0 - mdp.gamma)
    return H, 1.0 + float(np.max(np.abs(mdp.r))) * H


# ------------------------------------------------------------------------------------------------
# Part 1: the strategies
# ------------------------------------------------------------------------------------------------
@given(mdps(max_states=4, max_actions=4, min_gap=0.05, full_support_rho=True, gamma_min=0.9))
def test_mdps_honour_min_gap_full_support_and_gamma_min(mdp):
    assert 0.9 <= mdp.gamma <= 0.999
    assert np.all(mdp.rho > 0.0)
    assert np.all((mdp.r >= 0.0) & (mdp.r <= 1.0))
    opt = r1.optimal(mdp)
    assert np.all(opt.gap >= 0.05)  # +inf when A = 1


@given(bandits(max_actions=5, min_gap=0.1))
def test_bandits_are_one_state_gamma_zero_with_a_unique_best_arm(mdp):
    assert (mdp.S, mdp.gamma) == (1, 0.0) and mdp.A >= 2
    assert np.array_equal(mdp.rho, [1.0]) and np.all(mdp.P == 1.0)
    r = np.sort(mdp.r[0])
    assert r[-1] - r[-2] >= 0.1


@given(mdps(max_states=3, max_actions=4, reward_values=SIMPLE_REWARDS), gammas(0.9, 0.95))
def test_reward_levels_and_gammas(mdp, gamma):
    assert set(np.unique(mdp.r)) <= set(SIMPLE_REWARDS)
    assert 0.9 <= gamma <= 0.95


@given(mdps(max_states=3, max_actions=4), st.data())
def test_near_deterministic_thetas_have_a_dominant_action(mdp, data):
    theta = data.draw(near_deterministic_thetas(mdp, min_margin=3.0, max_margin=20.0))
    pi = r1.softmax(theta)
    top = np.sort(theta, axis=1)
    if mdp.A > 1:
        margin = top[:, -1] - top[:, -2]
        assert np.all(margin >= 3.0)
        assert np.all(pi.max(axis=1) >= np.exp(margin) / (np.exp(margin) + mdp.A - 1) * (1 - 1e-12))


def test_strategies_shrink_to_small_simple_instances():
    m = find(mdps(), lambda m: True, settings=FIND)
    assert (m.S, m.A, m.gamma) == (1, 1, 0.0) and np.all(m.r == 0.0)
    m = find(mdps(), lambda m: m.S >= 3, settings=FIND)
    assert (m.S, m.A, m.gamma) == (3, 1, 0.0)
    m = find(mdps(min_gap=0.1), lambda m: m.A >= 2, settings=FIND)
    assert (m.S, m.A) == (1, 2) and m.r.min() == 0.0 and 0.1 <= m.r.max() <= 0.1 + 1e-5  # enforce_min_gap's target
    m = find(mdps(), lambda m: m.gamma > 0.95, settings=FIND)
    assert m.gamma == 0.99  # the first common value above 0.95
    b = find(bandits(), lambda m: True, settings=FIND)
    assert b.A == 2 and np.all(b.r == 0.0)
    mdp = r1.TabularMDP(np.ones((2, 3, 2)) / 2, np.zeros((2, 3)), 0.5, [0.5, 0.5])
    assert np.all(find(thetas(mdp), lambda t: True, settings=FIND) == 0.0)
    nd = find(near_deterministic_thetas(mdp), lambda t: True, settings=FIND)
    assert np.array_equal(nd, [[2.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    assert find(dampings(), lambda x: True, settings=FIND) == 1e-6
    assert find(steps(), lambda x: True, settings=FIND) == 1e-4


@pytest.mark.parametrize(
    "make",
    [
        lambda: mdps(min_gap=0.1, reward_max=2.0),
        lambda: mdps(min_gap=1.5),
        lambda: mdps(gamma_min=0.5, gamma_max=0.4),
        lambda: mdps(gamma_min=-0.1),
        lambda: mdps(reward_values=[]),
        lambda: mdps(reward_values=[0.0, float("nan")]),
        lambda: bandits(reward_values=[0.0, 2.0]),
        lambda: gammas(0.0, 1.0),
        lambda: near_deterministic_thetas(r1.TabularMDP(np.ones((1, 2, 1)), [[0, 1]], 0, [1]), 5.0, 2.0),
        lambda: profile_settings("nightly"),
    ],
)
def test_strategy_options_are_validated(make):
    with pytest.raises(ValueError):
        make()


def test_profiles_match_the_test_suite():
    assert profile_settings("ci").derandomize and profile_settings("ci").max_examples == 50
    assert not profile_settings("long").derandomize and profile_settings("long").max_examples == 2000
    register_profiles()  # same values as tests/conftest.py registers
    for name in PROFILES:
        assert settings.get_profile(name).max_examples == profile_settings(name).max_examples
        assert settings.get_profile(name).derandomize == profile_settings(name).derandomize


# ------------------------------------------------------------------------------------------------
# Part 2: the classic bounds and identities under their conditions
# ------------------------------------------------------------------------------------------------
@given(mdps(max_states=4, max_actions=4, min_gap=0.01, full_support_rho=True), st.data())
def test_mei2020_lemma8_lojasiewicz_at_random_theta(mdp, data):
    """‖∇J‖ ≥ (1/√S)‖d*/d_θ‖∞⁻¹ min_s π(a*(s)|s)(V*(ρ) − J(θ)) (violation only beyond τ_V in the gap)."""
    theta = data.draw(_logits(mdp))
    m = fz.measure_lojasiewicz(fz.Candidate(mdp, theta), "pg")
    assert m.applicable, m.reason
    assert not m.violated, m.reason
    t = m.details
    assert t["lhs"] >= t["coef"] * (t["gap"] - fz.value_tolerance(mdp)) * (1 - 1e-9)


@given(mdps(max_states=4, max_actions=4), st.data())
def test_ascent_inequality_for_every_step_up_to_one_over_L(mdp, data):
    """J(θ + ηg) − J(θ) ≥ η(1 − Lη/2)‖g‖² − τ_V for 0 < η ≤ 1/L, L = 8/(1−γ)³, r ∈ [0, 1]."""
    theta = data.draw(_logits(mdp))
    L = 8.0 / (1.0 - mdp.gamma) ** 3
    eta = data.draw(st.floats(1e-3, 1.0)) / L
    m = fz.measure_smooth_ascent(fz.Candidate(mdp, theta, None, eta), "pg")
    assert m.applicable and not m.violated, m.reason


@given(mdps(max_states=4, max_actions=4), st.data())
def test_gradient_is_L_lipschitz(mdp, data):
    """‖∇J(θ') − ∇J(θ)‖ ≤ L‖θ' − θ‖ (Mei et al. 2020, Lemma 7), rounding allowance 1e3·ε·H·Vs."""
    theta = data.draw(_logits(mdp))
    delta = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).normal(size=theta.shape)
    delta *= data.draw(st.sampled_from([1e-3, 1e-1, 1.0, 10.0])) / np.linalg.norm(delta)
    L = 8.0 / (1.0 - mdp.gamma) ** 3
    H, Vs = _scales(mdp)
    diff = np.linalg.norm(r1.policy_gradient(mdp, theta + delta) - r1.policy_gradient(mdp, theta))
    assert diff <= L * np.linalg.norm(delta) + 1e3 * EPS * H * Vs


@given(mdps(max_states=5, max_actions=4, gamma_min=0.9), st.data())
def test_performance_difference_lemma_near_deterministic_and_gamma_near_one(mdp, data):
    """J(π') − J(π) = H Σ_s d^{π'}(s) Σ_a π'(a|s) A^π(s, a), sparse rows, unreachable states allowed."""
    pi = r1.softmax(data.draw(_logits(mdp)))
    pi2 = r1.softmax(data.draw(_logits(mdp)))
    ev, ev2 = r1.evaluate(mdp, pi), r1.evaluate(mdp, pi2)
    H, Vs = _scales(mdp)
    rhs = H * float(np.sum(ev2.d[:, None] * pi2 * ev.A))
    assert abs((ev2.J - ev.J) - rhs) <= 100 * EPS * H * H * Vs  # κ ≤ 2H on each solve, times H


@given(st.sampled_from(["pg", "npg", "npg-damped", "r1-eigen", "r1-grad", "r1-precond"]), st.data())
def test_positive_definite_preconditioners_ascend(method, data):
    """⟨d, ∇J⟩ ≥ 0 (cos > −1e-6) and J(θ + ηd) ≥ J(θ) − τ_V at the certified step (falsify's ``ascent``).

    Candidates are those of ``r1theory falsify ascent``: generic MDPs and the stress regime (dominant
    action, λ ≤ 1e-3, reward near-ties) where V2 fails.
    """
    cand = data.draw(fz.FALSIFIABLE["ascent.stated-step"].candidates(method))
    m = fz.measure_ascent(cand, method)
    assert not m.violated, m.reason
    if method in ("npg-damped", "r1-grad", "r1-precond", "r1-eigen") and m.details["gradient_norm"] > 1e-100:
        # 0 ≺ M ⪯ I/λ gives cos(Mg, g) ≥ λ_min(M)/λ_max(M) ≥ λ/(λ + max(2, ‖g‖²))
        lam, gn = cand.damping, m.details["gradient_norm"]
        assert m.details["cosine"] >= lam / (lam + max(2.0, gn * gn)) * (1 - 1e-6)


@given(st.data())
def test_agarwal2021_theorem53_from_uniform(data):
    """V*(ρ) − V^(t)(ρ) ≤ log|A|/(ηt) + 1/((1−γ)²t), t = 1..T, NPG from θ = 0, any η > 0."""
    cand = data.draw(fz.FALSIFIABLE["agarwal2021.npg-rate"].candidates("npg"))
    m = fz.measure_npg_rate(cand, "npg")
    assert m.applicable and not m.violated, m.reason


@given(mdps(max_states=4, max_actions=4), st.data())
def test_agarwal2021_lemma51_and_52_one_npg_step(mdp, data):
    """π_{t+1} ∝ π_t exp(ηA/(1−γ)) at reachable states (Lemma 5.1); V_{t+1}(s) − V_t(s) ≥ ((1−γ)/η) log Z_t(s)
    ≥ 0 there and V_{t+1} ≥ V_t at every state (Lemma 5.2 with a Dirac start)."""
    theta = data.draw(thetas(mdp, max_abs=10.0))
    eta = data.draw(steps(1e-2, 1e2))
    p = r1.policy_point(mdp, theta)
    new = r1.policy_point(mdp, theta + eta * r1.direction("npg", mdp, theta))
    H, Vs = _scales(mdp)
    tol = 1e3 * EPS * H * Vs
    reach = p.ev.d > 0
    logits = p.log_pi + eta * p.ev.A * H
    mw = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    np.testing.assert_allclose(new.pi[reach], mw[reach], rtol=1e-9, atol=1e-12)
    logZ = logsumexp(logits, axis=1)
    inc = new.ev.V - p.ev.V
    assert np.all(inc >= -tol)
    assert np.all(inc[reach] >= (logZ[reach] / (eta * H)) - tol)
    # log Z_t(s) = log E_π exp(ηÂ) ≥ ηE_π[Â] = 0 (Jensen); computed, Â carries the value rounding tol, so
    # log Z can dip to −η·H·tol (γ = 0.999 with equal rewards: Â ≈ 1e-13 and ηH·Â ≈ −1.1e-12).
    assert np.all(logZ[reach] >= -eta * H * tol - 1e-15)


@given(bandits(max_actions=5, min_gap=0.01), st.data())
def test_mei2020_lemma3_bandit_lojasiewicz(mdp, data):
    """‖d(πᵀr)/dθ‖ ≥ π(a*)(r(a*) − πᵀr) for a bandit with a unique best arm a*."""
    theta = data.draw(_logits(mdp))
    pi = r1.softmax(theta)[0]
    r = mdp.r[0]
    a_star = int(np.argmax(r))
    grad = r1.policy_gradient(mdp, theta)
    assert np.linalg.norm(grad) >= pi[a_star] * (r[a_star] - pi @ r) * (1 - 1e-9) - 10 * EPS


@given(mdps(max_states=3, max_actions=3, min_gap=0.05, full_support_rho=True), st.data())
def test_mei2020_theorem4_with_running_min(mdp, data):
    """V*(ρ) − V^{π_t}(ρ) ≤ 16S/(c_t²(1−γ)⁶ t)·‖d_ρ^{π*}/ρ‖²∞·‖1/ρ‖∞ along PG at η = (1−γ)³/8, μ = ρ.

    c_t = min_{1≤k≤t} min_s π_k(a*(s)|s) (running minimum); t = iterate index + 1 (Mei's θ_1 is the start).
    """
    theta = data.draw(thetas(mdp, max_abs=5.0))
    opt = r1.optimal(mdp)
    run = r1.iterate(mdp, theta, "pg", r1.steps.mei2020(mdp.gamma), 20, optimum=opt)
    d_star = r1.evaluate(mdp, opt.pi).d
    coef = 16 * mdp.S * np.max(d_star / mdp.rho) ** 2 * np.max(1.0 / mdp.rho) / (1.0 - mdp.gamma) ** 6
    c = np.minimum.accumulate(run.min_pi_opt)
    t = np.arange(1, run.gap.size + 1)
    assert np.all(run.gap <= coef / (c**2 * t) + 1e3 * EPS * _scales(mdp)[1])


@pytest.mark.parametrize(
    "name", [n for n in fz.FALSIFIABLE if n != "c1.tuned-progress"]
)  # c1 tunes steps: test_falsify.py
def test_falsify_candidates_meet_their_claims_conditions(name):
    claim = fz.FALSIFIABLE[name]

    @settings(max_examples=20, database=None)
    @given(claim.candidates(claim.default_method))
    def check(c):
        m = claim.measure(c, claim.default_method)
        assert m.applicable, m.reason

    check()
