"""The performance difference lemma along exact PG and NPG runs.

Kakade & Langford 2002, Lemma 6.1; Agarwal et al. 2021 (JMLR, arXiv 1908.00261 v5), Lemma 3.2:
for any two policies π', π and start distribution ρ,

    V^{π'}(ρ) − V^{π}(ρ) = (1/(1−γ)) Σ_s d_ρ^{π'}(s) Σ_a π'(a|s) A^{π}(s, a),

with d the *normalised* discounted visitation (sums to 1). Applied to consecutive iterates
π' = π_{t+1}, π = π_t of a run:

    J(π_{t+1}) − J(π_t) = (1/(1−γ)) Σ_s d^{π_{t+1}}(s) Σ_a π_{t+1}(a|s) A^{π_t}(s, a).

The left side is a difference of two exact evaluations; the right side uses the next policy's
visitation and the current policy's advantage, so the two routes share no computation beyond the
engine's policy evaluation. The identity needs no assumption (any rewards, any ρ, any step).

Tolerance. Both sides carry rounding errors of order ε_mach·cond(I − γP_π)·|J|, so a relative
error is meaningful only when the improvement is not itself at rounding level. The measured error
of step t is

    err_t = |LHS_t − RHS_t| / max(|LHS_t|, τ),   τ = 2e-5·κ·(1 + max|r|/(1−γ)),   κ = (1+γ)/(1−γ),

i.e. the relative error for improvements ≥ τ and the absolute error in units of τ below it; the
identity holds when max_t err_t ≤ 1e-9. Below τ the allowance 1e-9·τ ≈ 100·ε·κ·max|V| is about
a hundred times the float resolution of a value difference (κ bounds cond(I − γP_π)).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from r1theory import PolicyPoint, TabularMDP, trajectory
from r1theory._types import Array
from r1theory.numerics import TINY

from ._classic import (
    condition_bound,
    describe_instance,
    first_index,
    inconclusive,
    load,
    pick,
    standing,
    task,
    value_scale,
)
from .context import Context
from .result import CheckResult
from .runner import module_main

CLAIM = "pdl"
TOLERANCE = 1e-9
#: τ in units of κ·(1 + max|r|/(1 − γ)), κ = (1 + γ)/(1 − γ).
TAU_REL = 2e-5
STATEMENT = (
    "Performance difference lemma (Kakade & Langford 2002, Lemma 6.1; Agarwal et al. 2021 JMLR/arXiv v5, "
    "Lemma 3.2) along consecutive iterates: J(π_{t+1}) − J(π_t) = (1/(1−γ)) Σ_s d^{π_{t+1}}(s) Σ_a "
    "π_{t+1}(a|s) A^{π_t}(s,a), d the normalised discounted visitation from ρ; max_t |LHS−RHS|/max(|LHS|, τ) "
    f"≤ {TOLERANCE:g} with τ = {TAU_REL:g}·(1+γ)/(1−γ)·(1 + max|r|/(1−γ))."
)
WORKER = "proofs_checks.pdl:worker"


def pdl_sides(prev: PolicyPoint, new: PolicyPoint, d: Array | None = None) -> tuple[float, float]:
    """(LHS, RHS) of the performance difference lemma for π = prev.pi and π' = new.pi.

    LHS = J(π') − J(π); RHS = (1/(1−γ)) Σ_s d(s) Σ_a π'(a|s) A^π(s, a) with d = d^{π'} unless
    another ``d`` is supplied (tests pass a corrupted one to show the check can fail).
    """
    occupancy = new.ev.d if d is None else d
    gamma = new.mdp.gamma
    lhs = new.ev.J - prev.ev.J
    rhs = float(occupancy @ np.einsum("sa,sa->s", new.pi, prev.ev.A)) / (1.0 - gamma)
    return lhs, rhs


def measure(mdp: TabularMDP, theta0: Array, method: str, eta: float, iterations: int) -> dict[str, Any]:
    """LHS and RHS of the lemma for every consecutive pair of a run, and τ."""
    points = trajectory(mdp, theta0, method, eta, iterations)
    prev = next(points)
    lhs, rhs = [], []
    for new in points:
        a, b = pdl_sides(prev, new)
        lhs.append(a)
        rhs.append(b)
        prev = new
    tau = TAU_REL * condition_bound(mdp.gamma) * value_scale(mdp)
    return {"lhs": np.asarray(lhs), "rhs": np.asarray(rhs), "tau": tau}


def worker(config: dict[str, Any]) -> dict[str, Any]:
    """Sweep worker: the lemma's two sides along the configured run, and the instance's conditions."""
    mdp, theta0, opt = load(config)
    out = measure(mdp, theta0, config["method"], float(config["eta"]), int(config["iterations"]))
    out["conditions"] = standing(mdp, opt, theta0)
    return out


def assess(
    measurements: dict[str, Any], conditions: dict[str, Any], *, tolerance: float = TOLERANCE, variant: str = "pg"
) -> CheckResult:
    """Verdict of the identity from the two sides of every step.

    holds: max_t err_t ≤ tolerance; fails: some err_t > tolerance (the first and the worst step in
    evidence); inconclusive: no step was measured, or a side is not finite.
    """
    lhs = np.asarray(measurements["lhs"], dtype=np.float64)
    rhs = np.asarray(measurements["rhs"], dtype=np.float64)
    tau = float(measurements["tau"])
    bound = {"max_error": tolerance, "tau": tau}
    if lhs.size == 0 or not (np.all(np.isfinite(lhs)) and np.all(np.isfinite(rhs))):
        reason = "no step measured" if lhs.size == 0 else "a side of the identity is not finite"
        return inconclusive(CLAIM, STATEMENT, variant, conditions, {"steps": int(lhs.size)}, bound, {"reason": reason})
    err = np.abs(lhs - rhs) / np.maximum(np.abs(lhs), tau)
    big = np.abs(lhs) >= tau
    worst = int(np.argmax(err))
    measured = {
        "steps": int(lhs.size),
        "max_error": float(err.max()),
        "max_relative_error_large_steps": float(err[big].max()) if big.any() else None,
        "large_steps": int(big.sum()),
        "max_abs_error": float(np.max(np.abs(lhs - rhs))),
        "total_improvement": float(lhs.sum()),
    }
    evidence: dict[str, Any] = {
        "worst_step": worst,
        "lhs_at_worst": float(lhs[worst]),
        "rhs_at_worst": float(rhs[worst]),
    }
    if err.max() <= tolerance:
        verdict = "holds"
    else:
        verdict = "fails"
        evidence["first_violation_step"] = first_index(err > tolerance)
    slack = float(np.log10(tolerance / max(float(err.max()), TINY)))
    evidence["slack_unit"] = "decades below the tolerance"
    return CheckResult(CLAIM, STATEMENT, variant, conditions, measured, bound, verdict, slack, evidence)


def plan(ctx: Context) -> list[dict[str, Any]]:
    """Run configurations: PG and NPG on small random instances (quick) or more instances and γ (full)."""
    default: list[tuple[str, dict[str, Any]]] = pick(
        ctx,
        [
            ("random", {"S": 5, "A": 3, "gamma": 0.9, "seed": 0}),
            ("garnet", {"S": 8, "A": 3, "gamma": 0.8, "seed": 1}),
            ("random", {"S": 4, "A": 2, "gamma": 0.99, "seed": 2}),
        ],
        [("random", {"S": 5, "A": 3, "gamma": g, "seed": s}) for g in (0.5, 0.9, 0.99) for s in (0, 1)]
        + [("garnet", {"S": 20, "A": 4, "gamma": 0.9, "seed": 2}), ("agarwal_chain", {"H": 10})],
    )
    instances = ctx.instances(default, lambda t: (t.name, t.params))  # a study's --mdp / --instance replace the suite
    iterations = pick(ctx, 200, 1000)
    methods: list[tuple[str, float]] = pick(
        ctx, [("pg", 1.0), ("npg", 1.0)], [("pg", 1.0), ("pg", 10.0), ("npg", 0.1), ("npg", 1.0), ("npg", 10.0)]
    )
    return [
        {"instance": name, "params": params, "theta0": "uniform", "method": m, "eta": eta, "iterations": iterations}
        for name, params in instances
        for m, eta in methods
    ]


def check(ctx: Context) -> list[CheckResult]:
    """The lemma along every planned run."""
    configs = plan(ctx)
    results = ctx.sweep.run([task(WORKER, c) for c in configs], label=CLAIM)
    out = []
    for cfg, res in zip(configs, results, strict=True):
        conditions = {
            "instance": describe_instance(cfg),
            "theta0": cfg["theta0"],
            "method": cfg["method"],
            "eta": cfg["eta"],
            "iterations": cfg["iterations"],
            **res["conditions"],
        }
        out.append(assess(res, conditions, variant=cfg["method"]))
    return out


if __name__ == "__main__":
    raise SystemExit(module_main(__name__))
