"""Arguments and execution of ``r1theory figures`` and ``python -m figures`` (one definition for both).

Only argparse is imported here, so the ``r1theory`` command can declare the subcommand without
importing matplotlib or the figure modules.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from proofs_checks._cli_args import add_study_arguments, int_option, out_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``[--only NAME] [--out DIR] [--quick | --full] [--jobs N] [--no-progress] [--list]``."""
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="figures of the quick suite, as `verify --quick` (default)")
    mode.add_argument("--full", action="store_true", help="figures of the full suite, as `verify --full`")
    parser.add_argument("--only", metavar="NAME", help="figures matching a name, prefix or glob, e.g. 'ascent_map'")
    parser.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=Path("r1theory-out"),
        help="output folder: reads and fills DIR/cache (shared with verify), writes DIR/figures",
    )
    parser.add_argument(
        "--jobs",
        metavar="N",
        type=int_option("--jobs", 1, "a positive integer"),
        default=min(2, os.cpu_count() or 1),
        help="worker processes",
    )
    parser.add_argument("--no-progress", action="store_true", help="do not show progress bars and timings")
    parser.add_argument("--list", action="store_true", help="list the figure names and exit")
    add_study_arguments(parser)  # the same study as `verify`: the figures draw the runs of your instances and grids


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Draw the selected figures; 0 when all were drawn, 1 when one failed, 2 for usage errors."""
    import figures

    if args.list:
        print("\n".join(figures.FIGURES))
        return 0
    try:
        names = figures.select(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    from argparse import Namespace

    from proofs_checks import studies
    from proofs_checks._cli_args import study_options

    try:  # --only names figures here, not claims: the study takes every other option
        options = study_options(Namespace(**{**vars(args), "only": None}))
        study = studies.build(
            options["instances"], **{k: options.get(k) for k in ("methods", "damping", "steps", "eps", "theta0")}
        )
    except studies.StudyError as exc:
        print(f"r1theory: error: {exc}", file=sys.stderr)
        return 2
    out_folder(parser, args.out)
    progress = not args.no_progress
    full = args.full or options.get("mode") == "full"
    ctx = figures.context(args.out, "full" if full else "quick", args.jobs, progress, study=study)
    written, failed = figures.draw_all(ctx, names, progress=progress)
    for name, paths in written.items():
        print(f"{name}: " + ", ".join(str(p) for p in paths))
    for name, err in failed.items():
        print(f"{name}: FAILED ({err})")
    print(f"runs computed: {ctx.sweep.computed}, reused from the cache: {ctx.sweep.reused}")
    return 1 if failed else 0
