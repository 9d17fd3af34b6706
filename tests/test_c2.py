"""C2 sample-complexity check: the assessment can come out holds, fails and inconclusive; fits on known curves."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from proofs_checks import c2_sample_complexity as c2
from proofs_checks.context import Context
from proofs_checks.sweep import Sweep


def _curves(
    exponent: float, seeds: int = 6, T: int = 2000, batch: int = 10, noise: float = 0.05, seed: int = 0
) -> c2.Curves:
    """Seed histories x_t = (t + 1)^(−1/k)·(1 + noise): the first t with x_t ≤ ε is ≈ ε^(−k), so N(ε) ∝ (1/ε)^k."""
    rng = np.random.default_rng(seed)
    t = np.arange(T + 1, dtype=float)
    base = (t + 1.0) ** (-1.0 / exponent)
    vals = base[None, :] * (1.0 + noise * rng.standard_normal((seeds, T + 1)))
    return c2.Curves(t=t, samples=batch * t, values=vals)


def test_assess_difference_holds_fails_inconclusive() -> None:
    assert c2.assess_difference((-0.1, 0.2), 5)[0] == "holds"
    assert c2.assess_difference((0.1, 0.3), 5)[0] == "holds"  # within the tolerance of 0
    assert c2.assess_difference((0.6, 0.9), 5)[0] == "fails"
    assert c2.assess_difference((-1.0, -0.6), 5)[0] == "fails"
    assert c2.assess_difference((-0.1, 0.2), 2)[0] == "inconclusive"  # not enough ε reached
    assert c2.assess_difference(None, 5)[0] == "inconclusive"
    assert c2.assess_difference((-2.0, 2.0), 5)[0] == "inconclusive"  # too wide to decide


def test_assess_rate() -> None:
    assert c2.assess_rate((0.8, 1.1), 4)[0] == "holds"
    assert c2.assess_rate((4.5, 5.0), 4)[0] == "fails"
    assert c2.assess_rate((3.9, 4.6), 4)[0] == "inconclusive"
    assert c2.assess_rate((0.8, 1.1), 1)[0] == "inconclusive"


def test_first_hits_and_power_fit() -> None:
    mean = np.array([1.0, 0.5, 0.25, np.nan, 0.1])
    np.testing.assert_array_equal(c2.first_hits(mean, np.array([0.6, 0.2, 0.05])), [1, 4, -1])
    eps = np.array([0.1, 0.01, 0.001])
    k, c = c2.power_fit(eps, 3.0 * eps**-2)
    assert k == pytest.approx(2.0) and c == pytest.approx(np.log(3.0))


@pytest.mark.parametrize("exponent", [1.0, 2.0])
def test_fit_recovers_a_known_exponent(exponent: float) -> None:
    cv = _curves(exponent)
    eps = c2.eps_grid(1.0)
    fit = c2.fit_arm(cv, eps, "optimality", np.random.default_rng(0), 100)
    assert fit.exponent == pytest.approx(exponent, abs=0.1)
    assert fit.ci is not None and fit.ci[0] - 0.1 <= exponent <= fit.ci[1] + 0.1
    # stationarity compares the curve with ε², so a curve (t+1)^(−2/k) has exponent k in 1/ε
    sq = c2.Curves(cv.t, cv.samples, cv.values**2)
    fit2 = c2.fit_arm(sq, eps, "stationarity", np.random.default_rng(0), 100)
    assert fit2.exponent == pytest.approx(exponent, abs=0.1)


def test_compare_on_constructed_curves_gives_each_verdict() -> None:
    eps = c2.eps_grid(1.0)
    rng = np.random.default_rng(1)
    ref = _curves(1.0, seed=1)
    same = c2.compare(ref, _curves(1.0, seed=2, batch=30), eps, "optimality", rng, 200)
    assert c2.assess_difference(same.ci, len(same.eps))[0] == "holds"
    assert same.log_ratio == pytest.approx(np.log(3.0), abs=0.1)  # 3× the samples per iteration
    worse = c2.compare(ref, _curves(1.6, seed=3), eps, "optimality", rng, 200)
    assert worse.delta == pytest.approx(0.6, abs=0.1)
    assert c2.assess_difference(worse.ci, len(worse.eps))[0] == "fails"
    plateau = _curves(1.0, seed=4)
    plateau = replace(plateau, values=np.maximum(plateau.values, 0.3))  # stalls: small ε never reached
    stuck = c2.compare(ref, plateau, eps, "optimality", rng, 200)
    assert c2.assess_difference(stuck.ci, len(stuck.eps))[0] == "inconclusive"


def test_running_mean() -> None:
    np.testing.assert_allclose(c2.running_mean(np.array([[1.0, 3.0, 5.0]])), [[1.0, 2.0, 3.0]])


def test_seed_configs_reproduce_spawned_streams() -> None:
    cfgs = c2.seed_configs(123, 3)
    children = np.random.SeedSequence(123).spawn(3)
    for cfg, child in zip(cfgs, children, strict=True):
        np.testing.assert_array_equal(c2.rng_from(cfg).random(4), np.random.default_rng(child).random(4))


_QUICK = c2.setting(True)


def _tiny(quick: bool) -> c2.Setting:
    return replace(_QUICK, iterations=40, seeds=3, n_boot=20, mc_draws=2000, batch=20)


def test_check_runs_end_to_end_on_a_tiny_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(c2, "setting", _tiny)
    ctx = Context(mode="quick", sweep=Sweep(None, jobs=1, progress=False), out=tmp_path)
    results = c2.check(ctx)
    parts = {(r.variant, r.conditions.get("part"), r.conditions.get("criterion")) for r in results}
    assert ("r1-sample-same", "exponent-vs-sgd", "stationarity") in parts
    assert ("r1-sample-independent", "exponent-vs-sgd", "optimality") in parts
    assert ("sgd-pg", "rate-vs-theory", "stationarity") in parts
    by = {(r.variant, r.conditions.get("part")): r for r in results}
    assert by[("r1-sample-same", "baseline-sensitivity")].verdict == "fails"
    assert by[("r1-sample-independent", "baseline-sensitivity")].verdict == "holds"
    assert by[("r1-sample-same", "bias")].measured["theta0"]["B=1"]["relative_bias"] > 0.1
    for r in results:
        assert r.claim == c2.CLAIM
        r.to_dict()  # JSON-ready
    assert "| arm |" in c2.summarize(results)
