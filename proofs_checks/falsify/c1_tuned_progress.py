r"""``c1.tuned-progress``: the method makes at least as much progress as PG over K updates at tuned steps.

Method M among the rank-1 variants and ``npg-damped`` (:data:`proofs_checks.c1_faster_than_pg.METHODS`;
default ``r1-grad``). Progress = J(θ_K) − J(θ_0) after K = :data:`C1_ITERATIONS` constant-step updates
from θ_0; each method's step is tuned on the grid :data:`C1_GRID` (10^{-4} … 10^{4}, factor √10; times
max(1, λ) for a damped method, whose direction scales as 1/λ for large λ), extended by a decade at a
time (at most :data:`C1_EXTENSIONS` decades each way) while the best step is on the grid's edge, then
refined by a bounded scalar search on log η in the best step's neighbourhood (factor √10 each side).
Violation: progress_PG − progress_M > :data:`C1_RTOL`·(J* − J(θ_0)) + τ_V
(:func:`proofs_checks._classic.value_tolerance`), unless the method's best step is still on the edge of
its extended grid (then undecided: a larger or smaller step might do better; not a violation). For
``r1-eigen`` a θ_0 where the Fisher's top eigenvalue is repeated is not applicable (σ₁v₁v₁ᵀ is then not
unique). Candidates: ``mdps()``, θ_0 from ``thetas(max_abs=10)``, λ from ``dampings()``. The details
record each tuned run's iterations to the optimum: 1–2 for PG means its tuned step acts as a greedy
policy-iteration jump (docs/claims.md#measurement-pitfalls).

This is one reading of the paper's C1, not the check ``c1.faster-than-pg`` of
:mod:`proofs_checks.c1_faster_than_pg` (iterations to reach ε fewer than PG's, three protocols, on the
default suite): a different measure of speed, on any small instance rather than the suite, so a
different id.

Parametrisations: both the method and PG run K updates in θ space of the same parametrisation, each at
its tuned step; the applicability check of ``r1-eigen`` (a simple top eigenvalue) uses the
parametrisation's Fisher (the engine's blocks for tabular softmax, the dense Jᵀ F_ℓ J otherwise). The
allowance is still C1_RTOL·(J* − J(θ_0)) with J* the optimum over *all* policies, which a restricted
class may not reach (a larger gap than the class's own, so a more lenient allowance). Candidates:
``mdps(S, A ≤ 4)``, the parametrisation and θ (:func:`~proofs_checks.falsify.candidates.parametrised`),
λ from ``dampings()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.optimize
from hypothesis import strategies as st

from r1theory import DAMPED_METHODS, Parametrisation, TabularMDP, fisher, optimal, policy_point, trajectory
from r1theory._types import Array
from r1theory.fisher import TabularFisher
from r1theory.numerics import TINY
from tabular_mdps.strategies import dampings, mdps, thetas

from .._classic import value_tolerance
from ..c1_faster_than_pg import METHODS as C1_METHODS
from .candidates import Candidate, parametrised
from .measurement import Measurement, Spec, not_applicable

__all__ = ["C1_EXTENSIONS", "C1_GRID", "C1_ITERATIONS", "C1_RTOL", "SPEC", "STATEMENT", "measure", "tune"]

#: Number of updates K over which progress J(θ_K) − J(θ_0) is measured.
C1_ITERATIONS = 10
#: Base step grid 10^{k/2}, k = −8..8.
C1_GRID: tuple[float, ...] = tuple(10.0 ** (k / 2) for k in range(-8, 9))
#: At most this many decades are added on each side while the best step sits on the edge.
C1_EXTENSIONS = 4
#: A violation is a progress deficit larger than C1_RTOL times the initial gap (plus τ_V): 1% is well
#: above the resolution of the step tuning, so a violation is not an artefact of the grid.
C1_RTOL = 1e-2

STATEMENT = (
    f"C1 read as progress: the method makes at least as much progress J(θ_K) − J(θ_0) as PG over "
    f"K = {C1_ITERATIONS} updates, each at its own tuned constant step (grid 1e-4…1e4 ×√10, extended at the edge, "
    f"refined); violation: a deficit > {C1_RTOL:g}·(J* − J(θ_0))."
)


def _history(
    mdp: TabularMDP,
    theta0: Array,
    method: str,
    damping: float | None,
    eta: float,
    K: int,
    param: Parametrisation | None = None,
) -> list[float]:
    """J(θ_0), …, J(θ_K) for θ_{k+1} = θ_k + η·direction(θ_k); a non-finite update ends the run early."""
    return [p.ev.J for p in trajectory(mdp, theta0, method, eta, K, damping, param=param)]


def _progress(Js: list[float]) -> float:
    """J(θ_K) − J(θ_0) of a :func:`_history` (the last finite iterate if the run stopped early)."""
    return Js[-1] - Js[0]


def _iterations_to(Js: list[float], J_star: float, tol: float) -> int | None:
    """First k with J* − J(θ_k) ≤ tol, or None."""
    return next((k for k, J in enumerate(Js) if J_star - J <= tol), None)


def tune(progress: Callable[[float], float], scale: float = 1.0) -> tuple[float, float, dict[str, Any]]:
    """Best step and its progress: the grid ``scale``·:data:`C1_GRID`, edge extensions, a local refinement.

    While the best step is the largest (smallest) tried, a step ten times larger (smaller) is added, at
    most :data:`C1_EXTENSIONS` times on each side; then a bounded scalar search on log η within a factor
    √10 of the best grid step refines it. Ties go to the smallest step. Returns (η*, progress(η*),
    details: the tried range and ``best_on_edge``, whether the best grid step is still an end point).
    """
    values = {scale * eta: progress(scale * eta) for eta in C1_GRID}

    def best() -> float:
        top = max(values.values())
        return min(eta for eta, v in values.items() if v == top)

    for direction in (+1, -1):
        for _ in range(C1_EXTENSIONS):
            b = best()
            edge = max(values) if direction > 0 else min(values)
            if b != edge:
                break
            new = edge * 10.0**direction
            values[new] = progress(new)
    b = best()
    on_edge = b in (max(values), min(values))
    lo, hi = math.log(b) - 0.5 * math.log(10.0), math.log(b) + 0.5 * math.log(10.0)
    res = scipy.optimize.minimize_scalar(
        lambda x: -progress(math.exp(x)), bounds=(lo, hi), method="bounded", options={"xatol": 1e-2, "maxiter": 15}
    )
    eta, value = b, values[b]
    if res.success and math.isfinite(float(res.fun)) and -float(res.fun) > value:
        eta, value = math.exp(float(res.x)), -float(res.fun)
    info = {"grid_min": min(values), "grid_max": max(values), "grid_points": len(values), "best_on_edge": on_edge}
    return eta, value, info


def _top_eigenvalue_simple(
    mdp: TabularMDP, theta: Array, rtol: float = 1e-9, param: Parametrisation | None = None
) -> bool:
    """Whether σ₁ of F(θ) is simple, so that the best rank-1 approximation σ₁v₁v₁ᵀ (Eckart–Young) is unique.

    With a repeated σ₁ (e.g. a uniform policy on a bandit, F = (I − 11ᵀ/A)/A), ``r1-eigen`` depends on which
    unit vector of the top eigenspace the eigensolver returns — an implementation detail, not the method.
    F is the parametrisation's Fisher: blockwise for tabular softmax, the dense Jᵀ F_ℓ J otherwise.
    """
    F = fisher(mdp, theta, param)
    if isinstance(F, TabularFisher):
        w = np.sort(np.linalg.eigvalsh(F.blocks).ravel())  # F = blockdiag_s d(s)(diag π_s − π_s π_sᵀ)
    else:
        Fd = F.dense()
        w = np.linalg.eigvalsh(0.5 * (Fd + Fd.T))  # ascending
    return w.size < 2 or w[-1] - w[-2] > rtol * max(w[-1], TINY)


def measure(c: Candidate, method: str) -> Measurement:
    """``c1.tuned-progress``: progress of ``method`` at its tuned step ≥ PG's at its tuned step (module docstring)."""
    if c.iterations is None or c.iterations < 1:
        return not_applicable("progress", ">=", "c1.tuned-progress needs iterations K ≥ 1")
    K = c.iterations
    mdp, par = c.mdp, c.param
    J_star = optimal(mdp).J
    J0 = policy_point(mdp, c.theta, par).ev.J
    gap0 = J_star - J0
    tol = value_tolerance(mdp)
    if gap0 <= tol:
        return not_applicable("progress", ">=", "θ_0 is already optimal (gap at the float floor)")
    if method == "r1-eigen" and not _top_eigenvalue_simple(mdp, c.theta, param=par):
        return not_applicable(
            "progress", ">=", "r1-eigen is not defined by θ_0: the Fisher's top eigenvalue is repeated"
        )
    scale = max(1.0, c.damping or 1.0)  # damped directions scale as 1/λ for large λ
    eta_m, prog_m, info_m = tune(lambda eta: _progress(_history(mdp, c.theta, method, c.damping, eta, K, par)), scale)
    eta_pg, prog_pg, info_pg = tune(lambda eta: _progress(_history(mdp, c.theta, "pg", None, eta, K, par)))
    allowance = C1_RTOL * gap0 + tol
    deficit = prog_pg - prog_m
    hist_m = _history(mdp, c.theta, method, c.damping, eta_m, K, par)
    hist_pg = _history(mdp, c.theta, "pg", None, eta_pg, K, par)
    details: dict[str, Any] = {
        "iterations": K,
        "initial_gap": gap0,
        "J_star": J_star,
        "progress_method": prog_m,
        "progress_pg": prog_pg,
        "step_method": eta_m,
        "step_pg": eta_pg,
        "final_gap_method": gap0 - prog_m,
        "final_gap_pg": gap0 - prog_pg,
        "deficit_over_initial_gap": deficit / gap0,
        # k at which the tuned run reaches the optimum (to τ_V); 1 or 2 for PG means its tuned step is a greedy
        # policy-iteration jump (docs/claims.md#measurement-pitfalls)
        "iterations_to_optimum_method": _iterations_to(hist_m, J_star, tol),
        "iterations_to_optimum_pg": _iterations_to(hist_pg, J_star, tol),
        "tuning_method": info_m,
        "tuning_pg": info_pg,
    }
    if par is not None and not par.is_tabular:
        details["param"] = c.kind
    violated = deficit > allowance
    if violated and info_m["best_on_edge"]:  # the method might do better beyond its grid: undecided
        details["undecided"] = "the method's best step is on the edge of its extended grid"
        violated = False
    reason = (
        f"after {K} updates at tuned steps, {method} leaves a gap {gap0 - prog_m:.3g} vs PG's {gap0 - prog_pg:.3g} "
        f"(initial gap {gap0:.3g})"
        if violated
        else ""
    )
    return Measurement(
        violated, "progress J(θ_K) − J(θ_0), method", prog_m, prog_pg, ">=", allowance, reason, True, details
    )


@st.composite
def candidates(draw: st.DrawFn, method: str) -> Candidate:
    mdp = draw(mdps(max_states=4, max_actions=4))
    theta = draw(thetas(mdp, max_abs=10.0))
    lam = draw(dampings()) if method in DAMPED_METHODS else None
    return Candidate(mdp, theta, lam, None, C1_ITERATIONS)


@st.composite
def param_candidates(draw: st.DrawFn, method: str, kind: str) -> Candidate:
    """``c1`` under a log-linear or neural policy: ``mdps(S, A ≤ 4)``, :func:`_parametrised`, λ from ``dampings()``."""
    mdp = draw(mdps(max_states=4, max_actions=4))
    par, theta = draw(parametrised(mdp, kind))
    lam = draw(dampings()) if method in DAMPED_METHODS else None
    return Candidate(mdp, theta, lam, None, C1_ITERATIONS, par)


def score(m: Measurement) -> float:
    """Search score: the progress deficit over the initial gap (larger = closer to a violation)."""
    return float(m.details.get("deficit_over_initial_gap", 0.0))


SPEC = Spec(C1_METHODS, "r1-grad", candidates, measure, score, param_candidates)
