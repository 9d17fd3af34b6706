"""Global convergence of tabular softmax NPG (Agarwal et al. 2021, Theorem 5.3 and Lemma 5.2).

Agarwal, Kakade, Lee, Mahajan (JMLR 2021; arXiv 1908.00261 v5), §5.3. NPG θ^{(t+1)} = θ^{(t)} +
η F_ρ(θ^{(t)})^† ∇V^{(t)}(ρ) is, in policy space, the multiplicative-weights update of Lemma 5.1,
π^{(t+1)}(a|s) = π^{(t)}(a|s) exp(η A^{(t)}(s, a)/(1 − γ)) / Z_t(s) (the engine's closed form).
Iterates start at θ^{(0)}, so the engine's iterate index is the paper's t.

* **Theorem 5.3** [V]: for r ∈ [0, 1], any ρ, **θ^{(0)} = 0** (uniform) and any fixed η > 0, for all T ≥ 1

      V*(ρ) − V^{(T)}(ρ) ≤ log|A|/(ηT) + 1/((1 − γ)² T).

  Checked at every T of runs with η ∈ {0.1, 1, 10} and η = (1 − γ)² log|A|
  (:func:`r1theory.steps.agarwal2021_npg`). The ratio gap/bound is reported up to the float floor
  max(1e3·ε·(1 + |V*(ρ)|), 10·ε·κ·(1 + |V*(ρ)|)), κ = (1 + γ)/(1 − γ) (:func:`r1theory.rates.floor_for`,
  raised near γ = 1 to the resolution of a linear solve), where the gap stops carrying information;
  a violation is gap_T > bound_T + floor. A non-uniform θ^{(0)} makes the check inconclusive (the
  theorem's log|A| is then replaced by a KL term, not the statement checked here).

* **Lemma 5.2** [V]: for every start distribution, Dirac included,
  V^{(t+1)}(s) − V^{(t)}(s) ≥ ((1 − γ)/η) log Z_t(s) ≥ 0 at every state s. Checked at every step
  and every state reachable from ρ (d^{(t)}(s) > 0; the update leaves unreachable states, whose
  Fisher block is 0, unchanged — AKM footnote 6); monotonicity V^{(t+1)}(s) ≥ V^{(t)}(s) at every
  state. A violation is a shortfall beyond the same floor computed with max_s V*(s) in place of V*(ρ).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import logsumexp

from r1theory import Run, TabularMDP, trajectory
from r1theory._types import Array

from ._classic import (
    describe_instance,
    gap_floor,
    inconclusive,
    load,
    pick,
    random_grid,
    standing,
    task,
    unmet,
    usable_prefix,
)
from .context import Context
from .result import CheckResult
from .runner import module_main
from .runs import initial_theta, instance, run_task

CLAIM = "agarwal2021.npg-rate"
WORKER = "proofs_checks.agarwal2021_npg_rate:worker"
STATEMENT_T53 = (
    "Agarwal et al. 2021 (JMLR; arXiv 1908.00261 v5) Theorem 5.3: tabular softmax NPG from θ^(0) = 0 with fixed "
    "η > 0, r ∈ [0,1]: V*(ρ) − V^(T)(ρ) ≤ log|A|/(ηT) + 1/((1−γ)²T) for every T ≥ 1; violation = gap > bound + "
    "float floor max(1e3·ε·(1+|V*(ρ)|), 10·ε·(1+γ)/(1−γ)·(1+|V*(ρ)|)); ratios reported up to that floor."
)
STATEMENT_L52 = (
    "Agarwal et al. 2021 (v5) Lemma 5.2 with a Dirac start at each state: V^(t+1)(s) − V^(t)(s) ≥ ((1−γ)/η)·"
    "log Z_t(s) ≥ 0, Z_t(s) = Σ_a π^(t)(a|s) exp(ηA^(t)(s,a)/(1−γ)), at every step and every state reachable from ρ; "
    "V^(t+1)(s) ≥ V^(t)(s) at every state; tolerance max(1e3·ε·(1+max V*), 10·ε·(1+γ)/(1−γ)·(1+max V*))."
)


def theorem53_bound(gamma: float, A: int, eta: float, T: np.ndarray, *, constant: float = 1.0) -> np.ndarray:
    """log|A|/(ηT) + 1/((1 − γ)² T), times ``constant`` (1 in the theorem; tests lower it)."""
    return constant * (math.log(A) / (eta * T) + 1.0 / ((1.0 - gamma) ** 2 * T))


def theorem53_excess(gap: Any, bound: Any, floor: float) -> Any:
    """gap_T − (bound_T + floor): positive where Theorem 5.3 fails beyond the float ``floor`` (elementwise).

    The one inequality of both the check (:func:`assess_theorem53`) and the search
    (:mod:`proofs_checks.falsify.classic`).
    """
    return np.asarray(gap) - (np.asarray(bound) + floor)


def assess_theorem53(measurements: dict[str, Any], conditions: dict[str, Any], *, constant: float = 1.0) -> CheckResult:
    """Theorem 5.3 verdict from a run's gap history (index = T) and its constant step."""
    gap = np.asarray(measurements["gap"], dtype=np.float64)
    etas = np.asarray(measurements["eta"], dtype=np.float64)
    floor = gap_floor(float(measurements["J_star"]), float(conditions.get("gamma", 0.0)))
    reasons = unmet(conditions, ["uniform_init", "reward_unit"])
    if etas.size == 0:
        reasons.append("no NPG step was made")
    elif not np.all(etas == etas[0]):
        reasons.append("the step is not constant")
    eta = float(etas[0]) if etas.size else float("nan")
    T = np.arange(1, gap.size, dtype=np.float64)
    g = gap[1:]
    bound = theorem53_bound(float(conditions["gamma"]), int(conditions["A"]), eta, T, constant=constant)
    n_use = usable_prefix(g, floor)
    ratio = g[:n_use] / bound[:n_use]
    measured: dict[str, Any] = {
        "max_gap_over_bound": float(ratio.max()) if ratio.size else None,
        "T_at_max": int(np.argmax(ratio)) + 1 if ratio.size else None,
        "T_reaching_floor": int(n_use) + 1 if n_use < g.size else None,
        "final_gap": float(gap[-1]),
        "iterations": int(g.size),
    }
    bnd = {"bound_at_T1": float(bound[0]) if bound.size else None, "eta": eta, "floor": floor, "constant": constant}
    if reasons:
        return inconclusive(CLAIM, STATEMENT_T53, "npg", conditions, measured, bnd, {"reasons": reasons})
    viol = theorem53_excess(g, bound, floor) > 0
    evidence: dict[str, Any] = {}
    if viol.any():
        evidence["first_violation_T"] = int(np.flatnonzero(viol)[0]) + 1
        return CheckResult(
            CLAIM, STATEMENT_T53, "npg", conditions, measured, bnd, "fails", 1.0 - float(np.max(g / bound)), evidence
        )
    if not ratio.size:
        evidence["note"] = "the gap reached the float floor at T = 1: no ratio measured (bound holds trivially)"
    return CheckResult(
        CLAIM,
        STATEMENT_T53,
        "npg",
        conditions,
        measured,
        bnd,
        "holds",
        1.0 - (float(ratio.max()) if ratio.size else 0.0),
        evidence,
    )


