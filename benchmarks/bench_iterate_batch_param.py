"""Batched exact iterates of a log-linear policy: ``iterate_batch(..., param=)`` vs a loop of ``iterate`` (#17).

Run ``python benchmarks/bench_iterate_batch_param.py`` (or ``python benchmarks/run.py``). The BENCH ratio is
time(loop) / time(iterate_batch), measured in this run (median of paired per-round ratios, BLAS threads
pinned); it passes iff ratio >= target (``_timing.py``).

``iterate_batch_loglinear_vs_loop`` — the workload of C1's ``random-loglinear`` family at a shorter cap: the
random MDP (S = 10, A = 4, γ = 0.95, seed 1) of the catalog, log-linear features with k = S(A − 1) = 30 of
condition number κ = 3 (:func:`proofs_checks.runs.conditioned_features`, as
:func:`proofs_checks.c1_faster_than_pg.loglinear` plans them), θ₀ = 0, and B = 64 configurations (method,
step, λ) of T = 200 iterations: the 7 built-in exact methods in turn, steps 0.1..3 and dampings 1..0.03, and
tol = 1e-12 (above the rounding of V*(ρ): with tol = 0 convergence is decided by J's last bit, which the two
engines round differently; only npg's larger steps converge before T). The baseline is
``[iterate(mdp, θ₀, m, η, T, λ, TOL, optimum=opt, param=param) for (m, η, λ) in configs]``; the measured call
is ``iterate_batch(mdp, θ₀, configs, T, tol=TOL, optimum=opt, param=param)``. Before timing the runs are
checked equal: the same statuses, iteration counts and messages, J, gap, ‖∇J‖, min π(a*) and η to 1e-12
relative (θ, kl and eff_step are reported), except npg's, which are reported: its pseudo-inverse keeps
eigenvalues down to 1e-10·σ₁ and amplifies the last bits of ∇J, so that iterate itself, run on r ± 4ε·value,
moves by as much (θ by 1e-2 relative, gap by 3e-12 at η = 0.3: the same size as batch vs loop);
tests/test_iterate_batch_param.py compares npg with that spread.

Target: at least 5× faster than the loop ⇒ ratio = t_loop / t_batch, target = 5. The dense-Fisher methods keep
per-row LAPACK calls (npg's SVD is stacked, npg-damped's Cholesky and r1-eigen's two ``dsyevr`` subsets are
the single code's calls row by row), so the gain is smaller than the tabular engine's: measured 6.4× (rounds
6.3–8.9×) on the 2-core reference machine under a load average of 4 (nice −15); npg's rows gain least (their
SVDs are most of their cost). The detail line "C1's random-loglinear mix" runs the family's whole quick grid
(153 configurations, cap 1,500, tol = 1e-4·gap₀, early stops) once: 7.6× there.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter

import numpy as np
from _timing import describe, done, emit, paired_ratio, start, time_interleaved

import r1theory as r1
from proofs_checks.c1_faster_than_pg import loglinear
from proofs_checks.runs import instance, param_from

INSTANCE = ("random", {"S": 10, "A": 4, "gamma": 0.95, "seed": 1})
K = 30
B, T = 64, 200
TOL = 1e-12
TARGET_SPEEDUP = 5.0
STEPS = (0.1, 0.3, 1.0, 3.0)
DAMPINGS = (1.0, 0.3, 0.1, 0.03)
BOUNDED = ("J", "gap", "grad_norm", "min_pi_opt", "eta")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)")


def configurations(n: int = B) -> list[tuple[str, float, float | None]]:
    """n configurations cycling through the exact methods; step and λ vary with each cycle."""
    methods = list(r1.METHODS)
    out = []
    for i in range(n):
        m = methods[i % len(methods)]
        cycle = i // len(methods)
        lam = DAMPINGS[(cycle // len(STEPS)) % len(DAMPINGS)] if r1.get_method(m).damped else None
        out.append((m, STEPS[cycle % len(STEPS)], lam))
    return out


def check_equal(batch: list[r1.Run], loop: list[r1.Run], bound: float = 1e-12) -> dict[str, float]:
    """Same statuses, iteration counts and message texts; the worst relative difference of each history.

    npg's differences are reported under the key ``npg θ`` etc. and not bounded (module docstring).
    """
    fields = ("J", "gap", "grad_norm", "min_pi_opt", "kl", "eta", "eff_step", "theta")
    worst = dict.fromkeys(fields, 0.0)
    npg = dict.fromkeys(fields, 0.0)
    for b, (x, y) in enumerate(zip(batch, loop, strict=True)):
        if (x.status, x.iterations) != (y.status, y.iterations):
            raise AssertionError(f"config {b}: {x.status}/{x.iterations} vs {y.status}/{y.iterations}")
        if _NUMBER.sub("#", x.message) != _NUMBER.sub("#", y.message):
            raise AssertionError(f"config {b}: message {x.message!r} vs {y.message!r}")
        for field in fields:
            u, v = getattr(x, field), getattr(y, field)
            if u.size:
                scale = max(float(np.nanmax(np.abs(v))), 1.0 if field in ("J", "gap", "theta") else 1e-300)
                into = npg if x.method == "npg" else worst
                into[field] = max(into[field], float(np.nanmax(np.abs(u - v))) / scale)
    bad = {k: v for k, v in worst.items() if k in BOUNDED and v > bound}
    if bad:
        raise AssertionError(f"iterate_batch differs from the loop beyond {bound:g} relative: {bad}")
    return {**worst, **{f"npg {k}": v for k, v in npg.items()}}


def main() -> int:
    t_start = start("bench_iterate_batch_param")
    mdp, _, opt = instance(*INSTANCE)
    param = param_from(loglinear(K), mdp)
    theta0 = np.zeros(K)
    configs = configurations()
    print(
        f"[iterate_batch, log-linear] S={mdp.S}, A={mdp.A}, γ={mdp.gamma}, k={K} (κ = 3), B={B} configurations × "
        f"T={T} iterations; methods {', '.join(r1.METHODS)}; steps {STEPS}; dampings {DAMPINGS}",
        flush=True,
    )

    def loop() -> list[r1.Run]:
        return [r1.iterate(mdp, theta0, m, eta, T, lam, TOL, optimum=opt, param=param) for m, eta, lam in configs]

    def batch() -> list[r1.Run]:
        return r1.iterate_batch(mdp, theta0, configs, T, tol=TOL, optimum=opt, param=param)

    per_loop: dict[str, float] = dict.fromkeys(r1.METHODS, 0.0)
    want = []
    for m, eta, lam in configs:
        t0 = time.perf_counter()
        want.append(r1.iterate(mdp, theta0, m, eta, T, lam, TOL, optimum=opt, param=param))
        per_loop[m] += time.perf_counter() - t0
    got = batch()
    worst = check_equal(got, want)
    print(
        f"  statuses {dict(Counter(r.status for r in got))}; max relative difference batch vs loop per history "
        "(npg's apart):"
    )
    print("    " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    count = Counter(m for m, _, _ in configs)
    for m in r1.METHODS:
        rows = [c for c in configs if c[0] == m]
        t0 = time.perf_counter()
        r1.iterate_batch(mdp, theta0, rows, T, tol=TOL, optimum=opt, param=param)
        t_rows = time.perf_counter() - t0
        print(
            f"  (info) {m:<11s} {count[m]:2d} rows: loop {1e6 * per_loop[m] / (count[m] * T):6.1f} µs per "
            f"run-iteration, its rows batched alone {1e6 * t_rows / T:6.1f} µs per iteration "
            f"({per_loop[m] / t_rows:.1f}×)"
        )
    # C1's own mix on this family: its step grid and dampings, tol = 1e-4·gap0 (early stops), cap 1,500
    from proofs_checks.c1_faster_than_pg import dampings, step_grid

    c1 = [
        (m, eta, lam)
        for m in r1.METHODS
        for eta in step_grid(True)
        for lam in (dampings(True) if r1.get_method(m).damped else [None])
    ]
    tol = 1e-4 * (opt.J - r1.policy_point(mdp, theta0, param).ev.J)
    sample = c1[::8]  # the loop over every 8th configuration, scaled: the whole loop takes about a minute
    t0 = time.perf_counter()
    ref = [r1.iterate(mdp, theta0, m, eta, 1500, lam, tol, optimum=opt, param=param) for m, eta, lam in sample]
    t_loop = (time.perf_counter() - t0) * len(c1) / len(sample)
    t0 = time.perf_counter()
    res = r1.iterate_batch(mdp, theta0, c1, 1500, tol=tol, optimum=opt, param=param)
    t_batch = time.perf_counter() - t0
    # steps up to 100 and λ down to 1e-3 (effective steps up to 1e5) amplify the gradient's rounding floor
    # (tests/test_iterate_batch_param.py): the statuses, counts and messages are checked, the differences reported
    diff = check_equal(res[::8], ref, bound=np.inf)
    print("    " + ", ".join(f"{k} {v:.1e}" for k, v in diff.items() if not k.startswith("npg")))
    print(
        f"  (info) C1's random-loglinear mix ({len(c1)} configurations, cap 1,500, tol = 1e-4·gap0: "
        f"{dict(Counter(r.status for r in res))}): batched {t_batch:.1f} s, loop ≈ {t_loop:.0f} s "
        f"(every 8th configuration, scaled): {t_loop / t_batch:.1f}× (one pass)"
    )

    t = time_interleaved({"loop": loop, "batch": batch}, repeats=5, warmup=0, min_sample=0.0, max_repeats=5)
    print(describe(f"loop: [iterate(..., param=) for {B} configurations]", t["loop"]))
    print(describe("iterate_batch(mdp, θ₀, configs, T, param=)", t["batch"]))
    ratio = paired_ratio(t["loop"], t["batch"])
    print(f"  iterate_batch (log-linear) speed-up {ratio} over the loop (target ≥ {TARGET_SPEEDUP:g}×)", flush=True)
    emit("iterate_batch_loglinear_vs_loop", ratio, TARGET_SPEEDUP)
    done("bench_iterate_batch_param", t_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
