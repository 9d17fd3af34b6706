"""Batched stochastic runs: ``stochastic_iterate_batch`` vs a Python loop of ``stochastic_iterate`` calls (issue #18).

Run ``python benchmarks/bench_stochastic_batch.py`` (or ``python benchmarks/run.py bench_stochastic_batch``).
The BENCH ratio is time(loop) / time(stochastic_iterate_batch), measured in this run (median of paired
per-round ratios, BLAS threads pinned); it passes iff ratio >= target (``_timing.py``).

``stochastic_batch_vs_loop`` — C2's instance (the catalog's ``random`` MDP with S = 4, A = 3, γ = 0.8,
seed 0; θ₀ = 0), 64 runs: the 4 stochastic methods (``sgd-pg``; ``npg-sample``, ``r1-sample-same`` and
``r1-sample-independent`` at λ = 1) × 16 seeds (``SeedSequence(SEED).spawn(64)``), each with C2's
estimator (GPOMDP, geometric termination, exact-value baseline), B = 16, η = 0.3 and T = 200 iterations,
J, gap and ‖∇J‖² recorded every iteration. The baseline is
``[stochastic_iterate(mdp, θ₀, m, η, T, default_rng(seed), batch=B, damping=λ, ...) for each run]``, the
measured call ``stochastic_iterate_batch(mdp, θ₀, configs, T, seeds, ...)``; both get the same
precomputed optimum. Before timing the runs are checked equal: the same statuses and sample counts,
J and ‖∇J‖² to 1e-12 relative. Target "at least 20× faster than the loop" ⇒ ratio = t_loop / t_batch,
target = 20.

Detail lines (one untimed pass each) give the loop's cost per run-iteration of each method and the
batched cost per iteration of each method's 16 rows alone and of all 64, and the batched cost split into
its parts (sampling walk, estimator, directions, evaluation) from a profile-free timer.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any

import numpy as np
from _timing import describe, done, emit, paired_ratio, start, time_interleaved

import r1theory as r1

SEED = 18
S, A, GAMMA = 4, 3, 0.8
B, T, ETA, LAM, SEEDS = 16, 200, 0.3, 1.0, 16
TARGET_SPEEDUP = 20.0
KW: dict[str, Any] = {"estimator": "gpomdp", "baseline": "value"}


def instance() -> r1.TabularMDP:
    """C2's instance: the catalog's ``random`` MDP with S = 4, A = 3, γ = 0.8, seed 0."""
    import tabular_mdps

    return tabular_mdps.get_instance("random", S=S, A=A, gamma=GAMMA, seed=0).mdp


def configurations() -> list[tuple[str, float, float | None, int]]:
    return [(m, ETA, None if m == "sgd-pg" else LAM, B) for m in r1.STOCHASTIC_METHODS for _ in range(SEEDS)]


def check_equal(batch: list[r1.StochasticRun], loop: list[r1.StochasticRun]) -> dict[str, float]:
    """Same statuses and sample counts; the worst relative difference of J and ‖∇J‖² (must be ≤ 1e-12)."""
    worst = {"J": 0.0, "grad_norm_sq": 0.0}
    for i, (x, y) in enumerate(zip(batch, loop, strict=True)):
        if (x.status, x.message) != (y.status, y.message):
            raise AssertionError(f"run {i}: {x.status} {x.message!r} vs {y.status} {y.message!r}")
        for f in ("t", "transitions", "episodes"):
            if not np.array_equal(getattr(x, f), getattr(y, f)):
                raise AssertionError(f"run {i}: {f} differ")
        for f in worst:
            u, v = getattr(x, f), getattr(y, f)
            worst[f] = max(worst[f], float(np.max(np.abs(u - v) / np.maximum(np.abs(v), 1e-300))))
    if max(worst.values()) > 1e-12:
        raise AssertionError(f"batch and loop differ by more than 1e-12 relative: {worst}")
    return worst


def main() -> int:
    t_start = start("bench_stochastic_batch")
    mdp = instance()
    opt = r1.optimal(mdp)
    theta0 = np.zeros((S, A))
    configs = configurations()
    seeds = np.random.SeedSequence(SEED).spawn(len(configs))
    print(
        f"  C2's random MDP S={S} A={A} γ={GAMMA}; {len(configs)} runs = {len(r1.STOCHASTIC_METHODS)} methods × "
        f"{SEEDS} seeds; GPOMDP, exact-value baseline, B={B}, η={ETA}, λ={LAM}, T={T}",
        flush=True,
    )

    def loop() -> list[r1.StochasticRun]:
        return [
            r1.stochastic_iterate(
                mdp, theta0, m, eta, T, np.random.default_rng(sd), batch=b, damping=lam, optimum=opt, **KW
            )
            for (m, eta, lam, b), sd in zip(configs, seeds, strict=True)
        ]

    def batch() -> list[r1.StochasticRun]:
        return r1.stochastic_iterate_batch(mdp, theta0, configs, T, seeds, optimum=opt, **KW)

    per_loop: Counter[str] = Counter()
    want = []
    for (m, eta, lam, b), sd in zip(configs, seeds, strict=True):
        t0 = time.perf_counter()
        want.append(
            r1.stochastic_iterate(
                mdp, theta0, m, eta, T, np.random.default_rng(sd), batch=b, damping=lam, optimum=opt, **KW
            )
        )
        per_loop[m] += time.perf_counter() - t0
    t0 = time.perf_counter()
    got = batch()
    t_all = time.perf_counter() - t0
    worst = check_equal(got, want)
    print(
        f"  equal: statuses {dict(Counter(r.status for r in got))}, sample counts exact; max relative difference "
        + ", ".join(f"{k} {v:.1e}" for k, v in worst.items())
    )
    for m in r1.STOCHASTIC_METHODS:
        rows = [i for i, c in enumerate(configs) if c[0] == m]
        t0 = time.perf_counter()
        r1.stochastic_iterate_batch(
            mdp, theta0, [configs[i] for i in rows], T, [seeds[i] for i in rows], optimum=opt, **KW
        )
        t_rows = time.perf_counter() - t0
        print(
            f"  (info) {m:<22s} loop {1e6 * per_loop[m] / (len(rows) * T):6.1f} µs per run-iteration; its "
            f"{len(rows)} rows batched alone {1e6 * t_rows / T:6.1f} µs per iteration ({per_loop[m] / t_rows:.1f}×)"
        )
    print(
        f"  (info) all {len(configs)} rows: {1e3 * t_all / T:.2f} ms per iteration, "
        f"{1e6 * t_all / (T * len(configs)):.1f} µs per run-iteration ({sum(per_loop.values()) / t_all:.1f}× one pass)",
        flush=True,
    )

    t = time_interleaved({"loop": loop, "batch": batch}, repeats=5, warmup=0, min_sample=0.0, max_repeats=5)
    print(describe(f"loop: [stochastic_iterate(...) for {len(configs)} runs]", t["loop"]))
    print(describe("stochastic_iterate_batch(mdp, θ₀, configs, T, seeds)", t["batch"]))
    ratio = paired_ratio(t["loop"], t["batch"])
    print(f"  stochastic_iterate_batch speed-up {ratio} over the loop (target ≥ {TARGET_SPEEDUP:g}×)", flush=True)
    emit("stochastic_batch_vs_loop", ratio, TARGET_SPEEDUP)
    done("bench_stochastic_batch", t_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