def lemma52_terms(mdp: TabularMDP, theta0: Array, eta: float, iterations: int) -> dict[str, Any]:
    """Per-step, per-state increments V^{(t+1)}(s) − V^{(t)}(s), ((1−γ)/η) log Z_t(s) and reachability."""
    g = mdp.gamma
    inc, lowb, reach = [], [], []
    prev = None
    for p in trajectory(mdp, theta0, "npg", eta, iterations):
        if prev is not None:
            inc.append(p.ev.V - prev.ev.V)
            logZ = logsumexp(prev.log_pi + eta * prev.ev.A / (1.0 - g), axis=1)
            lowb.append((1.0 - g) / eta * logZ)
            reach.append(prev.ev.d > 0)
        prev = p
    shape = (0, mdp.S)
    return {
        "increment": np.asarray(inc).reshape(-1, mdp.S) if inc else np.empty(shape),
        "lower": np.asarray(lowb).reshape(-1, mdp.S) if lowb else np.empty(shape),
        "reachable": np.asarray(reach, dtype=np.bool_).reshape(-1, mdp.S) if reach else np.empty(shape, dtype=bool),
    }


def worker(config: dict[str, Any]) -> dict[str, Any]:
    """Sweep worker: Lemma 5.2's per-state terms along NPG at the configured step."""
    mdp, theta0, opt = load(config)
    eta = float(config["eta"]) if config["eta"] != "agarwal2021" else (1.0 - mdp.gamma) ** 2 * math.log(mdp.A)
    out = lemma52_terms(mdp, theta0, eta, int(config["iterations"]))
    out["tolerance"] = gap_floor(float(np.max(np.abs(opt.V))), mdp.gamma)
    out["eta"] = eta
    out["conditions"] = standing(mdp, opt, theta0)
    return out


