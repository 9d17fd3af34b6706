"""Exact iterates of many configurations of one MDP in lockstep: the batched :func:`r1theory.iterate`.

A sweep runs thousands of configurations (method, step, λ) of the same MDP, each for up to 10⁴
iterations whose cost is mostly interpreter and small-array dispatch. :func:`iterate_batch` steps B
of them together: θ is stacked (B, S, A), every iteration evaluates the B policies by one batched
LU (:func:`r1theory.batch.evaluate_policies`, the home of the batched evaluation) and computes each
method's direction for all its rows at once (the method's ``batch_direction``,
:class:`r1theory.Method`). Each configuration keeps its own step rule and stopping rule, and gets the
:class:`r1theory.Run` that :func:`r1theory.iterate` would return for it — the same histories, status,
message and iteration count, the histories equal to rounding.

Why "to rounding" and not bit for bit: the batched LU eliminates without pivoting in another order
than LAPACK's, so V, Q, A, d and J differ from the single evaluation by a few units in the last place
(:mod:`r1theory.batch`); a direction computed from the same point equals the single one but for the
order of its sums over actions and of its dot products (``pg``, ``npg``: bit for bit).
Both engines are equally accurate; they agree as closely as the iteration lets rounding agree:
to ~1e-15 relative on well-conditioned runs, and within the rounding floor of each quantity
otherwise — A is known to ε·|Q| only, so a gradient near that floor has no relative accuracy in
either engine, and an update multiplies the gradient's last bits by its effective step (η/λ for a
rank-1 method with small λ). tests/test_iterate_batch.py states the tolerance of every history.
A stopping decision is taken from the same quantities by the same comparison (gap ≤ tol,
|ΔJ| < stall_tol), so the two engines stop at the same iteration unless the deciding quantity is
within rounding of its threshold. With ``tol=0`` that is the rule, not the exception, for a run
that converges: "gap ≤ 0" holds once the computed J reaches J* to the last bit, which each engine's
rounding decides on its own — use a tolerance above the rounding of V*(ρ) when the iteration count
at convergence matters.

Mixed methods and grouping. The configurations may mix methods. Internally the rows are ordered by
method (stably, methods in order of first appearance) so that each method's rows are one contiguous
slice, and each method's direction is computed once per iteration on its slice; the runs are
returned in the order of ``configs``. A method without a ``batch_direction`` (e.g. a plugin's) is
computed row by row by its ordinary ``direction`` at each row's :class:`r1theory.PolicyPoint` (the
documented fallback, as fast as a loop for those rows only). Among the built-ins, ``r1-eigen`` falls
back to the row-wise direction only on rows where the top eigenspace needs its deterministic
fallback vector (:mod:`r1theory.directions`).

Stopping. A row stops as :func:`r1theory.iterate` would (module :mod:`r1theory.iterates`):
``converged`` (gap ≤ tol, checked before each step and after the last), ``diverged`` (non-finite
direction or θ, then non-finite J), ``stalled`` (J moved by less than ``stall_tol`` over the last
``stall_window`` iterations with gap > tol) or ``max_iterations``. Stopped rows leave the batch, so
the remaining ones get cheaper. Histories are kept in one buffer of shape (T, B, 7) grown by
doubling, so a batch costs memory O(T_max·B), not O(cap·B); its columns follow the method-sorted
order, so that while every row runs, an iteration records all seven fields of all rows in one
contiguous row (a row that stops records its last point as it stops).

Cost. Each iteration is a fixed number of numpy calls (≈ 60 for the LU, on buffers and views made once
per batch shape, ≈ 40 for the rest of the evaluation, ≈ 30 for the loop's records and checks, and
per method present ≈ 5 (``pg``) to ≈ 100 (``r1-eigen``)), so the time per iteration grows slowly with
B: S = 10, A = 4 and the seven built-in methods mixed, ≈ 0.6 ms at B = 64 on the shared 2-core machine
(12× the loop of :func:`r1theory.iterate` over the same runs, benchmarks/bench_iterate_batch.py, whose
info line gives the budget: ≈ 35 % evaluation, ≈ 55 % directions, r1-eigen alone ≈ 30 %), ≈ 28× at
B = 512. Batch as many configurations of one MDP as there are.

Scope. Tabular softmax and log-linear policies on dense MDPs. With ``param=LogLinear(...)`` θ is stacked
(B, k) (θ₀ of shape (k,) or (B, k)) and the same loop steps a :class:`r1theory.batch_param.BatchParamPoint`
(the logits Φθ evaluated by the same batched LU, the dense Fisher ΦᵀF_ℓΦ per row where a method needs it)
with each method's ``param_batch_direction``; a neural ``param`` or a sparse MDP raises a ``ValueError``
(use :func:`r1theory.iterate` for those). A
step rule is used through its kind (``constant`` or ``normalized``, vectorised); an instance of a :class:`StepRule`
subclass is called row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._types import Array, IntArray
from ._validate import as_real_array, check_finite
from .batch import _batch_policy_point, sum_actions
from .batch_param import batch_param_point
from .directions import _checked
from .evaluation import Optimal, optimal
from .iterates import Run, _check_iterations
from .mdp import TabularMDP
from .methods import Method, get_method
from .policies import LogLinear, Parametrisation
from .steps import StepRule, as_step_rule

__all__ = ["iterate_batch"]

#: One configuration: (method name, step — a positive constant or a StepRule —, damping λ or None).
Config = tuple[str, StepRule | float, float | None]

BoolArray = NDArray[np.bool_]

_POINT_FIELDS = ("J", "gap", "grad_norm", "min_pi_opt")
_STEP_FIELDS = ("kl", "eta", "eff_step")
_NP = len(_POINT_FIELDS)


class _Histories:
    """One buffer (T, B, 7): row t holds point t's fields (J, gap, ‖∇J‖, min π(a*)) and step t's (kl, η, eff).

    Column j is the row at position j of the initial method-sorted order, so that while no row has stopped a
    lockstep iteration records all its fields by one contiguous write (T + 1 point rows, T step rows).
    """

    def __init__(self, B: int, cap: int) -> None:
        self.cap = cap
        self.data = np.empty((cap, B, len(_POINT_FIELDS) + len(_STEP_FIELDS)))

    def ensure(self, t: int, limit: int) -> None:
        """Room for row t (grown by doubling, at most ``limit`` rows)."""
        if t < self.cap:
            return
        cap = min(max(2 * self.cap, t + 1), limit)
        grown = np.empty((cap, *self.data.shape[1:]))
        grown[: self.cap] = self.data
        self.data = grown
        self.cap = cap


def _check_theta0(mdp: TabularMDP, theta0: Any, B: int) -> Array:
    """Tabular logits θ₀ of shape (S, A) (shared) or (B, S, A), real and finite; returned (B, S, A)."""
    return _check_params0(theta0, (mdp.S, mdp.A), "S, A", B)


def _check_params0(theta0: Any, shape: tuple[int, ...], names: str, B: int) -> Array:
    """θ₀ of shape ``shape`` (shared) or (B, *shape) (one per configuration), real and finite; returned (B, *shape).

    ``names`` spells the shape for the message: ``"S, A"`` (tabular softmax) or ``"k,"`` (log-linear).
    """
    t = as_real_array(theta0, "theta0")
    if t.shape == shape:
        t = np.broadcast_to(t, (B, *shape)).copy()
    elif t.shape != (B, *shape):
        raise ValueError(
            f"theta0 must have shape ({names}) = {shape} (shared) or (B, {names.rstrip(',')}) = {(B, *shape)} (one "
            f"per configuration); got shape {t.shape}"
        )
    check_finite(t, "theta0")
    return t


def _check_configs(configs: Any) -> list[tuple[Method, float, StepRule, Any]]:
    """Each configuration as (method record, λ, step rule, damping as given); errors name the index."""
    if isinstance(configs, str | bytes) or not isinstance(configs, Sequence):
        raise TypeError(f"configs must be a sequence of (method, step, damping) triples; got {type(configs).__name__}")
    out = []
    for i, cfg in enumerate(configs):
        if isinstance(cfg, str | bytes) or not isinstance(cfg, Sequence) or len(cfg) != 3:
            raise ValueError(f"configs[{i}] must be a (method, step, damping) triple; got {cfg!r}")
        name, step, damping = cfg
        try:
            method = get_method(name)
            lam = method.check_damping(damping)
            rule = as_step_rule(step)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"configs[{i}]: {exc}") from None
        out.append((method, lam, rule, damping))
    return out


def _directions(point: Any, groups: list[tuple[Method, slice]], lam: Array, idx: IntArray, attr: str) -> Array:
    """Every row's direction: one batched call per method slice, or the method's ``direction`` row by row.

    ``attr`` names the method's batched direction for the point's kind: ``batch_direction`` (a
    :class:`BatchPolicyPoint`) or ``param_batch_direction`` (a :class:`r1theory.batch_param.BatchParamPoint`).

    A NaN at a finite θ is the caller's to find (:func:`_check_nan`: a NaN direction makes θ + η·D non-finite,
    which the caller checks anyway).
    """
    n = len(point)
    out = np.empty(point.theta.shape)
    for method, rows in groups:
        sub = point if rows.stop - rows.start == n else point.take(rows)
        batched = getattr(method, attr)
        if batched is not None:
            dirn = batched(sub, lam[rows])
            if not isinstance(dirn, np.ndarray) or dirn.shape != sub.theta.shape:
                got = getattr(dirn, "shape", type(dirn).__name__)
                raise ValueError(
                    f"method {method.name!r}: {attr} must return an array of shape {sub.theta.shape}; got {got}"
                )
            out[rows] = dirn
        else:
            assert method.direction is not None
            for j in range(rows.start, rows.stop):
                p = point[j]
                try:
                    out[j] = _checked(method, p.theta, method.direction(p, float(lam[j])))
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"configs[{int(idx[j])}]: {exc}") from None
    return out


def _check_nan(out: Array, groups: list[tuple[Method, slice]], idx: IntArray) -> None:
    """Raise for a direction that is NaN at a finite θ, naming the configuration, as :func:`r1theory.direction_at`."""
    if np.isnan(out).any():
        j = int(np.flatnonzero(np.isnan(_flat(out)).any(axis=1))[0])
        name = next(m.name for m, rows in groups if rows.start <= j < rows.stop)
        raise ValueError(f"configs[{int(idx[j])}]: method {name!r}: direction returned NaN at a finite θ")


def _flat(x: Array) -> Array:
    """A batch of θ-shaped arrays as (n, size of θ): a view for the engine's C-ordered arrays."""
    return x.reshape(len(x), -1)


