r"""A study: the checks pointed at *your* problem — your instances, methods and grids instead of the defaults.

A :class:`Study` is the one carrier of what a user overrides. It travels on the
:class:`proofs_checks.context.Context` (``ctx.study``); a check asks the context, never its own
hard-coded list, through ``ctx.instances(default, build)`` and ``ctx.grid(name, default)``, which
return the default when the study does not set that field. The fields:

* ``instances`` — replaces the default instance suite of every check that takes instances (C1,
  ascent, the classic checks). Each :class:`Target` is a catalog entry with parameters
  (``--instance garnet:S=10,seed=3``) or an MDP file of :func:`tabular_mdps.save`
  (``--mdp my.json``). A file reaches the sweep workers by its absolute path and the SHA-256 of its
  bytes (:data:`FILE_INSTANCE`), so the sweep cache never serves runs of a file that changed.
* ``methods`` — the candidate methods C1 compares with softmax PG (and ascent assesses).
* ``damping`` — the λ grid of the damped methods (λ ≥ 0).
* ``steps`` — the base step grid η > 0 (C1 still extends it by a decade when a best step sits on its
  edge; agarwal2021.npg-rate runs NPG at these steps).
* ``eps`` — the accuracy levels of C1, *relative* to the initial gap: the target is
  V*(ρ) − J(θ_t) ≤ ε·(V*(ρ) − J(θ₀)), ε ∈ (0, 1) (the defaults are 10⁻¹ "loose" and 10⁻⁴ "tight").
* ``theta0`` — the start of C1's runs: ``uniform`` (θ₀ = 0) or ``instance`` (the catalog entry's
  recommended θ₀; every selected instance must have one).

C2 (``c2.sample-complexity``) runs its protocol on the study's instances (θ₀ uniform, or the catalog's
with ``theta0 = "instance"``) and keeps its own grids (step × batch, ε levels, sample budgets); the
bandit check ``mei2020.bandit`` reports a non-bandit instance as ``inconclusive`` with the reason.

Everything is validated before anything is written: :func:`build` raises :class:`StudyError` (a
ValueError) naming the file, key or value and the fix. :func:`study` is the public entry point,
used by ``r1theory verify`` (and from Python)::

    import proofs_checks
    results = proofs_checks.study(
        instances=["my.json", "garnet:S=10,seed=3"], methods=["r1-grad", "r1-same"],
        damping=[1e-3], claims="c1", out="X",
    )

A study file (``--config study.toml``, read with :mod:`tomllib`) holds the same keys as the
command line (:data:`CONFIG_KEYS`); paths in it are relative to the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:  # r1theory is imported where used: `import proofs_checks` stays light for the CLI's --help
    from r1theory import TabularMDP

    from .result import CheckResult
    from .runner import FigureHook

__all__ = [
    "CONFIG_KEYS",
    "FILE_INSTANCE",
    "GRIDS",
    "Study",
    "StudyError",
    "StudyResults",
    "Target",
    "build",
    "load_config",
    "mdp_file",
    "parse_instance",
    "study",
]

#: The task-configuration instance name of an MDP file; its params are ``{"path": ..., "sha256": ...}``.
FILE_INSTANCE = "file"
#: The grids a study may override (the names ``ctx.grid`` accepts).
GRIDS = ("methods", "damping", "steps", "eps", "theta0")
#: The keys of a study file: the instance selection, the grids, and the run's claims, mode and folder.
CONFIG_KEYS = ("mdp", "instance", *GRIDS, "only", "mode", "out")
THETA0 = ("uniform", "instance")

Item = TypeVar("Item")


class StudyError(ValueError):
    """Bad input to a study (a file, an instance, a grid value, a config key); the message names it and the fix."""


@dataclass(frozen=True)
class Target:
    """One selected instance: a label for reports, the task-configuration name and its parameters.

    ``name`` is a catalog entry, or :data:`FILE_INSTANCE` with ``params = {"path", "sha256"}``;
    ``has_theta0`` says whether the catalog entry recommends a start θ₀.
    """

    label: str
    name: str
    params: dict[str, Any]
    has_theta0: bool = False


@dataclass(frozen=True)
class Study:
    """What a user overrides; None everywhere (the default) runs the default suites and grids."""

    instances: tuple[Target, ...] | None = None
    methods: tuple[str, ...] | None = None
    damping: tuple[float, ...] | None = None
    steps: tuple[float, ...] | None = None
    eps: tuple[float, ...] | None = None
    theta0: str | None = None

    def is_default(self) -> bool:
        """True when nothing is overridden."""
        return self == Study()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (recorded in the provenance of results.json)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def key(self) -> str:
        """A canonical string of the overrides (memoisation key of a check's sweep)."""
        return json.dumps(self.to_dict(), sort_keys=True, default=str)

    def grid(self, name: str, default: Any) -> Any:
        """The override of grid ``name`` (one of :data:`GRIDS`) as a list (a string for theta0), or ``default``."""
        if name not in GRIDS:
            raise ValueError(f"unknown grid {name!r}; grids are: {', '.join(GRIDS)}")
        value = getattr(self, name)
        if value is None:
            return default
        return value if isinstance(value, str) else list(value)

    def select(self, default: Sequence[Item], build: Callable[[Target], Item]) -> list[Item]:
        """The check's instances: ``build`` of each selected target, or the check's ``default`` suite."""
        if self.instances is None:
            return list(default)
        return [build(t) for t in self.instances]


if TYPE_CHECKING:
    InstanceLike = TabularMDP | Target | str | os.PathLike[str]


# --------------------------------------------------------------------------------------------- instances
def _scalar(text: str) -> Any:
    """A parameter value: a JSON scalar/array/object where it parses (3, 0.9, true, null, [8]), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _split_top(text: str) -> list[str]:
    """Split at commas outside brackets (so ``hidden=[8,8]`` stays one item)."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def parse_instance(text: str, params: Mapping[str, Any] | None = None) -> Target:
    """A catalog instance ``NAME[:key=value,...]`` (values parsed as JSON where possible), built once to validate it.

    Raises
    ------
    StudyError
        Unknown name (the message lists the catalog), unknown parameter (lists the entry's
        parameters), a value the builder rejects, or a malformed ``key=value``.
    """
    import tabular_mdps

    name, _, rest = text.partition(":")
    name = name.strip()
    values: dict[str, Any] = dict(params or {})
    for item in _split_top(rest):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise StudyError(f"--instance {text}: {item!r} is not key=value (e.g. garnet:S=10,seed=3)")
        values[key.strip()] = _scalar(value.strip())
    try:
        inst = tabular_mdps.get_instance(name, **values)
    except (TypeError, ValueError) as exc:
        raise StudyError(f"--instance {text}: {exc}") from None
    label = name + (":" + ",".join(f"{k}={json.dumps(v)}" for k, v in values.items()) if values else "")
    return Target(label, name, values, inst.theta0 is not None)


def _available_memory() -> int:
    """Bytes of memory available now (MemAvailable of /proc/meminfo, else the physical memory)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 1 << 62


def _gb(n: float) -> str:
    return f"{n / 1e9:.3g} GB"


def _check_dense_size(path: Path) -> None:
    """Refuse a dense file whose (S, A, S) tensor cannot fit in memory, before reading it."""
    avail = _available_memory()
    if path.suffix.lower() == ".json":  # text: parsing needs several times the file size
        size = path.stat().st_size
        if 4 * size > avail:
            raise StudyError(
                f"--mdp {path}: this .json file ({_gb(size)}) needs about {_gb(4 * size)} of memory to read, "
                f"{_gb(avail)} is available; save the MDP as a sparse .npz instead (tabular_mdps.save(mdp.to_sparse(), "
                "'x.npz'))"
            )
        return
    try:
        import numpy as np

        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
        S, A = int(meta["S"]), int(meta["A"])
        dense = meta.get("schema_version") == 1 or meta.get("storage") == "dense"
    except Exception:
        return
    need = 8 * S * S * A
    if dense and need > avail:
        raise StudyError(
            f"--mdp {path}: the dense transition tensor P (S={S}, A={A}) needs {_gb(need)} of memory, "
            f"{_gb(avail)} is available; save it in the sparse form (tabular_mdps.save(mdp.to_sparse(), "
            "'x.npz'), storage 'csr', memory O(nnz + S·A))"
        )


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (the cache identity of an MDP file)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def mdp_file(path: str | os.PathLike[str]) -> Target:
    """An MDP file of :func:`tabular_mdps.save` (``.npz`` or ``.json``, dense or sparse), validated by loading it.

    Raises
    ------
    StudyError
        Missing or unreadable file, a file too large for memory in its dense form, or any problem
        :func:`tabular_mdps.load` reports (format, schema version, shapes, NaN / negative /
        non-normalised rows); the message names the file.
    """
    import tabular_mdps

    p = Path(path)
    if not p.is_file():
        raise StudyError(f"--mdp {p}: no such file")
    if not os.access(p, os.R_OK):
        raise StudyError(f"--mdp {p}: not readable (permission denied)")
    _check_dense_size(p)
    try:
        tabular_mdps.load(p)
        digest = file_digest(p)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        raise StudyError(msg if msg.startswith(str(p)) else f"--mdp {p}: {msg}") from None
    except OSError as exc:
        raise StudyError(f"--mdp {p}: cannot be read ({exc.strerror or exc})") from None
    except MemoryError:
        raise StudyError(f"--mdp {p}: not enough memory to load it; save it in the sparse .npz form") from None
    return Target(p.name, FILE_INSTANCE, {"path": str(p.resolve()), "sha256": digest})


def load_file_instance(params: Mapping[str, Any]) -> TabularMDP:
    """The MDP of a :data:`FILE_INSTANCE` task configuration; refuses a file whose bytes changed since the study."""
    import tabular_mdps

    path = Path(str(params["path"]))
    if file_digest(path) != params.get("sha256"):
        raise ValueError(f"{path}: the file changed since the study started (SHA-256 differs); rerun the study")
    return tabular_mdps.load(path)


def _unique_labels(targets: list[Target]) -> list[Target]:
    seen: dict[str, int] = {}
    out = []
    for t in targets:
        n = seen.get(t.label, 0)
        seen[t.label] = n + 1
        out.append(t if n == 0 else Target(f"{t.label}#{n + 1}", t.name, t.params, t.has_theta0))
    return out


# --------------------------------------------------------------------------------------------- grids
def _floats(key: str, values: Any, ok: Callable[[float], bool], rule: str) -> tuple[float, ...]:
    items = _split_top(values) if isinstance(values, str) else values
    if isinstance(items, (int, float)):
        items = [items]
    out = []
    for v in items:
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise StudyError(f"--{key}: {v!r} is not a number; {rule}") from None
        if isinstance(v, bool) or not math.isfinite(x) or not ok(x):
            raise StudyError(f"--{key}: {v!r} is out of range; {rule}")
        out.append(x)
    if not out:
        raise StudyError(f"--{key}: no values given; {rule}")
    return tuple(dict.fromkeys(out))


def _methods(values: Any) -> tuple[str, ...]:
    from r1theory import get_method, registered_methods

    items = _split_top(values) if isinstance(values, str) else list(values)
    if not items:
        raise StudyError("--methods: no method given")
    for m in items:
        try:
            get_method(m)
        except (TypeError, ValueError) as exc:
            raise StudyError(f"--methods: {exc}") from None
        if m == "pg":
            names = ", ".join(x.name for x in registered_methods() if x.name != "pg")
            raise StudyError(f"--methods: pg is the reference every method is compared with; choose among {names}")
    return tuple(dict.fromkeys(str(m) for m in items))


def _is_file_like(x: str | os.PathLike[str]) -> bool:
    return not isinstance(x, str) or Path(x).suffix.lower() in (".npz", ".json") or os.sep in x


def build(
    instances: Sequence[InstanceLike] | InstanceLike | None = None,
    *,
    methods: Sequence[str] | str | None = None,
    damping: Sequence[float] | float | str | None = None,
    steps: Sequence[float] | float | str | None = None,
    eps: Sequence[float] | float | str | None = None,
    theta0: str | None = None,
    save_objects: Path | None = None,
) -> Study:
    """Validate the overrides and return the :class:`Study`.

    ``instances``: MDP file paths (``.npz``/``.json``), catalog specs ``NAME[:key=value,...]`` or
    :class:`r1theory.TabularMDP` objects (saved to ``save_objects/<mdp-k>.npz`` so sweep workers can
    load them; required then). Grids take sequences or comma-separated strings.

    Raises
    ------
    StudyError
        Any bad input (see the module docstring), before anything is written.
    """
    # the grids are validated first: a bad grid value leaves nothing written
    methods_ = None if methods is None else _methods(methods)
    damping_ = None if damping is None else _floats("damping", damping, lambda x: x >= 0, "λ must be ≥ 0")
    steps_ = None if steps is None else _floats("steps", steps, lambda x: x > 0, "η must be > 0")
    eps_ = None if eps is None else _floats("eps", eps, lambda x: 0 < x < 1, "relative ε must be in (0, 1)")
    if theta0 is not None and theta0 not in THETA0:
        raise StudyError(f"--theta0: {theta0!r} is not one of {', '.join(THETA0)}")
    from r1theory import TabularMDP

    targets: list[Target] | None = None
    if instances is not None:
        items = [instances] if isinstance(instances, (str, os.PathLike, TabularMDP, Target)) else list(instances)
        if not items:
            raise StudyError("instances: the list is empty; give MDP files or catalog names, or None for the suite")
        targets = []
        objects: list[tuple[int, TabularMDP]] = []
        for i, x in enumerate(items):
            if isinstance(x, Target):  # already resolved (the command line's --mdp and --instance)
                targets.append(x)
            elif isinstance(x, TabularMDP):
                objects.append((i, x))
                targets.append(Target("", "", {}))
            elif isinstance(x, (str, os.PathLike)):
                targets.append(mdp_file(x) if _is_file_like(x) else parse_instance(str(x)))
            else:
                raise StudyError(
                    f"instances: {type(x).__name__} is not an MDP file, a catalog name or a TabularMDP object"
                )
        if objects:
            if theta0 == "instance":
                raise StudyError("--theta0 instance: a TabularMDP object has no recommended θ₀; use --theta0 uniform")
            if save_objects is None:
                raise StudyError(
                    "instances: TabularMDP objects need an output folder (out=...) to be saved for workers"
                )
            import tabular_mdps

            save_objects.mkdir(parents=True, exist_ok=True)
            for i, mdp in objects:
                f = tabular_mdps.save(mdp, save_objects / f"mdp-{i + 1}.npz", name=f"mdp-{i + 1}")
                t = mdp_file(f)
                targets[i] = Target(f"mdp-{i + 1}", t.name, t.params)
        targets = _unique_labels(targets)
    if theta0 == "instance":
        if targets is None:
            raise StudyError(
                "--theta0 instance: select instances with a recommended θ₀ (--instance, e.g. mei_bandit:init=bad)"
            )
        lacking = [t.label for t in targets if not t.has_theta0]
        if lacking:
            raise StudyError(
                f"--theta0 instance: {', '.join(lacking)} has no recommended θ₀ (MDP files never do); "
                "use --theta0 uniform"
            )
    return Study(
        instances=None if targets is None else tuple(targets),
        theta0=theta0,
        methods=methods_,
        damping=damping_,
        steps=steps_,
        eps=eps_,
    )


# --------------------------------------------------------------------------------------------- config files
def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a study file (TOML): the keys of :data:`CONFIG_KEYS`, paths relative to the file; return them.

    Example::

        only = "c1"
        mdp = ["my.json"]
        instance = ["garnet:S=10,seed=3"]
        methods = ["r1-grad", "r1-same"]
        damping = [1e-3]
        eps = [0.1, 1e-4]
        out = "X"

    Raises
    ------
    StudyError
        The file is missing or unreadable, not valid TOML, has a key not in :data:`CONFIG_KEYS`
        (the message lists them) or a value of the wrong type.
    """
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StudyError(f"--config {p}: cannot be read ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise StudyError(f"--config {p}: not valid TOML ({exc})") from None
    unknown = sorted(set(doc) - set(CONFIG_KEYS))
    if unknown:
        raise StudyError(f"--config {p}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(CONFIG_KEYS)}")
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in ("mdp", "instance"):
            vals = [value] if isinstance(value, str) else value
            if not isinstance(vals, list) or not all(isinstance(v, str) for v in vals):
                raise StudyError(f"--config {p}: key {key} must be a string or a list of strings")
            out[key] = [str(p.parent / v) for v in vals] if key == "mdp" else vals
        elif key in ("only", "mode", "theta0", "out"):
            if not isinstance(value, str):
                raise StudyError(f"--config {p}: key {key} must be a string; got {value!r}")
            if key == "mode" and value not in ("quick", "full"):
                raise StudyError(f"--config {p}: key mode must be 'quick' or 'full'; got {value!r}")
            out[key] = str(p.parent / value) if key == "out" else value
        else:
            if not isinstance(value, (str, list, int, float)) or isinstance(value, bool):
                raise StudyError(f"--config {p}: key {key} must be a list (or a comma-separated string)")
            out[key] = value
    return out


# --------------------------------------------------------------------------------------------- running
class StudyResults(list["CheckResult"]):
    """The CheckResults of a study (a list), with its exit status and output folder.

    ``status`` is 0 when every check completed, 1 when a check crashed or the report could not be
    written (``r1theory verify``'s exit status); ``out`` is the folder of results.json and the report.
    """

    status: int = 0
    out: Path = Path()


def study(
    instances: Sequence[InstanceLike] | InstanceLike | None = None,
    *,
    methods: Sequence[str] | str | None = None,
    damping: Sequence[float] | float | str | None = None,
    steps: Sequence[float] | float | str | None = None,
    eps: Sequence[float] | float | str | None = None,
    theta0: str | None = None,
    claims: str | None = None,
    out: str | os.PathLike[str] = "r1theory-out",
    mode: Literal["quick", "full"] = "quick",
    jobs: int = 1,
    progress: bool = False,
    figure_hook: FigureHook | None = None,
    scheduler: str | None = None,
) -> StudyResults:
    """Run the checks matching ``claims`` on your instances and grids; write ``out/results.json`` and the report.

    Parameters
    ----------
    instances
        None (each check's default suite), or MDP files, catalog specs ``NAME[:key=value,...]`` and
        :class:`r1theory.TabularMDP` objects; they replace the suite of every check taking instances.
    methods, damping, steps, eps, theta0
        Grid overrides (module docstring; None keeps a check's default). ``eps`` is relative to the
        initial gap.
    claims
        A glob or prefix of claim ids (``"c1"``, ``"mei2020.*"``); None runs every check.
    out, mode, jobs, progress, figure_hook, scheduler
        As for :func:`proofs_checks.runner.verify` (``r1theory verify`` passes its figure hook).

    Returns
    -------
    StudyResults
        The CheckResults (a list), with ``status`` as ``r1theory verify``'s exit status.

    Raises
    ------
    StudyError
        Bad input, raised before anything is written.
    """
    from r1theory import TabularMDP

    from .runner import select, verify

    try:
        select(claims)
    except ValueError as exc:
        raise StudyError(str(exc)) from None
    if mode not in ("quick", "full"):
        raise StudyError(f"mode must be 'quick' or 'full'; got {mode!r}")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise StudyError(f"--out {folder} exists and is not a folder")
    has_objects = instances is not None and (
        isinstance(instances, TabularMDP)
        or (
            (not isinstance(instances, (str, os.PathLike, Target)))
            and any(isinstance(x, TabularMDP) for x in instances)
        )
    )
    spec = build(
        instances,
        methods=methods,
        damping=damping,
        steps=steps,
        eps=eps,
        theta0=theta0,
        save_objects=folder / "mdps" if has_objects else None,
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StudyError(f"--out {folder} cannot be created: {exc.strerror or exc}") from None
    collected: list[CheckResult] = []
    status = verify(
        mode,
        claims,
        folder,
        jobs,
        progress=progress,
        figure_hook=figure_hook,
        scheduler=scheduler,
        study=spec,
        collect=collected,
    )
    res = StudyResults(collected)
    res.status, res.out = status, folder
    return res
