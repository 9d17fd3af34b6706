"""An interrupted `r1theory verify` (SIGKILL mid-run) resumes from its cache and ends with the results of
an uninterrupted run; the same command twice, and with another worker count, gives identical numbers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import cache_files as _cache_files
from conftest import start_verify

from proofs_checks.sweep import load_result

CLAIM = "agarwal2021.npg-rate"  # 24 sweep tasks of ~50 ms each: long enough to be killed mid-run


def _verify(out: Path, jobs: int = 1) -> subprocess.Popen[bytes]:
    return start_verify(out, CLAIM, jobs=jobs)


def _results(out: Path) -> list[dict[str, object]]:
    return json.loads((out / "results.json").read_text())["results"]  # type: ignore[no-any-return]


def test_sigkill_mid_run_then_resume_equals_fresh_run(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    proc = _verify(fresh)
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    total = len(_cache_files(fresh))
    assert total > 5

    interrupted = None
    for attempt in range(5):
        out = tmp_path / f"killed{attempt}"
        proc = _verify(out)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and len(_cache_files(out)) < 2:
            time.sleep(0.005)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            done = len(_cache_files(out))
            if 0 < done < total:
                interrupted = out
                break
    assert interrupted is not None, "could not interrupt the run mid-way"
    before = _cache_files(interrupted)
    for f in before:
        load_result(f)  # nothing written is corrupt

    proc = _verify(interrupted)
    assert proc.wait(timeout=300) == 0
    assert len(_cache_files(interrupted)) == total
    assert not list((interrupted / "cache").rglob(".tmp-*")), "temporary files of killed writers are removed"
    assert _results(interrupted) == _results(fresh)
    prov = json.loads((interrupted / "results.json").read_text())["provenance"]
    assert prov["tasks_reused"] >= len(before), "finished tasks must not be recomputed"


def test_same_numbers_with_other_worker_count(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert _verify(a, jobs=1).wait(timeout=300) == 0
    assert _verify(b, jobs=2).wait(timeout=300) == 0
    assert _results(a) == _results(b)
    prov = json.loads((a / "results.json").read_text())["provenance"]
    for key in ("version", "git_revision", "numpy", "scipy", "mode", "jobs"):
        assert key in prov
