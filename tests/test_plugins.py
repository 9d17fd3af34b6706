"""Plugins (proofs_checks.plugins): loaded once, recorded, carried to sweep workers, and one-line errors.

A test plugin registers a catalog instance; the workers of a sweep (loky processes and a Dask worker
process) load it from its recorded source, even after the file is gone. The command line's use of
plugins is tested in test_cli_plugins.py.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from conftest import PLUGIN, plugin_file

from proofs_checks import plugins
from proofs_checks.runs import run_task
from proofs_checks.sweep import Sweep


def test_load_is_a_function_and_idempotent(isolated, tmp_path: Path) -> None:
    import tabular_mdps

    path, name = plugin_file(tmp_path)
    module = plugins.load(str(path))
    assert plugins.load(str(path)) is module and name in tabular_mdps.names()
    assert plugins.load("json") is sys.modules["json"]  # a dotted module name
    assert [p.source is None for p in plugins.loaded()] == [False, True]


BAD = {
    "bad.py": ("a = 1\nb = 2\nc = x + 1\n", "NameError: name 'x' is not defined (line 3)"),
    "syntax.py": ("def f(:\n    pass\n", "SyntaxError: invalid syntax (line 1)"),
    "raises.py": ('"""doc"""\n\nraise RuntimeError("no\\ngood")\n', "RuntimeError: no good (line 3)"),
    "dep.py": (
        "import no_such_dependency_xyz\n",
        "ModuleNotFoundError: No module named 'no_such_dependency_xyz' (line 1)",
    ),
}


@pytest.mark.parametrize("file", sorted(BAD))
def test_a_failing_plugin_raises_a_one_line_error(isolated, tmp_path: Path, file: str) -> None:
    source, cause = BAD[file]
    (tmp_path / file).write_text(source)
    with pytest.raises(plugins.PluginError) as exc:
        plugins.load(str(tmp_path / file))
    assert exc.value.cause == cause and str(exc.value) == f"plugin {tmp_path / file} failed to import: {cause}"
    assert plugins.loaded() == () and not any(m.startswith("r1theory_plugin_") for m in sys.modules)


@pytest.mark.parametrize(
    "spec,cause",
    [
        ("no_such_plugin_module_xyz", "ModuleNotFoundError: No module named 'no_such_plugin_module_xyz'"),
        ("json.no_such_submodule", "ModuleNotFoundError: No module named 'json.no_such_submodule'"),
        ("./missing.py", "FileNotFoundError: no such file "),
        ("", "a plugin is a dotted module name or a .py file path"),
    ],
)
def test_a_missing_plugin_raises_a_one_line_error(isolated, spec: str, cause: str) -> None:
    with pytest.raises(plugins.PluginError) as exc:
        plugins.load(spec)
    assert exc.value.cause.startswith(cause) and "\n" not in str(exc.value)


def test_entry_points_name_modules(isolated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"plugin_chain_{uuid.uuid4().hex[:8]}"
    (tmp_path / "r1theory_plugin_ep.py").write_text(PLUGIN.format(name=name))
    info = tmp_path / "r1theory_plugin_ep-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: r1theory-plugin-ep\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[r1theory.plugins]\nmine = r1theory_plugin_ep\n[r1theory.bad]\nx = json:dumps\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import tabular_mdps

    assert [p.key for p in plugins.load_entry_points()] == ["r1theory_plugin_ep"] and name in tabular_mdps.names()
    with pytest.raises(
        plugins.PluginError, match=r"entry point x = json:dumps \(group r1theory.bad\) failed .* names a module"
    ):
        plugins.load_entry_points("r1theory.bad")


def _tasks(name: str) -> list:
    return [run_task(name, method, 0.5, 15, damping=d) for method, d in (("pg", None), ("npg", None), ("r1-grad", 1.0))]


def test_plugins_reach_the_loky_workers(isolated, tmp_path: Path) -> None:
    """A sweep over the plugin's instance in two worker processes: the workers load the plugin themselves."""
    path, name = plugin_file(tmp_path)
    plugins.load(str(path))
    local = Sweep(None, jobs=1, progress=False).run(_tasks(name))
    path.unlink()  # the workers execute the recorded source: they need no file
    pooled = Sweep(tmp_path / "cache", jobs=2, progress=False).run(_tasks(name))
    for a, b in zip(local, pooled, strict=True):
        np.testing.assert_array_equal(a["J"], b["J"])
    assert local[0]["J"][-1] > local[0]["J"][0]


def test_loaded_plugins_are_part_of_the_cache_key(isolated, tmp_path: Path) -> None:
    task = run_task("mei_bandit", "pg", 0.1, 5)
    plain = task.key
    assert plugins.digest() == ""
    path, _ = plugin_file(tmp_path)
    plugins.load(str(path))
    assert plugins.digest() != "" and task.key != plain


def test_plugins_reach_a_dask_worker_process(isolated, tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    path, name = plugin_file(tmp_path)
    plugins.load(str(path))
    want = Sweep(None, jobs=1, progress=False).run(_tasks(name))
    path.unlink()
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, worker_dashboard_address=None
    ) as c:
        got = Sweep(tmp_path / "cache", progress=False, scheduler=c.scheduler_address).run(_tasks(name))
    for a, b in zip(want, got, strict=True):
        np.testing.assert_array_equal(a["J"], b["J"])


def test_a_module_plugin_missing_on_a_worker_is_a_clear_error(isolated) -> None:
    record = plugins.Plugin("not_installed_here", "not_installed_here", "not_installed_here", None, "0" * 64)
    with pytest.raises(plugins.PluginError, match=r"No module named 'not_installed_here' \[in a worker process; a "):
        plugins.ensure([record])
