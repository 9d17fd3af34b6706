r"""Hard and illustrative instances from the policy-gradient literature.

Each builder states whether it is an *exact* transcription of the source or a *reconstruction*
from a description (each builder's ``source`` names the paper and the
result). Action and state indices are documented per instance. All rewards lie in [0, 1].

* ``mei_bandit``    Mei et al. 2020, Lemma 6 / Fig. 1: r = (1, 0.9, 0.1), bad / good init (exact).
* ``tie_bandit``    r = (1, 1, 0), θ₀ = (0, 1, 0): ties break Mei et al.'s Lemma 9 (exact).
* ``mei_self_loop`` Mei et al. 2020, Prop. 3: self-loop bandits with μ(s) = 0 (reconstructed).
* ``agarwal_chain`` Agarwal et al. 2021, Prop. 4.1: H + 2 states, γ = H/(H + 1) (reconstructed).
* ``li_chain``      Li et al. 2021: a cascade chain on which softmax PG is slow (reconstruction of
  the mechanism, not of the paper's MDP).
"""

from __future__ import annotations

import numpy as np

from r1theory import TabularMDP

from ._checks import check_choice, check_int, check_real
from ._types import Array
from .registry import Built, register

__all__ = [
    "MEI_BANDIT_INITS",
    "MEI_BANDIT_REWARDS",
    "agarwal_chain",
    "li_chain",
    "mei_self_loop",
]

#: Mei et al. 2020, Lemma 6 / Fig. 1 (also Prop. 1): r = (1, 9/10, 1/10).
MEI_BANDIT_REWARDS: tuple[float, float, float] = (1.0, 0.9, 0.1)
#: Initial policies π₀ of Mei et al.'s Fig. 1: the bad init starts with little mass on a* = 0.
MEI_BANDIT_INITS: dict[str, tuple[float, float, float]] = {
    "bad": (0.01, 0.05, 0.94),
    "good": (0.05, 0.01, 0.94),
    "uniform": (1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0),
}


def _bandit(r: Array) -> TabularMDP:
    A = r.shape[-1]
    return TabularMDP(np.ones((1, A, 1)), r.reshape(1, A), 0.0, np.ones(1))


@register(
    "mei_bandit",
    summary="3-armed bandit r = (1, 0.9, 0.1) whose 'bad' init makes softmax PG plateau (> 7000 iterations)",
    source="Mei, Xiao, Szepesvári, Schuurmans (ICML 2020, arXiv 2005.06392 v3), Lemma 6 / Fig. 1 and Prop. 1",
    used_by="Mei et al. 2020 Lemma 4 / Thm 2 (c = inf π(a*)), Thm 9 lower bound; GNPG / NPG / rank-1 plateau escape",
    provenance="exact",
)
def _mei_bandit(*, init: str = "bad") -> Built:
    r"""Mei et al.'s plateau bandit: one state, γ = 0, r = (1, 0.9, 0.1), a* = 0, Δ = 0.1.

    θ₀ = log π₀ with π₀ = (0.01, 0.05, 0.94) for ``init="bad"``, (0.05, 0.01, 0.94) for ``"good"``
    and uniform for ``"uniform"`` (Theorem 3's setting). Softmax PG, Update 1
    θ ← θ + η π ⊙ (r − π^T r) with η = 2/5, needs more than 7000 iterations to leave the corner
    from the bad init (the paper's words), and few from the good one.
    Prop. 1's non-concavity example uses the same rewards with θ₁ = (0, 0, 0),
    θ₂ = (ln 9, ln 16, ln 25), midpoint (ln 3, ln 4, ln 5).
    """
    init = check_choice(init, "init", tuple(MEI_BANDIT_INITS))
    pi0 = np.array(MEI_BANDIT_INITS[init])
    notes = (
        f"init={init!r}: π₀ = {tuple(float(p) for p in pi0)}; a* = 0; η = 2/5 in the paper. "
        "The bad init escapes the sub-optimal corner only after > 7000 PG iterations (Mei et al. 2020, Fig. 1)."
    )
    return Built(_bandit(np.array(MEI_BANDIT_REWARDS)), np.log(pi0).reshape(1, 3), notes)


