"""Stochastic methods on sampled gradients, their exact expected updates, and their runs.

Every method updates θ ← θ + η · D̂, where D̂ is built from a batch estimate ĝ of ∇J
(:mod:`r1theory.estimators`, B episodes) and, for the preconditioned methods, from sampled scores
u = ∇_θ log π(a|s) = e_{(s,a)} − π_s (on block s):

=========================  ======================================================================
``sgd-pg``                 D̂ = ĝ  (stochastic policy gradient: REINFORCE / GPOMDP / one-sample)
``npg-sample``             D̂ = (F̂ + λI)⁻¹ ĝ, F̂ = (1/m) Σ_j u_j u_jᵀ from m independent
                           (s_j, a_j) ∼ d × π (m = ``fisher_batch``, default B); F̂ is block-diagonal
                           (block s: (1/m) Σ_{j: s_j = s} (e_{a_j} − π_s)(e_{a_j} − π_s)ᵀ), so the damped
                           system is solved exactly on the sample, one A × A block per state.
``r1-sample-same``         V4 with the Fisher sample *equal to* a gradient sample:
                           D̂ = (λI + u uᵀ)⁻¹ ĝ with u the score of the first sample's Fisher pair
                           (:class:`~r1theory.estimators.GradientSample`; iid samples, so this is a
                           uniformly chosen one).
``r1-sample-independent``  V4 with an independent Fisher sample: u the score of one extra draw
                           (s, a) ∼ d × π (:meth:`~r1theory.sampler.TabularSampler.state_actions`).
=========================  ======================================================================

The rank-1 inverses are applied by Sherman–Morrison (:func:`r1theory.sherman_morrison`),
(λI + uuᵀ)⁻¹v = (v − u(uᵀv)/(λ + ‖u‖²))/λ, in O(SA) (docs/claims.md#v4-r1-sample).

Exact expected updates of V4 with the ``one-sample`` estimator (docs/claims.md#v4-r1-sample)
-------------------------------------------------------------------------------------------
With ĝ = (1/B) Σ_i c_i u_i, c_i = (R̂_i − b(s_i))/(1 − γ), E[c_i | s_i, a_i] = (Q − b)(s_i)/(1 − γ):

* independent: E[(λI + uuᵀ)⁻¹ ĝ] = E[(λI + uuᵀ)⁻¹] ∇J, the ``r1-precond`` direction (V3);
* same (u = u_1): E[(λI + u_1u_1ᵀ)⁻¹ ĝ] = (1/B) W_b + (1 − 1/B) V3, since (λI + uuᵀ)⁻¹u = u/(λ + ‖u‖²) and
  the other B − 1 samples are independent of u_1, where
  W_b = Σ_{s,a} d(s)π(a|s) (Q(s,a) − b(s)) u_{s,a} / ((1 − γ)(λ + n(s,a))); W_V is ``r1-same`` (V2).

So the same-sample bias against the independent form is (W_b − V3)/B, exactly, and adding a baseline b(s)
moves the expected same-sample update by −b(s)·d(s)/(B(1 − γ)) · Σ_a π(a|s) u_{s,a}/(λ + n(s,a)) on block
s (:func:`r1_same_baseline_sensitivity`), which is not 0 in general although Σ_a π(a|s)u_{s,a} = 0 makes
the same quantity vanish for PG (and for NPG with an independent Fisher sample).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._types import Array, IntArray
from ._validate import check_damping
from .directions import _checked, direction_at, same_sample_sum
from .estimators import GradientSample, baseline_vector, check_estimator, gradient_sample
from .evaluation import Optimal, optimal
from .mdp import TabularMDP
from .methods import STOCHASTIC_DAMPED, STOCHASTIC_METHODS, Method, get_method, register_method
from .point import PolicyPoint, check_theta, policy_point
from .sampler import TabularSampler, check_count, check_rng
from .score import scores
from .sherman_morrison import sherman_morrison
from .steps import StepRule, as_step_rule

FISHER_FORMS: tuple[str, ...] = ("same", "independent")


def check_stochastic_method(method: Any, damping: Any) -> float:
    """Validate a stochastic method (:data:`STOCHASTIC_METHODS`) and its damping; return λ (0.0 for ``sgd-pg``)."""
    return get_method(method, stochastic=True).check_damping(damping)


def _score(pi: Array, s: int, a: int) -> Array:
    """u_{s,a} = e_{(s,a)} − Σ_b π(b|s) e_{(s,b)} as a flat (S·A,) vector: block s of :func:`scores`, zero elsewhere."""
    u = np.zeros_like(pi)
    u[s] = scores(pi[s : s + 1])[0, a]
    return u.ravel()


def sampled_fisher_solve(pi: Array, states: IntArray, actions: IntArray, v: Array, damping: float) -> Array:
    """(F̂ + λI)⁻¹ v for F̂ = (1/m) Σ_j u_{s_j,a_j} u_{s_j,a_j}ᵀ, blockwise.

    With counts C(s, a) = #{j : (s_j, a_j) = (s, a)} and N_s = Σ_a C(s, a), block s of m·F̂ is
    diag(C_s) − C_s π_sᵀ − π_s C_sᵀ + N_s π_s π_sᵀ; each (A × A) damped block is solved directly.
    """
    S, A = pi.shape
    C = np.bincount(states * A + actions, minlength=S * A).reshape(S, A).astype(np.float64)
    return fisher_counts_solve(pi, C, np.float64(states.size), v, np.float64(damping))


def fisher_counts_solve(pi: Array, C: Array, m: Any, v: Array, damping: Any) -> Array:
    """(F̂ + λI)⁻¹ v from the pair counts C (..., S, A) of m draws (:func:`sampled_fisher_solve`).

    Leading axes are batch axes: ``pi``, ``C`` and ``v`` (..., S, A); ``m`` and ``damping`` scalars or
    arrays of the leading shape (one sample size and one λ per batch element).
    """
    A = pi.shape[-1]
    mm = np.asarray(m, dtype=np.float64)
    lam = np.asarray(damping, dtype=np.float64)
    N = C.sum(axis=-1)
    F = (
        -C[..., :, None] * pi[..., None, :]
        - pi[..., :, None] * C[..., None, :]
        + N[..., None, None] * (pi[..., :, None] * pi[..., None, :])
    )
    diag = np.arange(A)
    F[..., diag, diag] += C
    F /= mm.reshape((*mm.shape, 1, 1, 1))
    F[..., diag, diag] += lam.reshape((*lam.shape, 1, 1))
    return np.linalg.solve(F, v[..., None])[..., 0]


@dataclass(frozen=True)
class StochasticStep:
    """One sampled direction D̂ and the samples it consumed."""

    direction: Array
    gradient: Array
    transitions: int
    episodes: int


@dataclass
class SampleDraw:
    """What a stochastic method builds its direction from at one iterate.

    The point, the batch gradient estimate ĝ (with its samples), and a way to draw more (s, a) ∼ d × π
    whose cost is counted.

    A registered stochastic :class:`~r1theory.methods.Method` has ``sample(draw, λ) -> D̂``.
    """

    sampler: TabularSampler
    point: PolicyPoint
    rng: np.random.Generator
    gradient: GradientSample
    policy_cdf: Array
    batch: int
    fisher_batch: int | None
    horizon: int | None
    transitions: int = 0
    episodes: int = 0

    def state_actions(self, m: int) -> tuple[IntArray, IntArray]:
        """M independent pairs (s, a) ∼ d × π (one geometric-horizon episode each); their cost is added."""
        pairs = self.sampler.state_actions(None, m, self.rng, policy_cdf=self.policy_cdf)
        self.transitions += pairs.transitions
        self.episodes += pairs.episodes
        return pairs.states, pairs.actions


def _sgd_pg(draw: SampleDraw, lam: float) -> Array:
    return draw.gradient.gradient


def _npg_sample(draw: SampleDraw, lam: float) -> Array:
    m = draw.batch if draw.fisher_batch is None else check_count(draw.fisher_batch, "fisher_batch")
    states, actions = draw.state_actions(m)
    return sampled_fisher_solve(draw.point.pi, states, actions, draw.gradient.gradient, lam)


def _rank1_on(draw: SampleDraw, s: int, a: int, lam: float) -> Array:
    """(λI + u uᵀ)⁻¹ ĝ with u the score of (s, a), by Sherman–Morrison."""
    g = draw.gradient.gradient
    return sherman_morrison(_score(draw.point.pi, s, a), lam).mv(g.ravel()).reshape(g.shape)


def _r1_sample_same(draw: SampleDraw, lam: float) -> Array:
    if draw.horizon is not None:
        raise ValueError(
            "r1-sample-same needs geometric termination (horizon=None): only then is the gradient's own "
            "Fisher pair distributed as d × π"
        )
    return _rank1_on(draw, int(draw.gradient.states[0]), int(draw.gradient.actions[0]), lam)


def _r1_sample_independent(draw: SampleDraw, lam: float) -> Array:
    states, actions = draw.state_actions(1)
    return _rank1_on(draw, int(states[0]), int(actions[0]), lam)


for _m in (
    Method("sgd-pg", "SGD-PG", damped=False, sample=_sgd_pg, summary="ĝ"),
    Method("npg-sample", "sample NPG", damped=True, sample=_npg_sample, summary="(F̂ + λI)⁻¹ĝ, F̂ from m fresh (s, a)"),
    Method(
        "r1-sample-same",
        "r1-sample (same)",
        damped=True,
        sample=_r1_sample_same,
        summary="(λI + uuᵀ)⁻¹ĝ, u the score of a gradient sample (V4, same)",
    ),
    Method(
        "r1-sample-independent",
        "r1-sample (independent)",
        damped=True,
        sample=_r1_sample_independent,
        summary="(λI + uuᵀ)⁻¹ĝ, u the score of an independent draw (V4, independent)",
    ),
):
    register_method(_m)


def stochastic_direction(
    method: str,
    sampler: TabularSampler,
    point: PolicyPoint,
    rng: np.random.Generator,
    *,
    estimator: str = "one-sample",
    batch: int = 1,
    baseline: str | None = None,
    horizon: int | None = None,
    damping: float | None = None,
    fisher_batch: int | None = None,
) -> StochasticStep:
    """The sampled direction of a stochastic ``method`` at an evaluated point, with its sample counts.

    ĝ is drawn first (``estimator``, ``batch``, ``baseline``, ``horizon``); the method's ``sample`` then builds
    D̂ from it, drawing further (s, a) pairs where it needs them (counted in the returned sample totals).
    """
    m = get_method(method, stochastic=True)
    lam = m.check_damping(damping)
    cdf = sampler.policy_table(point.pi)
    gs = gradient_sample(sampler, point, estimator, batch, rng, baseline=baseline, horizon=horizon, policy_cdf=cdf)
    draw = SampleDraw(sampler, point, rng, gs, cdf, batch, fisher_batch, horizon, gs.transitions, gs.episodes)
    assert m.sample is not None
    dirn = _checked(m, point.theta, m.sample(draw, lam))
    return StochasticStep(dirn, gs.gradient, draw.transitions, draw.episodes)


# ---------------------------------------------------------------------------------------------
# Exact expectations of the V4 updates (one-sample estimator)
# ---------------------------------------------------------------------------------------------
def same_sample_term(point: PolicyPoint, damping: float, baseline: Any = None) -> Array:
    """W_b = Σ_{s,a} d(s)π(a|s)(Q(s,a) − b(s)) u_{s,a}/((1 − γ)(λ + n(s,a))): E[(λI + uuᵀ)⁻¹ ĝ₁] for B = 1.

    The engine's :func:`r1theory.directions.same_sample_sum` with X = Q − b; with b = V it is the
    ``r1-same`` direction (V2).
    """
    lam = check_damping(damping, positive=True, method="r1-sample-same")
    return same_sample_sum(point, lam, point.ev.Q - baseline_vector(point, baseline)[:, None])


def r1_sample_expectation(
    mdp: TabularMDP,
    theta: Any,
    damping: float,
    fisher: str,
    *,
    batch: int = 1,
    baseline: Any = None,
) -> Array:
    """Exact E[(λI + uuᵀ)⁻¹ ĝ_B] of V4 with the ``one-sample`` estimator (module docstring).

    Parameters
    ----------
    mdp, theta
        The MDP and the softmax logits θ (S, A).
    damping
        λ > 0.
    fisher
        ``"same"`` (u the score of one of the B gradient samples) or ``"independent"``.
    batch
        B, the gradient's batch size.
    baseline
        None, ``"value"`` or an array b (S,); enters only the ``same`` form.
    """
    if fisher not in FISHER_FORMS:
        raise ValueError(f"fisher must be 'same' or 'independent'; got {fisher!r}")
    B = check_count(batch, "batch")
    lam = check_damping(damping, positive=True, method=f"r1-sample-{fisher}")
    p = policy_point(mdp, theta)
    v3 = direction_at(p, "r1-precond", lam)
    if fisher == "independent":
        return v3
    return same_sample_term(p, lam, baseline) / B + (1.0 - 1.0 / B) * v3


def r1_same_baseline_sensitivity(mdp: TabularMDP, theta: Any, damping: float, *, batch: int = 1) -> Array:
    """∂E[update]/∂b(s) of r1-sample-same, block s of the returned (S, A) array (module docstring).

    Block s is −d(s)/(B(1 − γ)) · Σ_a π(a|s) u_{s,a}/(λ + n(s,a)): W_b is linear in b and b(s) enters
    only block s, so this is −(1/B)·:func:`r1theory.directions.same_sample_sum` with X = 1. The same
    derivative for PG is −d(s)/(1 − γ) Σ_a π(a|s)u_{s,a} = 0.
    """
    B = check_count(batch, "batch")
    lam = check_damping(damping, positive=True, method="r1-sample-same")
    p = policy_point(mdp, theta)
    return -same_sample_sum(p, lam, np.ones_like(p.pi)) / B


def pg_baseline_sensitivity(mdp: TabularMDP, theta: Any) -> Array:
    """∂E[ĝ]/∂b(s) for the policy gradient: −d(s)/(1 − γ) Σ_a π(a|s) u_{s,a}, identically 0 (up to rounding)."""
    p = policy_point(mdp, theta)
    block = p.pi - p.pi * p.pi.sum(axis=1, keepdims=True)
    return -(p.ev.d / (1.0 - mdp.gamma))[:, None] * block


@dataclass(frozen=True)
class UpdateEstimate:
    """A Monte-Carlo estimate of an expected update: the mean over ``draws`` iid updates and its standard errors."""

    mean: Array
    se: Array
    draws: int
    transitions: int
    episodes: int


def r1_sample_monte_carlo(
    mdp: TabularMDP,
    theta: Any,
    damping: float,
    fisher: str,
    *,
    draws: int,
    rng: np.random.Generator,
    estimator: str = "one-sample",
    batch: int = 1,
    baseline: str | None = None,
) -> UpdateEstimate:
    """Monte-Carlo E[(λI + uuᵀ)⁻¹ ĝ_B] of V4, vectorised over ``draws`` independent updates.

    One call samples draws·B gradient samples (grouped into ``draws`` batches of B) and, for the
    independent form, ``draws`` extra pairs (s, a) ∼ d × π; every update is applied by a batched
    Sherman–Morrison. With ``baseline="fitted"`` one baseline is fitted for all draws (from an
    independent batch), so the estimate is conditional on it.
    """
    if fisher not in FISHER_FORMS:
        raise ValueError(f"fisher must be 'same' or 'independent'; got {fisher!r}")
    lam = check_damping(damping, positive=True, method=f"r1-sample-{fisher}")
    n = check_count(draws, "draws", minimum=2)
    B = check_count(batch, "batch")
    check_rng(rng)
    sampler = TabularSampler(mdp)
    p = policy_point(mdp, theta)
    cdf = sampler.policy_table(p.pi)
    gs = gradient_sample(sampler, p, estimator, n * B, rng, baseline=baseline, policy_cdf=cdf)
    S, A = mdp.S, mdp.A
    g = gs.per_sample.reshape(n, B, S * A).mean(axis=1)
    transitions, episodes = gs.transitions, gs.episodes
    if fisher == "same":
        s, a = gs.states.reshape(n, B)[:, 0], gs.actions.reshape(n, B)[:, 0]
    else:
        pairs = sampler.state_actions(None, n, rng, policy_cdf=cdf)
        s, a = pairs.states, pairs.actions
        transitions += pairs.transitions
        episodes += pairs.episodes
    u = np.zeros((n, S, A))
    u[np.arange(n), s, :] = -p.pi[s]
    u[np.arange(n), s, a] += 1.0
    X = sherman_morrison(u.reshape(n, S * A), lam).mv(g).reshape(n, S, A)
    return UpdateEstimate(X.mean(axis=0), X.std(axis=0, ddof=1) / np.sqrt(n), n, transitions, episodes)


# ---------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StochasticRun:
    """The history of one stochastic run, recorded at iterations ``t`` (0 and the last included).

    Attributes
    ----------
    t : recorded iteration indices.
    J, gap : exact J(θ_t) and V*(ρ) − J(θ_t).
    grad_norm_sq : exact ‖∇J(θ_t)‖².
    transitions, episodes : cumulative samples consumed by the updates before θ_t.
    theta : the last θ.
    status : "max_iterations" or "diverged" (θ became non-finite; history kept up to the last finite θ).
    """

    method: str
    estimator: str
    baseline: str | None
    batch: int
    damping: float | None
    horizon: int | None
    step: StepRule
    t: IntArray
    J: Array
    gap: Array
    grad_norm_sq: Array
    transitions: IntArray
    episodes: IntArray
    theta: Array
    status: str
    message: str
    J_star: float
    conditions: dict[str, Any] = field(default_factory=dict)

    @property
    def iterations(self) -> int:
        """Number of updates performed."""
        return int(self.t[-1])

    def to_record(self) -> dict[str, Any]:
        """The run as a record: histories as arrays (float64; ``t`` and sample counts int64), the rest JSON-ready.

        :meth:`from_record` rebuilds an equal run from it (the sweep cache stores runs this way).
        """
        return {
            **{k: np.asarray(getattr(self, k), dtype=np.float64) for k in _FLOAT_HISTORIES},
            **{k: np.asarray(getattr(self, k), dtype=np.int64) for k in _INT_HISTORIES},
            **{k: getattr(self, k) for k in _RECORD_SCALARS},
            "J_star": float(self.J_star),
            "step": self.step.as_dict(),
            "conditions": dict(self.conditions),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> StochasticRun:
        """The run a :meth:`to_record` record describes; ValueError naming a missing field."""
        fields = (*_FLOAT_HISTORIES, *_INT_HISTORIES, *_RECORD_SCALARS, "J_star", "step")
        missing = [k for k in fields if k not in record]
        if missing:
            raise ValueError(
                f"stochastic run record lacks the field(s) {', '.join(missing)}; it was not written by "
                "StochasticRun.to_record"
            )

        def f64(k: str) -> Array:
            return np.asarray(record[k], dtype=np.float64)

        def i64(k: str) -> IntArray:
            return np.asarray(record[k], dtype=np.int64)

        return cls(
            t=i64("t"),
            J=f64("J"),
            gap=f64("gap"),
            grad_norm_sq=f64("grad_norm_sq"),
            transitions=i64("transitions"),
            episodes=i64("episodes"),
            theta=f64("theta"),
            method=str(record["method"]),
            estimator=str(record["estimator"]),
            baseline=None if record["baseline"] is None else str(record["baseline"]),
            batch=int(record["batch"]),
            damping=None if record["damping"] is None else float(record["damping"]),
            horizon=None if record["horizon"] is None else int(record["horizon"]),
            status=str(record["status"]),
            message=str(record["message"]),
            J_star=float(record["J_star"]),
            step=StepRule.from_dict(record["step"], "stochastic run record field step"),
            conditions=dict(record.get("conditions") or {}),
        )


_FLOAT_HISTORIES: tuple[str, ...] = ("J", "gap", "grad_norm_sq", "theta")
_INT_HISTORIES: tuple[str, ...] = ("t", "transitions", "episodes")
_RECORD_SCALARS: tuple[str, ...] = (
    "method",
    "estimator",
    "baseline",
    "batch",
    "damping",
    "horizon",
    "status",
    "message",
)


def stochastic_iterate(
    mdp: TabularMDP,
    theta0: Any,
    method: str,
    step: StepRule | float,
    iterations: int,
    rng: np.random.Generator,
    *,
    estimator: str = "one-sample",
    batch: int = 1,
    baseline: str | None = None,
    horizon: int | None = None,
    damping: float | None = None,
    fisher_batch: int | None = None,
    optimum: Optimal | None = None,
    record_every: int = 1,
) -> StochasticRun:
    """Run ``iterations`` stochastic updates θ ← θ + η_t D̂_t of ``method`` from θ₀.

    J, the gap and ‖∇J‖² are computed exactly (the MDP is known) every ``record_every`` iterations and
    at the end; samples consumed (transitions and episodes) are accumulated over all updates. All
    randomness comes from ``rng``, as uniforms in the layout of :mod:`r1theory.sampler` (each update: the
    gradient batch, then the method's extra draws), which is what lets
    :func:`r1theory.stochastic_iterate_batch` reproduce this run among many (since issue #18; a seed gave
    other samples, with the same law, before).

    Raises
    ------
    TypeError, ValueError
        Unknown method/estimator/baseline, missing damping, batch ≤ 0, invalid θ₀, iterations < 0,
        or an rng that is not a ``numpy.random.Generator``.
    """
    lam = check_stochastic_method(method, damping)
    check_estimator(estimator, baseline, horizon)
    B = check_count(batch, "batch")
    T = check_count(iterations, "iterations", minimum=0)
    every = check_count(record_every, "record_every")
    check_rng(rng)
    rule = as_step_rule(step)
    opt = optimum if optimum is not None else optimal(mdp)
    sampler = TabularSampler(mdp)
    point = policy_point(mdp, check_theta(mdp, theta0))
    ts: list[int] = []
    Js: list[float] = []
    g2s: list[float] = []
    trs: list[int] = []
    eps: list[int] = []
    n_tr = n_ep = 0

    def record(t: int, p: PolicyPoint) -> None:
        g = p.gradient
        ts.append(t)
        Js.append(p.ev.J)
        g2s.append(float(np.vdot(g, g)))
        trs.append(n_tr)
        eps.append(n_ep)

    record(0, point)
    status, message = "max_iterations", f"reached the cap of {T} iterations"
    for t in range(T):
        st = stochastic_direction(
            method,
            sampler,
            point,
            rng,
            estimator=estimator,
            batch=B,
            baseline=baseline,
            horizon=horizon,
            damping=None if method == "sgd-pg" else lam,
            fisher_batch=fisher_batch,
        )
        n_tr += st.transitions
        n_ep += st.episodes
        with np.errstate(over="ignore", invalid="ignore"):
            eta = rule(t, st.direction)
            theta = point.theta + eta * st.direction
        if not np.all(np.isfinite(theta)):
            status, message = "diverged", f"non-finite θ after step {t} (η={eta:.3g})"
            if ts[-1] != t:
                record(t, point)
            break
        point = policy_point(mdp, theta)
        if (t + 1) % every == 0 or t + 1 == T:
            record(t + 1, point)
    return StochasticRun(
        method=method,
        estimator=estimator,
        baseline=baseline,
        batch=B,
        damping=None if method == "sgd-pg" else lam,
        horizon=horizon,
        step=rule,
        t=np.asarray(ts, dtype=np.int64),
        J=np.asarray(Js),
        gap=opt.J - np.asarray(Js),
        grad_norm_sq=np.asarray(g2s),
        transitions=np.asarray(trs, dtype=np.int64),
        episodes=np.asarray(eps, dtype=np.int64),
        theta=point.theta,
        status=status,
        message=message,
        J_star=opt.J,
    )


__all__ = [
    "FISHER_FORMS",
    "STOCHASTIC_DAMPED",
    "STOCHASTIC_METHODS",
    "StochasticRun",
    "StochasticStep",
    "UpdateEstimate",
    "check_stochastic_method",
    "pg_baseline_sensitivity",
    "r1_same_baseline_sensitivity",
    "r1_sample_expectation",
    "r1_sample_monte_carlo",
    "same_sample_term",
    "sampled_fisher_solve",
    "stochastic_direction",
    "stochastic_iterate",
]
