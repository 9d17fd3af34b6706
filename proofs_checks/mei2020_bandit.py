"""Softmax PG on bandits: Lemma 4, Theorem 9 and the plateau of Lemma 6 / Fig. 1 (Mei et al. 2020).

Mei, Xiao, Szepesvári, Schuurmans (ICML 2020; arXiv 2005.06392 v3), §3 (one state, γ = 0,
r ∈ [0, 1]^K, a unique optimal arm a*). Update 1 is θ_{t+1}(a) = θ_t(a) + η π_t(a)(r(a) − π_tᵀr),
which is the engine's exact PG (d = 1, A = r − πᵀr, 1 − γ = 1) with the step η = 2/5 of
:func:`r1theory.steps.mei2020` (``bandit=True``). Iterates start at θ_1, so the engine's iterate
k = 0, 1, ... is the paper's t = k + 1. δ_t = (π* − π_t)ᵀr = r(a*) − π_tᵀr.

* **Lemma 4** [V]: with c_t = min_{1≤s≤t} π_s(a*) (running minimum), δ_t ≤ 5/(c_t² t), i.e.
  δ_t·c_t²·t ≤ 5 for every t ≥ 1. Violation: δ_t > 5/(c_t² t) + float floor
  (:func:`proofs_checks._classic.gap_floor`).
* **Theorem 9** [R, as reconstructed]: for η_t ∈ (0, 1] and t large enough, δ_t ≥ Δ²/(6t),
  Δ = r(a*) − max_{a≠a*} r(a). "Large enough" is not quantified, so the check reports the first
  t₀ after which δ_t·t ≥ Δ²/6 holds through the end of the run; verdict holds when t₀ ≤ T/2
  (the inequality holds on at least the last factor 2 of the run), inconclusive otherwise (a
  finite run cannot refute an eventual statement).
  Also reported, outside the verdict: the level (A − 1)/(ηA) that δ_t·t approaches under the PG
  flow near π* (our derivation; see :mod:`proofs_checks.mei2020_rate`).
* **Lemma 6 / Fig. 1** [V]: r = (1, 0.9, 0.1); from the bad init π_1 = (0.01, 0.05, 0.94), "it takes
  more than 7000 iterations for the algorithm to escape this sub-optimal corner", while the good
  init (0.05, 0.01, 0.94) escapes quickly. Escape is defined here as the first update count k with
  π_k(a*) ≥ 1/2 (π_0 the initial policy); the counts for the thresholds 0.1 and 0.9 and the first k
  with δ_k ≤ Δ/2 are reported too. Verdict holds when the bad init escapes after more than 7000
  updates (and within the run) and the good init within 7000; fails when the bad init escapes
  within 7000 updates; inconclusive when it does not escape within the run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from r1theory import Run

from ._classic import describe_instance, gap_floor, inconclusive, pick, standing, unmet
from .context import Context
from .result import CheckResult
from .runner import module_main
from .runs import initial_theta, instance, run_task

CLAIM = "mei2020.bandit"
ETA = 0.4
STEP = {"kind": "mei2020", "bandit": True}
PLATEAU_UPDATES = 7000
ESCAPE_LEVEL = 0.5
STATEMENT_L4 = (
    "Mei et al. 2020 (ICML; arXiv 2005.06392 v3) Lemma 4: softmax PG on a K-armed bandit, r ∈ [0,1]^K, unique "
    "a*, η = 2/5: δ_t·c_t²·t ≤ 5 for every t ≥ 1, δ_t = (π*−π_t)ᵀr, c_t = min_{1≤s≤t} π_s(a*) "
    "(t = update count + 1); violation = δ_t > 5/(c_t² t) + float floor."
)
STATEMENT_T9 = (
    "Mei et al. 2020 (v3) Theorem 9, as reconstructed: for η_t ∈ (0,1] and t large enough, δ_t·t ≥ Δ²/6, "
    "Δ = r(a*) − max_{a≠a*} r(a); holds when it holds on [t₀, T] with t₀ ≤ T/2 (t₀ reported)."
)
STATEMENT_PLATEAU = (
    "Mei et al. 2020 (v3) Lemma 6 / Fig. 1: r = (1, 0.9, 0.1), η = 2/5; from π_1 = (0.01, 0.05, 0.94) softmax PG "
    f"takes more than {PLATEAU_UPDATES} iterations to escape the sub-optimal corner, from (0.05, 0.01, 0.94) it "
    f"does not; escape = first update count k with π_k(a*) ≥ {ESCAPE_LEVEL:g}."
)


def _base_reasons(conditions: dict[str, Any]) -> list[str]:
    reasons = unmet(conditions, ["reward_unit", "unique_optimal"])
    if conditions.get("S") != 1 or conditions.get("gamma") != 0.0:
        reasons.append(f"not a bandit (S = {conditions.get('S')}, γ = {conditions.get('gamma')}; needs S = 1, γ = 0)")
    return reasons


def assess_lemma4(measurements: dict[str, Any], conditions: dict[str, Any], *, constant: float = 5.0) -> CheckResult:
    """Lemma 4 verdict from δ_k (``gap``) and π_k(a*) (``min_pi_opt``) histories, k = 0..T.

    ``constant`` is 5 in the lemma (tests lower it to show the check can fail).
    """
    gap = np.asarray(measurements["gap"], dtype=np.float64)
    c_run = np.minimum.accumulate(np.asarray(measurements["min_pi_opt"], dtype=np.float64))
    t = np.arange(1, gap.size + 1, dtype=np.float64)
    floor = gap_floor(float(measurements["J_star"]), float(conditions.get("gamma", 0.0)))
    reasons = _base_reasons(conditions)
    eta = np.asarray(measurements["eta"], dtype=np.float64)
    if eta.size and not np.allclose(eta, ETA, rtol=1e-12, atol=0.0):
        reasons.append(f"the step is not η = 2/5 (got {float(eta[0]):g})")
    product = gap * c_run**2 * t
    worst = int(np.argmax(product))
    measured = {"max_delta_c2_t": float(product[worst]), "iterations": int(gap.size - 1), "c_T": float(c_run[-1])}
    bound = {"max_delta_c2_t": constant, "floor": floor}
    if reasons:
        return inconclusive(CLAIM, STATEMENT_L4, "pg", conditions, measured, bound, {"reasons": reasons})
    viol = gap > constant / (c_run**2 * t) + floor
    evidence: dict[str, Any] = {"worst_t": worst + 1}
    if viol.any():
        evidence["first_violation_t"] = int(np.flatnonzero(viol)[0]) + 1
    return CheckResult(
        CLAIM,
        STATEMENT_L4,
        "pg",
        conditions,
        measured,
        bound,
        "fails" if viol.any() else "holds",
        constant - float(product[worst]),
        evidence,
    )


def assess_theorem9(measurements: dict[str, Any], conditions: dict[str, Any], *, delta: float) -> CheckResult:
    """Theorem 9 verdict: the first t₀ after which δ_t·t ≥ Δ²/6 holds through T, holds when t₀ ≤ T/2."""
    gap = np.asarray(measurements["gap"], dtype=np.float64)
    t = np.arange(1, gap.size + 1, dtype=np.float64)
    target = delta**2 / 6.0
    reasons = _base_reasons(conditions)
    eta = np.asarray(measurements["eta"], dtype=np.float64)
    if eta.size and not (np.all(eta > 0) and np.all(eta <= 1.0)):
        reasons.append("the step is not in (0, 1]")
    product = gap * t
    below = np.flatnonzero(product < target)
    t0 = int(below[-1]) + 2 if below.size else 1  # paper's t of the first index after the last violation
    T = int(gap.size)
    measured: dict[str, Any] = {
        "first_t_after_which_holds": t0 if t0 <= T else None,
        "T": T,
        "final_delta_t": float(product[-1]),
        "min_tail_delta_t": float(product[t0 - 1 :].min()) if t0 <= T else None,
    }
    A = conditions.get("A")
    if eta.size and isinstance(A, int) and A > 1:
        # not part of the verdict: the level (A−1)/(ηA) of δ_t·t predicted by the PG flow near π*
        # (x = π(a)Δ_a equal over the A−1 sub-optimal arms, ẋ = −ηA x²); see mei2020_rate
        measured["delta_t_ode_asymptote"] = (A - 1) / (float(eta[0]) * A)
    bound = {"delta_t_at_least": target, "Delta": delta, "t0_at_most": T // 2}
    if reasons:
        return inconclusive(CLAIM, STATEMENT_T9, "pg", conditions, measured, bound, {"reasons": reasons})
    evidence: dict[str, Any] = {"note": "the lower bound is loose: δ_t·t levels off far above Δ²/6"}
    if t0 <= T // 2:
        return CheckResult(
            CLAIM,
            STATEMENT_T9,
            "pg",
            conditions,
            measured,
            bound,
            "holds",
            float(np.log10(float(product[t0 - 1 :].min()) / target)),
            {**evidence, "slack_unit": "decades"},
        )
    evidence["reason"] = "δ_t·t < Δ²/6 in the last half of the run: 'large enough t' not reached; run longer"
    return inconclusive(CLAIM, STATEMENT_T9, "pg", conditions, measured, bound, evidence)


def escape_counts(pi_opt: np.ndarray, gap: np.ndarray, delta: float) -> dict[str, int | None]:
    """First update counts k with π_k(a*) ≥ 0.1, 0.5, 0.9 and with δ_k ≤ Δ/2 (None if never)."""

    def first(mask: np.ndarray) -> int | None:
        hit = np.flatnonzero(mask)
        return int(hit[0]) if hit.size else None

    out = {f"pi_opt_ge_{lvl:g}": first(pi_opt >= lvl) for lvl in (0.1, ESCAPE_LEVEL, 0.9)}
    out["gap_le_Delta_over_2"] = first(gap <= delta / 2.0)
    return out


def assess_plateau(
    bad: dict[str, Any], good: dict[str, Any], conditions: dict[str, Any], *, threshold: int = PLATEAU_UPDATES
) -> CheckResult:
    """Plateau verdict from the bad-init and good-init runs' π_k(a*) histories (``min_pi_opt``)."""
    delta = float(conditions["Delta"])
    eb = escape_counts(np.asarray(bad["min_pi_opt"]), np.asarray(bad["gap"]), delta)
    eg = escape_counts(np.asarray(good["min_pi_opt"]), np.asarray(good["gap"]), delta)
    key = f"pi_opt_ge_{ESCAPE_LEVEL:g}"
    kb, kg = eb[key], eg[key]
    measured = {
        "escape_bad": kb,
        "escape_good": kg,
        "bad_counts": eb,
        "good_counts": eg,
        "iterations": int(len(bad["gap"]) - 1),
    }
    bound = {"escape_bad_more_than": threshold, "escape_good_at_most": threshold}
    reasons = _base_reasons(conditions)
    if reasons:
        return inconclusive(CLAIM, STATEMENT_PLATEAU, "pg", conditions, measured, bound, {"reasons": reasons})
    if kb is None:
        return inconclusive(
            CLAIM,
            STATEMENT_PLATEAU,
            "pg",
            conditions,
            measured,
            bound,
            {"reason": "the bad init did not escape within the run; run longer"},
        )
    if kb <= threshold or kg is None or kg > threshold:
        why = (
            f"the bad init escaped after {kb} ≤ {threshold} updates"
            if kb <= threshold
            else f"the good init did not escape within {threshold} updates"
        )
        return CheckResult(
            CLAIM, STATEMENT_PLATEAU, "pg", conditions, measured, bound, "fails", float(kb - threshold), {"reason": why}
        )
    return CheckResult(
        CLAIM,
        STATEMENT_PLATEAU,
        "pg",
        conditions,
        measured,
        bound,
        "holds",
        float(kb - threshold),
        {"ratio_bad_to_good": kb / max(kg, 1)},
    )


