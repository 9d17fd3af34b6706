"""Properties on random valid MDPs (hypothesis): identities within STATED tolerances, and no NaN/inf.

The MDPs come from :mod:`tabular_mdps.strategies`: 1–6 states, 1–5 actions, sparse rows with
absorbing and unreachable states, γ up to 0.999 and |θ| up to 1e3 (near-deterministic policies).

Tolerances are written next to each assertion in terms of

* ``H = 1/(1 − γ)`` (the horizon; κ(I − γP_π) ≤ 2H),
* ``Vs = 1 + max|r|·H`` (bounds |V|, |Q|, and |A|/2),
* ``EPS = 1e-15`` (a few units of roundoff, absorbing the small sums over S, A ≤ 6).
"""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import r1theory as r1
from tabular_mdps.strategies import dampings, mdps, steps, thetas

EPS = 1e-15


def _scales(mdp):
    H = 1.0 / (1.0 - mdp.gamma)
    return H, 1.0 + float(np.max(np.abs(mdp.r))) * H


def _all_finite(*arrays):
    return all(np.all(np.isfinite(np.asarray(a))) for a in arrays)


# ------------------------------------------------------------------------------------------------
# Evaluation
# ------------------------------------------------------------------------------------------------
@settings(deadline=None)
@given(mdp=mdps(), data=st.data())
def test_evaluation_identities(mdp, data, ref):
    theta = data.draw(thetas(mdp))
    pi = r1.softmax(theta)
    ev = r1.evaluate(mdp, pi)
    H, Vs = _scales(mdp)
    assert _all_finite(ev.V, ev.Q, ev.A, ev.d, ev.J)
    P_pi, r_pi = ref.markov_chain(mdp, pi)
    # Bellman equation: a backward-stable solve has residual ≤ ε‖I − γP_π‖‖V‖ ≤ 2ε·Vs
    assert np.max(np.abs(ev.V - r_pi - mdp.gamma * P_pi @ ev.V)) <= 100 * EPS * Vs
    # Q = r + γ P V and Σ_a π A = 0 (rounding of Q-sized numbers)
    assert np.max(np.abs(ev.Q - mdp.r - mdp.gamma * np.einsum("sat,t->sa", mdp.P, ev.V))) <= 100 * EPS * Vs
    assert np.max(np.abs(np.sum(pi * ev.A, axis=1))) <= 100 * EPS * Vs
    assert abs(ev.J - float(mdp.rho @ ev.V)) <= 100 * EPS * Vs
    # visitation: nonnegative, flow equation (residual ≤ 2ε), sums to 1 (forward error ≤ κε = 2Hε)
    assert np.all(ev.d >= 0.0)
    assert np.max(np.abs(ev.d - (1 - mdp.gamma) * mdp.rho - mdp.gamma * P_pi.T @ ev.d)) <= 100 * EPS
    assert abs(ev.d.sum() - 1.0) <= 100 * EPS * H
    assert np.all(ev.d >= (1 - mdp.gamma) * mdp.rho - 100 * EPS * H)


@settings(deadline=None)
@given(mdp=mdps(), data=st.data())
def test_performance_difference_lemma(mdp, data):
    """J(π) − J(π') = H Σ_s d^π(s) Σ_a π(a|s) A^{π'}(s, a)."""
    pi = r1.softmax(data.draw(thetas(mdp)))
    pi2 = r1.softmax(data.draw(thetas(mdp)))
    ev, ev2 = r1.evaluate(mdp, pi), r1.evaluate(mdp, pi2)
    H, Vs = _scales(mdp)
    rhs = H * float(np.sum(ev.d[:, None] * pi * ev2.A))
    # J, A have forward error ≤ κε·Vs = 2Hε·Vs; the sum is multiplied by H
    assert abs((ev.J - ev2.J) - rhs) <= 100 * EPS * H * H * Vs


