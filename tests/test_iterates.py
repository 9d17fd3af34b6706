"""Exact iterates: histories, statuses, step rules and the effective step."""

from __future__ import annotations

import math

import numpy as np
import pytest

import r1theory as r1
from r1theory import steps
from r1theory.iterates import iterate


def _mdp(seed: int = 0, S: int = 4, A: int = 3, gamma: float = 0.8) -> r1.TabularMDP:
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S))
    P /= P.sum(axis=-1, keepdims=True)
    return r1.TabularMDP(P, rng.random((S, A)), gamma, np.full(S, 1.0 / S))


def _bandit(r: tuple[float, ...] = (1.0, 0.9, 0.1)) -> r1.TabularMDP:
    return r1.TabularMDP(np.ones((1, len(r), 1)), np.array([r]), 0.0, np.ones(1))


def test_history_lengths_and_initial_point() -> None:
    mdp = _mdp()
    theta0 = np.random.default_rng(1).normal(size=(4, 3))
    run = iterate(mdp, theta0, "pg", 0.5, 25)
    assert run.status == "max_iterations"
    assert run.iterations == 25
    assert len(run.J) == len(run.gap) == len(run.grad_norm) == len(run.min_pi_opt) == 26
    assert len(run.kl) == len(run.eta) == len(run.eff_step) == 25
    assert run.J[0] == pytest.approx(r1.evaluate(mdp, r1.softmax(theta0)).J, abs=1e-14)
    opt = r1.optimal(mdp)
    np.testing.assert_allclose(run.gap, opt.J - run.J, atol=1e-14)
    assert run.grad_norm[0] == pytest.approx(np.linalg.norm(r1.policy_gradient(mdp, theta0)), rel=1e-12)
    pi0 = r1.softmax(theta0)
    assert run.min_pi_opt[0] == pytest.approx(pi0[np.arange(4), opt.actions].min(), rel=1e-12)


def test_pg_run_matches_manual_updates_and_kl() -> None:
    mdp = _mdp(2)
    theta = np.zeros((4, 3))
    run = iterate(mdp, theta, "pg", 2.0, 10)
    for t in range(10):
        new = theta + 2.0 * r1.policy_gradient(mdp, theta)
        p, q = r1.softmax(theta), r1.softmax(new)
        d = r1.evaluate(mdp, p).d
        kl = float(d @ (p * (np.log(p) - np.log(q))).sum(axis=1))
        assert run.kl[t] == pytest.approx(kl, rel=1e-9, abs=1e-15)
        theta = new
    np.testing.assert_allclose(run.theta, theta, atol=1e-12)


def test_effective_step_of_pg_and_r1_grad() -> None:
    mdp = _mdp(3)
    run = iterate(mdp, np.zeros((4, 3)), "pg", 0.7, 5)
    np.testing.assert_allclose(run.eff_step, 0.7, rtol=1e-12)
    lam = 0.05
    run = iterate(mdp, np.zeros((4, 3)), "r1-grad", 0.7, 5, damping=lam)
    expected = 0.7 / (lam + run.grad_norm[:-1] ** 2)
    np.testing.assert_allclose(run.eff_step, expected, rtol=1e-10)


def test_converged_status_stops_at_tolerance() -> None:
    run = iterate(_bandit(), np.zeros((1, 3)), "npg", 1.0, 1000, tol=1e-3)
    assert run.status == "converged"
    assert run.gap[-1] <= 1e-3 < run.gap[-2]


def test_stalled_is_not_converged() -> None:
    # a step too small to move J: the run is reported as stalled, not converged
    theta0 = np.log(np.array([[0.01, 0.05, 0.94]]))
    run = iterate(_bandit(), theta0, "pg", 1e-15, 5000, tol=1e-6, stall_window=100)
    assert run.status == "stalled"
    assert run.gap[-1] > 0.5


def test_diverged_status_keeps_history() -> None:
    mdp = _mdp()
    big = r1.TabularMDP(mdp.P, 1e3 * mdp.r, mdp.gamma, mdp.rho)  # gradient entries > 1: θ overflows
    run = iterate(big, np.zeros((4, 3)), "pg", 1e308, 10)
    assert run.status == "diverged"
    assert np.all(np.isfinite(run.J))
    assert run.iterations < 10


def test_bad_arguments() -> None:
    mdp = _mdp()
    with pytest.raises(ValueError, match="iterations"):
        iterate(mdp, np.zeros((4, 3)), "pg", 1.0, -1)
    with pytest.raises(ValueError, match="step must be > 0"):
        iterate(mdp, np.zeros((4, 3)), "pg", 0.0, 3)
    with pytest.raises(ValueError, match="damping"):
        iterate(mdp, np.zeros((4, 3)), "r1-grad", 1.0, 3)
    with pytest.raises(ValueError, match="theta"):
        iterate(mdp, np.zeros((3, 3)), "pg", 1.0, 3)
    with pytest.raises(ValueError, match="tol"):
        iterate(mdp, np.zeros((4, 3)), "pg", 1.0, 3, tol=-1.0)


def test_step_rules() -> None:
    assert steps.mei2020(0.9).eta == pytest.approx(0.1**3 / 8)
    assert steps.mei2020(0.0, bandit=True).eta == 0.4
    assert steps.agarwal2021_npg(0.9, 4).eta == pytest.approx(0.01 * math.log(4))
    rule = steps.normalized(0.3)
    d = np.array([[3.0, -4.0]])
    assert rule(0, d) * np.linalg.norm(d) == pytest.approx(0.3)
    assert rule(0, np.zeros((1, 2))) == 0.0
    with pytest.raises(ValueError, match="at least 2 actions"):
        steps.agarwal2021_npg(0.9, 1)
    with pytest.raises(TypeError, match="step"):
        steps.constant("big")  # type: ignore[arg-type]


