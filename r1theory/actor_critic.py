r"""On-policy actor-critic on an exact tabular MDP, R seeds in lockstep: A2C, SM-ActorCritic and NPG-CG.

The algorithm of arXiv 2601.18626 ("SM-ActorCritic", SMAC) is an actor-critic whose actor step is
(λI + uuᵀ)⁻¹ĝ with u one sampled score, applied by Sherman–Morrison. This module runs it, and the two
baselines the paper compares with, against a *learned* critic, while computing at every recorded iterate
what only an exact MDP can give: J, the gap, ‖∇J‖, the critic's error ‖V_w − V^π‖_d and the exact expected
actor update given the current critic, so that a method's error splits into critic-induced bias and
sampling variance (docs/claims.md#smac-vs-baselines).

Sampling (one iteration, per run; the one-sample scheme of :mod:`r1theory.estimators`)
---------------------------------------------------------------------------------------
Each of the B episodes of a minibatch starts at s₀ ∼ ρ, runs T₁ ∼ Geom₀(1 − γ) transitions to the pair
(sᵢ, aᵢ) = (s_{T₁}, a_{T₁}) ∼ d × π (d the normalised discounted visitation), then continues from it for
m transitions: m = T₂ ∼ Geom(1 − γ) when the advantage needs the whole continuation (λ_GAE > 0), else
m = min(T₂, n) (the critic's n-step target needs at most n). An episode that enters an absorbing,
reward-free state stops there: everything after it is 0, and so is the critic's value there (below).
Every draw is an inverse-CDF draw (the tables of :class:`r1theory.TabularSampler`); a run's random numbers
come from its own generator in a fixed order (T₁, T₂, [T₁ of the independent draw], then one block of
uniforms: the start states, then 2 per step of each episode), so R runs stepped together give the same
numbers as R runs stepped one by one.

Critic
------
V_w = Φw with features Φ (S, k) (``linear``), or V_w = w (``tabular``, Φ = I), with V_w(s) = 0 on absorbing
reward-free states (their value under every policy). ``exact`` is the oracle: V_w = V^π at every iterate,
nothing learned. The learned critics take the semi-gradient n-step TD step on the B pairs,

    w ← w + α (1/B) Σᵢ (Gᵢ − V_w(sᵢ)) φ(sᵢ),   Gᵢ = Σ_{k<min(n, mᵢ)} r_k + 1[mᵢ ≥ n] γ V_w(s_n)

(the continuation's rewards and states; with geometric termination, P(mᵢ ≥ n) = γ^{n−1} and the bootstrap's
γ makes E[Gᵢ | sᵢ] = (T_n V_w)(sᵢ), the n-step Bellman operator T_n V = Σ_{k<n} γᵏP_πᵏr_π + γⁿP_πⁿV).
As sᵢ ∼ d, the expected step is α Φᵀ D (T_n V_w − V_w), D = diag(d): its fixed point
(:func:`td_fixed_point`) is the TD solution under the exact on-policy distribution, V^π itself for the
tabular critic on the states d reaches.

Advantage: GAE(λ_GAE) on the continuation, Âᵢ = Σ_{k<mᵢ} λ_GAEᵏ δ_k, δ_k = r_k + γV_w(s_{k+1}) − V_w(s_k)
(λ_GAE = 0: the TD error; λ_GAE = 1: the Monte-Carlo return minus V_w(sᵢ)). The survival P(k < mᵢ) = γᵏ
turns λᵏ into the usual (γλ)ᵏ in expectation (:func:`expected_advantage`):

    X_w(s, a) = E[Â | s, a] = δ_w(s, a) + γλ Σ_{s'} P(s'|s, a) y(s'),   (I − γλP_π) y = Σ_a π δ_w,

δ_w = r + γPV_w − V_w; X_w = A^π when V_w = V^π (any λ), X_w = Q^π − V_w when λ = 1 (any V_w).

Actors (``actor``; θ ← θ + Δθ)
----------------------------------
ĝ = (1/B) Σᵢ Âᵢ u_{sᵢ,aᵢ} / (1 − γ), u_{s,a} = ∇_θ log π(a|s); E[ĝ] = Σ_{s,a} d(s)π(a|s)X_w(s,a)u_{s,a}/(1 − γ),
which is ∇J when X_w = A^π (the policy gradient theorem).

=====================  ==============================================================================
``a2c``                Δθ = η ĝ
``smac-same``          Δθ = η (λI + uuᵀ)⁻¹ĝ, u = u_{s₁,a₁} the score of the minibatch's first pair
                       (a d × π draw, as in ``r1-sample-same``); Sherman–Morrison
                       (:func:`r1theory.sherman_morrison`), O(SA)
``smac-independent``   the same with u the score of one independent draw (s, a) ∼ d × π (one more
                       episode, counted), as in ``r1-sample-independent``
``npg-cg``             x ≈ (F̂ + λI)⁻¹ĝ by ``cg_iters`` conjugate-gradient steps (relative residual
                       ``cg_tol``), F̂ = (1/B) Σᵢ uᵢuᵢᵀ the minibatch's empirical Fisher; Δθ = √(2δ/xᵀF̂x)·x,
                       the step that puts the quadratic KL model ½ΔθᵀF̂Δθ on the trust-region radius δ =
                       ``actor_step`` (TRPO's natural step, ACKTR's without the η cap); **no line
                       search** (on an exact MDP the step is judged by the exact J it reaches)
=====================  ==============================================================================

Exact expected update given the critic (:func:`expected_update`; docs/claims.md#v4-r1-sample)
-----------------------------------------------------------------------------------------------
With M = E_{s∼d,a∼π}[(λI + uuᵀ)⁻¹] (the ``r1-precond`` preconditioner) and W(X) = Σ dπ X u/((1 − γ)(λ + n))
(:func:`r1theory.directions.same_sample_sum`): a2c E[ĝ]; smac-independent M E[ĝ]; smac-same
W(X_w)/B + (1 − 1/B) M E[ĝ] (u is independent of the other B − 1 pairs and (λI + uuᵀ)⁻¹u = u/(λ + n)).
The *critic-induced bias* is E[update | V_w] − E[update | V^π] at the same θ. With λ_GAE = 1 the critic is
only a baseline: a2c's and smac-independent's biases vanish (Σ_a π u = 0), smac-same's is
W(V^π − V_w)/B, which does not (:func:`r1theory.stochastic.r1_same_baseline_sensitivity`). npg-cg's
expected update is not a finite enumeration (it is nonlinear in the minibatch); its recorded bias is that
of its gradient input E[ĝ].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from ._types import Array, IntArray
from ._validate import as_real_array, as_scalar, check_damping, check_finite
from .batch import batch_policy_point
from .directions import same_sample_sum
from .evaluation import Optimal, _dense_values, optimal
from .mdp import TabularMDP
from .methods import get_method
from .point import PolicyPoint, check_theta, policy_point
from .sampler import TabularSampler, _draw, check_count, cumulative_rows
from .score import combine_scores
from .sherman_morrison import sherman_morrison
from .softmax import log_softmax

#: The actors: the paper's SMAC (Fisher sample from the minibatch, or an independent draw) and its baselines.
ACTORS: tuple[str, ...] = ("a2c", "smac-same", "smac-independent", "npg-cg")
#: Actors that take a damping λ > 0.
DAMPED_ACTORS: tuple[str, ...] = ("smac-same", "smac-independent", "npg-cg")
#: The critics: learned tabular V_w = w, learned linear V_w = Φw, and the exact-value oracle V_w = V^π.
CRITICS: tuple[str, ...] = ("tabular", "linear", "exact")


def _positive(value: Any, field_name: str, accepted: str, upper: float | None = None) -> float:
    """A finite real > 0 (and ≤ ``upper``), or ValueError/TypeError naming the option and what is accepted."""
    try:
        x = as_scalar(value, field_name)
    except TypeError as exc:
        raise TypeError(f"{exc}; accepted: {accepted}") from None
    except ValueError as exc:
        raise ValueError(f"{exc}; accepted: {accepted}") from None
    if not x > 0 or (upper is not None and x > upper):
        raise ValueError(f"{field_name} must be {accepted}; got {x}")
    return x


@dataclass(frozen=True)
class ActorCriticConfig:
    """One actor-critic configuration (module docstring); validated on construction.

    Attributes
    ----------
    actor : one of :data:`ACTORS`.
    actor_step : η > 0 (for ``npg-cg`` the trust-region radius δ > 0 of its KL-constrained step).
    critic : one of :data:`CRITICS`.
    critic_step : α ∈ (0, 1] of the TD step (ignored by the ``exact`` critic).
    batch : B ≥ 1 episodes (actor pairs) per iteration.
    damping : λ > 0 for ``smac-*`` and ``npg-cg``; None for ``a2c``.
    gae_lambda : λ_GAE ∈ [0, 1] (0: TD-error advantage; 1: Monte-Carlo return minus V_w).
    n_step : n ≥ 1 of the critic's n-step TD target.
    features : Φ (S, k) for the ``linear`` critic (None otherwise).
    cg_iters, cg_tol : conjugate-gradient iterations (≥ 1) and relative residual (> 0) of ``npg-cg``.
    """

    actor: str
    actor_step: float
    critic: str = "tabular"
    critic_step: float = 0.5
    batch: int = 16
    damping: float | None = None
    gae_lambda: float = 1.0
    n_step: int = 1
    features: Array | None = field(default=None, repr=False, compare=False)
    cg_iters: int = 10
    cg_tol: float = 1e-10

    def __post_init__(self) -> None:
        if not isinstance(self.actor, str) or self.actor not in ACTORS:
            raise ValueError(f"actor must be one of {', '.join(ACTORS)}; got {self.actor!r}")
        if not isinstance(self.critic, str) or self.critic not in CRITICS:
            raise ValueError(f"critic must be one of {', '.join(CRITICS)}; got {self.critic!r}")
        what = "the KL radius δ, a finite number > 0" if self.actor == "npg-cg" else "a finite number > 0"
        object.__setattr__(self, "actor_step", _positive(self.actor_step, "actor_step", what))
        object.__setattr__(
            self, "critic_step", _positive(self.critic_step, "critic_step", "a finite number in (0, 1]", 1.0)
        )
        object.__setattr__(self, "batch", check_count(self.batch, "batch (episodes per iteration)"))
        object.__setattr__(self, "n_step", check_count(self.n_step, "n_step (of the critic's TD target)"))
        object.__setattr__(self, "cg_iters", check_count(self.cg_iters, "cg_iters"))
        object.__setattr__(self, "cg_tol", _positive(self.cg_tol, "cg_tol", "a finite number > 0"))
        lam = as_scalar(self.gae_lambda, "gae_lambda")
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f"gae_lambda must lie in [0, 1] (0: TD error, 1: Monte-Carlo advantage); got {lam}")
        object.__setattr__(self, "gae_lambda", lam)
        if self.actor in DAMPED_ACTORS:
            if self.damping is None:
                raise ValueError(f"actor {self.actor!r} needs damping=λ > 0 (e.g. damping=1.0)")
            object.__setattr__(self, "damping", check_damping(self.damping, positive=True, method=self.actor))
        elif self.damping is not None:
            raise ValueError(f"actor {self.actor!r} is undamped but damping={self.damping} was given; pass None")
        if self.critic == "linear":
            if self.features is None:
                raise ValueError("critic 'linear' needs features=Φ of shape (S, k)")
            phi = as_real_array(self.features, "features")
            if phi.ndim != 2 or phi.shape[1] < 1:
                raise ValueError(f"features must have shape (S, k) with k >= 1; got {phi.shape}")
            check_finite(phi, "features")
            object.__setattr__(self, "features", phi)
        elif self.features is not None:
            raise ValueError(f"features are used only by critic 'linear'; critic is {self.critic!r}")

    @property
    def lam(self) -> float:
        """λ (0.0 for a2c)."""
        return 0.0 if self.damping is None else float(self.damping)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (the features as a shape only)."""
        return {
            "actor": self.actor,
            "actor_step": self.actor_step,
            "critic": self.critic,
            "critic_step": self.critic_step,
            "batch": self.batch,
            "damping": self.damping,
            "gae_lambda": self.gae_lambda,
            "n_step": self.n_step,
            "features_shape": None if self.features is None else list(self.features.shape),
            "cg_iters": self.cg_iters,
            "cg_tol": self.cg_tol,
        }


