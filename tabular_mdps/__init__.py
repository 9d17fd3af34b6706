"""tabular_mdps: a tested catalog of tabular MDP instances, generators, converters and a file format.

Every instance is an :class:`r1theory.TabularMDP` (``P[s, a, s']`` (S, A, S), ``r[s, a]`` (S, A),
``gamma`` in [0, 1), start distribution ``rho`` (S,)), validated on construction.

Registry
    :func:`names`, :func:`get` (the MDP), :func:`get_instance` (MDP + parameters + recommended
    starting logits θ₀ + notes), :func:`describe` (source, theory use, provenance, parameters).
Random families (explicit integer ``seed``; optional ``min_gap``)
    :func:`random_mdp`, :func:`garnet`, :func:`random_bandit`; :func:`enforce_min_gap`.
Hard and illustrative instances
    Mei et al. 2020's plateau bandit and Prop. 3 self-loop example, Agarwal et al.'s chain, a
    cascade chain after Li et al. 2021, a gridworld with walls, cliff walking, closed-form MDPs.
Converters
    :func:`from_gymnasium` (toy text; needs ``pip install 'r1theory[gym]'``),
    :func:`to_mdptoolbox`, :func:`from_mdptoolbox`.
Files
    :func:`save`, :func:`load`, :func:`load_with_meta` (``.npz`` / ``.json``; schema version 1 for
    dense MDPs, 2 for sparse CSR ones, ``.npz`` only).

>>> import tabular_mdps
>>> mdp = tabular_mdps.get("garnet", S=8, A=2, branching=3, seed=1)
>>> mdp.S, mdp.A
(8, 2)
"""

from __future__ import annotations

from . import closed_form, grids, hard, random_families  # noqa: F401  (importing registers the entries)
from .closed_form import absorbing, two_cycle, two_cycle_values
from .converters import from_gymnasium, from_mdptoolbox, to_mdptoolbox
from .files import FORMAT, SCHEMA_VERSION, load, load_with_meta, save
from .gaps import enforce_min_gap
from .grids import cliff_walking, grid_cells, gridworld
from .hard import agarwal_chain, li_chain, mei_self_loop
from .random_families import garnet, random_bandit, random_mdp
from .registry import Built, Entry, Instance, describe, entry, get, get_instance, names, register

__all__ = [
    "FORMAT",
    "SCHEMA_VERSION",
    "Built",
    "Entry",
    "Instance",
    "absorbing",
    "agarwal_chain",
    "cliff_walking",
    "describe",
    "enforce_min_gap",
    "entry",
    "from_gymnasium",
    "from_mdptoolbox",
    "garnet",
    "get",
    "get_instance",
    "grid_cells",
    "gridworld",
    "li_chain",
    "load",
    "load_with_meta",
    "mei_self_loop",
    "names",
    "random_bandit",
    "random_mdp",
    "register",
    "save",
    "to_mdptoolbox",
    "two_cycle",
    "two_cycle_values",
]
