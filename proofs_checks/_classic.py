"""Shared machinery of the classic-theory checks (PDL, Mei et al. 2020, Agarwal et al. 2021).

* :func:`load` turns a task configuration that names a catalog instance into (mdp, θ₀, optimum).
* the checks step PG and NPG with :func:`r1theory.trajectory`, which yields the exact iterates
  θ_{t+1} = θ_t + η·direction(θ_t) of PG or NPG as evaluated :class:`r1theory.PolicyPoint` objects
  (the tests compare them with an independent implementation).
* :func:`standing` measures the standing assumptions the classic results rely on, and
  :func:`unmet` turns them into the reasons a check is inconclusive:

  - Assumption 1 of Mei et al. 2020 (and the convention of Agarwal et al. 2021): r(s, a) ∈ [0, 1];
  - Assumption 2 of Mei et al. 2020: ρ (= μ) has full support, min_s ρ(s) > 0;
  - a unique optimal action per state, Δ*(s) = Q*(s, a*(s)) − max_{a≠a*(s)} Q*(s, a) > 0 (Mei
    et al. 2020, Lemma 9 and Theorem 10; ties break Lemma 9, docs/claims.md#mei-et-al-2020);
  - a uniform initial policy θ₀ = 0 (Agarwal et al. 2021, Theorem 5.3).

Index convention. Mei et al. 2020 number iterates from θ_1 (the initial point, Algorithm 1 and
Update 1); Agarwal et al. 2021 from θ^{(0)}. Engine histories are indexed k = 0..T from the initial
point, so Mei's t is k + 1 and Agarwal's T is k.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from r1theory import TabularMDP, rates
from r1theory._types import Array
from r1theory.evaluation import Optimal

from .context import Context
from .result import CheckResult
from .runs import initial_theta, instance
from .sweep import Task, make_task

EPS = float(np.finfo(np.float64).eps)

#: Part of every task configuration of the classic workers: bump it when a worker's output changes,
#: so that the sweep cache (keyed by configuration) does not serve results of the old code.
WORKER_VERSION = 2

#: Required conditions, by name, with the text used in reasons.
CONDITION_TEXT: dict[str, str] = {
    "reward_unit": "r(s, a) ∈ [0, 1] (Mei et al. 2020, Assumption 1; Agarwal et al. 2021 convention)",
    "rho_full": "ρ has full support, min_s ρ(s) > 0 (Mei et al. 2020, Assumption 2)",
    "unique_optimal": "a unique optimal action per state, Δ*(s) > 0 (Mei et al. 2020, Lemma 9)",
    "uniform_init": "uniform initial policy θ₀ = 0 (Agarwal et al. 2021, Theorem 5.3)",
}


def value_scale(mdp: TabularMDP) -> float:
    """1 + max|r|/(1 − γ): a bound on |V|, |Q| used to scale rounding tolerances."""
    return 1.0 + float(np.max(np.abs(mdp.r))) / (1.0 - mdp.gamma)


def value_tolerance(mdp: TabularMDP) -> float:
    """τ_V = 1e3·ε·H·(1 + max|r|·H), H = 1/(1 − γ): rounding of a difference of two exact values at a point.

    |V| ≤ 1 + max|r|H (:func:`value_scale`) and the linear solve behind V has condition number ≤ 2H, so
    each value carries an error of a few ε·2H·(1 + max|r|H); the factor 1e3 absorbs the sums over S, A ≤ 6.
    The falsify measurements use it (any instance, no optimum needed); the checks' runs use
    :func:`gap_floor`, a floor relative to |J*| (both floors stay: they are the checks' and the searches'
    calibrated tolerances, and merging them would change verdicts and what a seed finds).
    """
    H = 1.0 / (1.0 - mdp.gamma)
    return 1e3 * EPS * H * (1.0 + float(np.max(np.abs(mdp.r))) * H)


def describe_instance(config: dict[str, Any]) -> str:
    """``name(k=v, ...)`` of a task configuration's instance."""
    params = config.get("params") or {}
    inner = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{config['instance']}({inner})"


def load(config: dict[str, Any]) -> tuple[TabularMDP, Array, Optimal]:
    """(mdp, θ₀, optimum) of a configuration with keys ``instance``, ``params`` and ``theta0``.

    ``theta0`` is "uniform" (zeros) or "instance" (the catalog's recommended start), as in
    :func:`proofs_checks.runs.initial_theta`.
    """
    params = config.get("params") or {}
    mdp, _, opt = instance(config["instance"], params)
    theta0 = initial_theta(config["instance"], params, config.get("theta0", "uniform"))
    return mdp, np.array(theta0, dtype=np.float64), opt


