"""Classic-theory checks: each holds on a proper instance, can say fails / inconclusive, and its runs are exact.

Three kinds of tests, per check module:

1. on an instance that meets the conditions, the verdict is ``holds``;
2. "no check may be able to say only holds": with a deliberately wrong constant or a corrupted
   ingredient the verdict is ``fails``; with a violated condition it is ``inconclusive``;
3. the PG and NPG iterates behind the checks agree with an independent step-by-step numpy
   implementation (dense solves, gradient d π A/(1−γ), NPG as Agarwal et al.'s Lemma 5.1
   multiplicative weights), compared in policy space.

MDPs are built directly here (not from the catalog) except in the end-to-end tests of ``check``.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import r1theory as r1
from proofs_checks import (
    agarwal2021_npg_rate,
    claims,
    mei2020_bandit,
    mei2020_lojasiewicz,
    mei2020_rate,
    mei2020_smoothness,
    pdl,
)
from proofs_checks._classic import standing
from proofs_checks.context import Context
from proofs_checks.sweep import Sweep
from r1theory import trajectory

# ---------------------------------------------------------------------------------------------
# Instances built directly
# ---------------------------------------------------------------------------------------------


def random_mdp(seed: int, S: int, A: int, gamma: float, *, reward_scale: float = 1.0, rho: Any = None) -> r1.TabularMDP:
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S)) + 0.05
    P /= P.sum(axis=-1, keepdims=True)
    r = reward_scale * rng.random((S, A))
    start = np.full(S, 1.0 / S) if rho is None else np.asarray(rho, dtype=float)
    return r1.TabularMDP(P, r, gamma, start)


def bandit(r: list[float]) -> r1.TabularMDP:
    A = len(r)
    return r1.TabularMDP(np.ones((1, A, 1)), np.array([r]), 0.0, np.ones(1))


def conditions_of(mdp: r1.TabularMDP, theta0: np.ndarray | None = None) -> dict[str, Any]:
    theta = np.zeros((mdp.S, mdp.A)) if theta0 is None else theta0
    return standing(mdp, r1.optimal(mdp), theta)


@pytest.fixture(scope="module")
def mdp() -> r1.TabularMDP:
    return random_mdp(0, 4, 3, 0.9)


# ---------------------------------------------------------------------------------------------
# Independent reference: plain numpy PG and NPG, step by step
# ---------------------------------------------------------------------------------------------


def ref_softmax(theta: np.ndarray) -> np.ndarray:
    z = np.exp(theta - theta.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def ref_evaluate(m: r1.TabularMDP, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(V, A, d) by dense solves: V = (I − γP_π)⁻¹ r_π, A = r + γPV − V, d = (1−γ)(I − γP_π)^{-T} ρ."""
    P_pi = np.einsum("sa,sat->st", pi, m.P)
    r_pi = np.einsum("sa,sa->s", pi, m.r)
    M = np.eye(m.S) - m.gamma * P_pi
    V = np.linalg.solve(M, r_pi)
    Q = m.r + m.gamma * np.einsum("sat,t->sa", m.P, V)
    d = (1.0 - m.gamma) * np.linalg.solve(M.T, m.rho)
    return V, Q - V[:, None], d


def ref_pg(m: r1.TabularMDP, theta0: np.ndarray, eta: float, steps: int) -> tuple[list[float], list[np.ndarray]]:
    """θ ← θ + η d(s)π(a|s)A(s,a)/(1−γ); returns the J and policy histories (steps + 1 entries)."""
    theta = theta0.copy()
    J, pis = [], []
    for k in range(steps + 1):
        pi = ref_softmax(theta)
        V, A, d = ref_evaluate(m, pi)
        J.append(float(m.rho @ V))
        pis.append(pi)
        if k == steps:
            break
        theta = theta + eta * d[:, None] * pi * A / (1.0 - m.gamma)
    return J, pis


