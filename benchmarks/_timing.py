"""The one timing helper and BENCH-line convention of every ``benchmarks/bench_*.py``.

The BENCH-line convention (one for every benchmark, so ``run.py`` needs no table)
--------------------------------------------------------------------------------
Each benchmark prints exactly one line per ratio

    BENCH <name> ratio=<median> target=<value> spread=<min>..<max>

where the ratio is always a *speed-up*: **time(baseline) / time(measured)**, measured in the same
run. Bigger is always better, and the benchmark passes iff **ratio >= target**; ``target`` is a
minimum, never a maximum. ``ratio`` is the median of the per-round ratios of at least
:data:`MIN_ROUNDS` paired rounds and ``spread`` their minimum and maximum (see "Timing method").

* "measured must be at least X times faster than the baseline" → ``target = X``
  (e.g. a direction vs the dense route: ``ratio = t_dense / t_engine``, ``target=100``).
* "measured must cost at most X times the floor" → ``ratio = t_floor / t_measured`` and
  ``target = 1/X`` (e.g. ``policy_gradient`` within 1.5× of its floor:
  ``ratio = t_floor / t_policy_gradient``, ``target=0.667``; a ratio of 0.8 means the engine
  costs 1.25× the floor).

``<name>`` is a single token without spaces; the values are Python float literals.

Threads
-------
Every script calls :func:`start` first. It pins every BLAS / OpenMP thread pool loaded in the
process (numpy's and scipy's OpenBLAS are separate libraries; scipy.linalg and
scipy.sparse.linalg are imported first so that scipy's is loaded) to :func:`blas_threads` threads
with threadpoolctl (``pip install -e '.[bench]'``), default 1, overridable by the environment
variable ``R1_BENCH_THREADS`` (``run.py --threads N`` sets it), and prints the line
``[<script>] BLAS threads: N (...)`` that ``run.py`` checks. :func:`emit` checks again that every
pool still runs N threads before it prints a BENCH line. Baseline and measurement therefore always
use the same, stated number of threads. One thread is the default because threaded OpenBLAS on a
shared 2-core machine turns the load of *other* processes into 5–50× stalls of small threaded
calls (workers waiting for a descheduled sibling) but only 2–4× slowdowns of large ones, so a
ratio measured with 2 threads moved by up to 25× from run to run.

Timing method
-------------
:func:`time_interleaved` calibrates an inner loop per callable (so every timed block lasts at
least ``min_sample`` seconds and never less than :data:`MIN_BLOCK`, far above the timer's
resolution), runs ``warmup`` untimed rounds, then takes at least ``repeats`` rounds in which every
callable is timed once, with the garbage collector off. The order alternates from round to round
(A B C, C B A, ...), so a linear drift within a round hits both sides of a pair alike.
:func:`paired_ratio` then divides baseline by measurement **round by round** and reports the
median of those per-round ratios with their minimum and maximum: a slow change in the machine's
load (other processes on a shared machine, turbo) scales both sides of a round and cancels in its
ratio, and the median ignores the rounds a burst of load hit only one side of.

Before each timed block, every callable faster than ``settle`` (0.2 s) is first run untimed for
``settle`` seconds, so each sample measures it in its own steady state (caches, allocator),
as a user calling it in a loop sees it, not in the wake of the previous callable. (With two
OpenBLAS threads this also mattered for a second reason: a sub-millisecond call right after a
large threaded solve ran 40–90 % slower while the worker threads were still spinning.)

Busy machine: :class:`ForeignLoad` reads /proc/stat to report the share of CPU capacity used by
other processes during the timed rounds; benchmarks print it (:func:`load_note`) and flag a
measurement above 10 % as less reliable.
"""

from __future__ import annotations

