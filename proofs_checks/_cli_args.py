"""Argument helpers shared by the ``r1theory`` command and ``python -m figures`` (one home for both).

They live below ``figures`` so that the figure command line and the top-level ``r1theory_cli``
can both import them without a cycle. Only argparse and pathlib are imported here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any


def int_option(flag: str, minimum: int, what: str) -> Callable[[str], int]:
    """An argparse ``type`` for an integer option ≥ ``minimum``; errors read "<flag> must be <what>; got …"."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be {what}; got {text!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"{flag} must be {what}; got {n}")
        return n

    return parse


def out_folder(parser: argparse.ArgumentParser, out: Path) -> Path:
    """Create the output folder, or exit with a usage error naming why it cannot be one."""
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"--out {out} cannot be created: {exc.strerror or exc}")
    return out


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of a study (:mod:`proofs_checks.studies`): ``--config``, instances and grids."""
    g = parser.add_argument_group(
        "your problem", "replace the default instance suites and grids of the checks (proofs_checks.studies)"
    )
    g.add_argument(
        "--config",
        metavar="FILE.toml",
        type=Path,
        help="a study file with the keys below (mdp, instance, methods, damping, steps, eps, theta0, only, mode, "
        "out); command-line flags override it",
    )
    g.add_argument(
        "--mdp",
        metavar="FILE",
        action="append",
        help="an MDP file of tabular_mdps.save (.npz or .json, dense or sparse); repeatable; with --instance, "
        "replaces the default instance suite of every check that takes instances",
    )
    g.add_argument(
        "--instance",
        metavar="NAME[:key=value,...]",
        action="append",
        help="a catalog instance with parameters (values read as JSON where possible), e.g. garnet:S=10,seed=3; "
        "repeatable (`r1theory catalog` lists the names)",
    )
    g.add_argument("--methods", metavar="a,b", help="the methods C1 compares with pg (registered exact methods)")
    g.add_argument("--damping", metavar="x,y", help="the λ grid of the damped methods (λ ≥ 0)")
    g.add_argument("--steps", metavar="x,y", help="the base step grid η > 0 (C1 extends it at its edges)")
    g.add_argument(
        "--eps", metavar="x,y", help="C1's accuracy levels relative to the initial gap: reach gap ≤ x·gap₀, x ∈ (0, 1)"
    )
    g.add_argument(
        "--theta0", choices=("uniform", "instance"), help="C1's start: uniform policy, or the instance's recommended θ₀"
    )


def study_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of :func:`proofs_checks.study`: the ``--config`` file's keys overridden by the flags.

    Any ``--mdp`` or ``--instance`` flag replaces the file's whole instance selection. Raises
    :class:`proofs_checks.studies.StudyError` for a bad file, instance or config.
    """
    from .studies import load_config, mdp_file, parse_instance

    conf = load_config(args.config) if getattr(args, "config", None) is not None else {}
    if args.mdp or args.instance:
        conf["mdp"], conf["instance"] = args.mdp or [], args.instance or []
    for key in ("methods", "damping", "steps", "eps", "theta0"):
        if getattr(args, key, None) is not None:
            conf[key] = getattr(args, key)
    if getattr(args, "only", None) is not None:
        conf["only"] = args.only
    if getattr(args, "out", None) is not None:
        conf["out"] = args.out
    if getattr(args, "full", False):
        conf["mode"] = "full"
    elif getattr(args, "quick", False):
        conf["mode"] = "quick"
    targets = [mdp_file(f) for f in conf.pop("mdp", [])] + [parse_instance(t) for t in conf.pop("instance", [])]
    conf["instances"] = targets or None
    conf["claims"] = conf.pop("only", None)
    conf.setdefault("out", Path("r1theory-out"))
    return conf
