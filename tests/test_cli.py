"""The command line: usage errors exit 2 with a message, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from r1theory_cli import main


def test_claims_lists_stable_identifiers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["claims"]) == 0
    out = capsys.readouterr().out.split()
    for claim in (
        "mei2020.smoothness",
        "mei2020.lojasiewicz",
        "mei2020.rate",
        "mei2020.bandit",
        "agarwal2021.npg-rate",
        "c2.sample-complexity",
        "pdl",
        "c1.faster-than-pg",
        "ascent",
    ):
        assert claim in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["verify", "--only", "no-such-claim"], "matches no claim"),
        (["verify", "--jobs", "0"], "--jobs must be a positive integer"),
        (["verify", "--jobs", "two"], "--jobs must be a positive integer"),
        (["verify", "--quick", "--full"], "not allowed with"),
        (["verify", "--bogus"], "unrecognized arguments"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_out_must_be_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--out", str(f)])
    assert exc.value.code == 2
    assert "not a folder" in capsys.readouterr().err


def test_out_under_a_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--out", str(f / "sub")])
    assert exc.value.code == 2
    assert "cannot be created" in capsys.readouterr().err


def test_full_disk_is_reported_and_runs_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import errno

    from proofs_checks import runner

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runner, "write_report", full)  # every output file goes through it
    status = main(["verify", "--only", "mei2020.lojasiewicz", "--out", str(tmp_path), "--no-progress", "--jobs", "1"])
    err = capsys.readouterr().err
    assert status == 1
    assert "No space left on device" in err and "Traceback" not in err
    assert list((tmp_path / "cache").rglob("*.npz")), "finished runs must stay in the cache"
