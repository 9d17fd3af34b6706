"""Ascent map of ``r1-same`` (V2) over the policy simplex of Mei et al.'s 3-armed bandit, for several λ.

On the bandit r = (1, 0.9, 0.1) (one state, γ = 0; ``tabular_mdps`` ``mei_bandit``), V2's direction
d(π) = Σ_a π_a Â_a u_a/(λ + ‖u_a‖²) (u_a = e_a − π the score, Â_a = r_a − πᵀr) is an average of
per-action gradient terms with action-dependent weights 1/(λ + ‖u_a‖²), so unlike the positive
definite preconditioners it is not guaranteed to be an ascent direction. For each λ the map shows
the cosine of d with ∇J at every point of a grid of the simplex: blue where ⟨d, ∇J⟩ > 0 (ascent),
red where ⟨d, ∇J⟩ < 0, the black curve ⟨d, ∇J⟩ = 0.

The triangle is drawn in tempered coordinates q = π^τ/Σπ^τ (τ = 1/4): a bijection of the open
simplex that stretches the neighbourhoods of the corners and edges (π_a down to 10⁻⁸), where the
plateaus of softmax PG live. The grid is uniform in q. Thin grey curves are the level sets
π(a*) = 10⁻¹, 10⁻², …; the star is the "bad" initial policy π₀ = (0.01, 0.05, 0.94) of Mei et al.'s
Fig. 1 and the white curve the path of ``r1-same`` from it at the constant step :data:`ETA`.

Claim: the ascent check (``r1-same`` has no ascent guarantee; the check reads the sign of
⟨d, ∇J⟩ along the C1 runs only, this map covers the whole simplex).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from proofs_checks.context import Context
from proofs_checks.runs import instance, run_task
from proofs_checks.sweep import make_task
from r1theory import direction, get_method
from r1theory.batch import batch_policy_point
from r1theory.numerics import cosine

from . import _style, _trajectory

NAME = "ascent_map"
CLAIMS: tuple[str, ...] = ("ascent",)
INSTANCE, PARAMS = "mei_bandit", {"init": "bad"}
METHOD = "r1-same"
LAMBDAS: tuple[float, ...] = (1e-6, 1e-4, 1e-3, 1e-1)
TAU = 0.25
ETA = 1.0
#: Per mode: simplex grid n (points (i, j, k)/n), log grid m (m × m), iterations of the r1-same paths.
RESOLUTION: dict[str, tuple[int, int, int]] = {"quick": (90, 128, 1500), "full": (180, 320, 5000)}
#: Lower end of log₁₀ π in the corner zoom.
CORNER_LO = -8.0
GRID_FN = "figures.ascent_map:ascent_grid"
ARMS = ("a* = a₀ (r = 1)", "a₁ (r = 0.9)", "a₂ (r = 0.1)")
#: Corners of the triangle (x, y) for arms 0, 1, 2: a* on top, a₁ bottom left, a₂ bottom right.
CORNERS = np.array([[0.5, np.sqrt(3.0) / 2.0], [0.0, 0.0], [1.0, 0.0]])


def simplex_grid(n: int) -> np.ndarray:
    """Interior points (i, j, k)/n of the simplex, i + j + k = n, i, j, k ≥ 1; shape ((n−1)(n−2)/2, 3)."""
    pts = [(i, j, n - i - j) for i in range(1, n - 1) for j in range(1, n - i)]
    return np.asarray(pts, dtype=np.float64) / n


def untemper(q: np.ndarray, tau: float = TAU) -> np.ndarray:
    """π from tempered coordinates q = π^τ/Σπ^τ (rows): π = q^{1/τ}/Σ q^{1/τ}."""
    p = q ** (1.0 / tau)
    return p / p.sum(axis=-1, keepdims=True)


def temper(pi: np.ndarray, tau: float = TAU) -> np.ndarray:
    """Tempered coordinates q = π^τ/Σπ^τ (rows)."""
    q = pi**tau
    return q / q.sum(axis=-1, keepdims=True)


def xy(q: np.ndarray) -> np.ndarray:
    """Cartesian position in the triangle of barycentric coordinates q (rows)."""
    return q @ CORNERS


def corner_grid(m: int, lo: float = CORNER_LO) -> tuple[np.ndarray, np.ndarray]:
    """The simplex around the corner a₁ in log coordinates: (x, π) on an m × m grid.

    x = (log₁₀ π(a*), log₁₀ π(a₂)) on cell centres of [lo, 0)², keeping the points with
    π(a*) + π(a₂) < 1 (π(a₁) is the rest); shapes (N, 2) and (N, 3).
    """
    axis = lo + (np.arange(m) + 0.5) * (-lo / m)
    X0, X2 = np.meshgrid(axis, axis, indexing="ij")
    x = np.column_stack([X0.ravel(), X2.ravel()])
    p0, p2 = 10.0 ** x[:, 0], 10.0 ** x[:, 1]
    keep = p0 + p2 < 1.0 - 1e-9
    pi = np.column_stack([p0, 1.0 - p0 - p2, p2])[keep]
    return x[keep], pi


def ascent_grid(config: dict[str, Any]) -> dict[str, Any]:
    """Worker: ⟨d, ∇J⟩ and cos(d, ∇J) of ``config["method"]`` at every grid point, θ = log π.

    ``config["grid"]`` is ``{"kind": "simplex", "n", "tau"}`` (:func:`simplex_grid`, in tempered
    coordinates ``q``) or ``{"kind": "corner", "m"}`` (:func:`corner_grid`, coordinates ``x``).
    """
    mdp = instance(config["instance"], config["params"])[0]
    grid = config["grid"]
    if grid["kind"] == "simplex":
        coords = simplex_grid(int(grid["n"]))
        pi = untemper(coords, float(grid["tau"]))
    elif grid["kind"] == "corner":
        coords, pi = corner_grid(int(grid["m"]))
    else:
        raise ValueError(f"unknown grid kind {grid['kind']!r}")
    d, g = _directions_and_gradients(mdp, np.log(pi)[:, None, :], config["method"], float(config["damping"]))
    inner = np.einsum("bsa,bsa->b", d, g)
    cos = np.array([cosine(x, y) for x, y in zip(d, g, strict=True)])
    return {"coords": coords, "pi": pi, "inner": inner, "cosine": cos}


def _directions_and_gradients(mdp: Any, theta: np.ndarray, method: str, damping: float) -> tuple[Any, Any]:
    """The method's direction and ∇J at every θ of a (B, S, A) stack: the batched engine, one call each.

    :func:`r1theory.batch_policy_point` evaluates the B policies at once and the method's registered
    ``batch_direction`` (the formula of its ``direction``) takes them all; a method without one (a plugin's)
    gets :func:`r1theory.direction` point by point. Tens of thousands of grid points in a second instead of
    one engine call each.
    """
    point = batch_policy_point(mdp, theta)
    m = get_method(method)
    lam = np.full(len(theta), damping)
    if m.batch_direction is not None:
        d = m.batch_direction(point, lam)
    else:
        d = np.stack([direction(method, mdp, t, damping=damping) for t in theta])
    return d, point.gradient


def _summary(g: dict[str, Any]) -> dict[str, Any]:
    inner = np.asarray(g["inner"])
    cos = np.asarray(g["cosine"])
    k = int(np.nanargmin(cos))
    return {
        "coords": np.asarray(g["coords"]),
        "pi": np.asarray(g["pi"]),
        "inner": inner,
        "cosine": cos,
        "n_negative": int((inner < 0).sum()),
        "n_points": int(inner.size),
        "min_cosine": float(cos[k]),
        "argmin_pi": np.asarray(g["pi"])[k],
    }


def data(ctx: Context) -> dict[str, Any]:
    """Per λ: both grids (coordinates, π, ⟨d, ∇J⟩, cosine, counts) and the path of r1-same from π₀."""
    n, m, T = RESOLUTION[ctx.mode]
    grids = {"simplex": {"kind": "simplex", "n": n, "tau": TAU}, "corner": {"kind": "corner", "m": m}}
    base = {"instance": INSTANCE, "params": PARAMS, "method": METHOD}
    tasks = [make_task(GRID_FN, {**base, "damping": lam, "grid": grids[k]}) for lam in LAMBDAS for k in grids]
    results = iter(ctx.sweep.run(tasks, label="figures: ascent map"))
    at = sorted({0, *np.unique(np.round(np.geomspace(1, T, 160)).astype(int)).tolist()})
    runs = [run_task(INSTANCE, METHOD, ETA, T, params=PARAMS, damping=lam, theta0="instance").config for lam in LAMBDAS]
    paths = ctx.sweep.run([_trajectory.replay_task(r, at) for r in runs], label="figures: r1-same paths")
    theta0 = instance(INSTANCE, PARAMS)[1]
    assert theta0 is not None
    pi0 = np.exp(theta0[0] - theta0[0].max())
    maps = []
    for lam, path in zip(LAMBDAS, paths, strict=True):
        th = np.asarray(path["theta"])[:, 0, :]
        ppi = np.exp(th - th.max(axis=1, keepdims=True))
        ppi /= ppi.sum(axis=1, keepdims=True)
        maps.append(
            {
                "damping": lam,
                **{k: _summary(next(results)) for k in grids},
                "path_t": np.asarray(path["t"]),
                "path_pi": ppi,
                "path_gap": np.asarray(path["gap"]),
            }
        )
    return {
        "mode": ctx.mode,
        "instance": INSTANCE,
        "rewards": [1.0, 0.9, 0.1],
        "method": METHOD,
        "tau": TAU,
        "n": n,
        "m": m,
        "eta": ETA,
        "iterations": T,
        "pi0": pi0 / pi0.sum(),
        "maps": maps,
    }


NEG_COLOR = "#b2182b"


def _on_grid(x: np.ndarray, values: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Scatter values at corner-grid coordinates x back onto the m × m grid (NaN where π(a₁) ≤ 0)."""
    step = -CORNER_LO / m
    axis = CORNER_LO + (np.arange(m) + 0.5) * step
    idx = np.rint((x - CORNER_LO) / step - 0.5).astype(int)
    out = np.full((m, m), np.nan)
    out[idx[:, 0], idx[:, 1]] = values
    return axis, out


def _panel_title(m: dict[str, Any]) -> str:
    where = (
        f"not ascent at {m['n_negative']}/{m['n_points']} points"
        if m["n_negative"]
        else f"ascent at all {m['n_points']} points"
    )
    return f"{where}; min cos = {m['min_cosine']:.3g}"


def draw(data: dict[str, Any], path_stem: Path | str) -> list[Path]:
    """Top row: one triangle per λ; bottom row: the same λ in log coordinates around a₁."""
    from matplotlib.tri import Triangulation

    maps = data["maps"]
    levels = np.linspace(-1.0, 1.0, 21)
    pi0 = np.asarray(data["pi0"])
    with _style.style():
        fig = _style.new_figure(3.9 * len(maps) + 0.8, 8.6)
        axes = fig.subplots(2, len(maps), squeeze=False)
        mappable = None
        for j, m in enumerate(maps):
            lam = _style.fmt_num(m["damping"])
            path_pi = np.asarray(m["path_pi"])
            # --- the simplex, tempered coordinates
            ax = axes[0, j]
            g = m["simplex"]
            pts = xy(np.asarray(g["coords"]))
            tri = Triangulation(pts[:, 0], pts[:, 1])
            cos = np.clip(np.nan_to_num(np.asarray(g["cosine"]), nan=0.0), -1.0, 1.0)
            mappable = ax.tricontourf(tri, cos, levels=levels, cmap="RdBu", vmin=-1.0, vmax=1.0)
            neg = np.asarray(g["inner"]) < 0
            ax.plot(pts[neg, 0], pts[neg, 1], "o", color=NEG_COLOR, ms=2.5, mec="none")
            logpi0 = np.log10(np.asarray(g["pi"])[:, 0])
            cs = ax.tricontour(tri, logpi0, levels=[-6, -4, -2, -1], colors="0.45", linewidths=0.6)
            ax.clabel(cs, fmt=lambda v: f"π(a*)=1e{int(v)}", fontsize=5.5)
            path = xy(temper(path_pi, data["tau"]))
            ax.plot(path[:, 0], path[:, 1], color="white", lw=2.4)
            ax.plot(path[:, 0], path[:, 1], color="k", lw=0.9, ls="--")
            ax.plot(*path[-1], "o", color="k", mfc="white", ms=5)
            ax.plot(*xy(temper(pi0[None, :], data["tau"]))[0], "*", color="gold", mec="k", ms=11)
            ax.fill(CORNERS[:, 0], CORNERS[:, 1], fill=False, ec="k", lw=1.0)
            offsets = ((0.0, 0.04, "center"), (-0.02, -0.07, "left"), (0.02, -0.07, "right"))
            for (x, y), name, (dx, dy, ha) in zip(CORNERS, ARMS, offsets, strict=True):
                ax.text(x + dx, y + dy, name, ha=ha, fontsize=7.5)
            ax.set_xlim(-0.08, 1.08)
            ax.set_ylim(-0.12, 0.97)
            ax.set_aspect("equal")
            ax.axis("off")
            ax.set_title(f"λ = {lam}: simplex (tempered, n = {data['n']})\n{_panel_title(g)}", fontsize=8.5)
            # --- log coordinates around a₁
            ax = axes[1, j]
            c = m["corner"]
            axis, cos = _on_grid(np.asarray(c["coords"]), np.asarray(c["cosine"]), data["m"])
            ax.contourf(axis, axis, np.clip(cos, -1.0, 1.0).T, levels=levels, cmap="RdBu", vmin=-1.0, vmax=1.0)
            if c["n_negative"]:
                _, inner = _on_grid(np.asarray(c["coords"]), np.asarray(c["inner"]), data["m"])
                ax.contourf(axis, axis, inner.T, levels=[-np.inf, 0.0], colors=NEG_COLOR)
                ax.contour(axis, axis, inner.T, levels=[0.0], colors="k", linewidths=0.8)
            lp = np.log10(np.clip(path_pi[:, [0, 2]], 10.0**CORNER_LO, 1.0))
            ax.plot(lp[:, 0], lp[:, 1], color="white", lw=2.4)
            ax.plot(lp[:, 0], lp[:, 1], color="k", lw=0.9, ls="--")
            ax.plot(*lp[-1], "o", color="k", mfc="white", ms=5)
            ax.plot(np.log10(pi0[0]), np.log10(pi0[2]), "*", color="gold", mec="k", ms=11)
            ax.set_xlim(CORNER_LO, 0.0)
            ax.set_ylim(CORNER_LO, 0.0)
            ax.set_aspect("equal")
            ax.set_xlabel("log₁₀ π(a*)")
            ax.set_ylabel("log₁₀ π(a₂)")
            ax.set_title(
                f"λ = {lam}: log coordinates, π(a₁) = rest ({data['m']}² grid)\n{_panel_title(c)}", fontsize=8.5
            )
        if mappable is not None:
            cb = fig.colorbar(mappable, ax=axes, shrink=0.5, ticks=[-1, -0.5, 0, 0.5, 1])
            cb.set_label("cos(d_V2, ∇J)   (< 0: not an ascent direction)")
        ax0 = axes[0, 0]
        handles = [
            ax0.plot([], [], "*", color="gold", mec="k", ms=10, label="π₀ = (0.01, 0.05, 0.94), the bad init")[0],
            ax0.plot(
                [], [], color="k", ls="--", label=f"r1-same from π₀ at η = {data['eta']:g} ({data['iterations']} it.)"
            )[0],
            ax0.plot([], [], "o", color="k", mfc="white", label="its last iterate")[0],
            ax0.plot([], [], "s", color=NEG_COLOR, label="⟨d, ∇J⟩ < 0 (dots on the simplex; region below)")[0],
            ax0.plot([], [], color="0.45", lw=0.6, label="level sets of π(a*)")[0],
        ]
        fig.legend(handles=handles, loc="outside lower center", ncol=3)
        fig.suptitle(
            "Ascent map of r1-same (V2) on Mei et al.'s bandit r = (1, 0.9, 0.1): sign of ⟨d, ∇J⟩ over the simplex\n"
            f"top: tempered coordinates π^τ/Σπ^τ, τ = {data['tau']:g}; bottom: log₁₀ π(a*) and log₁₀ π(a₂) "
            f"({data['mode']} mode)"
        )
        return _style.save(fig, path_stem)
