"""C2: episodes needed to reach ε against ε, per stochastic method, with fitted exponents and bootstrap bands.

From the C2 sweep (:mod:`proofs_checks.c2_sample_complexity`: an exact random MDP, so the only
randomness is the sampling; GPOMDP gradient estimates with an exact-value baseline, batch B,
constant steps; several seeds per arm). For each criterion

* **stationarity**: N(ε) = episodes consumed before the seed-mean of ‖∇J(θ_t)‖² first drops to ε²;
* **optimality**: N(ε) = episodes before the seed-mean of J* − J(θ_t) first drops to ε;

the markers are N(ε) on the check's ε grid (filled: used in the fit, reached at t ≥ T_MIN; hollow:
reached earlier, pre-asymptotic), the line the least-squares power law N ≈ C·(1/ε)^k over the fitted
ε (k and its 95 % percentile-bootstrap CI in the legend, as in the report), and the band the
pointwise 95 % bootstrap interval of N(ε) (seeds resampled). The dashed line has the O(ε⁻⁴) slope
of stochastic PG theory for stationarity, anchored at SGD-PG's first fitted point and drawn over the ε
SGD-PG's fit covers. The ε axis is reversed: harder targets to the right.

Claim: C2 — the rank-1 sample method needs the same number of samples as SGD-PG up to a constant
(the same exponent k).
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
BAND = (2.5, 97.5)


def band(curves: c2.Curves, eps: np.ndarray, criterion: str, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """Pointwise percentile-bootstrap interval of N(ε) over seed resamples, shape (2, len(ε)).

    NaN where fewer than :data:`proofs_checks.c2_sample_complexity.MIN_VALID_BOOT` of the resamples reach ε.
    """
    n = curves.values.shape[0]
    lv = _c2.levels(eps, criterion)
    N = np.full((n_boot, len(eps)), np.nan)
    for b in range(n_boot):
        h = c2.first_hits(curves.values[rng.integers(0, n, n)].mean(axis=0), lv)
        N[b, h >= 0] = curves.samples[h[h >= 0]]
    ok = np.isfinite(N).mean(axis=0) >= c2.MIN_VALID_BOOT
    out = np.full((2, len(eps)), np.nan)
    if ok.any():
        out[:, ok] = np.nanpercentile(N[:, ok], BAND, axis=0)
    return out


def data(ctx: Context) -> dict[str, Any]:
    """Per criterion and arm: the ε grid, N(ε) (−1 unreached), which ε are fitted, the fit and the band."""
    s = _c2.sweep(ctx)
    st = s.setting
    rng = np.random.default_rng(np.random.SeedSequence(st.root, spawn_key=(7,)))
    panels = []
    for c in c2.CRITERIA:
        eps = s.grids[c]
        arms: list[dict[str, Any]] = []
        for a in s.arms:
            cv = s.curves[(a.label, c)]
            hits = c2.first_hits(cv.values.mean(axis=0), _c2.levels(eps, c))
            reached = hits >= 0
            N = np.where(reached, cv.samples[np.maximum(hits, 0)], np.nan)
            used = reached & (cv.t[np.maximum(hits, 0)] >= c2.T_MIN)
            f = s.fits[(a.label, c)]
            fit: dict[str, Any] | None = None
            if f.exponent is not None and f.log_constant is not None:
                e = eps[used]
                fit = {
                    "k": f.exponent,
                    "log_c": f.log_constant,
                    "ci": f.ci,
                    "eps": e,
                    "N": np.exp(f.log_constant + f.exponent * np.log(1.0 / e)),
                }
            arms.append(
                {
                    "label": a.label,
                    "method": a.method,
                    "damping": a.damping,
                    "eta": a.eta,
                    "protocol": a.protocol,
                    "N": N,
                    "used": used,
                    "fit": fit,
                    "band": band(cv, eps, c, rng, st.n_boot),
                }
            )
        ref = None
        sgd = arms[0]
        if c == "stationarity" and np.any(sgd["used"]):
            i = int(np.flatnonzero(sgd["used"])[0])
            j = int(np.flatnonzero(sgd["used"])[-1])
            e0, n0 = float(eps[i]), float(sgd["N"][i])
            e = eps[i : max(j, i + 1) + 1]
            ref = {"k": 4.0, "eps": e, "N": n0 * (e0 / e) ** 4}
        panels.append({"criterion": c, "eps0": s.eps0[c], "eps": eps, "arms": arms, "reference": ref})
    return {
        "mode": ctx.mode,
        "setting": {
            "instance": st.instance,
            "params": st.params,
            "estimator": st.estimator,
            "baseline": st.baseline,
            "batch": st.batch,
            "eta": st.eta,
            "iterations": st.iterations,
            "seeds": st.seeds,
            "n_boot": st.n_boot,
        },
        "panels": panels,
    }


def draw(data: dict[str, Any], path_stem: Path | str) -> list[Path]:
    """One panel per criterion: N(ε) against ε (log–log, ε reversed), fits, bands and the ε⁻⁴ guide."""
    panels = data["panels"]
    st = data["setting"]
    styles = ("-", "--", ":", "-.")
    with _style.style():
        fig = _style.new_figure(6.4 * len(panels), 6.4)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, p in zip(axes, panels, strict=True):
            eps = np.asarray(p["eps"], dtype=np.float64)
            seen: dict[str, int] = {}
            for a in p["arms"]:
                col = METHOD_COLOR.get(a["method"], "#8c564b")
                ls = styles[seen.setdefault(a["method"], 0) % len(styles)]
                seen[a["method"]] += 1
                N = np.asarray(a["N"], dtype=np.float64)
                used = np.asarray(a["used"], dtype=bool)
                lo, hi = np.asarray(a["band"], dtype=np.float64)
                ok = np.isfinite(lo) & np.isfinite(hi)
                ax.fill_between(eps[ok], lo[ok], hi[ok], color=col, alpha=0.15, lw=0)
                ax.plot(eps[used], N[used], "o", color=col, ms=4.5)
                pre = np.isfinite(N) & ~used
                ax.plot(eps[pre], N[pre], "o", color=col, mfc="white", ms=4.5)
                f = a["fit"]
                if f is not None:
                    ci = "" if f["ci"] is None else f" [{f['ci'][0]:.2f}, {f['ci'][1]:.2f}]"
                    text = f"{a['label']}: k = {f['k']:.2f}{ci}"
                    ax.plot(f["eps"], f["N"], ls, color=col, lw=1.6, label=text)
                else:
                    ax.plot([], [], ls, color=col, label=f"{a['label']}: too few ε reached to fit")
            if p["reference"] is not None:
                r = p["reference"]
                ax.plot(r["eps"], r["N"], color="0.5", ls="--", lw=1.0, label="O(ε⁻⁴) slope (stochastic PG theory)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.invert_xaxis()
            crit = "E‖∇J(θ_t)‖² ≤ ε²" if p["criterion"] == "stationarity" else "E[J* − J(θ_t)] ≤ ε"
            ax.set_xlabel(f"ε  (target {crit}; ε₀ = {p['eps0']:.3g})")
            ax.set_ylabel("episodes N(ε) until the seed mean first reaches ε")
            ax.set_title(f"{p['criterion']}: N(ε) ≈ C·(1/ε)^k, 95% bootstrap CI of k", fontsize=9)
            ax.plot([], [], "o", color="0.3", label=f"used in the fit (t ≥ {c2.T_MIN})")
            ax.plot([], [], "o", color="0.3", mfc="white", label="reached before T_MIN (not fitted)")
            ax.fill_between([], [], [], color="0.3", alpha=0.15, label="95% bootstrap band of N(ε)")
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=7)
        params = ", ".join(f"{k}={v}" for k, v in st["params"].items())
        fig.suptitle(
            f"C2 sample complexity on {st['instance']}({params}): {st['estimator']} estimates, "
            f"baseline {st['baseline']}, batch {st['batch']}, η_sgd = {st['eta']:g}, {st['iterations']} iterations, "
            f"{st['seeds']} seeds ({data['mode']} mode)",
            fontsize=9.5,
        )
        return _style.save(fig, path_stem)
