"""Access to the C1 sweep shared by the figures (the runs ``proofs_checks.c1_faster_than_pg`` made).

:func:`sweep` returns :func:`proofs_checks.c1_faster_than_pg.runs` for the context: from the cache
when ``r1theory verify`` already ran with the same ``--out``, memoised for the other figures of the
same invocation. The helpers pick, per family, the runs a figure shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from proofs_checks import c1_faster_than_pg as c1
from proofs_checks.context import Context
from r1theory import Run


def methods(s1: c1.Sweep1 | None = None) -> tuple[str, ...]:
    """Methods in the order the figures list them: PG first, then the C1 candidates.

    The candidates are a query of the registry, or those of the sweep ``s1`` (a study's ``--methods``).
    """
    return ("pg", *(c1.METHODS if s1 is None else s1.methods))


def sweep(ctx: Context) -> c1.Sweep1:
    """The C1 sweep of ``ctx`` (run, or loaded from the cache, once per sweep runner)."""
    return c1.runs(ctx)


def eps(s1: c1.Sweep1, label: str, which: str = "tight") -> float:
    """The ε of the C1 check on family ``label``: the sweep's level ``which`` × the initial gap.

    With a study's ``--eps`` levels, "tight" is the smallest and "loose" the largest of them.
    """
    rel = s1.eps[which] if which in s1.eps else (max if which == "loose" else min)(s1.eps.values())
    return rel * s1.gap0[label]


def family(s1: c1.Sweep1, label: str) -> c1.Family:
    """The family called ``label``."""
    return next(f for f in s1.families if f.label == label)


def tabular(f: c1.Family) -> bool:
    """True when the family's policy is tabular softmax (θ = logits)."""
    return f.param is None or f.param.get("kind") == "tabular"


def title_of(f: c1.Family) -> str:
    """``label: instance(k=v, …)`` for panel titles, with the parametrisation when it is not tabular."""
    params = ", ".join(f"{k}={v}" for k, v in f.params.items())
    out = f"{f.label}: {f.instance}({params})"
    if not tabular(f):
        assert f.param is not None
        spec = ", ".join(f"{k}={v}" for k, v in f.param.items() if k != "kind")
        out += f"\n{f.param['kind']} policy({spec})"
    return out


@dataclass(frozen=True)
class Pick:
    """One run of the sweep: method, damping, step, iterations to ε and the run itself."""

    method: str
    damping: float | None
    eta: float
    T: int | None
    run: Run


def best_run(s1: c1.Sweep1, label: str, method: str, eps_: float) -> Pick:
    """The tuned run of ``method`` on family ``label``: fewest iterations to ε over every (λ, η) tried.

    Ties are broken by the smaller final gap, then the smaller λ and η (deterministic).
    """
    best: tuple[tuple[float, float, float, float], Pick] | None = None
    for (lab, m, lam), s in s1.series.items():
        if lab != label or m != method:
            continue
        for eta, r in s.runs.items():
            T = s.T(eta, eps_)
            key = (math.inf if T is None else float(T), float(r.gap[-1]), lam or 0.0, eta)
            if best is None or key < best[0]:
                best = (key, Pick(method, lam, eta, T, r))
    if best is None:
        raise KeyError(f"no run of {method!r} on family {label!r} in the C1 sweep")
    return best[1]


def tuned_pg(s1: c1.Sweep1, label: str, eps_: float) -> Pick:
    """PG at its best step of the grid for ε (the step the C1 ``tuned`` protocol compares against)."""
    s = s1.series[(label, "pg", None)]
    eta = s.best(eps_)
    return Pick("pg", None, eta, s.T(eta, eps_), s.runs[eta])


def slowest_converging_pg(s1: c1.Sweep1, label: str, eps_: float) -> Pick:
    """PG at the smallest step of the sweep whose run reaches ε (the tuned run if none is smaller).

    Its iterates move smoothly from the start to a near-deterministic policy (no greedy jump), so
    quantities measured along it cover the whole range of policy entropies the problem visits.
    """
    s = s1.series[(label, "pg", None)]
    ok = [eta for eta in sorted(s.runs) if s.T(eta, eps_) is not None]
    if not ok:
        return tuned_pg(s1, label, eps_)
    eta = ok[0]
    return Pick("pg", None, eta, s.T(eta, eps_), s.runs[eta])
