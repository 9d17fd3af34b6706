"""Sampled estimators of the policy gradient ∇J(θ), and their bias and variance against the exact one.

Notation: π = softmax(θ); u_{s,a} = ∇_θ log π(a|s) = e_{(s,a)} − Σ_b π(b|s) e_{(s,b)}; n(s,a) = ‖u_{s,a}‖²;
Q, V, d exact (:func:`r1theory.evaluate`); ∇J = Σ_t γᵗ E[u_{sₜ,aₜ} Q(sₜ, aₜ)] = E_{s∼d,a∼π}[u Q]/(1 − γ)
(policy gradient theorem; Agarwal et al. 2021, Lemma C.1). A baseline b(s) enters every estimator through
terms u_{s,a} b(s), whose mean is 0 because Σ_a π(a|s) u_{s,a} = 0, so no baseline changes a mean.

Estimators (each sample is one episode; a batch of B samples is averaged)
------------------------------------------------------------------------
``one-sample``
    Szepesvári's single-trajectory geometric-horizon estimator (RL theory lecture 16):
    run T₁ ∼ Geom₀(1 − γ) transitions from s₀ ∼ ρ to (s, a) = (s_{T₁}, a_{T₁}) ∼ d × π, then T₂ ∼ Geom(1 − γ)
    more steps, R̂ = Σ_{t<T₂} r_{T₁+t} (so E[R̂ | s, a] = Q(s, a)), and
    ĝ = u_{s,a} (R̂ − b(s)) / (1 − γ).            E ĝ = ∇J exactly.
``reinforce``
    ĝ = Σ_{t<L} u_{sₜ,aₜ} (R − wₜ b(sₜ)), R = Σ_{t<L} wₜ rₜ (Williams 1992).
``gpomdp``
    ĝ = Σ_{t<L} u_{sₜ,aₜ} (Σ_{t'=t}^{L−1} w_{t'} r_{t'} − wₜ b(sₜ)) (Baxter & Bartlett 2001: past rewards
    are dropped, as E[u_{sₜ,aₜ} r_{t'}] = 0 for t' < t).

For the episodic estimators, ``horizon=None`` means geometric termination, L ∼ Geom(1 − γ) and wₜ = 1:
P(L > t) = γᵗ turns undiscounted sums into discounted expectations, so E ĝ = ∇J exactly. ``horizon=H``
truncates at L = H with wₜ = γᵗ; then E ĝ = ∇J_H, the gradient of J_H = E Σ_{t<H} γᵗ rₜ, biased by
O(γᴴ); :func:`expected_gradient` computes ∇J_H exactly (below).

Baselines
---------
``None`` (b = 0); ``"value"`` (b = V^π, exact); ``"fitted"``: a per-state Monte-Carlo mean of returns from
an *independent* batch of the same size and kind (one-sample: the mean of R̂ over the draws with s_i = s,
an unbiased estimate of V(s) since a ∼ π; episodic: the mean over visits of the reward-to-go
Σ_{t'≥t} w_{t'} r_{t'}/wₜ, visits with wₜ < 10⁻⁸ skipped); states never visited get the batch's overall
mean. Being independent of the gradient batch, it leaves the estimator unbiased; its samples are counted.

Exact moments
-------------
* Mean: ∇J when the horizon is geometric; for a truncated horizon, with p_t = ρᵀP_πᵗ and the k-step values
  Q_k = r + γ P V_{k−1}, V_k(s) = Σ_a π(a|s) Q_k(s, a), V_0 = 0,
  ∇J_H(s, a) = Σ_{t<H} γᵗ p_t(s) π(a|s) (Q_{H−t}(s, a) − V_{H−t}(s))  (one backward and one forward pass).
* Second moment of ``one-sample`` with a deterministic baseline: ‖ĝ‖² = n(s,a)(R̂ − b(s))²/(1 − γ)², and
  M(s, a) = E[R̂² | s, a] solves M = r² + 2γ r (PV) + γ P m, m(s) = Σ_a π(a|s) M(s, a), i.e.
  m = (I − γP_π)⁻¹ Σ_a π (r² + 2γ r PV) (R̂ = r(s,a) + ξ R̂' with ξ ∼ Bernoulli(γ) the continuation). So
  E‖ĝ‖² = Σ_{s,a} d(s)π(a|s) n(s,a) (M − 2bQ + b²)/(1 − γ)², and trace Cov(ĝ_B) = (E‖ĝ‖² − ‖∇J‖²)/B.
* Everything else (REINFORCE/GPOMDP covariances, fitted baselines) by Monte Carlo,
  :func:`monte_carlo_moments`, with normal-approximation confidence intervals over replicates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from ._types import Array, IntArray
from .mdp import TabularMDP
from .point import PolicyPoint, policy_point
from .sampler import Episodes, TabularSampler, check_count, check_rng
from .score import score_sq_norm

ESTIMATORS: tuple[str, ...] = ("one-sample", "reinforce", "gpomdp")
BASELINES: tuple[str | None, ...] = (None, "value", "fitted")
#: Reward-to-go samples with discount weight below this are not used to fit a baseline.
FIT_WEIGHT_MIN = 1e-8


def check_estimator(estimator: Any, baseline: Any, horizon: Any) -> None:
    """Validate an estimator name, a baseline and a horizon (raises TypeError/ValueError naming the field)."""
    if not isinstance(estimator, str):
        raise TypeError(f"estimator must be a string, one of {', '.join(ESTIMATORS)}; got {type(estimator).__name__}")
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}")
    if baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; choose None, 'value' or 'fitted'")
    if horizon is not None:
        check_count(horizon, "horizon")
        if estimator == "one-sample":
            raise ValueError(
                "horizon must be None for estimator 'one-sample' (it uses geometric horizons T1, T2 by construction)"
            )


@dataclass(frozen=True)
class GradientSample:
    """A batch of B sampled gradients.

    Attributes
    ----------
    estimator, baseline, horizon : how it was sampled.
    per_sample : (B, S, A) the B independent single-episode estimates ĝ_i.
    states, actions : (B,) one (s, a) of each sample, its *Fisher pair*: for ``one-sample`` the pair
        (s_{T₁}, a_{T₁}) ∼ d × π that ĝ_i is built on; for the episodic estimators the last pair
        (s_{L−1}, a_{L−1}) of the episode, which is d × π-distributed under geometric termination.
    coef : (B,) for ``one-sample``, c_i with ĝ_i = c_i u_{s_i,a_i}, c_i = (R̂_i − b(s_i))/(1 − γ);
        NaN for the episodic estimators.
    b : (S,) the baseline used (zeros for None).
    transitions, episodes : samples consumed, the independent batch of a fitted baseline included.
    """

    estimator: str
    baseline: str | None
    horizon: int | None
    per_sample: Array
    states: IntArray
    actions: IntArray
    coef: Array
    b: Array
    transitions: int
    episodes: int

    @property
    def batch(self) -> int:
        """B, the number of samples averaged."""
        return int(self.per_sample.shape[0])

    @property
    def gradient(self) -> Array:
        """The batch estimate ĝ = (1/B) Σ_i ĝ_i, shape (S, A)."""
        return self.per_sample.mean(axis=0)


def _scores_times(pi: Array, s: IntArray, a: IntArray, c: Array, ep: IntArray, B: int) -> Array:
    """Per-episode Σ c_k u_{s_k,a_k} over the entries k of each episode, as (B, S, A) (vectorised bincounts)."""
    S, A = pi.shape
    E = np.bincount((ep * S + s) * A + a, weights=c, minlength=B * S * A).reshape(B, S, A)
    C = np.bincount(ep * S + s, weights=c, minlength=B * S).reshape(B, S)
    return E - C[:, :, None] * pi[None, :, :]


def _per_state_mean(s: IntArray, x: Array, S: int, group: IntArray | None = None, groups: int = 1) -> Array:
    """Mean of x per state; states without data get the overall mean (0 without any data).

    With ``group`` (the group of each entry, < ``groups``), per group and state, shape (groups, S), each
    group's unvisited states getting that group's overall mean; without it, shape (S,).
    """
    key = s if group is None else group * S + s
    counts = np.bincount(key, minlength=groups * S)
    sums = np.bincount(key, weights=x, minlength=groups * S).astype(np.float64)
    g = np.zeros(s.size, dtype=np.int64) if group is None else group
    n_g = np.bincount(g, minlength=groups)
    overall = np.bincount(g, weights=x, minlength=groups) / np.maximum(n_g, 1)
    out = np.repeat(overall, S)
    seen = counts > 0
    out[seen] = sums[seen] / counts[seen]
    return out if group is None else out.reshape(groups, S)


def _one_sample_from(ep: Episodes, T1: IntArray) -> tuple[IntArray, IntArray, Array]:
    """(s, a, R̂) of each one-sample rollout of T₁ + T₂ steps: (s, a) = (s_{T₁}, a_{T₁}), R̂ the rewards from T₁ on."""
    B = ep.n
    after = ep.time >= T1[ep.episode]
    R = np.bincount(ep.episode, weights=ep.rewards * after, minlength=B).astype(np.float64)
    at = np.flatnonzero(ep.time == T1[ep.episode])
    s = np.empty(B, dtype=np.int64)
    a = np.empty(B, dtype=np.int64)
    s[ep.episode[at]] = ep.states[at]
    a[ep.episode[at]] = ep.actions[at]
    return s, a, R


@dataclass(frozen=True)
class _OneSampleDraw:
    s: IntArray
    a: IntArray
    R: Array
    transitions: int


def _one_sample_draw(sampler: TabularSampler, cdf: Array, B: int, rng: np.random.Generator) -> _OneSampleDraw:
    """B draws of ((s, a) ∼ d × π, R̂) along one rollout each: T₁ steps to (s, a), then T₂ steps of rewards.

    Uniforms: B for T₁, B for T₂, then the rollouts' blocks (:mod:`r1theory.sampler`, "layout").
    """
    T1 = sampler.geometric_lengths(B, rng) - 1
    T2 = sampler.geometric_lengths(B, rng)
    ep = sampler.rollout(None, T1 + T2, rng, policy_cdf=cdf)
    s, a, R = _one_sample_from(ep, T1)
    return _OneSampleDraw(s, a, R, ep.transitions)


def _weights(ep: Episodes) -> Array:
    """wₜ: 1 under geometric termination, γᵗ under a truncated horizon."""
    if ep.horizon is None:
        return np.ones(ep.transitions)
    return np.power(ep.gamma, ep.time.astype(np.float64))


#: Episodes per block of :func:`_suffix_sums` (bounds its padded (T, block) scratch array).
_SUFFIX_BLOCK_ENTRIES = 1 << 22


def _suffix_sums(ep: Episodes, x: Array) -> tuple[Array, Array]:
    """Per entry, Σ_{t' ≥ t} x_{t'} within its episode; and per episode the total Σ_t x_t.

    Each episode's sums are formed from its own entries only, x_{L−1} + x_{L−2} + … (a reversed cumulative
    sum along the time axis of a zero-padded (T, episodes) array), so they do not depend on which other
    episodes were sampled with it: the batched runs, which sample many runs' episodes at once, get the
    single run's numbers bit for bit. (Row by row: ``numpy.cumsum`` along the time axis was 7× slower.)
    """
    n = ep.n
    T = int(ep.lengths.max()) if n else 0
    out = np.empty_like(x)
    total = np.zeros(n)
    if not n or not T:
        return out, total
    cols = max(1, _SUFFIX_BLOCK_ENTRIES // T)
    for lo in range(0, n, cols):
        hi = min(n, lo + cols)
        sel = slice(None) if (lo == 0 and hi == n) else np.flatnonzero((ep.episode >= lo) & (ep.episode < hi))
        at = ep.time[sel] * (hi - lo) + (ep.episode[sel] - lo)  # entry (t, e) of a time-major (T, episodes) array
        rc = np.zeros((T, hi - lo))
        rc.reshape(-1)[at] = x[sel]
        for t in range(T - 2, -1, -1):  # rc[t] = x_t + rc[t + 1] = Σ_{t' ≥ t} x_{t'} (padding adds exact zeros)
            rc[t] += rc[t + 1]
        out[sel] = rc.reshape(-1).take(at)
        total[lo:hi] = rc[0]
    return out, total


def _last_pairs(ep: Episodes, which: IntArray | None = None) -> tuple[IntArray, IntArray]:
    """(s_{L−1}, a_{L−1}) of each episode, or of the episodes ``which`` only ((0, 0) for an episode with L = 0).

    Read at the walk's recorded last entries (:attr:`Episodes.last_entry`) when present, else found by a
    search over all entries; the same pairs either way.
    """
    if ep.last_entry is not None:
        k = ep.last_entry if which is None else ep.last_entry.take(which)
        if k.size and k.min() < 0:  # an empty episode: (0, 0), as below
            ok = k >= 0
            s = np.zeros(k.size, dtype=np.int64)
            a = np.zeros(k.size, dtype=np.int64)
            s[ok], a[ok] = ep.states.take(k[ok]), ep.actions.take(k[ok])
            return s, a
        return ep.states.take(k), ep.actions.take(k)
    if which is not None:
        s_all, a_all = _last_pairs(ep)
        return s_all.take(which), a_all.take(which)
    last = np.flatnonzero(ep.time == ep.lengths[ep.episode] - 1)
    s = np.zeros(ep.n, dtype=np.int64)
    a = np.zeros(ep.n, dtype=np.int64)
    s[ep.episode[last]] = ep.states[last]
    a[ep.episode[last]] = ep.actions[last]
    return s, a


def _fit_episodic(ep: Episodes, S: int, run: IntArray | None = None, runs: int = 1) -> Array:
    """Fitted baseline from an independent batch: per-state mean of the reward-to-go Σ_{t'≥t} w_{t'} r_{t'}/wₜ.

    With ``run`` (the run of each episode), one baseline per run, shape (runs, S).
    """
    w = _weights(ep)
    suffix, _ = _suffix_sums(ep, w * ep.rewards)
    ok = w >= FIT_WEIGHT_MIN
    group = None if run is None else run[ep.episode[ok]]
    return _per_state_mean(ep.states[ok], suffix[ok] / w[ok], S, group, runs)


def _episodic_coefficients(
    ep: Episodes, estimator: str, b: Array, run: IntArray | None = None, *, cell: IntArray | None = None
) -> Array:
    """The weight c_k of each entry's score in REINFORCE or GPOMDP: ĝ_i = Σ_{k ∈ episode i} c_k u_{s_k,a_k}.

    GPOMDP: c = Σ_{t' ≥ t} w_{t'} r_{t'} − wₜ b(sₜ); REINFORCE: c = Σ_{t'} w_{t'} r_{t'} − wₜ b(sₜ). ``b`` is one
    baseline (S,), or one per run (R, S) with ``run[i]`` the run of episode i — or ``cell[k]`` the flat index
    ``run[episode[k]]·S + s_k`` of entry k's baseline in b (when the caller has it already).
    """
    if cell is not None:
        base = b.reshape(-1).take(cell)
    else:
        base = b[ep.states] if run is None else b[run[ep.episode], ep.states]
    if ep.horizon is None:  # wₜ = 1: the same numbers without the products by 1.0
        suffix, total = _suffix_sums(ep, ep.rewards)
        return (suffix if estimator == "gpomdp" else total[ep.episode]) - base
    w = _weights(ep)
    suffix, total = _suffix_sums(ep, w * ep.rewards)
    ret = suffix if estimator == "gpomdp" else total[ep.episode]
    return ret - w * base


def _episodic_per_sample(ep: Episodes, estimator: str, pi: Array, b: Array) -> tuple[Array, IntArray, IntArray]:
    """REINFORCE or GPOMDP per-episode estimates (n, S, A) of one policy with baseline b; each episode's last pair."""
    c = _episodic_coefficients(ep, estimator, b)
    per = _scores_times(pi, ep.states, ep.actions, c, ep.episode, ep.n)
    s_last, a_last = _last_pairs(ep)
    return per, s_last, a_last


def _run_means(
    pi: Array, s: IntArray, a: IntArray, c: Array, run: IntArray, B: IntArray, *, cell: IntArray | None = None
) -> Array:
    """(1/B_r) Σ_{k ∈ run r} c_k u_{s_k,a_k} for R runs at once, shape (R, S, A) (``run[k]`` the run of entry k).

    The batch mean of :func:`_scores_times` without the per-sample array: one bincount per (run, s, a), each
    run's entries summed in their own order (so a run's mean does not depend on the other runs). Entries with
    ``run[k]`` ≥ R are left out (their bins are dropped). ``cell`` = run·S + s when the caller has it already.
    """
    R, S, A = pi.shape
    rs = run * S + s if cell is None else cell
    E = np.bincount(rs * A + a, weights=c, minlength=R * S * A)[: R * S * A].reshape(R, S, A)
    C = np.bincount(rs, weights=c, minlength=R * S)[: R * S].reshape(R, S)
    return (E - C[:, :, None] * pi) / B[:, None, None]


def gradient_sample(
    sampler: TabularSampler,
    point: PolicyPoint,
    estimator: str,
    batch: int,
    rng: np.random.Generator,
    *,
    baseline: str | None = None,
    horizon: int | None = None,
    policy_cdf: Array | None = None,
) -> GradientSample:
    """B sampled gradients at an evaluated point, with a prebuilt sampler (the fast path of the stochastic runs).

    ``point`` supplies π and, for ``baseline="value"``, the exact V. See :func:`sample_gradient`. The scores
    are those of the tabular softmax, ∇_θ log π(a|s) = e_{(s,a)} − π_s; ``per_sample`` holds B·S·A floats.
    """
    if not point.param.is_tabular:
        raise ValueError("the sampled estimators use tabular softmax scores; point must be a tabular softmax point")
    check_estimator(estimator, baseline, horizon)
    B = check_count(batch, "batch")
    check_rng(rng)
    mdp = point.mdp
    S, g = mdp.S, mdp.gamma
    pi = point.pi
    cdf = sampler.policy_table(pi) if policy_cdf is None else policy_cdf
    if estimator == "one-sample":
        draw = _one_sample_draw(sampler, cdf, B, rng)
        transitions, episodes = draw.transitions, B
        if baseline == "fitted":
            fit = _one_sample_draw(sampler, cdf, B, rng)
            b = _per_state_mean(fit.s, fit.R, S)
            transitions += fit.transitions
            episodes += B
        else:
            b = point.ev.V.copy() if baseline == "value" else np.zeros(S)
        c = (draw.R - b[draw.s]) / (1.0 - g)
        per = _scores_times(pi, draw.s, draw.a, c, np.arange(B), B)
        return GradientSample(estimator, baseline, None, per, draw.s, draw.a, c, b, transitions, episodes)
    ep = sampler.episodes(None, B, rng, horizon=horizon, policy_cdf=cdf)
    transitions, episodes = ep.transitions, B
    if baseline == "fitted":
        fit_ep = sampler.episodes(None, B, rng, horizon=horizon, policy_cdf=cdf)
        b = _fit_episodic(fit_ep, S)
        transitions += fit_ep.transitions
        episodes += B
    else:
        b = point.ev.V.copy() if baseline == "value" else np.zeros(S)
    per, s_last, a_last = _episodic_per_sample(ep, estimator, pi, b)
    return GradientSample(
        estimator, baseline, horizon, per, s_last, a_last, np.full(B, np.nan), b, transitions, episodes
    )


def sample_gradient(
    mdp: TabularMDP,
    theta: Any,
    estimator: str = "one-sample",
    *,
    batch: int,
    rng: np.random.Generator,
    baseline: str | None = None,
    horizon: int | None = None,
) -> GradientSample:
    """Sample B independent estimates of ∇J(θ) and their mean (``.gradient``).

    Parameters
    ----------
    mdp, theta
        The MDP and the softmax logits θ (S, A).
    estimator
        ``"one-sample"``, ``"reinforce"`` or ``"gpomdp"`` (module docstring).
    batch
        B ≥ 1 episodes (one per sample).
    rng
        A ``numpy.random.Generator``; the only source of randomness.
    baseline
        None, ``"value"`` (exact V) or ``"fitted"`` (per-state Monte-Carlo means from an independent
        batch of B more episodes, counted in ``transitions``/``episodes``).
    horizon
        None for geometric termination (unbiased); an integer H ≥ 1 for truncation at H with
        discount weights γᵗ (mean ∇J_H; not for ``one-sample``).

    Raises
    ------
    TypeError, ValueError
        Unknown estimator or baseline, batch ≤ 0, an invalid horizon, θ of the wrong shape, or an rng
        that is not a ``numpy.random.Generator``.
    """
    check_estimator(estimator, baseline, horizon)
    check_count(batch, "batch")
    check_rng(rng)
    return gradient_sample(
        TabularSampler(mdp), policy_point(mdp, theta), estimator, batch, rng, baseline=baseline, horizon=horizon
    )


# ---------------------------------------------------------------------------------------------
# Exact moments
# ---------------------------------------------------------------------------------------------
def truncated_gradient(point: PolicyPoint, horizon: int) -> Array:
    """∇J_H = Σ_{t<H} γᵗ p_t(s) π(a|s)(Q_{H−t}(s,a) − V_{H−t}(s)), J_H = E Σ_{t<H} γᵗ r(sₜ, aₜ) (module docstring)."""
    H = check_count(horizon, "horizon")
    mdp, pi = point.mdp, point.pi
    g = mdp.gamma
    P_pi: Any = mdp.transition_matrix(pi)
    # backward pass: Q_k, V_k for k = 1..H (A_k = Q_k − V_k kept)
    adv = np.empty((H + 1, mdp.S, mdp.A))
    V = np.zeros(mdp.S)
    for k in range(1, H + 1):
        Q = mdp.r + g * mdp.expected_next(V)
        V = np.einsum("sa,sa->s", pi, Q)
        adv[k] = Q - V[:, None]
    # forward pass over t with p_t = ρᵀ P_πᵗ
    out = np.zeros((mdp.S, mdp.A))
    p = mdp.rho.copy()
    w = 1.0
    for t in range(H):
        out += w * p[:, None] * pi * adv[H - t]
        p = np.asarray(P_pi.T @ p, dtype=np.float64)
        w *= g
    return out


def expected_gradient(
    mdp: TabularMDP, theta: Any, estimator: str = "one-sample", *, horizon: int | None = None
) -> Array:
    """The exact mean E ĝ of an estimator: ∇J for geometric horizons, ∇J_H for a truncated horizon H.

    The baseline does not enter: E[u_{s,a} b(s)] = 0 for any function b of the state.
    """
    check_estimator(estimator, None, horizon)
    p = policy_point(mdp, theta)
    return p.gradient if horizon is None else truncated_gradient(p, horizon)


def return_second_moment(point: PolicyPoint) -> Array:
    """M(s, a) = E[R̂² | s, a] for R̂ = Σ_{t<T₂} r_t, T₂ ∼ Geom(1 − γ), from (s, a) (module docstring)."""
    mdp, pi = point.mdp, point.pi
    g = mdp.gamma
    PV = mdp.expected_next(point.ev.V)
    base = mdp.r**2 + 2.0 * g * mdp.r * PV
    c_pi = np.einsum("sa,sa->s", pi, base)
    P_pi: Any = mdp.transition_matrix(pi)
    if scipy.sparse.issparse(P_pi):  # a sparse MDP
        M = scipy.sparse.identity(mdp.S, format="csc") - g * scipy.sparse.csc_matrix(P_pi)
        m = np.asarray(scipy.sparse.linalg.spsolve(M, c_pi), dtype=np.float64)
    else:
        m = scipy.linalg.solve(np.eye(mdp.S) - g * P_pi, c_pi)
    return base + g * mdp.expected_next(m)


def baseline_vector(point: PolicyPoint, baseline: Any) -> Array:
    """The state baseline b (shape (S,)) of an exact expectation: 0 for None, V^π for "value", or the array given.

    Raises
    ------
    ValueError
        For "fitted" (a fitted baseline is random: its exact expectations do not exist, use Monte Carlo),
        an unknown name, or an array of the wrong shape.
    """
    if baseline is None:
        return np.zeros(point.mdp.S)
    if isinstance(baseline, str):
        if baseline == "value":
            return point.ev.V.copy()
        if baseline == "fitted":
            raise ValueError(
                "baseline 'fitted' is random, so its exact expectations do not exist: use Monte Carlo "
                "(monte_carlo_moments, r1_sample_monte_carlo)"
            )
        raise ValueError(f"unknown baseline {baseline!r}; choose None, 'value' or an array b of shape (S,)")
    b = np.asarray(baseline, dtype=np.float64)
    if b.shape != (point.mdp.S,):
        raise ValueError(f"baseline must have shape (S,) = ({point.mdp.S},); got {b.shape}")
    return b


def one_sample_second_moment(point: PolicyPoint, baseline: Any = None) -> float:
    """E‖ĝ‖² of one ``one-sample`` estimate with a deterministic baseline (None, "value" or b (S,)).

    E‖ĝ‖² = Σ_{s,a} d(s)π(a|s) n(s,a) (M(s,a) − 2b(s)Q(s,a) + b(s)²)/(1 − γ)².
    """
    b = baseline_vector(point, baseline)
    M = return_second_moment(point)
    e2 = M - 2.0 * b[:, None] * point.ev.Q + b[:, None] ** 2
    w = point.ev.d[:, None] * point.pi * score_sq_norm(point.pi)
    return float(np.sum(w * e2)) / (1.0 - point.mdp.gamma) ** 2


@dataclass(frozen=True)
class Moments:
    """Mean and covariance of a batch gradient estimator ĝ_B against the exact ∇J.

    Attributes
    ----------
    method : "exact" or "monte-carlo".
    batch : B, the number of samples averaged in ĝ_B.
    gradient : (S, A) the exact ∇J.
    mean : (S, A) E ĝ_B (exact, or the Monte-Carlo average over replicates).
    bias : mean − ∇J; ``bias_norm`` its Euclidean norm.
    cov_trace : trace Cov(ĝ_B) = E‖ĝ_B − E ĝ_B‖².
    replicates : number of independent ĝ_B averaged (0 when exact).
    mean_se : (S, A) standard errors of ``mean`` (None when exact).
    mean_ci : per-coordinate (lower, upper) normal intervals at ``confidence`` (None when exact).
    cov_trace_ci : (lower, upper) normal interval for ``cov_trace`` (None when exact).
    exact_mean : (S, A) the exact E ĝ_B when known (∇J or ∇J_H), else None.
    """

    method: str
    batch: int
    gradient: Array
    mean: Array
    bias: Array
    bias_norm: float
    cov_trace: float
    confidence: float
    replicates: int = 0
    mean_se: Array | None = None
    mean_ci: tuple[Array, Array] | None = None
    cov_trace_ci: tuple[float, float] | None = None
    exact_mean: Array | None = None


def exact_moments(mdp: TabularMDP, theta: Any, *, batch: int = 1, baseline: Any = None) -> Moments:
    """Exact mean (∇J) and trace Cov = (E‖ĝ‖² − ‖∇J‖²)/B of the ``one-sample`` estimator with a fixed baseline."""
    B = check_count(batch, "batch")
    p = policy_point(mdp, theta)
    g = p.gradient
    second = one_sample_second_moment(p, baseline)
    tr = (second - float(np.vdot(g, g))) / B
    return Moments("exact", B, g, g.copy(), np.zeros_like(g), 0.0, max(tr, 0.0), 1.0, exact_mean=g.copy())


def monte_carlo_moments(
    draw: Callable[[np.random.Generator], Array],
    rng: np.random.Generator,
    *,
    replicates: int,
    gradient: Array,
    batch: int = 1,
    confidence: float = 0.95,
    exact_mean: Array | None = None,
) -> Moments:
    """Monte-Carlo mean, bias and covariance trace of any estimator ``draw(rng) -> ĝ_B`` (S, A).

    With R independent replicates x_1..x_R: mean x̄, per-coordinate standard errors sd/√R and normal
    intervals x̄ ± z·se (z the two-sided ``confidence`` quantile); trace Cov = Σ_k var_k (unbiased
    sample variances), with a normal interval from the standard error of the per-replicate squared
    deviations ‖x_r − x̄‖² (CLT; approximate for small R).
    """
    check_rng(rng)
    R = check_count(replicates, "replicates", minimum=2)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence}")
    target = np.asarray(gradient, dtype=np.float64)
    X = np.stack([np.asarray(draw(rng), dtype=np.float64) for _ in range(R)])
    if X.shape[1:] != target.shape:
        raise ValueError(f"draw must return arrays of the gradient's shape {target.shape}; got {X.shape[1:]}")
    mean = X.mean(axis=0)
    dev = X - mean
    var = (dev**2).sum(axis=0) / (R - 1)
    se = np.sqrt(var / R)
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    sq = (dev**2).reshape(R, -1).sum(axis=1) * R / (R - 1)
    tr = float(sq.mean())
    tr_se = float(sq.std(ddof=1) / np.sqrt(R))
    bias = mean - target
    return Moments(
        method="monte-carlo",
        batch=int(batch),
        gradient=target,
        mean=mean,
        bias=bias,
        bias_norm=float(np.linalg.norm(bias)),
        cov_trace=tr,
        confidence=confidence,
        replicates=R,
        mean_se=se,
        mean_ci=(mean - z * se, mean + z * se),
        cov_trace_ci=(max(tr - z * tr_se, 0.0), tr + z * tr_se),
        exact_mean=exact_mean,
    )


