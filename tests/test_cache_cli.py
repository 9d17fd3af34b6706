"""``r1theory cache info | prune``: current runs are kept and reused, stale and unreadable files go."""

from __future__ import annotations

from pathlib import Path

import pytest

import r1theory_cli as cli
from proofs_checks import cache, sweep
from proofs_checks.runs import run_task
from proofs_checks.sweep import Sweep, load_meta, save_result


def _tasks(steps: tuple[float, ...]) -> list[sweep.Task]:
    return [run_task("mei_bandit", "pg", eta, 10, params={"init": "bad"}, theta0="instance") for eta in steps]


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An --out folder whose cache holds 3 current runs, 2 of older code, 1 without a record, 1 corrupt file."""
    folder = tmp_path / "cache"
    Sweep(folder, progress=False).run(_tasks((0.1, 0.2, 0.3)))
    with monkeypatch.context() as m:  # runs of "other code": their key and record carry another code hash
        m.setattr(sweep, "code_hash", lambda fn=None: "0" * 64)
        Sweep(folder, progress=False).run(_tasks((0.4, 0.5)))
    old = folder / "ab" / ("ab" + "1" * 62 + ".npz")
    save_result(old, {"x": 1.0})  # written by an r1theory that recorded no task
    (folder / "cd").mkdir()
    (folder / "cd" / ("cd" + "2" * 62 + ".npz")).write_bytes(b"not a zip file")
    return tmp_path


def test_scan_tells_current_from_stale_and_unreadable(out: Path) -> None:
    info = cache.scan(out)  # the --out folder: its cache/ is used
    assert info.folder == out / "cache"
    assert (info.count("current"), info.count("stale"), info.count("unreadable")) == (3, 3, 1)
    assert info.size() == sum(p.stat().st_size for p in (out / "cache").rglob("*.npz")) > 0
    current = [e for e in info.entries if e.status == "current"]
    assert {e.fn for e in current} == {"proofs_checks.runs:run_method"}
    meta = load_meta(current[0].path)
    assert meta is not None and meta["fn"] == "proofs_checks.runs:run_method" and meta["config"].startswith("{")


def test_cli_info_then_prune(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cache", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "7 runs" in text and "current         3" in text and "stale           3" in text
    assert "unreadable      1" in text and "proofs_checks.runs:run_method  3/2" in text

    assert cli.main(["cache", "prune", "--dry-run", str(out / "cache")]) == 0
    assert "would delete 4 files (3 stale, 1 unreadable)" in capsys.readouterr().out
    assert len(list((out / "cache").rglob("*.npz"))) == 7

    assert cli.main(["cache", "prune", str(out)]) == 0
    text = capsys.readouterr().out
    assert "deleted 4 files (3 stale, 1 unreadable)" in text and "kept 3 current runs" in text
    info = cache.scan(out)
    assert (info.count("current"), info.count("stale", "unreadable")) == (3, 0)
    assert not (out / "cache" / "ab").exists() and not (out / "cache" / "cd").exists()  # emptied folders go
    again = Sweep(out / "cache", progress=False)
    again.run(_tasks((0.1, 0.2, 0.3)))
    assert again.reused == 3 and again.computed == 0  # what prune kept is what the current code reuses


def test_cache_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["cache", "info", str(tmp_path / "missing")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: r1theory cache info") and "missing does not exist" in err
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit) as exc:
        cli.main(["cache", "prune", str(tmp_path / "file")])
    assert exc.value.code == 2 and "is not a folder" in capsys.readouterr().err