def test_normalized_run_moves_by_eta() -> None:
    run = iterate(_mdp(4), np.zeros((4, 3)), "pg", steps.normalized(0.1), 5)
    np.testing.assert_allclose(run.eta * run.grad_norm[:-1], 0.1, rtol=1e-12)


@pytest.mark.parametrize(("method", "damping"), [("pg", None), ("npg", None), ("r1-grad", 0.1), ("r1-same", 0.01)])
def test_trajectory_points_are_the_iterates_of_iterate(method: str, damping: float | None) -> None:
    """trajectory yields θ_0..θ_T, the same points iterate records (J, final θ), plus each point's whole state."""
    mdp = _mdp(4)
    run = iterate(mdp, np.zeros((4, 3)), method, 0.5, 12, damping)
    pts = list(r1.trajectory(mdp, np.zeros((4, 3)), method, 0.5, 12, damping))
    assert len(pts) == 13
    np.testing.assert_array_equal([p.ev.J for p in pts], run.J)
    np.testing.assert_array_equal(pts[-1].theta, run.theta)
    manual = np.zeros((4, 3))
    for p in pts[:3]:
        np.testing.assert_array_equal(p.theta, manual)
        manual = manual + 0.5 * r1.direction(method, mdp, manual, damping)


def test_trajectory_validates_on_call_and_stops_at_non_finite() -> None:
    mdp = _bandit()
    with pytest.raises(ValueError, match="unknown method"):
        r1.trajectory(mdp, np.zeros((1, 3)), "nope", 1.0, 3)  # eager: no iteration needed
    with pytest.raises(ValueError, match="iterations"):
        r1.trajectory(mdp, np.zeros((1, 3)), "pg", 1.0, -1)
    big = _bandit((1e4, 0.0, -1e4))
    pts = list(r1.trajectory(big, np.zeros((1, 3)), "pg", 1e308, 5))  # η·∇J ≈ 1e311 overflows θ
    assert len(pts) == 1


def test_next_point_is_policy_point_bit_for_bit() -> None:
    """The loop's unvalidated point (next_point) is policy_point's arithmetic exactly, for any finite logits."""
    from r1theory.point import next_point, policy_point
    from r1theory.softmax import log_softmax, log_softmax_unchecked

    mdp = _mdp(5, S=6, A=4, gamma=0.95)
    rng = np.random.default_rng(7)
    for scale in (0.0, 1.0, 30.0, 1e3):
        theta = scale * rng.normal(size=(6, 4))
        ref = policy_point(mdp, theta)
        got = next_point(mdp, theta, ref.param)
        np.testing.assert_array_equal(log_softmax_unchecked(theta), log_softmax(theta))
        for name in ("theta", "log_pi", "pi", "gradient"):
            assert np.array_equal(getattr(got, name), getattr(ref, name)), name
        for name in ("V", "Q", "A", "d", "pi"):
            assert np.array_equal(getattr(got.ev, name), getattr(ref.ev, name)), name
        assert got.ev.J == ref.ev.J


@pytest.mark.parametrize(
    ("method", "damping", "step"),
    [("pg", None, 1.0), ("npg", None, 0.3), ("r1-grad", 0.1, steps.normalized(0.2)), ("npg-damped", 0.01, 0.5)],
)
def test_iterate_is_the_plain_loop_bit_for_bit(method: str, damping: float | None, step: object) -> None:
    """iterate's hot loop (no re-validation, ∇J formed once per point) records what the plain loop of the public
    functions records, bit for bit: θ_{t+1} = θ_t + η·direction_at(point), J, ‖∇J‖ (numpy.linalg.norm), min_s π(a*|s),
    KL (kl_rows), η and the effective step."""
    from r1theory.iterates import kl_rows

    mdp = _mdp(6, S=5, A=3, gamma=0.9)
    theta0 = np.random.default_rng(3).normal(size=(5, 3))
    T = 40
    run = iterate(mdp, theta0, method, step, T, damping)  # type: ignore[arg-type]
    opt, rule = r1.optimal(mdp), steps.as_step_rule(step)
    p = r1.policy_point(mdp, theta0)
    J, gn, mins, kls, etas, effs = [p.ev.J], [np.linalg.norm(p.gradient)], [], [], [], []
    mins.append(np.min(p.pi[np.arange(5), opt.actions]))
    for t in range(T):
        dirn = r1.direction_at(p, method, damping)
        eta = rule(t, dirn)
        new = r1.policy_point(mdp, p.theta + eta * dirn)
        kls.append(float(p.ev.d @ kl_rows(p.log_pi, new.log_pi, p.pi)))
        g = p.gradient
        etas.append(eta)
        effs.append(eta * float(np.vdot(dirn, g)) / float(np.vdot(g, g)))
        p = new
        J.append(p.ev.J)
        gn.append(np.linalg.norm(p.gradient))
        mins.append(np.min(p.pi[np.arange(5), opt.actions]))
    assert run.iterations == T
    for got, want in [(run.J, J), (run.grad_norm, gn), (run.min_pi_opt, mins), (run.kl, kls), (run.eta, etas)]:
        assert np.array_equal(got, np.array(want, dtype=float))
    assert np.array_equal(run.eff_step, effs)
    assert np.array_equal(run.theta, p.theta)