def gradient_moments(
    mdp: TabularMDP,
    theta: Any,
    estimator: str = "one-sample",
    *,
    batch: int = 1,
    baseline: str | None = None,
    horizon: int | None = None,
    rng: np.random.Generator | None = None,
    replicates: int = 1000,
    confidence: float = 0.95,
    method: str = "auto",
) -> Moments:
    """Bias and variance of an estimator against ∇J: exactly where tractable, otherwise by Monte Carlo.

    ``method="auto"`` is exact for ``one-sample`` with baseline None or "value" and Monte Carlo
    (``replicates`` batches drawn from ``rng``) otherwise; the exact mean (∇J or ∇J_H) is attached to
    Monte-Carlo results as ``exact_mean``.
    """
    check_estimator(estimator, baseline, horizon)
    if method not in ("auto", "exact", "monte-carlo"):
        raise ValueError(f"method must be 'auto', 'exact' or 'monte-carlo'; got {method!r}")
    tractable = estimator == "one-sample" and baseline != "fitted"
    if method == "exact" and not tractable:
        raise ValueError(
            f"exact moments are available for estimator 'one-sample' with baseline None or 'value' only; "
            f"got estimator={estimator!r}, baseline={baseline!r}"
        )
    if method != "monte-carlo" and tractable:
        return exact_moments(mdp, theta, batch=batch, baseline=baseline)
    if rng is None:
        raise ValueError("rng (a numpy.random.Generator) is required for Monte-Carlo moments")
    B = check_count(batch, "batch")
    sampler = TabularSampler(mdp)
    p = policy_point(mdp, theta)
    cdf = sampler.policy_table(p.pi)
    exact = p.gradient if horizon is None else truncated_gradient(p, horizon)

    def draw(r: np.random.Generator) -> Array:
        return gradient_sample(sampler, p, estimator, B, r, baseline=baseline, horizon=horizon, policy_cdf=cdf).gradient

    return monte_carlo_moments(
        draw, rng, replicates=replicates, gradient=p.gradient, batch=B, confidence=confidence, exact_mean=exact
    )


