"""C2 runs: the protocol (instances, arms, grids, budgets, seeds) and the sweep worker of a group of runs.

One sweep task is a **group**: every arm on one instance, each with a list of configurations (batch B,
step rule) × the same seeds, each run for the same episode budget (iterations = ⌈budget / episodes per
update⌉), all of them in lockstep through one :func:`_run_group` call (its cost is mostly per lockstep
iteration, so the more runs share a call the cheaper each is: the shorter runs of the larger B ride along
with the longest). The task returns, per configuration, the exact histories
(J* − J(θ_t) and ‖∇J(θ_t)‖² at every ``record_every``-th iterate, seeds × records), the episodes at each
record, and whether each seed ended trapped (:func:`proofs_checks.c2_analysis.trapped`); optionally the
exact-gradient counterpart of each configuration (same η, no sampling) for the regime diagnostic.

Seeds: run j of every configuration of every arm uses ``SeedSequence(root, spawn_key=(stream, j))``
(common random numbers: the arms and configurations are compared on the same seed streams; ``stream``
tells the grid, the fresh re-runs and the schedules apart). A task is a pure function of its JSON
configuration, so results do not depend on worker count or order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import r1theory as r1
from r1theory import stochastic
from r1theory._types import Array
from r1theory.steps import StepRule

from . import c2_analysis as an
from .runs import initial_theta, instance, instance_key
from .sweep import Batching, register_batching

GROUP_FN = "proofs_checks.c2_runs:group_task"

#: Seed streams (the first spawn-key entry).
STREAM_GRID, STREAM_FRESH, STREAM_SCHEDULE = 0, 1, 2

#: The exact-gradient method whose iteration a stochastic arm's expected update follows (for the regime
#: diagnostic): SGD-PG → PG; both V4 forms → V3 ``r1-precond`` = E[(λI + uuᵀ)⁻¹]∇J (the same-sample form's O(1/B)
#: bias term is left out); sample NPG → ``npg-damped``.
EXACT_COUNTERPART = {
    "sgd-pg": "pg",
    "r1-sample-independent": "r1-precond",
    "r1-sample-same": "r1-precond",
    "npg-sample": "npg-damped",
}


@dataclass(frozen=True)
class Instance:
    """One C2 instance: a label, the catalog name (or the file instance), its parameters and θ₀ by name."""

    label: str
    name: str
    params: dict[str, Any]
    theta0: str = "uniform"


@dataclass(frozen=True)
class Arm:
    """One stochastic method with its damping (λ = 1 for the damped arms: matched and nominal steps coincide)."""

    method: str
    damping: float | None

    @property
    def label(self) -> str:
        """The method name (one arm per method)."""
        return self.method


@dataclass(frozen=True)
class Setting:
    """The C2 protocol of one mode (the check's docstring states each choice)."""

    instances: tuple[Instance, ...]
    arms: tuple[Arm, ...]
    estimator: str
    baseline: str
    budget: int
    batches: tuple[int, ...]
    ratios: tuple[float, ...]
    seeds: int
    fresh_seeds: int
    records: int
    opt_levels: int
    stat_levels: int
    sched_eta: float
    sched_batch0: int
    sched_levels: int
    isqrt_eta0: float
    isqrt_batch: int
    isqrt_budget: int
    sched_budget: int
    sched_seeds: int
    fitted_variant: bool
    root: int
    n_boot: int
    mc_draws: int
    extra: dict[str, Any] = field(default_factory=dict)


DEFAULT_INSTANCES = (
    Instance("random-4x3", "random", {"S": 4, "A": 3, "gamma": 0.8, "seed": 0}),
    Instance("garnet-10", "garnet", {"S": 10, "A": 3, "branching": 2, "gamma": 0.8, "seed": 0}),
    Instance("chain-4", "agarwal_chain", {"H": 2, "p_right": 0.2, "rho": "start"}, "instance"),
)
DAMPING = 1.0
ARMS = (
    Arm("sgd-pg", None),
    Arm("r1-sample-independent", DAMPING),
    Arm("r1-sample-same", DAMPING),
    Arm("npg-sample", DAMPING),
)


def quarter_decades(lo: float, hi: float, per_decade: int = 4) -> tuple[float, ...]:
    """10^(k/per_decade) from lo to hi (both powers of 10^(1/per_decade))."""
    a, b = round(math.log10(lo) * per_decade), round(math.log10(hi) * per_decade)
    return tuple(float(10.0 ** (k / per_decade)) for k in range(a, b + 1))


def setting(quick: bool) -> Setting:
    """The quick or the full protocol."""
    if quick:
        return Setting(
            instances=DEFAULT_INSTANCES,
            arms=ARMS[:3],
            estimator="gpomdp",
            baseline="value",
            budget=4000,
            batches=(1, 4, 16, 64),
            ratios=quarter_decades(10**-2.5, 10**0.5, 2),
            seeds=6,
            fresh_seeds=6,
            records=300,
            opt_levels=8,
            stat_levels=8,
            sched_eta=0.3,
            sched_batch0=1,
            sched_levels=6,
            isqrt_eta0=1.0,
            isqrt_batch=4,
            isqrt_budget=4000,
            sched_budget=4000,
            sched_seeds=6,
            fitted_variant=False,
            root=20260126,
            n_boot=200,
            mc_draws=20_000,
        )
    return Setting(
        instances=DEFAULT_INSTANCES,
        arms=ARMS,
        estimator="gpomdp",
        baseline="value",
        budget=40_000,
        batches=(1, 4, 16, 64, 256),
        ratios=quarter_decades(10**-2.5, 10**0.5, 4),
        seeds=12,
        fresh_seeds=12,
        records=800,
        opt_levels=12,
        stat_levels=12,
        sched_eta=0.3,
        sched_batch0=1,
        sched_levels=12,
        isqrt_eta0=1.0,
        isqrt_batch=4,
        isqrt_budget=500_000,
        sched_budget=200_000,
        sched_seeds=12,
        fitted_variant=True,
        root=20260126,
        n_boot=1000,
        mc_draws=200_000,
    )


def seed_config(root: int, stream: int, j: int) -> dict[str, Any]:
    """The JSON form of ``SeedSequence(root, spawn_key=(stream, j))``."""
    return {"entropy": int(root), "spawn_key": [int(stream), int(j)]}


def seed_sequence(seed: dict[str, Any]) -> np.random.SeedSequence:
    """The SeedSequence of a :func:`seed_config`."""
    return np.random.SeedSequence(seed["entropy"], spawn_key=tuple(seed["spawn_key"]))


def episodes_per_update(method: str, batch: int, baseline: str | None = "value") -> int:
    """Episodes one update of ``method`` consumes at batch B (GPOMDP, geometric termination).

    B gradient episodes; +B for a fitted baseline (an independent batch); +1 for the independent Fisher pair
    of ``r1-sample-independent``; +B (``fisher_batch`` defaults to B) for sample NPG. The budget's iteration
    count uses it; N(ε) itself is read from the engine's own episode count.
    """
    extra = {"r1-sample-independent": 1, "npg-sample": batch}.get(method, 0)
    return batch + extra + (batch if baseline == "fitted" else 0)


# ---------------------------------------------------------------------------------------------
# step rules
# ---------------------------------------------------------------------------------------------
def step_rule(spec: dict[str, Any]) -> StepRule:
    """``{"kind": "constant" | "inverse-sqrt", "eta": η}`` → the rule (η_t = η, or η₀/√(t + 1))."""
    kind, eta = spec["kind"], float(spec["eta"])
    if kind == "constant":
        return r1.steps.constant(eta)
    if kind == "inverse-sqrt":
        return r1.steps.inverse_sqrt(eta)
    raise ValueError(f"C2 step kind must be 'constant' or 'inverse-sqrt'; got {kind!r}")


# ---------------------------------------------------------------------------------------------
# the worker
# ---------------------------------------------------------------------------------------------
def _run_group(
    mdp: r1.TabularMDP,
    theta0: Array,
    configs: list[tuple[str, StepRule, float | None, int]],
    iterations: list[int],
    seeds: list[np.random.SeedSequence],
    *,
    estimator: str,
    baseline: str | None,
    optimum: r1.Optimal,
    record_every: list[int],
) -> list[stochastic.StochasticRun]:
    """Run i = ``stochastic_iterate(mdp, θ₀, method_i, step_i, T_i, default_rng(seeds[i]), batch=B_i, damping=λ_i)``.

    All runs in lockstep through :func:`r1theory.stochastic_iterate_batch` (the same numbers as the single-run
    path, by its contract); a sparse MDP (a study's large file) runs them one by one.
    """
    if mdp.is_sparse:
        return [
            stochastic.stochastic_iterate(
                mdp, theta0, method, step, T, np.random.default_rng(seed), estimator=estimator, batch=B,
                baseline=baseline, damping=lam, optimum=optimum, record_every=every,
            )
            for (method, step, lam, B), T, seed, every in zip(configs, iterations, seeds, record_every, strict=True)
        ]  # fmt: skip
    return r1.stochastic_iterate_batch(
        mdp,
        theta0,
        configs,
        iterations,
        seeds,
        estimator=estimator,
        baseline=baseline,
        optimum=optimum,
        record_every=record_every,
    )


def group_config(
    inst: Instance,
    plan: list[tuple[Arm, list[dict[str, Any]]]],
    st: Setting,
    budget: int,
    seeds: list[dict[str, Any]],
    *,
    baseline: str | None = None,
    exact_levels: dict[str, list[float]] | None = None,
) -> dict[str, Any]:
    """The JSON configuration of one group task: per arm its configurations ``{"batch": B, "step": {...}}``."""
    return {
        "instance": inst.name,
        "params": inst.params,
        "theta0": inst.theta0,
        "arms": [{"method": a.method, "damping": a.damping, "configs": cfgs} for a, cfgs in plan],
        "estimator": st.estimator,
        "baseline": st.baseline if baseline is None else baseline,
        "budget": int(budget),
        "records": int(st.records),
        "seeds": seeds,
        "trap_gap_frac": an.TRAP_GAP_FRAC,
        "trap_det_tol": an.TRAP_DET_TOL,
        "exact_levels": exact_levels,
    }


def _pad(rows: list[Array], R: int) -> Array:
    out = np.full((len(rows), R), np.nan)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def group_task(config: dict[str, Any]) -> dict[str, Any]:
    """Worker: every arm × configuration × seed of a group on one instance; ``<method>:<i>.<field>`` arrays.

    Every run goes through one :func:`_run_group` call (all arms and batch sizes in lockstep; the iteration count
    ⌈budget/e⌉ is per arm, ``record_every`` = ⌈max T/records⌉ per B, the longest T of that B; a run's numbers do
    not depend on what shares its call, so the sweep may also run several group tasks of one instance as one
    chunk, :func:`group_chunk`). Fields per arm and configuration i:
    ``t`` and ``episodes`` (records,), ``gap`` and ``grad2`` (seeds, records; NaN after a divergence),
    ``gap_T`` (seeds,), ``theta_T`` (seeds, S, A), ``trapped``, ``near_det`` and ``diverged`` (seeds,) as 0/1;
    with ``exact_levels``, ``exact_T_optimality`` and ``exact_T_stationarity``: the first iteration at which
    the exact-gradient counterpart (:data:`EXACT_COUNTERPART`, same η) reaches each level, −1 within the cap
    ⌈budget/e⌉. Also ``gap0`` and ``trap_gap`` (the trap threshold).
    """
    out: list[dict[str, Any]] = []
    group_chunk([config], lambda i, res: out.append(res))
    return out[0]


def batch_key(config: dict[str, Any]) -> tuple[str, ...] | None:
    """What the group tasks of one :func:`group_chunk` share: instance, parameters, θ₀, estimator and baseline.

    None (the task runs alone) for a sparse MDP, whose runs do not go through the batched engine.
    """
    start = instance_key(config)
    return None if start is None else (*start, str(config["estimator"]), str(config["baseline"]))


@dataclass
class _Part:
    """One group configuration's share of a chunk: its runs' slots and everything its result needs."""

    config: dict[str, Any]
    items: list[tuple[str, Any, int, dict[str, Any]]]
    slots: list[tuple[str, int]]
    first: int  # index of its first run in the chunk's run list
    out: dict[str, Any]


def group_chunk(configs: list[dict[str, Any]], emit: Callable[[int, dict[str, Any]], None]) -> None:
    """Several group tasks of one :func:`batch_key` as one job (the sweep's batching).

    Every run of every task goes through one :func:`_run_group` call, so the shorter runs ride along with the
    longest; ``emit(i, result)`` per task, the result :func:`group_task` gives for it alone (a run's numbers do
    not depend on what shares its call).
    """
    first = configs[0]
    mdp, _, opt = instance(first["instance"], first["params"])
    theta0 = initial_theta(first["instance"], first["params"], first["theta0"])
    gap0 = float(opt.J - r1.policy_point(mdp, theta0).ev.J)
    base = first["baseline"]
    specs: list[tuple[str, StepRule, float | None, int]] = []
    iterations: list[int] = []
    every: list[int] = []
    seeds: list[np.random.SeedSequence] = []
    parts: list[_Part] = []
    for config in configs:
        n = len(config["seeds"])
        budget, R = int(config["budget"]), int(config["records"])
        tau = float(config["trap_gap_frac"]) * gap0
        # (method, λ, i, configuration) for every arm's configurations, grouped by B
        items = [(str(a["method"]), a["damping"], i, c) for a in config["arms"] for i, c in enumerate(a["configs"])]
        by_batch: dict[int, list[tuple[str, Any, int, dict[str, Any]]]] = {}
        for it in items:
            by_batch.setdefault(int(it[3]["batch"]), []).append(it)
        part = _Part(config, items, [], len(specs), {"gap0": gap0, "trap_gap": tau})
        for B, group in sorted(by_batch.items()):
            Ts = [max(1, math.ceil(budget / episodes_per_update(m, B, base))) for m, _, _, _ in group]
            e = max(1, math.ceil(max(Ts) / R))  # each B keeps its own record resolution ⌈max T/records⌉
            for (m, lam, i, c), T in zip(group, Ts, strict=True):
                specs += [(m, step_rule(c["step"]), lam, B)] * n
                iterations += [T] * n
                every += [e] * n
                seeds += [seed_sequence(config["seeds"][j]) for j in range(n)]  # distinct objects per run
                part.slots.append((m, i))
        parts.append(part)
    runs = _run_group(
        mdp,
        theta0,
        specs,
        iterations,
        seeds,
        estimator=str(first["estimator"]),
        baseline=base,
        optimum=opt,
        record_every=every,
    )
    for index, part in enumerate(parts):
        config, out = part.config, part.out
        n = len(config["seeds"])
        for k, (m, i) in enumerate(part.slots):
            mine = runs[part.first + k * n : part.first + (k + 1) * n]
            key = f"{m}:{i}"
            longest = max(mine, key=lambda r: len(r.t))
            Rr = len(longest.t)
            out[f"{key}.t"] = longest.t.astype(np.int64)
            out[f"{key}.episodes"] = longest.episodes.astype(np.int64)
            out[f"{key}.gap"] = _pad([r.gap for r in mine], Rr)
            out[f"{key}.grad2"] = _pad([r.grad_norm_sq for r in mine], Rr)
            out[f"{key}.gap_T"] = np.array([r.gap[-1] for r in mine])
            div = np.array([r.status == "diverged" for r in mine])
            near = np.array([not d and an.near_deterministic(mdp, r.theta, float(config["trap_det_tol"]))
                             for r, d in zip(mine, div, strict=True)])  # fmt: skip
            out[f"{key}.near_det"] = near.astype(np.int8)
            out[f"{key}.trapped"] = (near & (out[f"{key}.gap_T"] > out["trap_gap"])).astype(np.int8)
            out[f"{key}.diverged"] = div.astype(np.int8)
            out[f"{key}.theta_T"] = np.stack([r.theta for r in mine])
        levels = config.get("exact_levels")
        if levels:
            budget, items = int(config["budget"]), part.items
            caps = [math.ceil(budget / episodes_per_update(m, int(c["batch"]), base)) for m, _, _, c in items]
            runs_ex = r1.iterate_batch(
                mdp,
                theta0,
                [
                    (EXACT_COUNTERPART[m], step_rule(c["step"]), None if m == "sgd-pg" else lam)
                    for m, lam, _, c in items
                ],
                max(caps),
                optimum=opt,
            )
            lo = np.asarray(levels["optimality"], dtype=np.float64)
            ls = np.asarray(levels["stationarity"], dtype=np.float64)
            for (m, _, i, _), cap, run in zip(items, caps, runs_ex, strict=True):
                out[f"{m}:{i}.exact_T_optimality"] = an.first_hits(run.gap[: cap + 1], lo).astype(np.int64)
                out[f"{m}:{i}.exact_T_stationarity"] = an.first_hits(run.grad_norm[: cap + 1] ** 2, ls**2).astype(
                    np.int64
                )
        emit(index, out)


register_batching(GROUP_FN, Batching(key=batch_key, run="proofs_checks.c2_runs:group_chunk", size=8))