def ref_npg(m: r1.TabularMDP, pi0: np.ndarray, eta: float, steps: int) -> tuple[list[float], list[np.ndarray]]:
    """Agarwal et al. 2021 Lemma 5.1: π ← π·exp(ηA/(1−γ))/Z, in policy space; J and policy histories."""
    pi = pi0.copy()
    J, pis = [], []
    for k in range(steps + 1):
        V, A, _ = ref_evaluate(m, pi)
        J.append(float(m.rho @ V))
        pis.append(pi)
        if k == steps:
            break
        w = pi * np.exp(eta * A / (1.0 - m.gamma))
        pi = w / w.sum(axis=1, keepdims=True)
    return J, pis


@pytest.mark.parametrize("gamma", [0.5, 0.9])
def test_pg_matches_independent_implementation(gamma: float) -> None:
    m = random_mdp(3, 4, 3, gamma)
    theta0 = np.random.default_rng(7).normal(size=(4, 3))
    eta = 0.5
    J_ref, pi_ref = ref_pg(m, theta0, eta, 50)
    run = r1.iterate(m, theta0, "pg", eta, 50)
    np.testing.assert_allclose(run.J, J_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r1.softmax(run.theta), pi_ref[-1], rtol=0, atol=1e-10)
    pts = list(trajectory(m, theta0, "pg", eta, 50))
    assert len(pts) == 51
    for p, J, pi in zip(pts, J_ref, pi_ref, strict=True):
        assert abs(p.ev.J - J) <= 1e-10
        np.testing.assert_allclose(p.pi, pi, rtol=0, atol=1e-10)


@pytest.mark.parametrize("eta", [0.1, 1.0, 10.0])
def test_npg_matches_multiplicative_weights(eta: float) -> None:
    m = random_mdp(4, 5, 3, 0.9)
    theta0 = np.random.default_rng(8).normal(size=(5, 3))
    J_ref, pi_ref = ref_npg(m, ref_softmax(theta0), eta, 50)
    run = r1.iterate(m, theta0, "npg", eta, 50)
    n = len(run.J)  # the run may stop early once converged (gap <= 0)
    np.testing.assert_allclose(run.J, J_ref[:n], rtol=0, atol=1e-10)
    np.testing.assert_allclose(r1.softmax(run.theta), pi_ref[n - 1], rtol=0, atol=1e-10)
    pts = list(trajectory(m, theta0, "npg", eta, 50))
    assert len(pts) == 51
    for p, J, pi in zip(pts, J_ref, pi_ref, strict=True):
        assert abs(p.ev.J - J) <= 1e-10
        np.testing.assert_allclose(p.pi, pi, rtol=0, atol=1e-10)


def test_bandit_pg_is_mei_update_1() -> None:
    """Update 1 of Mei et al.: θ(a) ← θ(a) + η π(a)(r(a) − πᵀr), η = 2/5."""
    r = np.array([1.0, 0.9, 0.1])
    theta = np.log(np.array([[0.01, 0.05, 0.94]]))
    run = r1.iterate(bandit(list(r)), theta, "pg", r1.steps.mei2020(0.0, bandit=True), 50)
    for _ in range(50):
        pi = ref_softmax(theta)[0]
        theta = theta + 0.4 * pi * (r - pi @ r)
    np.testing.assert_allclose(r1.softmax(run.theta), ref_softmax(theta), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# PDL
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["pg", "npg"])
def test_pdl_holds(mdp: r1.TabularMDP, method: str) -> None:
    res = pdl.assess(pdl.measure(mdp, np.zeros((4, 3)), method, 1.0, 50), conditions_of(mdp), variant=method)
    assert res.verdict == "holds", res
    assert res.measured["max_error"] <= pdl.TOLERANCE


