"""Plugins: user code imported before anything runs, in this process and in every sweep worker.

A plugin is a Python module, named by its dotted name (``mypkg.r1plugin``, importable from
``sys.path``) or by the path of a ``.py`` file (``./my_instances.py``). Importing it is the
registration: at import time it calls ``tabular_mdps.register`` (catalog instances) and, as they
become available, the method and claim registries. Installed packages declare plugins in the
entry-point group :data:`GROUP` (``r1theory.plugins``), each entry point naming a module::

    [project.entry-points."r1theory.plugins"]
    my_instances = "mypkg.r1plugin"

The ``r1theory`` command loads the entry points, then every ``--plugin MODULE_OR_FILE``, before it
builds its parser; a script or a check run alone calls :func:`load` itself. This module is the one
home of the mechanism (it sits below ``figures`` and the command line, next to the sweep runner
that needs it).

Workers. :func:`load` records each plugin as a :class:`Plugin` (for a file plugin, with its source
text); :class:`proofs_checks.sweep.Sweep` sends the records with every task and the worker calls
:func:`ensure` before running it, so a name a plugin registered is known in a joblib (loky) worker
and on a Dask worker alike. A file plugin travels as source, so a Dask worker needs no copy of the
file; a module plugin is imported by name, so it must be installed on the worker. Loading is
idempotent per process (a plugin is executed once however many tasks a reused worker runs).

Cache keys. A plugin can change what a task computes, so while plugins are loaded the sweep cache
key also covers :func:`digest` (a hash of their sources); without plugins the keys are unchanged.

>>> from proofs_checks import plugins
>>> plugins.loaded()
()
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import re
import sys
import traceback
import types
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GROUP", "Plugin", "PluginError", "digest", "ensure", "load", "load_entry_points", "loaded"]

#: The entry-point group through which installed packages declare plugins.
GROUP = "r1theory.plugins"


@dataclass(frozen=True)
class Plugin:
    """A loaded plugin, as recorded for the workers.

    Attributes
    ----------
    spec
        As the user gave it (``./p.py`` or ``mypkg.r1plugin``); used in messages.
    key
        Identity: the resolved absolute path of a file plugin, the dotted name of a module plugin.
    module
        The name under which the module is in ``sys.modules`` (``r1theory_plugin_<stem>_<hash>`` for a
        file plugin, derived from its path).
    source
        The source text of a file plugin (what a worker executes); None for a module plugin.
    sha256
        Hash of the plugin's source (a module plugin: of its file, or every ``.py`` of its package).
    """

    spec: str
    key: str
    module: str
    source: str | None
    sha256: str


class PluginError(Exception):
    """A plugin failed to import; ``cause`` is one line: ``"<ExceptionType>: <message> (line N)"``.

    Attributes
    ----------
    spec
        The plugin as the user gave it.
    cause
        What went wrong, on one line, with the plugin's line number when the error is in its code.
    """

    def __init__(self, spec: str, cause: str) -> None:
        super().__init__(f"plugin {spec} failed to import: {cause}")
        self.spec, self.cause = spec, cause


_LOADED: dict[str, Plugin] = {}


def loaded() -> tuple[Plugin, ...]:
    """The plugins loaded in this process, in load order."""
    return tuple(_LOADED.values())


def digest() -> str:
    """SHA-256 over the loaded plugins' sources, in load order; ``""`` when none is loaded."""
    if not _LOADED:
        return ""
    return hashlib.sha256("|".join(f"{p.key}={p.sha256}" for p in _LOADED.values()).encode()).hexdigest()