@register(
    "tie_bandit",
    summary="bandit r = (1, 1, 0) with two optimal arms; from θ₀ = (0, 1, 0) PG abandons one of them",
    source="a Lean formalisation's counterexample to Mei et al. 2020 (arXiv 2005.06392 v3) Lemma 9 under ties",
    used_by="Mei et al. 2020 Lemma 9 (c > 0 needs a unique optimal action); tie-handling of gap statistics",
    provenance="exact",
)
def _tie_bandit() -> Built:
    r"""Tied bandit: one state, γ = 0, r = (1, 1, 0), θ₀ = (0, 1, 0).

    Q* has a tie (gap 0 in :func:`r1theory.optimal`). PG sends π(a = 0) → 0 while π(a = 1) → 1, so
    inf_t π_t(a*) = 0 for a* = 0 — which contradicts Lemma 9 unless c sums over the optimal set.
    """
    notes = "Two optimal arms (0 and 1). Define Mei's c with the sum over the optimal set, or expect c -> 0."
    return Built(_bandit(np.array([1.0, 1.0, 0.0])), np.array([[0.0, 1.0, 0.0]]), notes)


def mei_self_loop(S: int = 2, *, gamma: float = 0.9, bad_logit: float = 2.0) -> tuple[TabularMDP, Array]:
    r"""Independent self-loop bandits with μ(s) = 0 off state 0: a non-optimal stationary point of PG.

    **Reconstruction** of Mei et al. 2020, Prop. 3, from its one-line description ("S independent
    self-loop bandits with μ(s) = 0 for some s; the gradient at that state is identically 0"). The
    paper's exact numbers were not available.

    States s = 0, ..., S−1; two actions; every action keeps the state: P[s, a, s] = 1. Rewards
    r(s, 0) = 1, r(s, 1) = 0, so a*(s) = 0 with Q*-gap 1 in every state. ρ = μ = e₀ (the
    optimisation distribution violates Assumption 2 on purpose). θ₀: zeros at state 0 and
    (0, ``bad_logit``) elsewhere.

    Since d_μ^π(s) = 0 for s ≠ 0, ∂V(μ)/∂θ(s, ·) = d_μ(s) π A / (1 − γ) = 0 there for every θ:
    the logits of s ≥ 1 never move, PG converges at state 0 only, and with any ρ' that puts mass
    on s ≥ 1 the limit is sub-optimal: V*(s) − V^{π_∞}(s) = π₀(1|s)/(1 − γ).

    Returns
    -------
    (TabularMDP, theta0)
    """
    S = check_int(S, "S", 2)
    g = check_real(gamma, "gamma", 0.0, 1.0)
    b = check_real(bad_logit, "bad_logit", -50.0, 50.0, closed_high=True)
    P = np.zeros((S, 2, S))
    P[np.arange(S), :, np.arange(S)] = 1.0
    r = np.tile([1.0, 0.0], (S, 1))
    rho = np.zeros(S)
    rho[0] = 1.0
    theta0 = np.zeros((S, 2))
    theta0[1:, 1] = b
    return TabularMDP(P, r, g, rho), theta0


@register(
    "mei_self_loop",
    summary="self-loop bandits with μ(s) = 0 off state 0: PG's stationary point is non-optimal at s ≥ 1",
    source="Mei, Xiao, Szepesvári, Schuurmans (ICML 2020), Prop. 3 (reconstructed from its description)",
    used_by="Mei et al. 2020 Assumption 2 (min μ > 0) and Prop. 3; Lemma 8 mismatch ‖d^{π*}/d_μ‖∞ = ∞",
    provenance="reconstructed",
)
def _mei_self_loop(*, S: int = 2, gamma: float = 0.9, bad_logit: float = 2.0) -> Built:
    r"""Mei's Prop. 3 self-loop example (reconstruction); see :func:`tabular_mdps.hard.mei_self_loop`.

    S self-looping states, actions (good: r = 1, bad: r = 0), ρ = e₀, θ₀ favouring the bad action at
    s ≥ 1 by ``bad_logit``. Evaluate with a uniform ρ' to see the non-vanishing gap.
    """
    mdp, theta0 = mei_self_loop(S, gamma=gamma, bad_logit=bad_logit)
    notes = (
        "ρ = e₀: the gradient is identically 0 at states s >= 1, whose logits never move. "
        "Measure V* − V at a ρ' with mass on s >= 1 to see the non-optimal stationary point (reconstructed)."
    )
    return Built(mdp, theta0, notes)


