r"""Hypothesis-driven search for the smallest instance that violates a claim (``r1theory falsify``).

A claim here is an inequality that a theorem, a lemma or the paper's reading says holds on *every*
instance meeting stated conditions. The search

1. draws candidates (MDP, θ, λ, η, iterations) from the public strategies of
   :mod:`tabular_mdps.strategies` (MDPs with S, A ≤ 4 unless stated);
2. measures the inequality exactly with the engine, and steers the search towards violations with
   :func:`hypothesis.target` (the score is the violation margin, e.g. −cos(d, ∇J));
3. lets hypothesis **shrink** the first violation (towards small S, A and simple numbers), then runs a
   greedy reduction pass (:func:`_reduce`: a state alone as a one-state MDP, an action removed; for a
   log-linear policy also a feature removed, for a neural one a hidden unit) that keeps any smaller
   instance that still violates — hypothesis cannot always delete a state, because changing S shifts
   every later random choice.

It is :func:`hypothesis.find` with the ``"long"`` profile's settings, ``max_examples=budget``
(default :data:`DEFAULT_BUDGET`), ``database=None`` and ``derandomize=False``, seeded through
``random.Random(seed)``: the same seed, budget, code and hypothesis version give the same result in
a fresh ``r1theory falsify`` process. Inside another program it may not: hypothesis (≥ 6.13x) also
draws, with probability 0.05 per choice, constants collected from the *local* (non-site-packages)
modules imported so far, so a notebook or test run that imported other project modules searches
differently from the same seed (measured: importing ``proofs_checks.mei2020_rate`` turned a search
that found a violation after 15 examples into one that needed 171).
Cost per candidate: ~5 ms for ``ascent`` and the classic claims, ~50–100 ms for ``c1`` (two step
tunings of K = 10 updates); shrinking adds a few hundred to two thousand measurements. Log-linear and
neural candidates cost about the same (k ≤ S·A + 2 = 18, a network has ≤ 40 parameters: dense k × k
algebra is cheap).

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

Parametrisations (``search(..., param=KIND)``, ``r1theory falsify CLAIM --param KIND``). The policy
parametrisation is a condition of the check (:mod:`r1theory.policies`): the MDP, the directions (the
score u = Jᵀ(e_{(s,a)} − π_s), the Fisher F = Jᵀ F_ℓ J) and the iterates are those of the candidate's
parametrisation, θ has its shape, and the verdicts can be compared between tabular softmax and the
dense-Fisher classes. :data:`PARAM_KINDS`:

* ``tabular`` (the default) — θ = the (S, A) logits; the candidates above, drawn exactly as before
  parametrisations existed (the same seed gives the same search).
* ``log-linear`` — π(a|s) ∝ exp φ(s, a)ᵀθ with features φ ∈ R^{S×A×k} from
  :func:`tabular_mdps.strategies.features` (k = 1 … S·A + 2, entries multiples of 1/4 with |φ| ≤ 3,
  shrinking to 0 and simple numbers) and θ ∈ R^k from :func:`~tabular_mdps.strategies.parameter_vectors`
  (|θ_i| ≤ :data:`PARAM_MAX_ABS`).
* ``neural`` — one tanh hidden layer of width 1 … :data:`NEURAL_MAX_WIDTH` on one-hot state inputs,
  θ (weights and biases) from ``parameter_vectors`` as above.

Which claims take which kind. ``ascent``: (i) is meaningful for every parametrisation (d and ∇J live in
θ space). (ii) needs a smoothness constant: J_Φ(θ) = J(Φθ) for log-linear features, so
∇²J_Φ = Φᵀ∇²J Φ and J_Φ is L·‖Φ‖₂²-smooth (chain rule with Mei et al.'s Lemma 7; Φ the (S·A, k) feature
matrix, ‖Φ‖₂ its largest singular value; one-hot features give the tabular L), and the stated steps
above use that L (:func:`stated_step`, :func:`smoothness_scale`). This constant is derived here, not
quoted: Agarwal et al. 2021 state a smoothness property of log-linear policies with ‖φ‖ ≤ B, but its
constant could not be pinned to a source, so it is not used. For ``npg`` under a non-tabular
parametrisation (Lemma 5.2 of Agarwal et al. is a tabular statement) and for neural policies (no
certified constant) no step is stated: only (i) is measured (the candidate's step is None). Candidates
are half generic MDPs (S, A ≤ 4, λ from ``dampings()``), half the stress regime's MDPs (S ≤ 2, A ≥ 3,
SIMPLE_REWARDS, λ ≤ 1e-3). The tabular part (i) keeps the fixed tolerance COS_TOL; for the other
parametrisations it is at least COS_TOL and covers the rounding of the advantage (≤ τ_V per entry)
propagated into ∇J = Jᵀ(dπA)/(1 − γ) and into V2 (:func:`_cos_tolerance`): the engine's ∇J is not
centred per state, so a vanishing gradient (equal rewards, or features whose scores cancel the
advantage) is rounding noise whose cosine with d would otherwise read as a violation.
``c1``: unchanged — both the method and PG run K updates in θ space of the same parametrisation, each at
its tuned step; the applicability check of ``r1-eigen`` (a simple top eigenvalue) uses the
parametrisation's Fisher (dense Jᵀ F_ℓ J). The allowance is still C1_RTOL·(J* − J(θ_0)) with J* the
optimum over *all* policies, which a restricted class may not reach (a larger gap than the class's own,
so a more lenient allowance). Candidates: ``mdps(S, A ≤ 4)``, the parametrisation and θ as above, λ from
``dampings()``. The classic claims (``mei2020.*``, ``agarwal2021.npg-rate``) are theorems about tabular
softmax: :func:`resolve`, :func:`search` and :func:`run` refuse another kind with a ValueError, and
their measurements report a non-tabular candidate as not applicable.

Conditions are re-checked by each measurement (an instance that does not meet them is never a
violation), so a saved counterexample replays from its files alone: :func:`replay` re-measures it.

Files (:func:`save_counterexample`): ``<claim>-<method>-seed<seed>.mdp.json`` (the catalog's format,
:func:`tabular_mdps.save`) and the record ``<claim>-<method>-seed<seed>.json`` with keys ``mdp`` (the
MDP file's name, relative to the record), ``param``, ``theta``, ``damping``, ``step``, ``iterations``
(null when not relevant), ``claim``, ``method``, ``statement``, ``violation`` (``quantity``,
``measured``, ``bound``, ``relation``, ``tolerance``, ``margin``, ``details``), ``seed``, ``budget`` and
``search``. ``param`` is ``{"kind": "tabular"}``, ``{"kind": "log-linear", "features": φ}`` (the full
(S, A, k) array) or ``{"kind": "neural", "hidden": [h, …], "inputs": x}`` ((S, m) state inputs); θ is
the (S, A) logits or the parameter vector. A record without ``param`` (written before
parametrisations existed) is tabular softmax; the schema version is unchanged. A non-tabular
counterexample's stem names its kind: ``<claim>-<method>-<kind>-seed<seed>``. Floats are written with
``repr``, so every array reads back bit for bit.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import scipy.optimize
from hypothesis import HealthCheck, Phase, find, settings, target
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

import tabular_mdps
from r1theory import (
    DAMPED_METHODS,
    METHODS,
    LogLinear,
    NeuralSoftmax,
    Parametrisation,
    PolicyPoint,
    TabularMDP,
    TabularSoftmax,
    direction_at,
    evaluate,
    optimal,
    policy_point,
    trajectory,
)
from r1theory._types import Array
from r1theory.fisher import TabularFisher, fisher_at
from tabular_mdps.files import atomic_write
from tabular_mdps.strategies import (
    PROFILES,
    SIMPLE_REWARDS,
    dampings,
    features,
    mdps,
    near_deterministic_thetas,
    parameter_vectors,
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
    "PARAM_KINDS",
    "Candidate",
    "Claim",
    "Measurement",
    "SearchResult",
    "load_counterexample",
    "param_kind",
    "replay",
    "report",
    "resolve",
    "run",
    "save_counterexample",
    "search",
    "smoothness_scale",
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
#: Parametrisation kinds a search can fuzz over (``search(..., param=kind)``, ``--param``).
PARAM_KINDS: tuple[str, ...] = ("tabular", "log-linear", "neural")
#: ``neural`` candidates: one hidden tanh layer of width 1 … NEURAL_MAX_WIDTH, one-hot state inputs.
NEURAL_MAX_WIDTH = 4
#: Largest |θ_i| drawn for a log-linear or neural candidate (features are bounded by 3, so logits by 30·k).
PARAM_MAX_ABS = 10.0
_EPS = float(np.finfo(np.float64).eps)


# ------------------------------------------------------------------------------------------------
# Candidates and measurements
# ------------------------------------------------------------------------------------------------
def param_kind(param: Parametrisation | None) -> str:
    """The kind of a parametrisation: "tabular" (None or tabular softmax), "log-linear" or "neural".

    Raises
    ------
    TypeError
        For anything else (only these three can be searched over, saved and replayed).
    """
    if param is None or isinstance(param, TabularSoftmax):
        return "tabular"
    if isinstance(param, LogLinear):
        return "log-linear"
    if isinstance(param, NeuralSoftmax):
        return "neural"
    raise TypeError(
        "param must be None, TabularSoftmax, LogLinear or NeuralSoftmax (r1theory.policies); "
        f"got {type(param).__name__}"
    )


@dataclass(frozen=True)
class Candidate:
    """One instance a claim is measured on.

    Attributes
    ----------
    mdp : the MDP.
    theta : the parameters of ``param`` (the point, or the initial point of a run): (S, A) logits for
        tabular softmax, a vector of length k for a log-linear or neural policy.
    damping : λ of a damped method, else None.
    step : the step η where the claim has one, else None.
    iterations : the number of updates where the claim runs a method, else None.
    param : the policy parametrisation (:mod:`r1theory.policies`); None means tabular softmax (the
        default, so candidates and records from before parametrisations existed keep their meaning).

    Raises
    ------
    TypeError, ValueError
        ``param`` is not None, TabularSoftmax, LogLinear or NeuralSoftmax, or is for other (S, A) than the MDP.
    """

    mdp: TabularMDP
    theta: Array
    damping: float | None = None
    step: float | None = None
    iterations: int | None = None
    param: Parametrisation | None = None

    def __post_init__(self) -> None:
        param_kind(self.param)  # TypeError for an unsupported parametrisation
        if self.param is not None and (self.param.S, self.param.A) != (self.mdp.S, self.mdp.A):
            raise ValueError(
                f"param is for (S, A) = {(self.param.S, self.param.A)} but the MDP has {(self.mdp.S, self.mdp.A)}"
            )

    @property
    def kind(self) -> str:
        """The parametrisation kind: "tabular", "log-linear" or "neural" (:func:`param_kind`)."""
        return param_kind(self.param)

    def describe(self) -> str:
        """A one-line summary: sizes, γ, the parametrisation (unless tabular), λ, η, iterations."""
        parts = [f"S={self.mdp.S}", f"A={self.mdp.A}", f"gamma={self.mdp.gamma:.6g}"]
        if isinstance(self.param, LogLinear):
            parts.append(f"param=log-linear(k={self.param.features.shape[2]})")
        elif isinstance(self.param, NeuralSoftmax):
            parts.append(f"param=neural(hidden={list(self.param.hidden)}, k={self.param.n_params})")
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


def smoothness_scale(param: Parametrisation | None) -> float | None:
    """The factor c with J∘param c·L-smooth when J is L-smooth in the logits; None when no constant is certified.

    Tabular softmax (None): 1. Log-linear: ‖Φ‖₂², the squared largest singular value of the (S·A, k)
    feature matrix Φ — J_Φ(θ) = J(Φθ), so ∇²J_Φ(θ) = Φᵀ∇²J(Φθ)Φ and ‖∇²J_Φ‖₂ ≤ ‖Φ‖₂²·L (chain rule; one-hot
    features give 1, the tabular constant). Neural: None (the logits are not linear in θ; no global
    smoothness constant is certified here).
    """
    if param is None or isinstance(param, TabularSoftmax):
        return 1.0
    if isinstance(param, LogLinear):
        phi = param.features
        return float(np.linalg.norm(phi.reshape(-1, phi.shape[2]), ord=2)) ** 2
    return None


def stated_step(method: str, gamma: float, damping: float | None, param: Parametrisation | None = None) -> float | None:
    """The step at which ``ascent`` part (ii) is measured (module docstring); None when no step is stated.

    With L = 8/(1 − γ)³ scaled by :func:`smoothness_scale` (1 for tabular softmax, ‖Φ‖₂² for log-linear):
    pg: 1/L; the damped methods and r1-same: λ/L; npg: None for tabular softmax (any η, drawn) and for
    every other parametrisation (the per-state improvement lemma is tabular). None for a neural policy
    (no certified smoothness constant: part (i) only). A zero feature matrix (J constant) keeps the
    tabular step (any step is certified).
    """
    scale = smoothness_scale(param)
    if scale is None:
        return None
    inv_L = (1.0 - gamma) ** 3 / 8.0 / (scale if scale > 0 else 1.0)
    if method == "pg":
        return inv_L
    if method == "npg":
        return None
    if damping is None:
        raise ValueError(f"method {method!r} needs a damping λ > 0")
    return damping * inv_L


def _point(c: Candidate, theta: Array | None = None) -> PolicyPoint:
    """The policy point of the candidate's parametrisation at θ (the candidate's θ by default)."""
    return policy_point(c.mdp, c.theta if theta is None else theta, c.param)


def _J_after(c: Candidate, theta: Array, step: float, d: Array) -> float:
    new = theta + step * d
    if not np.all(np.isfinite(new)):
        return math.nan
    return float(_point(c, new).ev.J)


# --- ascent -------------------------------------------------------------------------------------
def _cos_tolerance(p: PolicyPoint, method: str, lam: float | None, d: Array, g: Array, tau: float) -> float:
    """Tolerance on cos(d, ∇J) for a non-tabular parametrisation: :data:`COS_TOL` or the rounding bound.

    The advantage carries an absolute error ≤ τ_V (:func:`value_tolerance`) per entry, and the engine forms
    ∇J = Jᵀ(d·π·A)/(1 − γ) without centring, so a vanishing true gradient (e.g. equal rewards, or features
    whose score cancels the advantage) comes out as rounding noise of size up to
    δg = τ_V/(1 − γ)·Σ_{s,a} d(s)π(a|s)‖J_{s,a}‖. V2 (``r1-same``) is linear in A with weights
    1/(λ + n(s,a)), so δd = τ_V/(1 − γ)·Σ d(s)π(a|s)‖u_{s,a}‖/(λ + n(s,a)); PG has δd = δg; the positive
    semi-definite preconditioners give ⟨d, g⟩ ≥ 0 for the computed g itself (δd = 0). The computed inner
    product is then within (‖d‖ + δd)δg + (‖g‖ + δg)δd of the true one, and the tolerance on the cosine
    is that over ‖d‖‖g‖ (infinite when d or g is 0), or COS_TOL when larger.
    """
    dn, gn = float(np.linalg.norm(d)), float(np.linalg.norm(g))
    if not (dn > 0 and gn > 0):
        return math.inf
    weight = p.ev.d[:, None] * p.pi * tau / (1.0 - p.mdp.gamma)
    J = p.lin.jacobian()
    dg = float(np.sum(weight * np.sqrt(np.einsum("sak,sak->sa", J, J))))
    if method == "r1-same":
        n = p.lin.score_sq_norm(p.pi)
        dd = float(np.sum(weight * np.sqrt(n) / ((lam or 0.0) + n)))
    else:
        dd = dg if method == "pg" else 0.0
    return max(COS_TOL, ((dn + dd) * dg + (gn + dg) * dd) / (dn * gn))


def measure_ascent(c: Candidate, method: str) -> Measurement:
    """``ascent``: (i) cos(d, ∇J) ≥ −tolerance and (ii) J(θ + ηd) − J(θ) ≥ −τ_V at the candidate's step.

    Both in θ space of the candidate's parametrisation; part (ii) is skipped when the step is None. The
    tolerance of (i) is :data:`COS_TOL` for tabular softmax and :func:`_cos_tolerance` (at least COS_TOL)
    otherwise.
    """
    p = _point(c)
    g = p.gradient
    d = direction_at(p, method, c.damping)
    cos = _cosine(d, g)
    tol = value_tolerance(c.mdp)
    tabular = c.param is None or c.param.is_tabular
    cos_tol = COS_TOL if tabular else _cos_tolerance(p, method, c.damping, d, g, tol)
    step = c.step
    rise = _J_after(c, p.theta, step, d) - p.ev.J if step is not None else math.nan
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
    if not tabular:
        details["param"] = c.kind
        details["smoothness_scale"] = smoothness_scale(c.param)
        details["cosine_tolerance"] = cos_tol
    if cos < -cos_tol:
        return Measurement(
            True,
            "cos(direction, ∇J)",
            cos,
            0.0,
            ">=",
            cos_tol,
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
    return Measurement(False, "cos(direction, ∇J)", cos, 0.0, ">=", cos_tol, "", details=details)


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


@st.composite
def _parametrised(draw: st.DrawFn, mdp: TabularMDP, kind: str) -> tuple[Parametrisation, Array]:
    """A parametrisation of ``kind`` for ``mdp`` and a θ for it (module docstring, "Parametrisations")."""
    par: Parametrisation
    if kind == "log-linear":
        par = LogLinear(draw(features(mdp)))
    elif kind == "neural":
        par = NeuralSoftmax(mdp.S, mdp.A, (draw(st.integers(1, NEURAL_MAX_WIDTH)),))
    else:
        raise ValueError(f"no parametrised candidates of kind {kind!r}; choose one of: {', '.join(PARAM_KINDS[1:])}")
    return par, draw(parameter_vectors(par.n_params, PARAM_MAX_ABS))


@st.composite
def _ascent_param_candidates(draw: st.DrawFn, method: str, kind: str) -> Candidate:
    """``ascent`` under a log-linear or neural policy: half generic, half the stress regime's MDPs and λ.

    Generic: ``mdps(S, A ≤ 4)``, λ from ``dampings()``; stress: ``mdps(S ≤ 2, A ≥ 3, SIMPLE_REWARDS)``,
    λ ∈ [1e-6, 1e-3]. Then the parametrisation and θ (:func:`_parametrised`) and the stated step of that
    parametrisation (:func:`stated_step`; None, i.e. part (i) only, for npg and for neural policies).
    """
    stress = draw(st.booleans())
    if stress:
        mdp = draw(mdps(max_states=2, min_actions=3, max_actions=4, reward_values=SIMPLE_REWARDS))
    else:
        mdp = draw(mdps(max_states=4, max_actions=4))
    par, theta = draw(_parametrised(mdp, kind))
    lam = draw(dampings(1e-6, 1e-3) if stress else dampings()) if method in DAMPED_METHODS else None
    return Candidate(mdp, theta, lam, stated_step(method, mdp.gamma, lam, par), param=par)


# --- c1 -----------------------------------------------------------------------------------------
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


def _progress(
    mdp: TabularMDP,
    theta0: Array,
    method: str,
    damping: float | None,
    eta: float,
    K: int,
    param: Parametrisation | None = None,
) -> float:
    """J(θ_K) − J(θ_0) (the last finite iterate if the run stops early)."""
    Js = _history(mdp, theta0, method, damping, eta, K, param)
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
    p = policy_point(mdp, theta, param)
    F = fisher_at(p)
    if isinstance(F, TabularFisher):
        blocks = p.ev.d[:, None, None] * (
            np.einsum("sa,ab->sab", p.pi, np.eye(mdp.A)) - np.einsum("sa,sb->sab", p.pi, p.pi)
        )
        w = np.sort(np.linalg.eigvalsh(blocks).ravel())  # F = blockdiag_s d(s)(diag π_s − π_s π_sᵀ)
    else:
        Fd = F.dense()
        w = np.linalg.eigvalsh(0.5 * (Fd + Fd.T))  # ascending
    return w.size < 2 or w[-1] - w[-2] > rtol * max(w[-1], 1e-300)


def measure_c1(c: Candidate, method: str) -> Measurement:
    """``c1``: progress of ``method`` at its tuned step ≥ progress of PG at its tuned step (module docstring)."""
    if c.iterations is None or c.iterations < 1:
        return _not_applicable("progress", ">=", "c1 needs iterations K ≥ 1")
    K = c.iterations
    mdp, par = c.mdp, c.param
    J_star = optimal(mdp).J
    J0 = policy_point(mdp, c.theta, par).ev.J
    gap0 = J_star - J0
    tol = value_tolerance(mdp)
    if gap0 <= tol:
        return _not_applicable("progress", ">=", "θ_0 is already optimal (gap at the float floor)")
    if method == "r1-eigen" and not _top_eigenvalue_simple(mdp, c.theta, param=par):
        return _not_applicable(
            "progress", ">=", "r1-eigen is not defined by θ_0: the Fisher's top eigenvalue is repeated"
        )
    scale = max(1.0, c.damping or 1.0)  # damped directions scale as 1/λ for large λ
    eta_m, prog_m, info_m = tune(lambda eta: _progress(mdp, c.theta, method, c.damping, eta, K, par), scale)
    eta_pg, prog_pg, info_pg = tune(lambda eta: _progress(mdp, c.theta, "pg", None, eta, K, par))
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
        # policy-iteration jump (design.md, measurement pitfalls)
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
def _c1_candidates(draw: st.DrawFn, method: str) -> Candidate:
    mdp = draw(mdps(max_states=4, max_actions=4))
    theta = draw(thetas(mdp, max_abs=10.0))
    lam = draw(dampings()) if method in DAMPED_METHODS else None
    return Candidate(mdp, theta, lam, None, C1_ITERATIONS)


@st.composite
def _c1_param_candidates(draw: st.DrawFn, method: str, kind: str) -> Candidate:
    """``c1`` under a log-linear or neural policy: ``mdps(S, A ≤ 4)``, :func:`_parametrised`, λ from ``dampings()``."""
    mdp = draw(mdps(max_states=4, max_actions=4))
    par, theta = draw(_parametrised(mdp, kind))
    lam = draw(dampings()) if method in DAMPED_METHODS else None
    return Candidate(mdp, theta, lam, None, C1_ITERATIONS, par)


#: Why a classic claim does not apply to a log-linear or neural candidate.
_TABULAR_ONLY = "the theorem is stated for tabular softmax only"


# --- Mei et al. 2020, Lemma 8 -------------------------------------------------------------------
def measure_lojasiewicz(c: Candidate, method: str) -> Measurement:
    """``mei2020.lojasiewicz``: ‖∇J‖ ≥ (1/√S)‖d*/d_θ‖∞⁻¹ min_s π(a*(s)|s) (V*(ρ) − J(θ)), Lemma 8, μ = ρ."""
    quantity = "‖∇J(θ)‖₂"
    if c.kind != "tabular":
        return _not_applicable(quantity, ">=", _TABULAR_ONLY)
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
    if c.kind != "tabular":
        return _not_applicable(quantity, ">=", _TABULAR_ONLY)
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
    rise = _J_after(c, p.theta, eta, g) - p.ev.J
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
    if c.kind != "tabular":
        return _not_applicable(quantity, "<=", _TABULAR_ONLY)
    if c.step is None or not c.step > 0 or c.iterations is None or c.iterations < 1:
        return _not_applicable(quantity, "<=", "needs a step η > 0 and iterations T ≥ 1")
    if np.any(np.ptp(c.theta, axis=1) != 0.0):
        return _not_applicable(quantity, "<=", "Theorem 5.3 starts from the uniform policy θ^(0) = 0")
    if np.any(c.mdp.r < 0.0) or np.any(c.mdp.r > 1.0):
        return _not_applicable(quantity, "<=", "r ∉ [0, 1]")
    mdp, eta = c.mdp, c.step
    J_star = optimal(mdp).J
    gaps = [J_star - p.ev.J for p in list(trajectory(mdp, c.theta, "npg", eta, c.iterations))[1:]]
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
    #: Candidates under a non-tabular parametrisation kind, (method, kind) → strategy; None when the
    #: claim is stated for tabular softmax only.
    param_candidates: Callable[[str, str], st.SearchStrategy[Candidate]] | None = None

    @property
    def param_kinds(self) -> tuple[str, ...]:
        """The parametrisation kinds the claim can be searched under (tabular always)."""
        return PARAM_KINDS if self.param_candidates is not None else ("tabular",)

    def strategy(self, method: str, param: str = "tabular") -> st.SearchStrategy[Candidate]:
        """The candidates of ``method`` under parametrisation kind ``param``."""
        if param == "tabular":
            return self.candidates(method)
        if self.param_candidates is None or param not in self.param_kinds:
            raise ValueError(_tabular_only(self.name, param))
        return self.param_candidates(method, param)


def _tabular_only(claim: str, param: str) -> str:
    return (
        f"claim {claim!r} is stated for tabular softmax only; the parametrisation {param!r} is not applicable "
        f"(use tabular)"
    )


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
            "stated step (1/L for pg, any η for npg, λ/L for the damped methods and r1-same; L = 8/(1−γ)³, "
            "times ‖Φ‖₂² for log-linear features Φ; no step for npg under a non-tabular parametrisation or for "
            "a neural policy: direction only).",
            METHODS,
            "r1-same",
            _ascent_candidates,
            measure_ascent,
            _score_ascent,
            _ascent_param_candidates,
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
            _c1_param_candidates,
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


def resolve(claim: str, method: str | None = None, param: str = "tabular") -> tuple[Claim, str]:
    """The claim named ``claim`` and the method to test (its default when ``method`` is None).

    ``param`` is the parametrisation kind (:data:`PARAM_KINDS`); the classic claims accept only
    "tabular".

    Raises
    ------
    ValueError
        Unknown claim, unknown method, a method the claim does not apply to, an unknown parametrisation
        kind, or a non-tabular kind for a claim stated for tabular softmax only; the message lists the
        valid choices.
    """
    if claim not in CLAIMS:
        raise ValueError(f"unknown claim {claim!r}; choose one of: {', '.join(CLAIMS)}")
    c = CLAIMS[claim]
    if not isinstance(param, str) or param not in PARAM_KINDS:
        raise ValueError(f"unknown parametrisation {param!r}; choose one of: {', '.join(PARAM_KINDS)}")
    if param not in c.param_kinds:
        raise ValueError(_tabular_only(claim, param))
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
    #: The parametrisation kind searched over (:data:`PARAM_KINDS`).
    param: str = "tabular"

    @property
    def found(self) -> bool:
        """True when a violation was found."""
        return self.candidate is not None


def _check_budget(budget: Any) -> int:
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 1:
        raise ValueError(f"budget must be a positive integer (number of examples); got {budget!r}")
    return int(budget)


def search(
    claim: str,
    method: str | None = None,
    *,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
    param: str = "tabular",
) -> SearchResult:
    """Search up to ``budget`` candidates for a violation of ``claim``; shrink the first one found.

    :func:`hypothesis.find` with the ``"long"`` profile, ``max_examples=budget``, ``database=None``,
    ``derandomize=False``, seeded by ``random.Random(seed)``; :func:`hypothesis.target` steers towards
    violations. Reproducible: the same arguments give the same result. ``param`` is the parametrisation
    kind to fuzz over (:data:`PARAM_KINDS`; module docstring, "Parametrisations"): "tabular" (the default)
    draws exactly the candidates it drew before parametrisations existed.

    Raises
    ------
    ValueError
        Unknown claim, method or parametrisation kind, method or kind not applicable, or budget < 1.
    """
    c, m = resolve(claim, method, param)
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
        found = find(c.strategy(m, param), violates, settings=cfg, random=random.Random(seed))
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
            param,
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
        param,
    )


def _bandit_of_state(c: Candidate, s: int) -> Candidate:
    """State s alone: a one-state MDP (self-loop, ρ = [1], same γ) with s's rewards and policy.

    Tabular: s's logits. Log-linear: s's features φ(s, ·, ·) and the same θ. Neural: the same network on
    the input x_s alone (input coordinates where x_s is 0 are dropped with their first-layer weights),
    so π(·|s) is unchanged in every case.
    """
    mdp = TabularMDP(np.ones((1, c.mdp.A, 1)), c.mdp.r[s : s + 1], c.mdp.gamma, [1.0])
    par = c.param
    if isinstance(par, LogLinear):
        return replace(c, mdp=mdp, theta=c.theta.copy(), param=LogLinear(par.features[s : s + 1].copy()))
    if isinstance(par, NeuralSoftmax):
        assert par.inputs is not None
        x = par.inputs[s : s + 1]
        used = x[0] != 0.0
        if not used.any():
            used[0] = True
        layers = _neural_layers(par, c.theta)
        W1, b1 = layers[0]
        layers[0] = (W1[:, used], b1)
        new = NeuralSoftmax(1, c.mdp.A, par.hidden, x[:, used].copy())
        return replace(c, mdp=mdp, theta=_neural_theta(layers), param=new)
    return replace(c, mdp=mdp, theta=c.theta[s : s + 1].copy(), param=None)


def _without_action(c: Candidate, a: int) -> Candidate:
    """The instance with action a removed from every state (P, r and the policy's logit for a).

    Tabular: θ loses column a. Log-linear: φ loses φ(·, a, ·), θ is kept. Neural: the output layer loses
    row a. The other actions' logits are unchanged.
    """
    keep = np.arange(c.mdp.A) != a
    mdp = TabularMDP(c.mdp.P[:, keep, :], c.mdp.r[:, keep], c.mdp.gamma, c.mdp.rho)
    par = c.param
    if isinstance(par, LogLinear):
        return replace(c, mdp=mdp, theta=c.theta.copy(), param=LogLinear(par.features[:, keep].copy()))
    if isinstance(par, NeuralSoftmax):
        layers = _neural_layers(par, c.theta)
        W, b = layers[-1]
        layers[-1] = (W[keep], b[keep])
        new = NeuralSoftmax(c.mdp.S, int(keep.sum()), par.hidden, par.inputs)
        return replace(c, mdp=mdp, theta=_neural_theta(layers), param=new)
    return replace(c, mdp=mdp, theta=c.theta[:, keep].copy(), param=None)


def _without_feature(c: Candidate, i: int) -> Candidate:
    """Log-linear: feature i dropped (φ loses column i, θ entry i): a smaller class, the same MDP."""
    assert isinstance(c.param, LogLinear)
    keep = np.arange(c.theta.size) != i
    return replace(c, theta=c.theta[keep].copy(), param=LogLinear(c.param.features[:, :, keep].copy()))


def _without_unit(c: Candidate, layer: int, j: int) -> Candidate:
    """Neural: unit j of hidden layer ``layer`` removed (its row of W and b, its column downstream)."""
    par = c.param
    assert isinstance(par, NeuralSoftmax)
    layers = _neural_layers(par, c.theta)
    keep = np.arange(par.hidden[layer]) != j
    W, b = layers[layer]
    layers[layer] = (W[keep], b[keep])
    W_next, b_next = layers[layer + 1]
    layers[layer + 1] = (W_next[:, keep], b_next)
    hidden = tuple(h - 1 if li == layer else h for li, h in enumerate(par.hidden))
    new = NeuralSoftmax(c.mdp.S, c.mdp.A, hidden, par.inputs)
    return replace(c, theta=_neural_theta(layers), param=new)


def _neural_layers(par: NeuralSoftmax, theta: Array) -> list[tuple[Array, Array]]:
    """θ of a :class:`~r1theory.NeuralSoftmax` as [(W_1, b_1), …, (W_L, b_L)], W_l of shape (out, in).

    The layout NeuralSoftmax documents: W_1, b_1, …, W_L, b_L, each flattened row-major, concatenated.
    """
    assert par.inputs is not None
    widths = [int(par.inputs.shape[1]), *par.hidden, par.A]
    out, pos = [], 0
    for n_in, n_out in itertools.pairwise(widths):
        W = theta[pos : pos + n_out * n_in].reshape(n_out, n_in).copy()
        pos += n_out * n_in
        out.append((W, theta[pos : pos + n_out].copy()))
        pos += n_out
    return out


def _neural_theta(layers: list[tuple[Array, Array]]) -> Array:
    """The inverse of :func:`_neural_layers`."""
    return np.concatenate([part for W, b in layers for part in (W.ravel(), b)])


def _reductions(c: Candidate) -> list[Candidate]:
    """One-step reductions: each state alone, each action removed, then each feature or hidden unit removed.

    Features only for a log-linear policy with k > 1; hidden units only for a neural policy, keeping at
    least one unit per layer.
    """
    options = [_bandit_of_state(c, s) for s in range(c.mdp.S)] if c.mdp.S > 1 else []
    options += [_without_action(c, a) for a in range(c.mdp.A)] if c.mdp.A > 1 else []
    if isinstance(c.param, LogLinear) and c.theta.size > 1:
        options += [_without_feature(c, i) for i in range(c.theta.size)]
    if isinstance(c.param, NeuralSoftmax):
        options += [_without_unit(c, layer, j) for layer, h in enumerate(c.param.hidden) if h > 1 for j in range(h)]
    return options


def _restep(option: Candidate, original: Candidate, method: str) -> Candidate:
    """Keep a stated step stated: a log-linear candidate at its stated step passes on its reduction's own.

    Dropping rows or columns of Φ can lower ‖Φ‖₂ and so raise the stated step λ/L or 1/L; any other step
    (npg's drawn one, a hand-made one, a tabular or neural candidate's) is kept as it is.
    """
    if original.kind != "log-linear" or original.step is None or method == "npg":
        return option
    try:
        if original.step != stated_step(method, original.mdp.gamma, original.damping, original.param):
            return option
        return replace(option, step=stated_step(method, option.mdp.gamma, option.damping, option.param))
    except ValueError:
        return option


def _reduce(claim: Claim, method: str, cand: Candidate) -> tuple[Candidate, int]:
    """Greedy reduction after hypothesis's shrinking: fewer states, then fewer actions, while it still violates.

    Tries, in order, each state alone as a one-state MDP (:func:`_bandit_of_state`) and each action
    removed (:func:`_without_action`), then for a log-linear policy each feature and for a neural policy
    each hidden unit removed (:func:`_reductions`: every option is an honest instance of the same
    parametrisation kind, and a log-linear candidate at its stated step gets the option's stated step,
    :func:`_restep`); the first reduction that still violates the claim (measured again, conditions
    included) is kept and the pass restarts. Every step lowers S, A, k or a layer width, so the pass
    ends. Hypothesis's shrinker works on the random choices behind a candidate, and a change of S or A
    shifts all later choices; this pass removes states and actions directly. Returns the reduced
    candidate and the number of measurements made.
    """
    calls = 0
    while True:
        for option in _reductions(cand):
            option = _restep(option, cand, method)
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
def _stem(claim: str, method: str, seed: int, param: str = "tabular") -> str:
    """``<claim>-<method>-seed<seed>``; ``<claim>-<method>-<kind>-seed<seed>`` for a non-tabular kind."""
    return f"{claim}-{method}-seed{seed}" if param == "tabular" else f"{claim}-{method}-{param}-seed{seed}"


def _param_record(c: Candidate) -> dict[str, Any]:
    """The record's ``param`` field: the kind and, for log-linear and neural policies, what rebuilds them."""
    par = c.param
    if isinstance(par, LogLinear):
        return {"kind": "log-linear", "features": par.features.tolist()}
    if isinstance(par, NeuralSoftmax):
        assert par.inputs is not None
        return {"kind": "neural", "hidden": list(par.hidden), "inputs": par.inputs.tolist()}
    return {"kind": "tabular"}


def save_counterexample(result: SearchResult, out: str | os.PathLike[str]) -> Path:
    """Write the found violation to ``out``: the MDP file and the JSON record; return the record's path.

    The record's ``param`` field holds the parametrisation (module docstring, "Files"); floats are written
    with ``repr``, so θ, features and inputs read back bit for bit.

    Raises
    ------
    ValueError
        If the result has no violation.
    """
    if result.candidate is None or result.measurement is None:
        raise ValueError("nothing to save: the search found no violation")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    cand = result.candidate
    stem = _stem(result.claim, result.method, result.seed, cand.kind)
    mdp_name = f"{stem}.mdp.json"
    params = {"claim": result.claim, "method": result.method, "budget": result.budget}
    if cand.kind != "tabular":
        params["param"] = cand.kind
    tabular_mdps.save(cand.mdp, folder / mdp_name, name=f"falsify:{stem}", params=params, seed=result.seed)
    record = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "claim": result.claim,
        "method": result.method,
        "statement": CLAIMS[result.claim].statement,
        "mdp": mdp_name,
        "param": _param_record(cand),
        "theta": cand.theta.tolist(),
        "damping": cand.damping,
        "step": cand.step,
        "iterations": cand.iterations,
        "violation": result.measurement.to_dict(),
        "seed": result.seed,
        "budget": result.budget,
        "search": {"examples": result.examples, "calls": result.calls, "seconds": round(result.seconds, 3)},
        "instance": {
            "S": cand.mdp.S,
            "A": cand.mdp.A,
            "gamma": cand.mdp.gamma,
            "param": cand.kind,
            "parameters": int(cand.theta.size),
        },
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


def _finite_array(value: Any, key: str, path: Path) -> Array:
    """A finite float array from a JSON value, or ValueError naming the field."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{path}: field {key} must be a finite numeric array; got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: field {key} is not a numeric array ({exc})") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{path}: field {key} must be finite")
    return arr


def _param_from_record(spec: Any, mdp: TabularMDP, path: Path) -> Parametrisation | None:
    """The parametrisation of a record's ``param`` field; None (tabular softmax) when the field is absent."""
    if spec is None:
        return None  # a record written before parametrisations existed: tabular softmax
    if not isinstance(spec, dict) or spec.get("kind") not in PARAM_KINDS:
        raise ValueError(
            f"{path}: field param must be an object whose kind is one of {', '.join(PARAM_KINDS)}; got {spec!r}"
        )
    kind = spec["kind"]
    if kind == "tabular":
        return None
    if kind == "log-linear":
        phi = _finite_array(spec.get("features"), "param.features", path)
        if phi.ndim != 3 or phi.shape[:2] != (mdp.S, mdp.A) or phi.shape[2] < 1:
            raise ValueError(
                f"{path}: field param.features must have shape (S, A, k) = ({mdp.S}, {mdp.A}, k ≥ 1); got {phi.shape}"
            )
        return LogLinear(phi)
    hidden = spec.get("hidden")
    if (
        not isinstance(hidden, list)
        or not 1 <= len(hidden) <= 2
        or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden)
    ):
        raise ValueError(f"{path}: field param.hidden must be a list of one or two positive integers; got {hidden!r}")
    inputs = None if spec.get("inputs") is None else _finite_array(spec["inputs"], "param.inputs", path)
    if inputs is not None and (inputs.ndim != 2 or inputs.shape[0] != mdp.S or inputs.shape[1] < 1):
        raise ValueError(f"{path}: field param.inputs must have shape (S, m) = ({mdp.S}, m ≥ 1); got {inputs.shape}")
    return NeuralSoftmax(mdp.S, mdp.A, tuple(hidden), inputs)


