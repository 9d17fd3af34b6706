"""``r1theory cache info | prune DIR``: what a sweep cache holds, and removing what the current code cannot reuse.

A cache file ``<key[:2]>/<key>.npz`` (:class:`proofs_checks.sweep.Sweep`) records its task
(:func:`proofs_checks.sweep.task_meta`: cache version, worker ``fn``, configuration, code hash and plugin
digest). An entry is

* ``current`` when the key recomputed from its record with the *current* code hash of its worker
  (:func:`proofs_checks.codehash.code_hash`) is its file name: a sweep of this code reuses it;
* ``stale`` otherwise: its worker, the engine or the catalog changed since it was computed (editing a
  docstring, a comment, the report or an unrelated check does not make runs stale), or it was written
  by an older r1theory without a record, or under another cache version;
* ``unreadable``: not a result file (truncated, corrupt).

Runs computed with plugins loaded are judged with the plugin digest they recorded: the plugin's own
source cannot be checked here, so they stay ``current`` as long as the project code is unchanged.
Temporary files left by killed writers (``.tmp-*``) are counted but left alone: the next sweep in that
folder removes them. Prune while no sweep writes to the folder.

>>> from pathlib import Path
>>> scan(Path("no-such-folder"))
Traceback (most recent call last):
...
ValueError: cache folder no-such-folder does not exist; give the --out folder of verify or its cache/ subfolder
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .codehash import code_hash
from .sweep import CACHE_VERSION, load_meta, task_key

__all__ = ["CacheInfo", "Entry", "cache_folder", "describe", "human", "prune", "scan"]

Status = Literal["current", "stale", "unreadable"]
_KEY_FILE = re.compile(r"^[0-9a-f]{64}\.npz$")


@dataclass(frozen=True)
class Entry:
    """One cache file: its path, size in bytes, status and worker (None when unknown)."""

    path: Path
    size: int
    status: Status
    fn: str | None


@dataclass(frozen=True)
class CacheInfo:
    """The entries of a cache folder (:func:`scan`) and the temporary files left by killed writers."""

    folder: Path
    entries: tuple[Entry, ...]
    temporary: int

    def count(self, *status: Status) -> int:
        """Number of entries with one of the given statuses (all entries without one)."""
        return sum(1 for e in self.entries if not status or e.status in status)

    def size(self, *status: Status) -> int:
        """Bytes of the entries with one of the given statuses (all entries without one)."""
        return sum(e.size for e in self.entries if not status or e.status in status)


def cache_folder(path: Path) -> Path:
    """The cache folder named by ``path``: ``path/cache`` for an output folder of ``verify``, else ``path``.

    Raises
    ------
    ValueError
        When ``path`` does not exist or is not a folder.
    """
    if not path.exists():
        raise ValueError(f"cache folder {path} does not exist; give the --out folder of verify or its cache/ subfolder")
    if not path.is_dir():
        raise ValueError(f"{path} is not a folder; give the --out folder of `r1theory verify` or its cache/ subfolder")
    return path / "cache" if (path / "cache").is_dir() else path


def _status(path: Path) -> tuple[Status, str | None]:
    try:
        meta = load_meta(path)
    except ValueError:
        return "unreadable", None
    if meta is None:  # written before cache files recorded their task
        return "stale", None
    fn = meta.get("fn")
    if meta.get("version") != CACHE_VERSION or not isinstance(fn, str) or not isinstance(meta.get("config"), str):
        return "stale", fn if isinstance(fn, str) else None
    key = task_key(fn, meta["config"], code_hash(fn), meta.get("plugins", ""))
    return ("current" if key == path.stem else "stale"), fn


def scan(path: Path) -> CacheInfo:
    """Classify every result file of the cache folder ``path`` (module docstring); ``path`` may be an ``--out``.

    Raises
    ------
    ValueError
        When ``path`` does not exist or is not a folder.
    """
    folder = cache_folder(path)
    entries, temporary = [], 0
    for p in sorted(folder.glob("*/*")):
        if not p.is_file():
            continue
        if p.name.startswith(".tmp-"):
            temporary += 1
        elif _KEY_FILE.match(p.name):
            status, fn = _status(p)
            entries.append(Entry(p, p.stat().st_size, status, fn))
    return CacheInfo(folder, tuple(entries), temporary)


def prune(path: Path, dry_run: bool = False) -> tuple[CacheInfo, tuple[Entry, ...]]:
    """Delete the stale and unreadable entries of the cache at ``path`` (none with ``dry_run``).

    Returns
    -------
    tuple
        The scan before pruning and the entries deleted (or that would be, with ``dry_run``). Folders
        left empty are removed.
    """
    info = scan(path)
    doomed = tuple(e for e in info.entries if e.status != "current")
    if not dry_run:
        for e in doomed:
            e.path.unlink(missing_ok=True)
            try:
                e.path.parent.rmdir()  # only when empty
            except OSError:
                pass
    return info, doomed


def human(size: int) -> str:
    """Bytes in B, kB, MB or GB (powers of 1000, one decimal)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def describe(info: CacheInfo) -> str:
    """The report of ``r1theory cache info``: size, runs, current / stale / unreadable, by worker."""
    lines = [f"cache {info.folder}: {info.count()} runs, {human(info.size())}"]
    notes: dict[Status, str] = {
        "current": "reused by the current code",
        "stale": "computed by other code (or an older r1theory); never reused",
        "unreadable": "not result files",
    }
    for status, note in notes.items():
        lines.append(f"  {status:<10} {info.count(status):>6}  {human(info.size(status)):>9}  {note}")
    if info.temporary:
        lines.append(f"  {'temporary':<10} {info.temporary:>6}  left by killed writers; the next sweep removes them")
    workers = sorted({e.fn for e in info.entries if e.fn is not None})
    if workers:
        lines.append("by worker (current/stale):")
        for fn in workers:
            cur = sum(1 for e in info.entries if e.fn == fn and e.status == "current")
            old = sum(1 for e in info.entries if e.fn == fn and e.status == "stale")
            lines.append(f"  {fn}  {cur}/{old}")
    if bad := info.count("stale", "unreadable"):
        size = human(info.size("stale", "unreadable"))
        lines.append(f"`r1theory cache prune {info.folder}` deletes the {bad} stale and unreadable files ({size})")
    return "\n".join(lines)
