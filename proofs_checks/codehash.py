"""The code component of a sweep task's cache key: what computes its numbers, normalised.

A run's cache key (:attr:`proofs_checks.sweep.Task.key`) hashes its configuration and the code that
computes it. :func:`code_hash` ``(fn)`` is that code, for a task whose worker is ``fn`` =
``"module:function"``:

* every source file of the engine ``r1theory/`` and of the catalog ``tabular_mdps/`` (a worker reaches
  most of them through the method registry and the catalog, so they are taken whole);
* the worker's module and, transitively, every module of ``proofs_checks/`` and ``figures/`` it imports
  (statically, anywhere in the file: top level, inside functions, under ``TYPE_CHECKING``), with the
  ``__init__.py`` of every package on the way, since importing ``a.b.c`` runs ``a/__init__.py`` and
  ``a/b/__init__.py``;
* except the modules that drive, show or write runs and never compute one, :data:`NOT_WORKER_CODE`: the
  sweep runner (it calls a worker and stores what it returns; a change to the stored format bumps
  :data:`proofs_checks.sweep.CACHE_VERSION`), the verify runner (check modules import its
  ``module_main`` for ``python -m``), the report writer, the progress bar and the command-line helpers.
  What they import is not followed through them.

So editing the report writer, the command line, a figure no worker imports, or a check other than the
worker's changes no key; changing a formula of the engine changes every key, and changing a check's
worker changes the keys of its runs. A module named only in a string and imported with
:func:`importlib.import_module` is not followed: a worker must import what it computes with.

Each file counts by its abstract syntax tree without docstrings: ``ast.dump`` of ``ast.parse(source)``
after dropping every bare string statement (module, class and function docstrings and attribute
docstrings). ``ast.parse`` drops comments and formatting, and ``ast.dump`` leaves out line numbers, so
editing a docstring, a comment or the layout keeps every key. The AST format belongs to the Python
version: a cache is shared between machines running the same Python minor version. A file that does
not parse counts by its bytes.

Cost: each file is parsed once per process (:func:`source_digest` is memoised), and so is each
worker's closure; the whole tree (~150 files) takes about 0.2 s the first time.

>>> code_hash("proofs_checks.runs:run_method") == code_hash("proofs_checks.runs:other_function")
True
"""

from __future__ import annotations

import ast
import functools
import hashlib
import threading
from pathlib import Path

__all__ = [
    "ENGINE_PACKAGES",
    "NOT_WORKER_CODE",
    "PACKAGES",
    "ROOT",
    "WORKER_PACKAGES",
    "code_hash",
    "module_closure",
    "source_digest",
]

#: The folder holding the four import packages (the repository root of an editable install).
ROOT = Path(__file__).resolve().parent.parent
#: Packages hashed whole for every task: the engine and the catalog.
ENGINE_PACKAGES = ("r1theory", "tabular_mdps")
#: Packages of which a task counts only the modules its worker imports (transitively).
WORKER_PACKAGES = ("proofs_checks", "figures")
#: Modules never followed: they run checks, draw progress or write reports, and no worker calls them.
NOT_WORKER_CODE = frozenset(
    {
        "proofs_checks.sweep",
        "proofs_checks.runner",
        "proofs_checks.report",
        "proofs_checks.progress",
        "proofs_checks._cli_args",
        "figures._cli",
    }
)
#: The four import packages (:func:`code_hash` without a worker: the provenance of a whole run).
PACKAGES = (*ENGINE_PACKAGES, *WORKER_PACKAGES)


#: Serialises ``ast.parse``: CPython 3.11 keeps the AST constructor's recursion depth in state shared by
#: threads, so two threads parsing at once (a Dask worker's threads) fail with "SystemError: AST
#: constructor recursion depth mismatch" (python/cpython#106905).
_AST_LOCK = threading.Lock()


def _parse(data: bytes, path: Path) -> ast.Module:
    with _AST_LOCK:
        return ast.parse(data, filename=str(path))


class _DropStrings(ast.NodeTransformer):
    """Remove bare string statements (docstrings): they never change what the code computes."""

    def visit_Expr(self, node: ast.Expr) -> ast.Expr | None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None
        return node


@functools.cache
def source_digest(path: Path) -> str:
    """SHA-256 of ``ast.dump`` of the Python file ``path`` without its docstrings (module docstring).

    Comments, formatting and docstrings do not count; a file with a syntax error counts by its bytes.
    Memoised per process and path.
    """
    data = path.read_bytes()
    try:
        tree = _parse(data, path)
    except (SyntaxError, ValueError):
        return hashlib.sha256(b"bytes:" + data).hexdigest()
    return hashlib.sha256(ast.dump(_DropStrings().visit(tree)).encode()).hexdigest()


def _module_file(name: str, root: Path) -> Path | None:
    """The source file of module ``name`` under ``root`` (module or package), or None."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(name: str, path: Path) -> set[str]:
    """Absolute names of the modules ``path`` (module ``name``) imports, and of the candidates ``from X import y``."""
    try:
        tree = _parse(path.read_bytes(), path)
    except (SyntaxError, ValueError):
        return set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{node.module}" if node.module else anchor
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
    return found


@functools.cache
def module_closure(module: str, root: Path = ROOT) -> tuple[Path, ...]:
    """Files of ``proofs_checks/`` and ``figures/`` that importing ``module`` runs, sorted.

    ``module`` itself when it lives there, every module of those packages it imports, transitively
    (:func:`ast.walk` over each file, so imports inside functions count too), and the ``__init__.py``
    of each package on the way. :data:`NOT_WORKER_CODE` is not followed, nor are modules outside
    :data:`WORKER_PACKAGES` (the engine and the catalog are hashed whole; third-party code is not
    hashed). Memoised per process.
    """
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        if name in seen or parts[0] not in WORKER_PACKAGES or name in NOT_WORKER_CODE:
            continue
        path = _module_file(name, root)
        if path is None:  # `from pkg import function`: pkg.function is not a module
            continue
        seen[name] = path
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages run first
        todo.extend(_imports(name, path))
    return tuple(sorted(seen.values()))


@functools.cache
def code_hash(fn: str | None = None, root: Path = ROOT) -> str:
    """SHA-256 of the normalised code a task with worker ``fn`` runs (module docstring).

    Parameters
    ----------
    fn
        The task's worker, ``"module:function"`` (only the module matters); None hashes all of
        :data:`PACKAGES` (the provenance of a whole run, :data:`proofs_checks.sweep.CODE_HASH`).
    root
        The folder holding the packages (tests point it at a copy).

    Returns
    -------
    str
        Hex digest over the sorted (relative path, :func:`source_digest`) pairs. Memoised per process.
    """
    if fn is None:
        files = [p for pkg in PACKAGES for p in (root / pkg).rglob("*.py")]
    else:
        files = [p for pkg in ENGINE_PACKAGES for p in (root / pkg).rglob("*.py")]
        files += module_closure(fn.partition(":")[0], root)
    h = hashlib.sha256()
    for path in sorted(set(files)):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(source_digest(path).encode())
    return h.hexdigest()
