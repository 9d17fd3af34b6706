"""C2: "under some conditions, [the rank-1 method] enjoys the same sample complexity as stochastic PG".

The paper (arXiv 2601.18626) states C2 in its abstract only. Sample complexity is the number of episodes
needed when the step and the batch are chosen *as functions of ε*; this check measures it on exact tabular
MDPs (J, ∇J and J* exact, so the only randomness is the sampling) where the sampling noise decides, and
says so where it does not. The protocol (:func:`proofs_checks.c2_runs.setting`; numbers for quick / full):

* **instances**: a random 4×3 MDP (γ = 0.8), a Garnet with 10 states (3 actions, branching 2, γ = 0.8) and
  the AKM chain with H = 2 from its plateau start (hard exploration: ‖∇J(θ₀)‖ ≈ 0.007), or the instances
  of a study (``--mdp``/``--instance``; θ₀ uniform, or the catalog's with ``--theta0 instance``);
* **arms**: ``sgd-pg`` (the reference), ``r1-sample-independent``, ``r1-sample-same`` and, in full mode,
  ``npg-sample``; λ = 1 for the damped arms (so matched and nominal steps coincide: the preconditioner's
  eigenvalues lie in [1/3, 1]); all with the same estimator: GPOMDP with geometric termination and the
  exact-value baseline (the fitted baseline as a variant of the η₀/√(t+1) schedule in full mode);
* **ε levels**: ε_l = ε₀·10^(−l/4), l ≥ 1, with ε₀ = J* − J(θ₀) (optimality, E[J* − J] ≤ ε) or ‖∇J(θ₀)‖
  (stationarity, E‖∇J‖² ≤ ε²); E is the mean over seeds at each iterate.

Measured (rules in :mod:`proofs_checks.c2_analysis`):

1. **Tuned per ε** (part ``tuned``): every arm runs a grid B ∈ {1, 4, 16, 64[, 256]} × η/B on half- (quick)
   or quarter-decades (full) from 10^−2.5 to 10^0.5, each run for the same episode budget (4·10³ /
   4·10⁴), 6 / 12 seeds. N*(ε) is the fewest episodes over the grid at which the seed mean reaches ε
   (reported also for the 75 % quantile of the per-seed hits), for 8 / 12 levels (2 / 3 decades). A
   choice on the η/B edge, at the largest B or at a smallest B > 1 is a grid-edge choice, not fitted; a
   level no configuration reaches is censored (reported as "> budget"). The chosen configuration of each ε
   is **re-run on fresh seeds**, and the fresh N is what is fitted (the grid minimum is biased low: the
   ratio fresh/grid is reported). The **regime diagnostic** compares it with the deterministic cost
   T_exact(ε)·e (the exact-gradient counterpart at the chosen η,
   :data:`proofs_checks.c2_runs.EXACT_COUNTERPART`, times the episodes per update): an ε is fitted only
   when the sampled cost is ≥ 2× that (noise-dominated). Stationarity is reported with the seed-mean gap at
   the hit and flagged **degenerate** when that gap exceeds the trap threshold and at least half of the
   chosen configuration's fresh seeds end trapped (stationary at a bad policy); a degenerate ε is not fitted.
2. **Schedules from the theory** (part ``schedule``), which need no selection: a constant step η = 0.3 with
   B_l = ⌈10^((l−1)/2)⌉ at level l (B ∝ ε⁻²), one run per level (a level with B_l·10 > budget is censored
   without a run: it cannot reach t ≥ 10), budget 4·10³ / 2·10⁵ episodes per run; and η_t = η₀/√(t+1),
   η₀ = 1, B = 4, one run read at every level, budget 4·10³ / 5·10⁵. A level not reached is censored.
3. **Trapping** (part ``trapping``): at the end of each grid run, *trapped* = gap > 0.1·(J* − J(θ₀)) at a
   near-deterministic policy (max_a π(a|s) > 1 − 10⁻³ in every state the greedy policy reaches from ρ). The
   trapped fraction per configuration is reported against η/B per arm; the arms are compared at matched
   (η, B) on the same seed streams, over the configurations where either arm traps a seed.

Verdicts, per instance, arm and criterion (tolerance 0.25 on exponents):

* ``tuned`` and ``schedule``: **holds** when the bootstrap CI of k_arm − k_sgd (fits on the common usable ε,
  seeds resampled jointly) lies within ±0.25 (an equivalence test); **fails** when it lies beyond ±0.25;
  **inconclusive** with the reason: *span* (fewer than 3 usable ε or less than half a decade — the counts of
  censored, grid-edge, deterministic-regime, pre-asymptotic (t < 10) and degenerate ε are given) or
  *resolution* (the CI straddles ±0.25). For ``tuned`` the CI is over the fresh seeds with the choice
  held fixed: **it omits the selection noise**. The constant ratio exp(mean log(N_arm/N_sgd)) comes with its
  CI, beside the worst-case factor ((λ + 2)/λ)² of the correct-version bound.
* ``trapping``: the mean over matched configurations (those where either arm traps a seed: the trapping
  regime; zeros elsewhere would dilute it) of the trapped-fraction difference (arm − SGD-PG), CI
  by bootstrap over seeds: holds when the CI lies within ±0.1, fails when it lies beyond ±0.1, inconclusive
  when it straddles ±0.1 — and inconclusive (regime) when no seed of either arm ends trapped anywhere on the
  grid.
* ``rate-vs-theory``: the stationarity exponent of the constant-step schedule against the O(ε⁻⁴) of stochastic
  PG theory (Papini et al. 2018; Yuan et al. 2022).
* ``bias`` and ``baseline-sensitivity`` (exact, :mod:`proofs_checks.c2_bias`) at θ₀ and at the last θ of the
  first SGD-PG seed of the η₀/√(t+1) schedule: the exact expected V4 update, same against independent Fisher
  sample, E[(λI + uuᵀ)⁻¹ĝ_B] = (1/B)W_b + (1 − 1/B)E[(λI + uuᵀ)⁻¹]∇J for the same form; fails for ``same``
  when the relative bias exceeds 10⁻⁸ and the Monte Carlo confirms it. Baseline sensitivity: exactly
  ∂E/∂b(s) = −d(s)/(B(1 − γ)) Σ_a π(a|s) u_{s,a}/(λ + n(s,a)) for the same form, 0 for SGD-PG and the
  independent form (docs/claims.md#v4-r1-sample).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import r1theory as r1
from r1theory._types import Array, IntArray
from r1theory.sampler import BoolArray

from . import c2_analysis as an
from . import c2_bias as cb
from . import c2_runs as cr
from .context import Context
from .report import table_row
from .result import CheckResult
from .runs import initial_theta, instance
from .studies import Target
from .sweep import Task, make_task

CLAIM = "c2.sample-complexity"

STATEMENT = (
    "C2 (arXiv 2601.18626, abstract): under some conditions the rank-1 inverse-Fisher method enjoys the same "
    "sample complexity as stochastic policy gradient; tested as: with the step and batch chosen per ε (tuned "
    "over a grid, or by the theory's schedules), the episodes N(ε) to reach ε-optimality (E[J* − J] ≤ ε) or "
    "ε-stationarity (E‖∇J‖² ≤ ε²) grow as the same power of 1/ε as SGD-PG's where the sampling noise decides"
)
STATEMENT_TRAP = (
    "C2's 'same sample complexity' includes the failure mode of stochastic softmax PG: tested as: at matched "
    "(η, B) the fraction of seeds trapped at a near-deterministic suboptimal policy is the same as SGD-PG's"
)
STATEMENT_RATE = (
    "Stochastic PG theory (Papini et al. 2018; Yuan et al. 2022): E‖∇J‖² ≤ ε² within O(ε^-4) trajectories; "
    "tested as: the exponent of N_stat(ε) under a constant step with B ∝ ε^-2 is at most 4"
)
STATEMENT_BIAS = (
    "The correct-version bound (docs/claims.md#the-correct-version-bound) assumes "
    "E[(λI + uuᵀ)⁻¹ĝ] = E[(λI + uuᵀ)⁻¹]∇J (Fisher sample "
    "independent of the gradient sample); tested: the expected V4 update equals that of the independent form"
)
STATEMENT_BASELINE = (
    "A state baseline b(s) does not change the expected update (true for PG and NPG: Σ_a π(a|s)∇log π(a|s) = 0); "
    "tested for the V4 forms"
)

CRITERIA = ("optimality", "stationarity")
#: The theory's schedules: constant step with B ∝ ε⁻² (one run per level), η₀/√(t+1) with fixed B.
SCHEDULES = ("constant-step-growing-batch", "inverse-sqrt-step")
SCHEDULE_FITTED = "inverse-sqrt-step-fitted-baseline"
SCHEDULE_TEXT = {
    "constant-step-growing-batch": "constant η, B ∝ ε⁻²",
    "inverse-sqrt-step": "η₀/√(t+1), fixed B",
    SCHEDULE_FITTED: "η₀/√(t+1), fixed B, fitted baseline",
}
#: Sup of ‖∇log π(a|s)‖² for tabular softmax (score.py: n(s, a) < 2).
G2 = 2.0
#: Tolerances re-exported for the report and the tests.
TOL = an.TOL


def setting(quick: bool) -> cr.Setting:
    """The protocol of a mode (:func:`proofs_checks.c2_runs.setting`); tests replace this function."""
    return cr.setting(quick)


# ---------------------------------------------------------------------------------------------
# results of the sweep, per instance
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tuned:
    """Tuned-per-ε N*(ε) of one arm and criterion, its fresh re-run, the regime diagnostic and the fit."""

    eps: Array
    etas: Array
    batches: Array
    ratios: Array
    N_grid: Array
    choice: an.Choice
    choice_q: an.Choice
    fresh: an.Series
    fresh_N: Array
    fresh_T: Array
    fresh_Nq: Array
    det_cost: Array
    noise: BoolArray
    gap_at_hit: Array
    degenerate: BoolArray
    usable: BoolArray
    fit: an.Fit
    budget: int

    def counts(self) -> dict[str, int]:
        """How many levels each rule removed (a level can fail several)."""
        chosen = ~self.choice.censored
        return {
            "levels": int(self.eps.size),
            "censored_grid": int(self.choice.censored.sum()),
            "grid_edge": int(self.choice.edge.sum()),
            "censored_fresh": int((chosen & ~np.isfinite(self.fresh_N)).sum()),
            "deterministic_regime": int((chosen & np.isfinite(self.fresh_N) & ~self.noise).sum()),
            "pre_asymptotic": int((chosen & (self.fresh_T >= 0) & (self.fresh_T < an.T_MIN)).sum()),
            "degenerate": int(self.degenerate.sum()),
            "usable": int(self.usable.sum()),
        }

    def onset(self) -> float | None:
        """The ε from which on the reached levels are noise-dominated (:func:`c2_analysis.noise_onset`)."""
        reached = np.isfinite(self.fresh_N)
        return an.noise_onset(self.eps[reached], self.noise[reached])


@dataclass(frozen=True)
class Schedule:
    """One arm under one theory schedule and criterion: N per level from the seed mean, usable levels, fit."""

    eps: Array
    batches: Array
    series: an.Series
    N: Array
    T: Array
    usable: BoolArray
    fit: an.Fit
    budget: int

    def censored_from(self) -> float | None:
        """The largest ε not reached within the budget (None when every level is reached)."""
        miss = ~np.isfinite(self.N)
        return float(self.eps[miss].max()) if miss.any() else None


@dataclass(frozen=True)
class Trapping:
    """Trapped seeds at the end of every grid run of one arm: (configs, seeds) booleans with their (η, B)."""

    etas: Array
    batches: Array
    ratios: Array
    trapped: BoolArray
    near_det: BoolArray
    diverged: BoolArray

    def fraction(self) -> Array:
        """Trapped fraction per configuration."""
        return np.asarray(self.trapped, dtype=np.float64).mean(axis=1)

    def by_ratio(self) -> tuple[Array, Array]:
        """(η/B values, trapped fraction pooled over B at each)."""
        rs = np.unique(self.ratios)
        f = self.fraction()
        return rs, np.array([f[np.isclose(self.ratios, r)].mean() for r in rs])


@dataclass(frozen=True)
class InstanceRuns:
    """Everything C2 measured on one instance."""

    inst: cr.Instance
    S: int
    A: int
    gamma: float
    eps0: dict[str, float]
    trap_gap: float
    tuned: dict[tuple[str, str], Tuned]
    schedules: dict[tuple[str, str, str], Schedule]
    trapping: dict[str, Trapping]
    comparisons: dict[tuple[str, str, str, str], an.Comparison]
    trap_diff: dict[str, tuple[float, tuple[float, float]]]
    bias: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class C2Sweep:
    """The C2 measurement of a context: its setting and one :class:`InstanceRuns` per instance."""

    setting: cr.Setting
    instances: list[InstanceRuns] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# planning
# ---------------------------------------------------------------------------------------------
def _instance_of(theta0: str) -> Any:
    def build(t: Target) -> cr.Instance:
        start = "instance" if theta0 == "instance" and t.has_theta0 else "uniform"
        return cr.Instance(t.label, t.name, dict(t.params), start)

    return build


def levels(eps0: float, n: int) -> Array:
    """ε_l = ε₀·10^(−l/4), l = 1..n."""
    return eps0 * 10.0 ** (-np.arange(1, n + 1) / 4.0)


def thresholds(eps: Array, criterion: str) -> Array:
    """ε for optimality (E[J* − J] ≤ ε), ε² for stationarity (E‖∇J‖² ≤ ε²)."""
    return eps if criterion == "optimality" else eps**2


def grid_configs(st: cr.Setting) -> list[dict[str, Any]]:
    """The (B, η = r·B) grid in the order B, then η/B (the tie-break order of the tuned choice)."""
    return [{"batch": B, "step": {"kind": "constant", "eta": r * B}} for B in st.batches for r in st.ratios]


def schedule_batches(st: cr.Setting) -> list[int]:
    """B_l = ⌈B₀·10^((l−1)/2)⌉: B ∝ ε_l⁻² along the quarter-decade levels."""
    return [math.ceil(st.sched_batch0 * 10.0 ** ((k - 1) / 2.0) - 1e-9) for k in range(1, st.sched_levels + 1)]


def schedule_runnable(st: cr.Setting) -> int:
    """How many constant-step levels can reach t ≥ T_MIN within the budget (B_l·T_MIN ≤ budget).

    The rest are censored by the budget without being run.
    """
    return sum(B * an.T_MIN <= st.sched_budget for B in schedule_batches(st))


def schedule_configs(st: cr.Setting) -> list[dict[str, Any]]:
    """The runnable constant-step levels (:func:`schedule_runnable`)."""
    Bs = schedule_batches(st)[: schedule_runnable(st)]
    return [{"batch": B, "step": {"kind": "constant", "eta": st.sched_eta}} for B in Bs]


def isqrt_config(st: cr.Setting) -> dict[str, Any]:
    """The η₀/√(t+1) run with fixed B (run for its own budget, ``isqrt_budget``)."""
    return {"batch": st.isqrt_batch, "step": {"kind": "inverse-sqrt", "eta": st.isqrt_eta0}}


def _seeds(st: cr.Setting, stream: int, n: int) -> list[dict[str, Any]]:
    return [cr.seed_config(st.root, stream, j) for j in range(n)]


# ---------------------------------------------------------------------------------------------
# the sweep
# ---------------------------------------------------------------------------------------------
def runs(ctx: Context) -> C2Sweep:
    """Run (or load from the cache) the C2 sweep of ``ctx`` and analyse it; memoised per sweep runner.

    Shared by :func:`check` and the C2 figures, so both show the same runs, choices and fits.
    """
    return ctx.sweep.memoised((CLAIM, ctx.mode, ctx.study.key()), lambda: _runs(ctx))


def _arm_view(res: dict[str, Any], method: str) -> dict[str, Any]:
    """One arm's part of a group task's result (keys ``<method>:<i>.<field>`` → ``<i>.<field>``), with its scalars."""
    head = f"{method}:"
    view = {k[len(head) :]: v for k, v in res.items() if k.startswith(head)}
    view.update({k: v for k, v in res.items() if ":" not in k})
    return view


def _arrays(res: dict[str, Any], i: int, key: str) -> Array:
    return np.asarray(res[f"{i}.{key}"])


def _series(res: dict[str, Any], idx: Sequence[int], eps: Array, crit: str, group: IntArray) -> an.Series:
    key = "gap" if crit == "optimality" else "grad2"
    return an.Series(
        eps,
        thresholds(eps, crit),
        np.asarray(group, dtype=np.int64),
        [_arrays(res, i, key) for i in idx],
        [_arrays(res, i, "episodes").astype(np.float64) for i in idx],
        [_arrays(res, i, "t").astype(np.float64) for i in idx],
    )


def _runs(ctx: Context) -> C2Sweep:
    st = setting(ctx.quick)
    insts = ctx.instances(list(st.instances), _instance_of(str(ctx.grid("theta0", "uniform"))))
    grid = grid_configs(st)
    sched = schedule_configs(st)
    # stage 1: the grid, the schedules (and the fitted-baseline variant), the bias at θ₀
    plan: list[tuple[str, int, Task]] = []
    info: list[dict[str, Any]] = []
    for ii, inst in enumerate(insts):
        mdp, _, opt = instance(inst.name, inst.params)
        th0 = initial_theta(inst.name, inst.params, inst.theta0)
        p0 = r1.policy_point(mdp, th0)
        eps0 = {"optimality": float(opt.J - p0.ev.J), "stationarity": float(np.linalg.norm(p0.gradient))}
        info.append({"mdp": mdp, "theta0": th0, "eps0": eps0})
        plan.append(("grid", ii, make_task(cr.GROUP_FN, cr.group_config(
            inst, [(a, grid) for a in st.arms], st, st.budget, _seeds(st, cr.STREAM_GRID, st.seeds)))))  # fmt: skip
        plan.append(("schedule", ii, make_task(cr.GROUP_FN, cr.group_config(
            inst, [(a, sched) for a in st.arms], st, st.sched_budget,
            _seeds(st, cr.STREAM_SCHEDULE, st.sched_seeds)))))  # fmt: skip
        plan.append(("isqrt", ii, make_task(cr.GROUP_FN, cr.group_config(
            inst, [(a, [isqrt_config(st)]) for a in st.arms], st, st.isqrt_budget,
            _seeds(st, cr.STREAM_SCHEDULE, st.sched_seeds)))))  # fmt: skip
        if st.fitted_variant:
            plan.append(("fitted", ii, make_task(cr.GROUP_FN, cr.group_config(
                inst, [(a, [isqrt_config(st)]) for a in st.arms], st, st.sched_budget,
                _seeds(st, cr.STREAM_SCHEDULE, st.sched_seeds), baseline="fitted"))))  # fmt: skip
    out1 = ctx.sweep.run([p[2] for p in plan], label=CLAIM)
    res1 = {
        (k, ii, a.method): _arm_view(r, a.method) for (k, ii, _), r in zip(plan, out1, strict=True) for a in st.arms
    }

    # stage 2: fresh re-runs of the chosen configurations (with their exact counterparts), the bias at θ_T
    ratios = np.array([c["step"]["eta"] / c["batch"] for c in grid])
    batches = np.array([c["batch"] for c in grid], dtype=np.float64)
    etas = ratios * batches
    edge = an.grid_edges(ratios, batches, st.ratios, st.batches)
    choices: dict[tuple[int, str, str], tuple[an.Choice, an.Choice, Array]] = {}
    plan2: list[tuple[str, int, str, Task]] = []
    fresh_index: dict[tuple[int, str], list[int]] = {}
    for ii, inst in enumerate(insts):
        eps0 = info[ii]["eps0"]
        lv = {"optimality": levels(eps0["optimality"], st.opt_levels),
              "stationarity": levels(eps0["stationarity"], st.stat_levels)}  # fmt: skip
        for arm in st.arms:
            res = res1[("grid", ii, arm.method)]
            chosen: set[int] = set()
            for crit in CRITERIA:
                key = "gap" if crit == "optimality" else "grad2"
                th = thresholds(lv[crit], crit)
                Nm = np.array([an.mean_N(_arrays(res, i, key), _arrays(res, i, "episodes"), th)
                               for i in range(len(grid))])  # fmt: skip
                Nq = np.array([an.quantile_N(_arrays(res, i, key), _arrays(res, i, "episodes"), th)
                               for i in range(len(grid))])  # fmt: skip
                ch = an.choose(Nm, edge)
                choices[(ii, arm.method, crit)] = (ch, an.choose(Nq, edge), Nm)
                chosen |= {int(i) for i in ch.index if i >= 0}
            idx = sorted(chosen) or [0]
            fresh_index[(ii, arm.method)] = idx
        chosen_plan = [(a, [grid[i] for i in fresh_index[(ii, a.method)]]) for a in st.arms]
        plan2.append(("fresh", ii, "", make_task(cr.GROUP_FN, cr.group_config(
            inst, chosen_plan, st, st.budget, _seeds(st, cr.STREAM_FRESH, st.fresh_seeds),
            exact_levels={c: lv[c].tolist() for c in CRITERIA}))))  # fmt: skip
        theta_T = np.asarray(res1[("isqrt", ii, st.arms[0].method)]["0.theta_T"])[0]
        mdp = info[ii]["mdp"]
        for label, th, j in ((cb.BIAS_POINTS[0], info[ii]["theta0"], 0), (cb.BIAS_POINTS[1], theta_T, 1)):
            plan2.append(("bias", ii, label, make_task(cb.BIAS_FN, cb.bias_config(
                inst.name, inst.params, th, label, cb.LAMBDA_BIAS, cr.seed_config(st.root + 1, 0, j),
                batch=st.isqrt_batch, draws=st.mc_draws, estimator=st.estimator, baseline=st.baseline))))  # fmt: skip
    out2 = ctx.sweep.run([p[3] for p in plan2], label=f"{CLAIM} fresh")
    res2 = {(k, ii, m): r for (k, ii, m, _), r in zip(plan2, out2, strict=True)}
    for ii in range(len(insts)):
        for a in st.arms:
            res2[("fresh", ii, a.method)] = _arm_view(res2[("fresh", ii, "")], a.method)

    # analysis
    sweep = C2Sweep(st)
    for ii, inst in enumerate(insts):
        mdp = info[ii]["mdp"]
        eps0 = info[ii]["eps0"]
        lv = {"optimality": levels(eps0["optimality"], st.opt_levels),
              "stationarity": levels(eps0["stationarity"], st.stat_levels)}  # fmt: skip
        boot = np.random.default_rng(np.random.SeedSequence(st.root, spawn_key=(9, ii)))
        trap_gap = float(res1[("grid", ii, st.arms[0].method)]["trap_gap"])
        tuned: dict[tuple[str, str], Tuned] = {}
        scheds: dict[tuple[str, str, str], Schedule] = {}
        traps: dict[str, Trapping] = {}
        for arm in st.arms:
            m = arm.method
            fres = res2[("fresh", ii, m)]
            idx = fresh_index[(ii, m)]
            pos = {g: k for k, g in enumerate(idx)}
            for crit in CRITERIA:
                ch, chq, Nm = choices[(ii, m, crit)]
                eps = lv[crit]
                group = np.array([pos.get(int(i), 0) for i in ch.index])
                series = _series(fres, range(len(idx)), eps, crit, group)
                fN, fT = series.N()
                key = "gap" if crit == "optimality" else "grad2"
                fNq = np.array([an.quantile_N(_arrays(fres, int(g), key), _arrays(fres, int(g), "episodes"),
                                              thresholds(eps[k : k + 1], crit))[0]
                                for k, g in enumerate(group)])  # fmt: skip
                det = np.full(eps.size, np.inf)
                gap_hit = np.full(eps.size, np.nan)
                for k, g in enumerate(group):
                    if ch.index[k] < 0:
                        continue
                    Tex = int(_arrays(fres, int(g), f"exact_T_{crit}")[k])
                    B = int(batches[ch.index[k]])
                    if Tex >= 0:
                        det[k] = Tex * cr.episodes_per_update(m, B, st.baseline)
                    if crit == "stationarity" and np.isfinite(fN[k]):
                        h = an.first_hits(series.values[g].mean(axis=0), series.levels[k : k + 1])[0]
                        gap_hit[k] = float(np.nanmean(_arrays(fres, int(g), "gap")[:, h]))
                noise = an.noise_dominated(fN, det)
                trapped_end = np.array([_arrays(fres, int(g), "trapped").mean() for g in group])
                degenerate = an.degenerate(gap_hit, trapped_end, trap_gap)
                usable = (~ch.censored) & (~ch.edge) & np.isfinite(fN) & (fT >= an.T_MIN) & noise & ~degenerate
                fit = an.fit_series(series, usable, boot, st.n_boot)
                tuned[(m, crit)] = Tuned(eps, etas, batches, ratios, Nm, ch, chq, series, fN, fT, fNq, det, noise,
                                         gap_hit, degenerate, usable, fit, st.budget)  # fmt: skip
            sres = res1[("schedule", ii, m)]
            K, Kr = st.sched_levels, schedule_runnable(st)
            for crit in CRITERIA:
                eps_c = lv[crit][:K]
                s_const = _series(sres, range(Kr), eps_c[:Kr], crit, np.arange(Kr))
                eps_i = lv[crit]
                s_isqrt = _series(res1[("isqrt", ii, m)], [0], eps_i, crit, np.zeros(eps_i.size, dtype=np.int64))
                pairs = [("constant-step-growing-batch", s_const, np.array(schedule_batches(st), dtype=float)),
                         ("inverse-sqrt-step", s_isqrt, np.full(eps_i.size, float(st.isqrt_batch)))]  # fmt: skip
                if st.fitted_variant:
                    s_fit = _series(res1[("fitted", ii, m)], [0], eps_i, crit, np.zeros(eps_i.size, dtype=np.int64))
                    pairs.append((SCHEDULE_FITTED, s_fit, np.full(eps_i.size, float(st.isqrt_batch))))
                for name, s, bs in pairs:
                    N, T = s.N()
                    usable = np.isfinite(N) & (T >= an.T_MIN)
                    fit = an.fit_series(s, usable, boot, st.n_boot)
                    pad = bs.size - N.size  # levels censored by the budget without a run (B_l·T_MIN > budget)
                    N, T = np.concatenate([N, np.full(pad, np.inf)]), np.concatenate([T, np.full(pad, -1.0)])
                    usable = np.concatenate([usable, np.zeros(pad, dtype=bool)])
                    eps_all = eps_c if name == "constant-step-growing-batch" else eps_i
                    scheds[(m, name, crit)] = Schedule(eps_all, bs, s, N, T, usable, fit, st.sched_budget)
            traps[m] = Trapping(
                etas,
                batches,
                ratios,
                np.array([_arrays(res1[("grid", ii, m)], i, "trapped") for i in range(len(grid))], dtype=bool),
                np.array([_arrays(res1[("grid", ii, m)], i, "near_det") for i in range(len(grid))], dtype=bool),
                np.array([_arrays(res1[("grid", ii, m)], i, "diverged") for i in range(len(grid))], dtype=bool),
            )
        comps: dict[tuple[str, str, str, str], an.Comparison] = {}
        tdiff: dict[str, tuple[float, tuple[float, float]]] = {}
        ref = st.arms[0].method
        for arm in st.arms[1:]:
            m = arm.method
            for crit in CRITERIA:
                ta, tr = tuned[(m, crit)], tuned[(ref, crit)]
                comps[(m, "tuned", "tuned", crit)] = an.compare(tr.fresh, ta.fresh, ta.usable & tr.usable, boot,
                                                                st.n_boot)  # fmt: skip
                for name in (*SCHEDULES, *((SCHEDULE_FITTED,) if st.fitted_variant else ())):
                    sa, sr = scheds[(m, name, crit)], scheds[(ref, name, crit)]
                    n_run = sa.series.eps.size
                    comps[(m, "schedule", name, crit)] = an.compare(sr.series, sa.series,
                                                                    (sa.usable & sr.usable)[:n_run],
                                                                    boot, st.n_boot)  # fmt: skip
            live = an.trapping_regime(traps[m].trapped, traps[ref].trapped)
            if live.any():
                tdiff[m] = an.trap_difference(traps[m].trapped[live], traps[ref].trapped[live], boot, st.n_boot)
        bias = {label: res2[("bias", ii, label)] for label in cb.BIAS_POINTS}
        sweep.instances.append(InstanceRuns(inst, mdp.S, mdp.A, float(mdp.gamma), eps0, trap_gap, tuned, scheds,
                                            traps, comps, tdiff, bias))  # fmt: skip
    return sweep


# ---------------------------------------------------------------------------------------------
# the check
# ---------------------------------------------------------------------------------------------
def _ci(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [float(ci[0]), float(ci[1])]


def _exp_ci(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [math.exp(ci[0]), math.exp(ci[1])]


def _tuned_measured(t: Tuned) -> dict[str, Any]:
    return {
        "eps": t.eps.tolist(),
        "N_star_grid_mean": t.choice.N.tolist(),
        "N_star_grid_q75": t.choice_q.N.tolist(),
        "chosen_eta": [None if i < 0 else float(t.etas[i]) for i in t.choice.index],
        "chosen_batch": [None if i < 0 else int(t.batches[i]) for i in t.choice.index],
        "grid_edge": t.choice.edge.tolist(),
        "censored_grid": t.choice.censored.tolist(),
        "N_fresh_mean": t.fresh_N.tolist(),
        "N_fresh_q75": t.fresh_Nq.tolist(),
        "deterministic_cost": t.det_cost.tolist(),
        "noise_dominated": t.noise.tolist(),
        "gap_at_hit": t.gap_at_hit.tolist(),
        "degenerate": t.degenerate.tolist(),
        "usable": t.usable.tolist(),
        "counts": t.counts(),
        "noise_onset_eps": t.onset(),
        "selection_ratio_fresh_over_grid": [
            float(f / g) if np.isfinite(f) and np.isfinite(g) and g > 0 else None
            for f, g in zip(t.fresh_N, t.choice.N, strict=True)
        ],
        "fit": t.fit.as_dict(),
        "budget_episodes": t.budget,
    }


def _schedule_measured(s: Schedule) -> dict[str, Any]:
    return {
        "eps": s.eps.tolist(),
        "batch": s.batches.tolist(),
        "N_mean": s.N.tolist(),
        "usable": s.usable.tolist(),
        "censored_from_eps": s.censored_from(),
        "fit": s.fit.as_dict(),
        "budget_episodes": s.budget,
    }


def _why_few(counts: dict[str, int]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if v and k not in ("levels", "usable"))


def _comparison_result(ir: InstanceRuns, arm: cr.Arm, part: str, name: str, crit: str, cond: dict[str, Any],
                       measured_arm: dict[str, Any], measured_ref: dict[str, Any], why_few: str,
                       degenerate: bool) -> CheckResult:  # fmt: skip
    cmp_ = ir.comparisons[(arm.method, part, name, crit)]
    v, why = an.assess_difference(cmp_.ci, len(cmp_.eps), cmp_.decades, why_few=why_few)
    if degenerate and v != "inconclusive":
        v, why = "inconclusive", f"degenerate: stationarity is reached at a bad policy at some ε; {why}"
    elif degenerate:
        why = f"{why}; degenerate: stationarity reached at a bad policy (gap at the hit > trap threshold)"
    lam = arm.damping
    return CheckResult(
        claim=CLAIM,
        statement=STATEMENT,
        variant=arm.method,
        conditions={**cond, "part": part, "protocol": name, "criterion": crit, "damping": lam},
        measured={
            "exponent_difference": cmp_.delta,
            "exponent_difference_ci": _ci(cmp_.ci),
            "constant_ratio": None if cmp_.log_ratio is None else math.exp(cmp_.log_ratio),
            "constant_ratio_ci": _exp_ci(cmp_.log_ratio_ci),
            "eps_common": cmp_.eps,
            "decades_common": cmp_.decades,
            "N_sgd": cmp_.N_ref,
            "N_method": cmp_.N_arm,
            "method": measured_arm,
            "sgd": measured_ref,
        },
        bound={
            "exponent_difference": 0.0,
            "tolerance": an.TOL,
            "worst_case_constant_factor": None if lam is None else ((lam + G2) / lam) ** 2,
        },
        verdict=v,
        slack=None if cmp_.ci is None else an.TOL - max(abs(cmp_.ci[0]), abs(cmp_.ci[1])),
        evidence={
            "reason": why,
            "valid_bootstrap": cmp_.valid_boot,
            "ci_note": (
                "bootstrap over the fresh seeds with the tuned choice held fixed: omits the selection noise"
                if part == "tuned"
                else "bootstrap over the schedule's seeds"
            ),
        },
    )


def check(ctx: Context) -> list[CheckResult]:
    """Run the C2 sweep and return, per instance, the tuned, schedule, trapping, rate, bias and baseline results."""
    sw = runs(ctx)
    st = sw.setting
    results: list[CheckResult] = []
    ref = st.arms[0]
    for ir in sw.instances:
        inst = ir.inst
        cond = {
            "instance": inst.label,
            "catalog": inst.name,
            "params": inst.params,
            "theta0": inst.theta0,
            "estimator": f"{st.estimator} (geometric termination)",
            "baseline": st.baseline,
            "samples": "episodes",
            "eps0": ir.eps0,
            "eps_levels": "eps0·10^(-l/4), l ≥ 1",
            "grid_batches": list(st.batches),
            "grid_eta_over_B": list(st.ratios),
            "budget_episodes": st.budget,
            "seeds": st.seeds,
            "fresh_seeds": st.fresh_seeds,
            "seed_root": st.root,
            "t_min": an.T_MIN,
            "noise_factor": an.NOISE_FACTOR,
            "quantile": an.QUANTILE,
            "confidence": an.CONFIDENCE,
            "bootstrap": st.n_boot,
            "trap_gap_threshold": ir.trap_gap,
            "trap_rule": f"gap > {an.TRAP_GAP_FRAC:g}·(J*−J(θ₀)) and max_a π(a|s) > 1 − {an.TRAP_DET_TOL:g} "
            "on every state the greedy policy reaches from ρ",
        }
        for arm in st.arms[1:]:
            for crit in CRITERIA:
                ta, tr = ir.tuned[(arm.method, crit)], ir.tuned[(ref.method, crit)]
                why = _why_few({k: ta.counts()[k] + tr.counts()[k] for k in ta.counts()})
                degenerate = bool(ta.degenerate.any() or tr.degenerate.any())
                results.append(_comparison_result(ir, arm, "tuned", "tuned", crit, cond, _tuned_measured(ta),
                                                  _tuned_measured(tr), why, degenerate))  # fmt: skip
                for name in (*SCHEDULES, *((SCHEDULE_FITTED,) if st.fitted_variant else ())):
                    sa, sr = ir.schedules[(arm.method, name, crit)], ir.schedules[(ref.method, name, crit)]
                    miss = int((~np.isfinite(sa.N)).sum() + (~np.isfinite(sr.N)).sum())
                    results.append(_comparison_result(
                        ir, arm, "schedule", name, crit,
                        {**cond, "schedule": SCHEDULE_TEXT[name], "schedule_budget_episodes": st.sched_budget},
                        _schedule_measured(sa), _schedule_measured(sr),
                        f"censored {miss}" if miss else "", False))  # fmt: skip
            ta_, tr_ = ir.trapping[arm.method], ir.trapping[ref.method]
            live = an.trapping_regime(ta_.trapped, tr_.trapped)
            if arm.method in ir.trap_diff:
                est, ci = ir.trap_diff[arm.method]
                v, why = an.assess_difference(ci, int(live.sum()), tol=an.TRAP_TOL)
            else:
                est, ci = None, None
                v, why = "inconclusive", "regime: no seed of either arm ends trapped anywhere on the grid"
            rs, fa = ta_.by_ratio()
            _, fr = tr_.by_ratio()
            results.append(
                CheckResult(
                    claim=CLAIM,
                    statement=STATEMENT_TRAP,
                    variant=arm.method,
                    conditions={
                        **cond,
                        "part": "trapping",
                        "damping": arm.damping,
                        "matched": "same (η, B), same seeds",
                    },
                    measured={
                        "trapped_difference": est,
                        "trapped_difference_ci": _ci(ci),
                        "configs_in_trapping_regime": int(live.sum()),
                        "eta_over_B": rs.tolist(),
                        "trapped_fraction_method": fa.tolist(),
                        "trapped_fraction_sgd": fr.tolist(),
                        "per_config_method": ta_.fraction().tolist(),
                        "per_config_sgd": tr_.fraction().tolist(),
                        "eta": ta_.etas.tolist(),
                        "batch": ta_.batches.tolist(),
                        "diverged_method": int(ta_.diverged.sum()),
                        "diverged_sgd": int(tr_.diverged.sum()),
                    },
                    bound={"difference": 0.0, "tolerance": an.TRAP_TOL},
                    verdict=v,
                    slack=None if ci is None else an.TRAP_TOL - max(abs(ci[0]), abs(ci[1])),
                    evidence={"reason": why, "ci_note": "bootstrap over the grid seeds, shared by the arms"},
                )
            )
        for arm in st.arms:
            s = ir.schedules[(arm.method, "constant-step-growing-batch", "stationarity")]
            v, why = an.assess_rate(s.fit.ci, len(s.fit.eps))
            results.append(
                CheckResult(
                    claim=CLAIM,
                    statement=STATEMENT_RATE,
                    variant=arm.method,
                    conditions={**cond, "part": "rate-vs-theory", "criterion": "stationarity",
                                "schedule": SCHEDULE_TEXT["constant-step-growing-batch"], "damping": arm.damping},
                    measured=_schedule_measured(s),
                    bound={"exponent_max": 4.0, "tolerance": an.TOL},
                    verdict=v,
                    slack=None if s.fit.ci is None else 4.0 + an.TOL - s.fit.ci[1],
                    evidence={"reason": why},
                )
            )  # fmt: skip
        bcond = {"instance": inst.label, "params": inst.params, "damping": cb.LAMBDA_BIAS, "batch": st.isqrt_batch}
        results.extend(cb.bias_results(CLAIM, (STATEMENT_BIAS, STATEMENT_BASELINE), bcond, ir.S * ir.A,
                                       st.isqrt_batch, st.estimator, st.mc_draws, ir.bias))  # fmt: skip
    return results


# ---------------------------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------------------------
def _fmt_k(fit: dict[str, Any]) -> str:
    if fit.get("exponent") is None:
        return "—"
    ci = fit.get("exponent_ci")
    s = f"{fit['exponent']:.2f}"
    return s + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def _fmt_ci(ci: Any) -> str:
    return "—" if not ci else f"[{ci[0]:.2f}, {ci[1]:.2f}]"


def _fmt_eps(x: Any) -> str:
    return "—" if x is None else f"{x:.3g}"


def _n_star_cell(side: dict[str, Any], i: int) -> str:
    """N*(ε_i) on fresh seeds (mean), as a table cell with its marks.

    ``cens.``: not reached within the budget (grid or fresh seeds); ``ᵉ`` chosen at the grid's edge; ``ᵈ``
    deterministic regime (the exact gradient's cost is within the noise factor); ``*`` used in the fit.
    """
    n = side["N_fresh_mean"][i]
    if side["censored_grid"][i] or not isinstance(n, int | float) or not math.isfinite(n):
        return "cens."
    marks = ("ᵉ" if side["grid_edge"][i] else "") + ("" if side["noise_dominated"][i] else "ᵈ")
    return f"{n:.3g}{marks}" + ("*" if side["usable"][i] else "")


def _n_star_table(rs: Sequence[CheckResult]) -> list[str]:
    """The tuned N*(ε) of SGD-PG and of each arm at each ε level (optimality), from one instance's tuned results."""
    tuned = [r for r in rs if r.conditions.get("part") == "tuned" and r.conditions.get("criterion") == "optimality"]
    if not tuned:
        return []
    eps = tuned[0].measured["sgd"]["eps"]
    rows = [("sgd-pg", tuned[0].measured["sgd"])] + [(r.variant, r.measured["method"]) for r in tuned]
    out = ["", "Tuned N*(ε), episodes to E[J* − J] ≤ ε (fresh seeds, mean; `cens.` not reached within the "
           "budget, ᵉ grid edge, ᵈ deterministic regime, * used in the fit):", "",
           "| arm | " + " | ".join(f"ε={e:.3g}" for e in eps) + " |", "|---|" + "---|" * len(eps)]  # fmt: skip
    out += [table_row([name, *(_n_star_cell(side, i) for i in range(len(eps)))]) for name, side in rows]
    return out


def summarize(results: Sequence[CheckResult]) -> str:
    """Per instance: exponents per arm and protocol, tuned N*(ε) per ε level, trapping against η/B.

    The exponents with their CIs, decades, censoring, noise onset and verdicts.
    """
    mine = [r for r in results if r.claim == CLAIM and r.conditions.get("part") in ("tuned", "schedule")]
    if not mine:
        return ""
    out = [
        "N(ε) ≈ C·(1/ε)^k in episodes, k with a 95% bootstrap CI (tuned: over fresh seeds, choice held fixed — the "
        "selection noise is not in it). 'usable' = reached, not grid-edge, noise-dominated, t ≥ "
        f"{an.T_MIN}, not degenerate; Δk on the common usable ε; holds iff the CI lies within ±{an.TOL:g}, fails "
        f"iff it lies beyond ±{an.TOL:g}, else inconclusive (resolution).",
    ]
    by_inst: dict[str, list[CheckResult]] = {}
    for r in mine:
        by_inst.setdefault(str(r.conditions["instance"]), []).append(r)
    for label, rs in by_inst.items():
        out += ["", f"**{label}**", "",
                "| arm | protocol | criterion | k_sgd | k_method | decades | censored | noise from ε | fresh/grid | "
                "Δk CI | C ratio | verdict |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in rs:
            m = r.measured
            ma, mr = m["method"], m["sgd"]
            cens_a = ma.get("counts", {}).get("censored_grid", None)
            if cens_a is None:
                cens = f"from ε={_fmt_eps(ma.get('censored_from_eps'))}" if ma.get("censored_from_eps") else "0"
            else:
                cens = f"{cens_a}+{ma['counts']['censored_fresh']} fresh"
            ratio = m.get("constant_ratio")
            out.append(table_row([
                r.variant, r.conditions.get("schedule", "tuned (η, B)"), r.conditions["criterion"],
                _fmt_k(mr["fit"]), _fmt_k(ma["fit"]), f"{ma['fit']['decades']:.2f}", cens,
                _fmt_eps(ma.get("noise_onset_eps")) if "noise_onset_eps" in ma else "n/a", _selection(ma),
                _fmt_ci(m["exponent_difference_ci"]), "—" if ratio is None else f"{ratio:.2f}",
                f"{r.verdict}: {r.evidence['reason']}" if r.verdict == "inconclusive" else r.verdict,
            ]))  # fmt: skip
        out += _n_star_table(rs)
        traps = [t for t in results if t.claim == CLAIM and t.conditions.get("part") == "trapping"
                 and t.conditions["instance"] == label]  # fmt: skip
        if traps:
            rr = traps[0].measured["eta_over_B"]
            out += ["", "Trapped fraction at the end of the grid runs against η/B (pooled over B):", "",
                    "| arm | " + " | ".join(f"{x:.3g}" for x in rr) + " | Δ vs sgd-pg [CI] | verdict |",
                    "|---|" + "---|" * len(rr) + "---|---|",
                    table_row(["sgd-pg", *(f"{x:.2f}" for x in traps[0].measured["trapped_fraction_sgd"]), "", ""]),
                    ]  # fmt: skip
            for t in traps:
                tm = t.measured
                out.append(table_row([t.variant, *(f"{x:.2f}" for x in tm["trapped_fraction_method"]),
                                      "—" if tm["trapped_difference"] is None else
                                      f"{tm['trapped_difference']:+.2f} {_fmt_ci(tm['trapped_difference_ci'])} "
                                      f"({tm['configs_in_trapping_regime']} configs)",
                                      t.verdict]))  # fmt: skip
    out += ["", _note(results)]
    return "\n".join(out)


def _selection(measured: dict[str, Any]) -> str:
    """Median fresh/grid ratio of N over the levels both reached, and how many chosen levels fresh seeds miss."""
    if "selection_ratio_fresh_over_grid" not in measured:
        return "n/a"
    r = [x for x in measured["selection_ratio_fresh_over_grid"] if x is not None]
    grid = np.isfinite(np.asarray(measured["N_star_grid_mean"], dtype=float))
    miss = int((grid & ~np.isfinite(np.asarray(measured["N_fresh_mean"], dtype=float))).sum())
    med = "—" if not r else f"{float(np.median(r)):.2f}×"
    return f"{med}, {miss} of {int(grid.sum())} missed"


def _note(results: Sequence[CheckResult]) -> str:
    """One paragraph: the verdict counts per protocol and the reasons of the undecided, and the trapping verdicts."""
    parts = []
    for proto in ("tuned", *SCHEDULES, SCHEDULE_FITTED):
        rs = [r for r in results if r.claim == CLAIM and r.conditions.get("protocol") == proto]
        if not rs:
            continue
        n = {v: sum(r.verdict == v for r in rs) for v in ("holds", "fails", "inconclusive")}
        why: dict[str, int] = {}
        for r in rs:
            if r.verdict == "inconclusive":
                key = str(r.evidence.get("reason", "")).split(":")[0]
                why[key] = why.get(key, 0) + 1
        reasons = ", ".join(f"{k} {v}" for k, v in why.items())
        text = SCHEDULE_TEXT.get(proto, "tuned (η, B) per ε, noise-dominated ε only")
        parts.append(f"{text}: holds {n['holds']}, fails {n['fails']}, inconclusive {n['inconclusive']}"
                     + (f" ({reasons})" if reasons else ""))  # fmt: skip
    traps = [r for r in results if r.claim == CLAIM and r.conditions.get("part") == "trapping"]
    tn = {v: sum(r.verdict == v for r in traps) for v in ("holds", "fails", "inconclusive")}
    return (
        "**Note.** Exponent verdicts (arm against SGD-PG, per instance and criterion) — "
        + "; ".join(parts)
        + f". Same trapping at matched (η, B): holds {tn['holds']}, fails {tn['fails']}, inconclusive "
        f"{tn['inconclusive']}. 'span' means the budget or the regime left too few usable ε; 'resolution' that the "
        "bootstrap CI is too wide to decide."
    )


__all__ = [
    "CLAIM",
    "CRITERIA",
    "SCHEDULES",
    "STATEMENT",
    "C2Sweep",
    "InstanceRuns",
    "Schedule",
    "Trapping",
    "Tuned",
    "check",
    "runs",
    "setting",
    "summarize",
]


if __name__ == "__main__":
    from .runner import module_main

    raise SystemExit(module_main(__name__))