def _check_mdp(mdp: Any) -> TabularMDP:
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp must be an r1theory.TabularMDP; got {type(mdp).__name__}")
    if mdp.is_sparse:
        raise ValueError("actor_critic needs a dense MDP (its exact instruments solve with P (S, A, S))")
    return mdp


def critic_features(mdp: TabularMDP, config: ActorCriticConfig) -> Array:
    """Φ (S, k) of the critic, rows of absorbing reward-free states zeroed (V_w = 0 there): I for ``tabular``."""
    phi = np.eye(mdp.S) if config.features is None else np.array(config.features, dtype=np.float64)
    if phi.shape[0] != mdp.S:
        raise ValueError(f"features must have S = {mdp.S} rows (one per state); got shape {phi.shape}")
    phi[TabularSampler(mdp).absorbing] = 0.0
    return phi


# ---------------------------------------------------------------------------------------------
# Exact instruments
# ---------------------------------------------------------------------------------------------
def expected_advantage(point: PolicyPoint, V_w: Any, gae_lambda: float) -> Array:
    """X_w(s, a) = E[Â | s, a] of GAE(λ) with critic values V_w under geometric termination (module docstring)."""
    mdp = point.mdp
    V = as_real_array(V_w, "V_w")
    if V.shape != (mdp.S,):
        raise ValueError(f"V_w must have shape ({mdp.S},); got {V.shape}")
    g, lam = mdp.gamma, float(gae_lambda)
    P = np.asarray(mdp.P)
    delta = mdp.r + g * (P @ V) - V[:, None]
    if lam == 0.0:
        return delta
    if lam == 1.0:  # the λ = 1 sum telescopes: Q^π − V_w (formed from the exact Q, no second solve)
        return point.ev.Q - V[:, None]
    P_pi = np.einsum("sa,sat->st", point.pi, P)
    y = np.linalg.solve(np.eye(mdp.S) - g * lam * P_pi, np.einsum("sa,sa->s", point.pi, delta))
    return delta + g * lam * (P @ y)


