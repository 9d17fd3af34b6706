"""The one registry of claims: id → statement, the check that verifies it, the measurement that searches it.

Every claim has **one id**, used by ``r1theory verify`` (the CheckResults' ``claim``), ``r1theory claims``,
``r1theory falsify`` and the report; two different statements have two ids. Each entry names

* ``statement`` — where the statement's text lives, ``"module:ATTRIBUTE"`` (the check module's constant, or
  the falsify adapter's for a claim only searched), so the text is written once;
* ``check`` — the check module that verifies it on the default suites (``r1theory verify``), or None;
* ``falsify`` — the falsify adapter that searches it (``r1theory falsify``: candidates, the measurement of one
  candidate and the violation score, ``"module:ATTRIBUTE"`` of a :class:`proofs_checks.falsify.registry.Spec`),
  or None. An adapter measures with the check module's own inequality functions where a check exists.

Entries are in report order; :data:`proofs_checks.runner.MODULES` is the query ``check_modules()``. This module
imports nothing at import time (check modules import the runner, which imports this registry); statements are
resolved on demand.

Pairs that look alike but are different statements, hence different ids:

* ``ascent`` (verify) — ⟨d, ∇J⟩ ≥ 0 at every iterate of the C1 runs and J non-decreasing along the run at the
  method's C1-tuned step; ``ascent.stated-step`` (falsify) — cos(d, ∇J) ≥ 0 at any θ, and one step at the
  *stated* step (1/L for pg, λ/L for the damped methods, L = 8/(1 − γ)³) does not lower J.
* ``c1.faster-than-pg`` (verify) — iterations to reach ε fewer than PG's under three protocols on the suite;
  ``c1.tuned-progress`` (falsify) — progress J(θ_K) − J(θ_0) over K = 10 updates at least PG's, each at its
  tuned step, on any small instance.
* ``mei2020.smoothness`` (Lemma 7: ‖∇²J‖ ≤ L) and ``mei2020.ascent`` (the ascent inequality it gives at
  η = 1/L) are both verified by :mod:`proofs_checks.mei2020_smoothness`; only the latter is an inequality at a
  point that a search can violate.

How a counterexample of ``corpus/`` bears on a verified claim (:class:`Relation`, ``Claim.related``): a record
is replayed under **its own id** (``verify`` reports it as that claim's CheckResult, so a claim that is only
searched appears in the summary when the corpus holds an instance of it). A related verified claim shows the
replay beside its suite verdict with the relation stated; when the relation is ``same`` (the record violates
the very inequality of one part of the verified claim, e.g. part (i) of ``ascent.stated-step`` is the
``direction`` part of ``ascent``: cos(d, ∇J) ≥ 0), the counterexample decides that part: it *fails*, and
the suite's count is reported separately as "holds on the suite's instances".
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CLAIMS",
    "Claim",
    "Relation",
    "check_modules",
    "falsifiable",
    "get",
    "ids",
    "of_module",
    "register",
    "related_to",
    "spec",
    "verified",
]


@dataclass(frozen=True)
class Relation:
    """How a claim's counterexamples bear on another (verified) claim.

    ``claim`` is the other claim's id; ``part`` the part of it concerned (its CheckResults'
    ``conditions["part"]``; None: the whole claim); ``same`` is True when a counterexample violates exactly
    that part's inequality (it then *fails* it) and False when the statements differ (the counterexample is
    shown beside the verdict, never counted in it); ``how`` says so in one sentence for the summary;
    ``quantity``, when set, is the measured quantity (:attr:`proofs_checks.falsify.Measurement.quantity`) of
    that shared inequality: a record whose replay measures another quantity (e.g. the step part of
    ``ascent.stated-step``) is not about this part.
    """

    claim: str
    part: str | None
    same: bool
    how: str
    quantity: str | None = None


@dataclass(frozen=True)
class Claim:
    """One claim: its id, where its statement is written, its check module, its falsify adapter, its relations."""

    id: str
    statement_ref: str
    check: str | None = None
    falsify: str | None = None
    related: tuple[Relation, ...] = ()

    @property
    def statement(self) -> str:
        """The statement's text (imports the module that holds it)."""
        return str(_attribute(self.statement_ref))