@pytest.mark.parametrize("corrupt", ["current_d", "unnormalised_d"])
def test_pdl_corrupted_occupancy_fails(mdp: r1.TabularMDP, corrupt: str) -> None:
    pts = list(trajectory(mdp, np.zeros((4, 3)), "npg", 1.0, 20))
    lhs, rhs = [], []
    for prev, new in itertools.pairwise(pts):
        d = prev.ev.d if corrupt == "current_d" else new.ev.d / (1.0 - mdp.gamma)
        a, b = pdl.pdl_sides(prev, new, d=d)
        lhs.append(a)
        rhs.append(b)
    meas = {"lhs": np.array(lhs), "rhs": np.array(rhs), "tau": 1e-4 * 11.0}
    res = pdl.assess(meas, conditions_of(mdp), variant="npg")
    assert res.verdict == "fails"
    assert res.evidence["first_violation_step"] == 0


def test_pdl_nothing_measured_is_inconclusive(mdp: r1.TabularMDP) -> None:
    res = pdl.assess(pdl.measure(mdp, np.zeros((4, 3)), "pg", 1.0, 0), conditions_of(mdp))
    assert res.verdict == "inconclusive"


# ---------------------------------------------------------------------------------------------
# Mei et al. 2020, Lemma 7 and the ascent inequality
# ---------------------------------------------------------------------------------------------


def _smooth(m: r1.TabularMDP, L: float, iterations: int = 40) -> dict[str, Any]:
    meas = mei2020_smoothness.measure(
        m, np.zeros((m.S, m.A)), 1.0 / L, iterations, probe_every=20, directions=2, random_points=3, sigma=2.0, seed=0
    )
    meas["J_star"] = r1.optimal(m).J
    meas["eta"] = 1.0 / L
    return meas


def test_smoothness_and_ascent_hold(mdp: r1.TabularMDP) -> None:
    L = mei2020_smoothness.smoothness_constant(mdp.gamma)
    assert L == pytest.approx(8.0 / 0.1**3)
    meas = _smooth(mdp, L)
    cond = conditions_of(mdp)
    s = mei2020_smoothness.assess_smoothness(meas, cond, L=L)
    a = mei2020_smoothness.assess_ascent(meas, cond, L=L)
    assert s.verdict == "holds" and s.measured["max_ratio_to_L"] < 1e-2
    assert a.verdict == "holds" and a.measured["min_ratio_rise_to_rhs"] > 1.0


def test_smoothness_wrong_constant_fails(mdp: r1.TabularMDP) -> None:
    L = mei2020_smoothness.smoothness_constant(mdp.gamma)
    meas = _smooth(mdp, L)
    res = mei2020_smoothness.assess_smoothness(meas, conditions_of(mdp), L=L / 1e6)
    assert res.verdict == "fails"
    assert res.measured["max_ratio_to_L"] > 1.0


def test_ascent_at_a_step_for_a_wrong_constant_fails(mdp: r1.TabularMDP) -> None:
    """Running at η = 1/L' with L' = L/1e6 (and asserting the inequality with L') overshoots."""
    Lw = mei2020_smoothness.smoothness_constant(mdp.gamma) / 1e6
    res = mei2020_smoothness.assess_ascent(_smooth(mdp, Lw, iterations=10), conditions_of(mdp), L=Lw)
    assert res.verdict == "fails"
    assert "first_violating_step" in res.evidence


def test_smoothness_rewards_outside_unit_interval_inconclusive() -> None:
    m = random_mdp(0, 4, 3, 0.9, reward_scale=3.0)
    L = mei2020_smoothness.smoothness_constant(m.gamma)
    meas = _smooth(m, L, iterations=5)
    assert mei2020_smoothness.assess_smoothness(meas, conditions_of(m), L=L).verdict == "inconclusive"
    assert mei2020_smoothness.assess_ascent(meas, conditions_of(m), L=L).verdict == "inconclusive"


def test_ascent_with_a_step_other_than_one_over_L_inconclusive(mdp: r1.TabularMDP) -> None:
    L = mei2020_smoothness.smoothness_constant(mdp.gamma)
    meas = _smooth(mdp, L, iterations=5)
    meas["eta"] = 2.0 / L
    assert mei2020_smoothness.assess_ascent(meas, conditions_of(mdp), L=L).verdict == "inconclusive"


