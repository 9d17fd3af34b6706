"""Manners on a shared machine: output files get the user's umask, errors name the subcommand's usage,
an unreachable scheduler is a usage error before any check starts, progress bars show an ETA."""

from __future__ import annotations

import io
import os
import re
import socket
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


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["verify", "--jobs", "0"], "usage: r1theory verify "),
        (["falsify", "no.such-claim"], "usage: r1theory falsify "),
        (["catalog", "no_such_instance"], "usage: r1theory catalog "),
    ],
)
def test_usage_errors_print_the_subcommands_usage(argv, usage, capsys: pytest.CaptureFixture[str]) -> None:
    import r1theory_cli as cli

    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage) and f"r1theory {argv[0]}: error: " in err


def test_an_unreachable_scheduler_is_a_usage_error_before_any_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("dask.distributed")
    import proofs_checks
    import r1theory_cli as cli
    from proofs_checks import runner

    def started(*args: object, **kwargs: object) -> int:
        raise AssertionError("a check started")

    monkeypatch.setattr(proofs_checks, "study", started, raising=False)
    monkeypatch.setattr(runner, "verify", started)
    address = f"tcp://127.0.0.1:{_unused_port()}"
    with pytest.raises(SystemExit) as exc:
        cli.main(["verify", "--only", "pdl", "--out", str(tmp_path / "out"), "--scheduler", address])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: r1theory verify ") and f"cannot reach the Dask scheduler at {address}" in err
    assert not (tmp_path / "out" / "results.json").exists()


def test_check_scheduler_connects_only_when_asked() -> None:
    pytest.importorskip("dask.distributed")
    from proofs_checks.sweep import check_scheduler

    address = f"tcp://127.0.0.1:{_unused_port()}"
    assert check_scheduler(address) == address  # the address alone is well formed
    with pytest.raises(ConnectionError, match="cannot reach the Dask scheduler"):
        check_scheduler(address, timeout=5.0)
    with socket.socket() as server:  # something listening: reachable
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert check_scheduler(f"tcp://127.0.0.1:{port}", timeout=5.0) == f"tcp://127.0.0.1:{port}"


class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_an_eta_on_a_terminal_and_in_a_log() -> None:
    from proofs_checks.progress import Progress

    for stream in (_TTY(), io.StringIO()):
        bar = Progress("pdl", 20, stream)
        for _ in range(20):
            bar.advance()
        text = stream.getvalue()
        assert "pdl" in text and "20/20" in text and re.search(r"\[\d\d:\d\d<\d\d:\d\d", text), text
        assert ("\r" in text) == isinstance(stream, _TTY)  # a log gets whole lines, never carriage returns
    log = io.StringIO()
    bar = Progress("pdl", 20, log)
    assert log.getvalue().count("\n") == 1  # 0%
    for _ in range(20):
        bar.advance()
    assert log.getvalue().count("\n") == 11  # a line per 10%
    quiet = io.StringIO()
    Progress("pdl", 20, quiet, enabled=False).advance(20)
    assert quiet.getvalue() == ""


def test_falsify_shows_examples_tried_against_the_budget() -> None:
    from proofs_checks.falsify import search

    log = io.StringIO()
    result = search("mei2020.lojasiewicz", budget=20, seed=0, progress=True, stream=log)
    text = log.getvalue()
    assert "falsify mei2020.lojasiewicz" in text and "/20" in text and "example" in text
    assert ("violation found" in text) == result.found
    assert result.found or "no violation in" in text
    silent = io.StringIO()
    search("mei2020.lojasiewicz", budget=5, seed=0, stream=silent)
    assert silent.getvalue() == ""
