r"""Hypothesis-driven search for the smallest instance that violates a claim (``r1theory falsify``).

A claim here is an inequality that a theorem, a lemma or the paper's reading says holds on *every*
instance meeting stated conditions. The search

1. draws candidates (MDP, θ, λ, η, iterations) from the public strategies of
   :mod:`tabular_mdps.strategies` (MDPs with S, A ≤ 4 unless stated);
2. measures the inequality exactly with the engine, and steers the search towards violations with
   :func:`hypothesis.target` (the score is the violation margin, e.g. −cos(d, ∇J));
3. lets hypothesis **shrink** the first violation (towards small S, A and simple numbers), then runs a
   greedy reduction pass (:func:`_reduce`: a state alone as a one-state MDP, an action removed) that
   keeps any smaller instance that still violates — hypothesis cannot always delete a state, because
   changing S shifts every later random choice.

It is :func:`hypothesis.find` with the ``"long"`` profile's settings, ``max_examples=budget``
(default :data:`DEFAULT_BUDGET`), ``database=None`` and ``derandomize=False``, seeded through
``random.Random(seed)``: the same seed, budget, code and hypothesis version give the same result.
Cost per candidate: ~5 ms for ``ascent`` and the classic claims, ~50–100 ms for ``c1`` (two step
tunings of K = 10 updates); shrinking adds a few hundred to two thousand measurements.

Claims (``CLAIM``: what is measured; a violation is a measurement beyond the bound by more than the
stated tolerance). Notation: g = ∇J(θ) (exact), L = 8/(1 − γ)³ (Mei et al. 2020, Lemma 7, r ∈ [0, 1]),
H = 1/(1 − γ), ``value_tolerance`` τ_V = 1e3·ε_mach·H·(1 + max|r|·H) (rounding of a difference of two
values of size ≤ 1 + max|r|H computed by a solve of condition ≤ 2H).

``ascent`` — method M (any of :data:`r1theory.METHODS`; default ``r1-same``).
    (i) direction: cos(d, g) ≥ 0 for d = direction(M, θ) (violation: cos < −:data:`COS_TOL`);
    (ii) step: J(θ + η d) ≥ J(θ) at the *stated step* (violation: J(θ + ηd) − J(θ) < −τ_V), where the
    stated step is the largest step a smoothness argument certifies for M's class:
    η = 1/L for ``pg`` (the ascent lemma); any η > 0 (drawn) for ``npg`` (Agarwal et al. 2021,
    Lemma 5.2: NPG improves V at every state for every η); η = λ/L for the damped methods, whose
    preconditioner M satisfies 0 ≺ M ⪯ I/λ (then J(θ+ηMg) − J(θ) ≥ (η/2) gᵀMg > 0), and, by analogy
    (each per-sample matrix (λI + uuᵀ)^{-1} ⪯ I/λ, but their Â-weighted sum is no preconditioner),
    for ``r1-same`` (V2). paper-claims.md §5.3 expects V2 to fail (i) for small λ and one dominant action.
    Candidates: half generic (``mdps()``, ``thetas(max_abs=100)`` or ``near_deterministic_thetas``,
    ``dampings()``), half that stress regime (:func:`_stress_candidates`: S ≤ 2, A ≥ 3, rewards from
    :data:`~tabular_mdps.strategies.SIMPLE_REWARDS`, margin 2–10, λ ≤ 1e-3); the violating region is
    small (≈ 0.2–0.5% of stress candidates), so finding V2's failure takes ~1000–2000 examples.
``c1`` — method M among the rank-1 variants and ``npg-damped`` (default ``r1-grad``).
    "The rank-1 method makes at least as much progress as PG at their tuned steps": progress =
    J(θ_K) − J(θ_0) after K = :data:`C1_ITERATIONS` constant-step updates from θ_0; each method's step is
    tuned on the grid :data:`C1_GRID` (10^{-4} … 10^{4}, factor √10; times max(1, λ) for a damped
    method, whose direction scales as 1/λ for large λ), extended by a decade at a time (at most
    :data:`C1_EXTENSIONS` decades each way) while the best step is on the grid's edge, then refined by a
    bounded scalar search on log η in the best step's neighbourhood (factor √10 each side).
    Violation: progress_PG − progress_M > :data:`C1_RTOL`·(J* − J(θ_0)) + τ_V, unless the method's best
    step is still on the edge of its extended grid (then undecided: a larger or smaller step might do
    better; not a violation). For ``r1-eigen`` a θ_0 where the Fisher's top eigenvalue is repeated is
    not applicable (σ₁v₁v₁ᵀ is then not unique). Candidates: ``mdps()``, θ_0 from ``thetas(max_abs=10)``, λ from
    ``dampings()``. The details record each tuned run's iterations to the optimum: 1–2 for PG means its
    tuned step acts as a greedy policy-iteration jump (design.md, measurement pitfalls) — a win the
    proofs_checks C1 check also counts, but one to read with that in mind.
``mei2020.lojasiewicz`` — PG. Mei, Xiao, Szepesvári, Schuurmans (ICML 2020; arXiv 2005.06392 v3)
    Lemma 8 with μ = ρ: ‖g‖₂ ≥ (1/√S)·‖d_ρ^{π*}/d_ρ^{π_θ}‖_∞^{-1}·min_s π_θ(a*(s)|s)·(V*(ρ) − J(θ)) at
    every θ, on MDPs with a unique optimal action per state, ρ of full support and r ∈ [0, 1]
    (candidates: ``mdps(min_gap=0.01, full_support_rho=True)``). Violation: LHS < (1 − 10⁻⁹)·coef·(gap − τ_V).
``mei2020.ascent`` — PG. The ascent inequality of an L-smooth J (Mei et al. 2020 v3, Lemma 7 and the
    proof of Theorem 4): J(θ + ηg) − J(θ) ≥ η(1 − Lη/2)‖g‖² for η ≤ 1/L, r ∈ [0, 1]; candidates use
    η = (1 − γ)³/8 = 1/L, where the bound is ‖g‖²/(2L). Violation: the rise is below the bound by > τ_V.
``agarwal2021.npg-rate`` — NPG. Agarwal, Kakade, Lee, Mahajan (JMLR 2021; arXiv 1908.00261 v5)
    Theorem 5.3: from θ^{(0)} = 0 (uniform) with any fixed η > 0 and r ∈ [0, 1],
    V*(ρ) − V^{(t)}(ρ) ≤ log|A|/(ηt) + 1/((1 − γ)²t) for t = 1..T (T ≤ 30 drawn). Violation: the gap
    exceeds the bound by > τ_V at some t; the worst t (largest gap/bound) is reported.

Conditions are re-checked by each measurement (an instance that does not meet them is never a
violation), so a saved counterexample replays from its files alone: :func:`replay` re-measures it.

Files (:func:`save_counterexample`): ``<claim>-<method>-seed<seed>.mdp.json`` (the catalog's format,
:func:`tabular_mdps.save`) and the record ``<claim>-<method>-seed<seed>.json`` with keys ``mdp`` (the
MDP file's name, relative to the record), ``theta``, ``damping``, ``step``, ``iterations`` (null when
not relevant), ``claim``, ``method``, ``statement``, ``violation`` (``quantity``, ``measured``, ``bound``,
``relation``, ``tolerance``, ``margin``, ``details``), ``seed``, ``budget`` and ``search``.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import scipy.optimize
from hypothesis import HealthCheck, Phase, find, settings, target
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

import tabular_mdps
from r1theory import DAMPED_METHODS, METHODS, TabularMDP, direction_at, evaluate, optimal, policy_point
from r1theory._types import Array
from tabular_mdps.files import atomic_write
from tabular_mdps.strategies import (
    PROFILES,
    SIMPLE_REWARDS,
    dampings,
    mdps,
    near_deterministic_thetas,
    profile_settings,
    steps,
    thetas,
)

from ._classic import standing, unmet
from .agarwal2021_npg_rate import theorem53_bound
from .c1_faster_than_pg import METHODS as C1_METHODS
from .mei2020_lojasiewicz import lojasiewicz_terms
from .result import jsonable

__all__ = [
    "C1_EXTENSIONS",
    "C1_GRID",
    "C1_ITERATIONS",
    "C1_RTOL",
    "CLAIMS",
    "COS_TOL",
    "DEFAULT_BUDGET",
    "Candidate",
    "Claim",
    "Measurement",
    "SearchResult",
    "load_counterexample",
    "replay",
    "report",
    "resolve",
    "run",
    "save_counterexample",
    "search",
    "stated_step",
    "value_tolerance",
]

FORMAT = "r1theory.falsify.counterexample"
SCHEMA_VERSION = 1
#: Default number of examples: the ``"long"`` profile's ``max_examples`` (2000).
DEFAULT_BUDGET = int(PROFILES["long"]["max_examples"])
#: Direction part of ``ascent``: a violation is cos(d, ∇J) < −COS_TOL (rounding is ~1e-10 relative).
COS_TOL = 1e-6
#: ``c1``: number of updates K over which progress J(θ_K) − J(θ_0) is measured.
C1_ITERATIONS = 10
#: ``c1``: base step grid 10^{k/2}, k = −8..8.
C1_GRID: tuple[float, ...] = tuple(10.0 ** (k / 2) for k in range(-8, 9))
#: ``c1``: at most this many decades are added on each side while the best step sits on the edge.
C1_EXTENSIONS = 4
#: ``c1``: a violation is a progress deficit larger than C1_RTOL times the initial gap (plus τ_V): 1% is well
#: above the resolution of the step tuning, so a violation is not an artefact of the grid.
C1_RTOL = 1e-2
#: ``mei2020.lojasiewicz``: candidates have a unique optimal action with at least this Q*-gap.
LOJASIEWICZ_MIN_GAP = 0.01
#: ``agarwal2021.npg-rate``: the largest number of NPG iterations T drawn.
NPG_MAX_ITERATIONS = 30
_EPS = float(np.finfo(np.float64).eps)


# ------------------------------------------------------------------------------------------------
# Candidates and measurements
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """One instance a claim is measured on.

    Attributes
    ----------
    mdp : the MDP.
    theta : (S, A) logits (the point, or the initial point of a run).
    damping : λ of a damped method, else None.
    step : the step η where the claim has one, else None.
    iterations : the number of updates where the claim runs a method, else None.
    """

    mdp: TabularMDP
    theta: Array
    damping: float | None = None
    step: float | None = None
    iterations: int | None = None

    def describe(self) -> str:
        """A one-line summary: sizes, γ, λ, η, iterations."""
        parts = [f"S={self.mdp.S}", f"A={self.mdp.A}", f"gamma={self.mdp.gamma:.6g}"]
        if self.damping is not None:
            parts.append(f"damping={self.damping:.6g}")
        if self.step is not None:
            parts.append(f"step={self.step:.6g}")
        if self.iterations is not None:
            parts.append(f"iterations={self.iterations}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Measurement:
    """A claim measured on one candidate: ``measured`` against ``bound`` under ``relation``.

    ``relation`` is ">=" (the claim says measured ≥ bound; a violation is measured < bound − tolerance)
    or "<=" (measured ≤ bound; a violation is measured > bound + tolerance). ``margin`` is how far the
    measurement lies beyond the bound (positive for a violation of any size, before the tolerance).
    ``applicable`` is False when the candidate does not meet the claim's conditions (never a
    violation); ``reason`` says why, or what was violated.
    """

    violated: bool
    quantity: str
    measured: float
    bound: float
    relation: str
    tolerance: float
    reason: str = ""
    applicable: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def margin(self) -> float:
        """Measured − bound for "<=", bound − measured for ">=" (positive = beyond the bound)."""
        return self.measured - self.bound if self.relation == "<=" else self.bound - self.measured

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (non-finite floats as strings)."""
        return jsonable(
            {
                "quantity": self.quantity,
                "measured": self.measured,
                "bound": self.bound,
                "relation": self.relation,
                "tolerance": self.tolerance,
                "margin": self.margin,
                "violated": self.violated,
                "applicable": self.applicable,
                "reason": self.reason,
                "details": self.details,
            }
        )