# ---------------------------------------------------------------------------------------------
# Mei et al. 2020, Lemma 8
# ---------------------------------------------------------------------------------------------


def _loja(m: r1.TabularMDP, theta0: np.ndarray | None = None) -> dict[str, Any]:
    th = np.zeros((m.S, m.A)) if theta0 is None else theta0
    return mei2020_lojasiewicz.measure(
        m, r1.optimal(m), th, [((1 - m.gamma) ** 3 / 8, 30), (1.0, 100)], random_points=20, sigma=3.0, seed=0
    )


def test_lojasiewicz_holds(mdp: r1.TabularMDP) -> None:
    res = mei2020_lojasiewicz.assess(_loja(mdp), conditions_of(mdp))
    assert res.verdict == "holds"
    assert res.measured["min_ratio"] >= 1.0


def test_lojasiewicz_by_hand_in_a_bandit() -> None:
    """S = 1, γ = 0: ‖π⊙(r − πᵀr)‖ against π(a*)·δ (Mei Lemma 3), computed without the module."""
    m = bandit([1.0, 0.9, 0.1])
    opt = r1.optimal(m)
    theta = np.log(np.array([[0.2, 0.5, 0.3]]))
    terms = mei2020_lojasiewicz.lojasiewicz_terms(r1.policy_point(m, theta), opt, np.ones(1))
    pi = np.array([0.2, 0.5, 0.3])
    r = np.array([1.0, 0.9, 0.1])
    assert terms["lhs"] == pytest.approx(np.linalg.norm(pi * (r - pi @ r)), rel=1e-12)
    assert terms["coef"] * terms["gap"] == pytest.approx(0.2 * (1.0 - pi @ r), rel=1e-12)


def test_lojasiewicz_inflated_rhs_fails(mdp: r1.TabularMDP) -> None:
    res = mei2020_lojasiewicz.assess(_loja(mdp), conditions_of(mdp), rhs_factor=1e3)
    assert res.verdict == "fails"
    assert "first_violation" in res.evidence


def test_lojasiewicz_ties_inconclusive() -> None:
    m = bandit([1.0, 1.0, 0.0])
    theta0 = np.array([[0.0, 1.0, 0.0]])
    res = mei2020_lojasiewicz.assess(_loja(m, theta0), conditions_of(m, theta0))
    assert res.verdict == "inconclusive"
    assert any("unique optimal" in r for r in res.evidence["reasons"])


def test_lojasiewicz_rho_not_full_support_inconclusive() -> None:
    m = random_mdp(1, 3, 2, 0.8, rho=[1.0, 0.0, 0.0])
    res = mei2020_lojasiewicz.assess(_loja(m), conditions_of(m))
    assert res.verdict == "inconclusive"
    assert any("full support" in r for r in res.evidence["reasons"])


# ---------------------------------------------------------------------------------------------
# Mei et al. 2020, Theorem 4 and the rate shape
# ---------------------------------------------------------------------------------------------


def _thm4(m: r1.TabularMDP, T: int = 500) -> tuple[dict[str, Any], dict[str, float]]:
    opt = r1.optimal(m)
    run = r1.iterate(m, np.zeros((m.S, m.A)), "pg", r1.steps.mei2020(m.gamma), T, optimum=opt)
    meas = {"gap": run.gap, "min_pi_opt": run.min_pi_opt, "J_star": run.J_star, "eta": run.eta}
    return meas, mei2020_rate.theorem4_constants(m, opt)


def test_theorem4_bound_holds() -> None:
    m = random_mdp(2, 3, 2, 0.5)
    meas, const = _thm4(m)
    res = mei2020_rate.assess_bound(meas, conditions_of(m), const)
    assert res.verdict == "holds"
    assert 0 < res.measured["max_gap_over_bound"] < 1


