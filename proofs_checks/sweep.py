"""The sweep runner: parallel, cached on disk by configuration hash, resumable.

A :class:`Task` names a worker function (``"module:function"``) and a JSON-able configuration.
Its key is the SHA-256 of both plus :data:`CACHE_VERSION` and :data:`CODE_HASH` (a hash of the
source of the four packages), so the same configuration is computed once across checks, figures
and invocations, and a change to the code never serves results of the old code. Workers write their result atomically
(temporary file + ``os.replace``) as soon as it is computed, so an interrupted sweep resumes
where it stopped and never reads a half-written file; an unreadable cache file is recomputed.
One run at a time per cache folder: a new :class:`Sweep` removes temporary files left by killed writers.

Parallelism: joblib's process pool (loky) on one machine. Results do not depend on the worker
count or order: every task is a pure function of its configuration (seeds, when needed, are part
of the configuration, drawn from ``SeedSequence(root).spawn`` by the check that plans the tasks).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .progress import Progress
from .result import jsonable

CACHE_VERSION = "1"
_JSON_KEY = "__json__"
_PACKAGES = ("r1theory", "tabular_mdps", "proofs_checks", "figures")


def code_hash() -> str:
    """SHA-256 of every Python source file of the project's packages (path and bytes)."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for pkg in _PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


CODE_HASH = code_hash()


@dataclass(frozen=True)
class Task:
    """A unit of work: ``fn`` ("module:function") applied to a JSON configuration."""

    fn: str
    config_json: str

    @property
    def config(self) -> dict[str, Any]:
        """The configuration as a dictionary."""
        return json.loads(self.config_json)

    @property
    def key(self) -> str:
        """SHA-256 of the function name, configuration, cache version and code hash."""
        return hashlib.sha256(f"{CACHE_VERSION}|{CODE_HASH}|{self.fn}|{self.config_json}".encode()).hexdigest()


def make_task(fn: str, config: dict[str, Any]) -> Task:
    """Build a task; the configuration is canonicalised (sorted keys, numpy types converted)."""
    return Task(fn, json.dumps(jsonable(config), sort_keys=True, separators=(",", ":")))


def _resolve(fn: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    module, _, name = fn.partition(":")
    return getattr(importlib.import_module(module), name)


def save_result(path: Path, result: dict[str, Any]) -> None:
    """Write a result atomically: numeric arrays as .npz members, everything else as JSON."""
    arrays = {k: v for k, v in result.items() if isinstance(v, np.ndarray) and v.dtype.kind in "fiub"}
    rest = {k: v for k, v in result.items() if k not in arrays}
    payload = {**arrays, _JSON_KEY: np.array(json.dumps(jsonable(rest)))}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **payload)  # type: ignore[arg-type]
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_result(path: Path) -> dict[str, Any]:
    """Read a result written by :func:`save_result`; raises ValueError naming the file if it is unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            out: dict[str, Any] = json.loads(str(z[_JSON_KEY]))
            for k in z.files:
                if k != _JSON_KEY:
                    out[k] = z[k]
    except Exception as exc:
        raise ValueError(f"cache file {path} is unreadable ({type(exc).__name__}: {exc})") from exc
    return out


def execute(fn: str, config_json: str, path: str | None) -> dict[str, Any]:
    """Run one task and, when ``path`` is given, store its result there atomically."""
    result = _resolve(fn)(json.loads(config_json))
    if path is not None:
        save_result(Path(path), result)
    return result


class Sweep:
    """Execute tasks in parallel with an on-disk cache.

    Parameters
    ----------
    cache_dir
        Folder of the cache (created on demand); None disables caching.
    jobs
        Number of worker processes (1 runs in this process).
    progress
        Show a progress bar on ``stream`` (stderr by default).
    """

    def __init__(
        self, cache_dir: Path | None, jobs: int = 1, progress: bool = True, stream: TextIO | None = None
    ) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1; got {jobs}")
        self.cache_dir, self.jobs, self.progress, self.stream = cache_dir, jobs, progress, stream
        self.computed = 0
        self.reused = 0
        if cache_dir is not None and cache_dir.exists():
            for stale in cache_dir.rglob(".tmp-*"):  # left by a writer killed mid-write; never read
                stale.unlink(missing_ok=True)

    def path(self, task: Task) -> Path | None:
        """Cache file of ``task`` (None without a cache)."""
        if self.cache_dir is None:
            return None
        return self.cache_dir / task.key[:2] / f"{task.key}.npz"

    def run(self, tasks: Sequence[Task], label: str = "sweep") -> list[dict[str, Any]]:
        """Results of ``tasks`` in order, computing only those missing from the cache."""
        unique = list(dict.fromkeys(tasks))
        done: dict[Task, dict[str, Any]] = {}
        for t in unique:
            p = self.path(t)
            if p is not None and p.exists():
                try:
                    done[t] = load_result(p)
                    self.reused += 1
                except ValueError:
                    p.unlink(missing_ok=True)  # corrupt: recompute
        todo = [t for t in unique if t not in done]
        bar = Progress(label, len(todo), self.stream, enabled=self.progress)
        args = [(t.fn, t.config_json, None if self.path(t) is None else str(self.path(t))) for t in todo]
        if self.jobs == 1 or len(todo) <= 1:
            for t, a in zip(todo, args, strict=True):
                done[t] = execute(*a)
                bar.advance()
        else:
            from joblib import Parallel, delayed

            par = Parallel(n_jobs=self.jobs, return_as="generator", batch_size=1)
            for t, res in zip(todo, par(delayed(execute)(*a) for a in args), strict=True):
                done[t] = res
                bar.advance()
        self.computed += len(todo)
        return [done[t] for t in tasks]