def _not_applicable(quantity: str, relation: str, reason: str) -> Measurement:
    return Measurement(False, quantity, math.nan, math.nan, relation, 0.0, reason, applicable=False)


def value_tolerance(mdp: TabularMDP) -> float:
    """τ_V = 1e3·ε·H·(1 + max|r|·H), H = 1/(1 − γ): rounding of a difference of two exact values.

    |V| ≤ 1 + max|r|H and the linear solve behind V has condition number ≤ 2H, so each value carries an
    error of a few ε·2H·(1 + max|r|H); the factor 1e3 absorbs the sums over S, A ≤ 6.
    """
    H = 1.0 / (1.0 - mdp.gamma)
    return 1e3 * _EPS * H * (1.0 + float(np.max(np.abs(mdp.r))) * H)


def _cosine(x: Array, y: Array) -> float:
    """cos(x, y), robust to tiny and huge entries (each vector scaled by its largest entry first)."""
    sx, sy = float(np.max(np.abs(x))), float(np.max(np.abs(y)))
    if not (sx > 0 and sy > 0 and math.isfinite(sx) and math.isfinite(sy)):
        return 0.0
    xs, ys = x / sx, y / sy
    return float(np.vdot(xs, ys) / (np.linalg.norm(xs) * np.linalg.norm(ys)))