def test_theorem4_constants_by_hand() -> None:
    """At t = 1 (the start), c_1 = min_s π_1(a*(s)|s) = 1/A for θ = 0."""
    m = random_mdp(2, 3, 2, 0.5)
    meas, const = _thm4(m, T=1)
    d_star = r1.evaluate(m, r1.optimal(m).pi).d
    expected = 16 * 3 / ((1 / 2) ** 2 * 0.5**6 * 1) * np.max(d_star / m.rho) ** 2 * 3.0
    bound = mei2020_rate.theorem4_bound(const, np.minimum.accumulate(meas["min_pi_opt"]))
    assert bound[0] == pytest.approx(expected, rel=1e-12)


def test_theorem4_wrong_constant_fails() -> None:
    m = random_mdp(2, 3, 2, 0.5)
    meas, const = _thm4(m)
    res = mei2020_rate.assess_bound(meas, conditions_of(m), const, constant=16e-6)
    assert res.verdict == "fails"
    assert res.evidence["first_violation_t"] >= 1


def test_theorem4_conditions_inconclusive() -> None:
    m = random_mdp(2, 3, 2, 0.5, rho=[0.5, 0.5, 0.0])
    meas, const = _thm4(m, T=50)
    assert mei2020_rate.assess_bound(meas, conditions_of(m), const).verdict == "inconclusive"
    m2 = random_mdp(2, 3, 2, 0.5)
    meas2, const2 = _thm4(m2, T=50)
    meas2["eta"] = np.full(50, 0.1)
    res = mei2020_rate.assess_bound(meas2, conditions_of(m2), const2)
    assert res.verdict == "inconclusive" and any("step" in r for r in res.evidence["reasons"])


def _shape_cond() -> dict[str, Any]:
    return {"reward_unit": True, "rho_full": True, "unique_optimal": True}


def test_shape_synthetic_one_over_t_holds_faster_and_slower_inconclusive() -> None:
    """Θ(1/t) is eventual: a finite run confirms it or is inconclusive (slower or faster tails)."""
    t = np.arange(1, 20001, dtype=float)
    one_over_t = np.concatenate([[1.0], 3.0 / t])
    geometric = np.concatenate([[1.0], 0.999**t])
    sqrt_rate = np.concatenate([[1.0], 1.0 / np.sqrt(t)])
    J_star = 1.0
    assert mei2020_rate.assess_shape({"gap": one_over_t, "J_star": J_star}, _shape_cond()).verdict == "holds"
    faster = mei2020_rate.assess_shape({"gap": geometric, "J_star": J_star}, _shape_cond())
    assert faster.verdict == "inconclusive" and "faster than 1/t" in faster.evidence["reason"]
    assert mei2020_rate.assess_shape({"gap": sqrt_rate, "J_star": J_star}, _shape_cond()).verdict == "inconclusive"


def test_shape_on_a_real_run_holds() -> None:
    m = random_mdp(5, 4, 3, 0.6)
    run = r1.iterate(m, np.zeros((4, 3)), "pg", 1.0, 20000)
    res = mei2020_rate.assess_shape({"gap": run.gap, "J_star": run.J_star}, conditions_of(m))
    assert res.verdict == "holds", res.measured
    assert abs(res.measured["slope"] + 1.0) <= 0.1


# ---------------------------------------------------------------------------------------------
# Mei et al. 2020, bandits: Lemma 4, Theorem 9, the plateau
# ---------------------------------------------------------------------------------------------


