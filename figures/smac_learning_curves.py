"""SMAC: learning curves (gap against episodes) per method with CIs, and the critic-induced bias against episodes.

From the ``smac.vs-baselines`` sweep (:func:`proofs_checks.smac_vs_baselines.runs`: the fresh-seed runs of
each actor at the step tuned for the loosest ε, with the learned tabular critic and with the oracle critic
V_w = V^π on the same seeds). One row per instance:

* left: V*(ρ) − J(θ_t) against the episodes consumed — the interquartile mean over seeds (solid: learned
  critic; dashed: oracle critic) with its 95 % stratified-bootstrap band (seeds resampled); the dotted
  horizontal lines are the ε levels of the check;
* middle: the critic-induced bias of the expected actor update, ‖E[D̂ | V_w] − E[D̂ | V^π]‖/‖E[D̂ | V^π]‖,
  computed exactly at the recorded iterates (median over seeds, band: the interquartile range); with the
  Monte-Carlo advantage (λ_GAE = 1) it is rounding for a2c, smac-independent and npg-cg's gradient input,
  and the same-sample effect W(V^π − V_w)/B for smac-same;
* right: the critic's error ‖V_w − V^π‖_d (median over seeds), the cause of that bias.

Claim: ``smac.vs-baselines``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from proofs_checks import smac_vs_baselines as sm
from proofs_checks.context import Context

from . import _style

NAME = "smac_learning_curves"
CLAIMS: tuple[str, ...] = ("smac.vs-baselines",)
COLOR = {"a2c": "#000000", "smac-same": _style.color("r1-same"), "smac-independent": "#17becf", "npg-cg": "#1f77b4"}
#: Bootstrap resamples of the learning-curve bands.
N_BOOT = 300


def iqm_band(values: np.ndarray, rng: np.random.Generator, n_boot: int = N_BOOT) -> tuple[np.ndarray, np.ndarray]:
    """Per record: the IQM over seeds (rows) and its 95 % percentile-bootstrap interval, shape (2, records)."""
    center = np.asarray(sm.iqm(values, axis=0), dtype=np.float64)
    n = values.shape[0]
    boots = np.stack([np.asarray(sm.iqm(values[rng.integers(0, n, n)], axis=0)) for _ in range(n_boot)])
    a = (1.0 - sm.CONFIDENCE) / 2.0
    return center, np.quantile(boots, [a, 1.0 - a], axis=0)


def data(ctx: Context) -> dict[str, Any]:
    """Per instance and actor: episodes, IQM gap and band (learned and oracle critic), bias and critic error."""
    sw = sm.runs(ctx)
    rng = np.random.default_rng(np.random.SeedSequence(sm.ROOT, spawn_key=(7,)))
    rows: list[dict[str, Any]] = []
    for ir in sw.instances:
        if ir.error is not None:
            rows.append({"instance": ir.inst.label, "error": ir.error})
            continue
        first = next(iter(ir.eps))
        actors = []
        for a, arm in ir.arms.items():
            step = arm.chosen[first]
            rec, orc = arm.fresh[step], arm.oracle.get(step)
            c, band = iqm_band(np.asarray(rec["gap"]), rng)
            co, band_o = iqm_band(np.asarray(orc["gap"]), rng) if orc is not None else (None, None)
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.asarray(rec["critic_bias"]) / np.asarray(rec["oracle_norm"])
            cols = np.flatnonzero(np.isfinite(rel).any(axis=0))
            actors.append(
                {
                    "actor": a,
                    "step": step,
                    "episodes": np.median(np.asarray(rec["episodes"]), axis=0),
                    "episodes_oracle": None if orc is None else np.median(np.asarray(orc["episodes"]), axis=0),
                    "gap_iqm": c,
                    "gap_band": band,
                    "gap_oracle_iqm": co,
                    "gap_oracle_band": band_o,
                    "bias_episodes": np.median(np.asarray(rec["episodes"]), axis=0)[cols],
                    "bias_median": np.nanmedian(rel[:, cols], axis=0),
                    "bias_band": np.nanquantile(rel[:, cols], [0.25, 0.75], axis=0),
                    "critic_error": np.median(np.asarray(rec["critic_error"]), axis=0),
                }
            )
        rows.append({"instance": ir.inst.label, "error": None, "eps": ir.eps, "actors": actors})
    st = sw.setting
    return {
        "mode": ctx.mode,
        "setting": {
            "batch": st.batch,
            "iterations": st.iterations,
            "seeds_fresh": st.seeds_fresh,
            "gae_lambda": st.gae_lambda,
            "critic_step": st.critic_step,
        },
        "rows": rows,
    }


def draw(data: dict[str, Any], path_stem: Path | str) -> list[Path]:
    """Rows: instances; columns: gap vs episodes, critic-induced bias vs episodes, critic error vs episodes."""
    rows = data["rows"]
    st = data["setting"]
    with _style.style():
        fig = _style.new_figure(15.0, 3.6 * max(len(rows), 1) + 0.6)
        axes = fig.subplots(max(len(rows), 1), 3, squeeze=False)
        for row, axs in zip(rows, axes, strict=False):
            if row.get("error"):
                axs[0].text(0.02, 0.5, f"{row['instance']}: {row['error']}", fontsize=8, transform=axs[0].transAxes)
                for ax in axs:
                    ax.set_axis_off()
                continue
            for a in row["actors"]:
                col = COLOR.get(a["actor"], "#8c564b")
                ep, band = np.asarray(a["episodes"]), np.asarray(a["gap_band"])
                axs[0].plot(ep, a["gap_iqm"], "-", color=col, label=f"{a['actor']} (step {_style.fmt_num(a['step'])})")
                axs[0].fill_between(ep, band[0], band[1], color=col, alpha=0.15, lw=0)
                if a["episodes_oracle"] is not None:  # the oracle critic (not run on large instances)
                    epo, band_o = np.asarray(a["episodes_oracle"]), np.asarray(a["gap_oracle_band"])
                    axs[0].plot(epo, a["gap_oracle_iqm"], "--", color=col, lw=1.0)
                    axs[0].fill_between(epo, band_o[0], band_o[1], color=col, alpha=0.07, lw=0)
                be, bm, bb = np.asarray(a["bias_episodes"]), np.asarray(a["bias_median"]), np.asarray(a["bias_band"])
                floor = 1e-17
                axs[1].plot(be, np.maximum(bm, floor), "o-", color=col, ms=3, label=a["actor"])
                axs[1].fill_between(be, np.maximum(bb[0], floor), np.maximum(bb[1], floor), color=col, alpha=0.15)
                axs[2].plot(ep, a["critic_error"], "-", color=col, label=a["actor"])
            for name, e in row["eps"].items():
                axs[0].axhline(e, color="#7f7f7f", ls=":", lw=0.9)
                axs[0].text(
                    0.99, e, f"ε {name}", fontsize=7, ha="right", va="bottom", transform=axs[0].get_yaxis_transform()
                )
            axs[0].set_title(f"{row['instance']}: gap, IQM over seeds (— learned critic, -- oracle V^π)")
            axs[0].set_ylabel("V*(ρ) − J(θ)")
            axs[1].set_yscale("log")
            axs[1].set_title(f"{row['instance']}: critic-induced bias ‖E[D̂|V_w] − E[D̂|V^π]‖/‖E[D̂|V^π]‖")
            axs[1].set_ylabel("relative bias (median, IQR)")
            axs[2].set_title(f"{row['instance']}: critic error ‖V_w − V^π‖_d (median)")
            for ax in axs:
                ax.set_xlabel("episodes")
                ax.legend(fontsize=6.5, loc="best")
        fig.suptitle(
            f"SM-ActorCritic vs A2C and NPG-CG with a learned tabular critic (mode {data['mode']}; B = {st['batch']}, "
            f"{st['seeds_fresh']} fresh seeds, λ_GAE = {st['gae_lambda']:g}, critic step {st['critic_step']:g})"
        )
        return _style.save(fig, path_stem)