def expected_gradient(point: PolicyPoint, X: Array) -> Array:
    """E[ĝ] = Σ_{s,a} d(s)π(a|s) X(s, a) u_{s,a}/(1 − γ), θ-shaped (∇J when X = A^π)."""
    return point.ev.d[:, None] * combine_scores(point.pi * X, point.pi) / (1.0 - point.mdp.gamma)


def _precond(point: PolicyPoint, lam: float, v: Array) -> Array:
    """M v with M = E_{s∼d,a∼π}[(λI + uuᵀ)⁻¹], the registered ``r1-precond`` preconditioner."""
    pre = get_method("r1-precond").preconditioner
    assert pre is not None
    return pre(point, lam).mv(v.ravel()).reshape(v.shape)


def _expected_from(point: PolicyPoint, config: ActorCriticConfig, X: Array) -> Array:
    g = expected_gradient(point, X)
    if config.actor == "a2c":
        return g
    if config.actor == "npg-cg":
        raise ValueError(
            "the expected npg-cg update is not a finite enumeration (nonlinear in the minibatch); "
            "use expected_gradient for its gradient input"
        )
    lam = config.lam
    indep = _precond(point, lam, g)
    if config.actor == "smac-independent":
        return indep
    B = config.batch
    return same_sample_sum(point, lam, X) / B + (1.0 - 1.0 / B) * indep


def expected_update(mdp: TabularMDP, theta: Any, V_w: Any, config: ActorCriticConfig) -> Array:
    """Exact E[D̂ | θ, V_w] of one actor update (Δθ = η D̂) given critic values V_w (module docstring).

    Enumerates (s, a) with weights d(s)π(a|s) (as :func:`r1theory.r1_sample_expectation` does for V4).
    Raises ValueError for ``npg-cg`` (not enumerable).
    """
    p = policy_point(_check_mdp(mdp), theta)
    return _expected_from(p, config, expected_advantage(p, V_w, config.gae_lambda))


def n_step_operator(point: PolicyPoint, n: int) -> tuple[Array, Array]:
    """(c, K) with T_n V = c + K V: c = Σ_{k<n} γᵏP_πᵏr_π, K = γⁿP_πⁿ (the critic's target in expectation)."""
    mdp = point.mdp
    P_pi = np.einsum("sa,sat->st", point.pi, np.asarray(mdp.P))
    r_pi = np.einsum("sa,sa->s", point.pi, mdp.r)
    c = np.zeros(mdp.S)
    K = np.eye(mdp.S)
    for _ in range(n):
        c = c + K @ r_pi
        K = mdp.gamma * (K @ P_pi)
    return c, K


def expected_critic_update(point: PolicyPoint, phi: Array, w: Array, n_step: int) -> Array:
    """E[(1/B) Σᵢ (Gᵢ − V_w(sᵢ)) φ(sᵢ)] = Φᵀ D (T_n V_w − V_w), D = diag(d) (the TD step divided by α)."""
    c, K = n_step_operator(point, n_step)
    V = phi @ w
    return phi.T @ (point.ev.d * (c + K @ V - V))


def td_fixed_point(mdp: TabularMDP, theta: Any, phi: Any, n_step: int = 1) -> Array:
    """V = Φw at the n-step TD fixed point Φᵀ D (T_n Φw − Φw) = 0 under the exact on-policy d (least squares).

    For Φ = I (rows of absorbing states zeroed) it is V^π on every state d reaches.
    """
    p = policy_point(_check_mdp(mdp), theta)
    F = as_real_array(phi, "phi")
    c, K = n_step_operator(p, check_count(n_step, "n_step"))
    M = F.T @ (p.ev.d[:, None] * ((np.eye(mdp.S) - K) @ F))
    b = F.T @ (p.ev.d * c)
    w = np.linalg.lstsq(M, b, rcond=None)[0]
    return np.asarray(F @ w)