def _bandit_run(pi0: list[float], T: int, r: list[float] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    m = bandit(r or [1.0, 0.9, 0.1])
    theta0 = np.log(np.array([pi0]))
    opt = r1.optimal(m)
    run = r1.iterate(m, theta0, "pg", r1.steps.mei2020(0.0, bandit=True), T, optimum=opt)
    cond = {**standing(m, opt), "Delta": float(np.min(opt.gap))}
    return {"gap": run.gap, "min_pi_opt": run.min_pi_opt, "J_star": run.J_star, "eta": run.eta}, cond


def test_lemma4_and_theorem9_hold() -> None:
    meas, cond = _bandit_run([0.01, 0.05, 0.94], 2000)
    l4 = mei2020_bandit.assess_lemma4(meas, cond)
    t9 = mei2020_bandit.assess_theorem9(meas, cond, delta=cond["Delta"])
    assert l4.verdict == "holds" and l4.measured["max_delta_c2_t"] <= 5.0
    assert t9.verdict == "holds" and t9.measured["first_t_after_which_holds"] == 1


def test_lemma4_wrong_constant_fails_and_theorem9_inflated_gap_inconclusive() -> None:
    meas, cond = _bandit_run([0.01, 0.05, 0.94], 2000)
    assert mei2020_bandit.assess_lemma4(meas, cond, constant=5e-4).verdict == "fails"
    # an eventual lower bound is never 'fails' on a finite run: with Δ inflated 100× it is inconclusive
    good, cond_good = _bandit_run([0.05, 0.01, 0.94], 2000)
    res = mei2020_bandit.assess_theorem9(good, cond_good, delta=100 * cond_good["Delta"])
    assert res.verdict == "inconclusive" and "large enough" in res.evidence["reason"]


def test_bandit_checks_on_an_mdp_inconclusive(mdp: r1.TabularMDP) -> None:
    meas, _ = _bandit_run([0.2, 0.3, 0.5], 20)
    cond = {**conditions_of(mdp), "Delta": 0.1}
    assert mei2020_bandit.assess_lemma4(meas, cond).verdict == "inconclusive"
    assert mei2020_bandit.assess_theorem9(meas, cond, delta=0.1).verdict == "inconclusive"


def test_plateau_holds_on_mei_fig1() -> None:
    bad, cond = _bandit_run([0.01, 0.05, 0.94], 8000)
    good, _ = _bandit_run([0.05, 0.01, 0.94], 200)
    res = mei2020_bandit.assess_plateau(bad, good, cond)
    assert res.verdict == "holds"
    assert 7000 < res.measured["escape_bad"] < 8000
    assert res.measured["escape_good"] < 100


def test_plateau_can_fail_and_be_inconclusive() -> None:
    bad, cond = _bandit_run([0.01, 0.05, 0.94], 8000)
    good, _ = _bandit_run([0.05, 0.01, 0.94], 200)
    # the same runs judged against a threshold the bad init does not exceed
    assert mei2020_bandit.assess_plateau(bad, good, cond, threshold=9000).verdict == "fails"
    short = {k: (v[:3001] if isinstance(v, np.ndarray) and v.size == 8001 else v) for k, v in bad.items()}
    assert mei2020_bandit.assess_plateau(short, good, cond).verdict == "inconclusive"


# ---------------------------------------------------------------------------------------------
# Agarwal et al. 2021, Theorem 5.3 and Lemma 5.2
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("eta", [0.1, 1.0, 10.0])
def test_theorem53_holds(mdp: r1.TabularMDP, eta: float) -> None:
    run = r1.iterate(mdp, np.zeros((4, 3)), "npg", eta, 200)
    res = agarwal2021_npg_rate.assess_theorem53(
        {"gap": run.gap, "eta": run.eta, "J_star": run.J_star}, conditions_of(mdp)
    )
    assert res.verdict == "holds"


def test_theorem53_bound_by_hand() -> None:
    b = agarwal2021_npg_rate.theorem53_bound(0.9, 3, 0.5, np.array([1.0, 4.0]))
    np.testing.assert_allclose(b, [math.log(3) / 0.5 + 100.0, (math.log(3) / 0.5 + 100.0) / 4], rtol=1e-14)


def test_theorem53_wrong_constant_fails_and_nonuniform_init_inconclusive(mdp: r1.TabularMDP) -> None:
    run = r1.iterate(mdp, np.zeros((4, 3)), "npg", 0.1, 100)
    meas = {"gap": run.gap, "eta": run.eta, "J_star": run.J_star}
    assert agarwal2021_npg_rate.assess_theorem53(meas, conditions_of(mdp), constant=1e-3).verdict == "fails"
    theta0 = np.random.default_rng(0).normal(size=(4, 3))
    run2 = r1.iterate(mdp, theta0, "npg", 0.1, 100)
    meas2 = {"gap": run2.gap, "eta": run2.eta, "J_star": run2.J_star}
    res = agarwal2021_npg_rate.assess_theorem53(meas2, conditions_of(mdp, theta0))
    assert res.verdict == "inconclusive"
    assert any("uniform initial" in r for r in res.evidence["reasons"])


def test_lemma52_holds_and_inflated_bound_fails(mdp: r1.TabularMDP) -> None:
    meas = agarwal2021_npg_rate.lemma52_terms(mdp, np.zeros((4, 3)), 1.0, 50)
    meas["tolerance"] = 1e3 * np.finfo(float).eps * 11.0
    assert agarwal2021_npg_rate.assess_lemma52(meas, conditions_of(mdp)).verdict == "holds"
    res = agarwal2021_npg_rate.assess_lemma52(meas, conditions_of(mdp), factor=10.0)
    assert res.verdict == "fails"
    assert "first_violation_logZ_bound" in res.evidence


def test_lemma52_detects_a_decrease(mdp: r1.TabularMDP) -> None:
    meas = agarwal2021_npg_rate.lemma52_terms(mdp, np.zeros((4, 3)), 1.0, 5)
    meas["tolerance"] = 1e-12
    meas["increment"] = meas["increment"].copy()
    meas["increment"][2, 1] = -1e-6
    res = agarwal2021_npg_rate.assess_lemma52(meas, conditions_of(mdp))
    assert res.verdict == "fails"
    assert res.evidence["first_violation_monotonicity"] == {"t": 2, "state": 1}


# ---------------------------------------------------------------------------------------------
# End to end: check(ctx) through the sweep, on catalog instances, with tiny plans
# ---------------------------------------------------------------------------------------------


@pytest.fixture()
def ctx(tmp_path: Path) -> Context:
    return Context(mode="quick", sweep=Sweep(None, jobs=1, progress=False), out=tmp_path)


SMALL = {"S": 3, "A": 2, "gamma": 0.5, "seed": 0}


def test_end_to_end(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tabular_mdps")
    monkeypatch.setattr(
        pdl,
        "plan",
        lambda c: [
            {"instance": "random", "params": SMALL, "theta0": "uniform", "method": "npg", "eta": 1.0, "iterations": 20}
        ],
    )
    monkeypatch.setattr(
        mei2020_smoothness,
        "plan",
        lambda c: [
            {
                "instance": "random",
                "params": SMALL,
                "theta0": "uniform",
                "sigma": 1.0,
                "seed": 1,
                "iterations": 20,
                "probe_every": 10,
                "directions": 1,
                "random_points": 1,
            }
        ],
    )
    monkeypatch.setattr(
        mei2020_lojasiewicz,
        "plan",
        lambda c: [
            {
                "instance": "random",
                "params": SMALL,
                "theta0": "uniform",
                "extra_steps": [1.0],
                "sigma": 1.0,
                "seed": 1,
                "iterations": 20,
                "random_points": 2,
            }
        ],
    )
    monkeypatch.setattr(mei2020_rate, "plan", lambda c: ([("random", SMALL, 50)], []))
    monkeypatch.setattr(mei2020_bandit, "plan", lambda c: [("mei_bandit", {"init": "good"}, "instance", 100)])
    monkeypatch.setattr(agarwal2021_npg_rate, "plan", lambda c: ([("random", SMALL)], [1.0], 20))
    for mod in (pdl, mei2020_smoothness, mei2020_lojasiewicz, mei2020_rate, mei2020_bandit, agarwal2021_npg_rate):
        results = mod.check(ctx)
        assert results, mod.CLAIM
        for r in results:
            assert r.claim in claims.of_module(mod.__name__)  # the ids the registry says the module verifies
            assert r.verdict == "holds", (mod.CLAIM, r.statement, r.measured, r.evidence)
            r.to_dict()  # JSON-ready
