"""Run tasks: one exact run of one method on one catalog instance, as a cacheable sweep task.

Checks and figures describe runs with :func:`run_task`; the sweep executes :func:`run_method` in
worker processes and caches its result, so a figure reuses the runs a check already made.

Runs planned as batched (``run_task(..., batched=True)``: C1's sweep) of tabular softmax or log-linear
policies on a dense MDP are batched (:func:`proofs_checks.sweep.register_batching`): the sweep groups the
uncached runs that share the MDP, θ₀, iteration cap, tolerance and parametrisation record
(:func:`batch_key`), and :func:`run_methods` steps each chunk in lockstep with
:func:`r1theory.iterate_batch` (θ stacked (B, S, A), or (B, k) for log-linear features), whose runs equal
:func:`r1theory.iterate`'s to rounding (its module docstring states how far). Every such run is computed
by :func:`run_methods`, alone or in a chunk of any size, so its cached record does not depend on which
other runs a sweep asked for. Runs of neural policies, and of sparse MDPs, run one at a time
(:func:`run_method`).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np

from r1theory import (
    LogLinear,
    NeuralSoftmax,
    Parametrisation,
    TabularMDP,
    TabularSoftmax,
    iterate_batch,
    iterates,
    optimal,
    steps,
)
from r1theory._types import Array
from r1theory.evaluation import Optimal
from r1theory.iterates import Run

from .sweep import Batching, Task, make_task, register_batching

RUN_FN = "proofs_checks.runs:run_method"


@functools.lru_cache(maxsize=64)
def _instance(name: str, params_json: str) -> tuple[TabularMDP, Array | None, Optimal]:
    import tabular_mdps

    from .studies import FILE_INSTANCE, load_file_instance

    if name == FILE_INSTANCE:  # a user's MDP file (proofs_checks.studies): no recommended θ₀
        mdp = load_file_instance(json.loads(params_json))
        return mdp, None, optimal(mdp)
    inst = tabular_mdps.get_instance(name, **json.loads(params_json))
    return inst.mdp, inst.theta0, optimal(inst.mdp)


def instance(name: str, params: dict[str, Any] | None = None) -> tuple[TabularMDP, Array | None, Optimal]:
    """The catalog instance ``name`` with ``params``: (mdp, recommended θ₀ or None, optimum); memoised.

    ``name`` :data:`proofs_checks.studies.FILE_INSTANCE` with ``params = {"path", "sha256"}`` is an MDP file.
    """
    return _instance(name, json.dumps(params or {}, sort_keys=True))


TABULAR: dict[str, Any] = {"kind": "tabular"}
#: The parametrisation kinds :func:`r1theory.iterate_batch` steps in lockstep (neural policies run alone).
BATCHED_KINDS: tuple[str, ...] = ("tabular", "log-linear", "log-linear-onehot")


def param_from(spec: dict[str, Any] | None, mdp: TabularMDP) -> Parametrisation:
    """Build a parametrisation from its JSON description.

    ``{"kind": "tabular"}`` (default); ``{"kind": "log-linear", "k": k, "seed": s}`` with features
    φ(s, a) ~ N(0, I_k/k) drawn from ``default_rng(s)``, and with ``"cond": κ`` those features made
    κ-conditioned (:func:`conditioned_features`); ``{"kind": "log-linear-onehot"}``;
    ``{"kind": "neural", "hidden": [h, ...], "seed": s}`` with one-hot state inputs.
    """
    spec = spec or TABULAR
    kind = spec.get("kind")
    if kind == "tabular":
        return TabularSoftmax(mdp.S, mdp.A)
    if kind == "log-linear":
        k = int(spec["k"])
        rng = np.random.default_rng(int(spec["seed"]))
        phi = rng.normal(size=(mdp.S, mdp.A, k)) / np.sqrt(k)
        if spec.get("cond") is not None:
            phi = conditioned_features(phi, float(spec["cond"]))
        return LogLinear(phi)
    if kind == "log-linear-onehot":
        return LogLinear.one_hot(mdp.S, mdp.A)
    if kind == "neural":
        return NeuralSoftmax(mdp.S, mdp.A, tuple(int(h) for h in spec["hidden"]))
    raise ValueError(f"unknown parametrisation kind {kind!r}")


def conditioned_features(phi: Array, cond: float) -> Array:
    """Centred features with the same singular vectors as ``phi`` and singular values geometric in [1/κ, 1].

    The policy depends on the logits Φθ only through their per-state centred part C·Φθ (C subtracts
    each state's mean over actions), so the map that matters is C·Φ, an (S·A) × k matrix of rank
    r ≤ min(k, S(A − 1)). With C·Φ = U Σ Vᵀ (thin SVD, the r nonzero singular values), the returned
    features are U diag(σ) Vᵀ with σ_i = κ^{−i/(r−1)}, i = 0..r−1: centred, of condition number κ
    exactly on their range. For k ≥ S(A − 1) and a full-rank draw the class is then all of tabular
    softmax, reparametrised with condition number κ; Gaussian features themselves have a condition
    number that grows without bound with k (their smallest singular value → 0 as k → S(A − 1)),
    which makes the same class far slower for every method (docs/claims.md, log-linear families).

    Raises
    ------
    ValueError
        When ``cond`` is not a finite number ≥ 1, or the centred draw has rank 0.
    """
    if not np.isfinite(cond) or cond < 1.0:
        raise ValueError(f"cond (the features' condition number κ) must be a finite number >= 1; got {cond!r}")
    S, A, k = phi.shape
    centred = (phi - phi.mean(axis=1, keepdims=True)).reshape(S * A, k)
    U, sig, Vt = np.linalg.svd(centred, full_matrices=False)
    r = int(np.sum(sig > sig[0] * 1e-10)) if sig.size else 0
    if r == 0:
        raise ValueError("the centred features are zero: no direction of the logits to condition")
    target = cond ** (-np.arange(r) / max(r - 1, 1))
    return ((U[:, :r] * target) @ Vt[:r]).reshape(S, A, k)


def initial_theta(name: str, params: dict[str, Any], theta0: str, param: dict[str, Any] | None = None) -> Array:
    """θ₀ by name: "uniform" (the uniform policy) or "instance" (the catalog's recommended start).

    For log-linear policies "uniform" is θ = 0; for neural policies it is a draw of
    :meth:`NeuralSoftmax.init` at scale 0.1 from ``default_rng(seed)`` (exactly uniform would be the
    symmetric point θ = 0, where hidden units never learn), close to uniform.
    """
    mdp, rec, _ = instance(name, params)
    par = param_from(param, mdp)
    if theta0 == "uniform":
        if isinstance(par, NeuralSoftmax):
            return par.init(np.random.default_rng(int((param or {}).get("seed", 0))), scale=0.1)
        return np.zeros(par.theta_shape)
    if theta0 == "instance":
        if rec is None:
            raise ValueError(f"instance {name!r} has no recommended theta0; use theta0='uniform'")
        if not par.is_tabular:
            raise ValueError("theta0='instance' gives tabular logits; use theta0='uniform' with this parametrisation")
        return rec
    raise ValueError(f"theta0 must be 'uniform' or 'instance'; got {theta0!r}")


def step_from(spec: dict[str, Any], mdp: TabularMDP) -> steps.StepRule:
    """Build a step rule from its JSON description: {"kind": "constant"|"normalized"|"mei2020"|"agarwal2021", ...}."""
    kind = spec["kind"]
    if kind == "constant":
        return steps.constant(spec["eta"])
    if kind == "normalized":
        return steps.normalized(spec["eta"])
    if kind == "mei2020":
        return steps.mei2020(mdp.gamma, bandit=bool(spec.get("bandit", False)))
    if kind == "agarwal2021":
        return steps.agarwal2021_npg(mdp.gamma, mdp.A)
    raise ValueError(f"unknown step kind {kind!r}")


def run_task(
    instance_name: str,
    method: str,
    step: dict[str, Any] | float,
    iterations: int,
    *,
    params: dict[str, Any] | None = None,
    damping: float | None = None,
    theta0: str = "uniform",
    tol: float = 0.0,
    param: dict[str, Any] | None = None,
    batched: bool = False,
) -> Task:
    """Describe one run as a sweep task (a float ``step`` means a constant step).

    ``batched``: computed by the batched engine (:func:`batch_key`) — for runs planned by the hundred on
    one MDP (C1's sweep). A run planned alone (a classic check's long run) is faster by
    :func:`r1theory.iterate`, whose cost per iteration is a fraction of a lockstep iteration's. The
    choice is part of the configuration, so a cached record never depends on how it was scheduled.
    """
    spec = {"kind": "constant", "eta": float(step)} if not isinstance(step, dict) else step
    extra = {"batched": True} if batched else {}
    return make_task(
        RUN_FN,
        {
            **extra,
            "instance": instance_name,
            "params": params or {},
            "method": method,
            "damping": damping,
            "step": spec,
            "iterations": iterations,
            "theta0": theta0,
            "tol": tol,
            "param": param or TABULAR,
        },
    )


def run_method(config: dict[str, Any]) -> dict[str, Any]:
    """Worker: execute a run configuration and return its record (:meth:`r1theory.Run.to_record`).

    A batchable configuration (:func:`batch_key`) runs as a chunk of one through :func:`run_methods`, so
    its record is the same however the sweep executes it (alone, in a chunk, on a Dask worker).
    """
    if batch_key(config) is not None:
        out: list[dict[str, Any]] = []
        run_methods([config], lambda _, record: out.append(record))
        return out[0]
    return advance(
        config,
        initial_theta(config["instance"], config["params"], config["theta0"], config.get("param")),
        int(config["iterations"]),
        tol=float(config["tol"]),
    ).to_record()


def advance(config: dict[str, Any], theta: Array, iterations: int, *, tol: float = 0.0, stall_window: int = 200) -> Run:
    """``iterations`` steps of the run ``config`` from ``theta``, by the engine the sweep uses for it.

    :func:`r1theory.iterate_batch` (one row) for a batchable configuration (:func:`batch_key`), else
    :func:`r1theory.iterate`: a replay of a cached run from one of its iterates (figures) then repeats
    the run's arithmetic bit for bit, its step rule being independent of t.
    """
    mdp, _, opt = instance(config["instance"], config["params"])
    rule = step_from(config["step"], mdp)
    if batch_key(config) is not None:
        (run,) = iterate_batch(
            mdp,
            theta,
            [(config["method"], rule, config["damping"])],
            iterations,
            tol=tol,
            optimum=opt,
            stall_window=stall_window,
            param=param_from(config.get("param"), mdp),
        )
        return run
    return iterates.iterate(
        mdp,
        theta,
        config["method"],
        rule,
        iterations,
        damping=config["damping"],
        tol=tol,
        optimum=opt,
        stall_window=stall_window,
        param=param_from(config.get("param"), mdp),
    )


def batch_key(config: dict[str, Any]) -> tuple[str, ...] | None:
    """What the runs of one :func:`run_methods` chunk share; None for a run that cannot be batched.

    Batched: a run planned as such (``run_task(..., batched=True)``) of a tabular softmax or log-linear
    policy on a dense MDP (the scope of :func:`r1theory.iterate_batch`). The key is the instance, its
    parameters, θ₀, the iteration cap, the tolerance and the parametrisation record (a chunk shares one
    feature matrix).
    """
    spec = config.get("param") or TABULAR
    if not config.get("batched") or spec.get("kind") not in BATCHED_KINDS:
        return None
    start = instance_key(config)
    if start is None:
        return None
    return (*start, str(int(config["iterations"])), repr(float(config["tol"])), json.dumps(spec, sort_keys=True))


def instance_key(config: dict[str, Any]) -> tuple[str, str, str] | None:
    """(instance, parameters, θ₀) of a run configuration: how every batch key starts.

    The runs of one chunk share an MDP and a start; None for a sparse MDP, which the batched engines do not take.
    """
    mdp, _, _ = instance(config["instance"], config["params"])
    if mdp.is_sparse:
        return None
    return str(config["instance"]), json.dumps(config["params"], sort_keys=True), str(config["theta0"])


def run_methods(configs: list[dict[str, Any]], emit: Any) -> None:
    """Batch worker: the runs of ``configs`` (one :func:`batch_key`) in lockstep; ``emit(i, record)`` as each stops."""
    first = configs[0]
    key = batch_key(first)
    if any(batch_key(c) != key for c in configs):
        raise ValueError("run_methods: the configurations of one chunk must share their batch_key")
    mdp, _, opt = instance(first["instance"], first["params"])
    param = param_from(first.get("param"), mdp)  # one parametrisation (one feature draw) for the chunk
    iterate_batch(
        mdp,
        initial_theta(first["instance"], first["params"], first["theta0"], first.get("param")),
        [(c["method"], step_from(c["step"], mdp), c["damping"]) for c in configs],
        int(first["iterations"]),
        tol=float(first["tol"]),
        optimum=opt,
        param=param,
        on_run=lambda i, run: emit(i, run.to_record()),
    )


register_batching(RUN_FN, Batching(key=batch_key, run="proofs_checks.runs:run_methods", size=512))
