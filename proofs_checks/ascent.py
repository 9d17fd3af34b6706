"""Ascent: each method's exact direction is an ascent direction, and J is monotone at its C1 step.

J increases monotonically at the step the C1 check selected for the method.

Two parts per (family, method, λ), reusing the C1 sweep's runs (no recomputation):

* ``direction`` — ⟨direction_t, ∇J_t⟩ ≥ 0 at every iterate of every run of the grid (read off the
  sign of the recorded effective step η⟨direction, ∇J⟩/‖∇J‖²). Preconditioners that are positive
  definite (``pg``, ``npg-damped``, ``r1-grad``, ``r1-precond``, ``r1-eigen``) must pass; the
  same-sample expectation ``r1-same`` (V2) has no such guarantee (docs/claims.md#v2-r1-same).
* ``monotone`` — J(θ_{t+1}) ≥ J(θ_t) − tolerance along the run at the method's tuned step
  (the step on which the C1 ``tuned`` verdict rests), tolerance 1e-12·(1 + |J*|).

Not the same statement as ``ascent.stated-step`` (:mod:`proofs_checks.falsify.ascent_stated_step`: one
step at the smoothness-certified step λ/L, at any θ), hence a different id (:mod:`proofs_checks.claims`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import c1_faster_than_pg as c1
from .context import Context
from .result import CheckResult

CLAIM = "ascent"
STATEMENT = (
    "Ascent: the method's exact direction d satisfies ⟨d, ∇J⟩ ≥ 0 at every iterate, and J is non-decreasing "
    "along the run at the step used by the C1 check"
)


def check(ctx: Context) -> list[CheckResult]:
    """One result per (family, method, λ, part)."""
    data = c1.runs(ctx)
    out: list[CheckResult] = []
    for fam in data.families:
        eps = min(data.eps.values()) * data.gap0[fam.label]  # the tightest ε, as C1's tuned verdict
        for (label, method, lam), s in data.series.items():
            if label == fam.label:
                cond = {"family": fam.label, "instance": fam.instance, "params": fam.params, "damping": lam}
                out += assess(method, cond, s, eps)
    return out


def assess(method: str, cond: dict[str, Any], s: c1.Series, eps: float) -> list[CheckResult]:
    """The two parts for one series of runs (one method and λ on one family)."""
    worst_eta, worst_t, worst = None, None, 0.0
    n_iterates = 0
    for eta, r in sorted(s.runs.items()):
        e = r.eff_step[np.isfinite(r.eff_step)]
        n_iterates += e.size
        if e.size and float(e.min()) < worst:
            worst, worst_eta, worst_t = float(e.min()), eta, int(np.nanargmin(r.eff_step))
    ok = worst_eta is None
    direction = CheckResult(
        claim=CLAIM,
        statement=STATEMENT,
        variant=method,
        conditions={**cond, "part": "direction", "steps": sorted(s.runs)},
        measured={"min_effective_step": worst, "iterates_checked": n_iterates},
        bound={"min_effective_step": ">= 0"},
        verdict="holds" if ok else "fails",
        evidence={} if ok else {"reason": f"⟨d, ∇J⟩ < 0 at iterate {worst_t} of the run with η={worst_eta:g}"},
    )
    best = s.best(eps)
    r = s.runs[best]
    drops = -np.diff(r.J)
    tol = 1e-12 * (1.0 + abs(r.J_star))
    worst_drop = float(drops.max()) if drops.size else 0.0
    mono = worst_drop <= tol
    monotone = CheckResult(
        claim=CLAIM,
        statement=STATEMENT,
        variant=method,
        conditions={**cond, "part": "monotone", "eta": best},
        measured={"max_decrease": worst_drop, "iterations": r.iterations, "status": r.status},
        bound={"max_decrease": f"<= {tol:.1e}"},
        verdict=("holds" if mono else "fails") if drops.size else "inconclusive",
        slack=tol - worst_drop,
        evidence={} if mono else {"reason": f"J decreases by {worst_drop:.3g} at iterate {int(np.argmax(drops))}"},
    )
    return [direction, monotone]


if __name__ == "__main__":
    from .runner import module_main

    raise SystemExit(module_main(__name__))
