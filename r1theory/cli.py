"""Command line: ``r1theory verify | claims | ...``.

The engine package does not import the check, catalog or figure packages; each subcommand is
dispatched to them lazily. Exit status: 0 on completion (whatever the verdicts), 1 when a check
crashed, 2 for usage errors (argparse's convention), 130 on Ctrl-C.

Each subcommand has an ``_add_<name>(sub)`` function that declares its arguments and a
``_run_<name>(parser, args)`` function that executes it; :data:`COMMANDS` registers both.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--jobs must be a positive integer; got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"--jobs must be a positive integer; got {n}")
    return n


def _out_folder(parser: argparse.ArgumentParser, out: Path) -> Path:
    """Create the output folder, or exit with a usage error naming why it cannot be one."""
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"--out {out} cannot be created: {exc.strerror or exc}")
    return out


def _add_verify(sub: Any) -> None:
    v = sub.add_parser("verify", help="run every convergence claim on the default suite and write a report")
    mode = v.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="the default suite within about 3 minutes (default)")
    mode.add_argument("--full", action="store_true", help="the thorough run: more instances, damping values, seeds")
    v.add_argument("--only", metavar="PATTERN", help="claims matching a glob or prefix, e.g. 'c1' or 'mei2020.*'")
    v.add_argument("--out", metavar="DIR", type=Path, default=Path("r1theory-out"), help="output folder")
    v.add_argument("--jobs", metavar="N", type=_jobs, default=min(2, os.cpu_count() or 1), help="worker processes")
    v.add_argument("--no-progress", action="store_true", help="do not show progress bars")


def _run_verify(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from proofs_checks.runner import select, verify

    out = _out_folder(parser, args.out)
    try:
        select(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    return verify("full" if args.full else "quick", args.only, out, args.jobs, progress=not args.no_progress)


def _add_claims(sub: Any) -> None:
    sub.add_parser("claims", help="list the stable claim identifiers")


def _run_claims(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from proofs_checks.runner import claims

    print("\n".join(claims()))
    return 0


Runner = Callable[[argparse.ArgumentParser, argparse.Namespace], int]

#: Subcommands: name → (declare arguments, run).
COMMANDS: dict[str, tuple[Callable[[Any], None], Runner]] = {
    "verify": (_add_verify, _run_verify),
    "claims": (_add_claims, _run_claims),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``r1theory`` command."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="r1theory", description="Exact checks of rank-1 natural policy gradient theory."
    )
    parser.add_argument("--version", action="version", version=f"r1theory {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command][1](parser, args)
    except KeyboardInterrupt:
        print("\ninterrupted: finished tasks are cached; rerun with the same --out to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