def agarwal_chain(H: int = 10, *, rho: str = "start") -> TabularMDP:
    r"""Chain MDP of Agarwal, Kakade, Lee & Mahajan (2021), Prop. 4.1: H + 2 states, γ = H/(H + 1).

    **Reconstructed** structure (the figure's exact specification is not in the stored sources):
    states s₀, ..., s_{H+1} (indices 0..H+1); four actions; action 0 ("a₁", right) moves
    s_i → s_{i+1}; actions 1, 2, 3 reset to s₀; s_{H+1} is absorbing under every action. The only
    reward is r(s_{H+1}, a₁) = 1 (so a₁ is the unique optimal action everywhere). γ = H/(H + 1),
    so 1/(1 − γ) = H + 1. ``rho="start"`` puts ρ on s₀ (the proposition's s₀ objective);
    ``rho="uniform"`` spreads it (Mei's Assumption 2).

    Closed form: V*(s_i) = γ^{H+1−i}/(1 − γ) = (H + 1) γ^{H+1−i}; V*(s₀) = (H + 1)(H/(H+1))^{H+1} ≥ (H + 1)/4.
    Under any policy with π(a₁|s) < 1/4 (the proposition's θ_{s,a1} < 1/4, direct parametrisation),
    reaching s_{H+1} takes H + 1 consecutive right moves, so values and all low-order derivatives are
    exponentially small in H: the vanishing-gradient plateau.
    """
    H = check_int(H, "H", 1)
    rho_kind = check_choice(rho, "rho", ("start", "uniform"))
    S = H + 2
    P = np.zeros((S, 4, S))
    for i in range(H + 1):
        P[i, 0, i + 1] = 1.0
        P[i, 1:, 0] = 1.0
    P[H + 1, :, H + 1] = 1.0
    r = np.zeros((S, 4))
    r[H + 1, 0] = 1.0
    rho_vec = np.zeros(S)
    if rho_kind == "start":
        rho_vec[0] = 1.0
    else:
        rho_vec[:] = 1.0 / S
    return TabularMDP(P, r, H / (H + 1.0), rho_vec)


@register(
    "agarwal_chain",
    summary="AKM chain: H+2 states, γ = H/(H+1), right-or-reset; gradients vanish like (1/4)^H",
    source="Agarwal, Kakade, Lee, Mahajan (JMLR 2021, arXiv 1908.00261 v5), Prop. 4.1 (structure reconstructed)",
    used_by="AKM Prop. 4.1 (vanishing gradients); AKM Thm 5.3 (NPG is H-free) vs PG; rank-1 plateau escape",
    provenance="reconstructed",
)
def _agarwal_chain(*, H: int = 10, p_right: float = 0.2, rho: str = "start") -> Built:
    r"""AKM's chain (reconstruction); see :func:`tabular_mdps.hard.agarwal_chain`.

    θ₀ = log π₀ with π₀(a₁|s) = ``p_right`` and (1 − p_right)/3 on each reset action. The
    proposition needs p_right < 1/4 (the uniform policy sits exactly at 1/4).
    """
    p = check_real(p_right, "p_right", 0.0, 1.0)
    if p <= 0.0:
        raise ValueError("p_right must be > 0 (finite logits)")
    mdp = agarwal_chain(H, rho=rho)
    pi0 = np.array([p, (1.0 - p) / 3.0, (1.0 - p) / 3.0, (1.0 - p) / 3.0])
    theta0 = np.tile(np.log(pi0), (mdp.S, 1))
    notes = (
        f"π₀(right|s) = {p}; Prop. 4.1 needs < 1/4. V*(s0) = (H+1)γ^(H+1) with γ = H/(H+1). "
        "Structure reconstructed from the proposition's description (right / reset chain, reward at the end)."
    )
    return Built(mdp, theta0, notes)