def _is_file(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def load(spec: str) -> types.ModuleType:
    """Import the plugin ``spec`` (a dotted module name or a ``.py`` file path) once, and record it.

    Returns
    -------
    types.ModuleType
        The plugin module (the same object when ``spec`` was already loaded).

    Raises
    ------
    PluginError
        When the file is missing or unreadable, the module is not found, or its code raises
        (SyntaxError included); the message is one line naming the plugin and the cause.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise PluginError(repr(spec), "a plugin is a dotted module name or a .py file path")
    if _is_file(spec):
        path = Path(spec).expanduser().resolve()
        key = str(path)
        if key in _LOADED:
            return sys.modules[_LOADED[key].module]
        try:
            source = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PluginError(spec, f"FileNotFoundError: no such file {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PluginError(spec, _one_line(exc)) from None
        stem = re.sub(r"\W", "_", path.stem)
        plugin = Plugin(spec, key, f"r1theory_plugin_{stem}_{_sha(key)[:8]}", source, _sha(source))
        module = _exec(plugin)
    else:
        key = spec.strip()
        if key in _LOADED:
            return sys.modules[_LOADED[key].module]
        module = _import(spec, key)
        plugin = Plugin(spec, key, key, None, _module_sha(module))
    _LOADED[key] = plugin
    return module


def load_entry_points(group: str = GROUP) -> list[Plugin]:
    """Load every entry point of ``group``; each names a module (``"pkg.module"``), imported by :func:`load`.

    Raises
    ------
    PluginError
        With ``spec`` ``"entry point NAME = VALUE"``, when one fails to import or names an attribute
        (``pkg.module:attr``) rather than a module.
    """
    out = []
    for ep in sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name):
        what = f"entry point {ep.name} = {ep.value} (group {group})"
        if ep.attr:
            raise PluginError(what, "an r1theory plugin entry point names a module, not module:attribute")
        try:
            load(ep.module)
        except PluginError as exc:
            raise PluginError(what, exc.cause) from None
        out.append(_LOADED[ep.module])
    return out


def ensure(plugins: Iterable[Plugin]) -> None:
    """Load, in this (worker) process, every plugin of ``plugins`` not loaded yet.

    A file plugin is executed from its recorded source (the worker needs no copy of the file); a
    module plugin is imported by name.

    Raises
    ------
    PluginError
        When a plugin fails in the worker (e.g. a module plugin not installed there).
    """
    for p in plugins:
        if p.key in _LOADED:
            continue
        try:
            if p.source is not None:
                _exec(p)
            else:
                _import(p.spec, p.key)
        except PluginError as exc:
            hint = "" if p.source is not None else "; a module plugin must be installed on every worker"
            raise PluginError(p.spec, f"{exc.cause} [in a worker process{hint}]") from None
        _LOADED[p.key] = p


def _exec(p: Plugin) -> types.ModuleType:
    """Execute the source of a file plugin as module ``p.module``."""
    assert p.source is not None
    module = types.ModuleType(p.module)
    module.__file__ = p.key
    sys.modules[p.module] = module  # before executing: dataclasses and pickling look the module up
    try:
        exec(compile(p.source, p.key, "exec"), module.__dict__)
    except BaseException as exc:
        del sys.modules[p.module]
        if not isinstance(exc, Exception):
            raise
        raise PluginError(p.spec, _cause(exc, p.key)) from None
    return module


def _import(spec: str, name: str) -> types.ModuleType:
    """Import a module plugin by its dotted name."""
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise PluginError(spec, _cause(exc, None)) from None


def _cause(exc: Exception, filename: str | None) -> str:
    """One line: the exception and where, ``(line N)`` in the plugin file, else ``(FILE, line N)``."""
    where: tuple[str | None, int | None]
    if isinstance(exc, SyntaxError) and exc.filename is not None:
        where = (exc.filename, exc.lineno)
        text = f"SyntaxError: {exc.msg}"
    else:
        machinery = (Path(__file__).resolve(), Path(importlib.__file__).resolve().parent)
        frames = [
            f
            for f in traceback.extract_tb(exc.__traceback__)
            if not f.filename.startswith("<frozen")
            and Path(f.filename).resolve() != machinery[0]
            and machinery[1] not in Path(f.filename).resolve().parents
        ]
        where = (frames[-1].filename, frames[-1].lineno) if frames else (None, None)
        text = _one_line(exc)
    if where[1] is None:
        return text
    if filename is not None and where[0] == filename:
        return f"{text} (line {where[1]})"
    return f"{text} ({where[0]}, line {where[1]})"


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: " + " ".join(str(exc).split())


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _module_sha(module: types.ModuleType) -> str:
    """Hash of a module plugin's source: its file, or every ``.py`` file of its package."""
    h = hashlib.sha256()
    file = getattr(module, "__file__", None)
    paths = getattr(module, "__path__", None)
    if paths is not None:
        for root in paths:
            for path in sorted(Path(root).rglob("*.py")):
                h.update(str(path.relative_to(root)).encode())
                h.update(path.read_bytes())
    elif file is not None and Path(file).is_file():
        h.update(Path(file).read_bytes())
    else:
        h.update(module.__name__.encode())
    return h.hexdigest()
