"""The method registry: one record per update rule, and every list of methods is a query of it.

A method is θ ← θ + η · D(θ) with the step rule η separate from the direction D (docs/claims.md#the-method-family).
Its :class:`Method` record holds everything the rest of the toolkit asks of it:

* ``name`` (the id used on the command line, in caches and reports) and ``label`` (for figures);
* ``damped``: whether it takes a damping λ > 0;
* ``direction(point, λ)``: the exact direction at an evaluated :class:`~r1theory.point.PolicyPoint`,
  θ-shaped — for the exact methods;
* ``batch_direction(points, λ)`` (optional, exact methods): the same direction at every point of a
  :class:`~r1theory.batch.BatchPolicyPoint` (B tabular-softmax points of one MDP) with per-point
  dampings λ of shape (B,) (0.0 for an undamped method), shape (B, S, A); row b must equal
  ``direction(points[b], λ[b])`` to rounding. :func:`r1theory.iterate_batch` uses it, and calls
  ``direction`` row by row for a method without one;
* ``param_batch_direction(points, λ)`` (optional, exact methods): the same for a
  :class:`~r1theory.batch_param.BatchParamPoint` (B log-linear points of one MDP, θ stacked (B, k)),
  shape (B, k); :func:`r1theory.iterate_batch` with ``param=LogLinear(...)`` uses it, and calls
  ``direction`` row by row for a method without one;
* ``sample(draw, λ)``: the sampled direction from one :class:`SampleDraw` — for the stochastic methods
  (:mod:`r1theory.stochastic`);
* ``preconditioner(point, λ)``: where the direction is M ∇J for a matrix M fixed at θ, that M as an
  operator with ``mv`` (flat vectors, row-major θ) and ``dense()`` — what
  :func:`r1theory.fisher_diagnostics` compares with (F + λI)⁻¹;
* ``summary``: the formula in one line (the docs' tables).

The built-in methods are registered by :mod:`r1theory.directions` (exact) and :mod:`r1theory.stochastic`;
a user adds one with :func:`register_method` (for example from a ``--plugin`` file), and it then joins
every default suite that applies to it. :data:`METHODS`, :data:`DAMPED_METHODS` and
:data:`CANDIDATE_METHODS` and :data:`STOCHASTIC_METHODS` are live views of the registry
(:class:`MethodNames`), in registration order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, overload

import numpy as np

from ._types import Array
from ._validate import check_damping

if TYPE_CHECKING:
    from .batch import BatchPolicyPoint
    from .batch_param import BatchParamPoint
    from .point import PolicyPoint
    from .stochastic import SampleDraw


class Preconditioner(Protocol):
    """A matrix M on flattened θ (row-major): ``mv`` applies it, ``dense`` forms it (small problems only)."""

    def mv(self, v: Any) -> Array:
        """M v for a flat vector v."""
        ...

    def dense(self) -> Array:
        """M as a dense (n, n) array."""
        ...


@dataclass(frozen=True)
class Operator:
    """A :class:`Preconditioner` given by its action v ↦ Mv on flat vectors of length ``n``.

    ``dense()`` uses ``build`` when given (a closed form), else applies M to the n unit vectors.
    """

    n: int
    apply: Callable[[Array], Array]
    build: Callable[[], Array] | None = None

    def mv(self, v: Any) -> Array:
        """M v, v of shape (n,)."""
        x = np.asarray(v, dtype=np.float64)
        if x.shape != (self.n,):
            raise ValueError(f"v must have shape ({self.n},); got {x.shape}")
        return np.asarray(self.apply(x), dtype=np.float64).reshape(self.n)

    def dense(self) -> Array:
        """M as an (n, n) array."""
        if self.build is not None:
            return np.asarray(self.build(), dtype=np.float64)
        return np.stack([self.mv(e) for e in np.eye(self.n)], axis=1)


DirectionFn = Callable[["PolicyPoint", float], Array]
BatchDirectionFn = Callable[["BatchPolicyPoint", Array], Array]
ParamBatchDirectionFn = Callable[["BatchParamPoint", Array], Array]
SampleFn = Callable[["SampleDraw", float], Array]
PreconditionerFn = Callable[["PolicyPoint", float], Preconditioner]


@dataclass(frozen=True)
class Method:
    """One update rule of the family (module docstring). Exactly one of ``direction`` and ``sample`` is set.

    ``batch_direction`` and ``param_batch_direction``, optional and only beside ``direction``, are the
    direction vectorised over a batch of tabular or log-linear points (module docstring); they are
    speed-ups, never a different definition.
    """

    name: str
    label: str
    damped: bool
    direction: DirectionFn | None = None
    sample: SampleFn | None = None
    preconditioner: PreconditionerFn | None = None
    summary: str = ""
    #: What to suggest when an undamped method is given a damping (e.g. "use 'npg-damped'").
    undamped_fix: str = "pass damping=None"
    #: Methods whose direction is PG's up to a positive scalar (only their step differs): figures dash them.
    rescaled_pg: bool = False
    #: A reference the claims measure candidates against (``pg``, ``npg``), not itself a candidate of C1.
    reference: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    batch_direction: BatchDirectionFn | None = None
    param_batch_direction: ParamBatchDirectionFn | None = None

    @property
    def stochastic(self) -> bool:
        """True for a sampled method (``sample`` set), False for an exact one (``direction`` set)."""
        return self.sample is not None

    def check_damping(self, damping: Any) -> float:
        """Validate a damping for this method; return λ (0.0 for an undamped method)."""
        if self.damped:
            if damping is None:
                example = 1.0 if self.stochastic else 1e-2
                raise ValueError(f"method {self.name!r} needs damping=λ > 0 (e.g. damping={example:g})")
            return check_damping(damping, positive=True, method=self.name)
        if damping is not None and check_damping(damping, positive=False) != 0.0:
            raise ValueError(f"method {self.name!r} is undamped but damping={damping} was given; {self.undamped_fix}")
        return 0.0


_REGISTRY: dict[str, Method] = {}


def _check_record(method: Any) -> Method:
    if not isinstance(method, Method):
        raise TypeError(f"register_method takes an r1theory.Method; got {type(method).__name__}")
    if not isinstance(method.name, str) or not method.name or method.name != method.name.strip():
        raise ValueError(f"a method's name must be a non-empty string without surrounding spaces; got {method.name!r}")
    if (method.direction is None) == (method.sample is None):
        raise ValueError(
            f"method {method.name!r} must set exactly one of direction (an exact method) and sample (a stochastic one)"
        )
    for what in ("direction", "sample", "preconditioner", "batch_direction", "param_batch_direction"):
        fn = getattr(method, what)
        if fn is not None and not callable(fn):
            raise TypeError(f"method {method.name!r}: {what} must be callable; got {type(fn).__name__}")
    for what in ("batch_direction", "param_batch_direction"):
        if getattr(method, what) is not None and method.direction is None:
            raise ValueError(f"method {method.name!r}: {what} vectorises direction, which is not set")
    return method


def register_method(method: Method, replace: bool = False) -> Method:
    """Add ``method`` to the registry (at the end of its kind's order) and return it.

    Raises
    ------
    ValueError
        When a method of that name exists and ``replace`` is False (pass ``replace=True`` to override it),
        or the record is malformed (no name, neither or both of ``direction`` and ``sample``).
    TypeError
        When ``method`` is not a :class:`Method` or a callable field is not callable.
    """
    m = _check_record(method)
    if m.name in _REGISTRY and not replace:
        raise ValueError(f"method {m.name!r} is already registered; pass replace=True to replace it")
    _REGISTRY[m.name] = m
    return m


def unregister_method(name: str) -> None:
    """Remove a registered method (for tests and notebooks that register temporary ones)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown method {name!r}; registered: {', '.join(_REGISTRY)}")
    del _REGISTRY[name]


def registered_methods(*, stochastic: bool | None = False) -> tuple[Method, ...]:
    """The registered methods in registration order: exact ones (default), stochastic ones, or all (None)."""
    return tuple(m for m in _REGISTRY.values() if stochastic is None or m.stochastic == stochastic)


def get_method(name: Any, *, stochastic: bool | None = False) -> Method:
    """The method named ``name`` of the given kind (exact by default; ``stochastic=None`` for either).

    Raises
    ------
    TypeError
        When ``name`` is not a string.
    ValueError
        When no method of that kind has that name; the message lists the ones that do.
    """
    m = _REGISTRY.get(name) if isinstance(name, str) else None
    if m is not None and (stochastic is None or m.stochastic == stochastic):
        return m  # the hot path (every iteration of every run): one dict lookup, no message built
    names = ", ".join(r.name for r in registered_methods(stochastic=stochastic))
    if not isinstance(name, str):
        raise TypeError(f"method must be a string, one of {names}; got {type(name).__name__}")
    kind = "" if stochastic is None else ("stochastic " if stochastic else "")
    raise ValueError(f"unknown {kind}method {name!r}; choose one of {names}")


def check_method(name: Any, damping: Any, *, stochastic: bool = False) -> tuple[Method, float]:
    """Validate a method name and its damping; return the method and λ (0.0 for undamped methods)."""
    m = get_method(name, stochastic=stochastic)
    return m, m.check_damping(damping)


class MethodNames(Sequence[str]):
    """A live, read-only, tuple-like view of the names of the registered methods that satisfy ``where``.

    Iterating, indexing, ``len`` and ``in`` always reflect the registry as it is now, so a list of
    methods kept by a check or a figure includes the methods a plugin registers later.
    """

    def __init__(self, where: Callable[[Method], bool]) -> None:
        self._where = where

    def _names(self) -> tuple[str, ...]:
        return tuple(m.name for m in _REGISTRY.values() if self._where(m))

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> tuple[str, ...]: ...

    def __getitem__(self, i: int | slice) -> str | tuple[str, ...]:
        return self._names()[i]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __repr__(self) -> str:
        return repr(self._names())


#: Names of the exact methods, in registration order (a live view: plugins' methods appear when registered).
METHODS: Sequence[str] = MethodNames(lambda m: not m.stochastic)
#: Names of the exact methods that need damping λ > 0.
DAMPED_METHODS: Sequence[str] = MethodNames(lambda m: not m.stochastic and m.damped)
#: Names of the exact methods that are candidates of the claims (all but the references ``pg`` and ``npg``).
CANDIDATE_METHODS: Sequence[str] = MethodNames(lambda m: not m.stochastic and not m.reference)
#: Names of the stochastic methods (:mod:`r1theory.stochastic`).
STOCHASTIC_METHODS: Sequence[str] = MethodNames(lambda m: m.stochastic)
#: Names of the stochastic methods that need damping λ > 0.
STOCHASTIC_DAMPED: Sequence[str] = MethodNames(lambda m: m.stochastic and m.damped)
