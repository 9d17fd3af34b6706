"""Timing helpers and the BENCH-line convention shared by every ``benchmarks/bench_*.py``.

The BENCH-line convention (one for every benchmark, so ``run.py`` needs no table)
--------------------------------------------------------------------------------
Each benchmark prints exactly one line

    BENCH <name> ratio=<value> target=<value>

where ``ratio`` is always a *speed-up*: **time(baseline) / time(measured)**, measured in the same
run. Bigger is always better, and the benchmark passes iff **ratio >= target**; ``target`` is a
minimum, never a maximum.

* "measured must be at least X times faster than the baseline" → ``target = X``
  (e.g. a direction vs the dense route: ``ratio = t_dense / t_engine``, ``target=100``).
* "measured must cost at most X times the floor" → ``ratio = t_floor / t_measured`` and
  ``target = 1/X`` (e.g. ``policy_gradient`` within 1.5× of its floor:
  ``ratio = t_floor / t_policy_gradient``, ``target=0.667``; a ratio of 0.8 means the engine
  costs 1.25× the floor).

``<name>`` is a single token without spaces; ``<value>`` is a Python float literal. Every name
therefore uses the same direction ("min": ratio >= target); in ``bench_engine.py``,
``policy_gradient_vs_floor`` prints t_floor/t_pg with target 1/1.5 and every
``natural_gradient_vs_dense`` / ``direction_<method>_vs_dense`` prints t_dense/t_engine with
target 100 (README.md lists them).

Timing method
-------------
:func:`time_interleaved` calibrates an inner loop per callable (so every sample lasts at least
``min_sample`` seconds, as ``timeit`` does), runs ``warmup`` untimed rounds, then takes
``repeats`` rounds in which every callable is timed once, round-robin, with the garbage collector
off. Interleaving makes slow drift (turbo, other processes on a shared machine) hit baseline and
measurement alike. Ratios use the **minimum** per-call time of each callable (the least disturbed
sample); the median is printed alongside for reference.

Interleaving has a side effect that the timer removes: after a large multi-threaded BLAS call
(a dense 2000 × 2000 solve or product), a following sub-millisecond engine call that itself uses
small threaded LAPACK calls ran 40–90 % slower for the next ~0.1–0.2 s (measured on the 2-core
reference machine; the effect disappears with OPENBLAS_NUM_THREADS=1, so it is OpenBLAS worker
threads still spinning/waking, not caches). So before each timed batch, every callable faster
than ``settle`` (0.2 s) is first run untimed for ``settle`` seconds: each sample then measures the
callable in its own steady state, as a user calling it in a loop sees it (0.45 ms with settling
vs 0.45 ms alone vs 0.65–0.89 ms without).

Busy machine: :class:`ForeignLoad` reads /proc/stat to report the share of CPU capacity used by
other processes during the timed rounds; benchmarks print it (``load_note``) and flag a
measurement as unreliable above 10 %. On two cores, another busy process makes OpenBLAS's
threaded small factorisations wait for descheduled worker threads, slowing 0.4 ms calls by
5–50× — far more than the large dense baselines — so ratios measured under load are meaningless.
"""

from __future__ import annotations

import gc
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: Matches one BENCH line (the whole line, stripped of the trailing newline).
BENCH_RE = re.compile(r"^BENCH (?P<name>\S+) ratio=(?P<ratio>\S+) target=(?P<target>\S+)$")


