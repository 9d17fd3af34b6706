"""``docs/findings.md``: the one-page summary of a run, with how it was made, from its stored results.

The page is :func:`proofs_checks.report.summary` (the writer of every run's ``summary.md``: per claim
and method, where the claim holds, where it fails and where nothing can be concluded) under a header
stating the exact command, the version and git revision, the date and the wall time of the run.
It is written from the run's ``results.json``, which is stored beside the page, gzipped
(:func:`results_path`), so the page can be regenerated from it — after a change of the writer — without
running anything again, and a test checks that it is (tests/test_findings.py).

``r1theory verify --full --findings docs/findings.md`` runs the full verification and writes both files;
``r1theory findings docs/findings.results.json.gz --to docs/findings.md`` regenerates the page.
"""

from __future__ import annotations

import gzip
import json
import os
import shlex
from pathlib import Path
from typing import Any

from .report import summary, write_atomic
from .result import CheckResult
from .runner import check_summaries

__all__ = ["findings_markdown", "load_run", "results_path", "write_findings"]


def results_path(page: str | os.PathLike[str]) -> Path:
    """Where the results of the page ``page`` are stored: ``findings.md`` → ``findings.results.json.gz``."""
    p = Path(page)
    return p.with_name(f"{p.stem}.results.json.gz")


def load_run(path: str | os.PathLike[str]) -> tuple[list[CheckResult], dict[str, Any], list[dict[str, str]]]:
    """(results, provenance, crashed) of a ``results.json`` (plain or gzipped) written by ``r1theory verify``.

    Raises
    ------
    ValueError
        Naming the file, when it is not such a file.
    """
    p = Path(path)
    try:
        raw = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
        doc = json.loads(raw)
        results = [CheckResult(**r) for r in doc["results"]]
        return results, dict(doc["provenance"]), list(doc.get("crashed") or [])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{p} is not the results.json of an r1theory verify run ({type(exc).__name__}: {exc})"
        ) from exc


def _command(prov: dict[str, Any]) -> str:
    """The command line of the run, as typed (the program as ``r1theory``)."""
    argv = [str(a) for a in prov.get("argv") or []]
    if not argv:
        return "(not recorded)"
    args = argv[3:] if argv[1:3] == ["-m", "r1theory_cli"] else argv[1:]  # python -m r1theory_cli …
    return shlex.join(["r1theory", *args])


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "not recorded"
    m, s = divmod(round(float(seconds)), 60)
    return f"{m} min {s:02d} s ({float(seconds):.0f} s)"


def findings_markdown(
    results: list[CheckResult], provenance: dict[str, Any], crashed: list[dict[str, str]] | None = None
) -> str:
    """The findings page: a header with the run's provenance, then the run's summary (without report links)."""
    prov = provenance
    body = summary(results, prov, crashed or [], links=False, details=check_summaries(results))
    body = body.split("\n", 1)[1].lstrip("\n")  # the summary's own title is replaced by the page's
    head = [
        "# Findings",
        "",
        "What the verification found, per claim and method: where each claim holds, where it fails and where "
        "nothing can be concluded on the instances tested. The formalisation of every claim, the protocols "
        "and the thresholds are in {doc}`claims`; a verdict is about the conditions listed with it, not about "
        "the claim in general.",
        "",
        "## The run",
        "",
        f"- command: `{_command(prov)}`",
        f"- r1theory {prov.get('version', '?')}, git revision `{prov.get('git_revision') or 'n/a'}`, "
        f"Python {prov.get('python', '?')}, numpy {prov.get('numpy', '?')}, scipy {prov.get('scipy', '?')}",
        f"- date: {prov.get('date', 'not recorded')}",
        f"- wall time: {_duration(prov.get('elapsed_seconds'))} with {prov.get('jobs', '?')} worker processes "
        f"on {prov.get('cpus', '?')} CPUs; {prov.get('tasks_computed', '?')} runs computed, "
        f"{prov.get('tasks_reused', '?')} reused from the cache",
        "- regenerate: the same command with `--findings docs/findings.md` (this page and its results file "
        "`findings.results.json.gz`); the page alone from the stored results: "
        "`r1theory findings docs/findings.results.json.gz --to docs/findings.md`",
        "",
    ]
    return "\n".join(head) + "\n" + body.rstrip("\n") + "\n"


def write_findings(results_json: str | os.PathLike[str], page: str | os.PathLike[str], *, store: bool = True) -> Path:
    """Write the findings page ``page`` from a run's ``results.json``; with ``store``, keep it beside the page.

    Returns the page's path. The stored copy (:func:`results_path`) is the gzipped results.json
    (``mtime`` 0, so the same results give the same bytes).

    Raises
    ------
    ValueError
        When ``results_json`` is not a results file (the message names it).
    """
    results, prov, crashed = load_run(results_json)
    dest = Path(page)
    text = findings_markdown(results, prov, crashed)
    if store:
        src = Path(results_json)
        raw = gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes()
        stored = results_path(dest)
        if stored.resolve() != src.resolve():
            from tabular_mdps.files import atomic_write

            atomic_write(stored, gzip.compress(raw, mtime=0))
    write_atomic(dest, text)
    return dest