def stated_step(method: str, gamma: float, damping: float | None) -> float | None:
    """The step at which ``ascent`` part (ii) is measured (module docstring); None for ``npg`` (any η).

    pg: 1/L = (1 − γ)³/8; the damped methods and r1-same: λ/L.
    """
    inv_L = (1.0 - gamma) ** 3 / 8.0
    if method == "pg":
        return inv_L
    if method == "npg":
        return None
    if damping is None:
        raise ValueError(f"method {method!r} needs a damping λ > 0")
    return damping * inv_L


def _J_after(mdp: TabularMDP, theta: Array, step: float, d: Array) -> float:
    new = theta + step * d
    if not np.all(np.isfinite(new)):
        return math.nan
    return float(policy_point(mdp, new).ev.J)


# --- ascent -------------------------------------------------------------------------------------
def measure_ascent(c: Candidate, method: str) -> Measurement:
    """``ascent``: (i) cos(d, ∇J) ≥ −COS_TOL and (ii) J(θ + ηd) − J(θ) ≥ −τ_V at the candidate's step."""
    p = policy_point(c.mdp, c.theta)
    g = p.gradient
    d = direction_at(p, method, c.damping)
    cos = _cosine(d, g)
    tol = value_tolerance(c.mdp)
    step = c.step
    rise = _J_after(c.mdp, p.theta, step, d) - p.ev.J if step is not None else math.nan
    details: dict[str, Any] = {
        "cosine": cos,
        "inner_product": float(np.vdot(d, g)),
        "direction_norm": float(np.linalg.norm(d)),
        "gradient_norm": float(np.linalg.norm(g)),
        "J": p.ev.J,
        "step": step,
        "rise_at_step": rise,
        "step_tolerance": tol,
        "min_pi_max": float(np.min(np.max(p.pi, axis=1))),
    }
    if cos < -COS_TOL:
        return Measurement(
            True,
            "cos(direction, ∇J)",
            cos,
            0.0,
            ">=",
            COS_TOL,
            f"the {method} direction has a negative inner product with ∇J (cos = {cos:.3g})",
            details=details,
        )
    if step is not None and not rise >= -tol:  # a NaN rise (non-finite θ) counts as a violation too
        return Measurement(
            True,
            "J(θ + η·d) − J(θ)",
            rise,
            0.0,
            ">=",
            tol,
            f"a step η = {step:.3g} along the {method} direction lowers J by {-rise:.3g}",
            details=details,
        )
    return Measurement(False, "cos(direction, ∇J)", cos, 0.0, ">=", COS_TOL, "", details=details)


