r"""Falsify adapters of the classic claims: candidates and a score around the checks' own inequalities.

Each measurement here evaluates one candidate with the engine and decides the violation with the check
module's function for the inequality — the same function the check's assessment uses on its runs:

* ``mei2020.lojasiewicz`` — Mei, Xiao, Szepesvári, Schuurmans (ICML 2020; arXiv 2005.06392 v3) Lemma 8
  with μ = ρ: ‖∇J(θ)‖₂ ≥ (1/√S)·‖d_ρ^{π*}/d_ρ^{π_θ}‖_∞^{-1}·min_s π_θ(a*(s)|s)·(V*(ρ) − J(θ)) at every θ,
  on MDPs with a unique optimal action per state, ρ of full support and r ∈ [0, 1]
  (:data:`proofs_checks.mei2020_lojasiewicz.REQUIRED`; candidates: ``mdps(min_gap=0.01,
  full_support_rho=True)``). Terms: :func:`~proofs_checks.mei2020_lojasiewicz.lojasiewicz_terms`;
  violation: :func:`~proofs_checks.mei2020_lojasiewicz.lemma8_short` with the floor τ_V.
* ``mei2020.ascent`` — the ascent inequality of an L-smooth J (Mei et al. 2020 v3, Lemma 7 and the proof
  of Theorem 4): J(θ + ηg) − J(θ) ≥ η(1 − Lη/2)‖g‖² for η ≤ 1/L, L = 8/(1 − γ)³, r ∈ [0, 1]; candidates
  use η = (1 − γ)³/8 = 1/L, where the bound is ‖g‖²/(2L). RHS:
  :func:`~proofs_checks.mei2020_smoothness.ascent_rhs`; violation:
  :func:`~proofs_checks.mei2020_smoothness.ascent_short` with the floor τ_V.
* ``agarwal2021.npg-rate`` — Agarwal, Kakade, Lee, Mahajan (JMLR 2021; arXiv 1908.00261 v5) Theorem 5.3:
  from θ^{(0)} = 0 (uniform) with any fixed η > 0 and r ∈ [0, 1], V*(ρ) − V^{(t)}(ρ) ≤ log|A|/(ηt) +
  1/((1 − γ)²t) for t = 1..T (T ≤ :data:`NPG_MAX_ITERATIONS` drawn). Bound:
  :func:`~proofs_checks.agarwal2021_npg_rate.theorem53_bound`; violation:
  :func:`~proofs_checks.agarwal2021_npg_rate.theorem53_excess` > 0 with the floor τ_V at some t; the worst
  t (largest gap/bound) is reported.

The floor is τ_V = :func:`proofs_checks._classic.value_tolerance` (an instance-wide bound on the rounding
of a value difference, no optimum or run needed), where the checks use their runs' floor
:func:`proofs_checks._classic.gap_floor`. These theorems are about tabular softmax: a log-linear or neural
candidate is not applicable, and :func:`proofs_checks.falsify.resolve` refuses another kind.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from r1theory import evaluate, optimal, policy_point, trajectory
from tabular_mdps.strategies import mdps, near_deterministic_thetas, steps, thetas

from .._classic import standing, unmet, value_tolerance
from ..agarwal2021_npg_rate import theorem53_bound, theorem53_excess
from ..mei2020_lojasiewicz import REQUIRED, lemma8_short, lemma8_usable, lojasiewicz_terms
from ..mei2020_smoothness import ascent_rhs, ascent_short, smoothness_constant
from .candidates import Candidate, J_after
from .measurement import TABULAR_ONLY, Measurement, Spec, not_applicable, score_relative

__all__ = [
    "LOJASIEWICZ",
    "LOJASIEWICZ_MIN_GAP",
    "MEI2020_ASCENT",
    "NPG_MAX_ITERATIONS",
    "NPG_RATE",
    "measure_lojasiewicz",
    "measure_npg_rate",
    "measure_smooth_ascent",
]

#: ``mei2020.lojasiewicz``: candidates have a unique optimal action with at least this Q*-gap.
LOJASIEWICZ_MIN_GAP = 0.01
#: ``agarwal2021.npg-rate``: the largest number of NPG iterations T drawn.
NPG_MAX_ITERATIONS = 30


# --- Mei et al. 2020, Lemma 8 -------------------------------------------------------------------
def measure_lojasiewicz(c: Candidate, method: str) -> Measurement:
    """``mei2020.lojasiewicz``: ‖∇J‖ ≥ (1/√S)‖d*/d_θ‖∞⁻¹ min_s π(a*(s)|s) (V*(ρ) − J(θ)), Lemma 8, μ = ρ."""
    quantity = "‖∇J(θ)‖₂"
    if c.kind != "tabular":
        return not_applicable(quantity, ">=", TABULAR_ONLY)
    opt = optimal(c.mdp)
    conditions = standing(c.mdp, opt)
    reasons = unmet(conditions, REQUIRED)
    if reasons:
        return not_applicable(quantity, ">=", "; ".join(reasons))
    p = policy_point(c.mdp, c.theta)
    terms = lojasiewicz_terms(p, opt, evaluate(c.mdp, opt.pi).d)
    tol = value_tolerance(c.mdp)
    lhs, coef, gap = terms["lhs"], terms["coef"], terms["gap"]
    bound = coef * gap
    details = {**terms, "tolerance_gap": tol, "min_optimal_gap": conditions["min_optimal_gap"]}
    if not lemma8_usable(coef, gap, tol):
        return Measurement(False, quantity, lhs, bound, ">=", 0.0, "gap at the float floor or RHS 0", True, details)
    details["ratio_lhs_over_rhs"] = lhs / bound
    violated = bool(lemma8_short(lhs, coef, gap, tol))
    reason = f"‖∇J‖ = {lhs:.3g} < RHS = {bound:.3g} (ratio {lhs / bound:.3g})" if violated else ""
    return Measurement(violated, quantity, lhs, bound, ">=", coef * tol, reason, True, details)


@st.composite
def _lojasiewicz_candidates(draw: st.DrawFn, method: str) -> Candidate:
    mdp = draw(mdps(max_states=4, max_actions=4, min_gap=LOJASIEWICZ_MIN_GAP, full_support_rho=True))
    theta = draw(st.one_of(thetas(mdp, max_abs=30.0), near_deterministic_thetas(mdp)))
    return Candidate(mdp, theta)


# --- Mei et al. 2020, Lemma 7: the ascent inequality --------------------------------------------
def measure_smooth_ascent(c: Candidate, method: str) -> Measurement:
    """``mei2020.ascent``: J(θ + ηg) − J(θ) ≥ η(1 − Lη/2)‖g‖² for 0 < η ≤ 1/L, L = 8/(1 − γ)³, r ∈ [0, 1]."""
    quantity = "J(θ + η∇J) − J(θ)"
    if c.kind != "tabular":
        return not_applicable(quantity, ">=", TABULAR_ONLY)
    if c.step is None or not c.step > 0:
        return not_applicable(quantity, ">=", "needs a step η > 0")
    L = smoothness_constant(c.mdp.gamma)
    if c.step > (1.0 + 1e-12) / L:
        return not_applicable(quantity, ">=", f"η = {c.step:.3g} exceeds 1/L = {1.0 / L:.3g}")
    if np.any(c.mdp.r < 0.0) or np.any(c.mdp.r > 1.0):
        return not_applicable(quantity, ">=", "r ∉ [0, 1] (L = 8/(1−γ)³ assumes it)")
    p = policy_point(c.mdp, c.theta)
    g = p.gradient
    eta = c.step
    gsq = float(np.vdot(g, g))
    need = float(ascent_rhs(eta, L, gsq))
    rise = J_after(c, p.theta, eta, g) - p.ev.J
    tol = value_tolerance(c.mdp)
    details = {"L": L, "step": eta, "gradient_sq_norm": gsq, "J": p.ev.J, "rise": rise}
    violated = bool(ascent_short(rise, need, tol))
    reason = f"J rises by {rise:.3g} < η(1 − Lη/2)‖∇J‖² = {need:.3g}" if violated else ""
    return Measurement(violated, quantity, rise, need, ">=", tol, reason, True, details)


@st.composite
def _smooth_ascent_candidates(draw: st.DrawFn, method: str) -> Candidate:
    mdp = draw(mdps(max_states=4, max_actions=4))
    theta = draw(st.one_of(thetas(mdp, max_abs=30.0), near_deterministic_thetas(mdp)))
    return Candidate(mdp, theta, None, (1.0 - mdp.gamma) ** 3 / 8.0)


# --- Agarwal et al. 2021, Theorem 5.3 -----------------------------------------------------------
def measure_npg_rate(c: Candidate, method: str) -> Measurement:
    """``agarwal2021.npg-rate``: V*(ρ) − V^{(t)}(ρ) ≤ log|A|/(ηt) + 1/((1−γ)²t), t = 1..T, NPG from θ = 0."""
    quantity = "V*(ρ) − V^(t)(ρ)"
    if c.kind != "tabular":
        return not_applicable(quantity, "<=", TABULAR_ONLY)
    if c.step is None or not c.step > 0 or c.iterations is None or c.iterations < 1:
        return not_applicable(quantity, "<=", "needs a step η > 0 and iterations T ≥ 1")
    if np.any(np.ptp(c.theta, axis=1) != 0.0):
        return not_applicable(quantity, "<=", "Theorem 5.3 starts from the uniform policy θ^(0) = 0")
    if np.any(c.mdp.r < 0.0) or np.any(c.mdp.r > 1.0):
        return not_applicable(quantity, "<=", "r ∉ [0, 1]")
    mdp, eta = c.mdp, c.step
    J_star = optimal(mdp).J
    gaps = [J_star - p.ev.J for p in list(trajectory(mdp, c.theta, "npg", eta, c.iterations))[1:]]
    if not gaps:
        return not_applicable(quantity, "<=", "the first NPG update is not finite")
    gap = np.asarray(gaps)
    t = np.arange(1, gap.size + 1, dtype=np.float64)
    bound = theorem53_bound(mdp.gamma, mdp.A, eta, t)
    tol = value_tolerance(mdp)
    k = int(np.argmax(gap / bound))
    details = {
        "t": k + 1,
        "iterations": int(gap.size),
        "step": eta,
        "max_gap_over_bound": float(gap[k] / bound[k]),
        "gaps": gap.tolist(),
        "J_star": J_star,
    }
    over = theorem53_excess(gap, bound, tol)
    violated = bool(np.any(over > 0))
    if violated:
        k = int(np.argmax(over))
        details["t"] = k + 1
    reason = f"gap {gap[k]:.3g} > bound {bound[k]:.3g} at t = {k + 1}" if violated else ""
    return Measurement(violated, quantity, float(gap[k]), float(bound[k]), "<=", tol, reason, True, details)


@st.composite
def _npg_rate_candidates(draw: st.DrawFn, method: str) -> Candidate:
    mdp = draw(mdps(max_states=4, max_actions=4))
    eta = draw(steps())
    T = draw(st.integers(1, NPG_MAX_ITERATIONS))
    return Candidate(mdp, np.zeros((mdp.S, mdp.A)), None, eta, T)


LOJASIEWICZ = Spec(("pg",), "pg", _lojasiewicz_candidates, measure_lojasiewicz, score_relative)
MEI2020_ASCENT = Spec(("pg",), "pg", _smooth_ascent_candidates, measure_smooth_ascent, score_relative)
NPG_RATE = Spec(("npg",), "npg", _npg_rate_candidates, measure_npg_rate, score_relative)