def load_counterexample(path: str | os.PathLike[str]) -> tuple[Candidate, dict[str, Any]]:
    """Read a record and its MDP file; return the candidate and the record.

    A record without a ``param`` field (written before parametrisations existed) is tabular softmax.

    Raises
    ------
    ValueError
        Not a counterexample record, a missing or invalid field, an unknown claim or method, a
        parametrisation the claim does not apply to, or an invalid MDP file (the message starts with
        the path).
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
    param = _param_from_record(rec.get("param"), mdp, p)
    kind = param_kind(param)
    try:
        resolve(rec["claim"], rec["method"], kind)
    except ValueError as exc:
        raise ValueError(f"{p}: {exc}") from None
    shape = (mdp.S, mdp.A) if param is None else param.theta_shape
    what = "(S, A) array" if param is None else f"array of the {kind} parameters"
    try:
        theta = np.asarray(rec["theta"], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{p}: field theta is not a numeric {what} ({exc})") from None
    if theta.shape != shape or not np.all(np.isfinite(theta)):
        raise ValueError(f"{p}: field theta must be a finite array of shape {shape}; got {theta.shape}")
    iterations = rec.get("iterations")
    if iterations is not None and (isinstance(iterations, bool) or not isinstance(iterations, int)):
        raise ValueError(f"{p}: field iterations must be an integer or null")
    cand = Candidate(mdp, theta, _optional_float(rec, "damping", p), _optional_float(rec, "step", p), iterations, param)
    return cand, rec


def replay(path: str | os.PathLike[str]) -> Measurement:
    """Re-measure a saved counterexample from its files (nothing is read from the recorded violation)."""
    cand, rec = load_counterexample(path)
    claim, method = resolve(rec["claim"], rec["method"], cand.kind)
    with np.errstate(all="ignore"):
        return claim.measure(cand, method)


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------
def _fmt(a: Array) -> str:
    return np.array2string(a, precision=6, max_line_width=110).replace("\n", "\n          ")


#: How reports name each parametrisation kind.
_PARAM_NAMES = {
    "tabular": "tabular softmax (θ = the (S, A) logits)",
    "log-linear": "log-linear, π(a|s) ∝ exp φ(s, a)ᵀθ (features drawn, θ of length k)",
    "neural": f"neural softmax (one tanh hidden layer of width 1…{NEURAL_MAX_WIDTH}, one-hot state inputs)",
}


def _header(claim: str, method: str, budget: int, seed: int, param: str = "tabular") -> str:
    flag = "" if param == "tabular" else f" --param {param}"
    return (
        f"falsify {claim} --method {method}{flag}: budget {budget} examples, seed {seed}\n"
        f"claim: {CLAIMS[claim].statement}\n"
        f"parametrisation: {_PARAM_NAMES[param]}\n"
    )


def report(result: SearchResult, *, header: bool = True) -> str:
    """A human-readable summary of a search (with the claim's header lines unless ``header`` is False).

    The header names the parametrisation; a found instance lists its features (log-linear) or its
    network's widths (neural) next to θ.
    """
    head = _header(result.claim, result.method, result.budget, result.seed, result.param) if header else ""
    errors = (
        f"{result.errors} candidate(s) could not be measured; first: {result.first_error}\n" if result.errors else ""
    )
    if not result.found:
        return (
            head
            + errors
            + (
                f"NOT FOUND: no violation within {result.budget} examples under the {result.param} parametrisation "
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
    ]
    if isinstance(cand.param, LogLinear):
        for s in range(cand.mdp.S):  # phi[s] has one row φ(s, a)ᵀ per action
            prefix = f"  phi[{s}] = "
            lines.append(prefix + np.array2string(cand.param.features[s], max_line_width=110, prefix=prefix))
    elif isinstance(cand.param, NeuralSoftmax):
        lines += [f"  network: hidden widths {list(cand.param.hidden)}, {cand.param.n_params} parameters (tanh)"]
    lines += ["  r     = " + _fmt(cand.mdp.r), "  rho   = " + _fmt(cand.mdp.rho)]
    return head + errors + "\n".join(lines) + "\n"


def run(
    claim: str,
    method: str | None,
    budget: int | None,
    seed: int,
    out: str | os.PathLike[str],
    stream: TextIO | None = None,
    *,
    param: str = "tabular",
) -> int:
    """Search, print the report, save a found violation in ``out``; return the exit status 0.

    ``budget`` None means :data:`DEFAULT_BUDGET`; ``param`` is the parametrisation kind
    (:data:`PARAM_KINDS`). The header is printed before the search starts.

    Raises
    ------
    ValueError
        As :func:`resolve` (unknown claim, method or kind, or one not applicable).
    """
    w = stream if stream is not None else sys.stdout
    c, m = resolve(claim, method, param)
    n = DEFAULT_BUDGET if budget is None else budget
    w.write(_header(c.name, m, n, seed, param))
    w.flush()
    result = search(c.name, m, budget=n, seed=seed, param=param)
    w.write(report(result, header=False))
    if result.found:
        path = save_counterexample(result, out)
        w.write(f"  saved: {path} (MDP file {path.parent / (path.stem + '.mdp.json')})\n")
    w.flush()
    return 0
