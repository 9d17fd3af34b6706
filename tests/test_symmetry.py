"""Symmetries of the exact engine, as hypothesis properties over random MDPs (docs/claims.md#the-method-family).

The mathematics is equivariant under three relabellings, so the engine must be too, up to rounding:

* **states**: a permutation σ of S applied to P (both state axes), r, ρ and θ, i.e. state i of the new MDP is
  state σ(i) of the old one. d, V, Q, A, ∇J, F's blocks, every direction and every iterate permute the same
  way; every scalar (J, σ₁ and its multiplicity, each Fisher diagnostic) is unchanged;
* **actions within each state**: a per-state permutation τ_s of A applied to P[s, ·], r[s, ·] and θ[s, ·];
* **per-state logit shifts**: θ(s, ·) + c(s) is the same policy (softmax shift invariance), so every direction
  (tabular: every direction is a function of π alone) and every J history are unchanged. For a
  parametrisation the shift applies where it has a parameter for it: log-linear features with one
  per-state indicator (bias) feature φ(s, a)[k₀ + s] = 1 for every a (shifting that parameter by c(s)), and
  :class:`r1theory.NeuralSoftmax`'s output bias b_L, whose shift by c·1_A is a shift of every state's logits by
  the same c (a state-dependent shift is not expressible there: the logits are W_L h_s + b_L).

Ties are where an implementation may pick one of several equal candidates: at θ = 0 every Fisher block has
its top eigenvalue d(s)/A with multiplicity A − 1, and states of equal d tie across blocks. The ``r1-eigen``
direction is defined canonically (:meth:`r1theory.TabularFisher.top_eigenspace`), so θ = 0 is drawn
often, together with near-deterministic logits.

Tolerances: directions are compared against their natural scale max|x| + max|∇J|·(1 + 1/λ) (every
direction is ∇J preconditioned by something between I/(λ + ‖F‖) and I/λ, or F⁺∇J ~ A/(1 − γ)) with relative
tolerance :data:`RTOL`, which leaves room for the rounding of the exact evaluation (κ(I − γP_π) ≤ 2/(1 − γ)
≤ 2000) and for the conditioning of the top eigenspace at a gap just above the grouping tolerance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import r1theory as r1
from r1theory.fisher import TOP_RTOL
from r1theory.policies import LogLinear, NeuralSoftmax
from tabular_mdps.strategies import SIMPLE_REWARDS, features, mdps, near_deterministic_thetas, parameter_vectors, thetas

#: Relative tolerance of the equivariance comparisons (see the module docstring).
RTOL = 1e-7
#: Relative tolerance (of Vs = 1 + max|r|/(1 − γ)) of the J histories after T = 3 steps. Near a cluster of top
#: eigenvalues whose relative gap is just above TOP_RTOL, the top eigenvector itself is conditioned by ε/gap
#: (Davis–Kahan), ~1e-7, for r1-eigen of any definition; a wrong tie-break moves J by O(1e-2…1).
HIST_RTOL = 1e-6
#: Unit roundoff of float64.
EPS = float(np.finfo(np.float64).eps)
#: Dampings used by the properties (small, moderate, large against ‖F‖ ≤ 1).
DAMPINGS = (1e-3, 0.1, 1.0)


def doubled(mdp: r1.TabularMDP) -> r1.TabularMDP:
    """The disjoint union of ``mdp`` with a copy of itself, ρ split equally: every d(s) has a tied twin."""
    S, A = mdp.S, mdp.A
    P = np.zeros((2 * S, A, 2 * S))
    P[:S, :, :S] = P[S:, :, S:] = np.asarray(mdp.P)
    return r1.TabularMDP(P, np.concatenate([mdp.r, mdp.r]), mdp.gamma, np.concatenate([mdp.rho, mdp.rho]) / 2.0)


# the MDPs: small (dense diagnostics are (S·A)² matrices), sparse rows (absorbing and unreachable states, ties
# of d across states), γ up to 0.999; and doubled ones, where every state's d ties with its twin's
_mdps = st.one_of(mdps(max_states=4, max_actions=4), mdps(max_states=2, max_actions=4).map(doubled))
# for the centred-gradient properties: also rewards on a few levels (ties, constant rewards: J independent of θ)
_tied_mdps = st.one_of(_mdps, mdps(max_states=4, max_actions=4, reward_values=SIMPLE_REWARDS))


def _logits(mdp: r1.TabularMDP) -> st.SearchStrategy[np.ndarray]:
    """θ = 0 (the default start of every sweep: maximal ties), moderate or huge logits, near-deterministic π."""
    return st.one_of(
        st.just(np.zeros((mdp.S, mdp.A))),
        thetas(mdp, max_abs=50.0),
        near_deterministic_thetas(mdp),
    )


def relabel_states(mdp: r1.TabularMDP, perm: np.ndarray) -> r1.TabularMDP:
    """State i of the result is state perm[i] of ``mdp``: P'[i, a, j] = P[perm[i], a, perm[j]], r', ρ' likewise."""
    P = np.asarray(mdp.P)[perm][:, :, perm]
    return r1.TabularMDP(P, mdp.r[perm], mdp.gamma, mdp.rho[perm])


