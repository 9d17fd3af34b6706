"""The Fisher spectrum and each rank-1 approximation's error against policy entropy along a run.

Along a PG run of the C1 sweep on each family (the smallest step that reaches ε: a smooth path from
the start to a near-deterministic policy; θ replayed at ≈ 24 checkpoints, see
:mod:`figures._trajectory`):

* left: the S(A − 1) nonzero eigenvalues of F(θ_t) = blockdiag_s d(s)(diag π_s − π_sπ_sᵀ) (thin
  grey, from ``r1theory.fisher(...).blocks``), the largest σ₁ (the term ``r1-eigen`` keeps) and
  the smallest, against the visitation-weighted entropy Σ_s d(s)H(π_s); with ‖∇J‖² (the only
  eigenvalue of ``r1-grad``'s rank-1 term ∇J∇Jᵀ) and the damping values λ as horizontal lines;
* right: the relative spectral error ‖Π(M − (F + λI)⁻¹)Π‖₂ / ‖Π(F + λI)⁻¹Π‖₂ of each rank-1
  preconditioner M on the range of F (``r1theory.fisher_diagnostics``), one line style per λ.

The entropy axis runs from high (uniform start) to low (near-deterministic end), so the run moves
from left to right (○ marks the start, ■ the end: entropy need not decrease monotonically).
Eigenvalues below 10⁻¹² σ₁ are cut off the axis. Claim: C1 — how well, and where on the way to a
deterministic policy, a rank-1 term can stand for the inverse Fisher.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from proofs_checks.context import Context

from . import _c1, _style, _trajectory

NAME = "fisher_spectrum"
CLAIMS: tuple[str, ...] = ("c1.faster-than-pg",)


def rank1_methods(err_m: list[str]) -> list[str]:
    """The methods with a fixed preconditioner but npg-damped, whose (F + λI)⁻¹ is the reference itself."""
    return [m for m in err_m if m != "npg-damped"]


def data(ctx: Context) -> dict[str, Any]:
    """Per family: checkpoints, θ, entropy, the Fisher spectrum, ‖∇J‖² and the relative errors per λ."""
    panels = []
    for tr in _trajectory.reference_runs(ctx):
        v = tr.values
        err = {
            str(lam): {m: v["rel_error"][i, tr.error_methods.index(m)] for m in rank1_methods(tr.error_methods)}
            for i, lam in enumerate(tr.dampings)
        }
        panels.append(
            {
                "family": tr.family.label,
                "title": _c1.title_of(tr.family),
                "run": {"method": tr.method, "eta": tr.eta, "iterations": tr.iterations},
                "note": "pg at the smallest step of the C1 sweep that reaches the tight ε",
                "A": int(tr.theta.shape[2]),
                "t": tr.t,
                "theta": tr.theta,
                "gap": tr.gap,
                "entropy": v["entropy"],
                "spectrum": v["spectrum"],
                "nonzero": v["nonzero"],
                "grad_sq": v["grad_sq"],
                "dampings": tr.dampings,
                "rel_error": err,
            }
        )
    return {"mode": ctx.mode, "panels": panels}


def draw(data: dict[str, Any], path_stem: Path | str) -> list[Path]:
    """Rows: families; left: spectrum against entropy; right: rank-1 errors against entropy."""
    panels = data["panels"]
    with _style.style():
        fig = _style.new_figure(11.0, 3.1 * len(panels) + 0.5)
        axes = fig.subplots(len(panels), 2, squeeze=False)
        for (axs, axe), p in zip(axes, panels, strict=True):
            H = np.asarray(p["entropy"])
            nz = np.asarray(p["nonzero"])
            for k in range(nz.shape[1]):
                axs.plot(H, nz[:, k], color="0.75", lw=0.6)
            axs.plot(H, nz[:, 0], color=_style.color("r1-eigen"), lw=2.0, label="σ₁ (largest; kept by r1-eigen)")
            axs.plot(H[0], nz[0, 0], "o", color="k", mfc="white", ms=6, label="start (t = 0)")
            axs.plot(H[-1], nz[-1, 0], "s", color="k", ms=5, label=f"end (t = {p['run']['iterations']})")
            axs.plot(H, nz[:, -1], color="0.2", lw=1.5, label="smallest nonzero eigenvalue")
            axs.plot(H, p["grad_sq"], color=_style.color("r1-grad"), ls="--", lw=1.5, label="‖∇J‖² (r1-grad's term)")
            for j, lam in enumerate(p["dampings"]):
                axs.axhline(lam, color="0.45", lw=0.8, ls=_style.DAMPING_STYLE[j % len(_style.DAMPING_STYLE)])
            axs.plot([], [], color="0.75", lw=0.6, label=f"all {nz.shape[1]} nonzero eigenvalues")
            axs.plot([], [], color="0.45", lw=0.8, label="λ = " + ", ".join(_style.fmt_num(v) for v in p["dampings"]))
            axs.set_yscale("log")
            top = max(float(nz.max()), float(np.max(p["grad_sq"])), max(p["dampings"]))
            axs.set_ylim(max(float(nz[nz > 0].min()) / 2, top * 1e-12), top * 3)
            axs.set_ylabel("eigenvalue of F(θ_t)")
            axs.set_title(
                f"{p['title']}\nFisher spectrum along a pg run (η={_style.fmt_num(p['run']['eta'])}, "
                f"{p['run']['iterations']} iterations)",
                fontsize=8.5,
            )
            axs.legend(loc="lower left", fontsize=6.5)
            for j, lam in enumerate(p["dampings"]):
                ls = _style.DAMPING_STYLE[j % len(_style.DAMPING_STYLE)]
                for m in p["rel_error"][str(lam)]:
                    err = np.asarray(p["rel_error"][str(lam)][m])
                    axe.plot(
                        H,
                        err,
                        color=_style.color(m),
                        ls=ls,
                        marker=".",
                        ms=3,
                        label=f"{_style.label(m)}, λ={_style.fmt_num(lam)}",
                    )
            axe.set_yscale("log")
            axe.set_ylabel("relative spectral error on range(F)")
            axe.set_title(f"{p['family']}: ‖Π(M − (F+λI)⁻¹)Π‖ / ‖Π(F+λI)⁻¹Π‖ along the same run", fontsize=8.5)
            axe.legend(loc="best", fontsize=6.5, ncol=len(p["dampings"]))
            for ax in (axs, axe):
                ax.set_xlim(max(float(H.max()), math.log(p["A"])) * 1.02, min(float(H.min()), 0.0) - 0.02)
                ax.set_xlabel("policy entropy Σ_s d(s) H(π_t(·|s)) [nats]  (the run moves →)")
        fig.suptitle(f"Fisher spectrum and rank-1 approximation error against policy entropy ({data['mode']} mode)")
        return _style.save(fig, path_stem)
