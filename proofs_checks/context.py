"""What a check receives: the mode, the sweep runner and the output folder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from .studies import Study, Target
from .sweep import Sweep

Item = TypeVar("Item")

Mode = Literal["quick", "full"]


@dataclass(frozen=True)
class Context:
    """Execution context of a check.

    ``mode`` selects the budget (``quick``: the default suite within minutes; ``full``: more
    instances, seeds, damping values and iterations). ``sweep`` runs the check's tasks in
    parallel through the on-disk cache; ``out`` is the folder of the report (figures and
    counterexample files go there). ``study`` holds what the user overrides (instances, methods,
    grids; :mod:`proofs_checks.studies`): a check asks :meth:`instances` and :meth:`grid` instead of
    using its own lists, which are only the defaults.
    """

    mode: Mode
    sweep: Sweep
    out: Path
    study: Study = field(default_factory=Study)

    def instances(self, default: Sequence[Item], build: Callable[[Target], Item]) -> list[Item]:
        """The check's instances: ``build(target)`` of each instance the study selects, else ``default``."""
        return self.study.select(default, build)

    def grid(self, name: str, default: Any) -> Any:
        """The study's override of grid ``name`` (methods, damping, steps, eps, theta0), else ``default``."""
        return self.study.grid(name, default)

    @property
    def quick(self) -> bool:
        """True in quick mode."""
        return self.mode == "quick"
