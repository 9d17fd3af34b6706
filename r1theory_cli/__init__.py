"""Command line: ``r1theory verify | claims | ...`` (also ``python -m r1theory_cli``).

This top-level module sits above the four import packages (``r1theory``, ``tabular_mdps``,
``proofs_checks``, ``figures``) and is the only one that imports them all; the engine imports none
of them. Subcommands are dispatched to their packages lazily, so ``--help`` stays fast. Exit status:
0 on completion (whatever the verdicts), 1 when a check crashed, 2 for usage errors (argparse's
convention), 130 on Ctrl-C.

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

from proofs_checks._cli_args import int_option, out_folder

_jobs = int_option("--jobs", 1, "a positive integer")


def _add_verify(sub: Any) -> None:
    v = sub.add_parser("verify", help="run every convergence claim on the default suite and write a report")
    mode = v.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="the default suite within about 3 minutes (default)")
    mode.add_argument("--full", action="store_true", help="the thorough run: more instances, damping values, seeds")
    v.add_argument("--only", metavar="PATTERN", help="claims matching a glob or prefix, e.g. 'c1' or 'mei2020.*'")
    v.add_argument("--out", metavar="DIR", type=Path, default=Path("r1theory-out"), help="output folder")
    v.add_argument("--jobs", metavar="N", type=_jobs, default=min(2, os.cpu_count() or 1), help="worker processes")
    v.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    v.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        type=_scheduler,
        help="run the sweeps on this Dask cluster instead of local processes (--jobs is then ignored; "
        "needs the extra: pip install 'r1theory[dask]')",
    )


def _scheduler(text: str) -> str:
    if "://" not in text or text.startswith("://") or text.endswith("://"):
        raise argparse.ArgumentTypeError(
            f"--scheduler must be a Dask scheduler address like tcp://HOST:PORT; got {text!r}"
        )
    return text


def _run_verify(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from proofs_checks.runner import select, verify

    out = out_folder(parser, args.out)
    try:
        select(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    if args.scheduler is not None:
        from proofs_checks.sweep import check_scheduler

        try:
            check_scheduler(args.scheduler)
        except (ValueError, ImportError) as exc:
            parser.error(str(exc))
    from figures import for_report

    return verify(
        "full" if args.full else "quick",
        args.only,
        out,
        args.jobs,
        progress=not args.no_progress,
        figure_hook=for_report,
        scheduler=args.scheduler,
    )


def _add_claims(sub: Any) -> None:
    sub.add_parser("claims", help="list the stable claim identifiers")


def _run_claims(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from proofs_checks.runner import claims

    print("\n".join(claims()))
    return 0


def _add_falsify(sub: Any) -> None:
    budget = int_option("--budget", 1, "a positive integer (examples)")
    seed = int_option("--seed", 0, "an integer >= 0")

    f = sub.add_parser(
        "falsify",
        help="search (hypothesis, with shrinking) for the smallest instance violating a claim",
        description="Search for the smallest instance violating CLAIM and save it as an MDP file plus a JSON "
        "record in --out; exit 0 whether or not one is found.",
    )
    f.add_argument(
        "claim",
        metavar="CLAIM",
        help="ascent, c1, mei2020.lojasiewicz, mei2020.ascent or agarwal2021.npg-rate "
        "(statements: proofs_checks/falsify.py)",
    )
    f.add_argument(
        "--method",
        metavar="M",
        help="the method under test (default: r1-same for ascent, r1-grad for c1, pg for mei2020.*, npg for "
        "agarwal2021.npg-rate)",
    )
    f.add_argument(
        "--param",
        choices=("tabular", "log-linear", "neural"),
        default="tabular",
        help="the policy parametrisation to fuzz over (default tabular): log-linear draws features φ(s, a) ∈ R^k, "
        "neural a one-hidden-layer tanh network; ascent and c1 only (the classic claims are tabular theorems)",
    )
    f.add_argument("--budget", metavar="N", type=budget, help="examples to try (default: 2000, the 'long' profile)")
    f.add_argument("--seed", metavar="S", type=seed, default=0, help="seed of the search (default 0)")
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
    return run(args.claim, args.method, args.budget, args.seed, out, param=args.param)


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


Runner = Callable[[argparse.ArgumentParser, argparse.Namespace], int]

#: Subcommands: name → (declare arguments, run).
COMMANDS: dict[str, tuple[Callable[[Any], None], Runner]] = {
    "verify": (_add_verify, _run_verify),
    "claims": (_add_claims, _run_claims),
    "figures": (_add_figures, _run_figures),
    "falsify": (_add_falsify, _run_falsify),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``r1theory`` command."""
    from r1theory import __version__

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
