"""Figures: the numbers each figure plots, checked against their definitions; files written, valid, deterministic.

The C1 sweep is shrunk (two small families, two λ, three steps, 150 iterations) so that every figure's data
is computed for real, through the sweep cache, in a few seconds.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import figures
import r1theory
from figures import (
    _c1,
    _style,
    _trajectory,
    ascent_map,
    c1_protocols,
    gap_curves,
    iterations_vs_damping,
    sample_complexity,
)
from proofs_checks import c1_faster_than_pg as c1
from proofs_checks import c2_sample_complexity as c2
from proofs_checks import smac_vs_baselines as smac
from proofs_checks.context import Context
from proofs_checks.report import claim_markdown, markdown
from proofs_checks.result import CheckResult
from proofs_checks.runs import instance
from r1theory import fisher, fisher_diagnostics
from r1theory.numerics import cosine

PNG = b"\x89PNG\r\n\x1a\n"

TINY = [
    c1.Family("plateau", "mei_bandit", {"init": "bad"}, "instance", 150),
    c1.Family("rand", "random", {"S": 3, "A": 3, "gamma": 0.8, "seed": 2}, "uniform", 150),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    """A quick context whose C1 suite is two small families; module-wide patches of the sweep's grids."""
    out = tmp_path_factory.mktemp("figs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(c1, "suite", lambda quick: list(TINY))
        mp.setattr(c1, "dampings", lambda quick: [0.1, 10.0])
        mp.setattr(c1, "step_grid", lambda quick: [1.0, 10.0, 100.0])
        real = c2.setting(True)
        tiny_c2 = replace(real, instances=real.instances[:1], budget=300, sched_budget=300, isqrt_budget=300,
                          batches=(1, 4), ratios=(0.01, 0.1, 1.0), seeds=3, fresh_seeds=3, sched_levels=3, n_boot=40,
                          mc_draws=2000, records=200)  # fmt: skip
        mp.setattr(c2, "setting", lambda quick: tiny_c2)
        tiny_smac = replace(smac.setting(True), iterations=12, record_every=4, seeds_tune=3, seeds_fresh=3, n_boot=40)
        garnet_only = smac.suite(True)[:1]
        mp.setattr(smac, "setting", lambda quick: tiny_smac)
        mp.setattr(smac, "suite", lambda quick: garnet_only)
        mp.setattr(ascent_map, "RESOLUTION", {"quick": (24, 40, 200), "full": (24, 40, 200)})
        mp.setitem(_style.RC, "savefig.dpi", 50)  # the bytes, not the pixels, are under test: draw small
        yield figures.context(out, "quick", jobs=1, progress=False)


@pytest.fixture(scope="module")
def all_data(tiny: Context) -> dict[str, dict[str, Any]]:
    return {name: figures.module(name).data(tiny) for name in figures.FIGURES}


# ---------------------------------------------------------------------------------------------
# gap curves
# ---------------------------------------------------------------------------------------------
def test_references_have_the_stated_slopes() -> None:
    t = np.arange(0, 400, dtype=float)
    pg = 3.0 / np.maximum(t, 1.0)
    fast = 0.5 * 0.8**t
    refs = gap_curves.references(pg, [fast], J_star=1.0, until=399)
    s, li = refs["sublinear"], refs["linear"]
    slope = np.diff(np.log(s["gap"])) / np.diff(np.log(s["x"]))
    np.testing.assert_allclose(slope, -1.0, rtol=1e-12)
    assert s["fit_slope"] == pytest.approx(-1.0, rel=1e-9)
    np.testing.assert_allclose(s["gap"][s["t_anchor"]], pg[s["t_anchor"]], rtol=1e-12)  # anchored on PG
    assert li["q"] == pytest.approx(0.8, rel=1e-9)
    np.testing.assert_allclose(np.diff(np.log(li["gap"])), math.log(0.8), rtol=1e-12)
    np.testing.assert_allclose(li["x"], t + 1.0)
    assert gap_curves.references(pg[:3], [fast[:3]], 1.0, 2) == {"sublinear": None, "linear": None}


def test_gap_curves_data_are_the_tuned_runs(tiny: Context, all_data: dict[str, dict[str, Any]]) -> None:
    d = all_data["gap_curves"]
    s1 = _c1.sweep(tiny)
    assert [p["family"] for p in d["panels"]] == [f.label for f in TINY]
    for p in d["panels"]:
        eps = p["eps"]
        assert eps == pytest.approx(1e-4 * s1.gap0[p["family"]])
        by = {c["method"]: c for c in p["curves"]}
        assert list(by) == ["pg", *c1.METHODS]
        pg = s1.series[(p["family"], "pg", None)]
        assert by["pg"]["T"] == pg.T(pg.best(eps), eps)
        np.testing.assert_array_equal(by["pg"]["gap"], pg.runs[by["pg"]["eta"]].gap)
        for m in c1.METHODS:  # the best (λ, η) over the whole sweep of that method
            Ts = [
                s.T(eta, eps)
                for (lab, mm, _), s in s1.series.items()
                if lab == p["family"] and mm == m
                for eta in s.runs
            ]
            best = min((t for t in Ts if t is not None), default=None)
            assert by[m]["T"] == best
        s = p["references"]["sublinear"]
        if s is not None:
            np.testing.assert_allclose(s["gap"] * s["x"], s["c"], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# C1 protocols and iterations against λ
# ---------------------------------------------------------------------------------------------
def test_speedup_rules() -> None:
    assert c1_protocols.speedup(10, 40, 100) == (4.0, "exact")
    assert c1_protocols.speedup(20, None, 100) == (5.0, "lower")
    assert c1_protocols.speedup(None, 50, 100) == (0.5, "upper")
    assert c1_protocols.speedup(None, None, 100) is None
    assert c1_protocols.speedup(1, 2, 100) is None  # greedy-step regime: undecidable, as in the check


def test_c1_protocols_data_match_the_series(tiny: Context, all_data: dict[str, dict[str, Any]]) -> None:
    s1 = _c1.sweep(tiny)
    for p in all_data["c1_protocols"]["panels"]:
        eps, pg = p["eps"], s1.series[(p["family"], "pg", None)]
        for cell in p["cells"]:
            s = s1.series[(p["family"], cell["method"], cell["damping"])]
            for q in cell["equal-step"]:
                Tm, Tp = s.T(q["eta"], eps), pg.T(q["eta"], eps)
                assert (q["ratio"], q["kind"]) == c1_protocols.speedup(Tm, Tp, p["cap"])
            want = c1_protocols.speedup(s.T(s.best(eps), eps), pg.T(pg.best(eps), eps), p["cap"])
            got = cell["tuned"]
            assert (None if got is None else (got["ratio"], got["kind"])) == want


def test_iterations_vs_damping_data(tiny: Context, all_data: dict[str, dict[str, Any]]) -> None:
    s1 = _c1.sweep(tiny)
    d = all_data["iterations_vs_damping"]
    assert d["dampings"] == [0.1, 10.0]
    for p in d["panels"]:
        for which, e in p["eps"].items():
            assert e["eps"] == pytest.approx(c1.EPS_REL[which] * s1.gap0[p["family"]])
            for line in e["lines"]:
                for lam, T, eta in zip(d["dampings"], line["T"], line["eta"], strict=True):
                    s = s1.series[(p["family"], line["method"], lam)]
                    assert eta == s.best(e["eps"]) and T == s.T(eta, e["eps"])


# ---------------------------------------------------------------------------------------------
# Fisher spectrum and cosines along a replayed run
# ---------------------------------------------------------------------------------------------
def test_replay_reproduces_the_cached_run(tiny: Context) -> None:
    s1 = _c1.sweep(tiny)
    for tr in _trajectory.reference_runs(tiny):
        eps = _c1.eps(s1, tr.family.label)
        run = _c1.slowest_converging_pg(s1, tr.family.label, eps).run
        assert tr.t[0] == 0 and tr.t[-1] == run.iterations
        np.testing.assert_array_equal(tr.theta[-1], run.theta)  # bit for bit
        np.testing.assert_allclose(tr.gap, run.gap[tr.t], rtol=0, atol=1e-15)


def test_checkpoint_times() -> None:
    assert _trajectory.checkpoint_times(0) == [0]
    ts = _trajectory.checkpoint_times(1000, 24)
    assert ts[0] == 0 and ts[1] == 1 and ts[-1] == 1000 and ts == sorted(set(ts))
    with pytest.raises(ValueError, match="increasing"):
        _trajectory.task({}, [3, 1], [0.1])


def test_spectrum_is_the_dense_fisher_eigvalsh(all_data: dict[str, dict[str, Any]]) -> None:
    for p in all_data["fisher_spectrum"]["panels"]:
        fam = next(f for f in TINY if f.label == p["family"])
        mdp = instance(fam.instance, fam.params)[0]
        for k, theta in enumerate(p["theta"]):
            dense = np.linalg.eigvalsh(fisher(mdp, theta).dense())[::-1]
            np.testing.assert_allclose(p["spectrum"][k], dense, rtol=1e-9, atol=1e-14)
        S, A = mdp.S, mdp.A
        assert p["nonzero"].shape == (len(p["t"]), S * (A - 1))
        assert np.all(p["entropy"] >= 0) and np.all(p["entropy"] <= math.log(A) + 1e-12)
        assert p["entropy"][0] == pytest.approx(_trajectory.entropy(*_pi_d(mdp, p["theta"][0])))


def _pi_d(mdp: Any, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from r1theory import policy_point

    pt = policy_point(mdp, theta)
    return pt.pi, pt.ev.d


def test_errors_and_cosines_are_fisher_diagnostics(all_data: dict[str, dict[str, Any]]) -> None:
    fs, cs = all_data["fisher_spectrum"], all_data["cosines"]
    for p, q in zip(fs["panels"], cs["panels"], strict=True):
        fam = next(f for f in TINY if f.label == p["family"])
        mdp = instance(fam.instance, fam.params)[0]
        k = len(p["t"]) // 2
        for lam in p["dampings"]:
            diag = fisher_diagnostics(mdp, p["theta"][k], lam)
            assert set(p["rel_error"][str(lam)]) == {"r1-eigen", "r1-grad", "r1-precond"}
            assert set(q["cosine"][str(lam)]) == set(r1theory.METHODS) - {"npg"}
            for m in p["rel_error"][str(lam)]:
                assert p["rel_error"][str(lam)][m][k] == pytest.approx(diag[m].relative_spectral_error, rel=1e-9)
            for m in q["cosine"][str(lam)]:
                assert q["cosine"][str(lam)][m][k] == pytest.approx(diag[m].cosine, rel=1e-9, abs=1e-12)
            # r1-grad is ∇J rescaled: the same cosine as pg
            np.testing.assert_allclose(q["cosine"][str(lam)]["r1-grad"], q["cosine"][str(lam)]["pg"], atol=1e-12)


# ---------------------------------------------------------------------------------------------
# ascent map
# ---------------------------------------------------------------------------------------------
def _v2_inner(pi: np.ndarray, lam: float) -> float:
    """⟨d_V2, ∇J⟩ on Mei et al.'s bandit r = (1, 0.9, 0.1), from the definitions (no engine call)."""
    r = np.array([1.0, 0.9, 0.1])
    adv = r - pi @ r
    U = np.eye(3) - pi[None, :]  # u_a = e_a − π
    n = (U**2).sum(axis=1)
    d = (pi * adv / (lam + n)) @ U
    g = pi * adv
    return float(d @ g)


def test_tempered_coordinates_round_trip() -> None:
    q = ascent_map.simplex_grid(12)
    assert len(q) == 11 * 10 // 2 and np.all(q > 0)
    np.testing.assert_allclose(q.sum(axis=1), 1.0)
    np.testing.assert_allclose(ascent_map.temper(ascent_map.untemper(q)), q, rtol=1e-12)
    x, pi = ascent_map.corner_grid(10)
    np.testing.assert_allclose(np.log10(pi[:, [0, 2]]), x, rtol=1e-12)
    np.testing.assert_allclose(pi.sum(axis=1), 1.0)


def test_ascent_map_matches_the_sign_of_d_dot_grad(all_data: dict[str, dict[str, Any]]) -> None:
    d = all_data["ascent_map"]
    assert [m["damping"] for m in d["maps"]] == list(ascent_map.LAMBDAS)
    rng = np.random.default_rng(0)
    for m in d["maps"]:
        for grid in ("simplex", "corner"):
            g = m[grid]
            assert g["n_negative"] == int((g["inner"] < 0).sum())
            for i in rng.choice(len(g["pi"]), size=6, replace=False):
                want = _v2_inner(g["pi"][i], m["damping"])
                assert np.sign(g["inner"][i]) == np.sign(want)
                assert g["inner"][i] == pytest.approx(want, rel=1e-8, abs=1e-300)
        np.testing.assert_allclose(m["path_pi"].sum(axis=1), 1.0)
    np.testing.assert_allclose(d["pi0"], [0.01, 0.05, 0.94], rtol=1e-12)


@pytest.mark.parametrize("grid", [{"kind": "simplex", "n": 24, "tau": 0.25}, {"kind": "corner", "m": 30}])
def test_ascent_grid_is_the_engines_direction_point_by_point(grid: dict[str, Any]) -> None:
    """The batched worker (batch_policy_point, the method's batch_direction) = r1theory.direction at each point."""
    cfg = {"instance": ascent_map.INSTANCE, "params": ascent_map.PARAMS, "method": ascent_map.METHOD, "grid": grid}
    mdp = instance(ascent_map.INSTANCE, ascent_map.PARAMS)[0]
    for lam in (1e-6, 1e-1):
        got = ascent_map.ascent_grid({**cfg, "damping": lam})
        for i, p in enumerate(got["pi"]):
            theta = np.log(p)[None, :]
            d = r1theory.direction(ascent_map.METHOD, mdp, theta, damping=lam)
            g = r1theory.policy_gradient(mdp, theta)
            assert got["inner"][i] == pytest.approx(float(np.vdot(d, g)), rel=1e-11, abs=1e-300)
            assert got["cosine"][i] == pytest.approx(cosine(d, g), abs=1e-12)


def test_v2_is_not_an_ascent_direction_on_the_plateau_band() -> None:
    """The band the map shows for small λ: π(a*) = 10⁻², π(a₂) = 10⁻²·⁸, near the corner a₁."""
    from r1theory import direction, policy_gradient

    pi = np.array([1e-2, 1.0 - 1e-2 - 10**-2.8, 10**-2.8])
    assert _v2_inner(pi, 1e-4) < 0 < _v2_inner(pi, 1e-1)
    mdp = instance("mei_bandit", {"init": "bad"})[0]
    theta = np.log(pi)[None, :]
    for lam in (1e-4, 1e-1):  # the engine agrees with the definition
        engine = float(np.vdot(direction("r1-same", mdp, theta, damping=lam), policy_gradient(mdp, theta)))
        assert engine == pytest.approx(_v2_inner(pi, lam), rel=1e-9)


# ---------------------------------------------------------------------------------------------
# C2: sample complexity and estimator bias
# ---------------------------------------------------------------------------------------------
def test_c2_figures_reuse_the_checks_tasks_and_numbers(tiny: Context) -> None:
    """After the C2 check ran, figures on a new runner over the same cache compute nothing and show the check's
    fits and biases (read from the cache files, not from the first runner's memo)."""
    results = c2.check(tiny)
    fresh = figures.context(tiny.out, "quick", jobs=1, progress=False)
    sc = sample_complexity.data(fresh)
    eb = figures.module("estimator_bias_variance").data(fresh)
    assert fresh.sweep.computed == 0 and fresh.sweep.reused > 0
    for r in results:
        if r.conditions.get("part") != "tuned":
            continue
        row = next(x for x in sc["rows"] if x["instance"] == r.conditions["instance"])
        arm = next(a for a in row["tuned"][r.conditions["criterion"]] if a["method"] == r.variant)
        want = r.measured["method"]["fit"]
        got = arm["fit"]
        assert (None if got is None else got["k"]) == want["exponent"]
        np.testing.assert_array_equal(arm["N_fresh"], np.asarray(r.measured["method"]["N_fresh_mean"], dtype=float))
    bias = next(r for r in results if r.conditions.get("part") == "bias" and r.variant == "r1-sample-same")
    for p in eb["points"]:
        assert p["relative_bias_B1"] == pytest.approx(bias.measured[p["point"]]["B=1"]["relative_bias"], rel=1e-12)


def test_sample_complexity_data(all_data: dict[str, dict[str, Any]]) -> None:
    d = all_data["sample_complexity"]
    assert [r["instance"] for r in d["rows"]] == ["random-4x3"]
    for row in d["rows"]:
        for crit in c2.CRITERIA:
            for a in row["tuned"][crit]:
                eps = np.asarray(a["eps"])
                np.testing.assert_allclose(eps[1:] / eps[:-1], 10 ** (-1 / 4))
                np.testing.assert_allclose(eps[0], row["eps0"][crit] * 10 ** (-1 / 4))
                # fresh re-runs are drawn where the grid reached ε; a censored level is drawn at the budget
                grid_censored = ~np.isfinite(np.asarray(a["N_grid"], dtype=float))
                assert np.all(np.asarray(a["censored"])[grid_censored])
                assert not np.any(np.asarray(a["usable"])[np.asarray(a["censored"])])
                f = a["fit"]
                if f is not None:  # the drawn line is the fitted power law: slope k in log N against log(1/ε)
                    slope = np.diff(np.log(f["N"])) / np.diff(np.log(1.0 / np.asarray(f["eps"])))
                    np.testing.assert_allclose(slope, f["k"], rtol=1e-9)
        for t in row["trapping"]:
            assert np.all((0.0 <= t["fraction"]) & (t["fraction"] <= 1.0))
        assert {s["schedule"] for s in row["schedules"]} == set(c2.SCHEDULES)


def test_bias_figure_data(all_data: dict[str, dict[str, Any]]) -> None:
    d = all_data["estimator_bias_variance"]
    for p in d["points"]:
        # the same-sample bias is exactly O(1/B): (W_b − E[(λI+uuᵀ)⁻¹]∇J)/B
        assert p["relative_bias_B1"] == pytest.approx(d["batch"] * p[f"relative_bias_B{d['batch']}"], rel=1e-6)
        assert p["relative_bias_B1"] > 1e-3
        for key in ("mc_one-sample_same", "mc_one-sample_independent"):
            np.testing.assert_allclose(p[key]["std"], p[key]["se"] * math.sqrt(d["draws"]))
        # the Monte Carlo covers the exact independent expectation (generous: 5 standard errors)
        mi = p["mc_one-sample_independent"]
        assert np.all(np.abs(mi["mean"] - p["exact_independent"]) <= 5 * mi["se"] + 1e-12)


# ---------------------------------------------------------------------------------------------
# files, determinism, registry, CLI, report
# ---------------------------------------------------------------------------------------------
#: Figures drawn a second time to compare the bytes (the others are covered by the same code path; drawing
#: is the slow part of this file). iterations_vs_damping is redrawn under foreign rcParams below.
TWICE = ("gap_curves", "ascent_map")


@pytest.mark.parametrize("name", figures.FIGURES)
def test_files_are_written_valid_and_deterministic(
    name: str, all_data: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    mod = figures.module(name)
    assert mod.NAME == name and mod.CLAIMS
    paths = mod.draw(all_data[name], tmp_path / "a" / name)
    assert [p.name for p in paths] == [f"{name}.png", f"{name}.pdf"]
    png, pdf = (p.read_bytes() for p in paths)
    assert png.startswith(PNG) and len(png) > 2_000
    assert pdf.startswith(b"%PDF-") and b"CreationDate" not in pdf and len(pdf) > 5_000
    if name in TWICE:
        again = mod.draw(all_data[name], tmp_path / "b" / name)
        assert again[0].read_bytes() == png
        assert again[1].read_bytes() == pdf


def test_saved_data_equals_the_modules_data(tiny: Context, all_data: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """draw_one saves figures/<name>.json beside the images: the plotted numbers, restylable by draw."""
    from proofs_checks.result import jsonable

    name = "iterations_vs_damping"
    paths = figures.draw_one(name, tiny, tmp_path)
    assert [p.name for p in paths] == [f"{name}.png", f"{name}.pdf", f"{name}.json"]
    saved = figures.load_data(paths[-1])
    np.testing.assert_equal(saved, jsonable(all_data[name], nonfinite_as_strings=False))
    assert saved != jsonable({**all_data[name], "mode": "other"}, nonfinite_as_strings=False)
    for other, data in all_data.items():  # every figure's data survives the file format (NaN, ±inf, nesting)
        path = figures.save_data(data, tmp_path / f"{other}.json")
        np.testing.assert_equal(figures.load_data(path), jsonable(data, nonfinite_as_strings=False))
        # the fast conversion of arrays writes the text the element-by-element jsonable gives
        assert path.read_text(encoding="utf-8") == json.dumps(jsonable(data, nonfinite_as_strings=False),
                                                              ensure_ascii=False) + "\n"  # fmt: skip
    restyled = figures.module(name).draw(saved, tmp_path / "restyled")  # a user redraws from the file
    assert restyled[0].read_bytes() == paths[0].read_bytes()


def test_style_is_independent_of_the_users_rcparams(all_data: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    import matplotlib

    ref = iterations_vs_damping.draw(all_data["iterations_vs_damping"], tmp_path / "ref")[0].read_bytes()
    with matplotlib.rc_context({"font.size": 20.0, "lines.linewidth": 5.0, "axes.grid": False}):
        other = iterations_vs_damping.draw(all_data["iterations_vs_damping"], tmp_path / "other")[0].read_bytes()
    assert other == ref
    assert _style.fmt_num(1e-3) == "1e-03" and _style.fmt_num(0.1) == "0.1" and _style.fmt_num(None) == "–"


def _log_figure() -> Any:
    """A figure with log axes over several decades (unlabelled minor ticks) and one within a decade (labelled)."""
    fig = _style.new_figure(5.0, 2.5)
    wide, narrow = fig.subplots(1, 2)
    wide.loglog([1.0, 1e3], [1.0, 1e-4], "o-")
    wide.set_title("decades")
    narrow.semilogy([0.0, 1.0], [2.0, 7.0])
    narrow.set_xlabel("within a decade")
    return fig


def test_minor_ticks_as_marker_lines_draw_matplotlibs_image(tmp_path: Path) -> None:
    """_style.save draws unlabelled minor ticks as one marker line per axis: the PNG matplotlib draws with its Ticks."""
    import matplotlib.ticker as mticker
    from matplotlib.lines import Line2D
    from matplotlib.markers import TICKDOWN, TICKLEFT
    from PIL import Image

    with _style.style():
        ours = _log_figure()
        png, _ = _style.save(ours, tmp_path / "ours")
        ref = _log_figure()
        ref.savefig(tmp_path / "ref.png")  # matplotlib's own path: a Tick per minor tick, constrained layout
    a = np.asarray(Image.open(png), dtype=np.int16)
    b = np.asarray(Image.open(tmp_path / "ref.png"), dtype=np.int16)
    assert a.shape == b.shape and np.abs(a - b).max() <= 1  # the order of drawing the marks: one grey level
    assert np.count_nonzero(np.any(a != b, axis=-1)) <= 0.001 * a.shape[0] * a.shape[1]
    wide, narrow = ours.axes
    assert isinstance(wide.xaxis.get_minor_locator(), mticker.NullLocator)  # replaced by marks...
    assert isinstance(wide.yaxis.get_minor_locator(), mticker.NullLocator)
    lines = [m for m in wide.get_children() if isinstance(m, Line2D)]
    marks: dict[Any, Line2D] = {m.get_marker(): m for m in lines if m.get_marker() in (TICKDOWN, TICKLEFT)}
    for axis, mark, data in ((ref.axes[0].xaxis, marks[TICKDOWN], marks[TICKDOWN].get_xdata()),
                             (ref.axes[0].yaxis, marks[TICKLEFT], marks[TICKLEFT].get_ydata())):  # fmt: skip
        lo, hi = sorted(axis.get_view_interval())
        locs = [x for x in axis.get_minorticklocs() if lo <= x <= hi]  # the minor ticks matplotlib drew
        np.testing.assert_allclose(np.sort(data), locs, rtol=1e-12)  # ...one mark each
        assert mark.get_markersize() == 2.0 and not mark.get_clip_on()  # xtick.minor.size, outside the axes
    assert isinstance(narrow.yaxis.get_minor_locator(), mticker.LogLocator)  # labelled minor ticks stay Ticks
    assert any(narrow.yaxis.get_minor_formatter().format_ticks(list(narrow.yaxis.get_minorticklocs())))


def test_parallel_drawing_hands_out_the_longest_first(tiny: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """draw_all with jobs > 1 dispatches by DRAW_SECONDS, longest first, and reports in the asked order."""
    import joblib

    assert set(figures.DRAW_SECONDS) == set(figures.FIGURES)
    dispatched: list[str] = []

    class Serial:  # joblib.Parallel's interface, run in this process, recording the order of the tasks
        def __init__(self, n_jobs: int, **kwargs: Any) -> None:
            assert n_jobs == 2 and kwargs["initargs"] == (os.getpid(),)  # the sweep's workers, reused

        def __call__(self, tasks: Any) -> list[Any]:
            out = []
            for _fn, args, _kwargs in tasks:
                dispatched.append(args[0])
                out.append((["drawn"], None) if args[0] != "cosines" else ([], "ValueError: bad"))
            return out

    monkeypatch.setattr(joblib, "Parallel", Serial)
    monkeypatch.setattr(tiny.sweep, "jobs", 2)
    names = ["iterations_vs_damping", "cosines", "estimator_bias_variance", "ascent_map"]
    for n in names:
        monkeypatch.setattr(figures.module(n), "data", lambda ctx: {})
    written, failed = figures.draw_all(tiny, names, progress=False)
    assert dispatched == sorted(names, key=lambda n: -figures.DRAW_SECONDS[n])
    assert dispatched[0] == "estimator_bias_variance" and dispatched[-1] == "iterations_vs_damping"
    assert list(written) == ["iterations_vs_damping", "estimator_bias_variance", "ascent_map"]
    assert failed == {"cosines": "ValueError: bad"}


def test_select_and_cli_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from r1theory_cli import main

    assert figures.select(None) == list(figures.FIGURES)
    assert figures.select("ascent") == ["ascent_map"]
    assert main(["figures", "--list"]) == 0
    assert capsys.readouterr().out.split() == list(figures.FIGURES)
    for argv, msg in (
        (["figures", "--only", "nope"], "matches no figure"),
        (["figures", "--quick", "--full"], "not allowed with"),
        (["figures", "--jobs", "0"], "--jobs must be a positive integer"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2 and msg in capsys.readouterr().err
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(SystemExit) as exc:
        figures.main(["--out", str(f)])
    assert exc.value.code == 2


def test_cli_draws_into_out_figures_from_the_shared_cache(tiny: Context, capsys: pytest.CaptureFixture[str]) -> None:
    from r1theory_cli import main

    tiny.sweep.run([], "warm")  # the module fixture already filled tiny.out/cache
    assert main(["figures", "--only", "ascent_map", "--out", str(tiny.out), "--no-progress", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "runs computed: 0" in out  # every ascent-map task was cached by the data fixture
    for ext in ("png", "pdf"):
        assert (tiny.out / "figures" / f"ascent_map.{ext}").stat().st_size > 0


def _result(claim: str) -> CheckResult:
    return CheckResult(claim=claim, statement="s", variant="pg", conditions={}, measured={}, bound={}, verdict="holds")


def test_for_report_draws_only_the_figures_of_claims_run(tiny: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    assert figures.for_report(tiny, [_result("pdl")]) == {}
    assert {n for n in figures.FIGURES if "ascent" in figures.module(n).CLAIMS} == {"cosines", "ascent_map"}
    monkeypatch.setattr(figures, "FIGURES", ("gap_curves", "ascent_map"))  # draw one, not both
    got = figures.for_report(tiny, [_result("ascent"), _result("pdl")])
    assert got == {"ascent": ["figures/ascent_map.png"]}
    for rel in got["ascent"]:
        assert (tiny.out / rel).read_bytes().startswith(PNG)
    text = markdown([_result("ascent")], {"mode": "quick"}, [], None, got)
    assert "[ascent_map](figures/ascent_map.png)" in text  # the index links the figure and its data
    assert "(figures/ascent_map.json)" in text
    detail = claim_markdown("ascent", [_result("ascent")], None, got["ascent"])
    assert "![ascent: ascent_map](../figures/ascent_map.png)" in detail  # report/ascent.md embeds it


def test_quick_verify_writes_the_png_and_figures_writes_both(
    tiny: Context, all_data: dict[str, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """for_report draws QUICK_FORMATS in quick mode, FORMATS in full; draw_all's default is both; no stale PDF."""
    name = "iterations_vs_damping"
    stem = tmp_path / name
    both = iterations_vs_damping.draw(all_data[name], stem)
    assert [p.name for p in both] == [f"{name}.png", f"{name}.pdf"]
    png = both[0].read_bytes()
    with _style.formats(["png"]):
        png_only = iterations_vs_damping.draw(all_data[name], stem)
    assert png_only == both[:1] and not both[1].exists()  # the earlier PDF is gone, not left stale
    assert png_only[0].read_bytes() == png  # the same PNG with or without its PDF
    with pytest.raises(ValueError, match="formats must be"), _style.formats(["svg"]):
        pass
    asked: list[tuple[str, tuple[str, ...]]] = []

    def fake_draw_all(ctx: Context, names: Any, progress: bool, formats: Any) -> tuple[dict[str, Any], dict[str, str]]:
        asked.append((ctx.mode, tuple(formats)))
        return {}, {}

    monkeypatch.setattr(figures, "draw_all", fake_draw_all)
    figures.for_report(tiny, [_result("ascent")])
    figures.for_report(replace(tiny, mode="full"), [_result("ascent")])
    assert asked == [("quick", ("png",)), ("full", ("png", "pdf"))]
    assert figures.QUICK_FORMATS == ("png",) and figures.FORMATS == ("png", "pdf")


def test_no_sublinear_reference_on_a_plateau() -> None:
    flat = np.full(300, 0.04)
    assert gap_curves.references(flat, [], J_star=1.0, until=299)["sublinear"] is None


def test_verify_embeds_the_hooks_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from proofs_checks import runner

    fake = SimpleNamespace(CLAIM="pdl", check=lambda ctx: [_result("pdl")])
    monkeypatch.setattr(runner, "select", lambda only: [fake])
    seen: list[tuple[str, int]] = []

    def hook(ctx: Context, results: list[CheckResult]) -> dict[str, list[str]]:
        seen.append((ctx.mode, len(results)))
        return {"pdl": ["figures/x.png"]}

    assert runner.verify("quick", None, tmp_path, 1, progress=False, figure_hook=hook, corpus=None) == 0
    assert seen == [("quick", 1)]
    assert "[x](figures/x.png)" in (tmp_path / "report.md").read_text()
    assert "![pdl: x](../figures/x.png)" in (tmp_path / "report" / "pdl.md").read_text()

    def broken(ctx: Context, results: list[CheckResult]) -> dict[str, list[str]]:
        raise RuntimeError("no figures today")

    assert runner.verify("quick", None, tmp_path, 1, progress=False, figure_hook=broken, corpus=None) == 1
    report = (tmp_path / "report.md").read_text()
    assert "(report/pdl.md)" in report and "no figures today" in report  # the verdicts stand, the failure is listed
