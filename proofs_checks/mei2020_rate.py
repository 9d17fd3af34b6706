"""The O(1/t) rate of softmax PG on MDPs (Mei et al. 2020, Theorem 4) and its Θ(1/t) shape.

Mei, Xiao, Szepesvári, Schuurmans (ICML 2020; arXiv 2005.06392 v3), Theorem 4: with
η = (1 − γ)³/8, r ∈ [0, 1] and min_s μ(s) > 0 (Assumption 2), for every t ≥ 1

    V*(ρ) − V^{π_θt}(ρ) ≤ 16 S / (c² (1 − γ)⁶ t) · ‖d_μ^{π*}/μ‖_∞² · ‖1/μ‖_∞,

c = inf_{s, t≥1} π_θt(a*(s)|s) > 0 (Lemma 9, which needs a unique optimal action per state). The
exact form (squared mismatch, the ‖1/μ‖_∞ factor) is the one printed in Theorem 4 (arXiv 2005.06392 v3), confirmed by
the paper's Remark 3. Here μ = ρ = the MDP's start distribution. As in the proof (Lemma-4-style
induction), c is replaced by the running minimum c_t = min_{1≤s≤t} min_s' π_θs(a*(s')|s'), which keeps
the bound valid for every t without knowing the infimum. Mei's iterates start at θ_1 (Algorithm 1),
so the engine's iterate k = 0, 1, ... is Mei's t = k + 1.

Part 1 (the bound): the maximum over t of measured gap / bound (expected ≪ 1: the bound is loose by
orders of magnitude). A violation counts when gap > bound + float floor (the floor of
:func:`proofs_checks._classic.gap_floor`: 1e3·ε·(1+|J*|), raised near γ = 1). The tighter form
16 S ‖d_μ^{π*}/μ‖²_∞ / (c_t² (1−γ)⁵ t) at ρ = μ, a corollary derived in docs/claims.md#mei-et-al-2020 (not
the printed theorem), is reported alongside without entering the verdict.

Part 2 (the shape): V* − V^{π_t} = Θ(1/t) — the upper bound of Theorem 4 and the lower bound of
Theorem 10 (for η_t ∈ (0, 1] and large t, V*(μ) − V^{π_θt}(μ) ≥ (1 − γ)⁵ (Δ*)²/(12 t), as
as reconstructed from its proof's constants). On a run long enough, the tail fit of log gap against
log t (:func:`r1theory.rates.fit_sublinear`) should have slope −1 and t·gap should level off
(:func:`r1theory.rates.t_gap_levelling`). The shape part uses a moderate γ and the constant step
η = 1 (inside Theorem 10's range (0, 1]; Theorem 4's step (1 − γ)³/8 reaches the asymptotic regime
only after many more iterations and is used in full mode): verdict holds when |slope + 1| ≤ 0.1 and
t·gap varies by at most 1.5× over a fitted window of at least a decade of t; inconclusive
otherwise. Both halves of Θ(1/t) are *eventual* statements ("for t large enough"), so a finite run
cannot refute the shape: a tail slower than 1/t may be pre-asymptotic, and a tail faster than 1/t
(which, if it persisted, would contradict Theorem 10) may be an exponentially decaying transient
on top of a smaller c/t term. The shape part therefore says holds or inconclusive, with the reason;
the falsifiable part of the claim is Part 1.

Also reported (not part of any verdict): the asymptote t·gap → S(A − 1)/(ηA) predicted by a
per-state balance of the PG flow near π* (our derivation, not a statement of the papers: with
x = π(a|s)Δ(s, a) equal across the A − 1 sub-optimal actions, ẋ = −(η d(s)/(1−γ)) A x², and the
performance difference lemma with d → d* gives the gap); it matches the measured level closely.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from r1theory import Run, TabularMDP, evaluate, rates
from r1theory.evaluation import Optimal
from r1theory.numerics import TINY

from ._classic import describe_instance, gap_floor, inconclusive, pick, random_grid, unmet
from ._classic import standing as standing_conditions
from .context import Context
from .result import CheckResult
from .runner import module_main
from .runs import initial_theta, instance, run_task

CLAIM = "mei2020.rate"
STATEMENT_BOUND = (
    "Mei et al. 2020 (ICML; arXiv 2005.06392 v3) Theorem 4, μ = ρ, η = (1−γ)³/8, r ∈ [0,1], min ρ > 0: "
    "V*(ρ) − V^{π_t}(ρ) ≤ 16·S/(c_t²(1−γ)⁶ t)·‖d_ρ^{π*}/ρ‖_∞²·‖1/ρ‖_∞ for every t ≥ 1 (t = iterate index + 1, "
    "θ_1 the start), c_t = min_{1≤s≤t} min_s' π_s(a*(s')|s') (running min); violation = gap > bound + float floor."
)
STATEMENT_SHAPE = (
    "Rate shape Θ(1/t) of softmax PG (Mei et al. 2020 v3: Theorem 4 upper bound; Theorem 10 lower bound "
    "(1−γ)⁵Δ*²/(12t) for η ∈ (0,1], as reconstructed): tail fit of log gap vs log t has slope −1 (|slope+1| ≤ 0.1) "
    "and t·gap levels off (max/min ≤ 1.5 over a fitted window of ≥ one decade); an eventual statement: a finite "
    "run can confirm it (holds) or not reach it (inconclusive), never refute it."
)
SLOPE_TOL = 0.1
SPREAD_MAX = 1.5
TAIL = 0.3


def theorem4_constants(mdp: TabularMDP, opt: Optimal) -> dict[str, float]:
    """‖d_ρ^{π*}/ρ‖_∞ and ‖1/ρ‖_∞ (inf where ρ(s) = 0), S and γ."""
    d_star = evaluate(mdp, opt.pi).d
    with np.errstate(divide="ignore", invalid="ignore"):
        mism = float(np.max(np.where(mdp.rho > 0, d_star / mdp.rho, np.where(d_star > 0, np.inf, 0.0))))
        inv_rho = float(np.max(np.where(mdp.rho > 0, 1.0 / mdp.rho, np.inf)))
    return {"S": float(mdp.S), "gamma": mdp.gamma, "mismatch": mism, "inv_rho": inv_rho}


def theorem4_bound(
    constants: dict[str, float], c_run: np.ndarray, *, constant: float = 16.0, power: int = 6
) -> np.ndarray:
    """The bound at engine iterates k = 0..T (Mei's t = k + 1) for running minima c_run.

    ``constant``·S/(c_t²(1−γ)^power t)·mismatch²·‖1/ρ‖_∞ (power 6, constant 16: Theorem 4; power 5
    without ‖1/ρ‖_∞: the derived corollary at ρ = μ; tests change ``constant`` to show the check can fail).
    """
    t = np.arange(1, len(c_run) + 1, dtype=np.float64)
    S, g, m = constants["S"], constants["gamma"], constants["mismatch"]
    extra = constants["inv_rho"] if power == 6 else 1.0
    with np.errstate(divide="ignore", over="ignore"):
        return constant * S / (c_run**2 * (1.0 - g) ** power * t) * m**2 * extra


def assess_bound(
    measurements: dict[str, Any], conditions: dict[str, Any], constants: dict[str, float], *, constant: float = 16.0
) -> CheckResult:
    """Theorem 4 verdict from a run's gap and min_s π_t(a*(s)|s) histories.

    inconclusive when a condition is not met (ρ full support, r ∈ [0,1], unique optimal actions,
    η = (1−γ)³/8) or the run is empty; fails when gap_t > bound_t + floor at some t (first and
    worst t in evidence); holds otherwise.
    """
    gap = np.asarray(measurements["gap"], dtype=np.float64)
    c_run = np.minimum.accumulate(np.asarray(measurements["min_pi_opt"], dtype=np.float64))
    floor = gap_floor(float(measurements["J_star"]), float(conditions.get("gamma", 0.0)))
    reasons = unmet(conditions, ["rho_full", "reward_unit", "unique_optimal"])
    eta = measurements.get("eta")
    g = constants["gamma"]
    if eta is None or not np.allclose(np.asarray(eta), (1.0 - g) ** 3 / 8.0, rtol=1e-12, atol=0.0):
        reasons.append("the run's step is not η = (1−γ)³/8")
    if gap.size < 2:
        reasons.append("run too short")
    bound = theorem4_bound(constants, c_run, constant=constant)
    derived = theorem4_bound(constants, c_run, constant=constant, power=5)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(bound > 0, gap / bound, np.inf)
        ratio_derived = np.where(derived > 0, gap / derived, np.inf)
    worst = int(np.argmax(ratio)) if ratio.size else 0
    measured = {
        "max_gap_over_bound": float(ratio.max()) if ratio.size else None,
        "max_gap_over_derived_1mg5": float(ratio_derived.max()) if ratio.size else None,
        "final_gap": float(gap[-1]) if gap.size else None,
        "c_T": float(c_run[-1]) if c_run.size else None,
        "iterations": int(gap.size - 1),
    }
    bnd = {
        "constant": constant,
        "mismatch_dstar_over_rho": constants["mismatch"],
        "inv_rho": constants["inv_rho"],
        "bound_at_T": float(bound[-1]) if bound.size else None,
        "floor": floor,
    }
    if reasons:
        return inconclusive(CLAIM, STATEMENT_BOUND, "pg", conditions, measured, bnd, {"reasons": reasons})
    evidence: dict[str, Any] = {"worst_t": worst + 1, "note": "Theorem 4 is loose by many orders of magnitude"}
    viol = gap > bound + floor
    if viol.any():
        evidence["first_violation_t"] = int(np.flatnonzero(viol)[0]) + 1
        return CheckResult(
            CLAIM, STATEMENT_BOUND, "pg", conditions, measured, bnd, "fails", float(-np.log10(ratio.max())), evidence
        )
    slack = float(-np.log10(max(float(ratio.max()), TINY)))
    evidence["slack_unit"] = "decades"
    return CheckResult(CLAIM, STATEMENT_BOUND, "pg", conditions, measured, bnd, "holds", slack, evidence)


def assess_shape(measurements: dict[str, Any], conditions: dict[str, Any]) -> CheckResult:
    """Θ(1/t) shape verdict from a long run's gap history (see the module docstring)."""
    gap = np.asarray(measurements["gap"], dtype=np.float64)
    J_star = float(measurements["J_star"])
    floor = gap_floor(J_star, float(conditions.get("gamma", 0.0)))
    fit = rates.fit_sublinear(gap, floor=floor, tail=TAIL)
    lev = rates.t_gap_levelling(gap, floor=floor, tail=TAIL)
    bound = {"slope": -1.0, "slope_tolerance": SLOPE_TOL, "max_spread": SPREAD_MAX, "tail_fraction_of_log_t": TAIL}
    lower = conditions.get("theorem10_constant")
    if fit is None or lev is None:
        return inconclusive(
            CLAIM,
            STATEMENT_SHAPE,
            "pg",
            conditions,
            {"iterations": int(gap.size - 1)},
            bound,
            {"reasons": ["too few iterates above the float floor to fit a rate"]},
        )
    measured: dict[str, Any] = {
        "slope": fit.slope,
        "r2": fit.r2,
        "window": [fit.t_start, fit.t_end],
        "t_gap_spread": lev.spread,
        "t_gap_trend": lev.trend,
        "t_gap_final": lev.final,
        "final_gap": float(gap[-1]),
    }
    if lower is not None:
        measured["t_gap_final_over_theorem10"] = lev.final / float(lower) if float(lower) > 0 else None
    eta_value, S, A = conditions.get("eta_value"), conditions.get("S"), conditions.get("A")
    if eta_value and S and A and A > 1:
        measured["t_gap_ode_asymptote"] = S * (A - 1) / (float(eta_value) * A)
    decade = fit.t_end >= 10 * max(fit.t_start, 1)
    reached_floor = bool(np.any(gap <= floor))
    evidence: dict[str, Any] = {"reached_float_floor": reached_floor}
    reasons = unmet(conditions, ["reward_unit", "rho_full", "unique_optimal"])
    if reasons:
        return inconclusive(CLAIM, STATEMENT_SHAPE, "pg", conditions, measured, bound, {**evidence, "reasons": reasons})
    if abs(fit.slope + 1.0) <= SLOPE_TOL and lev.spread <= SPREAD_MAX and decade:
        verdict = "holds"
    elif fit.slope < -1.0 - SLOPE_TOL and decade:
        verdict = "inconclusive"
        evidence["reason"] = (
            "the tail decays faster than 1/t over the window: a transient, or (if it persisted) a contradiction of "
            "Theorem 10's Ω(1/t); a finite run cannot tell — run longer"
        )
    else:
        verdict = "inconclusive"
        evidence["reason"] = (
            "the run has not reached its asymptotic regime (slope or t·gap spread outside tolerance"
            + ("" if decade else ", or the fitted window spans less than a decade")
            + "); run longer"
        )
    return CheckResult(
        CLAIM, STATEMENT_SHAPE, "pg", conditions, measured, bound, verdict, SLOPE_TOL - abs(fit.slope + 1.0), evidence
    )


def plan(ctx: Context) -> tuple[list[tuple[str, dict[str, Any], int]], list[tuple[str, dict[str, Any], Any, int]]]:
    """(bound runs (instance, params, T) at η = (1−γ)³/8, shape runs (instance, params, step, T)) for the mode."""
    bound_runs: list[tuple[str, dict[str, Any], int]] = pick(
        ctx,
        [
            ("random", {"S": 5, "A": 3, "gamma": 0.9, "seed": 0}, 3000),
            ("random", {"S": 4, "A": 2, "gamma": 0.5, "seed": 1}, 3000),
        ],
        [(name, params, 20000) for name, params in random_grid()]
        + [
            ("garnet", {"S": 20, "A": 3, "gamma": 0.9, "seed": 2}, 20000),
            ("agarwal_chain", {"H": 5, "rho": "uniform"}, 20000),
        ],
    )
    T_bound, T_shape = pick(ctx, (3000, 20000), (20000, 200000))
    bound_runs = ctx.instances(bound_runs, lambda t: (t.name, t.params, T_bound))  # a study's instances
    shape_runs: list[tuple[str, dict[str, Any], Any, int]] = pick(
        ctx,
        [("random", {"S": 5, "A": 3, "gamma": 0.6, "seed": 0}, 1.0, 20000)],
        [("random", {"S": 5, "A": 3, "gamma": g, "seed": s}, 1.0, 200000) for g in (0.5, 0.7, 0.9) for s in (0, 1)]
        + [
            ("random", {"S": 5, "A": 3, "gamma": 0.5, "seed": 0}, {"kind": "mei2020"}, 1_000_000),
            ("garnet", {"S": 10, "A": 3, "gamma": 0.7, "seed": 2}, 1.0, 200000),
        ],
    )
    return bound_runs, ctx.instances(shape_runs, lambda t: (t.name, t.params, 1.0, T_shape))


def _conditions(name: str, params: dict[str, Any], extra: dict[str, Any]) -> tuple[dict[str, Any], TabularMDP, Optimal]:
    mdp, _, opt = instance(name, params)
    theta0 = initial_theta(name, params, "uniform")
    cond = {
        "instance": describe_instance({"instance": name, "params": params}),
        "theta0": "uniform",
        "mu": "ρ",
        **extra,
        **standing_conditions(mdp, opt, theta0),
    }
    return cond, mdp, opt


def check(ctx: Context) -> list[CheckResult]:
    """Theorem 4's bound on the planned runs, then the Θ(1/t) shape on the long runs."""
    bound_runs, shape_runs = plan(ctx)
    tasks = [run_task(n, "pg", {"kind": "mei2020"}, T, params=p) for n, p, T in bound_runs]
    tasks += [run_task(n, "pg", step, T, params=p) for n, p, step, T in shape_runs]
    results = ctx.sweep.run(tasks, label=CLAIM)
    out: list[CheckResult] = []
    for (n, p, T), res in zip(bound_runs, results[: len(bound_runs)], strict=True):
        run = Run.from_record(res)
        cond, mdp, opt = _conditions(n, p, {"eta": "(1−γ)³/8", "iterations": T})
        meas = {"gap": run.gap, "min_pi_opt": run.min_pi_opt, "J_star": run.J_star, "eta": run.eta}
        out.append(assess_bound(meas, cond, theorem4_constants(mdp, opt)))
    for (n, p, step, T), res in zip(shape_runs, results[len(bound_runs) :], strict=True):
        run = Run.from_record(res)
        label = "(1−γ)³/8" if isinstance(step, dict) else float(step)
        cond, mdp, opt = _conditions(n, p, {"eta": label, "iterations": T})
        cond["theorem10_constant"] = (1.0 - mdp.gamma) ** 5 * float(np.min(opt.gap)) ** 2 / 12.0
        cond["eta_value"] = float(run.eta[0]) if run.eta.size else None
        out.append(assess_shape({"gap": run.gap, "J_star": run.J_star}, cond))
    return out


if __name__ == "__main__":
    raise SystemExit(module_main(__name__))