import gc
import math
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Matches one BENCH line (the whole line, stripped of the trailing newline).
BENCH_RE = re.compile(
    r"^BENCH (?P<name>\S+) ratio=(?P<ratio>\S+) target=(?P<target>\S+) spread=(?P<lo>\S+?)\.\.(?P<hi>\S+)$"
)
#: Matches the thread line every script prints (:func:`start`); ``run.py`` requires it.
THREADS_RE = re.compile(r"^\[(?P<script>[\w.-]+)\] BLAS threads: (?P<n>\d+)\b")
#: Environment variable with the number of BLAS threads (default :data:`DEFAULT_THREADS`).
THREADS_ENV = "R1_BENCH_THREADS"
DEFAULT_THREADS = 1
#: Every BENCH ratio is the median of at least this many paired rounds.
MIN_ROUNDS = 5
#: Shortest timed block (seconds): the inner loop of a callable is at least this long.
MIN_BLOCK = 0.02

_limits: Any = None  # the threadpoolctl limiter, kept alive for the life of the process
_threads: int | None = None


def blas_threads() -> int:
    """The number of BLAS threads to pin to: ``$R1_BENCH_THREADS`` or :data:`DEFAULT_THREADS`."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return DEFAULT_THREADS
    n = int(value)
    if n < 1:
        raise ValueError(f"{THREADS_ENV} must be a positive integer; got {value!r}")
    return n


def _pools() -> list[dict[str, Any]]:
    from threadpoolctl import threadpool_info

    return threadpool_info()


def pin_threads(n: int | None = None) -> str:
    """Pin every loaded BLAS/OpenMP pool to ``n`` threads (threadpoolctl); return a description."""
    global _limits, _threads
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise SystemExit("the benchmarks pin BLAS threads with threadpoolctl: pip install -e '.[bench]'") from None
    # only the pools loaded so far are pinned: load numpy's and scipy's OpenBLAS first
    import numpy  # noqa: F401
    import scipy.linalg
    import scipy.sparse.linalg  # noqa: F401

    n = blas_threads() if n is None else n
    _limits = threadpool_limits(limits=n)
    _threads = n
    check_threads()
    pools = _pools()
    names = ", ".join(f"{p['internal_api']} {p.get('version') or '?'} ({p['prefix']})" for p in pools)
    return f"{n} ({len(pools)} pool(s) pinned by threadpoolctl: {names})"


def check_threads() -> None:
    """Raise unless every loaded thread pool runs the pinned number of threads."""
    if _threads is None:
        raise RuntimeError("call _timing.start() (or pin_threads) before timing")
    wrong = [f"{p['prefix']}={p['num_threads']}" for p in _pools() if p["num_threads"] != _threads]
    if wrong:
        raise RuntimeError(f"thread pools not at the pinned {_threads} thread(s): {', '.join(wrong)}")


def start(script: str) -> float:
    """First call of every benchmark script: pin the threads, print versions, CPUs, load, threads.

    Returns ``time.perf_counter()`` at the start, for :func:`done`.
    """
    t0 = time.perf_counter()
    threads = pin_threads()
    import numpy as np
    import scipy

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"[{script}] python {sys.version.split()[0]}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    print(f"[{script}] BLAS threads: {threads}", flush=True)
    return t0


def done(script: str, t0: float) -> None:
    """Last line of a benchmark script."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"[{script}] done in {fmt_time(time.perf_counter() - t0)}; load average {load}",
        flush=True,
    )


@dataclass(frozen=True)
class Timing:
    """Per-call times (seconds) of one callable: sample i is round i's block time divided by ``number``.

    ``foreign`` is the share of the machine's CPU capacity used by *other* processes while the
    timed rounds ran (0.0 = quiet, 0.5 = one of two cores busy elsewhere); None where unknown.
    """

    samples: tuple[float, ...]
    number: int
    foreign: float | None = None

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return _median(self.samples)


