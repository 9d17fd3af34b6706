"""Exact iterates θ_{t+1} = θ_t + η_t · direction(method, θ_t) and their histories.

A run records, for t = 0..T (the initial point included):

* ``J[t]`` = ρ·V^{π_t}, ``gap[t]`` = V*(ρ) − J[t] (V* by exact policy iteration),
* ``grad_norm[t]`` = ‖∇J(θ_t)‖₂,
* ``min_pi_opt[t]`` = min_s π_t(a*(s)|s), the quantity whose infimum is Mei et al. 2020's c,

and for t = 0..T−1 the step ``eta[t]``, ``kl[t]`` = E_{s∼d_t} KL(π_t(·|s) ‖ π_{t+1}(·|s)), and the
effective PG step ``eff_step[t]`` = η_t⟨direction_t, ∇J_t⟩/‖∇J_t‖²: the constant step at which plain PG
would make the same first-order progress (docs/claims.md#measurement-pitfalls: report the effective step so
that a step-size effect is not credited to curvature).

A run ends with one of four statuses:

* ``converged`` — gap ≤ tol;
* ``max_iterations`` — the iteration cap was reached while J was still moving;
* ``stalled`` — J moved by less than ``stall_tol`` over the last ``stall_window`` iterations with
  gap > tol: the iterate is frozen (typically at a near-deterministic policy where the
  direction underflows), which is not convergence;
* ``diverged`` — θ or J became non-finite; the history up to the last finite point is kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._einsum import einsum
from ._types import Array
from .directions import _checked, _pg, check_method, direction_at
from .evaluation import Optimal, optimal
from .mdp import TabularMDP
from .methods import get_method
from .point import PolicyPoint, next_point, policy_point
from .policies import Parametrisation
from .steps import StepRule, as_step_rule

STATUSES = ("converged", "max_iterations", "stalled", "diverged")


@dataclass(frozen=True)
class Run:
    """The history of one run; arrays have length T + 1 (per iterate) or T (per step)."""

    method: str
    damping: float | None
    step: StepRule
    J: Array
    gap: Array
    grad_norm: Array
    min_pi_opt: Array
    kl: Array
    eta: Array
    eff_step: Array
    theta: Array
    status: str
    message: str
    J_star: float
    conditions: dict[str, Any] = field(default_factory=dict)

    @property
    def iterations(self) -> int:
        """Number of updates performed (T)."""
        return len(self.J) - 1

    def to_record(self) -> dict[str, Any]:
        """The run as a record: its histories as float64 arrays, everything else JSON-ready.

        :meth:`from_record` rebuilds an equal run from it (the sweep cache stores runs this way).
        """
        return {
            **{k: np.asarray(getattr(self, k), dtype=np.float64) for k in HISTORIES},
            "method": self.method,
            "damping": self.damping,
            "step": self.step.as_dict(),
            "status": self.status,
            "message": self.message,
            "J_star": float(self.J_star),
            "conditions": dict(self.conditions),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Run:
        """The run a :meth:`to_record` record describes (fresh, or read back from a cache file).

        Raises
        ------
        ValueError
            When a field is missing or invalid, naming it.
        """
        missing = [k for k in (*HISTORIES, *_RECORD_SCALARS) if k not in record]
        if missing:
            raise ValueError(f"run record lacks the field(s) {', '.join(missing)}; it was not written by Run.to_record")
        if record["status"] not in STATUSES:
            raise ValueError(f"run record field status must be one of {', '.join(STATUSES)}; got {record['status']!r}")
        damping = record["damping"]
        return cls(
            method=str(record["method"]),
            damping=None if damping is None else float(damping),
            step=StepRule.from_dict(record["step"], "run record field step"),
            **{k: np.asarray(record[k], dtype=np.float64) for k in HISTORIES},
            status=str(record["status"]),
            message=str(record["message"]),
            J_star=float(record["J_star"]),
            conditions=dict(record.get("conditions") or {}),
        )


#: The array fields of a :class:`Run`: per iterate (T + 1) or per step (T), and the last θ.
HISTORIES: tuple[str, ...] = ("J", "gap", "grad_norm", "min_pi_opt", "kl", "eta", "eff_step", "theta")
_RECORD_SCALARS: tuple[str, ...] = ("method", "damping", "step", "status", "message", "J_star")


def kl_rows(log_p: Array, log_q: Array, p: Array) -> Array:
    """Per-state KL(p(·|s) ‖ q(·|s)) = Σ_a p (log p − log q), from log-probabilities (finite for finite logits)."""
    return einsum("sa,sa->s", p, log_p - log_q)


def _check_iterations(iterations: Any) -> int:
    if isinstance(iterations, bool) or not isinstance(iterations, int | np.integer) or iterations < 0:
        raise ValueError(f"iterations must be an integer >= 0; got {iterations!r}")
    return int(iterations)


def trajectory(
    mdp: TabularMDP,
    theta0: Any,
    method: str,
    step: StepRule | float,
    iterations: int,
    damping: float | None = None,
    *,
    param: Parametrisation | None = None,
) -> Iterator[PolicyPoint]:
    """The points θ_0, …, θ_T of θ_{t+1} = θ_t + η_t·direction(method, θ_t), each evaluated exactly.

    For analyses that need more of each iterate than a :class:`Run` records (gradients, visitation,
    the policy itself). No stopping rule but the cap T: the sequence ends early, without an error,
    at the first non-finite θ or J (then fewer than T + 1 points). Arguments as for :func:`iterate`;
    they are validated when this function is called, before the first point is drawn.
    """
    check_method(method, damping)
    rule = as_step_rule(step)
    T = _check_iterations(iterations)
    start = policy_point(mdp, theta0, param)

    def points() -> Iterator[PolicyPoint]:
        point = start
        yield point
        for t in range(T):
            with np.errstate(over="ignore", invalid="ignore"):
                dirn = direction_at(point, method, damping)
                theta = point.theta + rule(t, dirn) * dirn
            if not np.all(np.isfinite(theta)):
                return
            point = next_point(mdp, theta, point.param)
            if not np.isfinite(point.ev.J):
                return
            yield point

    return points()


def iterate(
    mdp: TabularMDP,
    theta0: Any,
    method: str,
    step: StepRule | float,
    iterations: int,
    damping: float | None = None,
    tol: float = 0.0,
    *,
    optimum: Optimal | None = None,
    stall_window: int = 200,
    stall_tol: float | None = None,
    param: Parametrisation | None = None,
) -> Run:
    """Run ``iterations`` exact updates of ``method`` from θ₀ and return the :class:`Run`.

    Parameters
    ----------
    mdp, theta0
        The MDP and the initial logits (S, A).
    method, damping
        A method of :data:`r1theory.METHODS` and its damping λ (required for the damped ones).
    step
        A :class:`r1theory.steps.StepRule` or a positive constant.
    iterations
        The iteration cap T ≥ 0.
    tol
        Stop as ``converged`` once gap ≤ tol.
    optimum
        The MDP's :func:`r1theory.optimal` result, to avoid recomputing it across runs.
    stall_window, stall_tol
        Declare ``stalled`` when J changed by less than ``stall_tol`` (default
        1e-13·(1 + |V*(ρ)|)) over the last ``stall_window`` iterations.
    param
        The policy parametrisation (tabular softmax by default); θ₀ must have its shape.
    """
    meth = get_method(method)
    lam = meth.check_damping(damping)
    rule = as_step_rule(step)
    iterations = _check_iterations(iterations)
    if not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be a finite number >= 0; got {tol!r}")
    opt = optimum if optimum is not None else optimal(mdp)
    stall = stall_tol if stall_tol is not None else 1e-13 * (1.0 + abs(opt.J))
    J_star = opt.J
    point = policy_point(mdp, theta0, param)
    par = point.param
    assert meth.direction is not None
    direction_fn = meth.direction
    is_pg = direction_fn is _pg  # the direction is the gradient the loop forms anyway: not formed twice
    A = mdp.A
    opt_flat = np.arange(mdp.S) * A + opt.actions  # flat indices of (s, a*(s)) in π
    add, minimum = np.add.reduce, np.minimum.reduce

    # Hot loop (issue #17): the inputs were validated above and every θ_{t+1} is checked finite below, so the
    # points are formed without re-validation (next_point), ∇J once per point, and the direction's checks of
    # direction_at run only when a cheap test fails; every recorded quantity is the same arithmetic as
    # before, bit for bit: ‖∇J‖ as numpy.linalg.norm forms it (√ of the flat dot), min_π as the minimum of
    # the same entries, the KL by kl_rows.
    Js, gaps, gnorms, mins, kls, etas, effs = [], [], [], [], [], [], []

    def record(p: PolicyPoint) -> Array:
        g = p.gradient
        gf = g.ravel(order="K")
        J = p.ev.J
        Js.append(J)
        gaps.append(J_star - J)
        gnorms.append(math.sqrt(float(gf.dot(gf))))
        mins.append(float(minimum(p.pi.take(opt_flat))))
        return g

    g = record(point)
    status, message = "max_iterations", f"reached the cap of {iterations} iterations"
    for t in range(iterations):
        if gaps[-1] <= tol:
            status, message = "converged", f"gap {gaps[-1]:.3g} <= tol {tol:g} at t={t}"
            break
        with np.errstate(over="ignore", invalid="ignore"):
            dirn = g if is_pg else direction_fn(point, lam)
            # direction_at's checks (a real array of θ's shape without NaN), skipped when one sum shows a
            # float64 array of θ's shape to be finite (a sum of finite numbers is finite unless it overflows)
            finite = (
                type(dirn) is np.ndarray
                and dirn.dtype == np.float64
                and dirn.shape == point.theta.shape
                and math.isfinite(add(dirn, axis=None))
            )
            if not finite:
                dirn = _checked(meth, point.theta, dirn)
            eta = rule(t, dirn)
            theta = point.theta + eta * dirn
            finite = finite and math.isfinite(add(theta, axis=None))
        if not (finite or (np.all(np.isfinite(dirn)) and np.all(np.isfinite(theta)))):
            status, message = "diverged", f"non-finite θ after step {t} (η={eta:.3g})"
            break
        new = next_point(mdp, theta, par)
        if not math.isfinite(new.ev.J):
            status, message = "diverged", f"non-finite J after step {t}"
            break
        kls.append(float(point.ev.d @ kl_rows(point.log_pi, new.log_pi, point.pi)))
        etas.append(eta)
        g2 = float(np.vdot(g, g))
        dg = g2 if dirn is g else float(np.vdot(dirn, g))  # pg: the same product
        effs.append(eta * dg / g2 if g2 > 0 else float("nan"))
        point = new
        g = record(point)
        if t + 1 >= stall_window and abs(Js[-1] - Js[-1 - stall_window]) < stall and gaps[-1] > tol:
            status = "stalled"
            message = f"J moved < {stall:.1g} over {stall_window} iterations with gap {gaps[-1]:.3g} > tol"
            break
    if status == "max_iterations" and gaps[-1] <= tol:
        status, message = "converged", f"gap {gaps[-1]:.3g} <= tol {tol:g} at t={len(Js) - 1}"
    return Run(
        method=method,
        damping=damping,
        step=rule,
        J=np.asarray(Js),
        gap=np.asarray(gaps),
        grad_norm=np.asarray(gnorms),
        min_pi_opt=np.asarray(mins),
        kl=np.asarray(kls),
        eta=np.asarray(etas),
        eff_step=np.asarray(effs),
        theta=point.theta,
        status=status,
        message=message,
        J_star=J_star,
    )