@st.composite
def _ascent_candidates(draw: st.DrawFn, method: str) -> Candidate:
    """Half generic (any MDP, θ, λ), half the regime of paper-claims.md §5.3 (see :func:`_stress_candidates`)."""
    if draw(st.booleans()):
        return draw(_stress_candidates(method))
    mdp = draw(mdps(max_states=4, max_actions=4))
    theta = draw(st.one_of(thetas(mdp, max_abs=100.0), near_deterministic_thetas(mdp)))
    lam = draw(dampings()) if method in DAMPED_METHODS else None
    step = draw(steps()) if method == "npg" else stated_step(method, mdp.gamma, lam)
    return Candidate(mdp, theta, lam, step)


@st.composite
def _stress_candidates(draw: st.DrawFn, method: str) -> Candidate:
    """The stress regime of paper-claims.md §5.3: A ≥ 3, one dominant action, small λ, reward near-ties.

    S ≤ 2; rewards from :data:`tabular_mdps.strategies.SIMPLE_REWARDS` (simple levels with ties and
    near-ties); logits from ``near_deterministic_thetas(margin 2…10, spread ≤ 6)``; λ ∈ [1e-6, 1e-3].
    (With A = 2 the V2 direction is provably an ascent direction: tests/test_symbolic.py.)
    """
    mdp = draw(mdps(max_states=2, min_actions=3, max_actions=4, reward_values=SIMPLE_REWARDS))
    theta = draw(near_deterministic_thetas(mdp, min_margin=2.0, max_margin=10.0, max_spread=6.0))
    lam = draw(dampings(1e-6, 1e-3)) if method in DAMPED_METHODS else None
    step = draw(steps()) if method == "npg" else stated_step(method, mdp.gamma, lam)
    return Candidate(mdp, theta, lam, step)


# --- c1 -----------------------------------------------------------------------------------------
def _history(mdp: TabularMDP, theta0: Array, method: str, damping: float | None, eta: float, K: int) -> list[float]:
    """J(θ_0), …, J(θ_K) for θ_{k+1} = θ_k + η·direction(θ_k); a non-finite update ends the run early."""
    p = policy_point(mdp, theta0)
    Js = [p.ev.J]
    for _ in range(K):
        theta = p.theta + eta * direction_at(p, method, damping)
        if not np.all(np.isfinite(theta)):
            break
        q = policy_point(mdp, theta)
        if not math.isfinite(q.ev.J):
            break
        p = q
        Js.append(p.ev.J)
    return Js


def _progress(mdp: TabularMDP, theta0: Array, method: str, damping: float | None, eta: float, K: int) -> float:
    """J(θ_K) − J(θ_0) (the last finite iterate if the run stops early)."""
    Js = _history(mdp, theta0, method, damping, eta, K)
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


def _top_eigenvalue_simple(mdp: TabularMDP, theta: Array, rtol: float = 1e-9) -> bool:
    """Whether σ₁ of F(θ) is simple, so that the best rank-1 approximation σ₁v₁v₁ᵀ (Eckart–Young) is unique.

    With a repeated σ₁ (e.g. a uniform policy on a bandit, F = (I − 11ᵀ/A)/A), ``r1-eigen`` depends on which
    unit vector of the top eigenspace the eigensolver returns — an implementation detail, not the method.
    """
    p = policy_point(mdp, theta)
    blocks = p.ev.d[:, None, None] * (
        np.einsum("sa,ab->sab", p.pi, np.eye(mdp.A)) - np.einsum("sa,sb->sab", p.pi, p.pi)
    )
    w = np.sort(np.linalg.eigvalsh(blocks).ravel())  # F = blockdiag_s d(s)(diag π_s − π_s π_sᵀ)
    return w.size < 2 or w[-1] - w[-2] > rtol * max(w[-1], 1e-300)


def measure_c1(c: Candidate, method: str) -> Measurement:
    """``c1``: progress of ``method`` at its tuned step ≥ progress of PG at its tuned step (module docstring)."""
    if c.iterations is None or c.iterations < 1:
        return _not_applicable("progress", ">=", "c1 needs iterations K ≥ 1")
    K = c.iterations
    mdp = c.mdp
    J_star = optimal(mdp).J
    J0 = policy_point(mdp, c.theta).ev.J
    gap0 = J_star - J0
    tol = value_tolerance(mdp)
    if gap0 <= tol:
        return _not_applicable("progress", ">=", "θ_0 is already optimal (gap at the float floor)")
    if method == "r1-eigen" and not _top_eigenvalue_simple(mdp, c.theta):
        return _not_applicable(
            "progress", ">=", "r1-eigen is not defined by θ_0: the Fisher's top eigenvalue is repeated"
        )
    scale = max(1.0, c.damping or 1.0)  # damped directions scale as 1/λ for large λ
    eta_m, prog_m, info_m = tune(lambda eta: _progress(mdp, c.theta, method, c.damping, eta, K), scale)
    eta_pg, prog_pg, info_pg = tune(lambda eta: _progress(mdp, c.theta, "pg", None, eta, K))
    allowance = C1_RTOL * gap0 + tol
    deficit = prog_pg - prog_m
    hist_m = _history(mdp, c.theta, method, c.damping, eta_m, K)
    hist_pg = _history(mdp, c.theta, "pg", None, eta_pg, K)
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
        # policy-iteration jump (design.md, measurement pitfalls)
        "iterations_to_optimum_method": _iterations_to(hist_m, J_star, tol),
        "iterations_to_optimum_pg": _iterations_to(hist_pg, J_star, tol),
        "tuning_method": info_m,
        "tuning_pg": info_pg,
    }
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
def _c1_candidates(draw: st.DrawFn, method: str) -> Candidate:
    mdp = draw(mdps(max_states=4, max_actions=4))
    theta = draw(thetas(mdp, max_abs=10.0))
    lam = draw(dampings()) if method in DAMPED_METHODS else None
    return Candidate(mdp, theta, lam, None, C1_ITERATIONS)