def relabel_actions(mdp: r1.TabularMDP, perms: np.ndarray) -> r1.TabularMDP:
    """Action a of state s in the result is action perms[s, a] of ``mdp`` (one permutation per state)."""
    P = np.take_along_axis(np.asarray(mdp.P), perms[:, :, None], axis=1)
    return r1.TabularMDP(P, np.take_along_axis(mdp.r, perms, axis=1), mdp.gamma, mdp.rho)


def _permute_actions(x: np.ndarray, perms: np.ndarray) -> np.ndarray:
    return np.take_along_axis(x, perms, axis=1)


def _damping(method: str, lam: float) -> float | None:
    return lam if method in r1.DAMPED_METHODS else None


def _noise(mdp: r1.TabularMDP) -> float:
    """Rounding level of ∇J and A/(1 − γ): ε·Vs (rounding of Q-sized numbers) times κ(I − γP_π)·H ≤ 2H², ×50."""
    H = 1.0 / (1.0 - mdp.gamma)
    return 100.0 * EPS * _value_scale(mdp) * H * H


def _scale(mdp: r1.TabularMDP, theta: np.ndarray, lam: float, *xs: np.ndarray) -> float:
    """The natural scale of a direction (module docstring), at least the rounding level of ∇J/λ over RTOL."""
    g = float(np.abs(r1.policy_gradient(mdp, theta)).max())
    npg = float(np.abs(r1.natural_gradient(mdp, theta)).max())
    floor = _noise(mdp) * (1.0 + 1.0 / lam) / RTOL
    return max(float(np.abs(x).max()) for x in xs) + g * (1.0 + 1.0 / lam) + npg + floor


def _assert_close(got: np.ndarray, want: np.ndarray, scale: float, what: str) -> None:
    err = float(np.abs(got - want).max()) if got.size else 0.0
    assert err <= RTOL * scale, f"{what}: max-norm difference {err:.3g} > {RTOL:g}·{scale:.3g}"


def _value_scale(mdp: r1.TabularMDP) -> float:
    return 1.0 + float(np.abs(mdp.r).max()) / (1.0 - mdp.gamma)


def _assert_scalar(a: float | None, b: float | None, scale: float, what: str) -> None:
    if a is None or b is None:
        assert a is None and b is None, what
        return
    if np.isnan(a) or np.isnan(b):
        return  # NaN (a cosine with a zero direction) on one side: decided by rounding of a zero vector
    assert abs(a - b) <= RTOL * scale, f"{what}: {a!r} vs {b!r}"


def _check_directions(
    mdp: r1.TabularMDP, theta: np.ndarray, mdp2: r1.TabularMDP, theta2: np.ndarray, lam: float, perm: Any
) -> None:
    """Every method's direction at (mdp2, θ2) is ``perm`` applied to its direction at (mdp, θ)."""
    for method in r1.METHODS:
        x = r1.direction(method, mdp, theta, _damping(method, lam))
        y = r1.direction(method, mdp2, theta2, _damping(method, lam))
        _assert_close(y, perm(x), _scale(mdp, theta, lam, x, y), f"{method} direction (λ={lam:g})")


