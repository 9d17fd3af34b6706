"""C2 sample-complexity check: the worker against the engine, seeds, the regime diagnostic, a tiny end-to-end run."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import r1theory as r1
from proofs_checks import c2_runs as cr
from proofs_checks import c2_sample_complexity as c2
from proofs_checks.context import Context
from proofs_checks.runs import initial_theta, instance
from proofs_checks.studies import Study, parse_instance
from proofs_checks.sweep import Sweep

_QUICK = cr.setting(True)
RANDOM = _QUICK.instances[0]


Cfg = dict[str, Any]


def _config(arm: cr.Arm, configs: list[Cfg], budget: int = 60, seeds: int = 2, stream: int = 0, **kw: Any) -> Cfg:
    seeds_ = [cr.seed_config(7, stream, j) for j in range(seeds)]
    return cr.group_config(RANDOM, [(arm, configs)], replace(_QUICK, records=1000), budget, seeds_, **kw)


@pytest.mark.parametrize("arm", cr.ARMS, ids=lambda a: a.method)
def test_group_task_is_the_single_run_path_with_spawned_seeds(arm: cr.Arm) -> None:
    """Each (configuration, seed) of a group is stochastic_iterate with default_rng(SeedSequence(root, (s, j)))."""
    cfgs: list[Cfg] = [
        {"batch": 2, "step": {"kind": "constant", "eta": 0.5}},
        {"batch": 1, "step": {"kind": "inverse-sqrt", "eta": 1.0}},
    ]
    out = cr.group_task(_config(arm, cfgs))
    mdp, _, opt = instance(RANDOM.name, RANDOM.params)
    th0 = initial_theta(RANDOM.name, RANDOM.params, RANDOM.theta0)
    for i, c in enumerate(cfgs):
        B = c["batch"]
        T = math.ceil(60 / cr.episodes_per_update(arm.method, B))
        for j in range(2):
            run = r1.stochastic_iterate(mdp, th0, arm.method, cr.step_rule(c["step"]), T,
                                        np.random.default_rng(np.random.SeedSequence(7, spawn_key=(0, j))),
                                        estimator="gpomdp", batch=B, baseline="value", damping=arm.damping,
                                        optimum=opt)  # fmt: skip
            # the batched engine agrees with the single run to rounding (its contract), the sample counts exactly
            np.testing.assert_allclose(out[f"{arm.method}:{i}.gap"][j], run.gap, rtol=1e-10, atol=1e-13)
            np.testing.assert_allclose(out[f"{arm.method}:{i}.grad2"][j], run.grad_norm_sq, rtol=1e-9, atol=1e-15)
            np.testing.assert_allclose(out[f"{arm.method}:{i}.theta_T"][j], run.theta, rtol=1e-10, atol=1e-12)
            np.testing.assert_array_equal(out[f"{arm.method}:{i}.episodes"], run.episodes)
        # the episode count the budget assumes is the engine's own
        np.testing.assert_array_equal(
            out[f"{arm.method}:{i}.episodes"], out[f"{arm.method}:{i}.t"] * cr.episodes_per_update(arm.method, B)
        )


def test_fitted_baseline_costs_a_second_batch() -> None:
    out = cr.group_task(
        _config(cr.ARMS[0], [{"batch": 3, "step": {"kind": "constant", "eta": 0.1}}], baseline="fitted")
    )
    np.testing.assert_array_equal(
        out["sgd-pg:0.episodes"], out["sgd-pg:0.t"] * cr.episodes_per_update("sgd-pg", 3, "fitted")
    )
    assert cr.episodes_per_update("sgd-pg", 3, "fitted") == 6


def test_group_task_is_deterministic_and_seed_streams_differ() -> None:
    cfg = [{"batch": 1, "step": {"kind": "constant", "eta": 1.0}}]
    a = cr.group_task(_config(cr.ARMS[1], cfg))
    b = cr.group_task(_config(cr.ARMS[1], cfg))
    for k in a:
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]))
    c = cr.group_task(_config(cr.ARMS[1], cfg, stream=1))
    assert not np.array_equal(a["r1-sample-independent:0.gap"], c["r1-sample-independent:0.gap"])


def test_a_group_of_all_arms_equals_each_arm_alone() -> None:
    """Sharing a lockstep call with the other arms leaves each arm's runs unchanged."""
    cfgs: list[Cfg] = [
        {"batch": 1, "step": {"kind": "constant", "eta": 0.5}},
        {"batch": 4, "step": {"kind": "constant", "eta": 2.0}},
    ]
    seeds = [cr.seed_config(3, 0, j) for j in range(2)]
    st = replace(_QUICK, records=1000)
    both = cr.group_task(cr.group_config(RANDOM, [(a, cfgs) for a in cr.ARMS], st, 40, seeds))
    for a in cr.ARMS:
        alone = cr.group_task(cr.group_config(RANDOM, [(a, cfgs)], st, 40, seeds))
        for i in range(2):
            np.testing.assert_array_equal(alone[f"{a.method}:{i}.episodes"], both[f"{a.method}:{i}.episodes"])
            np.testing.assert_allclose(alone[f"{a.method}:{i}.gap"], both[f"{a.method}:{i}.gap"], rtol=1e-10)
            np.testing.assert_array_equal(alone[f"{a.method}:{i}.trapped"], both[f"{a.method}:{i}.trapped"])


