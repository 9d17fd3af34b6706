"""``r1theory verify``: run the selected checks on the default suite and write the report.

Each check module exposes ``CLAIM`` (its stable identifier) and ``check(ctx) -> list[CheckResult]``.
Results are written after every check (atomically), so an interrupted run keeps what finished and
a rerun with the same ``--out`` reuses every cached sweep task.
"""

from __future__ import annotations

import datetime
import fnmatch
import importlib
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from . import claims as claims_registry
from .codehash import code_hash
from .context import Context, Mode
from .corpus import DEFAULT_FOLDER as CORPUS
from .corpus import replay_all
from .report import verdict_table, write_report
from .result import CheckResult
from .studies import Study
from .sweep import Sweep


def modules() -> tuple[str, ...]:
    """The check modules in report order: a query of the claim registry (:func:`proofs_checks.claims.check_modules`)."""
    return claims_registry.check_modules()


#: Check modules in report order (as registered when the runner was imported; :func:`modules` is current).
MODULES: tuple[str, ...] = modules()


def available() -> list[ModuleType]:
    """The importable check modules, in report order."""
    return [importlib.import_module(m) for m in modules()]


def check_summaries(results: list[CheckResult], checks: list[ModuleType] | None = None) -> dict[str, str]:
    """Claim → its check's own summary (the module's ``summarize(results)``), for the claims present in ``results``.

    ``checks`` defaults to every available check module; a module without ``summarize`` has no entry. The
    summaries go into the claim files, summary.md and the findings page (:func:`proofs_checks.report.summary`).
    """
    present = {r.claim for r in results}
    return {
        m.CLAIM: m.summarize(results)
        for m in (available() if checks is None else checks)
        if hasattr(m, "summarize") and m.CLAIM in present
    }


def claims() -> list[str]:
    """The ids ``r1theory verify`` checks (one module may verify several), in report order."""
    return [c.id for c in claims_registry.verified()]


def select(pattern: str | None) -> list[ModuleType]:
    """Modules verifying a claim whose id matches ``pattern``: a glob (``mei2020.*``) or a prefix (``c1``)."""
    mods = available()
    if not pattern:
        return mods
    ids = [i for i in claims() if fnmatch.fnmatch(i, pattern) or i.startswith(pattern)]
    wanted = {claims_registry.get(i).check for i in ids}
    chosen = [m for m in mods if m.__name__ in wanted]
    if not chosen:
        raise ValueError(f"--only {pattern!r} matches no claim; claims are: {', '.join(claims())}")
    return chosen


