"""Issue #14: undamped NPG must not zero a state whose visitation underflows.

Theorem tested: a softmax policy has full support, so d^π(s) > 0 exactly on the states reachable
from supp(ρ) under *some* action (:attr:`r1theory.TabularMDP.reachable`), whatever the float value
of π; the natural gradient F⁺∇J = (A − mean_a A)/(1 − γ) (Agarwal et al. 2021, Lemma 5.1) is
nonzero there. So the engine's NPG iterates, at steps large enough that one update makes π
near-deterministic (π(a|s) underflows to 0.0, d(s) underflows), equal those of a plain numpy
implementation of θ ← θ + η(A − mean_a A)/(1 − γ) on every state, and reach gap ≤ 1e-3 after the same
number of updates. States that no action can reach keep d = 0 exactly and an NPG of 0.

The instance: a reset chain. ρ = e_0; action 1 moves right (the last state loops, reward 1), action 0
returns to state 0 (reward c at state 0 only). At the uniform policy, resetting looks better near
the start, so a large step makes π(right|s) underflow there and cuts the rest of the chain off
numerically, while the optimum goes right everywhere. Before the fix NPG stalled there (gap 3.905,
S = 6, γ = 0.9, c = 0.2, at η = 30, 1e3 and 1e5); the exact iteration converges in 3 updates.
"""

from __future__ import annotations

import numpy as np
import pytest

import r1theory as r1
from r1theory._types import Array
from r1theory.evaluation import D_FLOOR

ETAS = (30.0, 1e3, 1e5)
TOL = 1e-3
S, GAMMA, C = 6, 0.9, 0.2


def reset_chain(S: int = S, gamma: float = GAMMA, c: float = C) -> r1.TabularMDP:
    P = np.zeros((S, 2, S))
    P[:, 0, 0] = 1.0  # reset
    P[np.arange(S), 1, np.minimum(np.arange(S) + 1, S - 1)] = 1.0  # right
    r = np.zeros((S, 2))
    r[0, 0], r[S - 1, 1] = c, 1.0
    rho = np.zeros(S)
    rho[0] = 1.0
    return r1.TabularMDP(P, r, gamma, rho)


def with_unreachable_state(mdp: r1.TabularMDP) -> r1.TabularMDP:
    """The chain plus one state (index S) that no transition enters and ρ does not start in."""
    S, A = mdp.S, mdp.A
    P = np.zeros((S + 1, A, S + 1))
    P[:S, :, :S] = mdp.P
    P[S, :, 0] = 1.0  # it leads back into the chain, so rounding could leak mass onto it
    r = np.vstack([mdp.r, [[0.5, 0.5]]])
    return r1.TabularMDP(P, r, mdp.gamma, np.append(mdp.rho, 0.0))


def reference_npg(mdp: r1.TabularMDP, eta: float, iterations: int, J_star: float) -> tuple[list[Array], int | None]:
    """θ_{t+1} = θ_t + η(A_t − mean_a A_t)/(1 − γ) on every state, evaluated with numpy.linalg.solve.

    Returns the iterates θ_0..θ_T (T = the first t with gap ≤ TOL, or ``iterations``) and that t.
    """
    P, r, g = np.asarray(mdp.P), mdp.r, mdp.gamma
    theta = np.zeros((mdp.S, mdp.A))
    thetas = [theta]
    for t in range(iterations + 1):
        z = theta - theta.max(axis=1, keepdims=True)
        pi = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        V = np.linalg.solve(np.eye(mdp.S) - g * np.einsum("sa,sat->st", pi, P), (pi * r).sum(axis=1))
        Q = r + g * P @ V
        A = Q - (pi * Q).sum(axis=1, keepdims=True)
        if J_star - float(mdp.rho @ V) <= TOL:
            return thetas, t
        if t == iterations:
            break
        theta = theta + eta * (A - A.mean(axis=1, keepdims=True)) / (1.0 - g)
        thetas.append(theta)
    return thetas, None


def _engine_thetas(mdp: r1.TabularMDP, eta: float, T: int) -> list[Array]:
    return [p.theta for p in r1.trajectory(mdp, np.zeros((mdp.S, mdp.A)), "npg", eta, T)]


def test_structural_reachability_of_the_mdp() -> None:
    mdp = with_unreachable_state(reset_chain())
    want = np.r_[np.ones(S, dtype=bool), False]
    np.testing.assert_array_equal(mdp.reachable, want)
    np.testing.assert_array_equal(mdp.to_sparse().reachable, want)
    assert mdp.reachable is mdp.reachable  # computed once per MDP
    with pytest.raises(ValueError):
        mdp.reachable[0] = False  # read-only


@pytest.mark.parametrize("eta", ETAS)
def test_npg_iterates_and_iteration_count_match_the_exact_iteration(eta: float) -> None:
    mdp = reset_chain()
    opt = r1.optimal(mdp)
    ref_thetas, ref_count = reference_npg(mdp, eta, 50, opt.J)
    assert ref_count == 3
    run = r1.iterate(mdp, np.zeros((S, 2)), "npg", eta, 50, tol=TOL, optimum=opt)
    assert run.status == "converged", run.message
    assert run.iterations == ref_count
    got = _engine_thetas(mdp, eta, ref_count)
    assert len(got) == len(ref_thetas)
    for t, (a, b) in enumerate(zip(got, ref_thetas, strict=True)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * eta, err_msg=f"θ_{t}")