# --- Mei et al. 2020, Lemma 8 -------------------------------------------------------------------
def measure_lojasiewicz(c: Candidate, method: str) -> Measurement:
    """``mei2020.lojasiewicz``: ‖∇J‖ ≥ (1/√S)‖d*/d_θ‖∞⁻¹ min_s π(a*(s)|s) (V*(ρ) − J(θ)), Lemma 8, μ = ρ."""
    quantity = "‖∇J(θ)‖₂"
    opt = optimal(c.mdp)
    conditions = standing(c.mdp, opt)
    reasons = unmet(conditions, ["unique_optimal", "rho_full", "reward_unit"])
    if reasons:
        return _not_applicable(quantity, ">=", "; ".join(reasons))
    p = policy_point(c.mdp, c.theta)
    terms = lojasiewicz_terms(p, opt, evaluate(c.mdp, opt.pi).d)
    tol = value_tolerance(c.mdp)
    lhs, coef, gap = terms["lhs"], terms["coef"], terms["gap"]
    bound = coef * gap
    details = {**terms, "tolerance_gap": tol, "min_optimal_gap": conditions["min_optimal_gap"]}
    if not (gap > tol and coef > 0):
        return Measurement(False, quantity, lhs, bound, ">=", 0.0, "gap at the float floor or RHS 0", True, details)
    allowed = (1.0 - 1e-9) * coef * (gap - tol)
    details["ratio_lhs_over_rhs"] = lhs / bound
    violated = lhs < allowed
    reason = f"‖∇J‖ = {lhs:.3g} < RHS = {bound:.3g} (ratio {lhs / bound:.3g})" if violated else ""
    return Measurement(violated, quantity, lhs, bound, ">=", bound - allowed, reason, True, details)


@st.composite
def _lojasiewicz_candidates(draw: st.DrawFn, method: str) -> Candidate:
    mdp = draw(mdps(max_states=4, max_actions=4, min_gap=LOJASIEWICZ_MIN_GAP, full_support_rho=True))
    theta = draw(st.one_of(thetas(mdp, max_abs=30.0), near_deterministic_thetas(mdp)))
    return Candidate(mdp, theta)


# --- Mei et al. 2020, Lemma 7: the ascent inequality --------------------------------------------
def measure_smooth_ascent(c: Candidate, method: str) -> Measurement:
    """``mei2020.ascent``: J(θ + ηg) − J(θ) ≥ η(1 − Lη/2)‖g‖² for 0 < η ≤ 1/L, L = 8/(1 − γ)³, r ∈ [0, 1]."""
    quantity = "J(θ + η∇J) − J(θ)"
    if c.step is None or not c.step > 0:
        return _not_applicable(quantity, ">=", "needs a step η > 0")
    L = 8.0 / (1.0 - c.mdp.gamma) ** 3
    if c.step > (1.0 + 1e-12) / L:
        return _not_applicable(quantity, ">=", f"η = {c.step:.3g} exceeds 1/L = {1.0 / L:.3g}")
    if np.any(c.mdp.r < 0.0) or np.any(c.mdp.r > 1.0):
        return _not_applicable(quantity, ">=", "r ∉ [0, 1] (L = 8/(1−γ)³ assumes it)")
    p = policy_point(c.mdp, c.theta)
    g = p.gradient
    eta = c.step
    need = eta * (1.0 - L * eta / 2.0) * float(np.vdot(g, g))
    rise = _J_after(c.mdp, p.theta, eta, g) - p.ev.J
    tol = value_tolerance(c.mdp)
    details = {"L": L, "step": eta, "gradient_sq_norm": float(np.vdot(g, g)), "J": p.ev.J, "rise": rise}
    violated = not rise >= need - tol
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
    if c.step is None or not c.step > 0 or c.iterations is None or c.iterations < 1:
        return _not_applicable(quantity, "<=", "needs a step η > 0 and iterations T ≥ 1")
    if np.any(np.ptp(c.theta, axis=1) != 0.0):
        return _not_applicable(quantity, "<=", "Theorem 5.3 starts from the uniform policy θ^(0) = 0")
    if np.any(c.mdp.r < 0.0) or np.any(c.mdp.r > 1.0):
        return _not_applicable(quantity, "<=", "r ∉ [0, 1]")
    mdp, eta = c.mdp, c.step
    J_star = optimal(mdp).J
    p = policy_point(mdp, c.theta)
    gaps = []
    for _ in range(c.iterations):
        theta = p.theta + eta * direction_at(p, "npg")
        if not np.all(np.isfinite(theta)):
            break
        p = policy_point(mdp, theta)
        gaps.append(J_star - p.ev.J)
    if not gaps:
        return _not_applicable(quantity, "<=", "the first NPG update is not finite")
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
    over = gap - bound - tol
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


