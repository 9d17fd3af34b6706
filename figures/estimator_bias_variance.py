"""C2: bias and variance of the one-sample rank-1 update (V4), same-sample against independent Fisher sample.

From the C2 check's bias tasks (:func:`proofs_checks.c2_bias.bias_task`, λ = 1), on each C2 instance at
θ₀ and at the last iterate of the first SGD-PG seed of the η₀/√(t+1) schedule (one row each). The V4
update with one sample (s, a) ∼ d × π is (λI + uuᵀ)⁻¹ĝ with u = ∇log π(a|s); with the **same** sample
for u and ĝ its expectation is not E[(λI + uuᵀ)⁻¹]∇J, the expected update with an **independent** Fisher
sample (the condition the correct-version bound assumes).

* left: per coordinate (s, a), the exact expected updates (independent ○, same-sample ×, both with
  batch 1 and an exact-value baseline, by enumeration) and the Monte-Carlo means ± 2 standard
  errors of the one-sample estimator (same: green, independent: cyan), which must cover them;
* right: per coordinate, the Monte-Carlo standard deviation of one update (se·√draws), for the
  one-sample and for the GPOMDP estimator of the runs: the price in variance of each form.

The panel titles give the exact relative bias ‖E_same − E_indep‖/‖E_indep‖ at batch 1 and at the
schedule's batch B (it decays as 1/B). Claim: C2 (its ``bias`` part).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from proofs_checks.context import Context
from r1theory.numerics import TINY

from . import _c2, _style

NAME = "estimator_bias_variance"
CLAIMS: tuple[str, ...] = ("c2.sample-complexity",)
SAME, INDEP = _style.color("r1-same"), "#17becf"


def relative_bias(same: np.ndarray, indep: np.ndarray) -> float:
    """‖same − indep‖ / ‖indep‖."""
    return float(np.linalg.norm(same - indep) / max(float(np.linalg.norm(indep)), TINY))


def data(ctx: Context) -> dict[str, Any]:
    """Per instance and bias point: exact expectations, Monte-Carlo means, standard errors, deviations, biases."""
    s = _c2.sweep(ctx)
    st = s.setting
    draws = st.mc_draws
    B = st.isqrt_batch
    points = []
    for ir in s.instances:
        for label in _c2.BIAS_POINTS:
            r = ir.bias[label]
            row: dict[str, Any] = {
                "label": f"{ir.inst.label}: {label}",
                "point": label,
                "instance": ir.inst.label,
                "pi": np.asarray(r["pi"]),
                "gradient": np.asarray(r["gradient"]),
                "exact_independent": np.asarray(r["indep_B1"]).ravel(),
                "exact_same": np.asarray(r["same_V_B1"]).ravel(),
                "relative_bias_B1": relative_bias(np.asarray(r["same_V_B1"]), np.asarray(r["indep_B1"])),
                f"relative_bias_B{B}": relative_bias(np.asarray(r[f"same_V_B{B}"]), np.asarray(r[f"indep_B{B}"])),
            }
            for est in ("one-sample", st.estimator):
                for form in ("same", "independent"):
                    mean = np.asarray(r[f"mc_{est}_{form}_mean"]).ravel()
                    se = np.asarray(r[f"mc_{est}_{form}_se"]).ravel()
                    row[f"mc_{est}_{form}"] = {"mean": mean, "se": se, "std": se * math.sqrt(draws)}
            points.append(row)
    return {
        "mode": ctx.mode,
        "instances": [ir.inst.label for ir in s.instances],
        "damping": _c2.LAMBDA_BIAS,
        "batch": B,
        "estimator": st.estimator,
        "draws": draws,
        "points": points,
    }


def draw(data: dict[str, Any], path_stem: Path | str) -> list[Path]:
    """Rows: the two bias points; left: expected updates per coordinate; right: per-coordinate deviations."""
    pts = data["points"]
    B, est = data["batch"], data["estimator"]
    with _style.style():
        fig = _style.new_figure(12.0, 3.6 * len(pts) + 0.7)
        axes = fig.subplots(len(pts), 2, squeeze=False)
        for (axm, axv), p in zip(axes, pts, strict=True):
            S, A = np.asarray(p["pi"]).shape
            x = np.arange(S * A, dtype=np.float64)
            ticks = [f"{s},{a}" for s in range(S) for a in range(A)]
            ms, mi = p["mc_one-sample_same"], p["mc_one-sample_independent"]
            axm.errorbar(x - 0.12, ms["mean"], yerr=2 * ms["se"], fmt="s", color=SAME, ms=3.5, capsize=2,
                         label="Monte Carlo, same sample (±2 se)")  # fmt: skip
            axm.errorbar(x + 0.12, mi["mean"], yerr=2 * mi["se"], fmt="s", color=INDEP, ms=3.5, capsize=2,
                         label="Monte Carlo, independent sample (±2 se)")  # fmt: skip
            axm.plot(x, p["exact_independent"], "o", color="k", mfc="none", ms=8, label="exact E[(λI+uuᵀ)⁻¹]∇J")
            axm.plot(x, p["exact_same"], "x", color="k", ms=7, label="exact E[(λI+uuᵀ)⁻¹ĝ], same sample")
            axm.axhline(0.0, color="0.5", lw=0.7)
            axm.set_xticks(x, ticks, fontsize=7)
            axm.set_xlabel("coordinate (s, a)")
            axm.set_ylabel("expected update")
            axm.set_title(
                f"{p['label']}: relative bias of the same-sample form {p['relative_bias_B1']:.3g} (B = 1), "
                f"{p[f'relative_bias_B{B}']:.3g} (B = {B})",
                fontsize=8.5,
            )
            axm.legend(fontsize=6.5, loc="best")
            for key, mk, name in (("one-sample", "o", "one-sample"), (est, "^", est)):
                for form, col in (("same", SAME), ("independent", INDEP)):
                    axv.plot(x, p[f"mc_{key}_{form}"]["std"], mk + "-", color=col, lw=0.8, ms=4,
                             mfc=col if key == "one-sample" else "white", label=f"{name}, {form}")  # fmt: skip
            axv.set_yscale("log")
            axv.set_xticks(x, ticks, fontsize=7)
            axv.set_xlabel("coordinate (s, a)")
            axv.set_ylabel("standard deviation of one update")
            axv.set_title(f"{p['label']}: per-coordinate deviation (batch 1, {data['draws']} draws)", fontsize=8.5)
            axv.legend(fontsize=6.5, loc="best")
        fig.suptitle(
            f"C2: bias and variance of the one-sample rank-1 update (V4), λ = {data['damping']:g}, on "
            f"{', '.join(data['instances'])} ({data['mode']} mode)"
        )
        return _style.save(fig, path_stem)
