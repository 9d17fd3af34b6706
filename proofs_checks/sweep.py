"""The sweep runner: parallel, cached on disk by configuration hash, resumable.

A :class:`Task` names a worker function (``"module:function"``) and a JSON-able configuration.
Its key is the SHA-256 of both plus :data:`CACHE_VERSION` and the hash of the code that computes it
(:func:`proofs_checks.codehash.code_hash`: the engine, the catalog and the modules the worker imports,
without docstrings, comments and formatting), so the same configuration is computed once across
checks, figures and invocations, a change to a formula never serves results of the old code, and
editing the report writer, a figure or a docstring keeps every cached run. Each cache file also
records its task (worker, configuration, code hash; :func:`task_meta`), so ``r1theory cache info``
can tell the runs of the current code from stale ones (:mod:`proofs_checks.cache`). Workers write
their result atomically (temporary file + ``os.replace``) as soon as it is computed, so an
interrupted sweep resumes where it stopped and never reads a half-written file; an unreadable cache
file is recomputed. One run at a time per cache folder: a new :class:`Sweep` removes temporary files
left by killed writers.

Batching: a worker may declare that its tasks run faster together (:func:`register_batching`).
The uncached tasks of such a worker are grouped by the worker's batch key (for the exact runs of
:mod:`proofs_checks.runs`: one MDP, parametrisation, θ₀, iteration cap and tolerance) and each group,
split into chunks of at most :attr:`Batching.size` tasks (and into at least as many chunks as there
are workers), is one job: the batch function computes the chunk in lockstep and hands each task's
result to the sweep as soon as it is final, which writes it under the task's own key. The cache stays
one file per task, so resume, ``cache info`` and the Dask path see no difference; a chunk interrupted
halfway keeps the results it already wrote. A task whose key is None runs alone.

Parallelism: joblib's process pool (loky) on one machine, or — with ``Sweep(..., scheduler=
"tcp://host:port")`` (``r1theory verify --scheduler``) — the workers of a Dask cluster
(dask.distributed, the optional extra ``pip install 'r1theory[dask]'``, imported only then). Results
do not depend on the worker count, order or executor: every task is a pure function of its
configuration (seeds, when needed, are part of the configuration, drawn from
``SeedSequence(root).spawn`` by the check that plans the tasks), the cache key is the same, and
the cached value is the same.

Interruption: the local workers die with the run that started them, whatever ends it. An exception
in this process during a sweep (Ctrl-C's KeyboardInterrupt, or the SIGTERM that the command line
turns into one, :mod:`r1theory_cli`) cancels the pending tasks and kills the workers before it
propagates; a worker whose parent is killed outright (SIGKILL, no chance to clean up) notices
within :data:`PARENT_POLL` seconds that it was re-parented and exits (:func:`_worker_start`), and
the pool's resource trackers exit once no worker holds their pipe. Workers ignore SIGINT, so a
Ctrl-C at a terminal (sent to the whole process group) is handled once, by this process. On a Dask
cluster the client cancels the run's pending tasks and disconnects; the workers belong to the
cluster and stay (a task already running there finishes and its result is discarded).

Plugins (:mod:`proofs_checks.plugins`) loaded in this process reach every worker: each task carries
the records of the loaded plugins and the worker loads those it has not loaded yet before running
it (a file plugin from its recorded source, so a Dask worker needs no copy of the file; a module
plugin by name, so it must be installed there). While plugins are loaded, the cache key also covers
their sources.

On a cluster, each task is submitted under its cache key as the Dask key; the worker computes the
result and returns it, and this process writes it to the cache (atomically, as it arrives), so the
workers need no access to the cache folder. The workers must run the same code: each checks that
its :func:`~proofs_checks.codehash.code_hash` of the task's worker equals this process's (the code
component of the task's key) and refuses the task otherwise.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import io
import itertools
import json
import os
import re
import signal
import socket
import threading
import time
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, TypeVar, cast

import numpy as np

from tabular_mdps.files import atomic_write

from . import plugins as _plugins
from .codehash import code_hash
from .progress import Progress
from .result import jsonable

_T = TypeVar("_T")


def __getattr__(name: str) -> str:
    """``CODE_HASH``: the hash of all four packages, computed on first use (prefer :func:`code_hash`)."""
    if name == "CODE_HASH":
        return code_hash()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Bumped when the key formula or the file layout changes ("2": normalised per-worker code hash, task metadata).
CACHE_VERSION = "2"
_JSON_KEY = "__json__"
#: The .npz member holding the task's record (:func:`task_meta`); not part of the result.
_META_KEY = "__task__"


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
        """SHA-256 of the function name, configuration, cache version and the hash of the code it runs.

        The code includes the loaded plugins, if any (:func:`proofs_checks.plugins.digest`).
        """
        return task_key(self.fn, self.config_json, code_hash(self.fn), _plugins.digest())


def task_key(fn: str, config_json: str, code: str, plugins: str = "") -> str:
    """The cache key from its parts: worker, canonical configuration, code hash and plugin digest ("" if none)."""
    if plugins:
        code = f"{code}+{plugins}"
    return hashlib.sha256(f"{CACHE_VERSION}|{code}|{fn}|{config_json}".encode()).hexdigest()


def task_meta(task: Task) -> dict[str, str]:
    """What a cache file records about its task: every part of its key (:func:`task_key`).

    ``{"version", "fn", "config", "code", "plugins"}``: with them, :mod:`proofs_checks.cache` recomputes
    the key and tells whether the file belongs to the current code.
    """
    return {
        "version": CACHE_VERSION,
        "fn": task.fn,
        "config": task.config_json,
        "code": code_hash(task.fn),
        "plugins": _plugins.digest(),
    }


def make_task(fn: str, config: dict[str, Any]) -> Task:
    """Build a task; the configuration is canonicalised (sorted keys, numpy types converted)."""
    return Task(fn, json.dumps(jsonable(config), sort_keys=True, separators=(",", ":")))


#: A batch function: ``run(configs, emit)`` computes every configuration and calls ``emit(i, result)`` for
#: configuration i as soon as its result is final (each exactly once).
BatchFn = Callable[[list[dict[str, Any]], Callable[[int, dict[str, Any]], None]], None]


@dataclass(frozen=True)
class Batching:
    """How the tasks of one worker run together (module docstring, *Batching*).

    Attributes
    ----------
    key
        The batch key of a configuration: tasks with equal keys may run as one job; None runs the task
        alone. It must be a pure function of the configuration.
    run
        ``"module:function"`` of the :data:`BatchFn` that computes a chunk; its results must be those the
        worker would return for each configuration (the same record, equal to rounding).
    size
        The largest chunk.
    """

    key: Callable[[dict[str, Any]], Hashable | None]
    run: str
    size: int = 256


_BATCHING: dict[str, Batching] = {}


def register_batching(fn: str, batching: Batching) -> None:
    """Declare that the tasks of worker ``fn`` ("module:function") may run in chunks by ``batching``.

    Called by the worker's module when it is imported (e.g. :mod:`proofs_checks.runs`).
    """
    if batching.size < 1:
        raise ValueError(f"Batching.size must be >= 1; got {batching.size}")
    _BATCHING[fn] = batching


def _batching(fn: str) -> Batching | None:
    """The batching registered for worker ``fn``, importing its module first (which registers it)."""
    if fn not in _BATCHING:
        importlib.import_module(fn.partition(":")[0])
    return _BATCHING.get(fn)


def _resolve(fn: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    module, _, name = fn.partition(":")
    return getattr(importlib.import_module(module), name)


def save_result(path: Path, result: dict[str, Any], meta: dict[str, str] | None = None) -> None:
    """Write a result atomically: numeric arrays as .npz members, everything else as JSON.

    ``meta`` (:func:`task_meta`, what the sweep passes) is stored beside the result, as JSON, and is
    not part of what :func:`load_result` returns (:func:`load_meta` reads it).
    """
    arrays = {k: v for k, v in result.items() if isinstance(v, np.ndarray) and v.dtype.kind in "fiub"}
    rest = {k: v for k, v in result.items() if k not in arrays}
    payload = {**arrays, _JSON_KEY: np.array(json.dumps(jsonable(rest)))}
    if meta is not None:
        payload[_META_KEY] = np.array(json.dumps(meta))
    buf = io.BytesIO()
    np.savez(buf, **payload)  # type: ignore[arg-type]
    atomic_write(path, buf.getvalue())


def load_result(path: Path) -> dict[str, Any]:
    """Read a result written by :func:`save_result`; raises ValueError naming the file if it is unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            out: dict[str, Any] = json.loads(str(z[_JSON_KEY]))
            for k in z.files:
                if k not in (_JSON_KEY, _META_KEY):
                    out[k] = z[k]
    except Exception as exc:
        raise ValueError(f"cache file {path} is unreadable ({type(exc).__name__}: {exc})") from exc
    return out


