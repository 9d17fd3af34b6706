"""C2: sample complexity where the noise decides — tuned N*(ε), the theory's schedules, and trapping, per instance.

From the C2 sweep (:mod:`proofs_checks.c2_sample_complexity`; exact MDPs, so the only randomness is the
sampling; GPOMDP with an exact-value baseline for every arm). One row per instance:

* **tuned, optimality** and **tuned, stationarity**: N*(ε), the fewest episodes over the (η, B) grid at which
  the seed mean reaches ε (small open markers), and the chosen configuration re-run on fresh seeds (filled:
  used in the fit; hollow: not used — grid edge, deterministic regime, pre-asymptotic or degenerate, the
  latter with a red ×); a level no configuration reaches within the budget is drawn as a ▲ at the budget
  (censored, "> budget"). Lines: the fitted power law N ≈ C·(1/ε)^k over the fitted ε, k and its 95 %
  bootstrap CI (fresh seeds; the choice held fixed) in the legend; the dotted vertical line of each arm's
  colour marks the ε from which on the sampling noise dominates (sampled cost ≥ 2× the exact-gradient cost at
  the chosen η).
* **schedules** (optimality): constant η with B ∝ ε⁻² (solid) and η₀/√(t+1) with fixed B (dashed); markers as
  above, ▲ at the budget where censored.
* **trapping**: the fraction of grid seeds that end trapped (gap > 0.1·(J* − J(θ₀)) at a near-deterministic
  policy) against η/B, pooled over B, per arm.

The ε axes are reversed: harder targets to the right. Claim: C2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from proofs_checks import c2_sample_complexity as c2
from proofs_checks.context import Context

from . import _c2, _style

NAME = "sample_complexity"
CLAIMS: tuple[str, ...] = ("c2.sample-complexity",)
METHOD_COLOR = {
    "sgd-pg": "#000000",
    "r1-sample-same": _style.color("r1-same"),
    "r1-sample-independent": "#17becf",
    "npg-sample": _style.color("npg-damped"),
}


def _fit_line(fit: Any, eps: np.ndarray) -> dict[str, Any] | None:
    if fit.exponent is None or fit.log_constant is None:
        return None
    e = np.asarray(fit.eps, dtype=np.float64)
    return {"k": fit.exponent, "ci": fit.ci, "decades": fit.decades, "eps": e,
            "N": np.exp(fit.log_constant + fit.exponent * np.log(1.0 / e))}  # fmt: skip


def data(ctx: Context) -> dict[str, Any]:
    """Per instance: tuned (both criteria), schedule (optimality) and trapping data per arm."""
    s = _c2.sweep(ctx)
    st = s.setting
    rows = []
    for ir in s.instances:
        tuned: dict[str, list[dict[str, Any]]] = {}
        for crit in c2.CRITERIA:
            tuned[crit] = []
            for arm in st.arms:
                t = ir.tuned[(arm.method, crit)]
                tuned[crit].append({
                    "method": arm.method,
                    "eps": t.eps,
                    "N_grid": t.choice.N,
                    "N_fresh": t.fresh_N,
                    "censored": t.choice.censored | ~np.isfinite(t.fresh_N),
                    "usable": t.usable,
                    "degenerate": t.degenerate,
                    "onset": t.onset(),
                    "fit": _fit_line(t.fit, t.eps),
                    "budget": t.budget,
                })  # fmt: skip
        sched = []
        for arm in st.arms:
            for name in c2.SCHEDULES:
                sc = ir.schedules[(arm.method, name, "optimality")]
                sched.append({"method": arm.method, "schedule": name, "eps": sc.eps, "N": sc.N, "usable": sc.usable,
                              "censored_from": sc.censored_from(), "fit": _fit_line(sc.fit, sc.eps),
                              "budget": sc.budget})  # fmt: skip
        traps = []
        for arm in st.arms:
            r, f = ir.trapping[arm.method].by_ratio()
            traps.append({"method": arm.method, "eta_over_B": r, "fraction": f})
        rows.append({"instance": ir.inst.label, "eps0": ir.eps0, "trap_gap": ir.trap_gap, "tuned": tuned,
                     "schedules": sched, "trapping": traps})  # fmt: skip
    return {
        "mode": ctx.mode,
        "setting": {
            "estimator": st.estimator,
            "baseline": st.baseline,
            "budget": st.budget,
            "sched_budget": st.sched_budget,
            "isqrt_budget": st.isqrt_budget,
            "seeds": st.seeds,
            "fresh_seeds": st.fresh_seeds,
            "batches": list(st.batches),
        },
        "rows": rows,
    }


def _label(a: dict[str, Any], prefix: str = "") -> str:
    f = a["fit"]
    if f is None:
        return f"{prefix}{a['method']}: too few usable ε"
    ci = "" if f["ci"] is None else f" [{f['ci'][0]:.2f}, {f['ci'][1]:.2f}]"
    return f"{prefix}{a['method']}: k = {f['k']:.2f}{ci}, {f['decades']:.2f} dec."


def _points(ax: Any, a: dict[str, Any], col: str, N_key: str, budget: float) -> None:
    eps = np.asarray(a["eps"], dtype=np.float64)
    N = np.asarray(a[N_key], dtype=np.float64)
    used = np.asarray(a["usable"], dtype=bool)
    fin = np.isfinite(N)
    ax.plot(eps[used & fin], N[used & fin], "o", color=col, ms=4.5)
    ax.plot(eps[~used & fin], N[~used & fin], "o", color=col, mfc="white", ms=4.5)
    ax.plot(eps[~fin], np.full((~fin).sum(), budget), "^", color=col, mfc="white", ms=5)
    deg = np.asarray(a.get("degenerate", np.zeros(eps.size, dtype=bool)), dtype=bool)
    ax.plot(eps[deg & fin], N[deg & fin], "x", color="#d62728", ms=6)


def draw(data: dict[str, Any], path_stem: Path | str) -> list[Path]:
    """Rows: instances; columns: tuned optimality, tuned stationarity, schedules, trapped fraction against η/B."""
    rows = data["rows"]
    st = data["setting"]
    with _style.style():
        fig = _style.new_figure(22.0, 5.2 * len(rows) + 0.8)
        axes = fig.subplots(len(rows), 4, squeeze=False)
        for row, axs in zip(rows, axes, strict=True):
            for ax, crit in zip(axs[:2], ("optimality", "stationarity"), strict=True):
                for a in row["tuned"][crit]:
                    col = METHOD_COLOR.get(a["method"], "#8c564b")
                    grid_N = np.asarray(a["N_grid"], dtype=np.float64)
                    fin = np.isfinite(grid_N)
                    ax.plot(np.asarray(a["eps"])[fin], grid_N[fin], ".", color=col, ms=3, alpha=0.6)
                    _points(ax, a, col, "N_fresh", a["budget"])
                    f = a["fit"]
                    if f is not None:
                        ax.plot(f["eps"], f["N"], "-", color=col, lw=1.5, label=_label(a))
                    else:
                        ax.plot([], [], "-", color=col, label=_label(a))
                    if a["onset"] is not None:
                        ax.axvline(a["onset"], color=col, ls=":", lw=1.0)
                crit_text = "E[J* − J] ≤ ε" if crit == "optimality" else "E‖∇J‖² ≤ ε²"
                ax.set_title(f"{row['instance']}: tuned (η, B), {crit_text}", fontsize=9)
                ax.set_ylabel("episodes N(ε)")
                ax.set_xlabel(f"ε (ε₀ = {row['eps0'][crit]:.3g})")
            ax = axs[2]
            for a in row["schedules"]:
                col = METHOD_COLOR.get(a["method"], "#8c564b")
                ls = "-" if a["schedule"] == c2.SCHEDULES[0] else "--"
                _points(ax, a, col, "N", a["budget"])
                f = a["fit"]
                pre = "const η, B∝ε⁻² " if ls == "-" else "η₀/√(t+1) "
                if f is not None:
                    ax.plot(f["eps"], f["N"], ls, color=col, lw=1.5, label=_label(a, pre))
                else:
                    ax.plot([], [], ls, color=col, label=_label(a, pre))
            ax.set_title(f"{row['instance']}: theory schedules, optimality (▲ censored at the budget)", fontsize=9)
            ax.set_ylabel("episodes N(ε)")
            ax.set_xlabel(f"ε (ε₀ = {row['eps0']['optimality']:.3g})")
            for ax in axs[:3]:
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.invert_xaxis()
                ax.legend(fontsize=6.5, loc="upper left")
            ax = axs[3]
            for a in row["trapping"]:
                col = METHOD_COLOR.get(a["method"], "#8c564b")
                ax.plot(a["eta_over_B"], a["fraction"], "o-", color=col, label=a["method"])
            ax.set_xscale("log")
            ax.set_ylim(-0.03, 1.03)
            ax.set_xlabel("η/B")
            ax.set_ylabel("fraction of seeds trapped at the end")
            ax.set_title(f"{row['instance']}: trapped (gap > {row['trap_gap']:.3g}, max π > 1−1e-3)", fontsize=9)
            ax.legend(fontsize=6.5, loc="upper left")
        fig.suptitle(
            f"C2 sample complexity: {st['estimator']}, baseline {st['baseline']}, grid B ∈ {st['batches']}, budget "
            f"{st['budget']} episodes/run ({st['seeds']} seeds, {st['fresh_seeds']} fresh), schedules "
            f"{st['sched_budget']} / {st['isqrt_budget']} (B ∝ ε⁻² / η₀/√(t+1)) ({data['mode']} mode); "
            "filled: fitted, hollow: not fitted, small dots: grid N*",
            fontsize=9.5,
        )
        return _style.save(fig, path_stem)
