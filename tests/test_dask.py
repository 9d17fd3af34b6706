"""Sweeps on a Dask cluster: same cache keys and same values as the local run.

Run against dask.distributed LocalClusters in this process (threads, ``processes=False``) and in one
worker process (real serialisation, the worker's own code hash).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from proofs_checks.codehash import code_hash
from proofs_checks.runs import run_task
from proofs_checks.sweep import Sweep, execute_remote, make_task

distributed = pytest.importorskip("dask.distributed")
# two LocalClusters at once: the second one's HTTP server moves off port 8787 and says so
pytestmark = pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning")


def _tasks(n: int = 6) -> list:
    """Real run tasks (PG and NPG on the plateau bandit at several steps), small enough to be instant."""
    return [
        run_task("mei_bandit", method, 0.1 * (i + 1), 20, params={"init": "bad"}, theta0="instance")
        for i in range(n // 2)
        for method in ("pg", "npg")
    ]


def _assert_same(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for k in a:
        if isinstance(a[k], np.ndarray):
            assert a[k].dtype == b[k].dtype
            np.testing.assert_array_equal(a[k], b[k])
        else:
            assert a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]), k  # NaN == NaN


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        yield c


def test_dask_results_and_cache_equal_the_local_run(cluster, tmp_path: Path) -> None:
    tasks = _tasks()
    local = Sweep(tmp_path / "local", jobs=1, progress=False)
    want = local.run(tasks)
    remote = Sweep(tmp_path / "dask", progress=False, scheduler=cluster.scheduler_address)
    got = remote.run(tasks + tasks[:2])  # duplicates computed once
    assert remote.computed == len(tasks) and remote.reused == 0
    for a, b in zip(want + want[:2], got, strict=True):
        _assert_same(a, b)
    # same cache keys: the same files exist in both caches, and each cache serves the other's runs
    files = lambda d: sorted(p.relative_to(d) for p in d.rglob("*.npz"))  # noqa: E731
    assert files(tmp_path / "local") == files(tmp_path / "dask") and len(files(tmp_path / "dask")) == len(tasks)
    again = Sweep(tmp_path / "dask", jobs=1, progress=False)
    for a, b in zip(want, again.run(tasks), strict=True):
        _assert_same(
            {k: a[k] for k in a if isinstance(a[k], np.ndarray)}, {k: b[k] for k in b if isinstance(b[k], np.ndarray)}
        )
    assert again.computed == 0 and again.reused == len(tasks)
    resumed = Sweep(tmp_path / "local", progress=False, scheduler=cluster.scheduler_address)
    resumed.run(tasks)
    assert resumed.computed == 0 and resumed.reused == len(tasks)
    assert not list(tmp_path.rglob(".tmp-*"))


def test_dask_on_a_worker_process(tmp_path: Path) -> None:
    """A worker in another process: results travel by serialisation and the worker hashes its own code."""
    tasks = _tasks(4)
    want = Sweep(None, progress=False).run(tasks)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None, worker_dashboard_address=None
    ) as c:
        got = Sweep(tmp_path / "cache", progress=False, scheduler=c.scheduler_address).run(tasks)
    for a, b in zip(want, got, strict=True):
        _assert_same(a, b)


def test_a_failing_task_raises_and_finished_tasks_stay_cached(cluster, tmp_path: Path) -> None:
    good = _tasks(2)
    bad = make_task("proofs_checks.runs:no_such_function", {"x": 1})
    sw = Sweep(tmp_path / "cache", progress=False, scheduler=cluster.scheduler_address)
    with pytest.raises(AttributeError, match="no_such_function"):
        sw.run([*good, bad])
    # whatever finished before the error is cached and reused by the next run
    again = Sweep(tmp_path / "cache", jobs=1, progress=False)
    again.run(good)
    assert again.reused + again.computed == len(good)


def test_worker_with_other_code_refuses_the_task() -> None:
    with pytest.raises(RuntimeError, match="different r1theory code"):
        execute_remote("proofs_checks.runs:run_method", "{}", "0" * 64)
    task = _tasks(2)[0]
    _assert_same(
        execute_remote(task.fn, task.config_json, code_hash(task.fn)), Sweep(None, progress=False).run([task])[0]
    )


@pytest.mark.parametrize("address", ["127.0.0.1:8786", "tcp:/host", "http://host:1", "", 8786])
def test_bad_scheduler_address_names_the_field(address) -> None:
    with pytest.raises(ValueError, match="scheduler must be a Dask scheduler address"):
        Sweep(None, scheduler=address)


def test_missing_dask_gives_a_clear_message(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'r1theory\[dask\]'"):
        Sweep(None, scheduler="tcp://127.0.0.1:8786")
    Sweep(None, jobs=1)  # the local runner does not need dask


def test_unreachable_scheduler_is_a_connection_error(tmp_path: Path) -> None:
    import dask

    sw = Sweep(tmp_path / "cache", progress=False, scheduler="tcp://127.0.0.1:9")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(ConnectionError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):
            sw.run(_tasks(2))
    with pytest.raises(ConnectionError):  # remembered: no second timeout
        sw.run(_tasks(2))
    assert sw.run([]) == []  # nothing to compute: no connection needed


def test_cli_passes_the_scheduler_to_verify(cluster, monkeypatch, tmp_path: Path) -> None:
    import r1theory_cli as cli
    from proofs_checks import runner

    seen = {}

    def fake_verify(*args, **kwargs):
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(runner, "verify", fake_verify)
    address = cluster.scheduler_address  # reachable: verify checks that before any check starts
    argv = ["verify", "--only", "pdl", "--out", str(tmp_path / "out"), "--scheduler", address]
    assert cli.main(argv) == 0
    assert seen["scheduler"] == address
    assert cli.main(argv[:-2]) == 0 and seen["scheduler"] is None
    with pytest.raises(SystemExit) as exc:
        cli.main([*argv[:-1], "localhost:8786"])
    assert exc.value.code == 2
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2


def test_local_sweeps_do_not_import_dask() -> None:
    code = (
        "import sys\n"
        "from proofs_checks.runs import run_task\n"
        "from proofs_checks.sweep import Sweep\n"
        "task = run_task('mei_bandit', 'pg', 0.1, 5, params={'init': 'bad'}, theta0='instance')\n"
        "Sweep(None, progress=False).run([task])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_an_interrupted_sweep_cancels_its_tasks_and_disconnects(cluster, tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C (or the SIGTERM the command line turns into it) mid-sweep: the run's pending tasks are cancelled
    and its client leaves the scheduler; the workers belong to the cluster and stay; what arrived is cached."""
    from proofs_checks import sweep

    def interrupt(self: object, n: int = 1) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep.Progress, "advance", interrupt)  # on the first result cached
    before = set(cluster.scheduler.clients)
    tasks = _tasks(40)
    with pytest.raises(KeyboardInterrupt):
        Sweep(tmp_path / "cache", progress=False, scheduler=cluster.scheduler_address).run(tasks)
    assert len(list((tmp_path / "cache").rglob("*.npz"))) >= 1
    mine = lambda: [k for k in cluster.scheduler.tasks if str(k).startswith("r1theory-")]  # noqa: E731
    deadline = time.monotonic() + 10
    while (mine() or set(cluster.scheduler.clients) != before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not mine(), "the run's tasks are cancelled"
    assert set(cluster.scheduler.clients) == before, "the run's client disconnected"
    assert len(cluster.scheduler.workers) == 2, "the cluster's workers stay"