# ---------------------------------------------------------------------------------------------
# Sampling R runs in lockstep
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Minibatch:
    """The samples of one lockstep iteration of R runs (E = R·B actor episodes, run-major).

    Attributes
    ----------
    states, actions : (R, B) the pairs (sᵢ, aᵢ) ∼ d × π.
    cont_states : (R, B, M + 1) the continuation's states s_k (k = 0 is sᵢ); after an absorbing state,
        that state; beyond mᵢ, padding.
    cont_rewards : (R, B, M) its rewards (0 after absorption and beyond mᵢ).
    cont_length : (R, B) mᵢ.
    extra_states, extra_actions : (R,) the independent draw (``smac-independent``), else empty (R, 0).
    transitions, episodes : (R,) environment transitions simulated and episodes started.
    """

    states: IntArray
    actions: IntArray
    cont_states: IntArray
    cont_rewards: Array
    cont_length: IntArray
    extra_states: IntArray
    extra_actions: IntArray
    transitions: IntArray
    episodes: IntArray


_UINT_OF_BYTES = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _count_table(cdf: Array) -> Array:
    """The columns of cumulative rows (n, k) a draw compares with (k − 1: the last is 1 > u), for :func:`_count_le`.

    Padded with 2.0 (> any u, never counted) to q ∈ {1, 2, 4, 8} columns when k − 1 ≤ 8, so that a row's
    q comparison bytes read as one unsigned integer whose set bits are counted at once.
    """
    k = cdf.shape[1] - 1
    q = next((b for b in _UINT_OF_BYTES if b >= k), k)
    out = np.full((cdf.shape[0], q), 2.0)
    out[:, :k] = cdf[:, :k]
    return out


def _count_le(table: Array, rows: IntArray, u: Array) -> IntArray:
    """#{j : table[rows, j] ≤ u} per row: the inverse-CDF draw of :func:`r1theory.sampler._draw`, the same comparisons.

    ``table`` from :func:`_count_table`, ``u`` shape (n, 1).
    """
    hit = table.take(rows, axis=0) <= u
    q = table.shape[1]
    if q in _UINT_OF_BYTES:  # (unsigned counts: they are only ever added to int64 rows)
        return cast(IntArray, np.bitwise_count(hit.view(_UINT_OF_BYTES[q])[:, 0]))
    return cast(IntArray, np.add.reduce(hit, axis=1))