# ------------------------------------------------------------------------------------------------
# The claims
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    """A falsifiable claim: its statement, the methods it applies to, candidates and the measurement."""

    name: str
    statement: str
    methods: tuple[str, ...]
    default_method: str
    candidates: Callable[[str], st.SearchStrategy[Candidate]]
    measure: Callable[[Candidate, str], Measurement]
    #: A score for hypothesis.target (larger = closer to a violation), from a measurement.
    score: Callable[[Measurement], float]


def _score_ascent(m: Measurement) -> float:
    return -float(m.details.get("cosine", 0.0))


def _score_relative(m: Measurement) -> float:
    scale = max(abs(m.bound), abs(m.measured), 1e-300)
    value = m.margin / scale
    return value if math.isfinite(value) else 0.0


def _score_c1(m: Measurement) -> float:
    return float(m.details.get("deficit_over_initial_gap", 0.0))


CLAIMS: dict[str, Claim] = {
    c.name: c
    for c in (
        Claim(
            "ascent",
            "The method's exact direction d is an ascent direction, cos(d, ∇J) ≥ 0, and J(θ + ηd) ≥ J(θ) at the "
            "stated step (1/L for pg, any η for npg, λ/L for the damped methods and r1-same; L = 8/(1−γ)³).",
            METHODS,
            "r1-same",
            _ascent_candidates,
            measure_ascent,
            _score_ascent,
        ),
        Claim(
            "c1",
            f"C1: the method makes at least as much progress J(θ_K) − J(θ_0) as PG over K = {C1_ITERATIONS} updates, "
            f"each at its own tuned constant step (grid 1e-4…1e4 ×√10, extended at the edge, refined); violation: "
            f"a deficit > {C1_RTOL:g}·(J* − J(θ_0)).",
            C1_METHODS,
            "r1-grad",
            _c1_candidates,
            measure_c1,
            _score_c1,
        ),
        Claim(
            "mei2020.lojasiewicz",
            "Mei et al. 2020 (arXiv 2005.06392 v3) Lemma 8, μ = ρ: ‖∇J(θ)‖₂ ≥ (1/√S)·‖d_ρ^{π*}/d_ρ^{π_θ}‖_∞⁻¹·"
            "min_s π_θ(a*(s)|s)·(V*(ρ) − J(θ)) for unique optimal actions, ρ > 0, r ∈ [0, 1].",
            ("pg",),
            "pg",
            _lojasiewicz_candidates,
            measure_lojasiewicz,
            _score_relative,
        ),
        Claim(
            "mei2020.ascent",
            "Ascent inequality of the L-smooth J (Mei et al. 2020 v3, Lemma 7; L = 8/(1−γ)³, r ∈ [0, 1]): "
            "J(θ + η∇J) − J(θ) ≥ η(1 − Lη/2)‖∇J‖² at η = (1−γ)³/8 = 1/L.",
            ("pg",),
            "pg",
            _smooth_ascent_candidates,
            measure_smooth_ascent,
            _score_relative,
        ),
        Claim(
            "agarwal2021.npg-rate",
            "Agarwal et al. 2021 (arXiv 1908.00261 v5) Theorem 5.3: NPG from θ^(0) = 0 with fixed η > 0, r ∈ [0, 1]: "
            "V*(ρ) − V^(t)(ρ) ≤ log|A|/(ηt) + 1/((1−γ)²t) for t = 1..T.",
            ("npg",),
            "npg",
            _npg_rate_candidates,
            measure_npg_rate,
            _score_relative,
        ),
    )
}


def resolve(claim: str, method: str | None = None) -> tuple[Claim, str]:
    """The claim named ``claim`` and the method to test (its default when ``method`` is None).

    Raises
    ------
    ValueError
        Unknown claim, unknown method, or a method the claim does not apply to; the message lists
        the valid choices.
    """
    if claim not in CLAIMS:
        raise ValueError(f"unknown claim {claim!r}; choose one of: {', '.join(CLAIMS)}")
    c = CLAIMS[claim]
    if method is None:
        return c, c.default_method
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; methods are: {', '.join(METHODS)}")
    if method not in c.methods:
        raise ValueError(
            f"method {method!r} is not applicable to claim {claim!r}; choose one of: {', '.join(c.methods)}"
        )
    return c, method


# ------------------------------------------------------------------------------------------------
# The search
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchResult:
    """The outcome of :func:`search`.

    ``candidate``/``measurement`` are the shrunk violation (None when none was found); ``examples`` the
    number of candidates measured until the first violation (the whole search when none was found);
    ``calls`` every measurement, shrinking included; ``errors`` candidates the engine could not
    measure (with the first message).
    """

    claim: str
    method: str
    seed: int
    budget: int
    candidate: Candidate | None
    measurement: Measurement | None
    examples: int
    calls: int
    errors: int
    first_error: str | None
    seconds: float

    @property
    def found(self) -> bool:
        """True when a violation was found."""
        return self.candidate is not None


def _check_budget(budget: Any) -> int:
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 1:
        raise ValueError(f"budget must be a positive integer (number of examples); got {budget!r}")
    return int(budget)