def _attribute(ref: str) -> Any:
    """The object ``module:ATTRIBUTE`` names."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


_P = "proofs_checks."

#: Every claim, in report order (a plugin appends its own with :func:`register`).
CLAIMS: list[Claim] = [
    Claim("pdl", f"{_P}pdl:STATEMENT", f"{_P}pdl"),
    Claim("mei2020.smoothness", f"{_P}mei2020_smoothness:STATEMENT_SMOOTH", f"{_P}mei2020_smoothness"),
    Claim(
        "mei2020.ascent",
        f"{_P}mei2020_smoothness:STATEMENT_ASCENT",
        f"{_P}mei2020_smoothness",
        f"{_P}falsify.classic:MEI2020_ASCENT",
    ),
    Claim(
        "mei2020.lojasiewicz",
        f"{_P}mei2020_lojasiewicz:STATEMENT",
        f"{_P}mei2020_lojasiewicz",
        f"{_P}falsify.classic:LOJASIEWICZ",
    ),
    Claim("mei2020.rate", f"{_P}mei2020_rate:STATEMENT_BOUND", f"{_P}mei2020_rate"),
    Claim("mei2020.bandit", f"{_P}mei2020_bandit:STATEMENT_L4", f"{_P}mei2020_bandit"),
    Claim(
        "agarwal2021.npg-rate",
        f"{_P}agarwal2021_npg_rate:STATEMENT_T53",
        f"{_P}agarwal2021_npg_rate",
        f"{_P}falsify.classic:NPG_RATE",
    ),
    Claim("c1.faster-than-pg", f"{_P}c1_faster_than_pg:STATEMENT", f"{_P}c1_faster_than_pg"),
    Claim(
        "c1.tuned-progress",
        f"{_P}falsify.c1_tuned_progress:STATEMENT",
        None,
        f"{_P}falsify.c1_tuned_progress:SPEC",
        (
            Relation(
                "c1.faster-than-pg",
                None,
                False,
                "another reading of C1 (progress over K = 10 updates at separately tuned steps, on any small "
                "instance, instead of iterations to ε on the suite): it does not decide c1.faster-than-pg",
            ),
        ),
    ),
    Claim("ascent", f"{_P}ascent:STATEMENT", f"{_P}ascent"),
    Claim(
        "ascent.stated-step",
        f"{_P}falsify.ascent_stated_step:STATEMENT",
        None,
        f"{_P}falsify.ascent_stated_step:SPEC",
        (
            Relation(
                "ascent",
                "direction",
                True,
                "its part (i) is the same inequality cos(d, ∇J) ≥ 0, at any θ instead of along the suite's C1 runs",
                "cos(direction, ∇J)",
            ),
        ),
    ),
    Claim("c2.sample-complexity", f"{_P}c2_sample_complexity:STATEMENT", f"{_P}c2_sample_complexity"),
    Claim("smac.vs-baselines", f"{_P}smac_vs_baselines:STATEMENT", f"{_P}smac_vs_baselines"),
]


def register(claim: Claim) -> None:
    """Add a claim (a plugin's): its id must be new; it is listed, verified and searched like the others.

    Raises
    ------
    ValueError
        The id is taken, or the claim names neither a check module nor a falsify adapter.
    """
    if claim.id in ids():
        raise ValueError(f"claim id {claim.id!r} is already registered")
    if claim.check is None and claim.falsify is None:
        raise ValueError(f"claim {claim.id!r} needs a check module, a falsify adapter or both")
    CLAIMS.append(claim)


def ids() -> list[str]:
    """Every claim id, in report order."""
    return [c.id for c in CLAIMS]


def get(claim_id: str) -> Claim:
    """The claim with this id.

    Raises
    ------
    ValueError
        Unknown id (the message lists the ids).
    """
    for c in CLAIMS:
        if c.id == claim_id:
            return c
    raise ValueError(f"unknown claim {claim_id!r}; claims are: {', '.join(ids())}")


def verified() -> list[Claim]:
    """The claims ``r1theory verify`` checks (those with a check module)."""
    return [c for c in CLAIMS if c.check is not None]


def falsifiable() -> list[Claim]:
    """The claims ``r1theory falsify`` can search (those with a falsify adapter)."""
    return [c for c in CLAIMS if c.falsify is not None]


def check_modules() -> tuple[str, ...]:
    """The check modules, each once, in report order."""
    return tuple(dict.fromkeys(c.check for c in CLAIMS if c.check is not None))


def of_module(module: str) -> list[str]:
    """The ids a check module verifies (its CheckResults carry one of these as ``claim``)."""
    return [c.id for c in CLAIMS if c.check == module]


def related_to(claim_id: str) -> list[tuple[Claim, Relation]]:
    """The claims whose counterexamples bear on ``claim_id`` (:class:`Relation`), with the relation."""
    return [(c, rel) for c in CLAIMS for rel in c.related if rel.claim == claim_id]


def spec(claim: Claim) -> Any:
    """The falsify adapter's spec of a falsifiable claim (imports the adapter)."""
    if claim.falsify is None:
        raise ValueError(f"claim {claim.id!r} has no falsifiable measurement")
    return _attribute(claim.falsify)
