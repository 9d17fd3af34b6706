"""Batched evaluation: ``evaluate_batch`` vs a Python loop of single ``evaluate`` calls.

Run ``python benchmarks/bench_batch.py`` (or ``python benchmarks/run.py``). The BENCH ratio is
time(loop) / time(evaluate_batch), measured in this run (median of paired per-round ratios, BLAS
threads pinned); it passes iff ratio >= target (``_timing.py``).

``evaluate_batch_vs_loop`` — B = 1000 dense random MDPs with S = 10, A = 4 (every row P[b, s, a, :] a
random distribution), γ_b ~ U[0.5, 0.99) per MDP, random ρ_b and softmax policies π_b. The baseline
is the loop ``[evaluate(mdps[b], pi[b]) for b in range(B)]`` over *prebuilt* TabularMDPs (building
them, which a loop user also pays, is not charged to the baseline: a detail line shows it). The
measured call is ``evaluate_batch(P, r, gamma, rho, pi)`` on the raw arrays, validation included.
Both results are checked equal (to the tolerance stated in r1theory/batch.py) before timing.
Target "at least 20× faster than the loop" ⇒ ratio = t_loop / t_batch, target = 20.

A detail line also times the obvious vectorised alternative: one stacked LAPACK call,
``numpy.linalg.solve`` on the 2B systems (I − γP_π)V = r_π and (I − γP_π)ᵀx = ρ.
"""

from __future__ import annotations

import sys

import numpy as np
from _timing import describe, done, emit, paired_ratio, start, time_interleaved

import r1theory as r1

SEED = 20_240_613
B, S, A = 1000, 10, 4
TARGET_SPEEDUP = 20.0
TOL = 1e-12  # r1theory/batch.py: |ΔV|, |ΔQ|, |ΔA|, |ΔJ| ≤ TOL·(1 + max|r|/(1 − γ)), |Δd| ≤ TOL


def main() -> int:
    t_start = start("bench_batch")
    rng = np.random.default_rng(SEED)
    P = rng.random((B, S, A, S))
    P /= P.sum(axis=-1, keepdims=True)
    r = rng.random((B, S, A))
    gamma = rng.uniform(0.5, 0.99, B)
    rho = rng.random((B, S))
    rho /= rho.sum(axis=1, keepdims=True)
    pi = r1.softmax(rng.standard_normal((B * S, A))).reshape(B, S, A)
    print(
        f"[evaluate_batch] B={B} MDPs, S={S}, A={A}, gamma ~ U[0.5, 0.99) per MDP",
        flush=True,
    )

    def build() -> list[r1.TabularMDP]:
        return [r1.TabularMDP(P[b], r[b], gamma[b], rho[b]) for b in range(B)]

    mdps = build()

    def loop() -> list[r1.Evaluation]:
        return [r1.evaluate(mdps[b], pi[b]) for b in range(B)]

    def batch() -> r1.BatchEvaluation:
        return r1.evaluate_batch(P, r, gamma, rho, pi)

    def stacked_lapack() -> tuple[np.ndarray, np.ndarray]:
        M = np.eye(S) - gamma[:, None, None] * np.einsum("bsa,bsat->bst", pi, P)
        r_pi = np.einsum("bsa,bsa->bs", pi, r)
        sol = np.linalg.solve(
            np.concatenate([M, M.transpose(0, 2, 1)]),
            np.concatenate([r_pi, rho])[:, :, None],
        )
        return sol[:B, :, 0], (1.0 - gamma)[:, None] * sol[B:, :, 0]

    # identical results (to rounding) before timing
    want, got = loop(), batch()
    worst = {"V": 0.0, "Q": 0.0, "A": 0.0, "J": 0.0, "d": 0.0}
    for b in range(B):
        scale = 1.0 + float(np.max(np.abs(r[b]))) / (1.0 - gamma[b])
        for field in ("V", "Q", "A"):
            err = float(np.max(np.abs(getattr(got, field)[b] - getattr(want[b], field)))) / scale
            worst[field] = max(worst[field], err)
        worst["J"] = max(worst["J"], abs(float(got.J[b]) - want[b].J) / scale)
        worst["d"] = max(worst["d"], float(np.max(np.abs(got.d[b] - want[b].d))))
    print(
        "  max |batch − loop| (V, Q, A, J relative to 1 + max|r|/(1 − γ); d absolute): "
        + ", ".join(f"{k} {v:.1e}" for k, v in worst.items())
    )
    if max(worst.values()) > TOL:
        raise AssertionError(f"evaluate_batch differs from the loop beyond {TOL:g}: {worst}")
    V_ref, d_ref = stacked_lapack()
    np.testing.assert_allclose(V_ref, got.V, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.maximum(d_ref, 0.0), got.d, rtol=0, atol=1e-12)

    t = time_interleaved(
        {"loop": loop, "batch": batch, "build": build, "lapack": stacked_lapack},
        budget=8.0,
        max_time=30.0,
    )
    print(describe("loop: [evaluate(mdp_b, π_b) for b]", t["loop"]))
    print(describe("evaluate_batch(P, r, gamma, rho, pi)", t["batch"]))
    print(describe("(info) building the B TabularMDPs", t["build"]))
    print(describe("(info) stacked numpy.linalg.solve, V and d only", t["lapack"]))
    ratio = paired_ratio(t["loop"], t["batch"])
    with_build = paired_ratio(
        [b + x for b, x in zip(t["build"].samples, t["loop"].samples, strict=True)],
        t["batch"],
    )
    lapack = paired_ratio(t["lapack"], t["batch"])
    print(
        f"  (info) with the MDP construction counted in the loop: {with_build.median:.1f}×; "
        f"the stacked LAPACK route alone (no Q, A, validation) takes {lapack.median:.2f}× evaluate_batch"
    )
    print(
        f"  evaluate_batch speed-up {ratio} over the loop (target ≥ {TARGET_SPEEDUP:g}×)",
        flush=True,
    )
    emit("evaluate_batch_vs_loop", ratio, TARGET_SPEEDUP)
    done("bench_batch", t_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
