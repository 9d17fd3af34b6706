"""The catalog's registry: named instances, their parameters, their documentation.

Every entry is a builder function with keyword-only parameters and defaults, registered with
:func:`register` together with where the instance comes from (``source``), which theory result
uses it (``used_by``) and whether it is exact or reconstructed (``provenance``). The builder
returns a :class:`Built` (the MDP, an optional recommended starting policy as softmax logits
θ₀ of shape (S, A), and notes); :func:`get_instance` wraps it, with the entry's name and the full
parameter set (defaults filled in), into a frozen :class:`Instance`.

>>> import tabular_mdps
>>> inst = tabular_mdps.get_instance("mei_bandit", init="bad")
>>> inst.mdp.S, inst.mdp.A, inst.theta0.shape
(1, 3, (1, 3))
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from r1theory import TabularMDP

from ._types import Array

__all__ = ["Built", "Entry", "Instance", "describe", "entry", "get", "get_instance", "names", "register"]


@dataclass(frozen=True, eq=False)
class Built:
    """What a builder returns: the MDP, an optional starting policy and notes.

    Attributes
    ----------
    mdp
        The validated MDP.
    theta0
        Recommended starting softmax logits, shape (S, A) (π₀ = softmax(θ₀) row-wise), or None when
        the instance has no distinguished starting policy.
    notes
        Free text: what the instance demonstrates, what is reconstructed, how to use θ₀.
    """

    mdp: TabularMDP
    theta0: Array | None = None
    notes: str = ""


@dataclass(frozen=True, eq=False)
class Instance:
    """A catalog instance: an MDP together with where it came from and how to start on it.

    Attributes
    ----------
    mdp
        The validated, immutable :class:`r1theory.TabularMDP`.
    name
        The registry name.
    params
        All parameters of the entry with defaults filled in (read-only mapping); passing them back
        to :func:`get_instance` rebuilds the same MDP.
    theta0
        Recommended starting logits, shape (S, A), read-only, or None.
    notes
        What the instance is for (e.g. "bad initialisation of Mei et al.'s plateau").
    """

    mdp: TabularMDP
    name: str
    params: Mapping[str, Any]
    theta0: Array | None
    notes: str


@dataclass(frozen=True)
class Entry:
    """A registered builder and its documentation.

    Attributes
    ----------
    name
        Registry name (lower case, underscores).
    summary
        One line saying what the instance is.
    source
        The paper or book the instance comes from.
    used_by
        The theory result(s) that use it.
    provenance
        ``"exact"`` (transcribed from the source), ``"reconstructed"`` (rebuilt from a description,
        see the builder's docstring) or ``"standard"`` (a textbook or generated family).
    builder
        The function; keyword-only parameters with defaults.
    defaults
        Parameter names and default values, read from the builder's signature.
    """

    name: str
    summary: str
    source: str
    used_by: str
    provenance: str
    builder: Callable[..., Built] = field(repr=False)
    defaults: Mapping[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, Entry] = {}
_PROVENANCE = ("exact", "reconstructed", "standard")


def register(
    name: str, *, summary: str, source: str, used_by: str, provenance: str
) -> Callable[[Callable[..., Built]], Callable[..., Built]]:
    """Decorator registering ``builder`` under ``name``.

    The builder must take keyword-only parameters, each with a default (so that every entry
    builds with ``get(name)``), and return a :class:`Built`.

    Raises
    ------
    ValueError
        If the name is taken, the provenance is unknown, or a parameter has no default.
    """
    if provenance not in _PROVENANCE:
        raise ValueError(f"provenance must be one of {_PROVENANCE}; got {provenance!r}")

    def deco(builder: Callable[..., Built]) -> Callable[..., Built]:
        if name in _REGISTRY:
            raise ValueError(f"instance name {name!r} is already registered")
        defaults: dict[str, Any] = {}
        for p in inspect.signature(builder).parameters.values():
            if p.kind is not inspect.Parameter.KEYWORD_ONLY or p.default is inspect.Parameter.empty:
                raise ValueError(f"builder of {name!r}: parameter {p.name!r} must be keyword-only with a default")
            defaults[p.name] = p.default
        _REGISTRY[name] = Entry(
            name=name,
            summary=summary,
            source=source,
            used_by=used_by,
            provenance=provenance,
            builder=builder,
            defaults=MappingProxyType(defaults),
        )
        return builder

    return deco


def names() -> list[str]:
    """The registered instance names, sorted."""
    return sorted(_REGISTRY)


def entry(name: str) -> Entry:
    """The registry entry of ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not registered; the message lists the registered names.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown instance {name!r}; registered: {', '.join(names())}") from None


def get_instance(name: str, **params: Any) -> Instance:
    """Build the registered instance ``name`` with ``params`` (defaults for the rest).

    Returns
    -------
    Instance
        The validated MDP, the full parameter set, the recommended θ₀ (or None) and notes.

    Raises
    ------
    ValueError
        Unknown name, or a parameter value the builder rejects.
    TypeError
        A parameter the entry does not have, or of the wrong type.
    """
    e = entry(name)
    unknown = sorted(set(params) - set(e.defaults))
    if unknown:
        valid = ", ".join(f"{k}={v!r}" for k, v in e.defaults.items()) or "(none)"
        raise TypeError(f"instance {name!r} has no parameter(s) {', '.join(unknown)}; its parameters: {valid}")
    full = {**e.defaults, **params}
    built = e.builder(**full)
    theta0 = None
    if built.theta0 is not None:
        theta0 = np.array(built.theta0, dtype=np.float64, copy=True)
        if theta0.shape != (built.mdp.S, built.mdp.A) or not np.all(np.isfinite(theta0)):
            raise RuntimeError(f"builder of {name!r} returned theta0 of shape {theta0.shape}, not finite (S, A)")
        theta0.setflags(write=False)
    return Instance(mdp=built.mdp, name=name, params=MappingProxyType(full), theta0=theta0, notes=built.notes)


def get(name: str, **params: Any) -> TabularMDP:
    """The validated :class:`r1theory.TabularMDP` of ``get_instance(name, **params)``."""
    return get_instance(name, **params).mdp


def describe(name: str) -> str:
    """Documentation of entry ``name``: summary, source, theory use, provenance, parameters, details.

    The text ends with the builder's docstring, which states the construction (and, for a
    reconstruction, what was rebuilt and why).
    """
    e = entry(name)
    params = "\n".join(f"    {k} = {v!r}" for k, v in e.defaults.items()) or "    (none)"
    doc = inspect.cleandoc(e.builder.__doc__ or "")
    return (
        f"{e.name}: {e.summary}\n"
        f"  source:     {e.source}\n"
        f"  used by:    {e.used_by}\n"
        f"  provenance: {e.provenance}\n"
        f"  parameters (defaults):\n{params}\n\n{doc}\n"
    )