@settings(deadline=None)
@given(mdp=mdps(), data=st.data())
def test_optimal_dominates_every_policy(mdp, data):
    opt = r1.optimal(mdp)
    H, Vs = _scales(mdp)
    ev = r1.evaluate(mdp, r1.softmax(data.draw(thetas(mdp))))
    assert _all_finite(opt.V, opt.Q, opt.J)
    # V* ≥ V^π pointwise (forward errors ≤ 2Hε·Vs each)
    assert np.all(opt.V >= ev.V - 100 * EPS * H * Vs)
    # V* = max_a Q* (Bellman optimality) and the greedy action attains it
    assert np.max(np.abs(opt.Q.max(axis=1) - opt.V)) <= 100 * EPS * H * Vs
    assert np.max(np.abs(opt.Q[np.arange(mdp.S), opt.actions] - opt.V)) <= 100 * EPS * H * Vs


@settings(deadline=None)
@given(mdp=mdps(), data=st.data())
def test_softmax_rows(mdp, data):
    theta = data.draw(thetas(mdp))
    pi = r1.softmax(theta)
    assert _all_finite(pi, r1.log_softmax(theta))
    assert np.all((pi >= 0.0) & (pi <= 1.0))
    assert np.max(np.abs(pi.sum(axis=1) - 1.0)) <= 10 * EPS
    # the most likely action is the largest logit
    assert np.all(pi[np.arange(mdp.S), np.argmax(theta, axis=1)] >= 1.0 / mdp.A - EPS)


# ------------------------------------------------------------------------------------------------
# Gradient, Fisher, natural gradient
# ------------------------------------------------------------------------------------------------
@settings(deadline=None)
@given(mdp=mdps(), data=st.data())
def test_gradient_identities(mdp, data):
    theta = data.draw(thetas(mdp))
    g = r1.policy_gradient(mdp, theta)
    ev = r1.evaluate(mdp, r1.softmax(theta))
    H, Vs = _scales(mdp)
    assert _all_finite(g)
    assert g.shape == (mdp.S, mdp.A)
    # rows sum to 0: rounding of Σ_a π A (Q-sized terms) times d(s)·H
    assert np.all(np.abs(g.sum(axis=1)) <= 100 * EPS * Vs * H * ev.d)
    # vector form H d(s) (diag π − ππᵀ) Q(s,·) = H d π ∘ (Q − π·Q); entrywise rounding ~ ε d π |Q| H
    pi = ev.pi
    vec = H * ev.d[:, None] * pi * (ev.Q - np.sum(pi * ev.Q, axis=1, keepdims=True))
    assert np.all(np.abs(g - vec) <= 100 * EPS * H * Vs * ev.d[:, None] * pi + 1e-300)


@settings(deadline=None)
@given(mdp=mdps(), data=st.data())
def test_fisher_identities(mdp, data, ref):
    theta = data.draw(thetas(mdp))
    F = r1.fisher(mdp, theta)
    ev = r1.evaluate(mdp, r1.softmax(theta))
    v = data.draw(hnp.arrays(np.float64, (mdp.S, mdp.A), elements=st.floats(-1e3, 1e3, allow_subnormal=False)))
    vn = 1.0 + np.abs(v).max()
    Fv = F.mv(v)
    assert _all_finite(Fv, F.blocks, F.solve(v, 0.5))
    # mv against the dense average of score outer products (entries ≤ 1, A ≤ 5 terms per entry)
    F_ref = ref.fisher_dense(ev.d, ev.pi)
    assert np.max(np.abs(Fv.ravel() - F_ref @ v.ravel())) <= 100 * EPS * vn
    # PSD up to rounding and F 1_s = 0
    assert float(np.vdot(v, Fv)) >= -100 * EPS * vn**2
    ones = np.zeros((mdp.S, mdp.A))
    ones[data.draw(st.integers(0, mdp.S - 1))] = 1.0
    assert np.max(np.abs(F.mv(ones))) <= 100 * EPS