def _median(values: Sequence[float]) -> float:
    s = sorted(values)
    k = len(s)
    return s[k // 2] if k % 2 else 0.5 * (s[k // 2 - 1] + s[k // 2])


def _machine_cpu_seconds() -> float | None:
    """CPU seconds spent by all processes since boot (Linux /proc/stat), None elsewhere."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None
    if not fields or fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[1:8])
    steal = int(fields[8]) if len(fields) > 8 else 0
    return (user + nice + system + irq + softirq + steal) / ticks


class ForeignLoad:
    """Measure the share of CPU capacity used by other processes between start() and stop()."""

    def start(self) -> None:
        self._wall = time.perf_counter()
        self._machine = _machine_cpu_seconds()
        t = os.times()
        self._own = t.user + t.system

    def stop(self) -> float | None:
        wall = time.perf_counter() - self._wall
        machine = _machine_cpu_seconds()
        if machine is None or self._machine is None or wall <= 0:
            return None
        t = os.times()
        own = t.user + t.system - self._own
        other = (machine - self._machine) - own
        return max(0.0, other / (wall * (os.cpu_count() or 1)))


def _settle(fn: Callable[[], object], seconds: float) -> None:
    """Run ``fn`` untimed for about ``seconds`` (at least once)."""
    end = time.perf_counter() + seconds
    fn()
    while time.perf_counter() < end:
        fn()


def _batch(fn: Callable[[], object], number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - t0


def time_interleaved(
    fns: Mapping[str, Callable[[], object]],
    *,
    repeats: int = 9,
    warmup: int = 1,
    min_sample: float = 0.1,
    budget: float | None = None,
    max_repeats: int = 50,
    max_time: float | None = None,
    settle: float = 0.05,
) -> dict[str, Timing]:
    """Time several callables in paired rounds; return a :class:`Timing` per name.

    Every round times each callable once (one block of ``number`` calls, at least ``min_sample``
    and :data:`MIN_BLOCK` seconds), in an order that alternates from round to round, so sample i
    of every callable comes from the same round i (:func:`paired_ratio`). ``repeats`` is the
    minimum number of rounds; with ``budget`` (seconds for the timed rounds), more rounds are
    taken while they fit, up to ``max_repeats``. ``max_time`` caps a busy machine: once the timed
    rounds exceed it, timing stops (but never before ``repeats`` rounds). When several callables
    are timed, each callable faster than ``settle`` seconds per call is first run untimed for
    ``settle`` seconds before each of its timed blocks (see the module docstring).
    """
    check_threads()
    block = max(min_sample, MIN_BLOCK)
    numbers: dict[str, int] = {}
    per_call: dict[str, float] = {}
    for name, fn in fns.items():
        one = _batch(fn, 1)  # first call: also a warm-up (and often slower: cold caches, first page faults)
        if one < 5 * max(block, settle):
            one = min(one, _batch(fn, 1), _batch(fn, 1))
        numbers[name] = max(1, math.ceil(block / max(one, 1e-9)))
        per_call[name] = one
    names = list(fns)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(warmup):
            for name in names:
                _batch(fns[name], numbers[name])
        samples: dict[str, list[float]] = {name: [] for name in fns}
        load = ForeignLoad()
        load.start()
        t_start = time.perf_counter()
        rounds = 0
        while True:
            for name in names if rounds % 2 == 0 else reversed(names):
                fn = fns[name]
                if len(fns) > 1 and per_call[name] < settle:
                    _settle(fn, settle)
                samples[name].append(_batch(fn, numbers[name]) / numbers[name])
            rounds += 1
            if rounds >= max_repeats:
                break
            if rounds >= repeats:
                elapsed = time.perf_counter() - t_start
                if max_time is not None and elapsed > max_time:
                    break
                if budget is None or elapsed * (rounds + 1) / rounds > budget:
                    break
        foreign = load.stop()
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: Timing(samples=tuple(samples[name]), number=numbers[name], foreign=foreign) for name in fns}


@dataclass(frozen=True)
class Ratio:
    """Per-round ratios time(baseline) / time(measured) of paired rounds; the BENCH ratio is their median."""

    rounds: tuple[float, ...]

    @property
    def median(self) -> float:
        return _median(self.rounds)

    @property
    def lo(self) -> float:
        return min(self.rounds)

    @property
    def hi(self) -> float:
        return max(self.rounds)

    def __str__(self) -> str:
        return f"{self.median:.4g} (rounds {self.lo:.4g}..{self.hi:.4g}, n={len(self.rounds)})"


def paired_ratio(
    baseline: Timing | Sequence[float],
    measured: Timing | Sequence[float],
    scale: float = 1.0,
) -> Ratio:
    """Round-by-round ``scale · baseline[i] / measured[i]``; both from the same :func:`time_interleaved` rounds.

    A per-round baseline composed of several timings (e.g. a prefix plus scaled solves) is passed
    as a sequence with one value per round.
    """
    b = baseline.samples if isinstance(baseline, Timing) else tuple(baseline)
    m = measured.samples if isinstance(measured, Timing) else tuple(measured)
    if len(b) != len(m):
        raise ValueError(f"unpaired timings: {len(b)} baseline rounds, {len(m)} measured rounds")
    if len(b) < MIN_ROUNDS:
        raise ValueError(f"a BENCH ratio needs at least {MIN_ROUNDS} paired rounds; got {len(b)}")
    return Ratio(tuple(scale * x / y for x, y in zip(b, m, strict=True)))


def load_note(t: Timing, threshold: float = 0.1) -> str:
    """Detail line on how busy the machine was while ``t`` was measured."""
    if t.foreign is None:
        return "  (load by other processes during this measurement: unknown)"
    warn = "  -- busy machine: expect a wider spread" if t.foreign > threshold else ""
    return f"  other processes used {100 * t.foreign:.0f}% of the CPU capacity during this measurement{warn}"


def fmt_time(seconds: float) -> str:
    """Human-readable duration."""
    if seconds >= 1.0:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def describe(label: str, t: Timing) -> str:
    """One detail line for a timing: best and median per call, rounds × calls per timed block."""
    times = f"best {fmt_time(t.best):>10s}  median {fmt_time(t.median):>10s}"
    return f"  {label:<44s} {times}  ({len(t.samples)}×{t.number})"


def bench_line(name: str, ratio: Ratio, target: float) -> str:
    """Format a BENCH line; see the module docstring for the convention (pass iff ratio >= target)."""
    if not name or any(c.isspace() for c in name):
        raise ValueError(f"benchmark name must be one token without spaces; got {name!r}")
    return f"BENCH {name} ratio={ratio.median:.4g} target={target:.6g} spread={ratio.lo:.4g}..{ratio.hi:.4g}"


def emit(name: str, ratio: Ratio, target: float) -> bool:
    """Print the BENCH line (flushed) and return whether it passes; the threads must still be pinned."""
    check_threads()
    print(bench_line(name, ratio, target), flush=True)
    return passes(ratio.median, target)


def passes(ratio: float, target: float) -> bool:
    """The one pass rule: a finite ratio at least the target."""
    return math.isfinite(ratio) and ratio >= target


@dataclass(frozen=True)
class BenchResult:
    """A parsed BENCH line."""

    name: str
    ratio: float
    target: float
    lo: float
    hi: float

    @property
    def ok(self) -> bool:
        return passes(self.ratio, self.target)


def parse_bench_line(line: str) -> BenchResult | None:
    """Parse a BENCH line; None if ``line`` does not match the format (including bad numbers)."""
    m = BENCH_RE.match(line.rstrip("\r\n"))
    if m is None:
        return None
    try:
        return BenchResult(
            name=m["name"],
            ratio=float(m["ratio"]),
            target=float(m["target"]),
            lo=float(m["lo"]),
            hi=float(m["hi"]),
        )
    except ValueError:
        return None
