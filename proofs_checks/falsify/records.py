"""Counterexample files: :func:`save_counterexample` writes a found violation, :func:`load_counterexample` reads it.

Files: ``<claim>-<method>-seed<seed>.mdp.json`` (the catalog's format, :func:`tabular_mdps.save`) and the
record ``<claim>-<method>-seed<seed>.json`` with keys ``mdp`` (the MDP file's name, relative to the record),
``param``, ``theta``, ``damping``, ``step``, ``iterations`` (null when not relevant), ``claim`` (an id of
:mod:`proofs_checks.claims`), ``method``, ``statement``, ``violation`` (``quantity``, ``measured``,
``bound``, ``relation``, ``tolerance``, ``margin``, ``details``), ``seed``, ``budget`` and ``search``.
``param`` is ``{"kind": "tabular"}``, ``{"kind": "log-linear", "features": φ}`` (the full (S, A, k) array)
or ``{"kind": "neural", "hidden": [h, …], "inputs": x}`` ((S, m) state inputs); θ is the (S, A) logits or
the parameter vector. A record without ``param`` (written before parametrisations existed) is tabular
softmax; the schema version is unchanged. A non-tabular counterexample's stem names its kind:
``<claim>-<method>-<kind>-seed<seed>``. Floats are written with ``repr``, so every array reads back bit
for bit.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

import tabular_mdps
from r1theory import Parametrisation, TabularMDP, TabularSoftmax
from r1theory.policies import from_spec
from tabular_mdps.files import atomic_write

from .candidates import Candidate, param_kind
from .registry import FALSIFIABLE, resolve
from .search import SearchResult

__all__ = ["FORMAT", "SCHEMA_VERSION", "load_counterexample", "save_counterexample"]

FORMAT = "r1theory.falsify.counterexample"
SCHEMA_VERSION = 1


def _stem(claim: str, method: str, seed: int, param: str = "tabular") -> str:
    """``<claim>-<method>-seed<seed>``; ``<claim>-<method>-<kind>-seed<seed>`` for a non-tabular kind."""
    return f"{claim}-{method}-seed{seed}" if param == "tabular" else f"{claim}-{method}-{param}-seed{seed}"


def _param_record(c: Candidate) -> dict[str, Any]:
    """The record's ``param`` field: the parametrisation's own spec (``Parametrisation.to_spec``)."""
    return {"kind": TabularSoftmax.kind} if c.param is None else c.param.to_spec()


def save_counterexample(result: SearchResult, out: str | os.PathLike[str]) -> Path:
    """Write the found violation to ``out``: the MDP file and the JSON record; return the record's path.

    The record's ``param`` field holds the parametrisation (module docstring, "Files"); floats are written
    with ``repr``, so θ, features and inputs read back bit for bit.

    Raises
    ------
    ValueError
        If the result has no violation.
    """
    if result.candidate is None or result.measurement is None:
        raise ValueError("nothing to save: the search found no violation")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    cand = result.candidate
    stem = _stem(result.claim, result.method, result.seed, cand.kind)
    mdp_name = f"{stem}.mdp.json"
    params = {"claim": result.claim, "method": result.method, "budget": result.budget}
    if cand.kind != "tabular":
        params["param"] = cand.kind
    tabular_mdps.save(cand.mdp, folder / mdp_name, name=f"falsify:{stem}", params=params, seed=result.seed)
    record = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "claim": result.claim,
        "method": result.method,
        "statement": FALSIFIABLE[result.claim].statement,
        "mdp": mdp_name,
        "param": _param_record(cand),
        "theta": cand.theta.tolist(),
        "damping": cand.damping,
        "step": cand.step,
        "iterations": cand.iterations,
        "violation": result.measurement.to_dict(),
        "seed": result.seed,
        "budget": result.budget,
        "search": {"examples": result.examples, "calls": result.calls, "seconds": round(result.seconds, 3)},
        "instance": {
            "S": cand.mdp.S,
            "A": cand.mdp.A,
            "gamma": cand.mdp.gamma,
            "param": cand.kind,
            "parameters": int(cand.theta.size),
        },
    }
    path = folder / f"{stem}.json"
    atomic_write(path, (json.dumps(record, indent=1, allow_nan=False, ensure_ascii=False) + "\n").encode("utf-8"))
    return path


def _optional_float(rec: dict[str, Any], key: str, path: Path) -> float | None:
    v = rec.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError(f"{path}: field {key} must be a finite number or null; got {v!r}")
    return float(v)


def _param_from_record(spec: Any, mdp: TabularMDP, path: Path) -> Parametrisation | None:
    """The parametrisation of a record's ``param`` field (:func:`r1theory.policies.from_spec`); None for tabular.

    An absent field (a record written before parametrisations existed) is tabular softmax.
    """
    par = from_spec(spec, mdp.S, mdp.A, where=f"{path}: field param")
    return None if isinstance(par, TabularSoftmax) else par


def load_counterexample(path: str | os.PathLike[str]) -> tuple[Candidate, dict[str, Any]]:
    """Read a record and its MDP file; return the candidate and the record.

    A record without a ``param`` field (written before parametrisations existed) is tabular softmax.

    Raises
    ------
    ValueError
        Not a counterexample record, a missing or invalid field, an unknown claim or method, a
        parametrisation the claim does not apply to, or an invalid MDP file (the message starts with
        the path).
    OSError
        A file cannot be read.
    """
    p = Path(path)
    try:
        rec = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(rec, dict) or rec.get("format") != FORMAT:
        raise ValueError(f"{p}: not a counterexample record (format must be {FORMAT!r})")
    if rec.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{p}: unsupported schema_version {rec.get('schema_version')!r}")
    for key in ("claim", "method", "mdp", "theta", "seed"):
        if key not in rec:
            raise ValueError(f"{p}: missing field {key}")
    try:
        resolve(rec["claim"], rec["method"])
    except ValueError as exc:
        raise ValueError(f"{p}: {exc}") from None
    if not isinstance(rec["mdp"], str) or Path(rec["mdp"]).is_absolute():
        raise ValueError(f"{p}: field mdp must be a file name relative to the record")
    mdp = tabular_mdps.load(p.parent / rec["mdp"])
    param = _param_from_record(rec.get("param"), mdp, p)
    kind = param_kind(param)
    try:
        resolve(rec["claim"], rec["method"], kind)
    except ValueError as exc:
        raise ValueError(f"{p}: {exc}") from None
    shape = (mdp.S, mdp.A) if param is None else param.theta_shape
    what = "(S, A) array" if param is None else f"array of the {kind} parameters"
    try:
        theta = np.asarray(rec["theta"], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{p}: field theta is not a numeric {what} ({exc})") from None
    if theta.shape != shape or not np.all(np.isfinite(theta)):
        raise ValueError(f"{p}: field theta must be a finite array of shape {shape}; got {theta.shape}")
    iterations = rec.get("iterations")
    if iterations is not None and (isinstance(iterations, bool) or not isinstance(iterations, int)):
        raise ValueError(f"{p}: field iterations must be an integer or null")
    cand = Candidate(mdp, theta, _optional_float(rec, "damping", p), _optional_float(rec, "step", p), iterations, param)
    return cand, rec
