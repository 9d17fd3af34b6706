"""Iterations to ε against the damping λ, per rank-1 variant, each at its tuned step, per family.

T(λ) is the number of iterations of the method to reach ε = 10⁻⁴·gap₀ (solid) and 10⁻¹·gap₀
(faint) at its best step of the C1 sweep's (extended) grid for that λ; the horizontal lines are
PG's tuned counts. A point at the top edge (×) never reached ε within the iteration cap. The λ
axis is logarithmic: several variants are PG with the step rescaled by about 1/λ (``r1-grad``,
``r1-precond`` at large λ), so their curves flatten where the tuned step absorbs λ.

Claim: C1 — for which λ (if any) each variant beats tuned PG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from proofs_checks import c1_faster_than_pg as c1
from proofs_checks.context import Context

from . import _c1, _style

NAME = "iterations_vs_damping"
CLAIMS: tuple[str, ...] = ("c1.faster-than-pg",)


def data(ctx: Context) -> dict[str, Any]:
    """Per family: T to each ε against λ for every damped method at its tuned step, and PG's tuned T."""
    s1 = _c1.sweep(ctx)
    panels = []
    for f in s1.families:
        pg = s1.series[(f.label, "pg", None)]
        per_eps: dict[str, Any] = {}
        for which in c1.EPS_REL:
            eps = _c1.eps(s1, f.label, which)
            lines = []
            for m in s1.methods:
                T, etas = [], []
                for lam in s1.dampings_of(f.label):
                    s = s1.series[c1.key(f.label, m, lam)]
                    b = s.best(eps)
                    T.append(s.T(b, eps))
                    etas.append(b)
                lines.append({"method": m, "T": T, "eta": etas})
            bp = pg.best(eps)
            per_eps[which] = {"eps": eps, "lines": lines, "pg_T": pg.T(bp, eps), "pg_eta": bp}
        panels.append(
            {
                "family": f.label,
                "title": _c1.title_of(f),
                "cap": f.iterations,
                "eps": per_eps,
                "dampings": list(s1.dampings_of(f.label)),
            }
        )
    return {"mode": ctx.mode, "dampings": list(s1.dampings), "panels": panels}


def draw(data: dict[str, Any], path_stem: Path | str) -> list[Path]:
    """One panel per family: T against λ (log–log), one colour per method, PG's tuned T as a line."""
    panels = data["panels"]
    rows, cols = _style.grid_shape(len(panels))
    with _style.style():
        fig = _style.new_figure(5.4 * cols, 3.9 * rows + 0.6)
        axes = fig.subplots(rows, cols, squeeze=False)
        for ax, p in zip(axes.flat, panels, strict=False):
            cap = p["cap"]
            lams = np.asarray(p.get("dampings", data["dampings"]), dtype=np.float64)  # the family's own λ grid
            for which, alpha, lw in (("loose", 0.35, 1.0), ("tight", 1.0, 1.6)):
                e = p["eps"][which]
                for ln in e["lines"]:
                    T = np.array([cap * 1.0 if t is None else max(t, 1) for t in ln["T"]], dtype=np.float64)
                    miss = np.array([t is None for t in ln["T"]])
                    col = _style.color(ln["method"])
                    ax.plot(lams, T, "-", color=col, alpha=alpha, lw=lw)
                    ax.plot(lams[~miss], T[~miss], "o", color=col, alpha=alpha)
                    ax.plot(lams[miss], T[miss], "x", color=col, alpha=alpha, ms=7)
                if e["pg_T"] is not None:
                    ax.axhline(max(e["pg_T"], 1), color="k", ls="--", lw=lw, alpha=alpha)
            ax.axhline(cap, color="0.5", lw=0.8, ls=":")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(0.7, cap * 2.0)
            ax.set_xlabel("damping λ")
            ax.set_ylabel("iterations to ε at the tuned step")
            tight = p["eps"]["tight"]
            ax.set_title(f"{p['title']}\nε = 1e-4·gap₀ = {tight['eps']:.2g} (faint: 1e-1·gap₀)", fontsize=8.5)
        for ax in list(axes.flat)[len(panels) :]:
            ax.set_visible(False)
        ax0 = axes[0, 0]
        methods = [ln["method"] for ln in panels[0]["eps"]["tight"]["lines"]] if panels else []
        handles = [ax0.plot([], [], "-o", color=_style.color(m), label=_style.label(m))[0] for m in methods]
        handles.append(ax0.plot([], [], "k--", label="pg, tuned step")[0])
        handles.append(ax0.plot([], [], "x", color="0.3", ms=7, label="ε not reached within the cap (dotted)")[0])
        fig.legend(handles=handles, loc="outside lower center", ncol=4)
        fig.suptitle(f"Iterations to ε against damping λ, each variant at its tuned step ({data['mode']} mode)")
        return _style.save(fig, path_stem)