def sample_minibatch(
    sampler: TabularSampler,
    pi: Array,
    rngs: Sequence[np.random.Generator],
    batch: int,
    *,
    full_continuation: bool,
    n_step: int,
    extra: bool,
) -> Minibatch:
    """Draw one iteration's samples for R runs (pi (R, S, A), one generator per run), vectorised over runs.

    Per run, in this order: T₁ (B draws of Geom₀(1 − γ)), T₂ (B draws of Geom(1 − γ)), the independent
    draw's T₁ when ``extra``, then one block of uniforms (start states, then 2 per step, episode by
    episode); so a run's samples do not depend on the other runs (module docstring).

    Rollout. Every episode's length L = T₁ + m is known before it starts, so the E episodes are ranked by
    decreasing L and the ones still running at step t are the first K_t = #{L > t}: a step is a handful of
    numpy calls on that prefix (the action and the next state of each by one table gather, one comparison
    with its uniform and one count: the inverse-CDF draws of :class:`r1theory.TabularSampler`). An episode
    that enters an absorbing state is walked on there (its action draws are not used, its state stays, its
    reward is 0) and the loop stops once every running episode is absorbed; what the episode *simulated*
    (transitions, rewards, the pair's action drawn with the uniform of step T₁) is then read off the walked
    states as if it had stopped on entering the state. The samples are those of a step-by-step rollout
    that stops there, bit for bit (tests/test_actor_critic.py).
    """
    mdp = sampler.mdp
    S, A, g = mdp.S, mdp.A, mdp.gamma
    R = len(rngs)
    B = batch
    nb = B + int(extra)
    # T₁ + 1 (B), T₂ (B), [the independent draw's T₁ + 1] by one geometric call per run: the same numbers as
    # three calls (a draw consumes the stream the same way whatever the call's size); then the run's uniforms
    n_geo = 2 * B + int(extra)
    cap = np.full(n_geo, np.iinfo(np.int64).max)
    if not full_continuation:
        cap[B : 2 * B] = n_step  # m = min(T₂, n)
    G = np.empty((R, n_geo), dtype=np.int64)
    blocks: list[Array] = []
    for r, rng in enumerate(rngs):
        G[r] = rng.geometric(1.0 - g, size=n_geo)
        steps = int(np.minimum(G[r], cap).sum()) - nb  # Σ (T₁ + m) over the run's episodes
        blocks.append(rng.random(nb + 2 * steps + int(extra)))
    T1 = np.concatenate([G[:, :B], G[:, 2 * B :]], axis=1) - 1
    m = np.zeros((R, nb), dtype=np.int64)
    m[:, :B] = np.minimum(G[:, B : 2 * B], cap[B : 2 * B])
    L = (T1 + m).ravel()  # steps simulated per episode (at most)
    size = np.array([b.size for b in blocks], dtype=np.int64)
    U = np.concatenate(blocks)
    run = np.repeat(np.arange(R), nb)
    pos = np.tile(np.arange(nb), R)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])  # each run's block in U
    per_ep = 2 * L + np.where(pos == B, 1, 0)  # 2 per step (+1: the independent draw's action)
    ep_off = np.zeros(R * nb, dtype=np.int64)
    csum = np.cumsum(per_ep.reshape(R, nb), axis=1)
    ep_off.reshape(R, nb)[:, 1:] = csum[:, :-1]
    base = start[run] + nb + ep_off  # first uniform of each episode's steps
    s0 = np.searchsorted(sampler.start_cdf, U[start[run] + pos], side="right").astype(np.int64)
    cdf_pi = cumulative_rows(pi.reshape(R * S, A))  # (R·S, A), row run·S + s
    t1 = T1.ravel()
    E = R * nb
    M = int(m.max()) if m.size else 0

    # ranks: episodes by decreasing L (stable), so that the running ones are a prefix at every step; the entries
    # (step t, rank i < K_t) are stored flat, time-major: entry first[t] + i
    order = np.argsort(-L, kind="stable")
    rank = np.empty(E, dtype=np.int64)
    rank[order] = np.arange(E)
    T = int(L[order[0]])  # ≥ 1: each of the B episodes has m ≥ 1
    K = np.searchsorted(-L[order], -np.arange(T + 1), side="left")  # K[t] = #{L > t}
    first = np.zeros(T + 1, dtype=np.int64)
    np.cumsum(K[:-1], out=first[1:])
    step_of = np.repeat(np.arange(T), K[:T])  # each entry's step t ...
    rank_of = np.arange(first[T]) - first[step_of]  # ... and rank
    at = base[order].take(rank_of) + 2 * step_of  # the entry's two uniforms
    u_act = U.take(at)[:, None]
    u_next = U.take(at + 1)[:, None]
    # a running episode is carried as its global state r·S + s (r its run): the row of run r's policy table
    # (R·S rows); its action's row s·A + a of the MDP's transition tables (shared by the runs, never copied)
    # and the next state s' are local, stored as such
    pol = _count_table(cdf_pi)
    w = sampler.width
    nxt_cdf = _count_table(sampler.next_cdf.T) if w > 1 else None  # (S·A, ·); w = 1: s' is the only successor
    support = sampler.support
    any_absorbing = bool(sampler.absorbing.any())
    absorbing = np.tile(sampler.absorbing, R)  # of a global state
    off_a = (run * (S * A))[order]  # of each rank: r·S·A, r·S
    off_s = (run * S)[order]
    rows = np.zeros(int(first[T]), dtype=np.int64)  # each entry's row s·A + a (0: not walked)
    ends = np.zeros(int(first[T]), dtype=np.int64)  # ... and its next state s'
    absorbed = np.zeros(E, dtype=np.int64)  # per rank: walked steps that started in an absorbing state
    Kl, fl = K.tolist(), first.tolist()
    cur = (s0 + run * S)[order[: Kl[0]]]
    walked = 0
    for t in range(T):
        lo, hi, n = fl[t], fl[t + 1], Kl[t]
        if any_absorbing:
            ab = absorbing[cur]
            if ab.all():  # every running episode is absorbed: nothing changes any more
                break
            absorbed[:n] += ab
        row = cur * A + _count_le(pol, cur, u_act[lo:hi]) - off_a[:n]
        nxt: IntArray = support.take(row if nxt_cdf is None else row * w + _count_le(nxt_cdf, row, u_next[lo:hi]))
        rows[lo:hi] = row
        ends[lo:hi] = nxt
        walked = t + 1
        n = Kl[t + 1]
        cur = nxt[:n] + off_s[:n]
    # read the rollout off the walked entries, in episode order: stepped = min(L, walked) steps walked; s_t is
    # walked for t < stepped, else the final state (absorbing, or s_L); an episode simulated the steps before
    # it entered an absorbing state
    stepped = np.minimum(L, walked)
    done = stepped - absorbed[rank]
    final = np.where(stepped > 0, ends.take(first[np.maximum(stepped - 1, 0)] + rank, mode="clip"), s0)
    # the pair (s_{T₁}, a_{T₁}): walked, or (absorbed before T₁, or the independent draw's T₁ = L) the final
    # state and the action drawn with the uniform reserved for step T₁
    at_pair = t1 < stepped
    prow = rows.take(first[np.minimum(t1, T - 1)] + rank, mode="clip")
    pair_s = np.where(at_pair, prow // A, final)
    pair_a = prow - pair_s * A
    todo = np.flatnonzero(~at_pair)
    if todo.size:
        pair_a[todo] = _draw(np.ascontiguousarray(cdf_pi.T), run[todo] * S + pair_s[todo], U[base[todo] + 2 * t1[todo]])
    # the continuation from T₁: state s_{T₁+k} and reward r(s, a) at k < m, from the walked entries at t ≥ T₁ (a
    # reward where the episode had not yet entered an absorbing state, else 0); every other state, s_{T₁+m} and the
    # padding beyond m, the final state (where the episode stands: it stays after absorption)
    cont_s = np.repeat(final, M + 1).reshape(E, M + 1)
    cont_r = np.zeros((E, M))
    nw = fl[walked]
    ep = order.take(rank_of[:nw])
    k = step_of[:nw] - t1.take(ep)
    sel = np.flatnonzero(k >= 0)
    ep, k = ep[sel], k[sel]
    lrow = rows[sel]
    cont_s.reshape(-1)[ep * (M + 1) + k] = lrow // A
    cont_r.reshape(-1)[ep * M + k] = np.where(step_of[sel] < done.take(ep), sampler.reward.take(lrow), 0.0)
    transitions = np.bincount(run, weights=done, minlength=R).astype(np.int64)
    ps, pa = pair_s.reshape(R, nb), pair_a.reshape(R, nb)
    return Minibatch(
        states=ps[:, :B],
        actions=pa[:, :B],
        cont_states=cont_s.reshape(R, nb, M + 1)[:, :B],
        cont_rewards=cont_r.reshape(R, nb, M)[:, :B],
        cont_length=m[:, :B],
        extra_states=ps[:, B:],
        extra_actions=pa[:, B:],
        transitions=transitions,
        episodes=np.full(R, nb, dtype=np.int64),
    )


# ---------------------------------------------------------------------------------------------
# One lockstep update
# ---------------------------------------------------------------------------------------------
def _scores(pi: Array, s: IntArray, a: IntArray) -> Array:
    """u_{s_r,a_r} for each run r as (R, S, A): e_{(s,a)} − π_s on block s (as :func:`r1theory.scores`)."""
    R = pi.shape[0]
    u = np.zeros_like(pi)
    rows = np.arange(R)
    u[rows, s, :] = -pi[rows, s]
    u[rows, s, a] += 1.0
    return u


def _combine(c: Array, pi: Array) -> Array:
    """Σ_a c(s, a)u_{s,a} per block for stacked (R, S, A) arrays (:func:`r1theory.score.combine_scores`)."""
    R, S, A = pi.shape
    return combine_scores(c.reshape(R * S, A), pi.reshape(R * S, A)).reshape(R, S, A)


def _pair_sums(values: Array, s: IntArray, a: IntArray, shape: tuple[int, int, int]) -> Array:
    """Σᵢ values[r, i] e_{(r, sᵢ, aᵢ)} as (R, S, A)."""
    R, S, A = shape
    flat = (np.arange(R)[:, None] * S + s) * A + a
    out: Array = np.bincount(flat.ravel(), weights=values.ravel(), minlength=R * S * A).astype(np.float64)
    return out.reshape(R, S, A)


def fisher_mv(pi: Array, s: IntArray, a: IntArray, v: Array) -> Array:
    """F̂v = (1/B) Σᵢ uᵢ(uᵢᵀv) per run, F̂ the empirical Fisher of the pairs (s, a) (R, B); v (R, S, A)."""
    R, B = s.shape
    rows = np.arange(R)[:, None]
    vs = v[rows, s]  # (R, B, A)
    coeff = v[rows, s, a] - np.einsum("rba,rba->rb", pi[rows, s], vs)
    return _combine(_pair_sums(coeff / B, s, a, v.shape), pi)


def conjugate_gradient(mv: Any, b: Array, iters: int, tol: float) -> tuple[Array, IntArray]:
    """Solve M x = b for a batch of SPD systems (leading axis R) by CG from x = 0.

    ``mv(p)`` applies the R matrices to p (same shape as b). Run r stops once ‖r_k‖ ≤ tol·‖b‖ or after
    ``iters`` steps; returns (x, steps taken per run). In exact arithmetic CG is exact after n = dim steps.
    """
    R = b.shape[0]
    axes = tuple(range(1, b.ndim))
    x = np.zeros_like(b)
    res = b.copy()
    p = res.copy()
    rs = np.sum(res * res, axis=axes)
    stop = tol**2 * rs
    steps = np.zeros(R, dtype=np.int64)
    active = rs > stop
    shape = (R,) + (1,) * (b.ndim - 1)
    for _ in range(iters):
        if not active.any():
            break
        Ap = mv(p)
        pAp = np.sum(p * Ap, axis=axes)
        alpha = np.where(active & (pAp > 0), rs / np.where(pAp > 0, pAp, 1.0), 0.0)
        x = x + alpha.reshape(shape) * p
        res = res - alpha.reshape(shape) * Ap
        rs_new = np.sum(res * res, axis=axes)
        beta = np.where(active & (rs > 0), rs_new / np.where(rs > 0, rs, 1.0), 0.0)
        p = np.where(active.reshape(shape), res + beta.reshape(shape) * p, p)
        steps += active
        rs = np.where(active, rs_new, rs)
        active = active & (rs > stop)
    return x, steps


@dataclass(frozen=True)
class Update:
    """One lockstep update of R runs: the sampled direction D̂ (Δθ = η D̂; for npg-cg D̂ = x, Δθ the KL step).

    Attributes
    ----------
    gradient : (R, S, A) ĝ.
    direction : (R, S, A) D̂.
    step : (R, S, A) Δθ.
    critic_increment : (R, k) the TD increment divided by α, (1/B) Σᵢ (Gᵢ − V_w(sᵢ)) φ(sᵢ) (0 for ``exact``).
    transitions, episodes : (R,) samples consumed.
    """

    gradient: Array
    direction: Array
    step: Array
    critic_increment: Array
    transitions: IntArray
    episodes: IntArray


def sampled_update(
    sampler: TabularSampler,
    theta: Array,
    V: Array,
    phi: Array,
    config: ActorCriticConfig,
    rngs: Sequence[np.random.Generator],
    steps: Array | None = None,
) -> Update:
    """One iteration's sampled actor direction, step and critic increment for R runs (θ (R, S, A), V_w (R, S)).

    ``steps`` (R,) overrides ``config.actor_step`` run by run (η, or δ for npg-cg).
    """
    mdp = sampler.mdp
    R, S, A = theta.shape
    g = mdp.gamma
    pi = np.exp(log_softmax(theta))
    B, lam_gae = config.batch, config.gae_lambda
    mb = sample_minibatch(
        sampler,
        pi,
        rngs,
        B,
        full_continuation=lam_gae > 0.0,
        n_step=config.n_step,
        extra=config.actor == "smac-independent",
    )
    rows = np.arange(R)[:, None, None]
    Vs = V[rows, mb.cont_states]  # (R, B, M + 1)
    M = mb.cont_rewards.shape[2]
    ks = np.arange(M)
    valid = ks[None, None, :] < mb.cont_length[:, :, None]
    delta = np.where(valid, mb.cont_rewards + g * Vs[:, :, 1:] - Vs[:, :, :-1], 0.0)
    adv = delta @ np.power(lam_gae, ks) if M else np.zeros((R, B))  # 0⁰ = 1: λ = 0 keeps δ₀
    grad = _combine(_pair_sums(adv / (B * (1.0 - g)), mb.states, mb.actions, (R, S, A)), pi)
    lam = config.lam
    eta = np.full(R, config.actor_step) if steps is None else steps
    if config.actor == "a2c":
        direction = grad
        step = eta[:, None, None] * direction
    elif config.actor in ("smac-same", "smac-independent"):
        if config.actor == "smac-same":
            us, ua = mb.states[:, 0], mb.actions[:, 0]
        else:
            us, ua = mb.extra_states[:, 0], mb.extra_actions[:, 0]
        u = _scores(pi, us, ua).reshape(R, S * A)
        direction = sherman_morrison(u, lam).mv(grad.reshape(R, S * A)).reshape(R, S, A)
        step = eta[:, None, None] * direction
    else:

        def mv(v: Array) -> Array:
            return fisher_mv(pi, mb.states, mb.actions, v) + lam * v

        direction, _ = conjugate_gradient(mv, grad, config.cg_iters, config.cg_tol)
        quad = np.einsum("rsa,rsa->r", direction, fisher_mv(pi, mb.states, mb.actions, direction))
        scale = np.where(quad > 0, np.sqrt(2.0 * eta / np.where(quad > 0, quad, 1.0)), 0.0)
        step = scale[:, None, None] * direction
    if config.critic == "exact":
        inc = np.zeros((R, phi.shape[1]))
    else:
        n = config.n_step
        m = mb.cont_length
        upto = ks[None, None, :] < np.minimum(m, n)[:, :, None]
        G = np.sum(np.where(upto, mb.cont_rewards, 0.0), axis=2)
        if n <= M:
            G = G + np.where(m >= n, g * Vs[:, :, n], 0.0)
        err = (G - Vs[:, :, 0]) / B  # (R, B)
        inc = np.einsum("rb,rbk->rk", err, phi[mb.states])
    return Update(grad, direction, step, inc, mb.transitions, mb.episodes)


# ---------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------
#: Per-record histories of :class:`ActorCriticRuns`, each (R, records).
HISTORIES: tuple[str, ...] = (
    "J",
    "gap",
    "grad_norm",
    "critic_error",
    "expected_norm",
    "oracle_norm",
    "critic_bias",
    "same_sample_bias",
    "update_deviation",
    "expected_cosine",
)


@dataclass(frozen=True)
class ActorCriticRuns:
    """R runs of one configuration (each with its own step when ``steps`` was given), recorded at iterations ``t``.

    0 and the last iteration are always recorded.

    Attributes
    ----------
    t : (records,) iteration indices.
    episodes, transitions : (R, records) samples consumed before θ_t.
    J, gap : exact J(θ_t) and V*(ρ) − J(θ_t).
    grad_norm : ‖∇J(θ_t)‖.
    critic_error : ‖V_w − V^π‖_d = (Σ_s d(s)(V_w(s) − V^π(s))²)^{1/2}.
    expected_norm, oracle_norm : ‖E[D̂ | θ_t, V_w]‖ and ‖E[D̂ | θ_t, V^π]‖ (npg-cg: of E[ĝ]).
    critic_bias : ‖E[D̂ | θ_t, V_w] − E[D̂ | θ_t, V^π]‖ (npg-cg: of E[ĝ]); 0 for the exact critic.
    same_sample_bias : smac-same only: ‖(E_same − E_indep)(V_w) − (E_same − E_indep)(V^π)‖, the part of the
        critic-induced bias due to the Fisher sample being one of the gradient's pairs; NaN otherwise.
    update_deviation : ‖D̂_t − E[D̂ | θ_t, V_w]‖ of the update taken from θ_t (its mean square estimates the
        variance); NaN for npg-cg and at the last record.
    expected_cosine : cos(E[D̂ | θ_t, V_w], ∇J(θ_t)).
    theta, w : (R, S, A) and (R, k) at the end.
    steps : (R,) each run's actor step.
    max_pi_min : (R,) min over states d reaches of max_a π(a|s) at the end (1 = deterministic there).
    J_star : V*(ρ).
    """

    config: ActorCriticConfig
    t: IntArray
    episodes: IntArray
    transitions: IntArray
    J: Array
    gap: Array
    grad_norm: Array
    critic_error: Array
    expected_norm: Array
    oracle_norm: Array
    critic_bias: Array
    same_sample_bias: Array
    update_deviation: Array
    expected_cosine: Array
    theta: Array
    w: Array
    max_pi_min: Array
    steps: Array
    J_star: float

    def to_record(self) -> dict[str, Any]:
        """Histories as float64/int64 arrays and the configuration as JSON: what the sweep cache stores."""
        out: dict[str, Any] = {k: np.asarray(getattr(self, k), dtype=np.float64) for k in HISTORIES}
        out.update(
            t=self.t.astype(np.int64),
            episodes=self.episodes.astype(np.int64),
            transitions=self.transitions.astype(np.int64),
            theta=self.theta,
            w=self.w,
            max_pi_min=self.max_pi_min,
            steps=self.steps,
            J_star=float(self.J_star),
            config=self.config.to_dict(),
        )
        return out


def _seed_rngs(seeds: Sequence[Any]) -> list[np.random.Generator]:
    if isinstance(seeds, np.random.Generator) or not isinstance(seeds, Sequence) or not len(seeds):
        raise TypeError("seeds must be a non-empty sequence of ints, SeedSequences or Generators (one per run)")
    out = []
    for s in seeds:
        if isinstance(s, np.random.Generator):
            out.append(s)
        elif isinstance(s, np.random.SeedSequence | int | np.integer) and not isinstance(s, bool):
            out.append(np.random.default_rng(s))
        else:
            raise TypeError(f"each seed must be an int, a SeedSequence or a Generator; got {type(s).__name__}")
    return out


def exact_values(mdp: TabularMDP, pi: Array) -> Array:
    """V^π (R, S) of R policies π (R, S, A) on a dense MDP: the ``exact`` critic's values, V = (I − γP_π)⁻¹ r_π.

    Policy by policy, the evaluation's own first half (:func:`r1theory.evaluation._dense_values`: P_π, I − γP_π,
    r_π, one LU factorisation and one triangular solve; no visitation, Q or A), so V[r] is bit for bit
    ``policy_point(mdp, θ[r]).ev.V`` for π[r] = softmax(θ[r]), at a fifth of its cost. Bit-identity matters
    here: the exact critic feeds V into every update, and npg-cg's trajectories amplify a one-ulp change of V
    to a relative 1e-5 of J within 300 iterations, so a differently rounded V would change its records.
    """
    out = np.empty(pi.shape[:2])
    for r in range(pi.shape[0]):
        out[r] = _dense_values(mdp, pi[r])[2]
    return out


#: The batched points of :func:`_points` hold several (chunk, S, S) arrays: at most this many matrix entries each.
_POINTS_ENTRIES = 1 << 21


def _points(mdp: TabularMDP, theta: Array) -> list[PolicyPoint]:
    """The exact points of the R runs' θ (R, S, A), evaluated in batches (:func:`r1theory.batch_policy_point`).

    Point r equals ``policy_point(mdp, θ[r])`` to the rounding of the batched solve (its tolerance is in
    :mod:`r1theory.batch`) and, like it, does not depend on the other runs nor on the chunking, bit for bit.
    """
    R, S = theta.shape[0], mdp.S
    chunk = max(1, _POINTS_ENTRIES // (S * S))
    out: list[PolicyPoint] = []
    for lo in range(0, R, chunk):
        bp = batch_policy_point(mdp, theta[lo : lo + chunk])
        out.extend(bp[r] for r in range(len(bp)))
    return out


def _norm(x: Array) -> float:
    return float(np.linalg.norm(x))


def actor_critic(
    mdp: TabularMDP,
    theta0: Any,
    config: ActorCriticConfig,
    iterations: int,
    seeds: Sequence[Any],
    *,
    record_every: int = 1,
    instruments_every: int = 1,
    steps: Sequence[float] | None = None,
    optimum: Optimal | None = None,
) -> ActorCriticRuns:
    """Run ``iterations`` actor-critic updates for R = len(seeds) runs in lockstep from θ₀ (module docstring).

    Every run starts at θ₀ (S, A) with critic w = 0 and draws from its own generator, so the result for
    a run does not depend on which other runs share the batch. At t = 0, every ``record_every`` iterations
    and at the end, J, the gap, ‖∇J‖ and the critic error are recorded (:class:`ActorCriticRuns`); the
    expected-update instruments (norms, biases, deviation, cosine) at every ``instruments_every``-th record
    and at the last (0: never; NaN where not computed), as they cost a few solves per run. ``steps``, one
    per seed, gives each run its own actor step (a step grid run in lockstep); default ``config.actor_step``.
    """
    mdp = _check_mdp(mdp)
    if not isinstance(config, ActorCriticConfig):
        raise TypeError(f"config must be an ActorCriticConfig; got {type(config).__name__}")
    theta_start = check_theta(mdp, theta0)
    T = check_count(iterations, "iterations", minimum=0)
    every = check_count(record_every, "record_every")
    inst_every = check_count(instruments_every, "instruments_every", minimum=0)
    rngs = _seed_rngs(seeds)
    R, S, A = len(rngs), mdp.S, mdp.A
    if steps is None:
        eta = np.full(R, config.actor_step)
    else:
        eta = np.array([_positive(x, "steps", "finite numbers > 0, one per seed") for x in steps])
        if eta.shape != (R,):
            raise ValueError(f"steps must give one step per seed ({R}); got {eta.size}")
    opt = optimum if optimum is not None else optimal(mdp)
    sampler = TabularSampler(mdp)
    phi = critic_features(mdp, config)
    theta = np.broadcast_to(theta_start, (R, S, A)).copy()
    w = np.zeros((R, phi.shape[1]))
    hist: dict[str, list[Array]] = {k: [] for k in HISTORIES}
    ts: list[int] = []
    eps_l: list[IntArray] = []
    tr_l: list[IntArray] = []
    n_ep = np.zeros(R, dtype=np.int64)
    n_tr = np.zeros(R, dtype=np.int64)
    expected_now: Array | None = None
    points: list[PolicyPoint] = []

    def record(t: int) -> None:
        nonlocal expected_now, points
        points = _points(mdp, theta)
        rec = {k: np.full(R, np.nan) for k in HISTORIES}
        full = inst_every > 0 and (len(ts) % inst_every == 0 or t == T)
        expected_now = np.zeros((R, S, A)) if full else None
        for r, p in enumerate(points):
            Vw = p.ev.V if config.critic == "exact" else phi @ w[r]
            rec["J"][r] = p.ev.J
            rec["gap"][r] = opt.J - p.ev.J
            rec["grad_norm"][r] = _norm(p.gradient)
            rec["critic_error"][r] = float(np.sqrt(np.sum(p.ev.d * (Vw - p.ev.V) ** 2)))
            if expected_now is None:
                continue
            X = expected_advantage(p, Vw, config.gae_lambda)
            if config.actor == "npg-cg":
                Ew, Eo = expected_gradient(p, X), p.gradient
            else:
                Ew, Eo = _expected_from(p, config, X), _expected_from(p, config, p.ev.A)
                if config.actor == "smac-same":
                    ind = ActorCriticConfig("smac-independent", 1.0, damping=config.damping, batch=config.batch)
                    diff = (Ew - _expected_from(p, ind, X)) - (Eo - _expected_from(p, ind, p.ev.A))
                    rec["same_sample_bias"][r] = _norm(diff)
            expected_now[r] = Ew
            rec["expected_norm"][r] = _norm(Ew)
            rec["oracle_norm"][r] = _norm(Eo)
            rec["critic_bias"][r] = _norm(Ew - Eo)
            nx, ng = _norm(Ew), _norm(p.gradient)
            rec["expected_cosine"][r] = float(np.vdot(Ew, p.gradient) / (nx * ng)) if nx > 0 and ng > 0 else np.nan
        for k in HISTORIES:
            hist[k].append(rec[k])
        ts.append(t)
        eps_l.append(n_ep.copy())
        tr_l.append(n_tr.copy())

    record(0)
    for t in range(T):
        recorded = ts[-1] == t
        if config.critic == "exact":
            V = exact_values(mdp, np.exp(log_softmax(theta)))
        else:
            V = w @ phi.T
        up = sampled_update(sampler, theta, V, phi, config, rngs, eta)
        if recorded and config.actor != "npg-cg" and expected_now is not None:
            hist["update_deviation"][-1] = np.linalg.norm((up.direction - expected_now).reshape(R, -1), axis=1)
        theta = theta + up.step
        w = w + config.critic_step * up.critic_increment
        n_ep += up.episodes
        n_tr += up.transitions
        if (t + 1) % every == 0 or t + 1 == T:
            record(t + 1)
    final_points = points if ts[-1] == T else _points(mdp, theta)
    max_pi_min = np.array([float(np.min(p.pi.max(axis=1)[p.ev.d > 0])) for p in final_points])
    return ActorCriticRuns(
        config=config,
        t=np.asarray(ts, dtype=np.int64),
        episodes=np.stack(eps_l, axis=1),
        transitions=np.stack(tr_l, axis=1),
        **{k: np.stack(hist[k], axis=1) for k in HISTORIES},
        theta=theta,
        w=w,
        max_pi_min=max_pi_min,
        steps=eta,
        J_star=float(opt.J),
    )


__all__ = [
    "ACTORS",
    "CRITICS",
    "DAMPED_ACTORS",
    "HISTORIES",
    "ActorCriticConfig",
    "ActorCriticRuns",
    "Minibatch",
    "Update",
    "actor_critic",
    "conjugate_gradient",
    "critic_features",
    "exact_values",
    "expected_advantage",
    "expected_critic_update",
    "expected_gradient",
    "expected_update",
    "fisher_mv",
    "n_step_operator",
    "sample_minibatch",
    "sampled_update",
    "td_fixed_point",
]
