"""Command line: ``r1theory verify | claims | ...`` (also ``python -m r1theory_cli``).

This top-level module sits above the four import packages (``r1theory``, ``tabular_mdps``,
``proofs_checks``, ``figures``) and is the only one that imports them all; the engine imports none
of them. Subcommands are dispatched to their packages lazily, so ``--help`` stays fast. Exit status:
0 on completion (whatever the verdicts), 1 when a check crashed, 2 for usage errors (argparse's
convention), 130 on Ctrl-C (SIGINT) and 143 on SIGTERM (what ``timeout`` and cluster schedulers
send): both stop the run cleanly — the local workers are killed, finished tasks stay cached, one line
on stderr says how to resume (rerun the same command with the same ``--out``) — as 128 + the signal
number, the shell's convention. A SIGKILLed run leaves no process either: its workers notice that
their parent is gone and exit (:mod:`proofs_checks.sweep`).

Each subcommand has an ``_add_<name>(sub)`` function that declares its arguments and a
``_run_<name>(parser, args)`` function that executes it; :data:`COMMANDS` registers both. ``parser`` is the
subcommand's own, so ``parser.error`` prints its usage line (``usage: r1theory verify ...``).

Plugins: every subcommand takes ``--plugin MODULE_OR_FILE`` (repeatable). Before the parser is
built, :func:`main` loads the entry points of the group ``r1theory.plugins`` and then each
``--plugin`` (:mod:`proofs_checks.plugins`, which also carries them to the sweep workers), so what a
plugin registers is known to every subcommand, its argument choices included. A plugin that fails
to import is a usage error: one line naming the plugin and the cause, exit status 2.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proofs_checks._cli_args import add_study_arguments, int_option, out_folder

_jobs = int_option("--jobs", 1, "a positive integer")


def _add_verify(sub: Any) -> None:
    v = sub.add_parser("verify", help="run every convergence claim on the default suite and write a report")
    mode = v.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="the default suite, about 1.5 minutes on 2 cores (default)")
    mode.add_argument("--full", action="store_true", help="the thorough run: more instances, damping values, seeds")
    v.add_argument("--only", metavar="PATTERN", help="claims matching a glob or prefix, e.g. 'c1' or 'mei2020.*'")
    v.add_argument("--out", metavar="DIR", type=Path, help="output folder (default r1theory-out)")
    v.add_argument("--jobs", metavar="N", type=_jobs, default=min(2, os.cpu_count() or 1), help="worker processes")
    v.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    v.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        type=_scheduler,
        help="run the sweeps on this Dask cluster instead of local processes (--jobs is then ignored; "
        "needs the extra: pip install 'r1theory[dask]')",
    )
    v.add_argument(
        "--findings",
        metavar="FILE.md",
        type=Path,
        help="also write the run's one-page findings there (e.g. docs/findings.md) and its results beside it "
        "(FILE.results.json.gz)",
    )
    add_study_arguments(v)


def _scheduler(text: str) -> str:
    if "://" not in text or text.startswith("://") or text.endswith("://"):
        raise argparse.ArgumentTypeError(
            f"--scheduler must be a Dask scheduler address like tcp://HOST:PORT; got {text!r}"
        )
    return text


def _run_verify(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import proofs_checks
    from proofs_checks._cli_args import study_options

    try:  # bad input (a file, an instance, a grid value, the config): one line, exit 2, nothing written
        options = study_options(args)
    except proofs_checks.StudyError as exc:
        return _usage_error(str(exc))
    if args.scheduler is not None:
        from proofs_checks.sweep import check_scheduler

        try:
            check_scheduler(args.scheduler, timeout=5.0)  # unreachable: a usage error before any check starts
        except (ValueError, ImportError, ConnectionError) as exc:
            parser.error(str(exc))
    from figures import for_report
    from proofs_checks import runner

    runner.command_line[:] = args.argv
    try:
        results = proofs_checks.study(
            **options, jobs=args.jobs, progress=not args.no_progress, figure_hook=for_report, scheduler=args.scheduler
        )
    except proofs_checks.StudyError as exc:
        return _usage_error(str(exc))
    if args.findings is not None:
        from proofs_checks.findings import results_path, write_findings

        try:
            page = write_findings(results.out / "results.json", args.findings)
        except (OSError, ValueError) as exc:
            print(f"r1theory: error: cannot write the findings to {args.findings}: {exc}", file=sys.stderr)
            return 1
        print(f"findings: {page} (results: {results_path(page)})")
    return results.status


def _add_findings(sub: Any) -> None:
    f = sub.add_parser(
        "findings",
        help="write the one-page findings (docs/findings.md) from a run's stored results",
        description="Write the findings page of a verify run from its results.json (or the gzipped copy stored "
        "beside a findings page) without running anything.",
    )
    f.add_argument("results", metavar="RESULTS", type=Path, help="results.json or FILE.results.json.gz")
    f.add_argument("--to", metavar="FILE.md", type=Path, required=True, help="the page to write")


def _run_findings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from proofs_checks.findings import write_findings

    try:
        page = write_findings(args.results, args.to)
    except ValueError as exc:
        return _usage_error(str(exc))
    except OSError as exc:
        print(f"r1theory: error: cannot write {args.to}: {exc}", file=sys.stderr)
        return 1
    print(f"findings: {page}")
    return 0


def _usage_error(message: str) -> int:
    """Print ``r1theory: error: <message>`` (one line, no usage text) and exit with the usage-error status 2."""
    print(f"r1theory: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _add_replay(sub: Any) -> None:
    r = sub.add_parser(
        "replay",
        help="re-measure a saved counterexample (a corpus/ record or one falsify wrote) and print the violation",
        description="Re-measure the counterexample of FILE (its JSON record and the MDP file beside it) with the "
        "claim's current measurement. Exit 0 when it still violates the claim, 1 when it no longer does, 2 when "
        "the record cannot be read.",
    )
    r.add_argument("record", metavar="FILE", type=Path, help="a counterexample record (.json)")


def _run_replay(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import json

    from proofs_checks.falsify.records import load_counterexample
    from proofs_checks.falsify.replay import replay

    try:
        _, rec = load_counterexample(args.record)
        m = replay(args.record)
    except (ValueError, TypeError) as exc:
        return _usage_error(str(exc) if str(exc).startswith(str(args.record)) else f"{args.record}: {exc}")
    except OSError as exc:
        return _usage_error(f"{args.record}: cannot be read ({exc.strerror or exc})")
    print(f"{rec['claim']} / {rec['method']}: {m.quantity} = {m.measured:.6g}, bound {m.relation} {m.bound:.6g}")
    print(f"margin {m.margin:.3g} (tolerance {m.tolerance:.3g}); {m.reason or 'no reason given'}")
    recorded = rec.get("violation", {}).get("measured")
    if recorded is not None:
        print(f"recorded when saved: {m.quantity} = {json.dumps(recorded)}")
    print("still violates the claim" if m.violated else "no longer violates the claim")
    return 0 if m.violated else 1


def _add_claims(sub: Any) -> None:
    sub.add_parser(
        "claims",
        help="list every claim id with its statement, and whether verify checks it and falsify can search it",
        description="One line per claim of the registry (proofs_checks/claims.py): the id, [verify] when "
        "`r1theory verify` checks it on the suites, [falsify] when `r1theory falsify ID` can search it, "
        "then its statement.",
    )


def _run_claims(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from proofs_checks.claims import CLAIMS

    for c in CLAIMS:
        tags = ", ".join(t for t, on in (("verify", c.check), ("falsify", c.falsify)) if on)
        print(f"{c.id}  [{tags}]  {c.statement}")
    return 0


def _add_falsify(sub: Any) -> None:
    budget = int_option("--budget", 1, "a positive integer (examples)")
    seed = int_option("--seed", 0, "an integer >= 0")

    from proofs_checks.claims import falsifiable
    from r1theory.policies import PARAM_KINDS

    f = sub.add_parser(
        "falsify",
        help="search (hypothesis, with shrinking) for the smallest instance violating a claim",
        description="Search for the smallest instance violating CLAIM and save it as an MDP file plus a JSON\n"
        "record in --out; exit 0 whether or not one is found.",
        epilog="claims that can be searched (`r1theory claims` lists every id with its statement):\n"
        + "".join(f"  {c.id}\n" for c in falsifiable()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    f.add_argument("claim", metavar="CLAIM", help="a claim id that can be searched (listed below)")
    f.add_argument(
        "--method",
        metavar="M",
        help="the method under test (default: the claim's own, printed in the header: r1-same for the ascent "
        "claims, r1-grad for c1, pg or npg for a classic theorem)",
    )
    f.add_argument(
        "--param",
        choices=PARAM_KINDS,
        default="tabular",
        help="the policy parametrisation to fuzz over (default tabular): log-linear draws features φ(s, a) ∈ R^k, "
        "neural a one-hidden-layer tanh network; ascent.stated-step and c1.tuned-progress only (the classic "
        "claims are tabular theorems)",
    )
    f.add_argument("--budget", metavar="N", type=budget, help="examples to try (default: 2000, the 'long' profile)")
    f.add_argument("--seed", metavar="S", type=seed, default=0, help="seed of the search (default 0)")
    f.add_argument("--no-progress", action="store_true", help="do not show the progress bar (examples tried)")
    f.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=Path("r1theory-out/falsify"),
        help="folder for a counterexample (default r1theory-out/falsify)",
    )


def _run_falsify(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from proofs_checks.falsify import resolve, run

    out = out_folder(parser, args.out)
    try:
        resolve(args.claim, args.method, args.param)
    except ValueError as exc:
        parser.error(str(exc))
    return run(args.claim, args.method, args.budget, args.seed, out, param=args.param, progress=not args.no_progress)


def _add_figures(sub: Any) -> None:
    from figures._cli import add_arguments

    f = sub.add_parser(
        "figures",
        help="redraw the theory figures from the sweep cache (DIR/figures/*.png, *.pdf)",
        description="Redraw every figure from the runs cached in DIR/cache (shared with `verify --out DIR`), "
        "computing only the missing ones.",
    )
    add_arguments(f)


def _run_figures(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from figures._cli import run

    return run(parser, args)


def _add_catalog(sub: Any) -> None:
    c = sub.add_parser(
        "catalog",
        help="list the catalog's instances (those of plugins included); with NAME, describe one",
    )
    c.add_argument("name", metavar="NAME", nargs="?", help="the instance to describe (source, parameters, notes)")


def _run_catalog(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import tabular_mdps

    if args.name is None:
        print("\n".join(f"{n}: {tabular_mdps.entry(n).summary}" for n in tabular_mdps.names()))
        return 0
    try:
        print(tabular_mdps.describe(args.name), end="")
    except ValueError as exc:
        parser.error(str(exc))
    return 0


def _add_cache(sub: Any) -> None:
    c = sub.add_parser(
        "cache",
        help="size of a sweep cache and how many runs the current code cannot reuse; prune those",
        description="A run's cache key covers its configuration and the code computing it (engine, catalog and "
        "the worker's modules, docstrings and comments excluded): runs of other code are stale, never reused.",
    )
    actions = c.add_subparsers(dest="cache_action", required=True, metavar="{info,prune}")
    info = actions.add_parser("info", help="size on disk, number of runs, how many are stale for the current code")
    prune = actions.add_parser("prune", help="delete the stale and unreadable cache files; print what was freed")
    prune.add_argument("--dry-run", action="store_true", help="only print what would be deleted")
    for p in (info, prune):
        p.add_argument("dir", metavar="DIR", type=Path, help="the --out folder of verify/figures, or its cache/")
        p.set_defaults(command_parser=p)


def _run_cache(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from proofs_checks import cache

    try:
        if args.cache_action == "info":
            print(cache.describe(cache.scan(args.dir)))
            return 0
        info, doomed = cache.prune(args.dir, dry_run=args.dry_run)
    except ValueError as exc:
        parser.error(str(exc))
    freed = cache.human(sum(e.size for e in doomed))
    stale, bad = (sum(1 for e in doomed if e.status == s) for s in ("stale", "unreadable"))
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {len(doomed)} files ({stale} stale, {bad} unreadable), {freed}, in {info.folder}")
    print(f"kept {info.count('current')} current runs ({cache.human(info.size('current'))})")
    return 0


Runner = Callable[[argparse.ArgumentParser, argparse.Namespace], int]

#: Subcommands: name → (declare arguments, run).
COMMANDS: dict[str, tuple[Callable[[Any], None], Runner]] = {
    "verify": (_add_verify, _run_verify),
    "claims": (_add_claims, _run_claims),
    "figures": (_add_figures, _run_figures),
    "falsify": (_add_falsify, _run_falsify),
    "catalog": (_add_catalog, _run_catalog),
    "replay": (_add_replay, _run_replay),
    "cache": (_add_cache, _run_cache),
    "findings": (_add_findings, _run_findings),
}

_PLUGIN_HELP = (
    "import this Python module (dotted name) or .py file first, e.g. to register catalog instances; repeatable"
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``r1theory`` command."""
    from r1theory import __version__

    parser = argparse.ArgumentParser(
        prog="r1theory", description="Exact checks of rank-1 natural policy gradient theory."
    )
    parser.add_argument("--version", action="version", version=f"r1theory {__version__}")
    parser.add_argument(  # also before the subcommand: `r1theory --plugin P verify`
        "--plugin", metavar="MODULE_OR_FILE", action="append", default=[], dest="plugin_first", help=_PLUGIN_HELP
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add, _ in COMMANDS.values():
        add(sub)
    for command in sub.choices.values():  # the common option of every subcommand
        command.add_argument(
            "--plugin", metavar="MODULE_OR_FILE", action="append", default=[], dest="plugin", help=_PLUGIN_HELP
        )
    for command in sub.choices.values():  # usage errors print the subcommand's usage line (a nested one may override)
        if command.get_default("command_parser") is None:
            command.set_defaults(command_parser=command)
    return parser


def _plugin_args(argv: list[str]) -> list[str]:
    """The values of ``--plugin X`` and ``--plugin=X`` in ``argv`` (up to ``--``), read before parsing."""
    specs = []
    for i, tok in enumerate(argv):
        if tok == "--":
            break
        if tok == "--plugin" and i + 1 < len(argv):
            specs.append(argv[i + 1])
        elif tok.startswith("--plugin="):
            specs.append(tok.removeprefix("--plugin="))
    return specs


def _load_plugins(specs: list[str], entry_points: bool) -> str | None:
    """Load the entry-point plugins (when ``entry_points``) and ``specs``; the error message, or None."""
    from proofs_checks import plugins

    try:
        if entry_points:
            plugins.load_entry_points()
    except plugins.PluginError as exc:
        return str(exc)
    for spec in specs:
        try:
            plugins.load(spec)
        except plugins.PluginError as exc:
            return f"--plugin {exc.spec} failed to import: {exc.cause}"
    return None


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread by :func:`_on_sigterm`; handled like Ctrl-C's KeyboardInterrupt."""


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not interrupt the cleanup
    raise _Terminated


#: The line printed when a run is stopped by Ctrl-C or SIGTERM ({} = "interrupted" / "terminated").
STOPPED = "{}: finished tasks are cached; rerun the same command with the same --out to resume"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # plugins first: what they register must exist when the parser declares its choices
    error = _load_plugins(_plugin_args(argv), entry_points=True)
    if error is None:
        parser = build_parser()
        args = parser.parse_args(argv)
        # a no-op unless an option was spelled as an abbreviation (--plug), which the pre-scan misses
        error = _load_plugins([*args.plugin_first, *args.plugin], entry_points=False)
    if error is not None:
        print(f"r1theory: error: {error}", file=sys.stderr)
        return 2
    # SIGTERM stops the run like Ctrl-C: the sweep kills its workers while the exception unwinds
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    args.argv = ["r1theory", *argv]  # the command as typed, for the provenance of what it writes
    try:
        return COMMANDS[args.command][1](args.command_parser, args)
    except KeyboardInterrupt:
        print("\n" + STOPPED.format("interrupted"), file=sys.stderr)
        return 128 + signal.SIGINT
    except _Terminated:
        print("\n" + STOPPED.format("terminated"), file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


if __name__ == "__main__":
    sys.exit(main())