def assess_lemma52(measurements: dict[str, Any], conditions: dict[str, Any], *, factor: float = 1.0) -> CheckResult:
    """Lemma 5.2 verdict; ``factor`` multiplies the log Z lower bound (1 in the lemma; tests raise it)."""
    inc = np.asarray(measurements["increment"], dtype=np.float64)
    low = factor * np.asarray(measurements["lower"], dtype=np.float64)
    reach = np.asarray(measurements["reachable"], dtype=bool)
    tol = float(measurements["tolerance"])
    reasons = unmet(conditions, ["reward_unit"])
    if inc.size == 0:
        reasons.append("no step measured")
    measured: dict[str, Any] = {
        "steps": int(inc.shape[0]),
        "min_increment": float(inc.min()) if inc.size else None,
        "min_increment_minus_logZ_bound": float(np.min(np.where(reach, inc - low, np.inf))) if inc.size else None,
        "min_logZ_bound": float(np.min(np.where(reach, low, np.inf))) if inc.size else None,
        "unreachable_state_steps": int(np.sum(~reach)),
    }
    bound = {
        "increment_at_least": "((1−γ)/η)·log Z_t(s) ≥ 0" + ("" if factor == 1.0 else f" × {factor:g}"),
        "tolerance": tol,
    }
    if reasons:
        return inconclusive(CLAIM, STATEMENT_L52, "npg", conditions, measured, bound, {"reasons": reasons})
    short_z = reach & (inc < low - tol)
    short_m = inc < -tol
    short_nonneg = reach & (low < -tol)
    evidence: dict[str, Any] = {}
    for name, mask in (("logZ_bound", short_z), ("monotonicity", short_m), ("logZ_nonnegative", short_nonneg)):
        if mask.any():
            t, s = np.argwhere(mask)[0]
            evidence[f"first_violation_{name}"] = {"t": int(t), "state": int(s)}
    verdict = "fails" if evidence else "holds"
    # margin to the violation threshold (tolerance included): min over steps and states
    slack = float(np.min(np.where(reach, inc - low, inc))) + tol if inc.size else None
    evidence["slack_unit"] = "value units, margin to the violation threshold (tolerance included)"
    return CheckResult(CLAIM, STATEMENT_L52, "npg", conditions, measured, bound, verdict, slack, evidence)


def plan(ctx: Context) -> tuple[list[tuple[str, dict[str, Any]]], list[Any], int]:
    """(instances, steps, iterations) for the mode; a step is a number or "agarwal2021" ((1−γ)² log|A|)."""
    default: list[tuple[str, dict[str, Any]]] = pick(
        ctx,
        [
            ("random", {"S": 5, "A": 3, "gamma": 0.9, "seed": 0}),
            ("agarwal_chain", {"H": 10}),
            ("random", {"S": 4, "A": 2, "gamma": 0.99, "seed": 1}),
        ],
        [
            *random_grid(),
            ("garnet", {"S": 20, "A": 3, "gamma": 0.9, "seed": 2}),
            ("agarwal_chain", {"H": 10}),
            ("agarwal_chain", {"H": 20}),
            ("gridworld", {}),
            ("li_chain", {}),
        ],
    )
    instances = ctx.instances(default, lambda t: (t.name, t.params))  # a study's --mdp / --instance replace the suite
    steps: list[Any] = ctx.grid(
        "steps", pick(ctx, [0.1, 1.0, 10.0, "agarwal2021"], [0.01, 0.1, 1.0, 10.0, 100.0, "agarwal2021"])
    )
    return instances, steps, pick(ctx, 300, 3000)


def check(ctx: Context) -> list[CheckResult]:
    """Theorem 5.3 (plain NPG runs, shared with figures) and Lemma 5.2 (per-state worker) on the plan."""
    instances, steps_, T = plan(ctx)
    combos = [(n, p, e) for n, p in instances for e in steps_]
    run_tasks = [
        run_task(n, "npg", {"kind": "agarwal2021"} if e == "agarwal2021" else float(e), T, params=p)
        for n, p, e in combos
    ]
    lemma_tasks = [
        task(WORKER, {"instance": n, "params": p, "theta0": "uniform", "eta": e, "iterations": T}) for n, p, e in combos
    ]
    results = ctx.sweep.run(run_tasks + lemma_tasks, label=CLAIM)
    out: list[CheckResult] = []
    for i, (n, p, e) in enumerate(combos):
        mdp, _, opt = instance(n, p)
        run = Run.from_record(results[i])
        lem = results[len(combos) + i]
        label = f"(1−γ)² log|A| = {float(lem['eta']):.4g}" if e == "agarwal2021" else float(e)
        cond = {
            "instance": describe_instance({"instance": n, "params": p}),
            "theta0": "uniform",
            "eta": label,
            "iterations": T,
            **standing(mdp, opt, initial_theta(n, p, "uniform")),
        }
        out.append(assess_theorem53({"gap": run.gap, "eta": run.eta, "J_star": run.J_star}, cond))
        out.append(assess_lemma52(lem, cond))
    return out


if __name__ == "__main__":
    raise SystemExit(module_main(__name__))