def _sq(x: Array) -> Array:
    """‖x_b‖² of each row of a batch of θ-shaped arrays."""
    f = _flat(x)
    return np.einsum("bi,bi->b", f, f)


@dataclass
class _Active:
    """The rows still running, ordered by method: their point and per-row settings, compacted as rows stop."""

    point: Any  # a BatchPolicyPoint or a BatchParamPoint
    g2: Array  # ‖∇J‖² at the point
    gap: Array  # V*(ρ) − J at the point
    idx: IntArray  # the configuration of each row
    pos: IntArray  # its column in the histories (its position in the initial sorted order)
    key: IntArray  # its method's group number (nondecreasing)
    lam: Array
    eta: Array  # the step rule's η
    normalized: BoolArray  # η_t = η/‖D_t‖
    custom: IntArray  # rows whose rule is a StepRule subclass (called row by row)
    any_normalized: bool = False
    cols: slice | IntArray = field(default_factory=lambda: slice(None))  # histories' columns: all until a row stops

    def __len__(self) -> int:
        return int(self.idx.size)

    def groups(self, methods: Sequence[Method]) -> list[tuple[Method, slice]]:
        """(method, slice of its rows) for every method still running."""
        bounds = np.flatnonzero(np.diff(self.key)) + 1
        starts = [0, *bounds.tolist()]
        stops = [*bounds.tolist(), len(self)]
        return [(methods[int(self.idx[a])], slice(a, b)) for a, b in zip(starts, stops, strict=True)]

    def drop(self, stop: BoolArray, rules: Sequence[StepRule]) -> None:
        """Remove the rows where ``stop`` is True."""
        keep = ~stop
        self.point = self.point.take(np.flatnonzero(keep))
        self.g2, self.gap = self.g2[keep], self.gap[keep]
        self.idx, self.key, self.lam = self.idx[keep], self.key[keep], self.lam[keep]
        self.pos = self.cols = self.pos[keep]
        self.eta, self.normalized = self.eta[keep], self.normalized[keep]
        self.custom = np.flatnonzero([type(rules[i]) is not StepRule for i in self.idx.tolist()])
        self.any_normalized = bool(self.normalized.any())


