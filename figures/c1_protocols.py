"""C1 under its three protocols: the speed-up T_pg/T_method against λ, per family.

T is the number of iterations to reach the tight ε = 10⁻⁴·gap₀ (the C1 check's measure). One row
per family, one column per protocol of :mod:`proofs_checks.c1_faster_than_pg`:

* **equal step** — the method and PG at the same nominal η, for every η of the base grid: a vertical
  bar spans the speed-ups over the grid (steps where the comparison is undecidable are left out),
  the marker is their median. C1 holds under this protocol when the whole bar is above 1.
* **tuned steps** — each at its own best step of its (extended) grid.
* **PG at the effective step** — the method at its best step against PG run at the method's median
  effective step η⟨d, ∇J⟩/‖∇J‖²: above 1 means the speed-up is not a step-size rescaling.

Above the line 1 the method is faster than PG. When one of the two runs never reaches ε within the
iteration cap, the ratio is a bound, computed with the cap in place of the missing count: ▲ a lower
bound (PG never reached ε), ▼ an upper bound (the method never did). A hollow marker in the tuned
column marks a comparison the check calls inconclusive because the deciding best step sits on the
edge of its extended grid.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import numpy as np

from proofs_checks import c1_faster_than_pg as c1
from proofs_checks.context import Context

from . import _c1, _style

NAME = "c1_protocols"
CLAIMS: tuple[str, ...] = ("c1.faster-than-pg",)
PROTOCOLS: tuple[tuple[str, str], ...] = (
    ("equal-step", "equal step η (range over the grid)"),
    ("tuned", "tuned steps (each at its best η)"),
    ("pg-at-effective-step", "PG at the method's effective step"),
)
MARKER = {"exact": "o", "lower": "^", "upper": "v"}


def speedup(Tm: int | None, Tp: int | None, cap: int) -> tuple[float, str] | None:
    """(T_pg/T_method, kind) with kind "exact", "lower" (PG never reached ε) or "upper"; None if undecidable.

    Undecidable as in the C1 check (:func:`proofs_checks.c1_faster_than_pg._cmp`): neither reaches ε,
    or both within the greedy-step regime (≤ 2 iterations). A missing count is replaced by ``cap``.
    A count of 0 (already below ε) is counted as 1.
    """
    if c1._cmp(Tm, Tp) == "undecidable":
        return None
    if Tm is not None and Tp is not None:
        return Tp / max(Tm, 1), "exact"
    if Tp is None:
        assert Tm is not None
        return cap / max(Tm, 1), "lower"
    return Tp / cap, "upper"


def data(ctx: Context) -> dict[str, Any]:
    """Per family, method and λ: the speed-up under each protocol (equal step: one per η of the base grid)."""
    s1 = _c1.sweep(ctx)
    panels = []
    for f in s1.families:
        eps = _c1.eps(s1, f.label)
        pg = s1.series[(f.label, "pg", None)]
        cap = f.iterations
        cells = []
        for m in s1.methods:
            for lam in s1.dampings_of(f.label):
                s = s1.series[c1.key(f.label, m, lam)]
                equal = []
                for eta in s1.grid_of(f.label):
                    sp = speedup(s.T(eta, eps), pg.T(eta, eps), cap)
                    if sp is not None:
                        equal.append({"eta": eta, "ratio": sp[0], "kind": sp[1]})
                bm, bp = s.best(eps), pg.best(eps)
                Tm, Tp = s.T(bm, eps), pg.T(bp, eps)
                tuned = speedup(Tm, Tp, cap)
                edge = (pg if c1._cmp(Tm, Tp) == "faster" else s).on_edge(eps) is not None
                eff = s1.effective[c1.key(f.label, m, lam)]
                at_eff = None if eff is None or eff not in pg.runs else speedup(Tm, pg.T(eff, eps), cap)
                cells.append(
                    {
                        "method": m,
                        "damping": lam,
                        "equal-step": equal,
                        "tuned": None
                        if tuned is None
                        else {
                            "ratio": tuned[0],
                            "kind": tuned[1],
                            "eta": bm,
                            "edge": edge,
                        },
                        "eta_pg_tuned": bp,
                        "pg-at-effective-step": None
                        if at_eff is None
                        else {"ratio": at_eff[0], "kind": at_eff[1], "eta_effective": eff},
                    }
                )
        panels.append({"family": f.label, "title": _c1.title_of(f), "eps": eps, "cap": cap, "cells": cells})
    return {"mode": ctx.mode, "dampings": list(s1.dampings), "grid": list(s1.grid), "panels": panels}


def _median(values: list[float]) -> float:
    return float(np.exp(statistics.median(np.log(values))))


def draw(data: dict[str, Any], path_stem: Path | str) -> list[Path]:
    """Rows: families; columns: protocols; x: λ (categorical, methods side by side); y: T_pg/T_method (log)."""
    panels = data["panels"]
    lams = data["dampings"]
    methods = list(dict.fromkeys(c["method"] for p in panels for c in p["cells"]))
    width = 0.8 / max(len(methods), 1)
    with _style.style():
        fig = _style.new_figure(4.6 * len(PROTOCOLS), 2.9 * len(panels) + 0.8)
        axes = fig.subplots(len(panels), len(PROTOCOLS), squeeze=False, sharey="row")
        for row, p in zip(axes, panels, strict=True):
            for ax, (proto, heading) in zip(row, PROTOCOLS, strict=True):
                ys: list[float] = []
                for c in p["cells"]:
                    x = lams.index(c["damping"]) + (methods.index(c["method"]) - (len(methods) - 1) / 2) * width
                    col = _style.color(c["method"])
                    if proto == "equal-step":
                        pts = c["equal-step"]
                        if not pts:
                            continue
                        r = [q["ratio"] for q in pts]
                        ax.vlines(x, min(r), max(r), color=col, lw=2.2, alpha=0.55)
                        for q in pts:
                            if q["kind"] != "exact":
                                ax.plot(x, q["ratio"], MARKER[q["kind"]], color=col, ms=4)
                        ax.plot(x, _median(r), "o", color=col, ms=4.5)
                        ys += r
                    else:
                        q = c[proto]
                        if q is None:
                            continue
                        hollow = bool(q.get("edge"))
                        ax.plot(x, q["ratio"], MARKER[q["kind"]], color=col, ms=6, mfc="white" if hollow else col)
                        ys.append(q["ratio"])
                ax.axhline(1.0, color="0.3", lw=1.0, ls="--")
                ax.set_yscale("log")
                if ys:
                    lo, hi = min(min(ys), 1.0), max(max(ys), 1.0)
                    ax.set_ylim(lo / 2.5, hi * 2.5)
                ax.set_xticks(range(len(lams)), [f"λ={_style.fmt_num(v)}" for v in lams])
                ax.set_xlim(-0.6, len(lams) - 0.4)
                ax.grid(axis="x", visible=False)
                head = p["title"] if ax is row[0] else p["family"]
                ax.set_title(f"{head}\n{heading}", fontsize=8)
                if ax is row[0]:
                    ax.set_ylabel("speed-up T_pg / T_method")
                ax.text(0.01, 0.98, "faster than PG ↑", transform=ax.transAxes, va="top", fontsize=7, color="0.3")
        handles = [axes[0, 0].plot([], [], "o", color=_style.color(m), label=_style.label(m))[0] for m in methods]
        handles += [
            axes[0, 0].plot([], [], MARKER[k], color="0.3", label=text)[0]
            for k, text in (
                ("exact", "both reach ε (median over η for equal step)"),
                ("lower", "lower bound: PG does not reach ε within the cap"),
                ("upper", "upper bound: the method does not reach ε within the cap"),
            )
        ]
        handles.append(
            axes[0, 0].plot([], [], "o", color="0.3", mfc="white", label="best step on the grid edge (inconclusive)")[0]
        )
        fig.legend(handles=handles, loc="outside lower center", ncol=4)
        fig.suptitle(
            "C1: iterations to ε = 1e-4·gap₀, PG over method, under the three protocols "
            f"({data['mode']} mode; step grid {_style.fmt_num(data['grid'][0])}…{_style.fmt_num(data['grid'][-1])})"
        )
        return _style.save(fig, path_stem)
