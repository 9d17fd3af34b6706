"""The smac.vs-baselines check: its statistics, its verdict logic (each way), its instances and its report."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from proofs_checks import claims
from proofs_checks import smac_runs as smr
from proofs_checks import smac_vs_baselines as sm
from proofs_checks.context import Context
from proofs_checks.sweep import Sweep


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 9, 16, 17])
def test_iqm_is_rliables_trimmed_mean(n: int) -> None:
    x = np.random.default_rng(n).exponential(size=n)
    assert sm.iqm(x) == pytest.approx(float(scipy.stats.trim_mean(x, 0.25)), rel=1e-14)
    X = np.random.default_rng(0).normal(size=(4, n))
    np.testing.assert_allclose(sm.iqm(X, axis=1), scipy.stats.trim_mean(X, 0.25, axis=1), rtol=1e-14)


def test_stratified_bootstrap_resamples_within_strata() -> None:
    rng = np.random.default_rng(0)
    const = [np.full(7, 3.0), np.full(5, 2.0)]
    assert sm.stratified_bootstrap_ci(const, lambda xs: sm.iqm(xs[0]) / sm.iqm(xs[1]), rng, 200) == (1.5, 1.5)
    # coverage of the mean of a normal sample: about 95 % of intervals contain the truth
    hits = 0
    for k in range(200):
        x = np.random.default_rng(100 + k).normal(size=40)
        lo, hi = sm.stratified_bootstrap_ci([x], lambda xs: xs[0].mean(axis=-1), rng, 400)
        hits += lo <= 0.0 <= hi
    assert 0.88 <= hits / 200 <= 0.99


def test_episodes_to_censors_at_the_budget_and_trapping() -> None:
    gap = np.array([[1.0, 0.6, 0.4, 0.2], [1.0, 0.9, 0.8, 0.7], [1.0, 0.3, 0.6, 0.6]])
    episodes = np.array([[0, 10, 20, 30]] * 3)
    N, cens = sm.episodes_to(gap, episodes, 0.5)
    np.testing.assert_array_equal(N, [20, 30, 10])
    np.testing.assert_array_equal(cens, [False, True, False])
    grad = np.array([[1.0, 0.5, 0.1, 1e-5], [1.0, 1.0, 1.0, 1e-4], [1.0, 0.1, 0.1, 0.1]])
    np.testing.assert_array_equal(sm.trapped(gap, grad, 0.5), [False, True, False])


def test_performance_profile_and_speed_scores() -> None:
    per = {
        "x": {
            "a": {"N": [10, 10, 10, 10], "censored_seeds": [False] * 4},
            "b": {"N": [20, 20, 40, 40], "censored_seeds": [False, False, False, True]},
        },
    }
    sc = sm.speed_scores(per)
    np.testing.assert_allclose(sc["a"][0], 1.0)
    np.testing.assert_allclose(sc["b"][0], [0.5, 0.5, 0.25, 0.0])
    prof = sm.performance_profile(sc["b"], np.array([0.0, 0.25, 0.5, 1.0]))
    np.testing.assert_allclose(prof, [1.0, 0.75, 0.5, 0.0])
    out = sm.profiles(sc, np.random.default_rng(0), 100)
    assert out["a"]["area"] == 1.0 and out["a"]["area_ci"] == [1.0, 1.0]
    assert out["b"]["area"] == pytest.approx(0.3125)
    lo, hi = out["b"]["area_ci"]
    assert lo <= 0.3125 <= hi and lo < hi


@pytest.mark.parametrize(
    ("ci", "cs", "cb", "edge", "verdict", "why"),
    [
        ((0.4, 0.8), 0.0, 0.5, False, "holds", "fewer"),
        ((0.4, 0.8), 0.5, 0.0, False, "inconclusive", "SMAC's IQM is censored"),
        ((1.2, 2.0), 0.5, 0.0, False, "fails", "more episodes"),
        ((1.2, 2.0), 0.0, 0.5, False, "inconclusive", "baseline's IQM is censored"),
        ((0.8, 1.2), 0.0, 0.0, False, "inconclusive", "contains 1"),
        ((0.4, 0.8), 0.0, 0.0, True, "inconclusive", "edge"),
        ((1.0, 1.0), 1.0, 1.0, False, "inconclusive", "neither reaches"),
    ],
)
def test_assess_each_way(ci, cs, cb, edge, verdict, why) -> None:  # type: ignore[no-untyped-def]
    v, reason = sm.assess(ci, cs, cb, edge)
    assert v == verdict and why in reason
    if verdict != "inconclusive":  # both at the first record: no verdict, whatever the interval
        assert sm.assess(ci, cs, cb, edge, unresolved=True)[1].startswith("both reach ε by the first record")


def test_assess_bias_each_way() -> None:
    err = np.array([[0.0, 1.0, 1.0]])
    assert sm.assess_bias(np.array([[0.0, 1e-15, 2e-15]]), err)[0] == "holds"
    v, med = sm.assess_bias(np.array([[0.0, 0.2, 0.3]]), err)
    assert v == "fails" and med == pytest.approx(0.25)
    assert sm.assess_bias(np.array([[np.nan, np.nan, np.nan]]), err)[0] == "inconclusive"
    assert sm.assess_bias(np.array([[0.5, 0.5, 0.5]]), np.zeros((1, 3)))[0] == "inconclusive"  # exact critic


def test_claim_is_registered() -> None:
    c = claims.get(sm.CLAIM)
    assert c.check == "proofs_checks.smac_vs_baselines" and "SM-ActorCritic" in c.statement


def test_gymnasium_instances_convert_exactly_and_others_are_refused() -> None:
    gym = pytest.importorskip("gymnasium")
    import tabular_mdps

    mdp, opt = sm.build_mdp({"source": "gymnasium", "env": "FrozenLake", "gamma": 0.9, "kwargs": {}})
    ref = tabular_mdps.from_gymnasium("FrozenLake-v1", gamma=0.9)
    np.testing.assert_array_equal(mdp.P, ref.P)
    np.testing.assert_array_equal(mdp.r, ref.r)
    assert mdp.gamma == 0.9 and opt.J > 0
    with pytest.raises(TypeError, match=r"env 'CartPole-v1' .*accepted: toy-text environments with Discrete"):
        smr.gymnasium_mdp("CartPole-v1", 0.9)
    with pytest.raises(ValueError, match="registered"):
        smr.gymnasium_mdp("NoSuchEnv-v9", 0.9)
    assert gym is not None


TINY = sm.Setting(
    batch=3,
    iterations=12,
    record_every=4,
    seeds_tune=3,
    seeds_fresh=4,
    n_boot=50,
    max_extensions=1,
    instruments_every=1,
)


def _tiny_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, suite: list[sm.Instance]) -> list:  # type: ignore[type-arg]
    monkeypatch.setattr(sm, "setting", lambda quick: TINY)
    monkeypatch.setattr(sm, "suite", lambda quick: suite)
    ctx = Context(mode="quick", sweep=Sweep(tmp_path / "cache", jobs=1, progress=False), out=tmp_path)
    return sm.check(ctx)


def test_check_end_to_end_on_a_tiny_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    inst = sm.Instance(
        "tiny", {"source": "catalog", "name": "random", "params": {"S": 3, "A": 2, "gamma": 0.6, "seed": 1}}
    )
    results = _tiny_check(monkeypatch, tmp_path, [inst])
    parts = {(r.variant, r.conditions["part"]) for r in results}
    assert {("smac-same", "vs-a2c"), ("smac-independent", "vs-npg-cg"), ("smac-same", "critic-bias")} <= parts
    bias = {r.variant: r for r in results if r.conditions["part"] == "critic-bias"}
    # with λ_GAE = 1 the critic is a baseline: exactly no bias for a2c and smac-independent, some for smac-same
    assert bias["a2c"].verdict == "holds" and bias["smac-independent"].verdict == "holds"
    assert bias["smac-same"].verdict == "fails" and bias["smac-same"].measured["relative_bias_median"] > 1e-6
    for r in results:
        if r.conditions["part"].startswith("vs-"):
            m = r.measured
            assert m["ratio_iqm"] == pytest.approx(m["episodes_smac"] / m["episodes_baseline"])
            assert m["ratio_ci"][0] <= m["ratio_ci"][1]
    text = sm.summarize(results)
    assert "| tiny | loose |" in text and "Performance profile" in text and "smac-same` (fails)" in text


def test_missing_gymnasium_is_inconclusive_with_the_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def no_gym(env: str, gamma: float, kwargs: object = None) -> None:
        raise ImportError("gymnasium is not installed; install it with: pip install 'r1theory[gym]'")

    monkeypatch.setattr(smr, "gymnasium_mdp", no_gym)
    smr._mdp.cache_clear()
    try:
        lake = sm.Instance("FrozenLake", {"source": "gymnasium", "env": "FrozenLake", "gamma": 0.9, "kwargs": {}})
        results = _tiny_check(monkeypatch, tmp_path, [lake])
    finally:
        smr._mdp.cache_clear()
    assert len(results) == 1 and results[0].verdict == "inconclusive"
    assert "gymnasium is not installed" in results[0].evidence["reason"]
    assert "gymnasium is not installed" in sm.summarize(results)


def test_setting_budgets() -> None:
    q, f = sm.setting(True), sm.setting(False)
    assert q.batch * q.iterations < f.batch * f.iterations and q.seeds_fresh <= f.seeds_fresh
    assert [i.label for i in sm.suite(True)] == ["garnet", "FrozenLake"]
    assert [i.label for i in sm.suite(False)] == ["garnet", "FrozenLake", "CliffWalking", "Taxi"]
    assert dataclasses.replace(q, batch=2).batch == 2


def test_figure_draws_the_checks_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from figures import smac_learning_curves as fig

    inst = sm.Instance(
        "tiny", {"source": "catalog", "name": "random", "params": {"S": 3, "A": 2, "gamma": 0.6, "seed": 1}}
    )
    monkeypatch.setattr(sm, "setting", lambda quick: TINY)
    monkeypatch.setattr(sm, "suite", lambda quick: [inst])
    ctx = Context(mode="quick", sweep=Sweep(tmp_path / "cache", jobs=1, progress=False), out=tmp_path)
    sm.check(ctx)
    computed = ctx.sweep.computed
    data = fig.data(ctx)
    assert ctx.sweep.computed == computed  # nothing rerun: the figure reads the check's memoised sweep
    sw = sm.runs(ctx)
    ir = sw.instances[0]
    for a in data["rows"][0]["actors"]:
        rec = ir.arms[a["actor"]].fresh[a["step"]]
        np.testing.assert_allclose(a["gap_iqm"], sm.iqm(np.asarray(rec["gap"]), axis=0))
        lo, hi = np.asarray(a["gap_band"])
        assert np.all(lo <= hi + 1e-15)
    paths = fig.draw(data, tmp_path / "smac")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 0 for p in paths)


def test_large_instances_skip_the_oracle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sm, "ORACLE_MAX_S", 2)
    inst = sm.Instance(
        "tiny", {"source": "catalog", "name": "random", "params": {"S": 3, "A": 2, "gamma": 0.6, "seed": 1}}
    )
    results = _tiny_check(monkeypatch, tmp_path, [inst])
    vs = [r for r in results if r.conditions["part"].startswith("vs-")]
    assert vs and all(m["oracle"] is None for r in vs for m in r.measured["per_method"].values())
    assert "(—)" in sm.summarize(results)