def standing(mdp: TabularMDP, opt: Optimal, theta0: Array | None = None) -> dict[str, Any]:
    """The standing assumptions measured on an instance (JSON-ready values).

    Always: S, A, γ, min Δ* and the flags ``reward_unit``, ``rho_full``, ``unique_optimal`` (and
    ``uniform_init`` when θ₀ is given); the measured r range, min ρ and the tie tolerance only when
    the corresponding flag is false (to keep reports short).
    """
    tie = 1e-10 * value_scale(mdp)
    r_min, r_max = float(np.min(mdp.r)), float(np.max(mdp.r))
    rho_min = float(np.min(mdp.rho))
    min_gap = float(np.min(opt.gap)) if mdp.A > 1 else float("inf")
    out: dict[str, Any] = {"S": mdp.S, "A": mdp.A, "gamma": mdp.gamma, "min_optimal_gap": min_gap}
    out["reward_unit"] = bool(r_min >= 0.0 and r_max <= 1.0)
    out["rho_full"] = bool(rho_min > 0.0)
    out["unique_optimal"] = bool(min_gap > tie)
    if not out["reward_unit"]:
        out["r_min"], out["r_max"] = r_min, r_max
    if not out["rho_full"]:
        out["rho_min"] = rho_min
    if not out["unique_optimal"]:
        out["tie_tolerance"] = tie
    if theta0 is not None:
        out["uniform_init"] = bool(np.all(np.ptp(theta0, axis=1) == 0.0))
    return out


def unmet(conditions: dict[str, Any], required: Sequence[str]) -> list[str]:
    """Reasons (texts) for the required conditions that are not met or not recorded."""
    reasons = []
    for name in required:
        value = conditions.get(name)
        if value is None:
            reasons.append(f"condition not recorded: {CONDITION_TEXT.get(name, name)}")
        elif not value:
            detail = ""
            if name == "reward_unit":
                detail = f" (r ∈ [{conditions.get('r_min')}, {conditions.get('r_max')}])"
            elif name == "rho_full":
                detail = f" (min ρ = {conditions.get('rho_min')})"
            elif name == "unique_optimal":
                detail = f" (min Δ* = {conditions.get('min_optimal_gap')})"
            reasons.append(f"not met: {CONDITION_TEXT.get(name, name)}{detail}")
    return reasons


def inconclusive(
    claim: str,
    statement: str,
    variant: str,
    conditions: dict[str, Any],
    measured: dict[str, Any],
    bound: dict[str, Any],
    evidence: dict[str, Any],
) -> CheckResult:
    """A result the measurement cannot decide (conditions unmet, too little data): no slack; ``evidence`` says why."""
    return CheckResult(claim, statement, variant, conditions, measured, bound, "inconclusive", None, evidence)


def condition_bound(gamma: float) -> float:
    """κ = (1 + γ)/(1 − γ) ≥ cond_∞(I − γP_π): how much an exact solve amplifies rounding."""
    return (1.0 + gamma) / (1.0 - gamma)


def gap_floor(J_star: float, gamma: float = 0.0) -> float:
    """Float floor of a gap V*(ρ) − V(ρ) or of a value difference.

    :func:`r1theory.rates.floor_for` (1e3·ε·(1 + |J*|)), raised for γ close to 1 to
    10·ε·κ·(1 + |J*|) with κ = (1 + γ)/(1 − γ), the resolution of values obtained by a linear solve
    of condition number up to κ (the two agree at γ ≈ 0.98).
    """
    return max(rates.floor_for(J_star), 10.0 * EPS * condition_bound(gamma) * (1.0 + abs(J_star)))


def usable_prefix(gap: Array, floor: float) -> int:
    """Number of leading iterates whose gap is above ``floor`` (ratio checks stop at the floor)."""
    below = np.flatnonzero(~(np.asarray(gap) > floor))
    return int(below[0]) if below.size else len(gap)


def seeds(root: int, n: int) -> list[int]:
    """``n`` integer seeds from ``SeedSequence(root).spawn`` (independent of worker count and order)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(root).spawn(n)]


def pick(ctx: Context, quick: Any, full: Any) -> Any:
    """``quick`` in quick mode, ``full`` otherwise."""
    return quick if ctx.quick else full


def random_grid(gammas: Sequence[float] = (0.5, 0.9, 0.99)) -> list[tuple[str, dict[str, Any]]]:
    """The full-mode grid of random MDPs shared by the classic checks.

    (S, A) ∈ {(3, 2), (5, 3), (10, 4)}, each γ of ``gammas``, seeds 0 and 1, in that order.
    """
    return [
        ("random", {"S": S, "A": A, "gamma": g, "seed": s})
        for (S, A) in ((3, 2), (5, 3), (10, 4))
        for g in gammas
        for s in (0, 1)
    ]


def task(fn: str, config: dict[str, Any]) -> Task:
    """A sweep task of a classic worker: ``config`` plus :data:`WORKER_VERSION`."""
    return make_task(fn, {**config, "worker_version": WORKER_VERSION})


def first_index(mask: np.ndarray[Any, Any]) -> int | None:
    """First index where ``mask`` is true, or None."""
    hit = np.flatnonzero(np.asarray(mask))
    return int(hit[0]) if hit.size else None
