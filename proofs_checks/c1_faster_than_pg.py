"""C1: "a rank-1 approximation to the inverse Fisher converges faster than policy gradient".

The paper (arXiv 2601.18626) states C1 "under certain conditions" without saying which. This check
measures it for each candidate formalisation (``r1-grad`` V1, ``r1-same`` V2, ``r1-precond`` V3,
``r1-eigen``) and for the damped natural gradient ``npg-damped``, against exact softmax PG, over the
instance families of the default suite and damping λ over decades, under three protocols:

* ``equal-step`` — the same nominal step η for the method and for PG, at every η of the grid.
  Holds when the method reaches ε in fewer iterations at every η where the comparison is decidable.
* ``tuned`` — each method at its own best step from a grid (the grid is extended by a decade whenever the
  best step sits on its edge, up to :data:`MAX_EXTENSIONS` times). Holds when the method's best iteration
  count is below PG's best.
* ``pg-at-effective-step`` — the method at its best step against PG run at the method's effective
  step η_eff = median_t η⟨direction_t, ∇J_t⟩/‖∇J_t‖² (the PG step making the same first-order
  progress). Holds when the method still wins: the speed-up is not a mere step-size rescaling.

Progress is "iterations to reach gap ≤ ε" with ε = 10⁻¹·gap₀ (``loose``) and 10⁻⁴·gap₀ (``tight``).
A comparison is undecidable when neither run reaches ε, or when both reach it within
:data:`TRIVIAL` iterations (a step so large that one update is a greedy policy-iteration step, where
every method "converges" at once). Runs that stop moving away from the optimum are reported as
``stalled`` and the smallest such step as the cliff.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from r1theory import CANDIDATE_METHODS, Run, get_method, rates

from .context import Context
from .report import table_row
from .result import CheckResult
from .runs import instance, run_task
from .sweep import Task

CLAIM = "c1.faster-than-pg"
STATEMENT = (
    "C1 (arXiv 2601.18626, abstract): the rank-1 inverse-Fisher method converges faster than policy gradient; "
    "tested as: iterations to reach V*(ρ) − J ≤ ε are fewer than softmax PG's under the stated protocol"
)
#: The candidates: every registered exact method but the references pg and npg (a live view of the registry,
#: so a plugin's method joins the suite).
METHODS: Sequence[str] = CANDIDATE_METHODS
EPS_REL = {"loose": 1e-1, "tight": 1e-4}
TRIVIAL = 2
MAX_EXTENSIONS = 4
PROTOCOLS = ("equal-step", "tuned", "pg-at-effective-step")


@dataclass(frozen=True)
class Family:
    """One instance of the suite: a catalog entry, its parameters, the start and the iteration cap."""

    label: str
    instance: str
    params: dict[str, Any]
    theta0: str
    iterations: int
    param: dict[str, Any] | None = None  # the policy parametrisation (tabular softmax when None)
    dampings: tuple[float, ...] | None = None  # its λ grid, when not the mode's (:func:`dampings`)
    steps: tuple[float, ...] | None = None  # its base step grid, when not the mode's (:func:`step_grid`)


def method_dampings(method: str, lams: Sequence[float]) -> list[float | None]:
    """The λ grid of a candidate: ``lams`` for a damped method, [None] for an undamped one (e.g. a plugin's)."""
    return list(lams) if get_method(method).damped else [None]


def key(family: str, method: str, lam: float | None) -> tuple[str, str, float | None]:
    """The sweep key of (family, method, λ); an undamped method has one series, under λ = None."""
    return (family, method, lam if get_method(method).damped else None)


def fmt_damping(lam: float | None) -> str:
    """λ for reports: ``1e-03``-style, or ``–`` for an undamped method."""
    return "–" if lam is None else f"{lam:g}"


def suite(quick: bool) -> list[Family]:
    """The default instance suite: random, Garnet, a hard chain and the plateau bandit (+ more in full mode).

    Instances on which one policy-iteration step from the start already reaches the optimum are left out
    of the quick suite: there a large enough step makes every method converge in one iteration
    (docs/claims.md#measurement-pitfalls). Each result reports the number of such greedy steps needed
    (``pi_steps_from_start``).
    """
    T = 1500 if quick else 10000
    fams = [
        Family("random", "random", {"S": 10, "A": 4, "gamma": 0.95, "seed": 1}, "uniform", T),
        Family("garnet", "garnet", {"S": 20, "A": 4, "branching": 2, "gamma": 0.95, "seed": 4}, "uniform", T),
        Family("li-chain", "li_chain", {"H": 5, "gamma": 0.9}, "uniform", T),
        Family("mei-plateau", "mei_bandit", {"init": "bad"}, "instance", T),
        # dense Fisher: log-linear policy, k = S(A − 1) features of condition number 3 (the class of tabular softmax)
        Family("random-loglinear", "random", {"S": 10, "A": 4, "gamma": 0.95, "seed": 1}, "uniform", T,
               loglinear(30)),
    ]  # fmt: skip
    if not quick:
        fams += [
            Family("agarwal-chain", "agarwal_chain", {"H": 6}, "uniform", T),
            Family("cliff", "cliff", {}, "uniform", T),
            Family("li-chain-7", "li_chain", {"H": 7, "gamma": 0.95}, "uniform", T),
        ]
        fams += [
            Family(f"garnet-s{s}", "garnet", {"S": 30, "A": 4, "branching": 1, "gamma": 0.95, "seed": s}, "uniform", T)
            for s in (1, 2)
        ]
        # dense-Fisher families: the quick grids, cap 5,000 (log-linear runs are batched, r1theory.batch_param;
        # the neural family runs one configuration at a time)
        lams_q, steps_q = tuple(dampings(True)), tuple(step_grid(True))
        dense: dict[str, Any] = {"dampings": lams_q, "steps": steps_q}
        fams = [
            dataclasses.replace(f, iterations=DENSE_T, dampings=lams_q, steps=steps_q) if f.param else f for f in fams
        ]
        fams += [
            Family("garnet-loglinear", "garnet", {"S": 20, "A": 4, "branching": 2, "gamma": 0.95, "seed": 4},
                   "uniform", DENSE_T, loglinear(60), **dense),
            Family("li-chain-loglinear", "li_chain", {"H": 5, "gamma": 0.9}, "uniform", DENSE_T, LOGLINEAR_FULL,
                   **dense),
            Family("li-chain-neural", "li_chain", {"H": 5, "gamma": 0.9}, "uniform", DENSE_T,
                   {"kind": "neural", "hidden": [8], "seed": 0}, **dense),
        ]  # fmt: skip
    return fams


#: Iteration cap of the dense-Fisher (log-linear, neural) families in full mode.
DENSE_T = 5000


def pi_steps_from_start(f: Family, cap: int = 100) -> int:
    """Greedy policy-iteration steps from the start policy to the optimum (0 if it is optimal already)."""
    from r1theory import evaluate, softmax

    mdp, theta0, opt = instance(f.instance, f.params)
    pi = softmax(np.zeros((mdp.S, mdp.A)) if f.theta0 == "uniform" else theta0)
    rows = np.arange(mdp.S)
    for n in range(cap + 1):
        ev = evaluate(mdp, pi)
        if opt.J - ev.J <= 1e-9 * (1.0 + abs(opt.J)):
            return n
        pi = np.zeros_like(pi)
        pi[rows, np.argmax(ev.Q, axis=1)] = 1.0
    return cap


def families(ctx: Context) -> list[Family]:
    """The instances of this run: the study's, else the default :func:`suite`.

    A study's instances (``--mdp``, ``--instance``) start at θ₀ = ``--theta0`` (default uniform) and get the
    suite's iteration cap.
    """
    default = suite(ctx.quick)
    T = default[0].iterations
    fams = ctx.instances(default, lambda t: Family(t.label, t.name, t.params, "uniform", T))
    theta0 = ctx.grid("theta0", None)
    return fams if theta0 is None else [dataclasses.replace(f, theta0=theta0) for f in fams]


def eps_levels(ctx: Context) -> dict[str, float]:
    """The relative ε levels (name → ε/gap₀): the study's ``--eps`` (named by value) or :data:`EPS_REL`."""
    rel = ctx.grid("eps", None)
    if rel is None:
        return dict(EPS_REL)
    names = {v: k for k, v in EPS_REL.items()}
    return {names.get(v, f"{v:g}"): v for v in sorted(rel, reverse=True)}


#: Condition number κ of the log-linear families' centred features (:func:`proofs_checks.runs.conditioned_features`).
FEATURE_COND = 3.0


def loglinear(k: int) -> dict[str, Any]:
    """The log-linear parametrisation of a C1 family: k = S(A − 1) features, centred, of condition number κ = 3.

    With k = S(A − 1) the class is all of tabular softmax, so the tight ε is reachable and C1 can come
    out either way; κ = 3 spreads the rates of plain gradient ascent along the feature directions by
    κ² = 9. Gaussian features (``{"kind": "log-linear", "k": k, "seed": 0}``) have a centred condition
    number of about 11 at k = S·A = 40 on the random 10×4 MDP: there every method's best gap after
    1,500 iterations is ≈ 7e-3·gap₀, far above the tight ε — the claim cannot be decided on them
    (docs/claims.md, "log-linear families"; tests/test_c1_and_ascent.py checks both numbers' order).
    """
    return {"kind": "log-linear", "k": k, "seed": 0, "cond": FEATURE_COND}


#: Log-linear features for li_chain(H=5) (S = 6, A = 3): k = S(A − 1) = 12.
LOGLINEAR_FULL: dict[str, Any] = loglinear(12)


def dampings(quick: bool) -> list[float]:
    """λ over decades."""
    return [1e-3, 1e-1, 10.0] if quick else [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]


def step_grid(quick: bool) -> list[float]:
    """Base step grid, geometric (factor √10 in quick mode, 10^{1/4} in full mode)."""
    k = 2 if quick else 4
    return [float(f"{10 ** (e / k):.4g}") for e in range(-2 * k, 2 * k + 1)]


def _extend(eta: float, up: bool) -> float:
    """The next step beyond the edge of a series: a decade further."""
    return float(f"{eta * 10.0 if up else eta / 10.0:.4g}")


@dataclass
class Series:
    """Runs of one method at one λ on one family, keyed by step."""

    runs: dict[float, Run]

    def T(self, eta: float, eps: float) -> int | None:
        """Iterations to gap ≤ ε at step η."""
        return rates.iterations_to(self.runs[eta].gap, eps)

    def best(self, eps: float) -> float:
        """The best step: fewest iterations to ε, then smallest final gap."""

        def key(eta: float) -> tuple[float, float]:
            t = self.T(eta, eps)
            return (math.inf if t is None else t, float(self.runs[eta].gap[-1]))

        return min(sorted(self.runs), key=key)

    def on_edge(self, eps: float) -> str | None:
        """Return "up"/"down" when the best step is the largest/smallest tried and is not trivially fast."""
        etas = sorted(self.runs)
        b = self.best(eps)
        t = self.T(b, eps)
        if t is not None and t <= 1:
            return None
        if b == etas[-1]:
            return "up"
        if b == etas[0]:
            return "down"
        return None

    def cliff(self) -> float | None:
        """The smallest step whose run stalled or diverged."""
        bad = [eta for eta, r in self.runs.items() if r.status in ("stalled", "diverged")]
        return min(bad) if bad else None


def _run(fam: Family, method: str, lam: float | None, eta: float, tol: float) -> Task:
    return run_task(
        fam.instance,
        method,
        eta,
        fam.iterations,
        params=fam.params,
        damping=lam,
        theta0=fam.theta0,
        tol=tol,
        param=fam.param,
        batched=True,
    )


@dataclass(frozen=True)
class Sweep1:
    """Everything the C1 sweep ran: per (family label, method, λ) the runs keyed by step."""

    families: list[Family]
    dampings: list[float]
    grid: list[float]
    methods: list[str]
    eps: dict[str, float]  # name → ε relative to the initial gap
    gap0: dict[str, float]
    series: dict[tuple[str, str, float | None], Series]
    effective: dict[tuple[str, str, float | None], float | None]
    family_dampings: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    family_grid: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def dampings_of(self, label: str) -> list[float]:
        """The λ grid of family ``label`` (its own, or the run's)."""
        return self.family_dampings.get(label, self.dampings)

    def grid_of(self, label: str) -> list[float]:
        """The base step grid of family ``label`` (its own, or the run's)."""
        return self.family_grid.get(label, self.grid)


def runs(ctx: Context) -> Sweep1:
    """Run (or load from the cache) the C1 sweep; memoised per sweep runner, shared with the ascent check."""
    return ctx.sweep.memoised((CLAIM, ctx.mode, ctx.study.key()), lambda: _runs(ctx))


def _runs(ctx: Context) -> Sweep1:
    quick = ctx.quick
    fams = families(ctx)
    lams = list(ctx.grid("damping", dampings(quick)))
    grid = sorted(ctx.grid("steps", step_grid(quick)))
    # a family's own grids apply unless the study sets the grid
    fam_lams = {f.label: list(f.dampings) for f in fams if f.dampings and ctx.grid("damping", None) is None}
    fam_grid = {f.label: sorted(f.steps) for f in fams if f.steps and ctx.grid("steps", None) is None}
    methods = list(ctx.grid("methods", list(METHODS)))
    eps = eps_levels(ctx)
    keys: list[tuple[str, str, float | None]] = [(f.label, "pg", None) for f in fams]
    keys += [
        (f.label, m, lam) for f in fams for m in methods for lam in method_dampings(m, fam_lams.get(f.label, lams))
    ]
    by_label = {f.label: f for f in fams}
    gap0 = {f.label: _initial_gap(f) for f in fams}
    tols = {f.label: min(eps.values()) * gap0[f.label] for f in fams}
    series: dict[tuple[str, str, float | None], Series] = {k: Series({}) for k in keys}

    def execute(todo: list[tuple[tuple[str, str, float | None], float]], label: str) -> None:
        tasks = [_run(by_label[k[0]], k[1], k[2], eta, tols[k[0]]) for k, eta in todo]
        for (k, eta), res in zip(todo, ctx.sweep.run(tasks, label=label), strict=True):
            series[k].runs[eta] = Run.from_record(res)

    execute([(k, eta) for k in keys for eta in fam_grid.get(k[0], grid)], CLAIM)
    for round_ in range(MAX_EXTENSIONS):
        todo = []
        for k in keys:
            edge = series[k].on_edge(tols[k[0]])
            if edge is not None:
                etas = sorted(series[k].runs)
                todo.append((k, _extend(etas[-1] if edge == "up" else etas[0], edge == "up")))
        if not todo:
            break
        execute(todo, f"{CLAIM} grid extension {round_ + 1}")

    # PG at each method's effective step (the method at its best step for the tight ε)
    eff: dict[tuple[str, str, float | None], float | None] = {}
    pg_eff_todo = []
    for k in keys:
        if k[1] == "pg":
            continue
        s = series[k]
        r = s.runs[s.best(tols[k[0]])]
        vals = r.eff_step[np.isfinite(r.eff_step) & (r.eff_step > 0)]
        e = float(f"{float(np.median(vals)):.3g}") if vals.size else None
        eff[k] = e
        if e is not None and e not in series[(k[0], "pg", None)].runs:
            pg_eff_todo.append(((k[0], "pg", None), e))
    if pg_eff_todo:
        execute(list(dict.fromkeys(pg_eff_todo)), f"{CLAIM} PG at effective steps")
    return Sweep1(fams, lams, grid, methods, eps, gap0, series, eff, fam_lams, fam_grid)


def check(ctx: Context) -> list[CheckResult]:
    """Run the C1 sweep on the suite or a study's instances; one result per family, method, λ, ε, protocol."""
    data = runs(ctx)
    fams, gap0, series, eff = data.families, data.gap0, data.series, data.effective
    pi_steps = {f.label: pi_steps_from_start(f) for f in fams}
    results: list[CheckResult] = []
    for f in fams:
        pg = series[(f.label, "pg", None)]
        for m in data.methods:
            for lam in method_dampings(m, data.dampings_of(f.label)):
                k = (f.label, m, lam)
                for eps_name, rel in data.eps.items():
                    eps = rel * gap0[f.label]
                    cond = {
                        "family": f.label,
                        "instance": f.instance,
                        "params": f.params,
                        "damping": lam,
                        "epsilon": eps_name,
                        "eps": eps,
                        "iterations": f.iterations,
                        "theta0": f.theta0,
                        "pi_steps_from_start": pi_steps[f.label],
                        "param": f.param or {"kind": "tabular"},
                    }
                    results.append(_equal_step(m, cond, series[k], pg, data.grid_of(f.label), eps))
                    results.append(_tuned(m, cond, series[k], pg, eps))
                    results.append(_effective(m, cond, series[k], pg, eff[k], eps))
    return results


def _initial_gap(f: Family) -> float:
    from r1theory import policy_point

    from .runs import initial_theta, param_from

    mdp, _, opt = instance(f.instance, f.params)
    th = initial_theta(f.instance, f.params, f.theta0, f.param)
    return float(opt.J - policy_point(mdp, th, param_from(f.param, mdp)).ev.J)


def _cmp(Tm: int | None, Tp: int | None) -> str:
    """Compare iteration counts: "faster", "not-faster" or "undecidable"."""
    if Tm is None and Tp is None:
        return "undecidable"
    if Tm is not None and Tp is not None and Tm <= TRIVIAL and Tp <= TRIVIAL:
        return "undecidable"
    if Tm is not None and (Tp is None or Tm < Tp):
        return "faster"
    return "not-faster"


def _result(
    method: str,
    protocol: str,
    cond: dict[str, Any],
    measured: dict[str, Any],
    outcome: str,
    reason: str,
    slack: float | None = None,
    **evidence: Any,
) -> CheckResult:
    verdict = {"faster": "holds", "not-faster": "fails", "undecidable": "inconclusive"}[outcome]
    return CheckResult(
        claim=CLAIM,
        statement=STATEMENT,
        variant=method,
        conditions={**cond, "protocol": protocol},
        measured=measured,
        bound={"comparison": "T_method < T_pg (iterations to gap ≤ ε)"},
        verdict=verdict,
        slack=slack,
        evidence={"reason": reason, **evidence},
    )


def _speedup(Tm: int | None, Tp: int | None) -> float | None:
    if Tm is None or Tp is None:
        return None
    return float(Tp / max(Tm, 1))


def _equal_step(
    method: str, cond: dict[str, Any], s: Series, pg: Series, grid: Sequence[float], eps: float
) -> CheckResult:
    rows = []
    for eta in grid:
        Tm, Tp = s.T(eta, eps), pg.T(eta, eps)
        rows.append((eta, Tm, Tp, _cmp(Tm, Tp)))
    decided = [r for r in rows if r[3] != "undecidable"]
    faster = [r[0] for r in decided if r[3] == "faster"]
    slower = [r[0] for r in decided if r[3] == "not-faster"]
    if not decided:
        outcome, reason = "undecidable", "at every step neither reaches ε, or both reach it in ≤ 2 iterations"
    elif not slower:
        outcome, reason = "faster", f"faster at all {len(decided)} decidable steps"
    else:
        outcome = "not-faster"
        reason = f"not faster at η ∈ {slower}" + (f"; faster at η ∈ {faster}" if faster else "")
    measured = {
        "T_method": [r[1] for r in rows],
        "T_pg": [r[2] for r in rows],
        "faster_at": faster,
        "not_faster_at": slower,
    }
    return _result(
        method,
        "equal-step",
        cond,
        measured,
        outcome,
        reason,
        grid=list(grid),
        cliff_method=s.cliff(),
        cliff_pg=pg.cliff(),
    )


def _fits(r: Run) -> dict[str, Any]:
    floor = rates.floor_for(r.J_star)
    sub = rates.fit_sublinear(r.gap, floor=floor)
    lin = rates.fit_linear(r.gap, floor=floor)
    return {
        "sublinear_slope": None if sub is None else sub.slope,
        "sublinear_window": None if sub is None else [sub.t_start, sub.t_end],
        "linear_rate": None if lin is None else math.exp(lin.slope),
        "linear_window": None if lin is None else [lin.t_start, lin.t_end],
    }


def _tuned(method: str, cond: dict[str, Any], s: Series, pg: Series, eps: float) -> CheckResult:
    bm, bp = s.best(eps), pg.best(eps)
    Tm, Tp = s.T(bm, eps), pg.T(bp, eps)
    outcome = _cmp(Tm, Tp)
    reason = ""
    if outcome == "faster" and pg.on_edge(eps):
        outcome, reason = "undecidable", "PG's best step is on the edge of its extended grid"
    elif outcome == "not-faster" and s.on_edge(eps):
        outcome, reason = "undecidable", "the method's best step is on the edge of its extended grid"
    if not reason:
        reason = {
            "faster": f"best {Tm} vs PG's best {Tp} iterations",
            "not-faster": f"best {Tm} vs PG's best {Tp} iterations",
            "undecidable": "neither reaches ε, or both reach it in ≤ 2 iterations",
        }[outcome]
    measured = {
        "T_method": Tm,
        "T_pg": Tp,
        "eta_method": bm,
        "eta_pg": bp,
        "status_method": s.runs[bm].status,
        "status_pg": pg.runs[bp].status,
        "rate_method": _fits(s.runs[bm]),
        "rate_pg": _fits(pg.runs[bp]),
    }
    return _result(
        method,
        "tuned",
        cond,
        measured,
        outcome,
        reason,
        _slack(Tm, Tp),
        grid_method=sorted(s.runs),
        grid_pg=sorted(pg.runs),
        cliff_method=s.cliff(),
        cliff_pg=pg.cliff(),
    )


def _slack(Tm: int | None, Tp: int | None) -> float | None:
    sp = _speedup(Tm, Tp)
    return None if sp is None else math.log10(sp)


def _effective(method: str, cond: dict[str, Any], s: Series, pg: Series, eff: float | None, eps: float) -> CheckResult:
    bm = s.best(eps)
    Tm = s.T(bm, eps)
    if eff is None:
        return _result(
            method,
            "pg-at-effective-step",
            cond,
            {"T_method": Tm, "eta_method": bm},
            "undecidable",
            "the effective step is undefined (direction orthogonal or opposed to ∇J)",
        )
    Tp = pg.T(eff, eps)
    outcome = _cmp(Tm, Tp)
    measured = {"T_method": Tm, "eta_method": bm, "eta_effective": eff, "T_pg_at_effective": Tp}
    reason = f"{Tm} vs PG at η_eff={eff:g}: {Tp} iterations"
    return _result(method, "pg-at-effective-step", cond, measured, outcome, reason, _slack(Tm, Tp))


def conclusions(results: Sequence[CheckResult]) -> list[str]:
    """One line per method and protocol: the (family, λ) cells where C1 holds at the tight ε, and how many fail.

    The tight ε is the smallest level in the results (``tight`` by default, the smallest ``--eps`` of a study).
    """
    levels = _levels(results)
    tight = levels[-1] if levels else "tight"
    lines = [f"Where C1 holds at the tight ε = {tight} (family: λ values), per method and protocol:", ""]
    for m in _methods_of(results):
        for p in PROTOCOLS:
            rs = [r for r in results if r.variant == m and r.conditions["protocol"] == p]
            rs = [r for r in rs if r.conditions["epsilon"] == tight]
            holds: dict[str, list[str]] = {}
            for r in rs:
                if r.verdict == "holds":
                    holds.setdefault(r.conditions["family"], []).append(fmt_damping(r.conditions["damping"]))
            n_fail = sum(r.verdict == "fails" for r in rs)
            n_inc = sum(r.verdict == "inconclusive" for r in rs)
            where = "; ".join(f"{fam}: λ ∈ {{{', '.join(v)}}}" for fam, v in holds.items()) or "nowhere"
            lines.append(f"- `{m}` / {p}: holds for {where} — fails in {n_fail}, inconclusive in {n_inc} of {len(rs)}")
    return lines


def _methods_of(results: Sequence[CheckResult]) -> list[str]:
    """The methods of the results, in registry order (a study's subset, or every candidate)."""
    present = {r.variant for r in results}
    return [m for m in METHODS if m in present] + sorted(present - set(METHODS))


def _levels(results: Sequence[CheckResult]) -> list[str]:
    """The ε level names of the results, loosest first."""
    names = dict.fromkeys(str(r.conditions["epsilon"]) for r in results)
    return sorted(names, key=lambda n: -_level(n))


def _level(name: str) -> float:
    """The relative ε of a level name: :data:`EPS_REL`'s, or the number a study's level is named by."""
    if name in EPS_REL:
        return EPS_REL[name]
    try:
        return float(name)
    except ValueError:
        return 0.0


def param_label(spec: dict[str, Any]) -> str:
    """Short name of a parametrisation spec: "tabular", "log-linear k=40", "neural hidden=[8]"."""
    kind = str(spec.get("kind", "tabular"))
    if kind == "log-linear":
        return f"log-linear k={spec['k']}" + (f" κ={spec['cond']:g}" if spec.get("cond") is not None else "")
    if kind == "neural":
        return f"neural hidden={list(spec['hidden'])}"
    return kind


def by_parametrisation(results: Sequence[CheckResult]) -> list[str]:
    """Tabular softmax against the other parametrisations on the same MDP and start, cell by cell.

    Families are paired when they share the catalog instance, its parameters and θ₀ (so the same
    MDP and, for θ₀ = "uniform", the same initial policy) and differ in the parametrisation. A cell
    is (method, protocol, λ, ε); the line counts the cells whose verdict agrees (per ε) and, per
    method, how many cells change in each direction (tabular verdict → other verdict); the tables
    below show which.
    """
    sym = {"holds": "✓", "fails": "✗", "inconclusive": "?"}
    groups: dict[tuple[str, str, str], dict[str, str]] = {}  # instance key → {family: param label}
    verdicts: dict[str, dict[tuple[str, str, float, str], str]] = {}
    for r in results:
        c = r.conditions
        key = (str(c["instance"]), json.dumps(c["params"], sort_keys=True), str(c["theta0"]))
        groups.setdefault(key, {})[c["family"]] = param_label(c.get("param") or {"kind": "tabular"})
        verdicts.setdefault(c["family"], {})[(r.variant, c["protocol"], c["damping"], c["epsilon"])] = r.verdict
    lines: list[str] = []
    for fams in groups.values():
        base = [f for f, lab in fams.items() if lab == "tabular"]
        if not base:
            continue
        for other, lab in fams.items():
            if lab == "tabular":
                continue
            a, b = verdicts[base[0]], verdicts[other]
            cells = sorted(set(a) & set(b), key=lambda k: (METHODS.index(k[0]), PROTOCOLS.index(k[1]), k[2], k[3]))
            diff = [k for k in cells if a[k] != b[k]]
            per_eps = []
            for e in EPS_REL:
                ce = [k for k in cells if k[3] == e]
                per_eps.append(f"{sum(a[k] == b[k] for k in ce)} of {len(ce)} at the {e} ε")
            per_method: dict[str, dict[str, int]] = {}
            for k in diff:
                step = f"{sym[a[k]]}→{sym[b[k]]}"
                per_method.setdefault(k[0], {})[step] = per_method.setdefault(k[0], {}).get(step, 0) + 1
            listed = "; ".join(
                f"`{m}` " + ", ".join(f"{t} ×{n}" for t, n in sorted(v.items())) for m, v in per_method.items()
            )
            lines.append(
                f"- `{base[0]}` (tabular) vs `{other}` ({lab}): verdicts agree in {len(cells) - len(diff)} of "
                f"{len(cells)} cells ({', '.join(per_eps)})"
                + (f"; changes tabular→{lab.split()[0]}: {listed}" if diff else "")
            )
    if lines:
        lines = ["Same MDP and start, tabular softmax vs a dense-Fisher parametrisation:", "", *lines]
    return lines


def summarize(results: Sequence[CheckResult]) -> str:
    """Markdown matrix per method and protocol: families × λ, cells 'loose/tight' verdict symbols."""
    sym = {"holds": "✓", "fails": "✗", "inconclusive": "?"}
    mine = [r for r in results if r.claim == CLAIM]
    if not mine:
        return ""
    fams = list(dict.fromkeys(r.conditions["family"] for r in mine))
    lams = sorted({r.conditions["damping"] for r in mine if r.conditions["damping"] is not None})
    pairs = by_parametrisation(mine)
    levels = _levels(mine)
    loose, tight = levels[0], levels[-1]
    out = [
        *conclusions(mine),
        "",
        *pairs,
        *([""] if pairs else []),
        f"Tables: verdict at ε = {loose} / ε = {tight} (✓ holds, ✗ fails, ? inconclusive). Rows: families; columns: λ.",
        "",
    ]
    cell: dict[tuple[str, str, str, float | None, str], str] = {}
    for r in mine:
        c = r.conditions
        cell[(r.variant, c["protocol"], c["family"], c["damping"], c["epsilon"])] = sym[r.verdict]
    for m in _methods_of(mine):
        for p in PROTOCOLS:
            out.append(f"**{m}**, protocol `{p}`")
            out.append("")
            cols = method_dampings(m, lams)
            out.append(table_row(["family", *(f"λ={fmt_damping(lam)}" for lam in cols)]))
            out.append("|---|" + "---|" * len(cols))
            for fam in fams:
                row = [
                    f"{cell.get((m, p, fam, lam, loose), '')}/{cell.get((m, p, fam, lam, tight), '')}" for lam in cols
                ]
                out.append(table_row([fam, *row]))
            out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    from .runner import module_main

    raise SystemExit(module_main(__name__))
