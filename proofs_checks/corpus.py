"""The counterexample corpus as verdicts: every record of ``corpus/`` replayed into a :class:`CheckResult`.

``r1theory verify`` replays the corpus records of the claims it checks (:func:`replay_all`), so a verdict never
contradicts what the project already knows. Each record is **re-measured** from its files by
:func:`proofs_checks.falsify.replay` (the recorded violation is not trusted) and becomes one CheckResult of
**its own claim id** (the id the search used, e.g. ``ascent.stated-step``), with the conditions
``{"source": "corpus", "file": "corpus/<record>.json", ...}``:

* ``fails`` — it still violates the claim beyond the tolerance (measured against the bound);
* ``holds`` — it **no longer violates** (the engine or the measurement changed; the summary says so);
* ``inconclusive`` — it no longer meets the claim's conditions, the search adapter calls the measurement
  undecided (``details["undecided"]``), or the record cannot be read or replayed (the reason says which).

How a record bears on a *verified* claim with another id is the registry's :class:`proofs_checks.claims.Relation`
(``Claim.related``): ``ascent.stated-step``'s part (i), cos(d, ∇J) ≥ 0, is the inequality of the ``direction``
part of ``ascent``, so a replay that measures that quantity carries ``conditions["part"] = "direction"`` and
the summary counts it against ``ascent``'s direction part (:func:`bearing`); ``c1.tuned-progress`` is another
reading of C1 and is only shown beside ``c1.faster-than-pg``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from . import claims
from .result import CheckResult

__all__ = ["DEFAULT_FOLDER", "SOURCE", "bearing", "is_replay", "records", "replay_all", "replay_result"]

#: The project's corpus (``corpus/`` beside the packages in a source checkout; absent from a wheel).
DEFAULT_FOLDER = Path(__file__).resolve().parents[1] / "corpus"

#: ``conditions["source"]`` of a replayed record.
SOURCE = "corpus"


def records(folder: str | os.PathLike[str]) -> list[Path]:
    """The counterexample records in ``folder`` (``*.json`` but the ``*.mdp.json`` MDP files), sorted by name."""
    f = Path(folder)
    if not f.is_dir():
        return []
    return sorted(p for p in f.glob("*.json") if not p.name.endswith(".mdp.json"))


def is_replay(r: CheckResult) -> bool:
    """True for a CheckResult made by :func:`replay_result`."""
    return r.conditions.get("source") == SOURCE


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(float(x)) else None


def _part(claim_id: str, quantity: str) -> str | None:
    """The part of a related claim the replayed quantity is the inequality of (the first matching relation)."""
    try:
        entry = claims.get(claim_id)
    except ValueError:
        return None
    for rel in entry.related:
        if rel.part is not None and (rel.quantity is None or rel.quantity == quantity):
            return rel.part
    return None


def _unreadable(path: Path, label: str, claim_id: str, method: str, why: str) -> CheckResult:
    return CheckResult(
        claim=claim_id,
        statement="(the record could not be replayed)",
        variant=method,
        conditions={"source": SOURCE, "file": label},
        measured={},
        bound={},
        verdict="inconclusive",
        evidence={"reason": f"cannot replay {label}: {why}", "path": str(path)},
    )


def replay_result(path: str | os.PathLike[str]) -> CheckResult:
    """Replay one record (:func:`proofs_checks.falsify.replay`) and state the outcome as a CheckResult.

    ``measured`` holds the replayed quantity's value, its margin beyond the bound (positive = beyond), the
    value recorded when it was found and, for a direction claim, the cosine; ``bound`` the bound, the relation
    and the tolerance; ``slack`` = tolerance − margin (negative: still a violation). A record that cannot be
    read or replayed (invalid file, unknown method) is ``inconclusive`` with the reason, never an exception.
    """
    from .falsify import replay

    p = Path(path)
    label = f"{p.parent.name}/{p.name}"
    try:
        rec = json.loads(p.read_text(encoding="utf-8"))
        claim_id, method = str(rec["claim"]), str(rec["method"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _unreadable(p, label, "corpus", "?", f"{type(exc).__name__}: {exc}")
    try:
        m = replay(p)
    except (OSError, ValueError) as exc:
        return _unreadable(p, label, claim_id, method, str(exc))
    try:
        statement = claims.get(claim_id).statement
    except ValueError:
        statement = str(rec.get("statement", ""))
    inst = rec.get("instance") or {}
    kind = (rec.get("param") or {}).get("kind", "tabular")
    cond: dict[str, Any] = {"source": SOURCE, "file": label, "param": kind}
    part = _part(claim_id, m.quantity)
    if part is not None:
        cond["part"] = part
    cond.update({k: inst[k] for k in ("S", "A", "gamma") if k in inst})
    cond.update({k: rec.get(k) for k in ("damping", "step", "iterations", "seed")})
    recorded = (rec.get("violation") or {}).get("measured")
    measured: dict[str, Any] = {"quantity": m.quantity, "value": m.measured, "margin": m.margin}
    measured["recorded"] = _finite(recorded)
    if "cosine" in m.details:
        measured["cosine"] = m.details["cosine"]
    now = f"{m.quantity} = {m.measured:.3g} vs bound {m.relation} {m.bound:.3g} (tolerance {m.tolerance:.3g})"
    if not m.applicable:
        verdict, reason = "inconclusive", f"no longer meets the claim's conditions: {m.reason}"
    elif m.violated:
        verdict, reason = "fails", m.reason or f"still violates: {now}"
    elif m.details.get("undecided"):
        verdict, reason = "inconclusive", f"undecided: {m.details['undecided']}"
    else:
        verdict, reason = "holds", f"no longer violates: {now}; recorded {m.quantity} = {recorded}"
    slack = m.tolerance - m.margin
    return CheckResult(
        claim=claim_id,
        statement=statement,
        variant=method,
        conditions=cond,
        measured=measured,
        bound={"value": m.bound, "relation": m.relation, "tolerance": m.tolerance},
        verdict=verdict,
        slack=slack if math.isfinite(slack) else None,
        evidence={"reason": reason, "path": str(p.resolve())},
    )


def _wanted(claim_id: str, selected: Iterable[str] | None) -> bool:
    """A record of ``claim_id`` is replayed when its claim, or a claim it bears on, is selected (None: all)."""
    if selected is None:
        return True
    chosen = set(selected)
    if claim_id in chosen:
        return True
    try:
        return any(rel.claim in chosen for rel in claims.get(claim_id).related)
    except ValueError:
        return False


def replay_all(folder: str | os.PathLike[str] | None, selected: Iterable[str] | None = None) -> list[CheckResult]:
    """Replay every record of ``folder`` (None: nothing) whose claim, or a claim it bears on, is in ``selected``.

    ``selected`` None replays them all. A record whose ``claim`` field cannot be read is replayed (and reported
    inconclusive) only when ``selected`` is None.
    """
    if folder is None:
        return []
    chosen = None if selected is None else list(selected)
    out = []
    for p in records(folder):
        try:
            claim_id = str(json.loads(p.read_text(encoding="utf-8"))["claim"])
        except (OSError, ValueError, KeyError, TypeError):
            claim_id = ""
        if (claim_id and _wanted(claim_id, chosen)) or (not claim_id and chosen is None):
            out.append(replay_result(p))
    return out


def bearing(
    results: Sequence[CheckResult], claim_id: str, part: str | None
) -> list[tuple[CheckResult, claims.Relation | None]]:
    """The replays that bear on (``claim_id``, ``part``): its own records, and related ones with the relation.

    Own records (relation None) of a claim count for every part. A related record counts when the relation is
    about the whole claim (``part`` None) or about this part, and the replay measured that part's quantity
    (its ``conditions["part"]``).
    """
    out: list[tuple[CheckResult, claims.Relation | None]] = []
    related = {c.id: rel for c, rel in claims.related_to(claim_id)}
    for r in results:
        if not is_replay(r):
            continue
        if r.claim == claim_id:
            out.append((r, None))
            continue
        rel = related.get(r.claim)
        if rel is None:
            continue
        if rel.part is None or (rel.part == part and r.conditions.get("part") == part):
            out.append((r, rel))
    return out