def _check_fisher(
    mdp: r1.TabularMDP, theta: np.ndarray, mdp2: r1.TabularMDP, theta2: np.ndarray, lam: float, perm: Any
) -> None:
    """F permutes (F' = ΠFΠᵀ, tested as F'(Πx) = Π(Fx)), σ₁ and its multiplicity are unchanged, the canonical v₁
    permutes, and every diagnostic (a scalar) is unchanged. Cosines are compared only where ∇J is above its
    rounding level (a cosine of two rounding-noise vectors is arbitrary)."""
    F, F2 = r1.fisher(mdp, theta), r1.fisher(mdp2, theta2)
    g, g2 = r1.policy_gradient(mdp, theta), r1.policy_gradient(mdp2, theta2)
    x = np.arange(g.size, dtype=np.float64).reshape(g.shape) / g.size
    for v in (g, x):
        _assert_close(F2.mv(perm(v)), perm(F.mv(v)), 1e-6 * float(np.abs(v).max()) + 1e-300, "F v")
    E, E2 = F.top_eigenspace(), F2.top_eigenspace()
    assert E.multiplicity == E2.multiplicity
    assert abs(E.sigma - E2.sigma) <= 1e-10 * max(E.sigma, 1e-300)
    g_above_noise = float(np.abs(g).max()) > 1e3 * _noise(mdp)
    if g_above_noise and E.sigma > 0.0 and np.abs(E.project(g)).max() > 1e3 * TOP_RTOL * np.abs(g).max():
        _assert_close(E2.canonical_vector(g2), perm(E.canonical_vector(g)), 1.0, "canonical v₁")
    D, D2 = r1.fisher_diagnostics(mdp, theta, lam), r1.fisher_diagnostics(mdp2, theta2, lam)
    for method, d in D.items():
        d2 = D2[method]
        if g_above_noise:
            _assert_scalar(d.cosine, d2.cosine, 1.0, f"{method}.cosine")
        _assert_scalar(d.relative_spectral_error, d2.relative_spectral_error, 1.0, f"{method}.relative_spectral_error")
        for field in ("spectral_error", "frobenius_error"):
            _assert_scalar(getattr(d, field), getattr(d2, field), 1.0 / lam, f"{method}.{field}")
        assert d.top_multiplicity == d2.top_multiplicity, method
        _assert_scalar(d.top_eigenvalue, d2.top_eigenvalue, 1.0, f"{method}.top_eigenvalue")


def _check_histories(
    mdp: r1.TabularMDP,
    theta: np.ndarray,
    mdp2: r1.TabularMDP,
    theta2: np.ndarray,
    lam: float,
    eta: float,
    *,
    param: Any = None,
    param2: Any = None,
) -> None:
    """Every method's J history (T = 3 exact iterations) agrees up to rounding."""
    Vs = _value_scale(mdp)
    for method in r1.METHODS:
        J = [p.ev.J for p in r1.trajectory(mdp, theta, method, eta, 3, _damping(method, lam), param=param)]
        J2 = [p.ev.J for p in r1.trajectory(mdp2, theta2, method, eta, 3, _damping(method, lam), param=param2)]
        assert len(J) == len(J2), method
        err = float(np.max(np.abs(np.subtract(J, J2))))
        assert err <= HIST_RTOL * Vs, f"{method}: J histories differ by {err:.3g} (λ={lam:g}, η={eta:g})"


# ------------------------------------------------------------------------------------------------
# Relabelling states
# ------------------------------------------------------------------------------------------------
@settings(deadline=None)
@given(mdp=_mdps, data=st.data())
def test_relabelling_states_permutes_directions_fisher_and_histories(mdp, data):
    theta = data.draw(_logits(mdp))
    perm = np.array(data.draw(st.permutations(range(mdp.S))), dtype=np.int64)
    lam = data.draw(st.sampled_from(DAMPINGS))
    mdp2, theta2 = relabel_states(mdp, perm), theta[perm]

    def p(x: np.ndarray) -> np.ndarray:
        return x[perm]

    _check_directions(mdp, theta, mdp2, theta2, lam, p)
    _check_fisher(mdp, theta, mdp2, theta2, lam, p)
    _check_histories(mdp, theta, mdp2, theta2, lam, data.draw(st.sampled_from((0.1, 1.0))))


# ------------------------------------------------------------------------------------------------
# Relabelling actions within each state
# ------------------------------------------------------------------------------------------------
@settings(deadline=None)
@given(mdp=_mdps, data=st.data())
def test_relabelling_actions_permutes_directions_fisher_and_histories(mdp, data):
    theta = data.draw(_logits(mdp))
    perms = np.array([data.draw(st.permutations(range(mdp.A))) for _ in range(mdp.S)], dtype=np.int64).reshape(
        mdp.S, mdp.A
    )
    lam = data.draw(st.sampled_from(DAMPINGS))
    mdp2, theta2 = relabel_actions(mdp, perms), _permute_actions(theta, perms)

    def p(x: np.ndarray) -> np.ndarray:
        return _permute_actions(x, perms)

    _check_directions(mdp, theta, mdp2, theta2, lam, p)
    _check_fisher(mdp, theta, mdp2, theta2, lam, p)
    _check_histories(mdp, theta, mdp2, theta2, lam, data.draw(st.sampled_from((0.1, 1.0))))


