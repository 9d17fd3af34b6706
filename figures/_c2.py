"""Access to the C2 sweep (``proofs_checks.c2_sample_complexity``) shared by the stochastic figures.

:func:`sweep` plans exactly the tasks the C2 check plans (same setting, arms, seeds, configurations),
so after ``r1theory verify`` with the same ``--out`` every run and bias task is read from the cache.
The fitted exponents are recomputed with the check's own functions and bootstrap generator, in the
check's order, so the figure shows the numbers of the report. Memoised per sweep runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import r1theory as r1
from proofs_checks import c2_sample_complexity as c2
from proofs_checks.context import Context
from proofs_checks.runs import initial_theta, instance
from proofs_checks.sweep import make_task
from r1theory._types import Array

#: The damping of the check's bias tasks (``c2.check`` uses λ = 1 for the exact same-sample bias).
LAMBDA_BIAS = 1.0
#: Labels of the two points where the check measures the bias: θ₀ and the first SGD-PG seed's last θ.
BIAS_POINTS: tuple[str, ...] = ("theta0", "theta_T_sgd_seed0")


@dataclass(frozen=True)
class Sweep2:
    """The C2 runs and analysis inputs: setting, arms, per-arm results, ε grids, curves, fits, bias tasks."""

    setting: c2.Setting
    arms: list[c2.Arm]
    runs: dict[str, list[dict[str, Any]]]
    eps0: dict[str, float]
    grids: dict[str, Array]
    curves: dict[tuple[str, str], c2.Curves]
    fits: dict[tuple[str, str], c2.Fit]
    bias: dict[str, dict[str, Any]]


_MEMO: dict[tuple[int, str], Sweep2] = {}


def sweep(ctx: Context) -> Sweep2:
    """Run (or load from the cache) the C2 sweep of ``ctx`` and refit it as the check does."""
    key = (id(ctx.sweep), ctx.mode)
    if key in _MEMO:
        return _MEMO[key]
    st = c2.setting(ctx.quick)
    arm_list = c2.arms(st, ctx.quick)
    seeds = c2.seed_configs(st.root, st.seeds)
    tasks = [make_task(c2.RUN_FN, c2.run_config(st, a, s)) for a in arm_list for s in seeds]
    flat = ctx.sweep.run(tasks, label="figures: C2 runs")
    runs = {a.label: flat[i * st.seeds : (i + 1) * st.seeds] for i, a in enumerate(arm_list)}
    mdp, _, opt = instance(st.instance, st.params)
    theta0 = initial_theta(st.instance, st.params, st.theta0)
    p0 = r1.policy_point(mdp, theta0)
    eps0 = {"stationarity": float(np.linalg.norm(p0.gradient)), "optimality": float(opt.J - p0.ev.J)}
    grids = {c: c2.eps_grid(eps0[c]) for c in c2.CRITERIA}
    keys = {"stationarity": "grad_norm_sq", "optimality": "gap"}
    curves = {(a.label, c): c2._curves(runs[a.label], keys[c]) for a in arm_list for c in c2.CRITERIA}
    boot_rng = np.random.default_rng(np.random.SeedSequence(st.root).spawn(st.seeds + 1)[-1])
    fits = {
        (a.label, c): c2.fit_arm(curves[(a.label, c)], grids[c], c, boot_rng, st.n_boot)
        for a in arm_list
        for c in c2.CRITERIA
    }
    theta_T = np.asarray(runs[arm_list[0].label][0]["theta"], dtype=np.float64)
    bias_seeds = c2.seed_configs(st.root + 1, 2)
    btasks = [
        make_task(c2.BIAS_FN, c2.bias_config(st, th, label, LAMBDA_BIAS, seed))
        for th, label, seed in zip((theta0, theta_T), BIAS_POINTS, bias_seeds, strict=True)
    ]
    bres = ctx.sweep.run(btasks, label="figures: C2 bias")
    out = Sweep2(st, arm_list, runs, eps0, grids, curves, fits, dict(zip(BIAS_POINTS, bres, strict=True)))
    _MEMO[key] = out
    return out


def levels(eps: Array, criterion: str) -> Array:
    """The thresholds of a criterion: ε² for stationarity (E‖∇J‖² ≤ ε²), ε for optimality."""
    return eps**2 if criterion == "stationarity" else eps