@settings(deadline=None)
@given(mdp=mdps(), data=st.data())
def test_natural_gradient_identities(mdp, data):
    theta = data.draw(thetas(mdp))
    lam = data.draw(dampings())
    point = r1.policy_point(mdp, theta)
    g, d = point.gradient, point.ev.d
    npg = r1.natural_gradient(mdp, theta)
    damped = r1.natural_gradient(mdp, theta, damping=lam)
    H, Vs = _scales(mdp)
    assert _all_finite(npg, damped)
    # closed form: per-state-centred A/(1−γ) where d(s) > 0, 0 where d(s) = 0
    expected = np.where(d[:, None] > 0, point.ev.A - point.ev.A.mean(axis=1, keepdims=True), 0.0) * H
    assert np.max(np.abs(npg - expected)) <= 100 * EPS * H * Vs
    # F (F⁺g) = g, since g ∈ range(F): rounding of π∘(x − π·x) with |x| ≤ 2H·Vs
    F = r1.fisher(mdp, theta)
    assert np.max(np.abs(F.mv(npg) - g)) <= 100 * EPS * H * Vs
    # (F + λI) x = g for the damped solve: backward error ≲ ε(‖F‖ + λ)‖x‖ + ε‖g‖
    residual = F.mv(damped) + lam * damped - g
    assert np.max(np.abs(residual)) <= 100 * EPS * ((1 + lam) * np.abs(damped).max() + np.abs(g).max())


def _make_unreachable(mdp, s_u):
    """The same MDP with state s_u made unreachable: ρ(s_u) = 0 and no transition from another state enters it.

    Rows that lose all their mass go to the next state; s_u's own outgoing rows are unchanged (so it
    may lead back into the others: only then can rounding put a nonzero d(s_u) on it).
    """
    P, rho = np.array(mdp.P), np.array(mdp.rho)
    others = np.arange(mdp.S) != s_u
    P[others, :, s_u] = 0.0
    empty = P.sum(axis=-1) == 0.0
    P[empty, (s_u + 1) % mdp.S] = 1.0
    rho[s_u] = 0.0
    if rho.sum() == 0.0:
        rho[(s_u + 1) % mdp.S] = 1.0
    return r1.TabularMDP(P / P.sum(axis=-1, keepdims=True), mdp.r, mdp.gamma, rho / rho.sum())


@settings(deadline=None, max_examples=2 * settings.default.max_examples)  # 100 under "ci"
@given(mdp=mdps(min_states=2, max_states=5, max_actions=4, sparse=False), data=st.data())
def test_pseudo_inverse_matches_pinv_with_an_unreachable_state(mdp, data, ref):
    """F.solve(v, 0) and natural_gradient equal F⁺v and F⁺∇J, F⁺ = numpy.linalg.pinv of the dense F.

    One state is made unreachable, so its exact d is 0 and its Fisher block vanishes; the reference
    sets d = 0 there. Instances whose reachable part is ill-conditioned (d(s) or π(a|s) < 1e-6) are
    skipped (pinv's cutoff would then differ from the exact pseudo-inverse).
    """
    s_u = mdp.S - 1 - data.draw(st.integers(0, mdp.S - 1))  # the last state first: LU leaks there most
    mdp = _make_unreachable(mdp, s_u)
    theta = data.draw(thetas(mdp, max_abs=3.0))
    pi = ref.naive_softmax(theta)
    d = ref.occupancy(mdp, pi)
    d[s_u] = 0.0
    reach = np.arange(mdp.S) != s_u
    if d[reach].min() < 1e-6 or pi.min() < 1e-6:
        return
    F_ref = ref.fisher_dense(d, pi)
    w = np.linalg.eigvalsh(F_ref)
    nonzero = w[w > 1e-12 * w.max()] if w.max() > 0 else w[:0]
    kappa = float(nonzero.max() / nonzero.min()) if nonzero.size else 1.0
    Fplus = np.linalg.pinv(F_ref, hermitian=True)
    v = data.draw(hnp.arrays(np.float64, theta.shape, elements=st.floats(-10, 10, allow_subnormal=False)))
    expected = (Fplus @ v.ravel()).reshape(theta.shape)
    # a pseudo-inverse is accurate to ~κε relative
    tol = 1e-12 * kappa * (1.0 + np.abs(expected).max())
    assert np.max(np.abs(r1.fisher(mdp, theta).solve(v, 0.0) - expected)) <= tol
    g = r1.policy_gradient(mdp, theta)
    npg_ref = (Fplus @ g.ravel()).reshape(theta.shape)
    H, Vs = _scales(mdp)
    assert np.max(np.abs(r1.natural_gradient(mdp, theta) - npg_ref)) <= 1e-12 * kappa * H * Vs


