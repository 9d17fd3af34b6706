"""The command line's plugins: ``--plugin MODULE_OR_FILE`` on every subcommand and the r1theory.plugins entry points.

A plugin file registers a catalog instance that ``r1theory catalog`` then lists; a plugin that fails to
import is a one-line usage error (exit 2), never a traceback. The mechanism (proofs_checks.plugins, the
sweep workers) is tested in test_plugins.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import PLUGIN, plugin_file

from proofs_checks import plugins
from r1theory_cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_a_plugin_instance_is_used_by_a_subcommand(isolated, tmp_path: Path, capsys) -> None:
    path, name = plugin_file(tmp_path)
    assert main(["catalog", "--plugin", str(path)]) == 0
    assert f"{name}: a two-state chain from a plugin" in capsys.readouterr().out.splitlines()
    assert main(["catalog", name, f"--plugin={path}"]) == 0  # loaded once: no "already registered"
    out = capsys.readouterr().out
    assert out.startswith(f"{name}: a two-state chain") and "gamma = 0.9" in out
    assert [p.key for p in plugins.loaded()] == [str(path.resolve())]


BAD = {  # the causes of every kind of failure are tested in test_plugins.py; here, the command's message
    "bad.py": ("a = 1\nb = 2\nc = x + 1\n", "NameError: name 'x' is not defined (line 3)"),
    "raises.py": ('"""doc"""\n\nraise RuntimeError("no\\ngood")\n', "RuntimeError: no good (line 3)"),
}


@pytest.mark.parametrize("file", sorted(BAD))
def test_a_failing_plugin_file_is_a_one_line_usage_error(isolated, tmp_path: Path, capsys, file: str) -> None:
    source, cause = BAD[file]
    (tmp_path / file).write_text(source)
    spec = str(tmp_path / file)
    assert main(["claims", "--plugin", spec]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"r1theory: error: --plugin {spec} failed to import: {cause}\n"
    assert plugins.loaded() == () and not any(m.startswith("r1theory_plugin_") for m in sys.modules)


@pytest.mark.parametrize(
    "spec,cause",
    [
        ("no_such_plugin_module_xyz", "ModuleNotFoundError: No module named 'no_such_plugin_module_xyz'"),
        ("./missing.py", "FileNotFoundError: no such file "),
    ],
)
def test_a_missing_plugin_is_a_one_line_usage_error(isolated, capsys, spec: str, cause: str) -> None:
    assert main(["verify", "--plugin", spec, "--only", "pdl"]) == 2  # nothing runs
    err = capsys.readouterr().err
    assert err.startswith(f"r1theory: error: --plugin {spec} failed to import: {cause}") and err.count("\n") == 1


def test_no_traceback_from_the_installed_command(tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text("a = 1\nb = 2\nc = x + 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "r1theory_cli", "figures", "--list", "--plugin", "./p.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        "r1theory: error: --plugin ./p.py failed to import: NameError: name 'x' is not defined (line 3)\n"
    )


def _entry_point_dist(folder: Path, module: str, source: str) -> None:
    """An installed distribution (a .dist-info on sys.path) declaring ``module`` in the r1theory.plugins group."""
    (folder / f"{module}.py").write_text(source)
    info = folder / f"{module}_dist-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}-dist\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[r1theory.plugins]\nmine = {module}\n")


def _cli(folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", "r1theory_cli", *argv], env=env, capture_output=True, text=True)


def test_entry_point_plugins_are_loaded_before_anything_runs(tmp_path: Path) -> None:
    name = f"plugin_chain_{uuid.uuid4().hex[:8]}"
    _entry_point_dist(tmp_path, "r1plugin_good", PLUGIN.format(name=name))
    proc = _cli(tmp_path, "catalog")
    assert proc.returncode == 0, proc.stderr
    assert f"{name}: a two-state chain from a plugin" in proc.stdout.splitlines()


def test_a_failing_entry_point_names_the_entry_point(tmp_path: Path) -> None:
    _entry_point_dist(tmp_path, "r1plugin_bad", "import numpy\n\n1 / 0\n")
    proc = _cli(tmp_path, "claims")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        "r1theory: error: plugin entry point mine = r1plugin_bad (group r1theory.plugins) failed to import: "
        f"ZeroDivisionError: division by zero ({tmp_path / 'r1plugin_bad.py'}, line 3)\n"
    )


@pytest.mark.parametrize("where", ["before the subcommand", "abbreviated"])
def test_plugin_placement(isolated, tmp_path: Path, capsys, where: str) -> None:
    path, name = plugin_file(tmp_path)
    argv = ["--plugin", str(path), "catalog"] if where == "before the subcommand" else ["catalog", "--plug", str(path)]
    assert main(argv) == 0
    assert f"{name}: a two-state chain from a plugin" in capsys.readouterr().out.splitlines()


def test_the_plugin_help_is_on_every_subcommand(capsys) -> None:
    from r1theory_cli import COMMANDS

    for command in COMMANDS:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "--plugin MODULE_OR_FILE" in capsys.readouterr().out, command
