"""The falsifiable claims: a query of :mod:`proofs_checks.claims` joined with each claim's falsify adapter.

:data:`FALSIFIABLE` maps a claim id (exactly the ids ``r1theory claims`` lists as searchable) to a
:class:`Falsifiable`: the id and statement from the registry, the methods, candidates, measurement and
score from the adapter (:class:`~proofs_checks.falsify.measurement.Spec`). :func:`resolve` turns a
command line's (claim, method, parametrisation kind) into a falsifiable claim and a method, or says which
ids can be searched.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from hypothesis import strategies as st

from r1theory import METHODS

from .. import claims
from .candidates import PARAM_KINDS, Candidate
from .measurement import Spec

__all__ = ["FALSIFIABLE", "Falsifiable", "resolve"]


@dataclass(frozen=True, kw_only=True)
class Falsifiable(Spec):
    """A falsifiable claim: its id and statement (from :mod:`proofs_checks.claims`) with its adapter's :class:`Spec`."""

    id: str
    statement: str

    @classmethod
    def of(cls, claim: claims.Claim) -> Falsifiable:
        """The falsifiable form of a registry entry (imports its adapter)."""
        spec: Spec = claims.spec(claim)
        return cls(**{f.name: getattr(spec, f.name) for f in fields(Spec)}, id=claim.id, statement=claim.statement)

    @property
    def param_kinds(self) -> tuple[str, ...]:
        """The parametrisation kinds the claim can be searched under (tabular always)."""
        return PARAM_KINDS if self.param_candidates is not None else ("tabular",)

    def strategy(self, method: str, param: str = "tabular") -> st.SearchStrategy[Candidate]:
        """The candidates of ``method`` under parametrisation kind ``param``."""
        if param == "tabular":
            return self.candidates(method)
        if self.param_candidates is None or param not in self.param_kinds:
            raise ValueError(tabular_only(self.id, param))
        return self.param_candidates(method, param)


def tabular_only(claim: str, param: str) -> str:
    """The message for a non-tabular kind asked of a claim stated for tabular softmax only."""
    return (
        f"claim {claim!r} is stated for tabular softmax only; the parametrisation {param!r} is not applicable "
        f"(use tabular)"
    )


#: Every falsifiable claim, by id, in the registry's order.
FALSIFIABLE: dict[str, Falsifiable] = {c.id: Falsifiable.of(c) for c in claims.falsifiable()}


def resolve(claim: str, method: str | None = None, param: str = "tabular") -> tuple[Falsifiable, str]:
    """The falsifiable claim with id ``claim`` and the method to test (its default when ``method`` is None).

    ``param`` is the parametrisation kind (:data:`~proofs_checks.falsify.candidates.PARAM_KINDS`); the
    classic claims accept only "tabular".

    Raises
    ------
    ValueError
        An id with no falsifiable measurement (the message lists the ids that can be searched), an unknown
        method, a method the claim does not apply to, an unknown parametrisation kind, or a non-tabular kind
        for a claim stated for tabular softmax only; the message lists the valid choices.
    """
    for entry in claims.falsifiable():  # claims a plugin registered after this module was imported
        if entry.id not in FALSIFIABLE:
            FALSIFIABLE[entry.id] = Falsifiable.of(entry)
    if claim not in FALSIFIABLE:
        searchable = ", ".join(FALSIFIABLE)
        if claim in claims.ids():
            raise ValueError(
                f"claim {claim!r} has no falsifiable measurement (r1theory verify checks it on the suites); "
                f"claims that can be searched: {searchable}"
            )
        raise ValueError(f"unknown claim {claim!r}; claims that can be searched: {searchable}")
    c = FALSIFIABLE[claim]
    if not isinstance(param, str) or param not in PARAM_KINDS:
        raise ValueError(f"unknown parametrisation {param!r}; choose one of: {', '.join(PARAM_KINDS)}")
    if param not in c.param_kinds:
        raise ValueError(tabular_only(claim, param))
    if method is None:
        return c, c.default_method
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; methods are: {', '.join(METHODS)}")
    if method not in c.methods:
        raise ValueError(
            f"method {method!r} is not applicable to claim {claim!r}; choose one of: {', '.join(c.methods)}"
        )
    return c, method