@pytest.mark.parametrize("eta", ETAS)
def test_underflowed_visitation_keeps_the_state_reachable(eta: float) -> None:
    """After one update π(right|0) underflows (or nearly): d of the far states is floored, not 0, and NPG moves them."""
    mdp = reset_chain()
    p0 = r1.policy_point(mdp, np.zeros((S, 2)))
    p1 = r1.policy_point(mdp, eta * r1.natural_gradient(mdp, p0.theta))
    assert p1.pi[0, 1] < 1e-30  # near-deterministic: the chain beyond state 0 is (numerically) cut off
    assert np.all(p1.ev.d > 0) and np.all(p1.ev.reachable)
    npg = r1.natural_gradient(mdp, p1.theta)
    A = p1.ev.A
    np.testing.assert_array_equal(npg, (A - A.mean(axis=1, keepdims=True)) / (1.0 - GAMMA))
    assert np.all(np.abs(npg[1:]).max(axis=1) > 0)
    # the Fisher's range is the exact one (all actions centred on every reachable state)
    v = np.arange(2.0 * S).reshape(S, 2)
    np.testing.assert_allclose(r1.fisher(mdp, p1.theta).project_range(v), v - v.mean(axis=1, keepdims=True))


@pytest.mark.parametrize("eta", ETAS)
def test_sparse_mdp_takes_the_same_iterates(eta: float) -> None:
    mdp = reset_chain()
    opt = r1.optimal(mdp)
    ref_thetas, ref_count = reference_npg(mdp, eta, 50, opt.J)
    run = r1.iterate(mdp.to_sparse(), np.zeros((S, 2)), "npg", eta, 50, tol=TOL, optimum=opt)
    assert run.status == "converged" and run.iterations == ref_count
    for a, b in zip(_engine_thetas(mdp.to_sparse(), eta, ref_count), ref_thetas, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * eta)


@pytest.mark.parametrize("eta", ETAS)
def test_evaluate_batch_full_support_agrees_with_policy_points(eta: float) -> None:
    mdp = with_unreachable_state(reset_chain())
    pts = list(r1.trajectory(mdp, np.zeros((mdp.S, mdp.A)), "npg", eta, 3))
    B = len(pts)
    pi = np.stack([p.pi for p in pts])
    args = (
        np.broadcast_to(mdp.P, (B, *mdp.P.shape)),
        np.broadcast_to(mdp.r, (B, *mdp.r.shape)),
        mdp.gamma,
        np.broadcast_to(mdp.rho, (B, mdp.S)),
        pi,
    )
    be = r1.evaluate_batch(*args, full_support=True)
    for b, p in enumerate(pts):
        np.testing.assert_array_equal(be.d[b] > 0, p.ev.reachable)
        np.testing.assert_array_equal(be.d[b] > 0, mdp.reachable)
        np.testing.assert_allclose(be.d[b], p.ev.d, rtol=0, atol=1e-12)
        np.testing.assert_allclose(be.A[b], p.ev.A, rtol=0, atol=1e-10)
    # taken at face value (the default), an underflowed π(a|s) = 0.0 is a real zero: as evaluate()
    face = r1.evaluate_batch(*args)
    for b, p in enumerate(pts):
        np.testing.assert_array_equal(face.d[b] > 0, r1.evaluate(mdp, p.pi).d > 0)
    # the instance must exercise the underflow (π(a|s) = 0.0, or a d rounded to ≤ 0 and floored)
    assert any(np.any(p.pi == 0.0) or np.any(p.ev.d[:S] == D_FLOOR) for p in pts)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("eta", ETAS)
def test_unreachable_state_keeps_zero_visitation_and_zero_npg(eta: float, sparse: bool) -> None:
    mdp = with_unreachable_state(reset_chain())
    mdp = mdp.to_sparse() if sparse else mdp
    theta = np.zeros((mdp.S, mdp.A))
    for _ in range(3):
        p = r1.policy_point(mdp, theta)
        assert p.ev.d[S] == 0.0 and not p.ev.reachable[S]
        assert np.all(p.ev.d[:S] > 0)
        npg = r1.natural_gradient(mdp, theta)
        np.testing.assert_array_equal(npg[S], 0.0)
        F = r1.fisher(mdp, theta)
        np.testing.assert_array_equal(F.blocks[S], 0.0)
        np.testing.assert_array_equal(F.project_range(np.ones((mdp.S, mdp.A)) + np.arange(2.0))[S], 0.0)
        theta = theta + eta * npg
    # the unreachable state's visitation is also 0 for policies taken at face value
    assert r1.evaluate(mdp, np.full((mdp.S, mdp.A), 0.5)).d[S] == 0.0


def test_face_value_zero_in_pi_still_cuts_the_chain() -> None:
    """evaluate(π) with an exact zero π(right|0) = 0: states 1.. are unreachable under that π (d = 0);
    with full_support=True the same array stands for a softmax policy and they are reachable."""
    mdp = reset_chain()
    pi = np.full((S, 2), 0.5)
    pi[0] = [1.0, 0.0]
    ev = r1.evaluate(mdp, pi)
    np.testing.assert_array_equal(ev.d[1:], 0.0)
    assert ev.d[0] == pytest.approx(1.0, abs=1e-15)
    full = r1.evaluate(mdp, pi, full_support=True)
    assert np.all(full.d > 0) and np.all(full.reachable)
    assert float(full.d.sum()) == pytest.approx(1.0, abs=1e-15)