def load_meta(path: Path) -> dict[str, str] | None:
    """The task record (:func:`task_meta`) of a cache file; None for a file written without one.

    Raises
    ------
    ValueError
        Naming the file, when it is not a readable result file.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            if _JSON_KEY not in z.files:
                raise ValueError(f"no {_JSON_KEY} member")
            return json.loads(str(z[_META_KEY])) if _META_KEY in z.files else None
    except Exception as exc:
        raise ValueError(f"cache file {path} is unreadable ({type(exc).__name__}: {exc})") from exc


def execute(
    fn: str,
    config_json: str,
    path: str | None,
    plugins: Sequence[_plugins.Plugin] = (),
    meta: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run one task and, when ``path`` is given, store its result there atomically (with ``meta``).

    ``plugins`` (the parent's :func:`proofs_checks.plugins.loaded`) are loaded first where missing.
    """
    _plugins.ensure(plugins)
    result = _resolve(fn)(json.loads(config_json))
    if path is not None:
        save_result(Path(path), result, meta)
    return result


def execute_chunk(
    run: str,
    config_jsons: Sequence[str],
    paths: Sequence[str | None],
    plugins: Sequence[_plugins.Plugin] = (),
    metas: Sequence[dict[str, str] | None] = (),
) -> list[dict[str, Any]]:
    """Run a chunk of tasks with the batch function ``run``; store each result at its path as it is final."""
    _plugins.ensure(plugins)
    batch = cast(BatchFn, _resolve(run))
    results: list[dict[str, Any] | None] = [None] * len(config_jsons)

    def emit(i: int, result: dict[str, Any]) -> None:
        if results[i] is not None:
            raise RuntimeError(f"batch function {run} reported configuration {i} twice")
        results[i] = result
        if paths[i] is not None:
            save_result(Path(cast(str, paths[i])), result, metas[i] if metas else None)

    batch([json.loads(c) for c in config_jsons], emit)
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        raise RuntimeError(f"batch function {run} returned without results for configurations {missing}")
    return cast(list[dict[str, Any]], results)