# ------------------------------------------------------------------------------------------------
# Directions
# ------------------------------------------------------------------------------------------------
@settings(deadline=None)
@given(mdp=mdps(), data=st.data())
def test_directions_finite_and_per_state_mean_zero(mdp, data):
    theta = data.draw(thetas(mdp))
    lam = data.draw(dampings())
    point = r1.policy_point(mdp, theta)
    g = point.gradient
    gg = float(np.sum(g * g))
    H, Vs = _scales(mdp)
    row_noise = 100 * EPS * Vs * H * point.ev.d  # rounding of g's row sums (see test_gradient_identities)
    for method in r1.METHODS:
        damped = method in r1.DAMPED_METHODS
        x = r1.direction(method, mdp, theta, damping=lam if damped else None)
        assert x.shape == (mdp.S, mdp.A)
        assert _all_finite(x), method
        # every M here maps 1_s to 1_s/λ (damped) or kills it; so |1_sᵀx| ≤ rounding·max(1, 1/λ)
        amplify = 1.0 / lam if damped else 1.0
        assert np.all(np.abs(x.sum(axis=1)) <= amplify * row_noise + 100 * EPS * np.abs(x).sum(axis=1)), method
    # r1-grad is PG rescaled
    x = r1.direction("r1-grad", mdp, theta, damping=lam)
    assert np.max(np.abs(x - g / (lam + gg))) <= 10 * EPS * np.abs(g).max() / (lam + gg)


@settings(deadline=None)
@given(mdp=mdps(), data=st.data())
def test_pd_preconditioned_directions_ascend(mdp, data):
    """gᵀMg ≥ ‖g‖²/(λ + max(2, ‖g‖²)) > 0 for M = (F+λI)^{-1}, (λI+σ₁v₁v₁ᵀ)^{-1}, (λI+ggᵀ)^{-1}, E[(λI+uuᵀ)^{-1}]."""
    theta = data.draw(thetas(mdp))
    lam = data.draw(dampings())
    g = r1.policy_gradient(mdp, theta)
    gn = float(np.linalg.norm(g))
    if gn < 1e-100:  # g = 0 (e.g. an exactly deterministic policy): nothing to ascend
        return
    gh = g / gn  # normalised, so ‖ĝ‖² cannot underflow; all four M are positive definite
    for method in ("npg-damped", "r1-eigen", "r1-grad", "r1-precond"):
        x = r1.direction(method, mdp, theta, damping=lam) / gn
        bound = 1.0 / (lam + max(2.0, gn * gn))
        # forward error of x is ≤ κε‖x‖ with κ ≤ (λ + 2)/λ (r1-grad: exact scaling)
        assert float(np.sum(gh * x)) >= bound * (1 - 1e-6), method