def test_a_chunk_of_group_tasks_gives_each_task_its_own_result() -> None:
    """group_chunk (the sweep's batching of one instance's tasks) emits, per task, group_task's result bit for bit:
    different budgets, records, seeds and an exact-counterpart part in one lockstep call."""
    cfgs: list[Cfg] = [
        {"batch": 1, "step": {"kind": "constant", "eta": 0.5}},
        {"batch": 4, "step": {"kind": "inverse-sqrt", "eta": 1.0}},
    ]
    tasks = [
        _config(cr.ARMS[0], cfgs, budget=50),
        _config(cr.ARMS[2], cfgs[:1], budget=30, seeds=3, stream=2),
        _config(cr.ARMS[1], cfgs[1:], budget=40, exact_levels={"optimality": [0.1], "stationarity": [0.01]}),
    ]
    assert len({cr.batch_key(t) for t in tasks}) == 1
    got: dict[int, Cfg] = {}
    cr.group_chunk(tasks, got.__setitem__)
    assert sorted(got) == [0, 1, 2]
    for i, task in enumerate(tasks):
        alone = cr.group_task(task)
        assert sorted(alone) == sorted(got[i])
        for key, value in alone.items():
            np.testing.assert_array_equal(np.asarray(got[i][key]), np.asarray(value), err_msg=f"task {i} {key}")
    other = _config(cr.ARMS[0], cfgs, budget=50, baseline="fitted")
    assert cr.batch_key(other) != cr.batch_key(tasks[0])


def test_regime_diagnostic_matches_an_exact_run() -> None:
    """exact_T is the first iterate of the exact counterpart (by iterate, not the batch) below each level."""
    levels = {"optimality": [0.9, 0.5, 0.2, 1e-9], "stationarity": [0.3, 0.1, 1e-9]}
    cfgs: list[Cfg] = [
        {"batch": 4, "step": {"kind": "constant", "eta": 2.0}},
        {"batch": 1, "step": {"kind": "constant", "eta": 0.3}},
    ]
    budget = 200
    for arm in (cr.ARMS[0], cr.ARMS[1]):
        out = cr.group_task(_config(arm, cfgs, budget=budget, exact_levels=levels))
        mdp, _, opt = instance(RANDOM.name, RANDOM.params)
        for i, c in enumerate(cfgs):
            T = math.ceil(budget / cr.episodes_per_update(arm.method, c["batch"]))
            run = r1.iterate(mdp, np.zeros((4, 3)), cr.EXACT_COUNTERPART[arm.method], c["step"]["eta"], T,
                             damping=arm.damping, optimum=opt)  # fmt: skip
            for crit, vals in (("optimality", run.gap), ("stationarity", run.grad_norm)):
                want = [int(np.argmax(vals <= lv)) if np.any(vals <= lv) else -1 for lv in levels[crit]]
                np.testing.assert_array_equal(out[f"{arm.method}:{i}.exact_T_{crit}"], want)
            assert out[f"{arm.method}:{i}.exact_T_optimality"][-1] == -1  # 1e-9 is not reached within the cap: censored


