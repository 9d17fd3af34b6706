"""Manners on a shared machine: output files get the user's umask, errors name the subcommand's usage,
an unreachable scheduler is a usage error before any check starts, progress bars show an ETA."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tabular_mdps.files import atomic_write


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_verify_outputs_and_cache_files_get_the_umask(tmp_path: Path) -> None:
    from proofs_checks.runner import verify

    with _umask(0o022):
        assert verify("quick", "pdl", tmp_path, 1, progress=False) == 0
    cache = sorted((tmp_path / "cache").rglob("*.npz"))
    assert cache
    for path in [tmp_path / "results.json", tmp_path / "report.md", *cache]:
        assert _mode(path) == 0o644, path


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_atomic_write_and_figures_follow_the_umask(tmp_path: Path, mask: int) -> None:
    from figures._style import new_figure, save

    with _umask(mask):
        atomic_write(tmp_path / "a.json", b"{}")
        fig = new_figure(1.0, 1.0)
        fig.add_subplot().plot([0, 1])
        written = save(fig, tmp_path / "fig")
    for path in [tmp_path / "a.json", *written]:
        assert _mode(path) == 0o666 & ~mask, path


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    from tabular_mdps.files import atomic_file

    with pytest.raises(RuntimeError), atomic_file(tmp_path / "x.bin") as f:
        f.write(b"half")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []
