"""θ at checkpoints along a cached run, as a sweep task of its own.

The run tasks of :mod:`proofs_checks.runs` keep histories of scalars and the final θ only. The
Fisher and direction figures need θ_t along the run: :func:`replay` replays the run with the
engine that computed it (:func:`proofs_checks.runs.advance`) from the same configuration, in
chunks between consecutive checkpoints (each chunk starts from the previous chunk's final θ).
The C1 runs use constant steps, which do not depend on t, so the replay reproduces the run's
iterates bit for bit; the replay never stops early (no tolerance, no stall detection), and
checkpoints past the run's own end are refused.

The task (:func:`along`) also computes, at each checkpoint, the Fisher spectrum and the diagnostics
of :func:`r1theory.fisher_diagnostics` for each damping λ (:func:`diagnose`). It is cached like
every sweep task (``DIR/cache``), keyed by the run's configuration, the checkpoints and the λ
values, so a figure never replays or diagnoses twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import r1theory
from proofs_checks import c1_faster_than_pg as c1
from proofs_checks.context import Context
from proofs_checks.runs import advance, initial_theta, instance, run_task
from proofs_checks.sweep import Task, make_task
from r1theory import TabularMDP, fisher, fisher_diagnostics, policy_point
from r1theory._types import Array, IntArray

from . import _c1

FN = "figures._trajectory:along"


def checkpoint_times(T: int, n: int = 24) -> list[int]:
    """About ``n`` iteration indices in [0, T], log-spaced (0, 1, 2, …, T), always including 0 and T."""
    if T <= 0:
        return [0]
    ts = np.unique(np.round(np.geomspace(1, T, n)).astype(int))
    return [0, *(int(t) for t in ts)]


def task(run_config: dict[str, Any], at: list[int], dampings: list[float]) -> Task:
    """The task replaying a run and diagnosing it at checkpoints (the worker is :func:`along`).

    ``run_config`` is a :func:`proofs_checks.runs.run_task` configuration, ``at`` the increasing
    checkpoints, ``dampings`` the λ values of the diagnostics.
    """
    if list(at) != sorted(set(at)) or (at and at[0] < 0):
        raise ValueError(f"checkpoints must be increasing non-negative integers; got {at}")
    config = {"run": run_config, "at": [int(t) for t in at], "dampings": [float(x) for x in dampings]}
    return make_task(FN, {**config, "cosine_methods": list(cosine_methods()), "error_methods": list(error_methods())})


def replay(run: dict[str, Any], at: list[int]) -> dict[str, Any]:
    """θ_t for t in ``at`` along the run ``run`` (a run-task configuration).

    Returns ``{"t": (K,) int, "theta": (K, *θ shape), "gap": (K,)}`` (θ of the run's parametrisation).
    """
    if run["step"]["kind"] not in ("constant", "normalized"):
        raise ValueError(f"replay needs a step rule independent of t; got {run['step']['kind']!r}")
    theta = initial_theta(run["instance"], run["params"], run["theta0"], run.get("param"))
    thetas, gaps = [], []
    t = 0
    gap = float(advance(run, theta, 0).gap[0])
    for target in at:
        if target > t:
            chunk = advance(run, theta, target - t, stall_window=target - t + 1)
            if chunk.iterations != target - t:
                raise ValueError(
                    f"the replay stopped at t={t + chunk.iterations} before checkpoint {target}: "
                    f"{chunk.status} ({chunk.message})"
                )
            theta, gap, t = chunk.theta, float(chunk.gap[-1]), target
        thetas.append(np.array(theta, dtype=np.float64))
        gaps.append(gap)
    return {"t": np.asarray(at, dtype=np.int64), "theta": np.stack(thetas), "gap": np.asarray(gaps)}


def cosine_methods() -> tuple[str, ...]:
    """Methods whose cosine with F⁺∇J is recorded: every one :func:`r1theory.fisher_diagnostics` reports."""
    return tuple(r1theory.METHODS)


def error_methods() -> tuple[str, ...]:
    """Methods with a fixed preconditioner (a query of the registry), whose relative spectral error is recorded."""
    return tuple(m.name for m in r1theory.registered_methods() if m.preconditioner is not None)


def entropy(pi: Array, d: Array) -> float:
    """Visitation-weighted policy entropy Σ_s d(s) H(π(·|s)) in nats (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(pi > 0, pi * np.log(pi), 0.0).sum(axis=1)
    return float(d @ h)


def diagnose(
    mdp: TabularMDP, thetas: Array, dampings: list[float], cos_m: list[str], err_m: list[str]
) -> dict[str, Any]:
    """Fisher spectrum, entropy and per-λ direction diagnostics at each θ of ``thetas`` (K, S, A).

    Returns arrays over the K checkpoints:

    * ``spectrum`` (K, S·A): every eigenvalue of F(θ) (the S blocks' ``eigvalsh``), descending;
    * ``nonzero`` (K, S(A−1)): the same without each block's null direction (π_s's constant vector);
    * ``entropy`` (K,), ``grad_sq`` (K,) = ‖∇J‖² (the eigenvalue of r1-grad's rank-1 term ∇J∇Jᵀ);
    * ``cosine`` (L, len(cos_m), K): cosine with F⁺∇J (per-state centred) of the methods ``cos_m``, from
      :func:`r1theory.fisher_diagnostics`, for each λ of ``dampings``;
    * ``rel_error`` (L, len(err_m), K): ‖Π(M − (F + λI)⁻¹)Π‖₂ / ‖Π(F + λI)⁻¹Π‖₂ of each
      method's fixed preconditioner M.
    """
    K = len(thetas)
    spectrum, nonzero, ent, g2 = [], [], [], []
    cosine = np.full((len(dampings), len(cos_m), K), np.nan)
    rel = np.full((len(dampings), len(err_m), K), np.nan)
    for k, theta in enumerate(thetas):
        point = policy_point(mdp, theta)
        w = np.linalg.eigvalsh(fisher(mdp, theta).blocks)  # (S, A) ascending per block
        spectrum.append(np.sort(w.ravel())[::-1])
        nonzero.append(np.sort(w[:, 1:].ravel())[::-1])
        ent.append(entropy(point.pi, point.ev.d))
        g2.append(float(np.vdot(point.gradient, point.gradient)))
        for i, lam in enumerate(dampings):
            diag = fisher_diagnostics(mdp, theta, lam)
            for j, m in enumerate(cos_m):
                cosine[i, j, k] = diag[m].cosine
            for j, m in enumerate(err_m):
                e = diag[m].relative_spectral_error
                rel[i, j, k] = np.nan if e is None else e
    return {
        "spectrum": np.asarray(spectrum),
        "nonzero": np.asarray(nonzero),
        "entropy": np.asarray(ent),
        "grad_sq": np.asarray(g2),
        "cosine": cosine,
        "rel_error": rel,
        "cosine_methods": list(cos_m),
        "error_methods": list(err_m),
    }


REPLAY_FN = "figures._trajectory:replayed"


def replay_task(run_config: dict[str, Any], at: list[int]) -> Task:
    """The task replaying ``run_config`` to the checkpoints ``at`` (θ only, no diagnostics)."""
    if list(at) != sorted(set(at)) or (at and at[0] < 0):
        raise ValueError(f"checkpoints must be increasing non-negative integers; got {at}")
    return make_task(REPLAY_FN, {"run": run_config, "at": [int(t) for t in at]})


def replayed(config: dict[str, Any]) -> dict[str, Any]:
    """Worker of :func:`replay_task`."""
    return replay(config["run"], config["at"])


def along(config: dict[str, Any]) -> dict[str, Any]:
    """Worker: :func:`replay` the run to the checkpoints, then :func:`diagnose` there."""
    run = config["run"]
    out = replay(run, config["at"])
    mdp = instance(run["instance"], run["params"])[0]
    diag = diagnose(mdp, out["theta"], list(config["dampings"]), config["cosine_methods"], config["error_methods"])
    return {**out, **diag}


@dataclass(frozen=True)
class Trajectory:
    """One run of the C1 sweep on one family, replayed to checkpoints and diagnosed there.

    ``t``, ``theta``, ``gap`` and the arrays of :func:`diagnose` (``values``) are over the checkpoints.
    """

    family: c1.Family
    method: str
    eta: float
    iterations: int
    dampings: list[float]
    t: IntArray
    theta: Array
    gap: Array
    values: dict[str, Array]
    #: The methods along the ``cosine`` and ``rel_error`` axes of ``values`` (as the task computed them).
    cosine_methods: list[str]
    error_methods: list[str]


def reference_runs(ctx: Context, n: int = 24) -> list[Trajectory]:
    """Per tabular-softmax family of the C1 suite: one PG run of the C1 sweep at ≈ ``n`` checkpoints, diagnosed.

    Families with another parametrisation (log-linear, neural) are left out: the diagnostics
    (:func:`r1theory.fisher_diagnostics`) are those of the tabular Fisher.

    The run is PG at the smallest step of the sweep that reaches the tight ε
    (:func:`figures._c1.slowest_converging_pg`): a smooth path from the start to a near-deterministic
    policy, on which the figures evaluate the Fisher and every direction, for each λ of the C1
    sweep. The tasks run through the sweep (cached, in parallel); memoised per sweep runner.
    """
    return ctx.sweep.memoised(("figures: reference runs", ctx.mode, n), lambda: _reference_runs(ctx, n))


def _reference_runs(ctx: Context, n: int) -> list[Trajectory]:
    s1 = _c1.sweep(ctx)
    lams = list(s1.dampings)
    picks, tasks = [], []
    for f in s1.families:
        if not _c1.tabular(f):
            continue
        eps = _c1.eps(s1, f.label)
        p = _c1.slowest_converging_pg(s1, f.label, eps)
        run = run_task(
            f.instance,
            "pg",
            p.eta,
            f.iterations,
            params=f.params,
            theta0=f.theta0,
            tol=eps,
            param=f.param,
            batched=True,
        )  # C1's run (c1_faster_than_pg._run), replayed by its engine
        picks.append((f, p))
        tasks.append(task(run.config, checkpoint_times(p.run.iterations, n), lams))
    keys = ("spectrum", "nonzero", "entropy", "grad_sq", "cosine", "rel_error")
    out = [
        Trajectory(
            f,
            p.method,
            p.eta,
            p.run.iterations,
            lams,
            r["t"],
            r["theta"],
            r["gap"],
            {k: np.asarray(r[k], dtype=np.float64) for k in keys},
            list(r["cosine_methods"]),
            list(r["error_methods"]),
        )
        for (f, p), r in zip(picks, ctx.sweep.run(tasks, label="figures: Fisher along PG runs"), strict=True)
    ]
    return out