def plan(ctx: Context) -> list[tuple[str, dict[str, Any], str, int]]:
    """Runs (instance, params, θ₀ kind, iterations) for the mode; all at η = 2/5."""
    T_bad, T = pick(ctx, (10000, 3000), (200000, 200000))
    runs = [("mei_bandit", {"init": "bad"}, "instance", T_bad)]
    runs += [("mei_bandit", {"init": init}, "instance", T) for init in ("good", "uniform")]
    runs += pick(
        ctx,
        [("bandit", {"A": 5, "seed": 3, "min_gap": 0.05}, "uniform", 5000)],
        [("bandit", {"A": A, "seed": s, "min_gap": 0.05}, "uniform", 100000) for A in (2, 5, 10) for s in (0, 1, 2)],
    )
    # a study's instances (a non-bandit one is reported inconclusive: "not a bandit")
    return ctx.instances(runs, lambda t: (t.name, t.params, "uniform", T))


def check(ctx: Context) -> list[CheckResult]:
    """Lemma 4 and Theorem 9 on every run; the plateau on the bad/good pair."""
    runs = plan(ctx)
    results = ctx.sweep.run([run_task(n, "pg", STEP, T, params=p, theta0=th) for n, p, th, T in runs], label=CLAIM)
    out: list[CheckResult] = []
    by_init: dict[str, dict[str, Any]] = {}
    plateau_cond: dict[str, Any] = {}
    for (n, p, th, T), res in zip(runs, results, strict=True):
        run = Run.from_record(res)
        mdp, _, opt = instance(n, p)
        theta0 = initial_theta(n, p, th)
        delta = float(np.min(opt.gap))
        cond = {
            "instance": describe_instance({"instance": n, "params": p}),
            "theta0": th,
            "pi_1": [round(float(x), 4) for x in np.exp(theta0[0] - np.logaddexp.reduce(theta0[0]))],
            "eta": ETA,
            "iterations": T,
            "Delta": delta,
            **standing(mdp, opt),
        }
        meas = {"gap": run.gap, "min_pi_opt": run.min_pi_opt, "J_star": run.J_star, "eta": run.eta}
        out.append(assess_lemma4(meas, cond))
        out.append(assess_theorem9(meas, cond, delta=delta))
        if n == "mei_bandit":
            by_init[p["init"]] = meas
            plateau_cond = {
                "instance": "mei_bandit(init=bad) vs mei_bandit(init=good)",
                "pi_1": "bad (0.01, 0.05, 0.94) vs good (0.05, 0.01, 0.94)",
                **{k: v for k, v in cond.items() if k not in ("instance", "theta0", "pi_1", "iterations")},
            }
    if "bad" in by_init and "good" in by_init:
        plateau_cond["iterations"] = {"bad": len(by_init["bad"]["gap"]) - 1, "good": len(by_init["good"]["gap"]) - 1}
        out.append(assess_plateau(by_init["bad"], by_init["good"], plateau_cond))
    return out


if __name__ == "__main__":
    raise SystemExit(module_main(__name__))