@dataclass(frozen=True)
class ZTest:
    """A Bonferroni z-test of H₀: E ĝ = target, coordinate by coordinate.

    ``statistic`` = max_k |mean_k − target_k|/se_k over the K coordinates with se_k > 0; H₀ is rejected
    when it exceeds ``threshold`` = z_{1−α/(2K)}, so the false-alarm probability is at most α (normal
    approximation). Coordinates with se_k = 0 must match the target to ``atol``.
    """

    statistic: float
    threshold: float
    alpha: float
    coordinates: int
    worst: tuple[int, ...]
    rejected: bool


def z_test(moments: Moments, target: Array | None = None, *, alpha: float = 1e-3, atol: float = 1e-12) -> ZTest:
    """Test whether a Monte-Carlo mean is consistent with ``target`` (default: the exact ∇J)."""
    if moments.mean_se is None:
        raise ValueError("z_test needs Monte-Carlo moments (mean_se is None for exact moments)")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha}")
    tgt = moments.gradient if target is None else np.asarray(target, dtype=np.float64)
    diff = moments.mean - tgt
    se = moments.mean_se
    live = se > 0
    K = int(live.sum())
    z = np.zeros_like(diff)
    z[live] = np.abs(diff[live]) / se[live]
    dead_bad = bool(np.any(np.abs(diff[~live]) > atol))
    threshold = NormalDist().inv_cdf(1.0 - alpha / (2.0 * max(K, 1)))
    stat = float(z.max()) if K else 0.0
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(z)), z.shape))
    return ZTest(stat, threshold, alpha, K, worst, rejected=bool(stat > threshold or dead_bad))