@dataclass(frozen=True)
class Timing:
    """Per-call times (seconds) of one callable: every sample is a batch time divided by ``number``.

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
        s = sorted(self.samples)
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
    repeats: int = 7,
    warmup: int = 1,
    min_sample: float = 0.2,
    budget: float | None = None,
    max_repeats: int = 50,
    max_time: float | None = None,
    settle: float = 0.2,
) -> dict[str, Timing]:
    """Time several callables round-robin; return a :class:`Timing` per name.

    ``repeats`` is the normal minimum number of rounds; with ``budget`` (seconds for the timed
    rounds), more rounds are taken while they fit, up to ``max_repeats``. ``max_time`` is a hard
    cap for a busy machine: once the timed rounds exceed it, timing stops after at least 3 rounds.
    When several callables are timed, each callable faster than ``settle`` seconds per call is
    first run untimed for ``settle`` seconds before each of its timed batches, so that it is timed
    in its own steady state rather than in the wake of the previous callable (see the module
    docstring).
    """
    numbers: dict[str, int] = {}
    per_call: dict[str, float] = {}
    for name, fn in fns.items():
        one = _batch(fn, 1)  # first call: also a warm-up
        if one < max(min_sample, settle):
            one = min(one, _batch(fn, 1), _batch(fn, 1))
        numbers[name] = max(1, math.ceil(min_sample / max(one, 1e-9)))
        per_call[name] = one
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(warmup):
            for name, fn in fns.items():
                _batch(fn, numbers[name])
        samples: dict[str, list[float]] = {name: [] for name in fns}
        load = ForeignLoad()
        load.start()
        t_start = time.perf_counter()
        rounds = 0
        while True:
            for name, fn in fns.items():
                if len(fns) > 1 and per_call[name] < settle:
                    _settle(fn, settle)
                samples[name].append(_batch(fn, numbers[name]) / numbers[name])
            rounds += 1
            if rounds >= max_repeats:
                break
            if max_time is not None and rounds >= 3 and time.perf_counter() - t_start > max_time:
                break
            if rounds >= repeats:
                elapsed = time.perf_counter() - t_start
                if budget is None or elapsed * (rounds + 1) / rounds > budget:
                    break
        foreign = load.stop()
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: Timing(samples=tuple(samples[name]), number=numbers[name], foreign=foreign) for name in fns}


def load_note(t: Timing, threshold: float = 0.1) -> str:
    """Detail line on how busy the machine was while ``t`` was measured."""
    if t.foreign is None:
        return "  (load by other processes during this measurement: unknown)"
    warn = "  -- UNRELIABLE: the machine was busy" if t.foreign > threshold else ""
    return f"  other processes used {100 * t.foreign:.0f}% of the CPU capacity during this measurement{warn}"


def fmt_time(seconds: float) -> str:
    """Human-readable duration."""
    if seconds >= 1.0:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def describe(label: str, t: Timing) -> str:
    """One detail line for a timing: best and median per call, number of samples."""
    return (
        f"  {label:<44s} best {fmt_time(t.best):>10s}  median {fmt_time(t.median):>10s}  ({len(t.samples)}×{t.number})"
    )


def speedup(baseline: Timing, measured: Timing) -> float:
    """The BENCH ratio: time(baseline) / time(measured), from the best sample of each."""
    return baseline.best / measured.best


def bench_line(name: str, ratio: float, target: float) -> str:
    """Format a BENCH line; see the module docstring for the convention (pass iff ratio >= target)."""
    if not name or any(c.isspace() for c in name):
        raise ValueError(f"benchmark name must be one token without spaces; got {name!r}")
    return f"BENCH {name} ratio={ratio:.4g} target={target:.6g}"


def emit(name: str, ratio: float, target: float) -> bool:
    """Print the BENCH line (flushed) and return whether it passes."""
    print(bench_line(name, ratio, target), flush=True)
    return passes(ratio, target)


def passes(ratio: float, target: float) -> bool:
    """The one pass rule: a finite ratio at least the target."""
    return math.isfinite(ratio) and ratio >= target


@dataclass(frozen=True)
class BenchResult:
    """A parsed BENCH line."""

    name: str
    ratio: float
    target: float

    @property
    def ok(self) -> bool:
        return passes(self.ratio, self.target)


def parse_bench_line(line: str) -> BenchResult | None:
    """Parse a BENCH line; None if ``line`` does not match the format (including bad numbers)."""
    m = BENCH_RE.match(line.rstrip("\r\n"))
    if m is None:
        return None
    try:
        return BenchResult(name=m["name"], ratio=float(m["ratio"]), target=float(m["target"]))
    except ValueError:
        return None