@settings(deadline=None)
@given(
    u=hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(-1e3, 1e3, allow_subnormal=False)),
    lam=dampings(),
    data=st.data(),
)
def test_sherman_morrison_inverts(u, lam, data):
    v = data.draw(hnp.arrays(np.float64, u.shape, elements=st.floats(-1e3, 1e3, allow_subnormal=False)))
    op = r1.sherman_morrison(u, lam)
    x = op.mv(v)
    assert _all_finite(x)
    # The O(n) formula x = (v − u(uᵀv)/(λ + ‖u‖²))/λ is forward-accurate (error ≲ ε‖v‖/λ ≤ εκ‖x‖-ish)
    # but NOT backward stable: the subtraction cancels when v ∥ u and λ ≪ ‖u‖² (u = v = [1], λ = 1e-6
    # gives a residual of 6e-11, not 1e-16). So the residual bound is ε‖λI + uuᵀ‖·‖v‖/λ, not ε‖A‖‖x‖.
    norm_A = lam + float(u @ u)
    v_max = np.abs(v).max()
    assert np.max(np.abs(lam * x + u * float(u @ x) - v)) <= 100 * EPS * (norm_A * v_max / lam + v_max)


# ------------------------------------------------------------------------------------------------
# The strategies themselves
# ------------------------------------------------------------------------------------------------
@settings(deadline=None)
@given(
    mdp=mdps(min_states=2, max_states=4, min_actions=2, max_actions=3, sparse=False, gamma_max=0.9),
    data=st.data(),
)
def test_dense_strategy_respects_its_arguments(mdp, data):
    assert 2 <= mdp.S <= 4
    assert 2 <= mdp.A <= 3
    assert 0.0 <= mdp.gamma <= 0.9
    assert np.all(mdp.P > 0.0)
    assert np.all(mdp.rho > 0.0)
    assert np.all((mdp.r >= 0.0) & (mdp.r <= 1.0))
    theta = data.draw(thetas(mdp, max_abs=5.0))
    assert theta.shape == (mdp.S, mdp.A)
    assert np.all(np.abs(theta) <= 5.0)
    assert 1e-6 <= data.draw(dampings()) <= 1e3
    assert 1e-4 <= data.draw(steps()) <= 1e4
    assert 0.5 <= data.draw(steps(0.5, 2.0)) <= 2.0


def test_sparse_strategy_reaches_the_hard_cases():
    """The default strategy produces absorbing states, exact zeros, unreachable states, γ = 0.999, |θ| = 1e3."""
    find_settings = settings(database=None, max_examples=2000, derandomize=True)

    def absorbing(m):
        return m.S >= 2 and any(np.all(m.P[s, :, s] == 1.0) for s in range(m.S))

    def unreachable(m):
        adj, seen = m.P.sum(axis=1) > 0, m.rho > 0
        for _ in range(m.S):
            seen = seen | adj[seen].any(axis=0)
        return not seen.all()

    assert absorbing(find(mdps(), absorbing, settings=find_settings))
    assert unreachable(find(mdps(), unreachable, settings=find_settings))
    assert find(mdps(), lambda m: m.gamma == 0.999, settings=find_settings).gamma == 0.999
    mdp = r1.TabularMDP(np.ones((2, 3, 2)) / 2, np.zeros((2, 3)), 0.5, [0.5, 0.5])
    big = find(thetas(mdp), lambda t: np.abs(t).max() >= 999.0, settings=find_settings)
    assert np.abs(big).max() <= 1e3


@pytest.mark.parametrize(
    "make",
    [
        lambda: mdps(min_states=0),
        lambda: mdps(min_states=3, max_states=2),
        lambda: mdps(min_actions=0),
        lambda: mdps(gamma_max=1.0),
        lambda: mdps(gamma_max=True),
        lambda: dampings(0.0, 1.0),
        lambda: steps(2.0, 1.0),
    ],
)
def test_strategy_arguments_are_validated(make):
    with pytest.raises(ValueError):
        make()


def test_strategies_module_explains_missing_hypothesis(monkeypatch):
    monkeypatch.setitem(sys.modules, "hypothesis", None)  # makes `import hypothesis` fail
    monkeypatch.delitem(sys.modules, "tabular_mdps.strategies")
    with pytest.raises(ImportError, match=r"pip install 'r1theory\[test\]'"):
        importlib.import_module("tabular_mdps.strategies")
