"""The non-uniform Łojasiewicz inequality of softmax PG (Mei et al. 2020, Lemma 8).

Mei, Xiao, Szepesvári, Schuurmans (ICML 2020; arXiv 2005.06392 v3), Lemma 8: fix a deterministic
optimal policy π* with actions a*(s). For every θ,

    ‖∂V^{π_θ}(μ)/∂θ‖₂ ≥ (1/√S) · ‖d_ρ^{π*}/d_μ^{π_θ}‖_∞^{-1} · min_s π_θ(a*(s)|s) · [V*(ρ) − V^{π_θ}(ρ)].

Here μ = ρ = the MDP's start distribution (the gradient of J(θ) = ρ·V^{π_θ}), d the normalised
discounted visitation. Checked at every iterate of softmax PG from θ₀ = 0, at the theorem's step
η = (1 − γ)³/8 and at a larger constant step (to reach near-deterministic policies), and at random
θ ~ N(0, σ²) (the lemma holds for every θ). The measured quantity is the ratio LHS/RHS; the
inequality holds when the minimum ratio is ≥ 1.

Conditions: a unique optimal action per state (Δ*(s) > 0; with ties, a*(s) is not determined and
the v3 statement replaces π(a*(s)|s) by a sum over the optimal set, which this check does not
implement), ρ of full support (Assumption 2; otherwise ‖d_ρ^{π*}/d_ρ^{π_θ}‖_∞ can be infinite and
the RHS vacuous), r ∈ [0, 1] (the paper's Assumption 1). If one fails, the verdict is
inconclusive with the reason.

Float floor: iterates whose gap V*(ρ) − V(ρ) is ≤ max(1e3·ε·(1 + |J*|), 10·ε·κ·(1 + |J*|)),
κ = (1 + γ)/(1 − γ) (:func:`r1theory.rates.floor_for`, raised near γ = 1; see
:func:`proofs_checks._classic.gap_floor`), are excluded (the gap is rounding noise there). A violation counts only if
LHS < RHS evaluated with the gap reduced by that floor.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from r1theory import PolicyPoint, TabularMDP, evaluate, policy_point, trajectory
from r1theory._types import Array
from r1theory.evaluation import Optimal

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

CLAIM = "mei2020.lojasiewicz"
WORKER = "proofs_checks.mei2020_lojasiewicz:worker"
STATEMENT = (
    "Mei et al. 2020 (ICML; arXiv 2005.06392 v3) Lemma 8, with μ = ρ: ‖∂V^{π_θ}(ρ)/∂θ‖₂ ≥ (1/√S)·"
    "‖d_ρ^{π*}/d_ρ^{π_θ}‖_∞^{-1}·min_s π_θ(a*(s)|s)·[V*(ρ) − V^{π_θ}(ρ)] for a deterministic optimal π* with "
    "unique actions a*(s); tested at every iterate of softmax PG (θ₀ = 0) and at random θ, min LHS/RHS ≥ 1 "
    "over points with gap above the float floor max(1e3·ε·(1+|J*|), 10·ε·(1+γ)/(1−γ)·(1+|J*|))."
)


#: The conditions Lemma 8 is stated under (names of :func:`proofs_checks._classic.standing`).
REQUIRED: tuple[str, ...] = ("unique_optimal", "rho_full", "reward_unit")


def lemma8_usable(coef: Any, gap: Any, floor: float) -> Any:
    """Where Lemma 8 can be tested: the gap V*(ρ) − J(θ) is above the float floor and the RHS coefficient is > 0.

    Elementwise on arrays (the check's points) or on scalars (one falsify candidate).
    """
    return (np.asarray(gap) > floor) & (np.asarray(coef) > 0)


def lemma8_short(lhs: Any, coef: Any, gap: Any, floor: float) -> Any:
    """Where Lemma 8 fails beyond rounding: a usable point with ‖∇J‖ < coef·(gap − floor).

    ``coef`` is the RHS over the gap, (1/√S)·‖d*/d_θ‖∞⁻¹·min_s π(a*(s)|s) (:func:`lojasiewicz_terms`); the
    gap is reduced by the float ``floor`` so that rounding of the gap is never read as a violation. The one
    inequality of both the check (:func:`assess`) and the search (:mod:`proofs_checks.falsify.classic`).
    """
    lhs, coef, gap = np.asarray(lhs), np.asarray(coef), np.asarray(gap)
    return lemma8_usable(coef, gap, floor) & (lhs < coef * (gap - floor))


def lojasiewicz_terms(point: PolicyPoint, opt: Optimal, d_star: Array) -> dict[str, float]:
    """LHS ‖∇J‖₂ and the RHS factors of Lemma 8 at one policy point.

    ``d_star`` is d_ρ^{π*}. Returns ``lhs``, ``mismatch`` = max_s d*(s)/d_θ(s) (inf where d_θ(s) = 0 <
    d*(s)), ``min_pi_opt`` = min_s π_θ(a*(s)|s), ``gap`` = V*(ρ) − V^{π_θ}(ρ) and ``coef`` = the RHS
    divided by the gap.
    """
    S = point.mdp.S
    d = point.ev.d
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d_star > 0, d_star / d, 0.0)
    mismatch = float(np.max(ratio))
    min_pi = float(np.min(point.pi[np.arange(S), opt.actions]))
    coef = min_pi / (math.sqrt(S) * mismatch) if np.isfinite(mismatch) and mismatch > 0 else 0.0
    return {
        "lhs": float(np.linalg.norm(point.gradient)),
        "mismatch": mismatch,
        "min_pi_opt": min_pi,
        "gap": float(opt.J - point.ev.J),
        "coef": coef,
    }


def measure(
    mdp: TabularMDP,
    opt: Optimal,
    theta0: Array,
    runs: list[tuple[float, int]],
    *,
    random_points: int,
    sigma: float,
    seed: int,
) -> dict[str, Any]:
    """Lemma 8's terms at every iterate of PG runs (η, T) from θ₀ and at random θ.

    ``source`` labels each point: the index of its run, or −1 for a random θ; ``index`` its
    iterate index (0 for random points).
    """
    d_star = evaluate(mdp, opt.pi).d
    rows: list[dict[str, float]] = []
    source: list[int] = []
    index: list[int] = []
    for r, (eta, iterations) in enumerate(runs):
        for k, p in enumerate(trajectory(mdp, theta0, "pg", eta, iterations)):
            rows.append(lojasiewicz_terms(p, opt, d_star))
            source.append(r)
            index.append(k)
    rng = np.random.default_rng(seed)
    for _ in range(random_points):
        rows.append(lojasiewicz_terms(policy_point(mdp, rng.normal(scale=sigma, size=(mdp.S, mdp.A))), opt, d_star))
        source.append(-1)
        index.append(0)
    out: dict[str, Any] = {
        k: np.asarray([row[k] for row in rows]) for k in ("lhs", "mismatch", "min_pi_opt", "gap", "coef")
    }
    out["source"] = np.asarray(source, dtype=np.int64)
    out["index"] = np.asarray(index, dtype=np.int64)
    out["J_star"] = opt.J
    out["etas"] = [eta for eta, _ in runs]
    return out


def worker(config: dict[str, Any]) -> dict[str, Any]:
    """Sweep worker: Lemma 8's terms along PG at (1 − γ)³/8 and at the configured extra steps."""
    mdp, theta0, opt = load(config)
    runs = [((1.0 - mdp.gamma) ** 3 / 8.0, int(config["iterations"]))]
    runs += [(float(eta), int(config["iterations"])) for eta in config["extra_steps"]]
    out = measure(
        mdp,
        opt,
        theta0,
        runs,
        random_points=int(config["random_points"]),
        sigma=float(config["sigma"]),
        seed=int(config["seed"]),
    )
    out["conditions"] = standing(mdp, opt, theta0)
    return out


def assess(measurements: dict[str, Any], conditions: dict[str, Any], *, rhs_factor: float = 1.0) -> CheckResult:
    """Verdict of Lemma 8 from its terms at every measured point.

    ``rhs_factor`` multiplies the RHS (1 for the lemma; tests use 1e3 to show the check can fail).
    holds: LHS ≥ RHS at every point above the floor; fails: LHS < factor·coef·(gap − floor) somewhere
    (the first and the worst point in evidence); inconclusive: a condition is not met, or no point
    has its gap above the floor.
    """
    lhs = np.asarray(measurements["lhs"], dtype=np.float64)
    coef = rhs_factor * np.asarray(measurements["coef"], dtype=np.float64)
    gap = np.asarray(measurements["gap"], dtype=np.float64)
    source = np.asarray(measurements["source"])
    index = np.asarray(measurements["index"])
    floor = gap_floor(float(measurements["J_star"]), float(conditions.get("gamma", 0.0)))
    usable = lemma8_usable(coef, gap, floor)
    bound = {
        "min_ratio": 1.0,
        "rhs": "(1/√S)·‖d*/d_θ‖∞⁻¹·min_s π(a*|s)·gap" + ("" if rhs_factor == 1.0 else f" × {rhs_factor:g}"),
        "floor": floor,
    }
    reasons = unmet(conditions, REQUIRED)
    if not usable.any():
        reasons.append("no point with a gap above the float floor and a positive RHS")
    ratio = lhs[usable] / (coef[usable] * gap[usable]) if usable.any() else np.empty(0)
    measured: dict[str, Any] = {
        "min_ratio": float(ratio.min()) if ratio.size else None,
        "median_ratio": float(np.median(ratio)) if ratio.size else None,
        "points": int(usable.sum()),
        "excluded_at_floor": int(np.sum(gap <= floor)),
        "min_pi_opt": float(np.min(measurements["min_pi_opt"])),
        "max_mismatch": float(np.max(measurements["mismatch"])),
    }
    etas = list(measurements.get("etas", []))
    if usable.any() and etas:
        full_ratio = np.full(lhs.shape, np.nan)
        full_ratio[usable] = ratio
        last = {}
        for r, eta in enumerate(etas):
            idx = np.flatnonzero((source == r) & usable)
            if idx.size:
                last[f"eta={eta:.4g}, k={int(index[idx[-1]])}"] = float(full_ratio[idx[-1]])
        measured["ratio_at_last_iterate"] = last
        A = conditions.get("A")
        if isinstance(A, int) and A > 1:
            measured["sqrt_A_over_A_minus_1"] = math.sqrt(A / (A - 1))
    if reasons:
        return inconclusive(CLAIM, STATEMENT, "pg", conditions, measured, bound, {"reasons": reasons})
    sel = np.flatnonzero(usable)
    w = int(sel[int(np.argmin(ratio))])

    def where(i: int) -> str:
        s = int(source[i])
        return "random θ" if s < 0 else f"PG run η={etas[s]:.4g}, iterate {int(index[i])}" if etas else f"point {i}"

    evidence: dict[str, Any] = {
        "worst_point": where(w),
        "note": "along PG the ratio decreases towards ≈ √(A/(A−1)) as π → π* (observed; the lemma is nearly tight)",
    }
    short = lemma8_short(lhs, coef, gap, floor)
    verdict = "fails" if short.any() else "holds"
    if short.any():
        first = first_index(short)
        assert first is not None
        evidence["first_violation"] = where(first)
    return CheckResult(CLAIM, STATEMENT, "pg", conditions, measured, bound, verdict, float(ratio.min()) - 1.0, evidence)


def plan(ctx: Context) -> list[dict[str, Any]]:
    """Instances and budgets for the mode."""
    default: list[tuple[str, dict[str, Any]]] = pick(
        ctx,
        [
            ("random", {"S": 5, "A": 3, "gamma": 0.9, "seed": 0}),
            ("garnet", {"S": 8, "A": 3, "gamma": 0.7, "seed": 1}),
            ("random", {"S": 10, "A": 4, "gamma": 0.8, "seed": 2}),
        ],
        [
            *random_grid(),
            ("garnet", {"S": 20, "A": 3, "gamma": 0.9, "seed": 2}),
            ("agarwal_chain", {"H": 10, "rho": "uniform"}),
            ("bandit", {"A": 5, "seed": 3}),
        ],
    )
    instances = ctx.instances(default, lambda t: (t.name, t.params))  # a study's --mdp / --instance replace the suite
    budget = pick(ctx, {"iterations": 300, "random_points": 50}, {"iterations": 3000, "random_points": 1000})
    root = seeds(20200518, len(instances))
    return [
        {"instance": n, "params": p, "theta0": "uniform", "extra_steps": [1.0, 10.0], "sigma": 3.0, "seed": s, **budget}
        for (n, p), s in zip(instances, root, strict=True)
    ]


def check(ctx: Context) -> list[CheckResult]:
    """Lemma 8 on every planned instance."""
    configs = plan(ctx)
    results = ctx.sweep.run([task(WORKER, c) for c in configs], label=CLAIM)
    out = []
    for cfg, res in zip(configs, results, strict=True):
        conditions = {
            "instance": describe_instance(cfg),
            "theta0": cfg["theta0"],
            "mu": "ρ",
            "pg_steps": [float(e) for e in res["etas"]],
            "iterations": cfg["iterations"],
            "random_theta": f"{cfg['random_points']} × N(0, {cfg['sigma']}²)",
            **res["conditions"],
        }
        out.append(assess(res, conditions))
    return out


if __name__ == "__main__":
    raise SystemExit(module_main(__name__))