def _tiny(quick: bool) -> cr.Setting:
    return replace(
        _QUICK,
        instances=_QUICK.instances[:1],
        budget=300,
        sched_budget=300,
        isqrt_budget=300,
        batches=(1, 4),
        ratios=(0.01, 0.1, 1.0),
        seeds=3,
        fresh_seeds=3,
        sched_levels=3,
        n_boot=20,
        mc_draws=2000,
        records=200,
    )


def test_check_runs_end_to_end_on_a_tiny_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(c2, "setting", _tiny)
    ctx = Context(mode="quick", sweep=Sweep(tmp_path / "cache", jobs=1, progress=False), out=tmp_path)
    results = c2.check(ctx)
    parts = {(r.variant, r.conditions.get("part"), r.conditions.get("protocol"), r.conditions.get("criterion"))
             for r in results}  # fmt: skip
    for arm in ("r1-sample-same", "r1-sample-independent"):
        for crit in c2.CRITERIA:
            assert (arm, "tuned", "tuned", crit) in parts
            for sched in c2.SCHEDULES:
                assert (arm, "schedule", sched, crit) in parts
        assert (arm, "trapping", None, None) in parts
    assert ("sgd-pg", "rate-vs-theory", None, "stationarity") in parts
    by = {(r.variant, r.conditions.get("part")): r for r in results}
    assert by[("r1-sample-same", "baseline-sensitivity")].verdict == "fails"
    assert by[("r1-sample-independent", "baseline-sensitivity")].verdict == "holds"
    assert by[("r1-sample-same", "bias")].measured["theta0"]["B=1"]["relative_bias"] > 0.1
    tuned = next(r for r in results if r.conditions.get("part") == "tuned")
    m = tuned.measured["method"]
    # censored levels are reported (as +inf), never dropped: one entry per level
    assert len(m["N_star_grid_mean"]) == len(m["eps"]) == len(m["N_fresh_mean"]) == len(m["censored_grid"])
    assert "omits the selection noise" in tuned.evidence["ci_note"]
    for r in results:
        assert r.claim == c2.CLAIM and r.conditions["instance"] == "random-4x3"
        if r.verdict == "inconclusive" and r.conditions.get("part") in ("tuned", "schedule"):
            assert r.evidence["reason"].split(":")[0] in ("span", "resolution", "degenerate")
        r.to_dict()  # JSON-ready
    text = c2.summarize(results)
    assert "**random-4x3**" in text and "| arm | protocol |" in text and "Trapped fraction" in text
    # a second runner over the same cache recomputes nothing and measures the same
    again = Context(mode="quick", sweep=Sweep(tmp_path / "cache", jobs=1, progress=False), out=tmp_path)
    results2 = c2.check(again)
    assert again.sweep.computed == 0
    assert [r.to_dict() for r in results2] == [r.to_dict() for r in results]


def test_check_runs_on_the_study_instances(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(c2, "setting", lambda q: replace(_tiny(q), arms=cr.ARMS[:2], budget=100, sched_budget=100))
    target = parse_instance("random:S=3,A=2,gamma=0.7,seed=5")
    ctx = Context(mode="quick", sweep=Sweep(None, jobs=1, progress=False), out=tmp_path,
                  study=Study(instances=(target,)))  # fmt: skip
    results = c2.check(ctx)
    assert results and {r.conditions["instance"] for r in results} == {target.label}
    sw = c2.runs(ctx)
    assert [ir.inst.params for ir in sw.instances] == [target.params]
    assert (sw.instances[0].S, sw.instances[0].A) == (3, 2)
