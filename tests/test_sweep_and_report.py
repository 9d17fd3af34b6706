"""The sweep runner (cache, resume, corrupt files, worker count) and the report writers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from proofs_checks.report import claim_markdown, markdown, verdict_table, write_results
from proofs_checks.result import CheckResult, jsonable
from proofs_checks.runs import run_task
from proofs_checks.sweep import Sweep, load_result, make_task, save_result


def _tasks(n: int = 5) -> list:
    """Real run tasks (PG on the plateau bandit at n different steps), small enough to be instant."""
    return [
        run_task("mei_bandit", "pg", 0.1 * (i + 1), 20, params={"init": "bad"}, theta0="instance") for i in range(n)
    ]


def test_task_key_is_canonical() -> None:
    a = make_task("m:f", {"b": 1, "a": np.float64(2.0)})
    b = make_task("m:f", {"a": 2.0, "b": 1})
    assert a == b and a.key == b.key
    assert make_task("m:f", {"a": 2.5}).key != a.key
    assert make_task("m:g", {"a": 2.0, "b": 1}).key != a.key


def test_cache_is_reused_and_results_equal(tmp_path: Path) -> None:
    sweep = Sweep(tmp_path / "cache", jobs=1, progress=False)
    first = sweep.run(_tasks())
    assert sweep.computed == 5 and sweep.reused == 0
    again = Sweep(tmp_path / "cache", jobs=1, progress=False)
    second = again.run(_tasks())
    assert again.computed == 0 and again.reused == 5
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a["J"], b["J"])
        np.testing.assert_array_equal(a["theta"], b["theta"])
        assert a["status"] == b["status"] and a["J_star"] == b["J_star"]
    assert not list((tmp_path / "cache").rglob(".tmp-*")), "no temporary file may be left behind"


def test_corrupt_cache_file_is_recomputed(tmp_path: Path) -> None:
    sweep = Sweep(tmp_path / "cache", jobs=1, progress=False)
    tasks = _tasks(3)
    sweep.run(tasks)
    victim = sweep.path(tasks[1])
    assert victim is not None
    victim.write_bytes(victim.read_bytes()[:20])  # truncated
    with pytest.raises(ValueError, match=str(victim.name)):
        load_result(victim)
    again = Sweep(tmp_path / "cache", jobs=1, progress=False)
    res = again.run(tasks)
    assert again.computed == 1 and again.reused == 2
    fresh = Sweep(None, jobs=1, progress=False).run([tasks[1]])[0]
    np.testing.assert_array_equal(res[1]["J"], fresh["J"])


def test_worker_count_does_not_change_results(tmp_path: Path) -> None:
    one = Sweep(None, jobs=1, progress=False).run(_tasks(4))
    two = Sweep(tmp_path / "c2", jobs=2, progress=False).run(_tasks(4))
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a["J"], b["J"])
        np.testing.assert_array_equal(a["eff_step"], b["eff_step"])


def test_duplicate_tasks_computed_once(tmp_path: Path) -> None:
    sweep = Sweep(tmp_path / "cache", jobs=1, progress=False)
    t = _tasks(2)
    res = sweep.run([t[0], t[1], t[0]])
    assert sweep.computed == 2
    np.testing.assert_array_equal(res[0]["J"], res[2]["J"])


def test_save_load_roundtrip_keeps_types(tmp_path: Path) -> None:
    p = tmp_path / "r.npz"
    save_result(p, {"a": np.arange(3.0), "s": "stalled", "f": float("inf"), "none": None, "lst": [1, 2]})
    out = load_result(p)
    np.testing.assert_array_equal(out["a"], [0.0, 1.0, 2.0])
    assert out["s"] == "stalled" and out["none"] is None and out["lst"] == [1, 2]
    assert out["f"] == "inf"  # non-finite floats are stored as strings in standard JSON


def _result(verdict: str, variant: str = "pg") -> CheckResult:
    return CheckResult(
        claim="demo.claim",
        statement="x ≤ 1",
        variant=variant,
        conditions={"gamma": 0.9},
        measured={"x": np.float64(0.5), "arr": np.array([1.0, np.nan])},
        bound={"x": 1.0},
        verdict=verdict,
        slack=0.5,
        evidence={"reason": "r"},
    )


def test_check_result_rejects_unknown_verdict() -> None:
    with pytest.raises(ValueError, match="verdict"):
        _result("maybe")


def test_results_json_is_standard_json(tmp_path: Path) -> None:
    p = tmp_path / "results.json"
    write_results(p, [_result("holds"), _result("fails", "r1-grad")], {"version": "x"}, [])
    doc = json.loads(p.read_text())
    assert set(doc) == {"provenance", "results", "crashed"}
    first = doc["results"][0]
    assert {"claim", "variant", "conditions", "measured", "bound", "verdict", "evidence"} <= set(first)
    assert first["measured"]["arr"] == [1.0, "nan"]
    assert jsonable({"k": (np.int64(3), np.bool_(True))}) == {"k": [3, True]}


def test_table_and_markdown_group_verdicts() -> None:
    results = [_result("holds"), _result("fails"), _result("inconclusive", "r1-grad")]
    table = verdict_table(results, [{"claim": "other", "error": "RuntimeError: boom"}])
    assert "mixed" in table and "CRASHED" in table and "inconclusive" in table
    md = markdown(results, {"mode": "quick"}, [], {"demo.claim": "SUMMARY-TEXT"})
    assert "[`demo.claim`](report/demo.claim.md)" in md and "(summary.md)" in md  # the index
    detail = claim_markdown("demo.claim", results, "SUMMARY-TEXT")
    assert "# `demo.claim`" in detail and "SUMMARY-TEXT" in detail and "**fails**" in detail


def test_memoised_computes_once_per_runner_and_key(tmp_path: Path) -> None:
    """Derived results live on the runner: one computation per key, none shared between runners."""
    calls: list[str] = []

    def compute(tag: str) -> list[str]:
        calls.append(tag)
        return [tag]

    a, b = Sweep(tmp_path / "cache", progress=False), Sweep(tmp_path / "cache", progress=False)
    first = a.memoised(("x", "quick"), lambda: compute("a-x"))
    assert a.memoised(("x", "quick"), lambda: compute("again")) is first
    assert a.memoised(("x", "full"), lambda: compute("a-x-full")) == ["a-x-full"]
    assert b.memoised(("x", "quick"), lambda: compute("b-x")) == ["b-x"]
    assert calls == ["a-x", "a-x-full", "b-x"]
