"""Batched exact iterates: ``iterate_batch`` vs a Python loop of ``iterate`` calls (issue #17).

Run ``python benchmarks/bench_iterate_batch.py`` (or ``python benchmarks/run.py``). The BENCH ratio is
time(loop) / time(iterate_batch), measured in this run (median of paired per-round ratios, BLAS
threads pinned); it passes iff ratio >= target (``_timing.py``).

``iterate_batch_vs_loop`` — one dense random MDP with S = 10, A = 4, γ = 0.9 (every P[s, a, :] a random
distribution, uniform ρ), θ₀ = 0, and B = 64 configurations (method, step, λ) of 1,000 iterations
each: the 7 built-in exact methods in turn, with steps and dampings from the grids below (a slice of
the C1 sweep's grid, small enough that every run is still moving at T = 1,000: the throughput of the
lockstep, not of early stopping). The baseline is ``[iterate(mdp, θ₀, m, η, T, λ, optimum=opt)
for (m, η, λ) in configs]``; the measured call is ``iterate_batch(mdp, θ₀, configs, T, optimum=opt)``.
Both get the same precomputed optimum. Before timing, the runs are checked equal:
same statuses, iteration counts and messages, histories to 1e-12 relative (kl and eff_step, which
amplify the evaluation's rounding, are reported; tests/test_iterate_batch.py states their floor).
Target "at least 30× faster than the loop" ⇒ ratio = t_loop / t_batch, target = 30.

Detail lines (untimed by the harness: one pass each) give the per-method loop cost per iteration and
the batched cost of each method's rows alone, and a sweep-like mix with early stopping (larger steps,
a tolerance): there the batch keeps paying its per-iteration overhead for the rows still running
while the loop's cost shrinks with them, so the ratio is lower.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from typing import Any

import numpy as np
from _timing import describe, done, emit, paired_ratio, start, time_interleaved

import r1theory as r1
from r1theory.iterates import HISTORIES

SEED = 17
S, A, GAMMA = 10, 4, 0.9
B, T = 64, 1000
TARGET_SPEEDUP = 30.0
STEPS = (0.01, 0.03, 0.1, 0.3)
DAMPINGS = (1.0, 0.3, 0.1, 0.03)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)")


def instance() -> r1.TabularMDP:
    rng = np.random.default_rng(SEED)
    P = rng.random((S, A, S))
    P /= P.sum(axis=-1, keepdims=True)
    return r1.TabularMDP(P, rng.random((S, A)), GAMMA, np.full(S, 1.0 / S))


def configurations(steps: tuple[float, ...], n: int = B) -> list[tuple[str, float, float | None]]:
    """n configurations cycling through the exact methods; step and λ vary with each cycle."""
    methods = list(r1.METHODS)
    out = []
    for i in range(n):
        m = methods[i % len(methods)]
        cycle = i // len(methods)
        lam = DAMPINGS[(cycle // len(steps)) % len(DAMPINGS)] if r1.get_method(m).damped else None
        out.append((m, steps[cycle % len(steps)], lam))
    return out


def check_equal(batch: list[r1.Run], loop: list[r1.Run]) -> dict[str, float]:
    """Same statuses, iteration counts and message texts; the worst relative difference of each history.

    Relative to the history's largest magnitude (at least 1 for J, gap and θ). kl and eff_step are
    reported but not bounded here (their rounding floor is stated and tested in tests/test_iterate_batch.py).
    """
    worst = dict.fromkeys(HISTORIES, 0.0)
    for b, (x, y) in enumerate(zip(batch, loop, strict=True)):
        if (x.status, x.iterations) != (y.status, y.iterations):
            raise AssertionError(f"config {b}: {x.status}/{x.iterations} vs {y.status}/{y.iterations}")
        if _NUMBER.sub("#", x.message) != _NUMBER.sub("#", y.message):
            raise AssertionError(f"config {b}: message {x.message!r} vs {y.message!r}")
        for field in HISTORIES:
            u, v = getattr(x, field), getattr(y, field)
            if u.size:
                scale = max(float(np.nanmax(np.abs(v))), 1.0 if field in ("J", "gap", "theta") else 1e-300)
                worst[field] = max(worst[field], float(np.nanmax(np.abs(u - v))) / scale)
    bad = {k: v for k, v in worst.items() if k not in ("kl", "eff_step") and v > 1e-12}
    if bad:
        raise AssertionError(f"iterate_batch differs from the loop beyond 1e-12 relative: {bad}")
    return worst


def budget(mdp: r1.TabularMDP, theta0: np.ndarray, configs: list[tuple[str, float, float | None]], opt: Any) -> str:
    """Detail line: where a lockstep iteration of the mixed batch spends its time (one pass of T, with timers).

    The evaluation (softmax, batched LU, Q, A, gradient) and each method's batch direction are timed by
    wrapping the engine's two calls for one run of ``iterate_batch``; the rest is the loop's own work
    (steps, records, stopping checks).
    """
    import r1theory.batch_iterates as bi

    spent: dict[str, float] = dict.fromkeys(("evaluation", *r1.METHODS), 0.0)
    point_fn, directions_fn = getattr(bi, "_batch_policy_point"), getattr(bi, "_directions")  # noqa: B009

    def timed_point(*args: Any) -> Any:
        t0 = time.perf_counter()
        out = point_fn(*args)
        spent["evaluation"] += time.perf_counter() - t0
        return out

    def timed_directions(point: Any, groups: list[Any], lam: Any, idx: Any, attr: str) -> Any:
        out = np.empty(point.theta.shape)
        for method, rows in groups:
            t0 = time.perf_counter()
            out[rows] = directions_fn(point, [(method, rows)], lam, idx, attr)[rows]
            spent[method.name] = spent.get(method.name, 0.0) + time.perf_counter() - t0
        return out

    setattr(bi, "_batch_policy_point", timed_point)  # noqa: B010
    setattr(bi, "_directions", timed_directions)  # noqa: B010
    try:
        t0 = time.perf_counter()
        r1.iterate_batch(mdp, theta0, configs, T, optimum=opt)
        total = time.perf_counter() - t0
    finally:
        setattr(bi, "_batch_policy_point", point_fn)  # noqa: B010
        setattr(bi, "_directions", directions_fn)  # noqa: B010
    us = {k: 1e6 * v / T for k, v in spent.items()}
    directions = sum(us[m] for m in r1.METHODS)
    methods = ", ".join(f"{m} {us[m]:.0f}" for m in r1.METHODS)
    return (
        f"  (info) budget per lockstep iteration (mixed B = {len(configs)}, timers on): {1e6 * total / T:.0f} µs = "
        f"evaluation {us['evaluation']:.0f} + directions {directions:.0f} ({methods}) + loop "
        f"{1e6 * total / T - us['evaluation'] - directions:.0f} µs"
    )


def main() -> int:
    t_start = start("bench_iterate_batch")
    mdp = instance()
    opt = r1.optimal(mdp)
    theta0 = np.zeros((S, A))
    configs = configurations(STEPS)
    print(
        f"[iterate_batch] S={S}, A={A}, γ={GAMMA}, B={B} configurations × T={T} iterations; "
        f"methods {', '.join(r1.METHODS)}; steps {STEPS}; dampings {DAMPINGS}",
        flush=True,
    )

    def loop() -> list[r1.Run]:
        return [r1.iterate(mdp, theta0, m, eta, T, lam, optimum=opt) for m, eta, lam in configs]

    def batch() -> list[r1.Run]:
        return r1.iterate_batch(mdp, theta0, configs, T, optimum=opt)

    # equal runs before timing; the per-method costs of one pass as detail lines
    per_loop: dict[str, float] = dict.fromkeys(r1.METHODS, 0.0)
    want = []
    for m, eta, lam in configs:
        t0 = time.perf_counter()
        want.append(r1.iterate(mdp, theta0, m, eta, T, lam, optimum=opt))
        per_loop[m] += time.perf_counter() - t0
    got = batch()
    worst = check_equal(got, want)
    statuses = Counter(r.status for r in got)
    print(f"  statuses {dict(statuses)}; max relative difference batch vs loop per history:")
    print("    " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    count = Counter(m for m, _, _ in configs)
    for m in r1.METHODS:
        rows = [c for c in configs if c[0] == m]
        t0 = time.perf_counter()
        r1.iterate_batch(mdp, theta0, rows, T, optimum=opt)
        t_rows = time.perf_counter() - t0
        loop_us = 1e6 * per_loop[m] / (count[m] * T)
        print(
            f"  (info) {m:<11s} {count[m]:2d} rows: loop {loop_us:6.1f} µs per run-iteration, "
            f"its rows batched alone {1e6 * t_rows / T:6.1f} µs per iteration ({per_loop[m] / t_rows:.1f}×)"
        )
    print(budget(mdp, theta0, configs, opt), flush=True)
    sweep = configurations((0.3, 1.0, 3.0, 10.0))
    tol = 1e-6 * (opt.J - r1.evaluate(mdp, r1.softmax(theta0)).J)
    t0 = time.perf_counter()
    ref = [r1.iterate(mdp, theta0, m, eta, T, lam, tol, optimum=opt) for m, eta, lam in sweep]
    t_loop = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = r1.iterate_batch(mdp, theta0, sweep, T, tol=tol, optimum=opt)
    t_batch = time.perf_counter() - t0
    check_equal(res, ref)
    print(
        f"  (info) sweep-like mix (steps 0.3..10, tol = 1e-6·gap0, early stops: "
        f"{dict(Counter(r.status for r in res))}, mean {np.mean([r.iterations for r in res]):.0f} iterations): "
        f"{t_loop / t_batch:.1f}× (one pass)"
    )

    t = time_interleaved({"loop": loop, "batch": batch}, repeats=5, warmup=0, min_sample=0.0, max_repeats=5)
    print(describe("loop: [iterate(...) for 64 configurations]", t["loop"]))
    print(describe("iterate_batch(mdp, θ₀, configs, T)", t["batch"]))
    ratio = paired_ratio(t["loop"], t["batch"])
    print(f"  iterate_batch speed-up {ratio} over the loop (target ≥ {TARGET_SPEEDUP:g}×)", flush=True)
    emit("iterate_batch_vs_loop", ratio, TARGET_SPEEDUP)
    done("bench_iterate_batch", t_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
