"""The search: :func:`hypothesis.find` steered by the claim's score, then the greedy reduction.

1. draws candidates from the claim's strategy (the public strategies of :mod:`tabular_mdps.strategies`;
   MDPs with S, A ≤ 4 unless stated);
2. measures each exactly with the claim's measurement, and steers the search towards violations with
   :func:`hypothesis.target` (the claim's score, e.g. −cos(d, ∇J));
3. lets hypothesis **shrink** the first violation (towards small S, A and simple numbers), then runs the
   greedy reduction pass of :mod:`proofs_checks.falsify.reduce`.

It is :func:`hypothesis.find` with the ``"long"`` profile's settings, ``max_examples=budget``
(default :data:`DEFAULT_BUDGET`), ``database=None`` and ``derandomize=False``, seeded through
``random.Random(seed)``: the same seed, budget, code and hypothesis version give the same result in
a fresh ``r1theory falsify`` process. Inside another program it may not: hypothesis (≥ 6.13x) also
draws, with probability 0.05 per choice, constants collected from the *local* (non-site-packages)
modules imported so far, so a notebook or test run that imported other project modules searches
differently from the same seed (measured: importing ``proofs_checks.mei2020_rate`` turned a search
that found a violation after 15 examples into one that needed 171).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np
from hypothesis import HealthCheck, Phase, find, settings, target
from hypothesis.errors import NoSuchExample

from tabular_mdps.strategies import PROFILES, profile_settings

from ..progress import Progress
from .candidates import Candidate
from .measurement import Measurement
from .reduce import reduce
from .registry import resolve

__all__ = ["DEFAULT_BUDGET", "SearchResult", "search"]

#: Default number of examples: the ``"long"`` profile's ``max_examples`` (2000).
DEFAULT_BUDGET = int(PROFILES["long"]["max_examples"])


@dataclass(frozen=True)
class SearchResult:
    """The outcome of :func:`search`.

    ``candidate``/``measurement`` are the shrunk violation (None when none was found); ``examples`` the
    number of candidates measured until the first violation (the whole search when none was found);
    ``calls`` every measurement, shrinking included; ``errors`` candidates the engine could not
    measure (with the first message).
    """

    claim: str
    method: str
    seed: int
    budget: int
    candidate: Candidate | None
    measurement: Measurement | None
    examples: int
    calls: int
    errors: int
    first_error: str | None
    seconds: float
    #: The parametrisation kind searched over (:data:`PARAM_KINDS`).
    param: str = "tabular"

    @property
    def found(self) -> bool:
        """True when a violation was found."""
        return self.candidate is not None


def _check_budget(budget: Any) -> int:
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 1:
        raise ValueError(f"budget must be a positive integer (number of examples); got {budget!r}")
    return int(budget)


def search(
    claim: str,
    method: str | None = None,
    *,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
    param: str = "tabular",
    progress: bool = False,
    stream: TextIO | None = None,
) -> SearchResult:
    """Search up to ``budget`` candidates for a violation of ``claim``; shrink the first one found.

    :func:`hypothesis.find` with the ``"long"`` profile, ``max_examples=budget``, ``database=None``,
    ``derandomize=False``, seeded by ``random.Random(seed)``; :func:`hypothesis.target` steers towards
    violations. Reproducible: the same arguments give the same result. ``param`` is the parametrisation
    kind to fuzz over (:data:`PARAM_KINDS`; module docstring, "Parametrisations"): "tabular" (the default)
    draws exactly the candidates it drew before parametrisations existed. With ``progress``, a bar on
    ``stream`` (stderr by default; :class:`proofs_checks.progress.Progress`) counts the examples tried
    against the budget, with an ETA, and says when a violation is found and being shrunk.

    Raises
    ------
    ValueError
        Unknown claim, method or parametrisation kind, method or kind not applicable, or budget < 1.
    """
    c, m = resolve(claim, method, param)
    n = _check_budget(budget)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer; got {seed!r}")
    counts = {"calls": 0, "first": 0, "errors": 0}
    first_error: list[str] = []
    bar = Progress(f"falsify {c.id}", n, stream, enabled=progress, unit="example")

    def violates(candidate: Candidate) -> bool:
        counts["calls"] += 1
        if not counts["first"] and bar.done < n:
            bar.advance()
        try:
            with np.errstate(all="ignore"):
                meas = c.measure(candidate, m)
        except (ValueError, RuntimeError, ArithmeticError, np.linalg.LinAlgError) as exc:
            counts["errors"] += 1
            if not first_error:
                first_error.append(f"{type(exc).__name__}: {exc} ({candidate.describe()})")
            return False
        if meas.applicable:
            target(c.score(meas), label=f"{c.id} violation score")
        if meas.violated and not counts["first"]:
            counts["first"] = counts["calls"]
            bar.note(f"violation found at example {counts['first']}; shrinking")
        return meas.violated

    cfg = settings(
        profile_settings("long"),
        max_examples=n,
        database=None,
        derandomize=False,
        phases=(Phase.generate, Phase.target, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    start = time.monotonic()
    try:
        found = find(c.strategy(m, param), violates, settings=cfg, random=random.Random(seed))
    except NoSuchExample:
        bar.note(f"no violation in {counts['calls']} examples")
        bar.close()
        return SearchResult(
            c.id,
            m,
            int(seed),
            n,
            None,
            None,
            counts["calls"],
            counts["calls"],
            counts["errors"],
            first_error[0] if first_error else None,
            time.monotonic() - start,
            param,
        )
    except BaseException:
        bar.close()
        raise
    found, extra = reduce(c, m, found)
    counts["calls"] += extra
    bar.note(f"violation found at example {counts['first']}; shrunk and reduced in {counts['calls']} calls")
    bar.close()
    with np.errstate(all="ignore"):
        meas = c.measure(found, m)
    return SearchResult(
        c.id,
        m,
        int(seed),
        n,
        found,
        meas,
        counts["first"],
        counts["calls"],
        counts["errors"],
        first_error[0] if first_error else None,
        time.monotonic() - start,
        param,
    )
