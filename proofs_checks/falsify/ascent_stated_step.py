r"""``ascent.stated-step``: the method's direction is an ascent direction, and one step at the stated step ascends.

Method M (any of :data:`r1theory.METHODS`; default ``r1-same``). Notation: g = ∇J(θ) (exact),
L = 8/(1 − γ)³ (Mei et al. 2020, Lemma 7, r ∈ [0, 1]), τ_V = :func:`proofs_checks._classic.value_tolerance`.

(i) direction: cos(d, g) ≥ 0 for d = direction(M, θ) (violation: cos < −:data:`COS_TOL`);
(ii) step: J(θ + η d) ≥ J(θ) at the *stated step* (violation: J(θ + ηd) − J(θ) < −τ_V), where the
stated step is the largest step a smoothness argument certifies for M's class:
η = 1/L for ``pg`` (the ascent lemma); any η > 0 (drawn) for ``npg`` (Agarwal et al. 2021,
Lemma 5.2: NPG improves V at every state for every η); η = λ/L for the damped methods, whose
preconditioner M satisfies 0 ≺ M ⪯ I/λ (then J(θ+ηMg) − J(θ) ≥ (η/2) gᵀMg > 0), and, by analogy
(each per-sample matrix (λI + uuᵀ)^{-1} ⪯ I/λ, but their Â-weighted sum is no preconditioner),
for ``r1-same`` (V2). docs/claims.md#v2-r1-same expects V2 to fail (i) for small λ and one dominant action.

This is not the ``ascent`` claim of :mod:`proofs_checks.ascent` (⟨d, ∇J⟩ ≥ 0 along the C1 runs and J
monotone at the C1-tuned step): a different step, at any θ rather than along the suite's runs.

Candidates: half generic (``mdps()``, ``thetas(max_abs=100)`` or ``near_deterministic_thetas``,
``dampings()``), half the stress regime (:func:`stress_candidates`: S ≤ 2, A ≥ 3, rewards from
:data:`~tabular_mdps.strategies.SIMPLE_REWARDS`, margin 2–10, λ ≤ 1e-3); the violating region is
small (≈ 0.2–0.5% of stress candidates), so finding V2's failure takes ~1000–2000 examples.

Parametrisations. (i) is meaningful for every parametrisation (d and ∇J live in θ space). (ii) needs a
smoothness constant: J_Φ(θ) = J(Φθ) for log-linear features, so ∇²J_Φ = Φᵀ∇²J Φ and J_Φ is
L·‖Φ‖₂²-smooth (chain rule with Mei et al.'s Lemma 7; Φ the (S·A, k) feature matrix, ‖Φ‖₂ its largest
singular value; one-hot features give the tabular L), and the stated steps above use that L
(:func:`stated_step`, :func:`smoothness_scale`). This constant is derived here, not quoted: Agarwal et
al. 2021 state a smoothness property of log-linear policies with ‖φ‖ ≤ B, but its constant could not be
pinned to a source, so it is not used. For ``npg`` under a non-tabular parametrisation (Lemma 5.2 of
Agarwal et al. is a tabular statement) and for neural policies (no certified constant) no step is
stated: only (i) is measured (the candidate's step is None). Candidates are half generic MDPs (S, A ≤ 4,
λ from ``dampings()``), half the stress regime's MDPs (S ≤ 2, A ≥ 3, SIMPLE_REWARDS, λ ≤ 1e-3). The
tabular part (i) keeps the fixed tolerance COS_TOL; for the other parametrisations it is at least COS_TOL
and covers the rounding of the advantage (≤ τ_V per entry) propagated into ∇J = Jᵀ(dπA)/(1 − γ) and
into V2 (:func:`cos_tolerance`): the engine's ∇J is not centred per state, so a vanishing gradient
(equal rewards, or features whose scores cancel the advantage) is rounding noise whose cosine with d
would otherwise read as a violation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

from r1theory import DAMPED_METHODS, METHODS, LogLinear, Parametrisation, PolicyPoint, TabularSoftmax, direction_at
from r1theory._types import Array
from r1theory.numerics import cosine
from tabular_mdps.strategies import SIMPLE_REWARDS, dampings, mdps, near_deterministic_thetas, steps, thetas

from .._classic import value_tolerance
from .candidates import Candidate, J_after, parametrised, point
from .measurement import Measurement, Spec

__all__ = ["COS_TOL", "SPEC", "STATEMENT", "cos_tolerance", "measure", "smoothness_scale", "stated_step"]

#: Direction part: a violation is cos(d, ∇J) < −COS_TOL (rounding is ~1e-10 relative).
COS_TOL = 1e-6

STATEMENT = (
    "The method's exact direction d is an ascent direction, cos(d, ∇J) ≥ 0, and J(θ + ηd) ≥ J(θ) at the "
    "stated step (1/L for pg, any η for npg, λ/L for the damped methods and r1-same; L = 8/(1−γ)³, "
    "times ‖Φ‖₂² for log-linear features Φ; no step for npg under a non-tabular parametrisation, for "
    "another undamped method or for a neural policy: direction only), at any θ."
)


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
    """The step at which part (ii) is measured (module docstring); None when no step is stated.

    With L = 8/(1 − γ)³ scaled by :func:`smoothness_scale` (1 for tabular softmax, ‖Φ‖₂² for log-linear):
    pg: 1/L; the damped methods and r1-same: λ/L; npg: None for tabular softmax (any η, drawn) and for
    every other parametrisation (the per-state improvement lemma is tabular); any other undamped method
    (a registered plugin's, say): None, no step is certified for it, so only (i) is measured. None for a neural policy
    (no certified smoothness constant: part (i) only). A zero feature matrix (J constant) keeps the
    tabular step (any step is certified).
    """
    scale = smoothness_scale(param)
    if scale is None:
        return None
    inv_L = (1.0 - gamma) ** 3 / 8.0 / (scale if scale > 0 else 1.0)
    if method == "pg":
        return inv_L
    if method == "npg" or damping is None:
        return None  # npg: any η is certified (drawn instead); another undamped method: no certified step
    return damping * inv_L


def cos_tolerance(p: PolicyPoint, method: str, lam: float | None, d: Array, g: Array, tau: float) -> float:
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


def measure(c: Candidate, method: str) -> Measurement:
    """``ascent.stated-step``: (i) cos(d, ∇J) ≥ −tolerance and (ii) J(θ + ηd) − J(θ) ≥ −τ_V at the candidate's step.

    Both in θ space of the candidate's parametrisation; part (ii) is skipped when the step is None. The
    tolerance of (i) is :data:`COS_TOL` for tabular softmax and :func:`cos_tolerance` (at least COS_TOL)
    otherwise.
    """
    p = point(c)
    g = p.gradient
    d = direction_at(p, method, c.damping)
    cos = cosine(d, g)
    if math.isnan(cos):  # d or ∇J is 0 (or not finite): no descent direction, read as cos = 0
        cos = 0.0
    tol = value_tolerance(c.mdp)
    tabular = c.param is None or c.param.is_tabular
    cos_tol = COS_TOL if tabular else cos_tolerance(p, method, c.damping, d, g, tol)
    step = c.step
    rise = J_after(c, p.theta, step, d) - p.ev.J if step is not None else math.nan
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
def candidates(draw: st.DrawFn, method: str) -> Candidate:
    """Half generic (any MDP, θ, λ), half the regime of docs/claims.md#v2-r1-same (see :func:`stress_candidates`)."""
    if draw(st.booleans()):
        return draw(stress_candidates(method))
    mdp = draw(mdps(max_states=4, max_actions=4))
    theta = draw(st.one_of(thetas(mdp, max_abs=100.0), near_deterministic_thetas(mdp)))
    lam = draw(dampings()) if method in DAMPED_METHODS else None
    step = draw(steps()) if method == "npg" else stated_step(method, mdp.gamma, lam)
    return Candidate(mdp, theta, lam, step)


@st.composite
def stress_candidates(draw: st.DrawFn, method: str) -> Candidate:
    """The stress regime of docs/claims.md#v2-r1-same: A ≥ 3, one dominant action, small λ, reward near-ties.

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
def param_candidates(draw: st.DrawFn, method: str, kind: str) -> Candidate:
    """Candidates under a log-linear or neural policy: half generic, half the stress regime's MDPs and λ.

    Generic: ``mdps(S, A ≤ 4)``, λ from ``dampings()``; stress: ``mdps(S ≤ 2, A ≥ 3, SIMPLE_REWARDS)``,
    λ ∈ [1e-6, 1e-3]. Then the parametrisation and θ (:func:`~proofs_checks.falsify.candidates.parametrised`)
    and the stated step of that parametrisation (:func:`stated_step`; None, i.e. part (i) only, for npg and
    for neural policies).
    """
    stress = draw(st.booleans())
    if stress:
        mdp = draw(mdps(max_states=2, min_actions=3, max_actions=4, reward_values=SIMPLE_REWARDS))
    else:
        mdp = draw(mdps(max_states=4, max_actions=4))
    par, theta = draw(parametrised(mdp, kind))
    lam = draw(dampings(1e-6, 1e-3) if stress else dampings()) if method in DAMPED_METHODS else None
    return Candidate(mdp, theta, lam, stated_step(method, mdp.gamma, lam, par), param=par)


def score(m: Measurement) -> float:
    """Search score: −cos(d, ∇J) (0 when the cosine is undefined: d or ∇J is 0)."""
    cos = float(m.details.get("cosine", 0.0))
    return -cos if math.isfinite(cos) else 0.0


SPEC = Spec(METHODS, "r1-same", candidates, measure, score, param_candidates)
