"""Run every ``benchmarks/bench_*.py``, echo its output, check its BENCH lines, print a summary.

Usage::

    python benchmarks/run.py                 # every bench_*.py, in name order
    python benchmarks/run.py bench_engine    # only the named scripts (with or without .py)

    python benchmarks/run.py --threads 2     # pin BLAS to 2 threads instead of 1

Each script runs in a subprocess with this interpreter, one after the other (never in parallel:
they time things), with its BLAS/OpenMP threads pinned to ``--threads`` (default 1): the
environment variables OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS and
R1_BENCH_THREADS are set for it, and the script pins again with threadpoolctl and states the
count (``[<script>] BLAS threads: N``). A BENCH line is
``BENCH <name> ratio=<median> target=<value> spread=<min>..<max>``; by the one convention of this
directory (``_timing.py``, README.md) the ratio is time(baseline) / time(measured), the median of
paired per-round ratios, and passes iff ratio >= target, so no per-benchmark table is needed.

Exit status 0 iff every script exits 0, states the pinned thread count, prints at least one BENCH
line, prints no malformed BENCH line, no benchmark name repeats, and every ratio meets its target;
1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from _timing import (
    DEFAULT_THREADS,
    THREADS_ENV,
    THREADS_RE,
    BenchResult,
    parse_bench_line,
)

HERE = Path(__file__).resolve().parent


@dataclass
class ScriptRun:
    path: Path
    returncode: int | None = None
    seconds: float = 0.0
    threads: int | None = None
    results: list[BenchResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def discover(selected: list[str]) -> list[Path]:
    scripts = sorted(HERE.glob("bench_*.py"))
    if not selected:
        return scripts
    wanted = {s.removesuffix(".py") for s in selected}
    unknown = wanted - {p.stem for p in scripts}
    if unknown:
        raise SystemExit(f"unknown benchmark script(s): {', '.join(sorted(unknown))}")
    return [p for p in scripts if p.stem in wanted]


def run_script(path: Path, timeout: float, threads: int) -> ScriptRun:
    run = ScriptRun(path=path)
    n = str(threads)
    pins = {
        "OPENBLAS_NUM_THREADS": n,
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        THREADS_ENV: n,
    }
    env = dict(os.environ, PYTHONUNBUFFERED="1", **pins)
    timed_out = threading.Event()
    t0 = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, str(path)],
        cwd=HERE.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as proc:

        def kill() -> None:
            timed_out.set()
            proc.kill()

        watchdog = threading.Timer(timeout, kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:  # echo as it arrives
                print(line, end="", flush=True)
                if (m := THREADS_RE.match(line)) is not None:
                    run.threads = int(m["n"])
                if line.startswith("BENCH ") or line.rstrip() == "BENCH":
                    res = parse_bench_line(line)
                    if res is None:
                        run.problems.append(f"malformed BENCH line: {line.strip()!r}")
                    else:
                        run.results.append(res)
            run.returncode = proc.wait()
        finally:
            watchdog.cancel()
    run.seconds = time.perf_counter() - t0
    if timed_out.is_set():
        run.problems.append(f"killed after the {timeout:.0f} s timeout")
    elif run.returncode != 0:
        run.problems.append(f"exit status {run.returncode}")
    if not run.results:
        run.problems.append("printed no BENCH line")
    if run.threads is None:
        run.problems.append("did not state its BLAS threads (call _timing.start first)")
    elif run.threads != threads:
        run.problems.append(f"ran {run.threads} BLAS thread(s), not the requested {threads}")
    return run


def summarize(runs: list[ScriptRun]) -> bool:
    ok = True
    seen: dict[str, str] = {}
    rows: list[tuple[str, ...]] = []
    for run in runs:
        for res in run.results:
            if res.name in seen:
                run.problems.append(f"benchmark name {res.name!r} already printed by {seen[res.name]}")
            seen.setdefault(res.name, run.path.name)
            status = "ok" if res.ok else "MISS"
            ok &= res.ok
            spread = f"{res.lo:.4g}..{res.hi:.4g}"
            rows.append(
                (
                    run.path.name,
                    res.name,
                    f"{res.ratio:.4g}",
                    f"{res.target:.4g}",
                    spread,
                    status,
                )
            )
        ok &= not run.problems
    headers = ("script", "benchmark", "ratio", "target", "spread", "status")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: tuple[str, ...]) -> str:
        padded = (c.rjust(w) if i in (2, 3) else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
        return "  ".join(padded).rstrip()

    print()
    print("=" * 80)
    print("Benchmark summary (ratio = median over rounds of t_baseline / t_measured; passes iff ratio >= target)")
    print(line(headers))
    print(line(tuple("-" * w for w in widths)))
    for row in rows:
        print(line(row))
    for run in runs:
        for problem in run.problems:
            print(f"FAIL {run.path.name}: {problem}")
    n_miss = sum(not r.ok for run in runs for r in run.results)
    n_fail = sum(bool(run.problems) for run in runs)
    total = sum(run.seconds for run in runs)
    print(
        f"{len(rows)} benchmark(s) from {len(runs)} script(s) in {total:.1f} s: "
        f"{len(rows) - n_miss} ok, {n_miss} missed, {n_fail} script(s) failed -> {'PASS' if ok else 'FAIL'}"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scripts", nargs="*", help="bench_*.py scripts to run (default: all)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per script (default 600)")
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"BLAS/OpenMP threads per benchmark process (default {DEFAULT_THREADS})",
    )
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    scripts = discover(args.scripts)
    if not scripts:
        print(f"no bench_*.py scripts in {HERE}")
        return 1
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"[run] {len(scripts)} script(s) with {sys.executable}; {os.cpu_count()} CPUs, load average {load}; "
        f"BLAS threads pinned to {args.threads}"
    )
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print("[run] WARNING: the machine is busy (load average above the CPU count); timings are unreliable")
    runs = []
    for path in scripts:
        print(f"\n[run] === {path.name} ===", flush=True)
        runs.append(run_script(path, args.timeout, args.threads))
    ok = summarize(runs)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"[run] load average at the end {load}; BLAS threads pinned to {args.threads}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
