"""Sparse evaluation at scale: ``evaluate`` on a sparse Garnet vs its Krylov floor.

Run ``python benchmarks/bench_sparse.py`` (or ``python benchmarks/run.py``). The BENCH ratio is
time(floor) / time(evaluate), measured in this run; it passes iff ratio >= target (``_timing.py``).

``sparse_evaluate_vs_gmres_floor`` — Garnet(S = 100,000, A = 4, branching 3), γ = 0.9, uniform ρ, P
stored as a CSR (S·A, S) matrix (1.2 M nonzeros; a dense P would take 320 GB), a random softmax
policy. The floor is the work no Krylov-based exact evaluation can skip: the two GMRES solves
(``scipy.sparse.linalg.gmres``, rtol = 1e-12, atol = 0, scipy's default restart 20) of the same
systems, (I − γP_π)V = r_π and (I − γP_π)ᵀd = (1 − γ)ρ, on matrix-free operators over a prebuilt
canonical CSR P_π — forming P_π is *not* charged to the floor. ``evaluate`` does all of it: validate
π, form P_π, both solves, the true residuals, d's clipping, Q = r + γPV and A.
Target "evaluate costs at most 1.5× the floor" ⇒ ratio = t_floor / t_evaluate, target = 1/1.5.

A sparse direct LU (scipy.sparse.linalg.splu) is not a usable floor: on random transition graphs
its fill-in makes it orders of magnitude slower and larger; a detail line shows it at S = 3,000.
Informational lines: the Krylov residuals and iterations, ``optimal`` (policy iteration with warm
started GMRES), one direction at this size, and the peak memory of ``evaluate`` (tracemalloc)
against the size of P.

OpenBLAS note: GMRES spends much of its time in BLAS-1 calls (dot, norm) on length-S vectors,
which OpenBLAS threads; on a machine whose cores are busy, threaded calls wait for each other and a
solve took 20–50× longer (for the floor and the engine alike). ``_timing.start`` pins the BLAS
threads (1 by default), which avoids those stalls.
"""

from __future__ import annotations

import sys
import time
import tracemalloc

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from _timing import (
    describe,
    done,
    emit,
    fmt_time,
    paired_ratio,
    start,
    time_interleaved,
)

import r1theory as r1
import tabular_mdps

SEED = 20_240_612
S, A, BRANCHING, GAMMA = 100_000, 4, 3, 0.9
RTOL = 1e-12
TARGET_MAX_FACTOR = 1.5
SPLU_S = 3_000  # the sparse direct LU detail (its fill-in grows too fast for larger S)


def sparse_garnet(S: int, A: int, b: int, gamma: float, seed: int) -> r1.TabularMDP:
    """Garnet(S, A, b) built directly in CSR by the catalog (O(S·A·b) time and memory)."""
    return tabular_mdps.get("garnet", S=S, A=A, branching=b, gamma=gamma, seed=seed, sparse=True)


def splu_detail(rng: np.random.Generator) -> None:
    """Why not a sparse direct solver: splu fill-in on a (small) Garnet."""
    small = sparse_garnet(SPLU_S, A, BRANCHING, GAMMA, int(rng.integers(1 << 30)))
    pi = r1.softmax(rng.standard_normal((small.S, A)))
    P_pi = small.transition_matrix(pi).tocsc()
    M = (scipy.sparse.identity(small.S, format="csc") - GAMMA * P_pi).tocsc()
    t0 = time.perf_counter()
    lu = scipy.sparse.linalg.splu(M)
    t_lu = time.perf_counter() - t0
    t0 = time.perf_counter()
    r1.evaluate(small, pi)
    t_ev = time.perf_counter() - t0
    fill = (lu.L.nnz + lu.U.nnz) / M.nnz
    print(
        f"  (info) S={SPLU_S:,}: splu of I − γP_π takes {fmt_time(t_lu)} with fill-in {fill:.0f}× nnz(M) "
        f"({(lu.L.nnz + lu.U.nnz) * 12 / 2**20:.0f} MiB); the whole GMRES evaluate takes {fmt_time(t_ev)}"
    )


