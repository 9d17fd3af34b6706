"""Argument helpers shared by the ``r1theory`` command and ``python -m figures`` (one home for both).

They live below ``figures`` so that the figure command line and the top-level ``r1theory_cli``
can both import them without a cycle. Only argparse and pathlib are imported here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


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