def _run_job(job: _Job) -> list[dict[str, Any]]:
    """Execute one job locally (in a worker or in this process): a chunk, or a single task."""
    if job.run is None:
        return [execute(job.fns[0], job.configs[0], job.paths[0], job.plugins, job.metas[0])]
    return execute_chunk(job.run, job.configs, job.paths, job.plugins, job.metas)


def _run_job_remote(job: _Job, codes: Sequence[str]) -> list[dict[str, Any]]:
    """Execute one job on a Dask worker (no cache access), after checking the worker's code (:func:`execute_remote`)."""
    for fn, code in zip(job.fns, codes, strict=True):
        _check_code(fn, code)
    remote = dataclasses.replace(job, paths=tuple(None for _ in job.paths))
    return _run_job(remote)


@dataclass(frozen=True)
class _Job:
    """Tasks computed by one call: a single task (``run`` None) or a chunk of a batching worker."""

    run: str | None
    fns: tuple[str, ...]
    configs: tuple[str, ...]
    paths: tuple[str | None, ...]
    metas: tuple[dict[str, str] | None, ...]
    plugins: tuple[_plugins.Plugin, ...]


def plan_jobs(tasks: Sequence[Task], jobs: int = 1) -> list[list[int]]:
    """Group task indices into jobs: chunks of batchable tasks with equal keys, singletons otherwise.

    A group of n tasks with the same batch key becomes ⌈n/size⌉ chunks, or min(jobs, n) if more, of
    near-equal size (consecutive in task order); chunks come first, largest first, then single tasks in
    their order.
    """
    groups: dict[tuple[str, Hashable], list[int]] = {}
    single: list[list[int]] = []
    for i, t in enumerate(tasks):
        b = _batching(t.fn)
        k = None if b is None else b.key(t.config)
        if b is None or k is None:
            single.append([i])
        else:
            groups.setdefault((t.fn, k), []).append(i)
    chunks: list[list[int]] = []
    for (fn, _), idx in groups.items():
        size = _BATCHING[fn].size
        n = max(-(-len(idx) // size), min(jobs, len(idx)))
        bounds = np.linspace(0, len(idx), n + 1).round().astype(int)
        chunks += [idx[a:b] for a, b in itertools.pairwise(bounds.tolist()) if b > a]
    chunks.sort(key=len, reverse=True)
    return chunks + single


def execute_remote(fn: str, config_json: str, code: str, plugins: Sequence[_plugins.Plugin] = ()) -> dict[str, Any]:
    """Run one task on a Dask worker, after checking that the worker runs the client's code.

    The client's ``plugins`` are loaded on the worker first (file plugins from their recorded source).

    Raises
    ------
    RuntimeError
        When the worker's :func:`~proofs_checks.codehash.code_hash` of ``fn`` differs from ``code``, the
        client's (its result would be cached under a key that promises the client's code).
    """
    _check_code(fn, code)
    return execute(fn, config_json, None, plugins)


def _check_code(fn: str, code: str) -> None:
    """Raise RuntimeError unless this process's code hash of worker ``fn`` is ``code`` (the client's)."""
    mine = code_hash(fn)
    if code != mine:
        raise RuntimeError(
            f"this Dask worker runs different r1theory code (code hash {mine[:12]}… for {fn}) than the client "
            f"({code[:12]}…); install the same version of the project on every worker"
        )


#: Seconds between a local worker's checks that the process that started it is still its parent.
PARENT_POLL = 0.5


def _worker_start(parent: int) -> None:
    """Initializer of every local (loky) worker: ignore SIGINT and exit when ``parent`` is gone.

    A daemon thread polls ``os.getppid()`` every :data:`PARENT_POLL` seconds; when it differs from
    ``parent`` (the pid of the process running the sweep, the workers' parent), that process has
    died — the kernel re-parents an orphan to init or a subreaper (``getppid(2)``) — and the worker
    exits at once with status 1 (``os._exit``: its half-written cache file, if any, is a temporary
    file that the next run removes). Polling rather than ``prctl(PR_SET_PDEATHSIG)``: the latter
    fires when the parent *thread* that spawned the worker exits, and loky may spawn from threads.
    SIGINT is ignored because a terminal's Ctrl-C reaches the whole process group: the parent alone
    handles it (it kills the workers, :meth:`Sweep.run`).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), name="r1theory-parent-watch", daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """Return never; exit the process once its parent is no longer ``parent``."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL)
    os._exit(1)


#: Scheduler addresses accepted by :class:`Sweep`: ``protocol://rest`` with a dask.distributed protocol.
SCHEDULER_RE = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://\S+$")

_NO_DASK = (
    "running a sweep on a Dask cluster (scheduler={address!r}) needs dask.distributed, which is not "
    "installed; install the optional extra: pip install 'r1theory[dask]' (or 'dask[distributed]>=2024.1')"
)


def check_scheduler(address: Any, timeout: float | None = None) -> str:
    """Validate a Dask scheduler address (``tcp://HOST:PORT``, or another dask.distributed protocol).

    With ``timeout`` (seconds), also open a TCP connection to its host and port (protocols tcp, tls,
    ws, wss), so that a scheduler nobody listens at is reported before any work starts
    (``r1theory verify --scheduler`` uses 5 s; a refused connection fails at once).

    Raises
    ------
    ValueError
        When ``address`` is not a string of the form ``protocol://...`` with a known protocol.
    ImportError
        When dask.distributed is not installed (the message names the extra to install).
    ConnectionError
        With ``timeout``, when nothing accepts a connection at the address within it.
    """
    if not isinstance(address, str) or not SCHEDULER_RE.match(address):
        raise ValueError(
            f"scheduler must be a Dask scheduler address such as 'tcp://HOST:PORT' "
            f"(protocols tcp, tls, inproc, ucx, ws, wss); got {address!r}"
        )
    _distributed(address)
    protocol, _, rest = address.partition("://")
    if timeout is not None and protocol in ("tcp", "tls", "ws", "wss"):
        hostport = rest.split("/")[0]
        if hostport.startswith("["):  # [IPv6]:PORT
            host, _, port = hostport[1:].partition("]")
            port = port.removeprefix(":")
        else:
            host, sep, port = hostport.rpartition(":")
            host, port = (host, port) if sep else (hostport, "")
        try:  # dask's default scheduler port is 8786
            socket.create_connection((host or "localhost", int(port or 8786)), timeout=timeout).close()
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            raise ConnectionError(
                f"cannot reach the Dask scheduler at {address} ({reason}); start one (e.g. `dask scheduler` and "
                "`dask worker ADDRESS`) or run without --scheduler"
            ) from exc
    return address


def _distributed(address: str) -> Any:
    """The dask.distributed module, imported only when a sweep runs on a cluster."""
    try:
        return importlib.import_module("dask.distributed")
    except ImportError as exc:
        raise ImportError(_NO_DASK.format(address=address)) from exc


class Sweep:
    """Execute tasks in parallel with an on-disk cache.

    Parameters
    ----------
    cache_dir
        Folder of the cache (created on demand); None disables caching.
    jobs
        Number of worker processes (1 runs in this process); ignored with ``scheduler``.
    progress
        Show a progress bar on ``stream`` (stderr by default).
    scheduler
        Address of a Dask scheduler (``"tcp://HOST:PORT"``): run the tasks on that cluster's workers
        instead of a local process pool (module docstring). Needs the ``dask`` extra.

    Raises
    ------
    ValueError
        For ``jobs < 1`` or a malformed scheduler address.
    ImportError
        With ``scheduler`` when dask.distributed is not installed.
    """

    def __init__(
        self,
        cache_dir: Path | None,
        jobs: int = 1,
        progress: bool = True,
        stream: TextIO | None = None,
        scheduler: str | None = None,
    ) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1; got {jobs}")
        self.scheduler = None if scheduler is None else check_scheduler(scheduler)
        self._unreachable: str | None = None
        self.cache_dir, self.jobs, self.progress, self.stream = cache_dir, jobs, progress, stream
        self.computed = 0
        self.reused = 0
        self._derived: dict[Hashable, Any] = {}
        if cache_dir is not None and cache_dir.exists():
            for stale in cache_dir.rglob(".tmp-*"):  # left by a writer killed mid-write; never read
                stale.unlink(missing_ok=True)

    def memoised(self, key: Hashable, compute: Callable[[], _T]) -> _T:
        """``compute()``, once per runner and key: a derived result kept on the runner.

        E.g. a check's whole sweep, shared with the figures that plot it; it lives exactly as long
        as the runner whose results it is made of.
        """
        if key not in self._derived:
            self._derived[key] = compute()
        return cast(_T, self._derived[key])

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
        loaded = _plugins.loaded()
        try:
            if self.scheduler is not None and todo:
                self._run_dask(todo, done, bar, loaded)
                return [done[t] for t in tasks]
            jobs, groups = self._jobs(todo, self.jobs, loaded)
            if self.jobs == 1 or len(jobs) <= 1:
                for job, ts in zip(jobs, groups, strict=True):
                    done.update(zip(ts, _run_job(job), strict=True))
                    bar.advance(len(ts))
            else:
                watch = _Watch(todo, [self.path(t) for t in todo], done, bar)
                from joblib import Parallel, delayed

                par = Parallel(
                    n_jobs=self.jobs,
                    return_as="generator_unordered",
                    batch_size=1,
                    initializer=_worker_start,
                    initargs=(os.getpid(),),
                )
                results = par(delayed(_indexed)(k, job) for k, job in enumerate(jobs))
                try:
                    for k, res in results:
                        with watch.lock:
                            done.update(zip(groups[k], res, strict=True))
                        watch.sync()
                finally:  # left early (an interrupt between results): joblib cancels the rest, kills the workers
                    watch.stop()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # joblib's "tasks ... have been cancelled"
                        results.close()
        finally:
            bar.close()
            self.computed += len(todo) - sum(t not in done for t in todo)
        return [done[t] for t in tasks]

    def _jobs(
        self, todo: list[Task], parallel: int, loaded: tuple[_plugins.Plugin, ...]
    ) -> tuple[list[_Job], list[list[Task]]]:
        """The jobs computing ``todo`` for ``parallel`` workers (:func:`plan_jobs`), and the tasks of each."""
        jobs, groups = [], []
        for idx in plan_jobs(todo, parallel):
            ts = [todo[i] for i in idx]
            b = _batching(ts[0].fn)
            key = None if b is None else b.key(ts[0].config)
            jobs.append(
                _Job(
                    run=None if b is None or key is None else b.run,
                    fns=tuple(t.fn for t in ts),
                    configs=tuple(t.config_json for t in ts),
                    paths=tuple(None if self.path(t) is None else str(self.path(t)) for t in ts),
                    metas=tuple(task_meta(t) for t in ts),
                    plugins=loaded,
                )
            )
            groups.append(ts)
        return jobs, groups

    def _run_dask(
        self,
        todo: list[Task],
        done: dict[Task, dict[str, Any]],
        bar: Progress,
        loaded: tuple[_plugins.Plugin, ...],
    ) -> None:
        """Compute ``todo`` on the Dask cluster (chunks for its thread count); cache each result as it arrives."""
        assert self.scheduler is not None
        if self._unreachable is not None:  # do not wait for the connect timeout again in every run
            raise ConnectionError(self._unreachable)
        distributed = _distributed(self.scheduler)
        try:
            client = distributed.Client(self.scheduler, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            self._unreachable = (
                f"cannot reach the Dask scheduler at {self.scheduler} ({type(exc).__name__}: {exc}); "
                "start one (e.g. `dask scheduler` and `dask worker ADDRESS`) or run without a scheduler"
            )
            raise ConnectionError(self._unreachable) from exc
        with client:
            jobs, groups = self._jobs(todo, max(1, sum(client.nthreads().values())), loaded)
            futures = {}
            for job, ts in zip(jobs, groups, strict=True):
                codes = [code_hash(t.fn) for t in ts]
                if job.run is None:
                    t = ts[0]
                    fut = client.submit(
                        execute_remote, t.fn, t.config_json, codes[0], job.plugins,
                        key=f"r1theory-task-{t.key}", pure=False,
                    )  # fmt: skip
                else:
                    name = hashlib.sha256("|".join(t.key for t in ts).encode()).hexdigest()
                    fut = client.submit(_run_job_remote, job, codes, key=f"r1theory-chunk-{name}", pure=False)
                futures[fut] = ts
            try:
                for fut in distributed.as_completed(list(futures), loop=client.loop):
                    ts = futures[fut]
                    res = fut.result()  # re-raises a task's exception here
                    out: list[dict[str, Any]] = [res] if len(ts) == 1 and isinstance(res, dict) else list(res)
                    for t, r in zip(ts, out, strict=True):
                        p = self.path(t)
                        if p is not None:
                            save_result(p, r, task_meta(t))
                        done[t] = r
                    bar.advance(len(ts))
            finally:
                client.cancel(list(futures))  # no-op for finished tasks; stops the rest after an error


class _Watch:
    """Advance a sweep's bar as results appear in the cache, also those a worker writes within a chunk.

    A chunk reports to this process only when all its runs are done, which can take minutes; its
    worker writes each run's cache file as soon as it is final. A daemon thread counts, every
    :data:`WATCH_EVERY` seconds, the tasks that are done or have their cache file, and advances the
    bar to that count (:meth:`sync`, also called as each chunk returns).
    """

    def __init__(self, todo: list[Task], paths: list[Path | None], done: dict[Task, Any], bar: Progress) -> None:
        self.todo, self.paths, self.done, self.bar = todo, paths, done, bar
        self.lock = threading.Lock()
        self.shown = 0
        self.seen = [False] * len(todo)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="r1theory-sweep-watch", daemon=True)
        self._thread.start()

    def sync(self) -> None:
        """Advance the bar to the number of tasks done or cached."""
        with self.lock:
            for i, (t, p) in enumerate(zip(self.todo, self.paths, strict=True)):
                if not self.seen[i] and (t in self.done or (p is not None and p.exists())):
                    self.seen[i] = True
            n = sum(self.seen)
            if n > self.shown:
                self.bar.advance(n - self.shown)
                self.shown = n

    def stop(self) -> None:
        """Stop the thread (idempotent)."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(WATCH_EVERY):
            self.sync()


#: Seconds between two counts of a sweep's cache files (:class:`_Watch`).
WATCH_EVERY = 2.0


def _indexed(k: int, job: _Job) -> tuple[int, list[dict[str, Any]]]:
    """``(k, results of job k)``: unordered results from the process pool keep their job's index."""
    return k, _run_job(job)