def iterate_batch(
    mdp: TabularMDP,
    theta0: Any,
    configs: Sequence[Config],
    iterations: int,
    *,
    tol: float = 0.0,
    optimum: Optimal | None = None,
    stall_window: int = 200,
    stall_tol: float | None = None,
    param: Parametrisation | None = None,
    on_run: Callable[[int, Run], None] | None = None,
) -> list[Run]:
    """Run B configurations of :func:`r1theory.iterate` on one MDP in lockstep; one :class:`Run` per configuration.

    Configuration i runs θ_{t+1} = θ_t + η_t·direction(method_i, θ_t) from θ₀ with its own step rule and
    damping, and its run equals ``iterate(mdp, theta0, method_i, step_i, iterations, damping_i, tol,
    optimum=optimum, stall_window=stall_window, stall_tol=stall_tol)``: the same status, message and
    number of iterations, and the same histories to rounding (module docstring).

    Parameters
    ----------
    mdp
        A dense :class:`r1theory.TabularMDP` shared by every configuration.
    theta0
        Initial logits: shape (S, A), shared, or (B, S, A), one per configuration.
    configs
        A sequence of B ``(method, step, damping)`` triples: a method of :data:`r1theory.METHODS` (any
        mix; grouped internally by method, see the module docstring), a positive constant or a
        :class:`r1theory.steps.StepRule`, and λ (None for the undamped methods).
    iterations
        The iteration cap T ≥ 0, shared.
    tol, optimum, stall_window, stall_tol
        As for :func:`r1theory.iterate`, shared by every configuration.
    param
        None or a tabular softmax parametrisation, or a :class:`r1theory.LogLinear` one (θ₀ then of shape
        (k,) or (B, k); :mod:`r1theory.batch_param`). Neural policies are not batched.
    on_run
        Called as ``on_run(i, run)`` as soon as configuration i has stopped, with the :class:`Run` it
        returns for it (the sweep runner writes each finished run to its cache at once, so an
        interrupted batch keeps the runs that finished).

    Returns
    -------
    list[Run]
        The runs in the order of ``configs``.

    Raises
    ------
    TypeError, ValueError
        For an invalid argument (a configuration's error names its index), a parametrisation other than
        tabular softmax or log-linear, a sparse MDP, or a direction that is NaN at a finite θ (as
        :func:`r1theory.iterate` raises for that configuration).
    """
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp must be an r1theory.TabularMDP; got {type(mdp).__name__}")
    tabular = isinstance(param, Parametrisation) and param.is_tabular
    if param is not None and not (tabular or isinstance(param, LogLinear)):
        name = getattr(param, "name", type(param).__name__)
        raise ValueError(
            f"iterate_batch supports tabular softmax and log-linear policies only; got param={name!r}. Run the "
            "configurations of another parametrisation one at a time with r1theory.iterate(..., param=param)"
        )
    if param is not None and (param.S, param.A) != (mdp.S, mdp.A):
        raise ValueError(f"param is for (S, A) = {(param.S, param.A)} but the MDP has {(mdp.S, mdp.A)}")
    if mdp.is_sparse:
        raise ValueError(
            "iterate_batch needs a dense MDP (one batched dense LU per iteration); use mdp.to_dense() for a small "
            "sparse MDP, or r1theory.iterate (Krylov solves) for a large one"
        )
    checked = _check_configs(configs)
    T = _check_iterations(iterations)
    if not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be a finite number >= 0; got {tol!r}")
    if isinstance(stall_window, bool) or not isinstance(stall_window, int | np.integer) or stall_window < 0:
        raise ValueError(f"stall_window must be an integer >= 0; got {stall_window!r}")
    W = int(stall_window)
    B = len(checked)
    make_point: Callable[[Array], Any]
    if isinstance(param, LogLinear):  # θ stacked (B, k): the dense Fisher per row (r1theory.batch_param)
        theta = _check_params0(theta0, (param.n_params,), "k,", B)
        make_point, attr = partial(batch_param_point, mdp, param), "param_batch_direction"
    else:
        theta = _check_theta0(mdp, theta0, B)
        make_point, attr = partial(_batch_policy_point, mdp), "batch_direction"
    if B == 0:
        return []
    opt = optimum if optimum is not None else optimal(mdp)
    stall = stall_tol if stall_tol is not None else 1e-13 * (1.0 + abs(opt.J))
    methods = [m for m, *_ in checked]
    rules = [r for _, _, r, _ in checked]

    # rows ordered by method (stable; methods in order of first appearance): each method is one slice
    first: dict[str, int] = {}
    for m in methods:
        first.setdefault(m.name, len(first))
    key = np.array([first[m.name] for m in methods], dtype=np.int64)
    idx = np.argsort(key, kind="stable").astype(np.int64)
    point = make_point(np.ascontiguousarray(theta[idx]))
    g2 = _sq(point.gradient)
    rows = _Active(
        point=point,
        g2=g2,
        gap=opt.J - point.ev.J,
        idx=idx,
        pos=np.arange(B, dtype=np.int64),
        key=key[idx],
        lam=np.array([checked[i][1] for i in idx], dtype=np.float64),
        eta=np.array([rules[i].eta for i in idx], dtype=np.float64),
        normalized=np.array([type(rules[i]) is StepRule and rules[i].kind == "normalized" for i in idx]),
        custom=np.flatnonzero([type(rules[i]) is not StepRule for i in idx]),
    )
    rows.any_normalized = bool(rows.normalized.any())
    SA = mdp.S * mdp.A
    opt_flat = np.arange(mdp.S) * mdp.A + opt.actions  # flat (s, a*(s)) in a (S·A,) block
    column = np.argsort(idx)  # configuration i's column of the histories (rows.pos)
    hist = _Histories(B, min(T + 1, 1024))
    length = np.zeros(B, dtype=np.int64)  # points recorded per configuration
    final_theta: list[Array | None] = [None] * B
    status = ["max_iterations"] * B
    message = [f"reached the cap of {T} iterations"] * B

    def point_fields(out: Array) -> None:
        """The per-point fields of the active rows' point into ``out`` (n, ≥ 4): J, gap, ‖∇J‖, min_s π(a*(s)|s)."""
        p = rows.point
        out[:, 0] = p.ev.J
        out[:, 1] = rows.gap
        np.sqrt(rows.g2, out=out[:, 2])
        np.min(p.pi.reshape(-1, SA).take(opt_flat, axis=1), axis=1, out=out[:, 3])

    def record_point(t: int, where: BoolArray) -> None:
        """Row t of the per-point histories of the active rows where ``where`` holds (their last point)."""
        hist.ensure(t, T + 1)
        fields = np.empty((len(rows), _NP))
        point_fields(fields)
        hist.data[t, rows.pos[where], :_NP] = fields[where]
        length[rows.idx[where]] = t + 1

    built: dict[int, Run] = {}

    def make_run(i: int) -> Run:
        """The :class:`Run` of configuration i, from its column of the histories."""
        method, _, rule, damping = checked[i]
        n_pts = int(length[i])
        theta_i = final_theta[i]
        assert theta_i is not None
        h = hist.data[:, int(column[i])]
        return Run(
            method=method.name,
            damping=damping,
            step=rule,
            J=h[:n_pts, 0].copy(),
            gap=h[:n_pts, 1].copy(),
            grad_norm=h[:n_pts, 2].copy(),
            min_pi_opt=h[:n_pts, 3].copy(),
            kl=h[: n_pts - 1, 4].copy(),
            eta=h[: n_pts - 1, 5].copy(),
            eff_step=h[: n_pts - 1, 6].copy(),
            theta=theta_i,
            status=status[i],
            message=message[i],
            J_star=opt.J,
        )

    def finished(i: int) -> None:
        """Build configuration i's run now that it has stopped, and report it to ``on_run``."""
        if on_run is not None:
            built[i] = make_run(i)
            on_run(i, built[i])

    def stop(where: BoolArray, what: str, text: Any, t: int) -> None:
        """Give the rows where ``where`` holds the status ``what`` (message ``text(row)``) and drop them.

        Their last point, rows.point, is point t of their runs: recorded here (a running row's point t is
        recorded with its step t).
        """
        record_point(t, where)
        for j in np.flatnonzero(where).tolist():
            i = int(rows.idx[j])
            status[i], message[i] = what, text(j)
            final_theta[i] = rows.point.theta[j].copy()
        stopped = rows.idx[where].tolist()
        rows.drop(where, rules)
        for i in stopped:
            finished(int(i))

    groups = rows.groups(methods)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # non-finite rows are detected and stopped
        for t in range(T):
            hist.ensure(t + 1, T + 1)
            done = rows.gap <= tol  # converged before the step (iterate checks gaps[-1] at the top of its loop)
            if done.any():
                gap = rows.gap
                stop(done, "converged", lambda j, gap=gap, t=t: f"gap {gap[j]:.3g} <= tol {tol:g} at t={t}", t)
                if not len(rows):
                    break
                groups = rows.groups(methods)
            p = rows.point
            dirn = _directions(p, groups, rows.lam, rows.idx, attr)
            eta = rows.eta
            if rows.any_normalized:
                norm = np.sqrt(_sq(dirn))
                eta = np.where(rows.normalized, np.where(norm > 0, eta / norm, 0.0), eta)
            if rows.custom.size:
                _check_nan(dirn, groups, rows.idx)  # before a rule sees the direction
                eta = eta.copy()
                for j in rows.custom.tolist():
                    eta[j] = rules[int(rows.idx[j])](t, dirn[j])
            new_theta = p.theta + eta.reshape(-1, *(1,) * (dirn.ndim - 1)) * dirn
            # a non-finite direction always makes θ non-finite (η·±inf, 0·inf and NaN·η are not finite), so
            # checking θ is iterate's check "direction and θ finite" (and finds a NaN direction, which raises)
            if not np.isfinite(new_theta).all():
                _check_nan(dirn, groups, rows.idx)
                finite = np.asarray(np.isfinite(_flat(new_theta)).all(axis=1))
                stop(~finite, "diverged", lambda j, eta=eta, t=t: f"non-finite θ after step {t} (η={eta[j]:.3g})", t)
                if not len(rows):
                    break
                dirn, eta, new_theta = dirn[finite], eta[finite], new_theta[finite]
                groups = rows.groups(methods)
            new = make_point(new_theta)
            if not np.isfinite(new.ev.J).all():
                finite = np.isfinite(new.ev.J)
                stop(~finite, "diverged", lambda j, t=t: f"non-finite J after step {t}", t)
                if not len(rows):
                    break
                dirn, eta, new = dirn[finite], eta[finite], new.take(np.flatnonzero(finite))
                groups = rows.groups(methods)
            # row t of the histories: point t's fields and the step's, KL(π_t ‖ π_{t+1}) averaged over d_t, η_t
            # and the effective PG step; written in place while every row runs, else gathered and scattered
            p, cols = rows.point, rows.cols
            rec = hist.data[t] if isinstance(cols, slice) else np.empty((len(rows), hist.data.shape[2]))
            point_fields(rec)
            kl = sum_actions(p.pi * (p.log_pi - new.log_pi))  # kl_rows of r1theory.iterates, block by block
            np.einsum("bs,bs->b", p.ev.d, kl, out=rec[:, 4])
            rec[:, 5] = eta
            eff = rec[:, 6]
            np.multiply(eta, np.einsum("bi,bi->b", _flat(dirn), _flat(p.gradient)), out=eff)
            np.divide(eff, rows.g2, out=eff)
            if not (rows.g2 > 0).all():
                eff[rows.g2 <= 0] = np.nan
            if not isinstance(cols, slice):
                hist.data[t, cols] = rec
            rows.point = new
            rows.g2 = _sq(new.gradient)
            rows.gap = opt.J - new.ev.J
            if t + 1 >= W:
                before = hist.data[t + 1 - W, cols, 0] if W else new.ev.J  # J W iterations ago
                frozen = np.abs(new.ev.J - before) < stall
                if frozen.any():
                    frozen &= rows.gap > tol
                if frozen.any():
                    gap = rows.gap
                    stop(
                        frozen,
                        "stalled",
                        lambda j, gap=gap: f"J moved < {stall:.1g} over {W} iterations with gap {gap[j]:.3g} > tol",
                        t + 1,
                    )
                    if not len(rows):
                        break
                    groups = rows.groups(methods)
    # the rows still running reached the cap (their last point is point T, or 0 when T = 0); as in iterate,
    # converged if the last gap ≤ tol
    if len(rows):
        record_point(T, np.ones(len(rows), dtype=bool))
    last = rows.gap <= tol
    for j, i in enumerate(rows.idx.tolist()):
        final_theta[i] = rows.point.theta[j].copy()
        if last[j]:
            status[i], message[i] = "converged", f"gap {rows.gap[j]:.3g} <= tol {tol:g} at t={int(length[i]) - 1}"
        finished(i)

    return [built[i] if i in built else make_run(i) for i in range(B)]
