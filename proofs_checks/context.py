"""What a check receives: the mode, the sweep runner and the output folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .sweep import Sweep

Mode = Literal["quick", "full"]


@dataclass(frozen=True)
class Context:
    """Execution context of a check.

    ``mode`` selects the budget (``quick``: the default suite within minutes; ``full``: more
    instances, seeds, damping values and iterations). ``sweep`` runs the check's tasks in
    parallel through the on-disk cache; ``out`` is the folder of the report (figures and
    counterexample files go there).
    """

    mode: Mode
    sweep: Sweep
    out: Path

    @property
    def quick(self) -> bool:
        """True in quick mode."""
        return self.mode == "quick"
