"""Smoothness of the softmax value (Mei et al. 2020, Lemma 7) and the ascent inequality it gives.

Mei, Xiao, Szepesvári, Schuurmans (ICML 2020; arXiv 2005.06392 v3), Lemma 7 (citing Agarwal et al.
2021, Lemma D.4 of v5 at λ = 0 / Lemma E.4 of earlier versions): for r ∈ [0, 1], θ ↦ V^{π_θ}(ρ) is
L-smooth with

    L = 8/(1 − γ)³,   i.e.   ‖∇J(θ) − ∇J(θ')‖₂ ≤ L ‖θ − θ'‖₂   and   ‖∇²J(θ)‖₂ ≤ L.

Measured along softmax PG at η = (1 − γ)³/8 = 1/L (:func:`r1theory.steps.mei2020`), from θ₀ = 0:

* the local smoothness ‖∇J(θ_{t+1}) − ∇J(θ_t)‖ / ‖θ_{t+1} − θ_t‖ at every step;
* the directional curvature ‖∇²J(θ) u‖ ≥ |uᵀ∇²J(θ) u| at random unit directions u, by central
  differences of the exact gradient, (∇J(θ + hu) − ∇J(θ − hu))/(2h), at every ``probe_every``-th
  iterate and at random θ ~ N(0, σ²) (Lemma 7 is global);

each divided by L must be ≤ 1 (+1e-6 for the finite-difference error). The bound is loose: the
measured ratio is typically ~1e-3.

The ascent inequality (the step of Mei et al.'s Theorem 4 proof; standard for an L-smooth
function with η = 1/L):

    J(θ_{t+1}) − J(θ_t) ≥ ‖∇J(θ_t)‖² / (2L),

reported under its own id ``mei2020.ascent`` (:mod:`proofs_checks.claims`; Lemma 7 itself is
``mei2020.smoothness``), the id ``r1theory falsify`` searches it under too. It is checked at every step
whose right side (:func:`ascent_rhs`) is above the float floor max(1e3·ε·(1 + |J*|),
10·ε·(1 + γ)/(1 − γ)·(1 + |J*|)) (below it, the difference of two values is rounding noise); a step
violates it when the left side falls short (:func:`ascent_short`, shared with the search)
by more than that floor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from r1theory import TabularMDP, policy_gradient, trajectory
from r1theory._types import Array

from ._classic import (
    describe_instance,
    first_index,
    gap_floor,
    inconclusive,
    load,
    pick,
    random_grid,
    seeds,
    standing,
    task,
    unmet,
)
from .context import Context
from .result import CheckResult
from .runner import module_main

CLAIM = "mei2020.smoothness"
#: The ascent inequality is a claim of its own (:mod:`proofs_checks.claims`), verified by this module too.
CLAIM_ASCENT = "mei2020.ascent"
WORKER = "proofs_checks.mei2020_smoothness:worker"
#: Relative allowance for the finite-difference error of the curvature probes.
FD_RTOL = 1e-6
FD_STEP = 1e-4
STATEMENT_SMOOTH = (
    "Mei et al. 2020 (ICML; arXiv 2005.06392 v3) Lemma 7 (= Agarwal et al. 2021 v5 Lemma D.4 at λ=0): for "
    "r ∈ [0,1], θ ↦ V^{π_θ}(ρ) is L-smooth, L = 8/(1−γ)³. Tested: ‖∇J(θ_{t+1})−∇J(θ_t)‖/‖θ_{t+1}−θ_t‖ ≤ L "
    "along softmax PG at η = (1−γ)³/8, and ‖∇²J(θ)u‖ ≤ L (central differences of the exact gradient, "
    f"h = {FD_STEP:g}, tolerance {FD_RTOL:g}·L) at random unit u, at iterates and at random θ."
)
STATEMENT_ASCENT = (
    "Ascent inequality of an L-smooth J at η = 1/L (Mei et al. 2020 v3, Lemma 7 with the proof of Thm 4): "
    "J(θ_{t+1}) − J(θ_t) ≥ ‖∇J(θ_t)‖²/(2L), L = 8/(1−γ)³, along softmax PG at η = (1−γ)³/8, at every step "
    "whose right side exceeds the float floor max(1e3·ε·(1+|J*|), 10·ε·(1+γ)/(1−γ)·(1+|J*|)) "
    "(shortfall tolerance: that floor)."
)


def smoothness_constant(gamma: float) -> float:
    """L = 8/(1 − γ)³ (Mei et al. 2020, Lemma 7)."""
    return 8.0 / (1.0 - gamma) ** 3


def ascent_rhs(eta: float, L: float, grad_sq: Any) -> Any:
    """η(1 − Lη/2)‖∇J‖², the least rise J(θ + η∇J) − J(θ) of an L-smooth J for 0 < η ≤ 1/L (‖∇J‖²/(2L) at η = 1/L)."""
    return eta * (1.0 - L * eta / 2.0) * np.asarray(grad_sq)


def ascent_short(rise: Any, need: Any, floor: float) -> Any:
    """Where the ascent inequality fails beyond rounding: a step with RHS above ``floor`` and rise < RHS − floor.

    ``need`` is :func:`ascent_rhs`; a NaN rise (a non-finite step) counts as short. Steps whose RHS is at the
    float floor are not tested (their rise is rounding noise). The one inequality of both the check
    (:func:`assess_ascent`) and the search (:mod:`proofs_checks.falsify.classic`). Elementwise.
    """
    rise, need = np.asarray(rise), np.asarray(need)
    return (need > floor) & ~(rise >= need - floor)


def curvature_probe(mdp: TabularMDP, theta: Array, u: Array, h: float = FD_STEP) -> tuple[float, float]:
    """(‖Hu‖, |uᵀHu|) for a unit direction u, with Hu ≈ (∇J(θ + hu) − ∇J(θ − hu))/(2h)."""
    Hu = (policy_gradient(mdp, theta + h * u) - policy_gradient(mdp, theta - h * u)) / (2.0 * h)
    return float(np.linalg.norm(Hu)), float(abs(np.vdot(u, Hu)))


def measure(
    mdp: TabularMDP,
    theta0: Array,
    eta: float,
    iterations: int,
    *,
    probe_every: int,
    directions: int,
    random_points: int,
    sigma: float,
    seed: int,
) -> dict[str, Any]:
    """Histories of a PG run at step η, with local-smoothness ratios and curvature probes.

    Returns J, ‖∇J‖² per iterate; ``local`` = ‖Δ∇J‖/‖Δθ‖ per step; ``probe_norm`` / ``probe_quad``
    = ‖Hu‖ / |uᵀHu| per probe and ``probe_where`` = the iterate index of the probe (−1 for a random θ).
    """
    rng = np.random.default_rng(seed)
    J, gsq, local = [], [], []
    probe_norm, probe_quad, probe_where = [], [], []

    def probe(theta: Array, where: int) -> None:
        for _ in range(directions):
            u = rng.normal(size=theta.shape)
            u /= np.linalg.norm(u)
            n, q = curvature_probe(mdp, theta, u)
            probe_norm.append(n)
            probe_quad.append(q)
            probe_where.append(where)

    prev = None
    for k, p in enumerate(trajectory(mdp, theta0, "pg", eta, iterations)):
        g = p.gradient
        J.append(p.ev.J)
        gsq.append(float(np.vdot(g, g)))
        if prev is not None:
            dtheta = float(np.linalg.norm(p.theta - prev[0]))
            local.append(float(np.linalg.norm(g - prev[1])) / dtheta if dtheta > 0 else 0.0)
        if k % probe_every == 0:
            probe(p.theta, k)
        prev = (p.theta, g)
    for _ in range(random_points):
        probe(rng.normal(scale=sigma, size=theta0.shape), -1)
    return {
        "J": np.asarray(J),
        "grad_sq": np.asarray(gsq),
        "local": np.asarray(local),
        "probe_norm": np.asarray(probe_norm),
        "probe_quad": np.asarray(probe_quad),
        "probe_where": np.asarray(probe_where, dtype=np.int64),
    }


def worker(config: dict[str, Any]) -> dict[str, Any]:
    """Sweep worker: a PG run at η = (1 − γ)³/8 with its smoothness measurements."""
    mdp, theta0, opt = load(config)
    eta = (1.0 - mdp.gamma) ** 3 / 8.0
    out = measure(
        mdp,
        theta0,
        eta,
        int(config["iterations"]),
        probe_every=int(config["probe_every"]),
        directions=int(config["directions"]),
        random_points=int(config["random_points"]),
        sigma=float(config["sigma"]),
        seed=int(config["seed"]),
    )
    out["J_star"] = opt.J
    out["eta"] = eta
    out["conditions"] = standing(mdp, opt, theta0)
    return out


def assess_smoothness(measurements: dict[str, Any], conditions: dict[str, Any], *, L: float) -> CheckResult:
    """Lemma 7 verdict: every local ratio and curvature probe ≤ L(1 + FD_RTOL).

    inconclusive when r ∉ [0, 1] (the constant assumes it) or nothing was measured; fails when a
    ratio exceeds L(1 + FD_RTOL) (the largest one, its kind and iterate in evidence).
    """
    local = np.asarray(measurements["local"], dtype=np.float64)
    pn = np.asarray(measurements["probe_norm"], dtype=np.float64)
    pq = np.asarray(measurements["probe_quad"], dtype=np.float64)
    where = np.asarray(measurements["probe_where"])
    bound = {"L": L, "tolerance": f"L·(1 + {FD_RTOL:g})"}
    reasons = unmet(conditions, ["reward_unit"])
    if local.size + pn.size == 0:
        reasons.append("nothing measured")
    measured: dict[str, Any] = {
        "max_local_ratio_to_L": float(local.max() / L) if local.size else None,
        "max_Hu_ratio_to_L": float(pn.max() / L) if pn.size else None,
        "max_uHu_ratio_to_L": float(pq.max() / L) if pq.size else None,
        "steps": int(local.size),
        "probes": int(pn.size),
    }
    worst = (
        max(v for v in (measured["max_local_ratio_to_L"], measured["max_Hu_ratio_to_L"]) if v is not None)
        if local.size + pn.size
        else None
    )
    measured["max_ratio_to_L"] = worst
    evidence: dict[str, Any] = {"note": "Lemma 7's L is loose: a measured ratio ≪ 1 is expected"}
    if reasons:
        return inconclusive(
            CLAIM, STATEMENT_SMOOTH, "pg", conditions, measured, bound, {**evidence, "reasons": reasons}
        )
    assert worst is not None
    if local.size:
        evidence["worst_step"] = int(np.argmax(local))
    if pn.size:
        w = int(where[int(np.argmax(pn))])
        evidence["worst_probe"] = "random θ" if w < 0 else f"iterate {w}"
    verdict = "holds" if worst <= 1.0 + FD_RTOL else "fails"
    if verdict == "fails" and local.size:
        evidence["first_violating_step"] = first_index(local > L * (1.0 + FD_RTOL))
    return CheckResult(CLAIM, STATEMENT_SMOOTH, "pg", conditions, measured, bound, verdict, 1.0 - worst, evidence)


def assess_ascent(measurements: dict[str, Any], conditions: dict[str, Any], *, L: float) -> CheckResult:
    """Ascent-inequality verdict: J_{t+1} − J_t ≥ ‖∇J_t‖²/(2L) − floor at every step above the floor.

    inconclusive when r ∉ [0, 1], when the run's step is not 1/L, or no step is above the floor.
    """
    J = np.asarray(measurements["J"], dtype=np.float64)
    gsq = np.asarray(measurements["grad_sq"], dtype=np.float64)
    floor = gap_floor(float(measurements["J_star"]), float(conditions.get("gamma", 0.0)))
    rise = np.diff(J)
    eta = float(measurements["eta"])
    need = ascent_rhs(eta, L, gsq[:-1])
    usable = need > floor
    bound = {"L": L, "rhs": "‖∇J(θ_t)‖²/(2L)", "floor": floor}
    reasons = unmet(conditions, ["reward_unit"])
    if not np.isclose(eta * L, 1.0, rtol=1e-12):
        reasons.append(f"the run's step η = {eta:g} is not 1/L = {1.0 / L:g}")
    if not usable.any():
        reasons.append("no step with ‖∇J‖²/(2L) above the float floor")
    ratio = rise[usable] / need[usable]
    measured = {
        "min_ratio_rise_to_rhs": float(ratio.min()) if ratio.size else None,
        "median_ratio": float(np.median(ratio)) if ratio.size else None,
        "steps_checked": int(usable.sum()),
        "steps": int(rise.size),
    }
    if reasons:
        return inconclusive(CLAIM_ASCENT, STATEMENT_ASCENT, "pg", conditions, measured, bound, {"reasons": reasons})
    short = ascent_short(rise, need, floor)
    idx = np.flatnonzero(usable)
    evidence: dict[str, Any] = {
        "worst_step": int(idx[int(np.argmin(ratio))]),
        "note": "ratio ≈ 2 is the exact-quadratic value η‖∇J‖²/(‖∇J‖²/(2L)) at η = 1/L",
    }
    verdict = "fails" if short.any() else "holds"
    if short.any():
        evidence["first_violating_step"] = first_index(short)
    return CheckResult(
        CLAIM_ASCENT, STATEMENT_ASCENT, "pg", conditions, measured, bound, verdict, float(ratio.min()) - 1.0, evidence
    )


def plan(ctx: Context) -> list[dict[str, Any]]:
    """Instances and probe budgets for the mode."""
    default: list[tuple[str, dict[str, Any]]] = pick(
        ctx,
        [
            ("random", {"S": 5, "A": 3, "gamma": 0.9, "seed": 0}),
            ("garnet", {"S": 8, "A": 3, "gamma": 0.5, "seed": 1}),
            ("random", {"S": 3, "A": 2, "gamma": 0.0, "seed": 2}),
        ],
        [
            *random_grid((0.0, 0.5, 0.9, 0.99)),
            ("garnet", {"S": 20, "A": 3, "gamma": 0.9, "seed": 2}),
            ("agarwal_chain", {"H": 10}),
        ],
    )
    instances = ctx.instances(default, lambda t: (t.name, t.params))  # a study's --mdp / --instance replace the suite
    budget = pick(
        ctx,
        {"iterations": 300, "probe_every": 50, "directions": 3, "random_points": 10},
        {"iterations": 3000, "probe_every": 100, "directions": 10, "random_points": 200},
    )
    root = seeds(20200517, len(instances))
    return [
        {"instance": n, "params": p, "theta0": "uniform", "sigma": 3.0, "seed": s, **budget}
        for (n, p), s in zip(instances, root, strict=True)
    ]


def check(ctx: Context) -> list[CheckResult]:
    """Lemma 7 and the ascent inequality on every planned instance."""
    configs = plan(ctx)
    results = ctx.sweep.run([task(WORKER, c) for c in configs], label=CLAIM)
    out: list[CheckResult] = []
    for cfg, res in zip(configs, results, strict=True):
        L = smoothness_constant(float(res["conditions"]["gamma"]))
        conditions = {
            "instance": describe_instance(cfg),
            "theta0": cfg["theta0"],
            "eta": float(res["eta"]),
            "iterations": cfg["iterations"],
            "random_theta": f"{cfg['random_points']} × N(0, {cfg['sigma']}²)",
            **res["conditions"],
        }
        out.append(assess_smoothness(res, conditions, L=L))
        out.append(assess_ascent(res, conditions, L=L))
    return out


if __name__ == "__main__":
    raise SystemExit(module_main(__name__))