def li_chain(H: int = 5, *, gamma: float = 0.9, margin: float = 0.5, shrink: float = 0.5) -> TabularMDP:
    r"""A cascade chain on which softmax PG from the uniform policy learns one state at a time.

    **Reconstruction of the mechanism** of Li, Wei, Chi, Gu & Chen (2021), "Softmax policy gradient
    methods can take exponential time to converge" (COLT 2021; Math. Program. 2023): a chain with
    three actions on which, from a benign (uniform) start and a uniform μ, each state's optimal
    action looks *worse* than a safe exit until its successor has converged, so convergence moves
    state by state from the goal end and each state first drives its optimal action's probability
    down, then must climb back from there. Li et al.'s MDP (key, adjoint and buffer states; the
    bound (1/η)|S|^{2^{Ω(1/(1−γ))}}) is not reproduced: its specification is not in the sources
    available here. This instance carries no lower-bound guarantee; its slowdown is measured.

    States: 0 is an absorbing sink (all actions stay, reward 0 — a three-way tie); 1, ..., H form the
    chain. Actions at s ∈ {1..H}: 0 "advance" → s − 1 with reward 0, except at s = 1 where it enters
    the sink with reward 1 (the goal); 1 "quit" → sink with reward q_s = γ^{s−1}(1 − ε_s),
    ε_s = ``margin`` · ``shrink``^{s−1}; 2 "stay" → s with reward 0. ρ is uniform over all H + 1
    states.

    Closed form: advancing everywhere is optimal, V*(s) = γ^{s−1}, Q*(s, quit) = q_s,
    Q*(s, stay) = γ^s, so the gap is γ^{s−1}(1 − max(1 − ε_s, γ)) = γ^{s−1} min(ε_s, 1 − γ).

    The trap: while state s − 1 still quits, advancing from s is worth γ q_{s−1} < q_s (since
    ε_s < ε_{s−1} when shrink < 1), so "advance" has negative advantage at s; once s − 1 has
    converged it is worth γ^{s−1} > q_s. The trap's depth relative to the final margin is
    (ε_{s−1} − ε_s)/ε_s = 1/shrink − 1 at every level, and the margins shrink geometrically, which
    is what makes the iteration count grow geometrically with H. Under the uniform policy π_u with
    the defaults, quit beats advance (Q^{π_u}(s, quit) > Q^{π_u}(s, advance)) at every s ≥ 2 and
    advance has negative advantage at every s ≥ 3 (checked in the tests; at s = 2 the first
    inequality reads (2 − ε₁) < (3 − γ)(1 − ε₂)). ``shrink = 1`` gives a constant-margin cascade
    with only polynomial growth.

    Measured (exact PG, η = 1, defaults, iterations until π(advance|s) > 1/2 for s = 1..7 with
    H = 7): 17, 65, 300, 1601, 8134, 38574, 161765 — about ×5 per state.

    Parameters
    ----------
    H
        Chain length (≥ 1); S = H + 1, A = 3.
    gamma
        Discount in (0, 1).
    margin
        ε₁ ∈ (0, 1]: the relative margin of "advance" over "quit" at state 1.
    shrink
        κ ∈ (0, 1]: ε_s = ε₁ κ^{s−1}.
    """
    H = check_int(H, "H", 1)
    g = check_real(gamma, "gamma", 0.0, 1.0)
    if g <= 0.0:
        raise ValueError("gamma must be > 0 for a chain")
    eps1 = check_real(margin, "margin", 0.0, 1.0, closed_high=True)
    kappa = check_real(shrink, "shrink", 0.0, 1.0, closed_high=True)
    if eps1 <= 0.0 or kappa <= 0.0:
        raise ValueError("margin and shrink must be > 0 (a zero margin makes quit and advance tie)")
    S = H + 1
    P = np.zeros((S, 3, S))
    r = np.zeros((S, 3))
    P[0, :, 0] = 1.0
    for s in range(1, S):
        P[s, 0, s - 1] = 1.0
        P[s, 1, 0] = 1.0
        P[s, 2, s] = 1.0
        r[s, 1] = g ** (s - 1) * (1.0 - eps1 * kappa ** (s - 1))
    r[1, 0] = 1.0
    return TabularMDP(P, r, g, np.full(S, 1.0 / S))


@register(
    "li_chain",
    summary="cascade chain (advance / quit / stay): PG learns it state by state, time ×~5 per state",
    source="after Li, Wei, Chi, Gu, Chen (COLT 2021, arXiv 2102.11270): reconstruction of the mechanism only",
    used_by="Mei et al. 2020 Thm 4 constant c (can be exponentially small); Li et al.'s exponential-time lower bound",
    provenance="reconstructed",
)
def _li_chain(*, H: int = 5, gamma: float = 0.9, margin: float = 0.5, shrink: float = 0.5) -> Built:
    r"""Cascade chain after Li et al. 2021 (reconstruction); see :func:`tabular_mdps.hard.li_chain`.

    θ₀ = 0 (the uniform, "benign" initialisation); ρ uniform. Not Li et al.'s MDP: no lower bound
    is claimed; the geometric slowdown is measured, and comes with geometrically shrinking gaps.
    """
    mdp = li_chain(H, gamma=gamma, margin=margin, shrink=shrink)
    notes = (
        "Uniform θ₀ and ρ. While state s−1 quits, 'advance' at s has negative advantage, so PG learns the "
        "chain from the goal end, one state at a time. A reconstruction of Li et al.'s mechanism, not their "
        "MDP; the gaps shrink like shrink^s; the state-0 sink has a three-way tie."
    )
    return Built(mdp, np.zeros((mdp.S, mdp.A)), notes)
