"""The cache key's code component: what computes a run counts, docstrings, comments and the report do not.

Each test copies the four packages into tmp_path, edits one file, and compares
``code_hash(fn, root=copy)`` (memoised per path, so every variant is a fresh copy).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from proofs_checks.codehash import PACKAGES, ROOT, code_hash, module_closure
from proofs_checks.runs import RUN_FN, run_task
from proofs_checks.sweep import task_key

PDL = "proofs_checks.pdl:worker"
TRAJECTORY = "figures._trajectory:along"
FNS = (RUN_FN, PDL, TRAJECTORY)


def _tree(tmp_path: Path, name: str, edit: Callable[[Path], None] | None = None) -> Path:
    root = tmp_path / name
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, root / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    if edit is not None:
        edit(root)
    return root


def _replace(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / rel
        text = path.read_text()
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1))

    return edit


def _append(rel: str, text: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        with (root / rel).open("a") as f:
            f.write(text)

    return edit


def _keys(root: Path) -> dict[str, str]:
    return {fn: code_hash(fn, root) for fn in FNS}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _keys(_tree(tmp_path_factory.mktemp("codehash"), "base"))


def test_the_hash_depends_on_paths_relative_to_the_root(base) -> None:
    assert base == _keys(ROOT)
    assert len(set(base.values())) == len(FNS)  # different workers import different code


def test_docstrings_comments_and_formatting_do_not_count(tmp_path: Path, base) -> None:
    def edit(root: Path) -> None:
        for rel in ("r1theory/evaluation.py", "proofs_checks/runs.py", "figures/_trajectory.py"):
            path = root / rel
            text = path.read_text().replace('"""', '"""Edited. ', 1)  # the module docstring
            path.write_text("# a new comment\n\n\n" + text.replace("\n\n", "\n\n\n", 3))
        _replace(
            "r1theory/evaluation.py",
            "    d = (1.0 - mdp.gamma)",
            "    # the normalised visitation\n    d = (1.0-mdp.gamma)",
        )(root)

    assert _keys(_tree(tmp_path, "docs", edit)) == base


def test_a_changed_engine_constant_changes_every_key(tmp_path: Path, base) -> None:
    root = _tree(
        tmp_path, "formula", _replace("r1theory/evaluation.py", "d = (1.0 - mdp.gamma)", "d = (1.5 - mdp.gamma)")
    )
    changed = _keys(root)
    assert all(changed[fn] != base[fn] for fn in FNS)


@pytest.mark.parametrize(
    "rel",
    [
        "proofs_checks/report.py",
        "proofs_checks/runner.py",
        "proofs_checks/sweep.py",
        "proofs_checks/progress.py",
        "figures/gap_curves.py",
    ],
)
def test_the_report_writer_runner_and_a_figure_change_no_run_key(tmp_path: Path, base, rel: str) -> None:
    assert _keys(_tree(tmp_path, "edit", _append(rel, "\nEDITED_CONSTANT = 3\n"))) == base


def test_a_worker_change_changes_only_the_keys_that_import_it(tmp_path: Path, base) -> None:
    pdl = _keys(_tree(tmp_path, "pdl", _append("proofs_checks/pdl.py", "\nEDITED_CONSTANT = 3\n")))
    assert pdl[PDL] != base[PDL] and pdl[RUN_FN] == base[RUN_FN] and pdl[TRAJECTORY] == base[TRAJECTORY]
    runs = _keys(_tree(tmp_path, "runs", _append("proofs_checks/runs.py", "\nEDITED_CONSTANT = 3\n")))
    assert all(runs[fn] != base[fn] for fn in FNS)  # the pdl check and the trajectory figure import runs
    traj = _keys(_tree(tmp_path, "traj", _append("figures/_trajectory.py", "\nEDITED_CONSTANT = 3\n")))
    assert traj[TRAJECTORY] != base[TRAJECTORY] and traj[RUN_FN] == base[RUN_FN] and traj[PDL] == base[PDL]


def test_a_c1_run_key_keeps_through_a_report_edit(tmp_path: Path) -> None:
    task = run_task("mei_bandit", "r1-grad", 0.1, 20, params={"init": "bad"}, theta0="instance")  # a C1 run
    assert task.fn == RUN_FN
    before = task_key(task.fn, task.config_json, code_hash(task.fn, _tree(tmp_path, "a")))
    after_report = _tree(tmp_path, "b", _replace("proofs_checks/report.py", "{value:.4g}", "{value:.6g}"))
    assert task_key(task.fn, task.config_json, code_hash(task.fn, after_report)) == before
    engine = _tree(tmp_path, "c", _replace("r1theory/evaluation.py", "(1.0 - mdp.gamma)", "(1.0 - 0.5 * mdp.gamma)"))
    assert task_key(task.fn, task.config_json, code_hash(task.fn, engine)) != before
    assert task.key == task_key(task.fn, task.config_json, code_hash(task.fn))


def test_the_closure_follows_imports_but_not_the_runner_or_the_report() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in module_closure("proofs_checks.pdl")}
    assert {"proofs_checks/pdl.py", "proofs_checks/_classic.py", "proofs_checks/runs.py"} <= names
    assert {"proofs_checks/__init__.py", "proofs_checks/result.py"} <= names  # parent package, imports
    assert not names & {"proofs_checks/runner.py", "proofs_checks/report.py", "proofs_checks/c1_faster_than_pg.py"}
    assert not names & {"proofs_checks/sweep.py", "proofs_checks/progress.py"}  # the machinery that runs workers
    figure = {p.relative_to(ROOT).as_posix() for p in module_closure("figures._trajectory")}
    assert {"figures/__init__.py", "figures/_c1.py", "proofs_checks/c1_faster_than_pg.py"} <= figure
    assert "figures/_cli.py" not in figure and "figures/gap_curves.py" not in figure


def test_the_hash_is_memoised() -> None:
    code_hash(RUN_FN)
    hits = code_hash.cache_info().hits
    assert code_hash(RUN_FN) == code_hash(RUN_FN)
    assert code_hash.cache_info().hits == hits + 2
