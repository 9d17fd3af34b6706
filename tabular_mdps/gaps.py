r"""Enforcing a minimum optimal-action gap Δ* = min_s [Q*(s, a*(s)) − max_{a≠a*(s)} Q*(s, a)].

Mei et al. (2020), Lemma 9 and Theorem 10, assume a *unique* optimal action per state with a strict
gap; a Lean formalisation found that ties break Lemma 9 (docs/claims.md#mei-et-al-2020). Random rewards avoid
ties only almost surely and may give tiny gaps, so the random families accept ``min_gap`` and call
:func:`enforce_min_gap`.

Construction (rewards stay in [0, 1], the optimal policy is kept)
-----------------------------------------------------------------
Let π* be a deterministic optimal policy of (P, r, γ) with actions a*(s) and gaps g(s) ≥ 0
(g(s) = 0 at a tie), g = min_s g(s). For c ∈ [0, 1] set

.. math::  r'(s, a) = (1 - c)\, r(s, a) + c\, \mathbf 1[a = a^*(s)].

*Claim.* π* is optimal for r', its actions are the unique optimal actions, and the new gaps are
exactly g'(s) = (1 − c) g(s) + c.

*Proof.* Q^π is linear in r, so Q'^{π*} = (1 − c) Q^{π*} + c Q_1, where Q_1 is the action value of
π* for the indicator reward 1[a = a*(s)]. Under π* that reward is 1 at every step, so
V_1 = (I − γP_{π*})^{-1} 1 = 1/(1 − γ) and Q_1(s, a) = 1[a = a*(s)] + γ Σ_{s'} P(s'|s, a)/(1 − γ)
= 1[a = a*(s)] + γ/(1 − γ): the future term is the same for every action (rows of P sum to 1).
Hence Q'^{π*}(s, a*(s)) − Q'^{π*}(s, a) = (1 − c)(Q^{π*}(s, a*(s)) − Q^{π*}(s, a)) + c ≥ (1 − c) g(s)
+ c > 0 for c > 0. So π* is strictly greedy with respect to its own action values, which is the
Bellman optimality equation: Q'* = Q'^{π*}, a*(s) is the unique maximiser, and the gap is
(1 − c) g(s) + c (equality at the runner-up action). Since r and the indicator lie in [0, 1], so
does their convex combination r'. ∎

Choosing c: the smallest c with (1 − c) g + c ≥ m is c = (m − g)/(1 − g) when g < m ≤ 1 (and c = 0
when g ≥ m). A target m > 1 is not always reachable with rewards in [0, 1] (a bandit, γ = 0, has
gap ≤ 1), so ``min_gap`` must lie in (0, 1). The target is raised by a relative 1e-6 of the slack
1 − m so that rounding in Q* cannot leave the computed gap a few ulps below m; the result is then
verified with :func:`r1theory.optimal`.
"""

from __future__ import annotations

import numpy as np

from r1theory import TabularMDP, optimal

__all__ = ["check_min_gap", "enforce_min_gap"]


def check_min_gap(min_gap: float | None) -> float | None:
    """Validate a ``min_gap`` argument: None, or a real number in (0, 1).

    Raises
    ------
    TypeError, ValueError
        When it is not a real number, or lies outside (0, 1).
    """
    if min_gap is None:
        return None
    if isinstance(min_gap, bool) or not isinstance(min_gap, int | float | np.integer | np.floating):
        raise TypeError(f"min_gap must be a real number in (0, 1) or None; got {type(min_gap).__name__}")
    m = float(min_gap)
    if not 0.0 < m < 1.0:
        raise ValueError(
            f"min_gap must lie in (0, 1) (rewards in [0, 1] cannot guarantee a larger gap in general); got {m}"
        )
    return m


def enforce_min_gap(mdp: TabularMDP, min_gap: float) -> TabularMDP:
    r"""Return an MDP with the same P, γ, ρ and optimal policy whose Q*-gap is ≥ ``min_gap`` everywhere.

    Uses r' = (1 − c) r + c·1[a = a*(s)] with the smallest sufficient c (module docstring), so r is
    returned unchanged when its gap already suffices. Requires rewards in [0, 1] (asserted).

    Parameters
    ----------
    mdp
        The MDP; its rewards must lie in [0, 1].
    min_gap
        Target m ∈ (0, 1).

    Returns
    -------
    TabularMDP
        An MDP whose :func:`r1theory.optimal` gap satisfies ``gap(s) >= min_gap`` for every s, with
        the same optimal actions as ``optimal(mdp)`` (ties broken as ``optimal`` broke them).

    Raises
    ------
    ValueError
        If the rewards are not in [0, 1] or ``min_gap`` is not in (0, 1).
    RuntimeError
        If the verification fails (it cannot, by the proof, beyond rounding; the check is kept).
    """
    m = check_min_gap(min_gap)
    assert m is not None
    if np.any(mdp.r < 0.0) or np.any(mdp.r > 1.0):
        raise ValueError("enforce_min_gap needs rewards in [0, 1]; rescale r first")
    if mdp.A == 1:
        return mdp  # one action: the gap is +inf
    target = m + 1e-6 * (1.0 - m)
    current = mdp
    for attempt in range(4):  # one change suffices in exact arithmetic; the others absorb rounding
        opt = optimal(current)
        g = float(np.min(opt.gap))
        if g >= m:
            return current
        if attempt == 3:
            break
        c = min(max((target - g) / (1.0 - g), float(np.finfo(np.float64).eps)), 1.0)
        indicator = np.zeros((current.S, current.A))
        indicator[np.arange(current.S), opt.actions] = 1.0
        r_new = np.clip((1.0 - c) * current.r + c * indicator, 0.0, 1.0)
        current = TabularMDP(current.P, r_new, current.gamma, current.rho)
    raise RuntimeError(f"could not enforce min_gap={m}: the gap is still {g!r} after three corrections")
