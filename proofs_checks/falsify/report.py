"""``r1theory falsify``'s output: the header, the report of a search, and :func:`run` (search, print, save)."""

from __future__ import annotations

import os
import sys
from typing import TextIO

import numpy as np

from r1theory import LogLinear, NeuralSoftmax
from r1theory._types import Array

from .candidates import NEURAL_MAX_WIDTH
from .records import save_counterexample
from .registry import FALSIFIABLE, resolve
from .search import DEFAULT_BUDGET, SearchResult, search

__all__ = ["report", "run"]


def _fmt(a: Array) -> str:
    return np.array2string(a, precision=6, max_line_width=110).replace("\n", "\n          ")


#: How reports name each parametrisation kind.
_PARAM_NAMES = {
    "tabular": "tabular softmax (θ = the (S, A) logits)",
    "log-linear": "log-linear, π(a|s) ∝ exp φ(s, a)ᵀθ (features drawn, θ of length k)",
    "neural": f"neural softmax (one tanh hidden layer of width 1…{NEURAL_MAX_WIDTH}, one-hot state inputs)",
}


def _header(claim: str, method: str, budget: int, seed: int, param: str = "tabular") -> str:
    flag = "" if param == "tabular" else f" --param {param}"
    return (
        f"falsify {claim} --method {method}{flag}: budget {budget} examples, seed {seed}\n"
        f"claim: {FALSIFIABLE[claim].statement}\n"
        f"parametrisation: {_PARAM_NAMES[param]}\n"
    )


def report(result: SearchResult, *, header: bool = True) -> str:
    """A human-readable summary of a search (with the claim's header lines unless ``header`` is False).

    The header names the parametrisation; a found instance lists its features (log-linear) or its
    network's widths (neural) next to θ.
    """
    head = _header(result.claim, result.method, result.budget, result.seed, result.param) if header else ""
    errors = (
        f"{result.errors} candidate(s) could not be measured; first: {result.first_error}\n" if result.errors else ""
    )
    if not result.found:
        return (
            head
            + errors
            + (
                f"NOT FOUND: no violation within {result.budget} examples under the {result.param} parametrisation "
                f"({result.calls} measurements, {result.seconds:.1f} s)\n"
            )
        )
    cand, meas = result.candidate, result.measurement
    assert cand is not None and meas is not None
    lines = [
        f"FOUND: a violation after {result.examples} examples, shrunk in {result.calls - result.examples} further "
        f"measurements ({result.seconds:.1f} s)",
        f"  instance: {cand.describe()}",
        f"  violation: {meas.quantity} = {meas.measured:.6g}, bound {meas.relation} {meas.bound:.6g} "
        f"(tolerance {meas.tolerance:.3g}, margin {meas.margin:.3g})",
        f"  {meas.reason}",
        "  theta = " + _fmt(cand.theta),
    ]
    if isinstance(cand.param, LogLinear):
        for s in range(cand.mdp.S):  # phi[s] has one row φ(s, a)ᵀ per action
            prefix = f"  phi[{s}] = "
            lines.append(prefix + np.array2string(cand.param.features[s], max_line_width=110, prefix=prefix))
    elif isinstance(cand.param, NeuralSoftmax):
        lines += [f"  network: hidden widths {list(cand.param.hidden)}, {cand.param.n_params} parameters (tanh)"]
    lines += ["  r     = " + _fmt(cand.mdp.r), "  rho   = " + _fmt(cand.mdp.rho)]
    return head + errors + "\n".join(lines) + "\n"


def run(
    claim: str,
    method: str | None,
    budget: int | None,
    seed: int,
    out: str | os.PathLike[str],
    stream: TextIO | None = None,
    *,
    param: str = "tabular",
    progress: bool = True,
) -> int:
    """Search, print the report, save a found violation in ``out``; return the exit status 0.

    ``budget`` None means :data:`DEFAULT_BUDGET`; ``param`` is the parametrisation kind
    (:data:`PARAM_KINDS`). The header is printed before the search starts; with ``progress`` a bar on
    stderr counts the examples tried (``r1theory falsify --no-progress`` turns it off).

    Raises
    ------
    ValueError
        As :func:`resolve` (unknown claim, method or kind, or one not applicable).
    """
    w = stream if stream is not None else sys.stdout
    c, m = resolve(claim, method, param)
    n = DEFAULT_BUDGET if budget is None else budget
    w.write(_header(c.id, m, n, seed, param))
    w.flush()
    result = search(c.id, m, budget=n, seed=seed, param=param, progress=progress)
    w.write(report(result, header=False))
    if result.found:
        path = save_counterexample(result, out)
        w.write(f"  saved: {path} (MDP file {path.parent / (path.stem + '.mdp.json')})\n")
    w.flush()
    return 0