def git_revision() -> str | None:
    """The git revision of the source tree, when it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


#: The command line of this process's run, as typed (set by ``r1theory verify``); empty: ``sys.argv``.
command_line: list[str] = []


def provenance(mode: Mode, only: str | None, jobs: int) -> dict[str, Any]:
    """Versions and configuration of this run."""
    import numpy
    import scipy

    import r1theory

    return {
        "version": r1theory.__version__,
        "git_revision": git_revision(),
        "code_hash": code_hash(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "mode": mode,
        "only": only,
        "jobs": jobs,
        "argv": list(command_line) or sys.argv,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
    }


#: Optional figure hook of :func:`verify`: (context, results) → claim → figure paths relative to ``out``.
FigureHook = Callable[[Context, list[CheckResult]], dict[str, list[str]]]


def verify(
    mode: Mode,
    only: str | None,
    out: Path,
    jobs: int,
    progress: bool = True,
    figure_hook: FigureHook | None = None,
    scheduler: str | None = None,
    study: Study | None = None,
    collect: list[CheckResult] | None = None,
    corpus: Path | None = CORPUS,
) -> int:
    """Run the checks, replay the corpus, write the output folder; return the exit status.

    The folder (:func:`proofs_checks.report.write_report`): ``summary.md`` (the answers first),
    ``report.md`` (index), ``report/<claim>.md``, ``results.json``, ``results.csv``; rewritten after every
    check. After the checks, the counterexample records of ``corpus`` (default: the project's ``corpus/``;
    None: none) whose claim, or a claim it bears on (:class:`proofs_checks.claims.Relation`), is selected are
    replayed into CheckResults of their own claim id (:mod:`proofs_checks.corpus`) — unless the study selects
    its own instances: then the results are about those instances only.

    ``study`` (:class:`proofs_checks.studies.Study`, built by :func:`proofs_checks.study`) replaces the
    default instances and grids of the checks; ``collect``, when given, receives the CheckResults.

    With ``figure_hook`` (``r1theory verify`` passes ``figures.for_report``), the hook runs after the
    checks with the same context (so it reuses their runs) and the report embeds the figures it returns
    under each claim; a failing hook is reported like a crashed check.

    With ``scheduler`` (a Dask scheduler address, ``tcp://HOST:PORT``) the sweeps run on that cluster
    (:class:`proofs_checks.sweep.Sweep`); the results and cache are the same as a local run's.

    0 when every selected check completed (whatever the verdicts), 1 when a check crashed or the
    report could not be written (e.g. a full disk: the message names the file; every finished run
    stays in the cache, so a rerun resumes).
    """
    modules = select(only)
    out.mkdir(parents=True, exist_ok=True)
    sweep = Sweep(out / "cache", jobs=jobs, progress=progress, scheduler=scheduler)
    ctx = Context(mode=mode, sweep=sweep, out=out, study=study or Study())
    prov = provenance(mode, only, jobs)
    if not ctx.study.is_default():
        prov["study"] = ctx.study.to_dict()
    results: list[CheckResult] = []
    crashed: list[dict[str, str]] = []
    summaries: dict[str, str] = {}
    write_error = ""
    start = time.monotonic()
    for m in modules:
        t0 = time.monotonic()
        try:
            results.extend(m.check(ctx))
        except Exception as exc:  # a crashed check is reported, the others still run
            crashed.append({"claim": m.CLAIM, "error": f"{type(exc).__name__}: {exc}"})
            if isinstance(exc, OSError):  # environment (disk, permissions): one clear line
                print(f"error: check {m.CLAIM} could not complete: {exc}", file=sys.stderr)
            else:  # a bug: keep the traceback
                traceback.print_exc(file=sys.stderr)
        prov.setdefault("check_seconds", {})[m.CLAIM] = round(time.monotonic() - t0, 1)
        if progress:
            print(f"[{m.CLAIM}] done in {time.monotonic() - t0:.1f}s", file=sys.stderr)
        prov["elapsed_seconds"] = round(time.monotonic() - start, 1)
        prov["tasks_computed"], prov["tasks_reused"] = ctx.sweep.computed, ctx.sweep.reused
        summaries.update(check_summaries(results, [m]))
        write_error = _write(out, results, prov, crashed, summaries) or write_error
    if ctx.study.instances is not None:
        corpus = None  # a study of the user's own instances answers for those instances only
    if corpus is not None and modules:  # the counterexamples the project knows: part of the claims' verdicts
        t0 = time.monotonic()
        selected = {i for m in modules for i in (m.CLAIM, *claims_registry.of_module(getattr(m, "__name__", "")))}
        try:
            results.extend(replay_all(corpus, None if only is None else selected))
        except Exception as exc:  # a replay that crashes is reported like a crashed check
            crashed.append({"claim": "corpus", "error": f"{type(exc).__name__}: {exc}"})
            traceback.print_exc(file=sys.stderr)
        prov.setdefault("check_seconds", {})["corpus"] = round(time.monotonic() - t0, 1)
        if progress:
            print(f"[corpus] replayed in {time.monotonic() - t0:.1f}s", file=sys.stderr)
        write_error = _write(out, results, prov, crashed, summaries) or write_error
    figs: dict[str, list[str]] | None = None
    if figure_hook is not None and results and not write_error:
        t0 = time.monotonic()
        try:
            figs = figure_hook(ctx, results)
        except Exception as exc:  # the verdicts stand; the failure is reported like a crashed check
            crashed.append({"claim": "figures", "error": f"{type(exc).__name__}: {exc}"})
            traceback.print_exc(file=sys.stderr)
        prov.setdefault("check_seconds", {})["figures"] = round(time.monotonic() - t0, 1)
        if progress:
            print(f"[figures] done in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    prov["elapsed_seconds"] = round(time.monotonic() - start, 1)  # checks, corpus and figures
    write_error = _write(out, results, prov, crashed, summaries, figs) or write_error
    if collect is not None:
        collect.extend(results)
    print(verdict_table(results, crashed))
    if write_error:
        return 1
    print(f"\nsummary: {out / 'summary.md'}\nreport: {out / 'report.md'}\nresults: {out / 'results.csv'}")
    return 1 if crashed else 0


def _write(
    out: Path,
    results: list[CheckResult],
    prov: dict[str, Any],
    crashed: list[dict[str, str]],
    summaries: dict[str, str],
    figs: dict[str, list[str]] | None = None,
) -> str:
    """Write the output folder (:func:`proofs_checks.report.write_report`); the error message, or "" when written."""
    try:
        write_report(out, results, prov, crashed, summaries, figs)
    except OSError as exc:
        error = f"cannot write the report in {out}: {exc.strerror or exc}"
        print(f"error: {error}; finished runs are kept in {out / 'cache'}", file=sys.stderr)
        return error
    return ""


def module_main(module_name: str, argv: list[str] | None = None) -> int:
    """Entry point for ``python -m proofs_checks.<module>``: run one check and print its verdicts."""
    import argparse

    from ._cli_args import add_study_arguments, study_options
    from .studies import StudyError, study

    mod = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"python -m {module_name}", description=f"Run the check {mod.CLAIM}.")
    parser.add_argument("--full", action="store_true", help="thorough run instead of the quick one")
    parser.add_argument("--out", type=Path, default=Path("r1theory-out"), help="output folder (cache and report)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    add_study_arguments(parser)  # the same instances and grids as `r1theory verify`
    args = parser.parse_args(argv)
    try:
        options = study_options(args)
        return study(**{**options, "claims": mod.CLAIM}, jobs=max(1, args.jobs)).status
    except StudyError as exc:
        parser.error(str(exc))
