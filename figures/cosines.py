"""Cosine of each direction with the natural gradient F⁺∇J along a run, per family and λ.

Along the same PG run as :mod:`figures.fisher_spectrum` (the smallest step of the C1 sweep that
reaches ε, θ replayed at ≈ 24 checkpoints), every direction of the method family is evaluated at
θ_t and compared with the exact natural gradient F⁺∇J (per-state-centred advantage over 1 − γ) by
the cosine after centring each state's block (``r1theory.fisher_diagnostics``): 1 means the same
policy update as NPG, 0 orthogonal, < 0 a direction pointing away from NPG's.

One row per family, one column per damping λ of the C1 sweep. ``r1-grad`` (V1) is ∇J rescaled,
so its cosine coincides with ``pg``'s (drawn dashed on top). Claims: C1 (a rank-1 preconditioner
should turn ∇J towards F⁺∇J) and the ascent check (a negative cosine with F⁺∇J does not by itself
mean descent: ascent is ⟨d, ∇J⟩ > 0, see :mod:`figures.ascent_map`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import r1theory
from proofs_checks.context import Context

from . import _c1, _style, _trajectory

NAME = "cosines"
CLAIMS: tuple[str, ...] = ("c1.faster-than-pg", "ascent")


def methods(diagnosed: list[str]) -> tuple[str, ...]:
    """The diagnosed methods but npg (F⁺∇J is the reference); those that are PG rescaled (dashed) last."""
    names = [m for m in diagnosed if m != "npg"]
    return tuple(sorted(names, key=lambda m: r1theory.get_method(m).rescaled_pg))


def data(ctx: Context) -> dict[str, Any]:
    """Per family: checkpoints t, gap, and the cosine with F⁺∇J of every method for every λ."""
    panels = []
    for tr in _trajectory.reference_runs(ctx):
        cos = tr.values["cosine"]
        panels.append(
            {
                "family": tr.family.label,
                "title": _c1.title_of(tr.family),
                "run": {"method": tr.method, "eta": tr.eta, "iterations": tr.iterations},
                "t": tr.t,
                "gap": tr.gap,
                "dampings": tr.dampings,
                "cosine": {
                    str(lam): {m: cos[i, tr.cosine_methods.index(m)] for m in methods(tr.cosine_methods)}
                    for i, lam in enumerate(tr.dampings)
                },
            }
        )
    return {"mode": ctx.mode, "panels": panels}


def draw(data: dict[str, Any], path_stem: Path | str) -> list[Path]:
    """Rows: families; columns: λ; cosine against t + 1 (log), one colour per method."""
    panels = data["panels"]
    ncol = max(len(p["dampings"]) for p in panels) if panels else 1
    with _style.style():
        fig = _style.new_figure(4.4 * ncol, 2.8 * len(panels) + 0.8)
        axes = fig.subplots(len(panels), ncol, squeeze=False, sharey=True)
        for row, p in zip(axes, panels, strict=True):
            x = np.asarray(p["t"], dtype=np.float64) + 1.0
            for ax, lam in zip(row, p["dampings"], strict=False):
                for m in p["cosine"][str(lam)]:
                    y = np.asarray(p["cosine"][str(lam)][m], dtype=np.float64)
                    dashed = r1theory.get_method(m).rescaled_pg
                    ax.plot(
                        x,
                        y,
                        color=_style.color(m),
                        ls="--" if dashed else "-",
                        lw=1.2 if dashed else 1.5,
                        marker=None if dashed else ".",
                        ms=3,
                    )
                ax.axhline(0.0, color="0.4", lw=0.8)
                ax.set_xscale("log")
                head = p["title"] if ax is row[0] else p["family"]
                ax.set_title(f"{head}\nλ = {_style.fmt_num(lam)}", fontsize=8)
                ax.set_xlabel(f"iteration t + 1 of pg (η={_style.fmt_num(p['run']['eta'])})")
                if ax is row[0]:
                    ax.set_ylabel("cos(direction, F⁺∇J)")
            for ax in row[len(p["dampings"]) :]:
                ax.set_visible(False)
        lows = [
            float(np.nanmin(np.asarray(v, dtype=np.float64)))
            for p in panels
            for by_m in p["cosine"].values()
            for v in by_m.values()
        ]
        axes[0, 0].set_ylim(min([-0.1, *(lo - 0.05 for lo in lows if np.isfinite(lo))]), 1.05)
        ax0 = axes[0, 0]
        drawn = list(panels[0]["cosine"][str(panels[0]["dampings"][0])]) if panels else []
        handles = [
            ax0.plot([], [], "--", color=_style.color(m), label=f"{_style.label(m)} = pg direction")[0]
            if r1theory.get_method(m).rescaled_pg
            else ax0.plot([], [], "-", color=_style.color(m), label=_style.label(m))[0]
            for m in drawn
        ]
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))
        fig.suptitle(
            "Cosine of each direction with the natural gradient F⁺∇J (per-state centred) along a pg run "
            f"({data['mode']} mode)",
        )
        return _style.save(fig, path_stem)
