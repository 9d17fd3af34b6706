"""Exact iterates of many configurations of one log-linear policy class in lockstep (``iterate_batch(..., param=)``).

:func:`r1theory.iterate_batch` with ``param`` a :class:`r1theory.LogLinear` comes here. θ is stacked (B, k);
every iteration evaluates the B policies at their logits Φθ^b by one batched evaluation and computes each
method's direction for all its rows at once (the method's ``param_batch_direction``,
:mod:`r1theory.batch_param`, with the dense Fisher F = ΦᵀF_ℓΦ formed per row where the method needs it).
Each configuration keeps its own step rule and stopping rule and gets the :class:`r1theory.Run` that
``iterate(mdp, theta0, method, step, T, damping, tol, ..., param=param)`` returns for it: the same status,
message and iteration count, the histories equal to rounding, as for tabular softmax
(:mod:`r1theory.batch_iterates`; tests/test_iterate_batch_param.py states the tolerances).

Rules shared with the tabular engine: rows ordered by method, each method's direction computed once per
iteration on its slice; a method without a ``param_batch_direction`` (a plugin's) computed row by row by its
``direction`` at each row's :class:`r1theory.PolicyPoint`; step rules of kind ``constant`` and ``normalized``
vectorised, a :class:`StepRule` subclass called row by row; stopped rows leave the batch; a row's run is the
same bit for bit whatever the other rows of its batch. The stopping rules are :func:`r1theory.iterate`'s
(:mod:`r1theory.iterates`), written here once more for (B, k) parameters because the tabular loop is written
for (B, S, A) ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._types import Array, IntArray
from ._validate import as_real_array, check_finite
from .batch import sum_actions
from .batch_iterates import Config, _check_configs
from .batch_param import BatchParamPoint, batch_param_point
from .directions import _checked
from .evaluation import Optimal, optimal
from .iterates import Run
from .mdp import TabularMDP
from .methods import Method
from .policies import LogLinear
from .steps import StepRule

BoolArray = NDArray[np.bool_]

_FIELDS = ("J", "gap", "grad_norm", "min_pi_opt", "kl", "eta", "eff_step")


class _Histories:
    """Per-field buffers (T + 1 rows per point, T per step, one column per configuration), grown by doubling."""

    def __init__(self, B: int, cap: int) -> None:
        self.cap = cap
        self.data = {f: np.empty((cap, B)) for f in _FIELDS}

    def ensure(self, t: int, limit: int) -> None:
        """Room for row t (at most ``limit`` rows)."""
        if t < self.cap:
            return
        cap = min(max(2 * self.cap, t + 1), limit)
        for f, buf in self.data.items():
            grown = np.empty((cap, buf.shape[1]))
            grown[: self.cap] = buf
            self.data[f] = grown
        self.cap = cap


def _check_theta0(theta0: Any, k: int, B: int) -> Array:
    """θ₀ of shape (k,) (shared) or (B, k) (one per configuration), real and finite; returned (B, k)."""
    t = as_real_array(theta0, "theta0")
    if t.shape == (k,):
        t = np.broadcast_to(t, (B, k)).copy()
    elif t.shape != (B, k):
        raise ValueError(
            f"theta0 must have shape (k,) = {(k,)} (shared) or (B, k) = {(B, k)} (one per configuration) for a "
            f"log-linear policy with k = {k} features; got shape {t.shape}"
        )
    check_finite(t, "theta0")
    return t


def _directions(point: BatchParamPoint, groups: list[tuple[Method, slice]], lam: Array, idx: IntArray) -> Array:
    """Every row's direction: one batched call per method slice, or the method's ``direction`` row by row."""
    n = len(point)
    out = np.empty(point.theta.shape)
    for method, rows in groups:
        sub = point if rows.stop - rows.start == n else point.take(rows)
        if method.param_batch_direction is not None:
            dirn = method.param_batch_direction(sub, lam[rows])
            if not isinstance(dirn, np.ndarray) or dirn.shape != sub.theta.shape:
                got = getattr(dirn, "shape", type(dirn).__name__)
                raise ValueError(
                    f"method {method.name!r}: param_batch_direction must return an array of shape "
                    f"{sub.theta.shape}; got {got}"
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
    if np.isnan(out).any():
        j = int(np.flatnonzero(np.isnan(out).any(axis=1))[0])
        name = next(m.name for m, rows in groups if rows.start <= j < rows.stop)
        raise ValueError(f"configs[{int(idx[j])}]: method {name!r}: direction returned NaN at a finite θ")
    return out


class _Rows:
    """The rows still running, ordered by method, with their per-row settings; compacted as rows stop."""

    def __init__(self, point: BatchParamPoint, opt_J: float, idx: IntArray, key: IntArray, lam: Array,
                 eta: Array, normalized: BoolArray, custom: BoolArray) -> None:  # fmt: skip
        self.point = point
        self.g2 = np.einsum("bi,bi->b", point.gradient, point.gradient)
        self.gap = opt_J - point.ev.J
        self.idx, self.key, self.lam, self.eta = idx, key, lam, eta
        self.normalized, self.is_custom = normalized, custom

    def __len__(self) -> int:
        return int(self.idx.size)

    def groups(self, methods: Sequence[Method]) -> list[tuple[Method, slice]]:
        """(method, slice of its rows) for every method still running."""
        bounds = np.flatnonzero(np.diff(self.key)) + 1
        starts, stops = [0, *bounds.tolist()], [*bounds.tolist(), len(self)]
        return [(methods[int(self.idx[a])], slice(a, b)) for a, b in zip(starts, stops, strict=True)]

    def drop(self, stop: BoolArray) -> None:
        """Remove the rows where ``stop`` is True."""
        keep = ~stop
        self.point = self.point.take(np.flatnonzero(keep))
        self.g2, self.gap = self.g2[keep], self.gap[keep]
        self.idx, self.key, self.lam, self.eta = self.idx[keep], self.key[keep], self.lam[keep], self.eta[keep]
        self.normalized, self.is_custom = self.normalized[keep], self.is_custom[keep]


def iterate_batch_loglinear(
    mdp: TabularMDP,
    theta0: Any,
    configs: Sequence[Config],
    iterations: int,
    *,
    param: LogLinear,
    tol: float,
    optimum: Optimal | None,
    stall_window: int,
    stall_tol: float | None,
    on_run: Callable[[int, Run], None] | None,
) -> list[Run]:
    """:func:`r1theory.iterate_batch` for a log-linear ``param`` (θ₀ of shape (k,) or (B, k)); arguments as there.

    The caller (:func:`r1theory.iterate_batch`) has checked ``mdp`` (a dense :class:`r1theory.TabularMDP`),
    ``param`` against its sizes, ``iterations`` (T), ``tol`` and ``stall_window``; ``configs`` and θ₀ are
    checked here.
    """
    checked = _check_configs(configs)
    T, W = int(iterations), int(stall_window)
    B = len(checked)
    k = param.n_params
    theta = _check_theta0(theta0, k, B)
    if B == 0:
        return []
    opt = optimum if optimum is not None else optimal(mdp)
    stall = stall_tol if stall_tol is not None else 1e-13 * (1.0 + abs(opt.J))
    methods = [m for m, *_ in checked]
    rules = [r for _, _, r, _ in checked]

    first: dict[str, int] = {}
    for m in methods:
        first.setdefault(m.name, len(first))
    key = np.array([first[m.name] for m in methods], dtype=np.int64)
    idx = np.argsort(key, kind="stable").astype(np.int64)
    plain = [type(r) is StepRule for r in rules]
    rows = _Rows(
        batch_param_point(mdp, param, np.ascontiguousarray(theta[idx])),
        opt.J,
        idx,
        key[idx],
        lam=np.array([checked[i][1] for i in idx], dtype=np.float64),
        eta=np.array([rules[i].eta for i in idx], dtype=np.float64),
        normalized=np.array([plain[i] and rules[i].kind == "normalized" for i in idx], dtype=bool),
        custom=np.array([not plain[i] for i in idx], dtype=bool),
    )
    states = np.arange(mdp.S)
    hist = _Histories(B, min(T + 1, 1024))
    length = np.zeros(B, dtype=np.int64)
    final_theta: list[Array | None] = [None] * B
    status = ["max_iterations"] * B
    message = [f"reached the cap of {T} iterations"] * B
    built: dict[int, Run] = {}

    def record_point(t: int) -> None:
        p, cols = rows.point, rows.idx
        hist.ensure(t, T + 1)
        hist.data["J"][t, cols] = p.ev.J
        hist.data["gap"][t, cols] = rows.gap
        hist.data["grad_norm"][t, cols] = np.sqrt(rows.g2)
        hist.data["min_pi_opt"][t, cols] = p.pi[:, states, opt.actions].min(axis=1)
        length[cols] = t + 1

    def make_run(i: int) -> Run:
        method, _, rule, damping = checked[i]
        n_pts = int(length[i])
        theta_i = final_theta[i]
        assert theta_i is not None
        h = hist.data
        return Run(
            method=method.name,
            damping=damping,
            step=rule,
            J=h["J"][:n_pts, i].copy(),
            gap=h["gap"][:n_pts, i].copy(),
            grad_norm=h["grad_norm"][:n_pts, i].copy(),
            min_pi_opt=h["min_pi_opt"][:n_pts, i].copy(),
            kl=h["kl"][: n_pts - 1, i].copy(),
            eta=h["eta"][: n_pts - 1, i].copy(),
            eff_step=h["eff_step"][: n_pts - 1, i].copy(),
            theta=theta_i,
            status=status[i],
            message=message[i],
            J_star=opt.J,
        )

    def stop(where: BoolArray, what: str, text: Callable[..., str]) -> None:
        for j in np.flatnonzero(where).tolist():
            i = int(rows.idx[j])
            status[i], message[i] = what, text(j)
            final_theta[i] = rows.point.theta[j].copy()
        stopped = rows.idx[where].tolist()
        rows.drop(where)
        for i in stopped:
            if on_run is not None:
                built[int(i)] = make_run(int(i))
                on_run(int(i), built[int(i)])

    record_point(0)
    groups = rows.groups(methods)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # non-finite rows are detected and stopped
        for t in range(T):
            done = rows.gap <= tol  # converged before the step
            if done.any():
                gap = rows.gap
                stop(done, "converged", lambda j, gap=gap, t=t: f"gap {gap[j]:.3g} <= tol {tol:g} at t={t}")
                if not len(rows):
                    break
                groups = rows.groups(methods)
            p = rows.point
            dirn = _directions(p, groups, rows.lam, rows.idx)
            eta = rows.eta
            if rows.normalized.any():
                norm = np.sqrt(np.einsum("bi,bi->b", dirn, dirn))
                eta = np.where(rows.normalized, np.where(norm > 0, eta / norm, 0.0), eta)
            if rows.is_custom.any():
                eta = eta.copy()
                for j in np.flatnonzero(rows.is_custom).tolist():
                    eta[j] = rules[int(rows.idx[j])](t, dirn[j])
            new_theta = p.theta + eta[:, None] * dirn
            if not np.isfinite(new_theta).all():  # a non-finite direction makes θ non-finite (iterate's check)
                finite = np.asarray(np.isfinite(new_theta).all(axis=1))
                stop(~finite, "diverged", lambda j, eta=eta, t=t: f"non-finite θ after step {t} (η={eta[j]:.3g})")
                if not len(rows):
                    break
                dirn, eta, new_theta = dirn[finite], eta[finite], new_theta[finite]
                groups = rows.groups(methods)
            new = batch_param_point(mdp, param, new_theta)
            if not np.isfinite(new.ev.J).all():
                finite = np.isfinite(new.ev.J)
                stop(~finite, "diverged", lambda j, t=t: f"non-finite J after step {t}")
                if not len(rows):
                    break
                dirn, eta, new = dirn[finite], eta[finite], new.take(np.flatnonzero(finite))
                groups = rows.groups(methods)
            p, cols = rows.point, rows.idx
            kl = sum_actions(p.pi * (p.log_pi - new.log_pi))  # kl_rows of r1theory.iterates, block by block
            hist.ensure(t, T + 1)
            hist.data["kl"][t, cols] = np.einsum("bs,bs->b", p.ev.d, kl)
            hist.data["eta"][t, cols] = eta
            eff = eta * np.einsum("bi,bi->b", dirn, p.gradient) / rows.g2
            eff[rows.g2 <= 0] = np.nan
            hist.data["eff_step"][t, cols] = eff
            rows.point = new
            rows.g2 = np.einsum("bi,bi->b", new.gradient, new.gradient)
            rows.gap = opt.J - new.ev.J
            record_point(t + 1)
            if t + 1 >= W:
                J = hist.data["J"]
                frozen = (np.abs(J[t + 1, cols] - J[t + 1 - W, cols]) < stall) & (rows.gap > tol)
                if frozen.any():
                    gap = rows.gap
                    stop(
                        frozen,
                        "stalled",
                        lambda j, gap=gap: f"J moved < {stall:.1g} over {W} iterations with gap {gap[j]:.3g} > tol",
                    )
                    if not len(rows):
                        break
                    groups = rows.groups(methods)
    last = rows.gap <= tol  # the rows still running reached the cap; converged if the last gap ≤ tol
    for j, i in enumerate(rows.idx.tolist()):
        final_theta[i] = rows.point.theta[j].copy()
        if last[j]:
            status[i], message[i] = "converged", f"gap {rows.gap[j]:.3g} <= tol {tol:g} at t={int(length[i]) - 1}"
        if on_run is not None:
            built[i] = make_run(i)
            on_run(i, built[i])
    return [built[i] if i in built else make_run(i) for i in range(B)]