# ------------------------------------------------------------------------------------------------
# Per-state logit shifts
# ------------------------------------------------------------------------------------------------
_shifts = st.floats(-50.0, 50.0, allow_subnormal=False)


@settings(deadline=None)
@given(mdp=_mdps, data=st.data())
def test_per_state_shift_of_theta_leaves_directions_and_histories_unchanged(mdp, data):
    """Tabular softmax: θ(s, ·) + c(s) is the same policy; every direction is a function of π."""
    theta = data.draw(_logits(mdp))
    c = np.array([data.draw(_shifts) for _ in range(mdp.S)])
    lam = data.draw(st.sampled_from(DAMPINGS))
    theta2 = theta + c[:, None]
    _check_directions(mdp, theta, mdp, theta2, lam, lambda x: x)
    _check_histories(mdp, theta, mdp, theta2, lam, data.draw(st.sampled_from((0.1, 1.0))))


def _with_state_bias(phi: np.ndarray) -> np.ndarray:
    """Append one indicator feature per state, φ(s, a)[k₀ + s'] = [s = s'] for every a: a per-state logit bias."""
    S, A, _ = phi.shape
    bias = np.broadcast_to(np.eye(S)[:, None, :], (S, A, S))
    return np.concatenate([phi, bias], axis=2)


def _centred_sum_bound(p: r1.PolicyPoint) -> np.ndarray:
    """Per-state bound 10·A·ε·Σ_a |g_ℓ(s, a)| on the rounding of a centred row sum (see the test)."""
    return 10.0 * p.mdp.A * np.finfo(float).eps * np.abs(p.logit_gradient).sum(axis=1)


@settings(deadline=None)
@given(mdp=_tied_mdps, data=st.data())
def test_log_linear_state_bias_shift_and_centred_gradient(mdp, data):
    """Log-linear with per-state bias features: shifting the bias parameters leaves every J history unchanged,
    and the gradient along each bias parameter (a direction of constant J) is at rounding of the logit
    gradient's own scale: ∂J/∂b_s = Σ_a g_ℓ(s, a) after the per-state centring (≤ 10·A·ε·Σ_a |g_ℓ(s, a)|), not
    the rounding of the Q-sized advantages that an uncentred pullback passes on."""
    phi = _with_state_bias(data.draw(features(mdp, max_k=3)))
    param = LogLinear(phi)
    k0 = phi.shape[2] - mdp.S
    theta = data.draw(st.one_of(st.just(np.zeros(param.n_params)), parameter_vectors(param.n_params, 10.0)))
    p = r1.policy_point(mdp, theta, param)
    bias_grad = np.abs(p.gradient[k0:])
    assert np.all(bias_grad <= _centred_sum_bound(p)), (bias_grad, _centred_sum_bound(p))
    c = np.array([data.draw(_shifts) for _ in range(mdp.S)])
    theta2 = theta + np.concatenate([np.zeros(k0), c])
    lam = data.draw(st.sampled_from(DAMPINGS))
    eta = data.draw(st.sampled_from((0.1, 1.0)))
    _check_histories(mdp, theta, mdp, theta2, lam, eta, param=param, param2=param)


@settings(deadline=None)
@given(mdp=_tied_mdps, data=st.data())
def test_neural_output_bias_shift_and_centred_gradient(mdp, data):
    """NeuralSoftmax: ℓ(s, ·) = W_L h_s + b_L, so a state-dependent shift is not expressible, but b_L + c·1_A
    shifts every state's logits by c: the J histories are unchanged, and the gradient along 1_A in b_L,
    Σ_s Σ_a g_ℓ(s, a) after centring, is at rounding of the logit gradient's scale."""
    param = NeuralSoftmax(mdp.S, mdp.A, hidden=(3,))
    theta = data.draw(st.one_of(st.just(np.zeros(param.n_params)), parameter_vectors(param.n_params, 3.0)))
    p = r1.policy_point(mdp, theta, param)
    along = abs(float(p.gradient[-mdp.A :].sum()))
    assert along <= 2.0 * float(_centred_sum_bound(p).sum()) + 1e-300
    theta2 = theta.copy()
    theta2[-mdp.A :] += data.draw(_shifts)
    lam = data.draw(st.sampled_from(DAMPINGS))
    _check_histories(mdp, theta, mdp, theta2, lam, 0.1, param=param, param2=param)