def main() -> int:
    t_start = start("bench_sparse")
    rng = np.random.default_rng(SEED)
    t0 = time.perf_counter()
    mdp = sparse_garnet(S, A, BRANCHING, GAMMA, SEED)
    print(
        f"[sparse_evaluate] Garnet S={S:,} A={A} branching={BRANCHING} gamma={GAMMA}: nnz(P)={mdp.nnz:,} "
        f"({mdp.nnz * 12 / 2**20:.0f} MiB CSR; dense would be {S * A * S * 8 / 2**30:.0f} GiB); "
        f"built in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    theta = rng.standard_normal((S, A))
    pi = r1.softmax(theta)
    g = mdp.gamma

    # the floor's operators: canonical CSR P_π (prebuilt), I − γP_π and its transpose, matrix-free
    P_pi = mdp.transition_matrix(pi).copy()  # own (writable) index arrays
    P_pi.sum_duplicates()
    P_pi_T = P_pi.T
    M = scipy.sparse.linalg.LinearOperator((S, S), matvec=lambda x: x - g * (P_pi @ x), dtype=np.float64)
    MT = scipy.sparse.linalg.LinearOperator((S, S), matvec=lambda x: x - g * (P_pi_T @ x), dtype=np.float64)
    r_pi = np.einsum("sa,sa->s", pi, mdp.r)
    b_d = (1.0 - g) * mdp.rho

    def floor() -> tuple[np.ndarray, np.ndarray]:
        V, info_V = scipy.sparse.linalg.gmres(M, r_pi, rtol=RTOL, atol=0.0)
        d, info_d = scipy.sparse.linalg.gmres(MT, b_d, rtol=RTOL, atol=0.0)
        if info_V or info_d:
            raise RuntimeError(f"floor GMRES did not converge (info {info_V}, {info_d})")
        return V, d

    # the floor computes the engine's V and d
    V, d = floor()
    ev = r1.evaluate(mdp, pi)
    scale = 1.0 + float(np.max(np.abs(mdp.r))) / (1.0 - g)
    np.testing.assert_allclose(ev.V, V, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(ev.d, np.maximum(d, 0.0), rtol=0, atol=1e-12)
    info = ev.krylov
    assert info is not None
    print(
        f"  GMRES (rtol {info.rtol:g}, restart {info.restart}): V residual {info.residual_V:.2e} in "
        f"{info.iterations_V} iterations, d residual {info.residual_d:.2e} in {info.iterations_d} iterations",
        flush=True,
    )

    t = time_interleaved(
        {"floor": floor, "evaluate": lambda: r1.evaluate(mdp, pi)},
        repeats=7,
        min_sample=0.0,
        budget=25.0,
        max_repeats=15,
        max_time=90.0,
    )
    print(describe("floor (2 × gmres, rtol 1e-12, prebuilt P_π)", t["floor"]))
    print(describe("evaluate(mdp, π)", t["evaluate"]))
    ratio = paired_ratio(t["floor"], t["evaluate"])

    # informational: the engine's extra work and the other exact quantities at this size
    parts = time_interleaved(
        {
            "P_pi": lambda: mdp.transition_matrix(pi),
            "Q": lambda: mdp.r + g * mdp.expected_next(ev.V),
            "A": lambda: r1.advantage(ev.Q, pi),
        },
        repeats=3,
        min_sample=0.05,
        max_time=10.0,
    )
    print("  engine's extra work beyond the floor (informational):")
    print(describe("  P_π = transition_matrix(π) (O(nnz))", parts["P_pi"]))
    print(describe("  Q = r + γ expected_next(V)", parts["Q"]))
    print(describe("  A = advantage(Q, π)", parts["A"]))
    tracemalloc.start()
    r1.evaluate(mdp, pi)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  (info) peak memory of evaluate: {peak / 2**20:.0f} MiB (P itself: {mdp.nnz * 12 / 2**20:.0f} MiB)")
    t0 = time.perf_counter()
    opt = r1.optimal(mdp)
    print(
        f"  (info) optimal: {fmt_time(time.perf_counter() - t0)}, {opt.iterations} policy-iteration sweeps, "
        f"Bellman residual {opt.residual:.1e}"
    )
    t0 = time.perf_counter()
    r1.direction("r1-precond", mdp, theta, damping=1e-2)  # evaluation + gradient + an O(S·A) direction
    print(f"  (info) direction('r1-precond', λ=1e-2): {fmt_time(time.perf_counter() - t0)}")
    splu_detail(rng)

    print(
        f"  evaluate costs {1.0 / ratio.median:.3f}× the floor (target ≤ {TARGET_MAX_FACTOR}×); "
        f"ratio = t_floor / t_evaluate = {ratio}, target ≥ {1.0 / TARGET_MAX_FACTOR:.4f}",
        flush=True,
    )
    emit("sparse_evaluate_vs_gmres_floor", ratio, 1.0 / TARGET_MAX_FACTOR)
    done("bench_sparse", t_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
