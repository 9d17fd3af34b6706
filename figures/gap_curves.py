"""Gap V*(ρ) − J(θ_t) against iteration t (log–log), each method at its tuned (λ, η), per family.

One panel per family of the C1 suite. Each method is shown at the damping λ and step η (from the
C1 sweep's grids) that reach the tight ε = 10⁻⁴·gap₀ in the fewest iterations; the runs stop at ε
(the C1 runs' tolerance). Two references are drawn:

* **O(1/t)**: c/(t + 1), anchored on PG's curve at the end of its fitted tail window (Mei et al.
  2020: softmax PG with a constant step has V* − J = Θ(1/t), slope −1 on log–log axes);
* **linear**: C·qᵗ, the least-squares linear rate (``r1theory.rates.fit_linear``) of the fastest
  method on the panel whose run has enough points — a straight line in t, a curve bending down on
  log–log axes.

The horizontal axis is t + 1, so that the start t = 0 (where every method has the same gap₀) is on
the logarithmic axis.

Claim: C1 (does a rank-1 method get below ε sooner than PG, and with which rate shape; PG's
Θ(1/t) of Mei et al. 2020 is the reference shape).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from proofs_checks.context import Context
from r1theory import rates

from . import _c1, _style

NAME = "gap_curves"
CLAIMS: tuple[str, ...] = ("c1.faster-than-pg",)
TITLE = "Optimality gap against iteration, each method at its tuned (λ, η)"
#: Gaps below ε/CLIP are drawn at ε/CLIP (the runs stop at ε; below it only the last step lands).
CLIP = 10.0
#: The O(1/t) reference is anchored on PG's curve only when PG's tail decays (fitted log–log slope below this).
MIN_DECAY = -0.5


def references(pg_gap: np.ndarray, fast: list[np.ndarray], J_star: float, until: int) -> dict[str, Any]:
    """The O(1/t) reference from PG's gap and the linear reference from the first fit-able curve of ``fast``.

    ``sublinear``: ``gap = c/x`` on ``x = t + 1 = 1..until+1``, with ``c = (t_a + 1)·gap_pg(t_a)`` at the
    end t_a of PG's sublinear fit window, and PG's fitted log–log slope; ``linear``: ``gap =
    exp(log_c + t·log q)`` on ``x = t + 1`` over the source run, with ``q`` its fitted contraction and
    ``source`` its index in ``fast`` (curves ordered fastest first). Either is None when no fit exists
    (fewer than 5 points above the float floor), and the O(1/t) one also when PG's tail does not decay
    (fitted slope ≥ :data:`MIN_DECAY`: a plateau gives no anchor).
    """
    floor = rates.floor_for(J_star)
    out: dict[str, Any] = {"sublinear": None, "linear": None}
    fit = rates.fit_sublinear(pg_gap, floor=floor)
    if fit is not None and fit.slope < MIN_DECAY:
        ta = fit.t_end
        c = float((ta + 1) * pg_gap[ta])
        x = np.arange(1, max(until, 1) + 2, dtype=np.float64)
        out["sublinear"] = {"c": c, "x": x, "gap": c / x, "fit_slope": fit.slope, "t_anchor": ta}
    for i, g in enumerate(fast):
        lin = rates.fit_linear(g, floor=floor)
        if lin is None or lin.slope >= 0:
            continue
        t = np.arange(len(g), dtype=np.float64)
        out["linear"] = {
            "q": math.exp(lin.slope),
            "log_c": lin.intercept,
            "x": t + 1,
            "gap": np.exp(lin.intercept + lin.slope * t),
            "source": i,
            "window": [lin.t_start, lin.t_end],
        }
        break
    return out


def data(ctx: Context) -> dict[str, Any]:
    """Per family: the tuned run of every method (gap history, λ, η, T to ε) and the two references."""
    s1 = _c1.sweep(ctx)
    panels = []
    for f in s1.families:
        eps = _c1.eps(s1, f.label)
        picks = [
            _c1.tuned_pg(s1, f.label, eps) if m == "pg" else _c1.best_run(s1, f.label, m, eps) for m in _c1.methods(s1)
        ]
        curves: list[dict[str, Any]] = []
        for p in picks:
            curves.append(
                {
                    "method": p.method,
                    "damping": p.damping,
                    "eta": p.eta,
                    "T": p.T,
                    "status": p.run.status,
                    "gap": np.asarray(p.run.gap, dtype=np.float64),
                }
            )
        J_star = picks[0].run.J_star
        order = sorted(range(1, len(curves)), key=lambda i: (curves[i]["T"] is None, curves[i]["T"] or 0))
        refs = references(curves[0]["gap"], [curves[i]["gap"] for i in order], J_star, f.iterations)
        if refs["linear"] is not None:
            refs["linear"]["method"] = curves[order[refs["linear"].pop("source")]]["method"]
        panels.append(
            {
                "family": f.label,
                "title": _c1.title_of(f),
                "eps": eps,
                "gap0": s1.gap0[f.label],
                "floor": rates.floor_for(J_star),
                "iterations": f.iterations,
                "curves": curves,
                "references": refs,
            }
        )
    return {"mode": ctx.mode, "panels": panels}


def draw(data: dict[str, Any], path_stem: Path | str) -> list[Path]:
    """Log–log gap curves, one panel per family, with the O(1/t) and linear references."""
    panels = data["panels"]
    rows, cols = _style.grid_shape(len(panels))
    with _style.style():
        fig = _style.new_figure(6.0 * cols, 5.0 * rows)
        axes = fig.subplots(rows, cols, squeeze=False)
        for ax, p in zip(axes.flat, panels, strict=False):
            clip = p["eps"] / CLIP
            for c in p["curves"]:
                g = np.maximum(np.asarray(c["gap"], dtype=np.float64), clip)
                x = np.arange(1, len(g) + 1, dtype=np.float64)
                lam = "" if c["damping"] is None else f", λ={_style.fmt_num(c['damping'])}"
                reached = f"T={c['T']}" if c["T"] is not None else f"not reached ({c['status']})"
                ax.plot(
                    x,
                    g,
                    color=_style.color(c["method"]),
                    lw=2.0 if c["method"] == "pg" else 1.3,
                    marker="o" if len(g) <= 3 else None,
                    label=f"{_style.label(c['method'])}{lam}, η={_style.fmt_num(c['eta'])}: {reached}",
                )
            refs = p["references"]
            if refs["sublinear"] is not None:
                s = refs["sublinear"]
                ax.plot(s["x"], s["gap"], color="0.45", ls="--", lw=1.0, label=f"O(1/t) ref.: {s['c']:.3g}/t")
            if refs["linear"] is not None:
                li = refs["linear"]
                ax.plot(
                    li["x"],
                    li["gap"],
                    color="0.45",
                    ls=":",
                    lw=1.2,
                    label=f"linear ref.: ∝ {li['q']:.3g}ᵗ (fit to {li['method']})",
                )
            ax.axhline(p["eps"], color="0.6", lw=0.8, ls="-.", label=f"ε = 1e-4·gap₀ = {p['eps']:.2g}")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlim(1, max(2, p["iterations"]))
            ax.set_ylim(clip / 2, 3 * p["gap0"])
            ax.set_xlabel("iteration t + 1")
            ax.set_ylabel("gap V*(ρ) − J(θ_t)")
            ax.set_title(p["title"])
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
        for ax in list(axes.flat)[len(panels) :]:
            ax.set_visible(False)
        fig.suptitle(
            f"{TITLE} (C1 sweep, {data['mode']} mode)\nruns stop at ε; gaps below ε/{CLIP:g} are drawn at ε/{CLIP:g}"
        )
        return _style.save(fig, path_stem)
