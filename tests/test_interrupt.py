"""A real `r1theory verify` killed mid-sweep (SIGKILL, SIGTERM, Ctrl-C's SIGINT) leaves no process behind.

Issue #17: the run is started in its own session, as a scheduler or a terminal runs it, with two local
workers; once its sweep has cached a few results it gets the signal. Within 10 s no process of the run
may remain (its session, or a command line naming its --out folder: the loky workers and the resource
trackers included, whatever their parent became); SIGTERM exits 143 and SIGINT 130 with the one-line
message and no traceback; the same command then resumes, reusing every result cached before the signal.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from conftest import cache_files, session_processes, start_verify

from proofs_checks.sweep import load_result
from r1theory_cli import STOPPED

# C1 with one damping value and one base step: ~110 sweep tasks, ~20 s at --jobs 2 (the full claim takes minutes)
CLAIM, OPTIONS = "c1.faster-than-pg", ("--damping", "0.1", "--steps", "1")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process table from /proc"),
]


def _survivors(sid: int, out: Path, within: float = 10.0) -> dict[int, str]:
    """The run's processes still alive after waiting up to ``within`` seconds for them to go."""
    deadline = time.monotonic() + within
    while (left := session_processes(sid, mention=str(out))) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.parametrize(
    ("sig", "group", "status", "word"),
    [
        (signal.SIGKILL, False, -signal.SIGKILL, None),  # the OOM killer, `kill -9`: no chance to clean up
        (signal.SIGTERM, False, 143, "terminated"),  # `timeout`, a scheduler: to the main process only
        (signal.SIGINT, True, 130, "interrupted"),  # Ctrl-C: to the whole foreground process group
    ],
    ids=["sigkill", "sigterm", "sigint"],
)
def test_killed_run_leaves_no_process_and_resumes(
    tmp_path: Path, sig: signal.Signals, group: bool, status: int, word: str | None
) -> None:
    out, log = tmp_path / "out", tmp_path / "stderr.txt"
    proc = start_verify(out, CLAIM, *OPTIONS, jobs=2, stderr=log, session=True)
    try:
        deadline = time.monotonic() + 180
        while proc.poll() is None and len(cache_files(out)) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, f"the run ended before it could be interrupted:\n{log.read_text()}"
        running = session_processes(proc.pid)
        assert len(running) >= 3, f"expected the run and its two workers, found {running}"
        (os.killpg if group else os.kill)(proc.pid, sig)
        assert proc.wait(timeout=60) == status, log.read_text()
    finally:
        if proc.poll() is None:  # a failed assertion above: do not leak the run itself
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    left = _survivors(proc.pid, out)
    assert not left, f"processes of the run still alive 10 s after {sig.name}: {left}"
    stderr = log.read_text()
    if word is not None:
        assert "Traceback" not in stderr, stderr
        assert stderr.strip().splitlines()[-1] == STOPPED.format(word), stderr

    cached = cache_files(out)
    assert cached, "finished tasks stay cached"
    for f in cached:
        load_result(f)  # nothing written is corrupt
    rerun = start_verify(out, CLAIM, *OPTIONS, jobs=2, stderr=log)
    assert rerun.wait(timeout=600) == 0, log.read_text()
    prov = json.loads((out / "results.json").read_text())["provenance"]
    assert prov["tasks_reused"] >= len(cached), "the rerun resumes: finished tasks are not recomputed"
    assert prov["tasks_computed"] > 0, "the signal came mid-sweep, so the rerun has work left"