def search(claim: str, method: str | None = None, *, budget: int = DEFAULT_BUDGET, seed: int = 0) -> SearchResult:
    """Search up to ``budget`` candidates for a violation of ``claim``; shrink the first one found.

    :func:`hypothesis.find` with the ``"long"`` profile, ``max_examples=budget``, ``database=None``,
    ``derandomize=False``, seeded by ``random.Random(seed)``; :func:`hypothesis.target` steers towards
    violations. Reproducible: the same arguments give the same result.

    Raises
    ------
    ValueError
        Unknown claim or method, method not applicable, or budget < 1.
    """
    c, m = resolve(claim, method)
    n = _check_budget(budget)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer; got {seed!r}")
    counts = {"calls": 0, "first": 0, "errors": 0}
    first_error: list[str] = []

    def violates(candidate: Candidate) -> bool:
        counts["calls"] += 1
        try:
            with np.errstate(all="ignore"):
                meas = c.measure(candidate, m)
        except (ValueError, RuntimeError, ArithmeticError, np.linalg.LinAlgError) as exc:
            counts["errors"] += 1
            if not first_error:
                first_error.append(f"{type(exc).__name__}: {exc} ({candidate.describe()})")
            return False
        if meas.applicable:
            target(c.score(meas), label=f"{c.name} violation score")
        if meas.violated and not counts["first"]:
            counts["first"] = counts["calls"]
        return meas.violated

    cfg = settings(
        profile_settings("long"),
        max_examples=n,
        database=None,
        derandomize=False,
        phases=(Phase.generate, Phase.target, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    start = time.monotonic()
    try:
        found = find(c.candidates(m), violates, settings=cfg, random=random.Random(seed))
    except NoSuchExample:
        return SearchResult(
            c.name,
            m,
            int(seed),
            n,
            None,
            None,
            counts["calls"],
            counts["calls"],
            counts["errors"],
            first_error[0] if first_error else None,
            time.monotonic() - start,
        )
    found, extra = _reduce(c, m, found)
    counts["calls"] += extra
    with np.errstate(all="ignore"):
        meas = c.measure(found, m)
    return SearchResult(
        c.name,
        m,
        int(seed),
        n,
        found,
        meas,
        counts["first"],
        counts["calls"],
        counts["errors"],
        first_error[0] if first_error else None,
        time.monotonic() - start,
    )


def _bandit_of_state(c: Candidate, s: int) -> Candidate:
    """State s alone: a one-state MDP (self-loop, ρ = [1], same γ) with s's rewards and logits."""
    mdp = TabularMDP(np.ones((1, c.mdp.A, 1)), c.mdp.r[s : s + 1], c.mdp.gamma, [1.0])
    return Candidate(mdp, c.theta[s : s + 1].copy(), c.damping, c.step, c.iterations)


def _without_action(c: Candidate, a: int) -> Candidate:
    """The instance with action a removed from every state (P, r, θ lose that column)."""
    keep = np.arange(c.mdp.A) != a
    mdp = TabularMDP(c.mdp.P[:, keep, :], c.mdp.r[:, keep], c.mdp.gamma, c.mdp.rho)
    return Candidate(mdp, c.theta[:, keep].copy(), c.damping, c.step, c.iterations)


def _reduce(claim: Claim, method: str, cand: Candidate) -> tuple[Candidate, int]:
    """Greedy reduction after hypothesis's shrinking: fewer states, then fewer actions, while it still violates.

    Tries, in order, each state alone as a one-state MDP (:func:`_bandit_of_state`) and each action
    removed (:func:`_without_action`); the first reduction that still violates the claim (measured
    again, conditions included) is kept and the pass restarts. Every step lowers S or A, so the pass
    ends. Hypothesis's shrinker works on the random choices behind a candidate, and a change of S or A
    shifts all later choices; this pass removes states and actions directly. Returns the reduced
    candidate and the number of measurements made.
    """
    calls = 0
    while True:
        options = [_bandit_of_state(cand, s) for s in range(cand.mdp.S)] if cand.mdp.S > 1 else []
        options += [_without_action(cand, a) for a in range(cand.mdp.A)] if cand.mdp.A > 1 else []
        for option in options:
            calls += 1
            try:
                with np.errstate(all="ignore"):
                    if claim.measure(option, method).violated:
                        cand = option
                        break
            except (ValueError, RuntimeError, ArithmeticError, np.linalg.LinAlgError):
                continue
        else:
            return cand, calls


# ------------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------------
def _stem(claim: str, method: str, seed: int) -> str:
    return f"{claim}-{method}-seed{seed}"


def save_counterexample(result: SearchResult, out: str | os.PathLike[str]) -> Path:
    """Write the found violation to ``out``: the MDP file and the JSON record; return the record's path.

    Raises
    ------
    ValueError
        If the result has no violation.
    """
    if result.candidate is None or result.measurement is None:
        raise ValueError("nothing to save: the search found no violation")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    stem = _stem(result.claim, result.method, result.seed)
    cand = result.candidate
    mdp_name = f"{stem}.mdp.json"
    params = {"claim": result.claim, "method": result.method, "budget": result.budget}
    tabular_mdps.save(cand.mdp, folder / mdp_name, name=f"falsify:{stem}", params=params, seed=result.seed)
    record = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "claim": result.claim,
        "method": result.method,
        "statement": CLAIMS[result.claim].statement,
        "mdp": mdp_name,
        "theta": cand.theta.tolist(),
        "damping": cand.damping,
        "step": cand.step,
        "iterations": cand.iterations,
        "violation": result.measurement.to_dict(),
        "seed": result.seed,
        "budget": result.budget,
        "search": {"examples": result.examples, "calls": result.calls, "seconds": round(result.seconds, 3)},
        "instance": {"S": cand.mdp.S, "A": cand.mdp.A, "gamma": cand.mdp.gamma},
    }
    path = folder / f"{stem}.json"
    atomic_write(path, (json.dumps(record, indent=1, allow_nan=False, ensure_ascii=False) + "\n").encode("utf-8"))
    return path


def _optional_float(rec: dict[str, Any], key: str, path: Path) -> float | None:
    v = rec.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError(f"{path}: field {key} must be a finite number or null; got {v!r}")
    return float(v)


def load_counterexample(path: str | os.PathLike[str]) -> tuple[Candidate, dict[str, Any]]:
    """Read a record and its MDP file; return the candidate and the record.

    Raises
    ------
    ValueError
        Not a counterexample record, a missing or invalid field, an unknown claim or method, or an
        invalid MDP file (the message starts with the path).
    OSError
        A file cannot be read.
    """
    p = Path(path)
    try:
        rec = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(rec, dict) or rec.get("format") != FORMAT:
        raise ValueError(f"{p}: not a counterexample record (format must be {FORMAT!r})")
    if rec.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{p}: unsupported schema_version {rec.get('schema_version')!r}")
    for key in ("claim", "method", "mdp", "theta", "seed"):
        if key not in rec:
            raise ValueError(f"{p}: missing field {key}")
    try:
        resolve(rec["claim"], rec["method"])
    except ValueError as exc:
        raise ValueError(f"{p}: {exc}") from None
    if not isinstance(rec["mdp"], str) or Path(rec["mdp"]).is_absolute():
        raise ValueError(f"{p}: field mdp must be a file name relative to the record")
    mdp = tabular_mdps.load(p.parent / rec["mdp"])
    try:
        theta = np.asarray(rec["theta"], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{p}: field theta is not a numeric (S, A) array ({exc})") from None
    if theta.shape != (mdp.S, mdp.A) or not np.all(np.isfinite(theta)):
        raise ValueError(f"{p}: field theta must be a finite array of shape {(mdp.S, mdp.A)}; got {theta.shape}")
    iterations = rec.get("iterations")
    if iterations is not None and (isinstance(iterations, bool) or not isinstance(iterations, int)):
        raise ValueError(f"{p}: field iterations must be an integer or null")
    cand = Candidate(mdp, theta, _optional_float(rec, "damping", p), _optional_float(rec, "step", p), iterations)
    return cand, rec


def replay(path: str | os.PathLike[str]) -> Measurement:
    """Re-measure a saved counterexample from its files (nothing is read from the recorded violation)."""
    cand, rec = load_counterexample(path)
    claim, method = resolve(rec["claim"], rec["method"])
    with np.errstate(all="ignore"):
        return claim.measure(cand, method)


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------
def _fmt(a: Array) -> str:
    return np.array2string(a, precision=6, max_line_width=110).replace("\n", "\n          ")


def _header(claim: str, method: str, budget: int, seed: int) -> str:
    return (
        f"falsify {claim} --method {method}: budget {budget} examples, seed {seed}\nclaim: {CLAIMS[claim].statement}\n"
    )


def report(result: SearchResult, *, header: bool = True) -> str:
    """A human-readable summary of a search (with the claim's header line unless ``header`` is False)."""
    head = _header(result.claim, result.method, result.budget, result.seed) if header else ""
    errors = (
        f"{result.errors} candidate(s) could not be measured; first: {result.first_error}\n" if result.errors else ""
    )
    if not result.found:
        return (
            head
            + errors
            + (
                f"NOT FOUND: no violation within {result.budget} examples "
                f"({result.calls} measurements, {result.seconds:.1f} s)\n"
            )
        )
    cand, meas = result.candidate, result.measurement
    assert cand is not None and meas is not None
    lines = [
        f"FOUND: a violation after {result.examples} examples, shrunk in {result.calls - result.examples} further "
        f"measurements ({result.seconds:.1f} s)",
        f"  instance: {cand.describe()}",
        f"  violation: {meas.quantity} = {meas.measured:.6g}, bound {meas.relation} {meas.bound:.6g} "
        f"(tolerance {meas.tolerance:.3g}, margin {meas.margin:.3g})",
        f"  {meas.reason}",
        "  theta = " + _fmt(cand.theta),
        "  r     = " + _fmt(cand.mdp.r),
        "  rho   = " + _fmt(cand.mdp.rho),
    ]
    return head + errors + "\n".join(lines) + "\n"


def run(
    claim: str,
    method: str | None,
    budget: int | None,
    seed: int,
    out: str | os.PathLike[str],
    stream: TextIO | None = None,
) -> int:
    """Search, print the report, save a found violation in ``out``; return the exit status 0.

    ``budget`` None means :data:`DEFAULT_BUDGET`. The header is printed before the search starts.
    """
    w = stream if stream is not None else sys.stdout
    c, m = resolve(claim, method)
    n = DEFAULT_BUDGET if budget is None else budget
    w.write(_header(c.name, m, n, seed))
    w.flush()
    result = search(c.name, m, budget=n, seed=seed)
    w.write(report(result, header=False))
    if result.found:
        path = save_counterexample(result, out)
        w.write(f"  saved: {path} (MDP file {path.parent / (path.stem + '.mdp.json')})\n")
    w.flush()
    return 0
