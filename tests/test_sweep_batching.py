"""The sweep's batching of exact runs (issue #17): plan, records, incremental writes, resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from proofs_checks import sweep as sweep_mod
from proofs_checks.runs import RUN_FN, batch_key, run_method, run_methods, run_task
from proofs_checks.sweep import Batching, Sweep, execute_chunk, load_result, make_task, plan_jobs, register_batching

LOGLINEAR = {"kind": "log-linear", "k": 6, "seed": 0}
NEURAL = {"kind": "neural", "hidden": [3], "seed": 0}
SMALL = {"S": 3, "A": 2, "gamma": 0.9, "seed": 2}


def _tasks() -> list[Any]:
    """Batchable runs on two instances, two caps, runs of a log-linear policy (batched apart), a neural one (alone)."""
    out = []
    for m, lam in (("pg", None), ("npg", None), ("r1-eigen", 0.1), ("r1-same", 0.3), ("npg-damped", 1.0)):
        for eta in (0.1, 1.0):
            out.append(run_task("random", m, eta, 30, params=SMALL, damping=lam, batched=True))
            out.append(
                run_task("mei_bandit", m, eta, 25, params={"init": "bad"}, damping=lam, theta0="instance", batched=True)
            )
    out.append(run_task("random", "npg", 10.0, 20, params=SMALL, tol=1e-3, batched=True))
    out.append(run_task("random", "pg", 0.3, 20, params=SMALL))  # not planned as batched: runs alone
    out += [
        run_task("random", m, 0.3, 15, params=SMALL, damping=lam, param=LOGLINEAR, batched=True)
        for m, lam in (("pg", None), ("r1-grad", 0.1))
    ]
    out.append(run_task("random", "pg", 0.3, 15, params=SMALL, param=NEURAL, batched=True))  # neural: alone
    return out


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert set(a) == set(b)
    for k in a:
        if isinstance(a[k], np.ndarray):
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        else:
            assert a[k] == b[k], k


def test_plan_groups_by_key_caps_the_chunk_and_feeds_every_worker() -> None:
    tasks = _tasks()
    keys = [batch_key(t.config) for t in tasks]
    assert keys[-4] is None and keys[-1] is None  # planned alone, or neural: alone
    assert keys[-3] == keys[-2] is not None and keys[-3] not in keys[:-4]  # log-linear: batched, apart from tabular
    assert len({k for k in keys if k is not None}) == 4  # two instances × their caps, the tol = 1e-3 run, log-linear
    tabular = keys[0]
    for jobs in (1, 2, 3):
        plan = plan_jobs(tasks, jobs)
        assert sorted(i for job in plan for i in job) == list(range(len(tasks)))
        for job in plan:
            assert len({keys[i] for i in job}) == 1
        assert [len(j) for j in plan if keys[j[0]] is None] == [1, 1]
        # each group of n tasks is split in min(jobs, n) near-equal chunks (size cap 256 not reached)
        sizes = sorted(len(j) for j in plan if keys[j[0]] == tabular and len(j) > 1)
        assert len(sizes) == (1 if jobs == 1 else jobs) and sizes[-1] - sizes[0] <= 1


def test_chunk_size_cap() -> None:
    bandit = {"init": "bad"}
    tasks = [
        run_task("mei_bandit", "pg", 0.01 * (i + 1), 5, params=bandit, theta0="instance", batched=True)
        for i in range(9)
    ]
    register_batching("x:y", Batching(key=lambda c: 1, run="x:z", size=4))  # unused worker: the cap only
    try:
        fake = [make_task("x:y", {"i": i}) for i in range(9)]
        assert sorted(len(j) for j in plan_jobs(fake, 1)) == [3, 3, 3]  # ⌈9/4⌉ = 3 chunks
    finally:
        sweep_mod._BATCHING.pop("x:y")
    assert [len(j) for j in plan_jobs(tasks, 1)] == [9]


@pytest.mark.parametrize("jobs", [1, 2])
def test_batched_records_equal_single_runs_bit_for_bit(tmp_path: Path, jobs: int) -> None:
    """Whatever the chunking (worker count), each record is run_method's for its configuration."""
    tasks = _tasks()
    got = Sweep(tmp_path / "cache", jobs=jobs, progress=False).run(tasks)
    for t, res in zip(tasks, got, strict=True):
        _same(res, run_method(t.config))
    statuses = {r["status"] for r in got}
    assert "converged" in statuses and "max_iterations" in statuses
    # the cache holds one file per task, which the single path serves again
    again = Sweep(tmp_path / "cache", jobs=1, progress=False)
    for a, b in zip(got, again.run(tasks), strict=True):
        _same(a, b)
    assert again.computed == 0 and again.reused == len(tasks)


def test_an_interrupted_chunk_keeps_the_rows_that_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = [t for t in _tasks() if t.config["instance"] == "mei_bandit"]
    paths = [str(tmp_path / f"{i}.npz") for i in range(len(tasks))]

    def interrupted(configs: list[dict[str, Any]], emit: Any) -> None:
        def first_two(i: int, rec: dict[str, Any]) -> None:
            if first_two.n == 2:  # type: ignore[attr-defined]
                raise KeyboardInterrupt
            first_two.n += 1  # type: ignore[attr-defined]
            emit(i, rec)

        first_two.n = 0  # type: ignore[attr-defined]
        run_methods(configs, first_two)

    monkeypatch.setattr("proofs_checks.runs.run_methods_for_test", interrupted, raising=False)
    with pytest.raises(KeyboardInterrupt):
        execute_chunk("proofs_checks.runs:run_methods_for_test", [t.config_json for t in tasks], paths)
    written = [p for p in paths if Path(p).exists()]
    assert len(written) == 2
    for p in written:
        i = paths.index(p)
        _same(load_result(Path(p)), run_method(tasks[i].config))


def test_a_chunk_of_incompatible_runs_is_refused() -> None:
    a = run_task("mei_bandit", "pg", 0.1, 5, params={"init": "bad"}, theta0="instance", batched=True)
    b = run_task("mei_bandit", "pg", 0.1, 6, params={"init": "bad"}, theta0="instance", batched=True)
    with pytest.raises(ValueError, match="share their batch_key"):
        run_methods([a.config, b.config], lambda i, r: None)


def test_a_batch_function_must_report_every_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("proofs_checks.runs.lazy_for_test", lambda configs, emit: None, raising=False)
    with pytest.raises(RuntimeError, match="without results for configurations"):
        execute_chunk("proofs_checks.runs:lazy_for_test", ['{"x": 1}'], [None])
    assert RUN_FN == "proofs_checks.runs:run_method"
