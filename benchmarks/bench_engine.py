"""Engine benchmarks: exact policy gradient vs its linear-algebra floor, directions vs the dense route.

Run ``python benchmarks/bench_engine.py`` (or ``python benchmarks/run.py`` for every benchmark).
Every BENCH ratio is time(baseline) / time(engine), measured in this run; it passes iff
ratio >= target (see ``_timing.py`` and README.md).

1. ``policy_gradient_vs_floor`` — S = 2000, A = 8, dense random P. The floor is the work no exact
   method can skip: form P_π = Σ_a π(a|s) P[s, a, :] (one S × S array), turn it into I − γP_π in
   place, one LU factorisation (scipy.linalg.lu_factor) and the two triangular solves (lu_solve,
   trans=0 for V, trans=1 for d). Target "policy_gradient costs at most 1.5× the floor" ⇒
   ratio = t_floor / t_pg, target = 1/1.5.
   (Factoring the Fortran-ordered view (I − γP_π)ᵀ in place instead, which skips f2py's transposed
   copy, was tried: in this process it was often 30–50 % *slower* and unstable from run to run,
   apparently from the memory backing of the reused buffer, so the floor keeps the plain call.)

2. ``natural_gradient_vs_dense`` and ``direction_<method>_vs_dense`` for every method except pg —
   S = 200, A = 10 (SA = 2000), damping λ = 1e-2. The engine side is the full user-facing call
   (validation, softmax, exact evaluation, direction). The dense route is what a user without the
   engine writes, with the same exact evaluation (via ``policy_point``, shared by gradient and
   Fisher, i.e. evaluated once): form the dense SA × SA matrix and invert it, choosing the fastest
   standard dense solver for it:

   * npg / natural_gradient: ``pinv(F, hermitian=True) @ g`` (F singular: pinv is required;
     hermitian=True is about 2× faster than the default SVD route).
   * npg-damped: Cholesky solve of F + λI (cho_factor/cho_solve; ~2× faster than numpy.linalg.solve).
   * r1-eigen: top eigenpair of the dense F by Lanczos (scipy.sparse.linalg.eigsh, k=1; faster
     than a full or subset eigh), then Cholesky solve of λI + σ₁v₁v₁ᵀ.
   * r1-grad: Cholesky solve of λI + ggᵀ.
   * r1-precond: form the dense preconditioner E_{s∼d,a∼π}[(λI + uuᵀ)^{-1}] from the dense score
     matrix U (rows u_{s,a}), each inverse by Sherman–Morrison (I − uuᵀ/(λ+‖u‖²))/λ, summed as one
     matrix product Uᵀ diag(c) U; multiply by g. (A detail line also reports the matrix-free
     dense-score variant g/λ − Uᵀ(c ∘ Ug), which never forms the preconditioner.)
   * r1-same: E[(λI + uuᵀ)^{-1} Â u] has no single preconditioner; its per-sample matrices are the
     SA × SA matrices of the formula. The dense route of the issue ("form the matrix, invert,
     multiply"), the same rule as for r1-grad, is then: dense score matrix U, and for every sample
     (s, a) form λI + uuᵀ and Cholesky-solve it against Â u. That is SA = 2000 dense 2000 × 2000
     solves (about 2 minutes), so only :data:`R1_SAME_LITERAL_SAMPLES` of them, drawn at random, are
     timed in each round; the route's time is t(eval + U) + SA · t(those solves)/m. Every solve has
     the same size and dense cost whatever the sample, so this scaling is exact up to timing noise.
     Two informational lines follow, because this route is slow by construction: the speed-up
     against the cheapest dense code — dense U with the per-sample Sherman–Morrison
     (λI + uuᵀ)^{-1}u = u/(λ + ‖u‖²), i.e. Uᵀ(w ∘ Â/(λ + ‖u‖²)), which already uses the engine's
     trick and shares its exact evaluation (session 1 measured 7–26×: the shared evaluation bounds
     that ratio) — and the direction alone at a fixed point (no evaluation) against that code.

   Every dense route is checked against the engine's result before timing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
import scipy.linalg
import scipy.sparse.linalg
from _timing import (
    describe,
    done,
    emit,
    fmt_time,
    load_note,
    paired_ratio,
    start,
    time_interleaved,
)

from r1theory import (
    METHODS,
    PolicyPoint,
    TabularFisher,
    TabularMDP,
    direction,
    direction_at,
    evaluate,
    natural_gradient,
    policy_gradient,
    policy_point,
    softmax,
)

SEED = 20_240_611
GAMMA = 0.9
DAMPING = 1e-2
#: Seconds of timed rounds per benchmark (at least ``REPEATS`` rounds are always taken).
BUDGET = 4.0
REPEATS = 9

PG_S, PG_A = 2000, 8
PG_TARGET_MAX_FACTOR = 1.5  # policy_gradient ≤ 1.5 × floor
DIR_S, DIR_A = 200, 10
DIR_TARGET_SPEEDUP = 100.0  # engine ≥ 100 × faster than the dense route
#: r1-same's literal dense route: how many of the SA per-sample solves are timed per round.
R1_SAME_LITERAL_SAMPLES = 8


def random_mdp(rng: np.random.Generator, S: int, A: int, gamma: float) -> TabularMDP:
    """Dense random MDP: every row P[s, a, :] a random distribution; random r in [0, 1), random ρ."""
    P = rng.random((S, A, S))
    P /= P.sum(axis=2, keepdims=True)
    r = rng.random((S, A))
    rho = rng.random(S)
    rho /= rho.sum()
    return TabularMDP(P, r, gamma, rho)


# ---------------------------------------------------------------------------------------------
# 1. policy_gradient vs the floor
# ---------------------------------------------------------------------------------------------


def bench_policy_gradient(rng: np.random.Generator) -> None:
    S, A = PG_S, PG_A
    print(
        f"[policy_gradient] S={S} A={A} gamma={GAMMA}, dense P ({S * A * S * 8 / 2**20:.0f} MiB)",
        flush=True,
    )
    t0 = time.perf_counter()
    mdp = random_mdp(rng, S, A, GAMMA)
    print(f"  built the MDP in {time.perf_counter() - t0:.1f} s", flush=True)
    theta = rng.standard_normal((S, A))
    pi = softmax(theta)
    P, r, rho, gamma = mdp.P, mdp.r, mdp.rho, mdp.gamma
    diag = np.arange(S)

    def form_P_pi() -> np.ndarray:
        return np.einsum("sa,sat->st", pi, P)

    def form_M(P_pi: np.ndarray) -> np.ndarray:
        P_pi *= -gamma  # in place: I − γP_π without another S × S temporary
        P_pi[diag, diag] += 1.0
        return P_pi

    def floor() -> tuple[np.ndarray, np.ndarray]:
        M = form_M(form_P_pi())
        lu = scipy.linalg.lu_factor(M, overwrite_a=True, check_finite=False)
        r_pi = np.einsum("sa,sa->s", pi, r)
        V = scipy.linalg.lu_solve(lu, r_pi, check_finite=False)
        d = scipy.linalg.lu_solve(lu, rho, trans=1, check_finite=False)
        return V, d

    # the floor computes the same V and d as the engine
    V, d = floor()
    ev = evaluate(mdp, pi)
    np.testing.assert_allclose(V, ev.V, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose((1.0 - gamma) * d, ev.d, rtol=1e-7, atol=1e-12)

    # components, for the detail lines (not part of the ratio)
    M_fixed = form_M(form_P_pi())
    lu_fixed = scipy.linalg.lu_factor(M_fixed, check_finite=False)
    r_pi_fixed = np.einsum("sa,sa->s", pi, r)
    V_fixed = scipy.linalg.lu_solve(lu_fixed, r_pi_fixed, check_finite=False)

    def two_solves() -> None:
        scipy.linalg.lu_solve(lu_fixed, r_pi_fixed, check_finite=False)
        scipy.linalg.lu_solve(lu_fixed, rho, trans=1, check_finite=False)

    # the BENCH pair alone, so that its rounds are short (floor and engine ~0.1 s each) and many
    t = time_interleaved(
        {"floor": floor, "policy_gradient": lambda: policy_gradient(mdp, theta)},
        repeats=15,
        budget=2 * BUDGET,
        max_time=6 * BUDGET,
    )
    t |= time_interleaved(
        {
            "P_pi": form_P_pi,
            "lu_factor": lambda: scipy.linalg.lu_factor(M_fixed, check_finite=False),
            "2 lu_solve": two_solves,
            "expected_next": lambda: mdp.expected_next(V_fixed),
        },
        repeats=5,
        max_time=BUDGET,
    )
    print(describe("floor (P_π, I − γP_π, lu_factor, 2 lu_solve)", t["floor"]))
    print(describe("policy_gradient(mdp, θ)", t["policy_gradient"]))
    print("  floor components and the engine's extra work (informational):")
    print(describe("  P_π = einsum('sa,sat->st', π, P)", t["P_pi"]))
    print(describe("  lu_factor(I − γP_π)", t["lu_factor"]))
    print(describe("  lu_solve ×2 (V, d)", t["2 lu_solve"]))
    print(describe("  expected_next(V) = P @ V (engine, for Q)", t["expected_next"]))
    print(load_note(t["floor"]))
    ratio = paired_ratio(t["floor"], t["policy_gradient"])
    print(
        f"  policy_gradient costs {1.0 / ratio.median:.3f}× the floor (target ≤ {PG_TARGET_MAX_FACTOR}×); "
        f"ratio = t_floor / t_pg = {ratio}, target ≥ {1.0 / PG_TARGET_MAX_FACTOR:.4f}",
        flush=True,
    )
    emit("policy_gradient_vs_floor", ratio, 1.0 / PG_TARGET_MAX_FACTOR)


# ---------------------------------------------------------------------------------------------
# 2. natural gradient and rank-1 directions vs the dense route
# ---------------------------------------------------------------------------------------------


def spd_solve(M: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve M x = b for symmetric positive definite M by Cholesky (overwrites M)."""
    return scipy.linalg.cho_solve(scipy.linalg.cho_factor(M, overwrite_a=True, check_finite=False), b)


def lu_solve(M: np.ndarray, b: np.ndarray) -> np.ndarray:
    """numpy.linalg.solve: the common idiom (LU), reported as an informational variant."""
    return np.linalg.solve(M, b)


def bench_directions(rng: np.random.Generator) -> None:
    S, A = DIR_S, DIR_A
    n = S * A
    lam = DAMPING
    print(f"[directions] S={S} A={A} (SA={n}) gamma={GAMMA} damping={lam}", flush=True)
    mdp = random_mdp(rng, S, A, GAMMA)
    theta = rng.standard_normal((S, A))
    gamma = mdp.gamma
    diag = np.arange(n)
    states = np.arange(S)
    eye_A = np.eye(A)
    v0 = rng.standard_normal(n)  # fixed Lanczos start vector (reproducible iteration count)

    def dense_fisher(pt: PolicyPoint) -> np.ndarray:
        return TabularFisher(d=pt.ev.d, pi=pt.pi).dense()

    def dense_scores(pi: np.ndarray) -> np.ndarray:
        """U[(s, a), (s', b)] = [s = s'](δ_ab − π(b|s)): row (s, a) is the score ∇log π(a|s)."""
        U = np.zeros((S, A, S, A))
        U[states, :, states, :] = eye_A - pi[:, None, :]
        return U.reshape(n, n)

    def dense_npg() -> np.ndarray:
        pt = policy_point(mdp, theta)
        g = pt.gradient.ravel()
        return np.linalg.pinv(dense_fisher(pt), hermitian=True) @ g

    def dense_npg_damped(
        solve: Callable[[np.ndarray, np.ndarray], np.ndarray] = spd_solve,
    ) -> np.ndarray:
        pt = policy_point(mdp, theta)
        g = pt.gradient.ravel()
        M = dense_fisher(pt)
        M[diag, diag] += lam
        return solve(M, g)

    def dense_r1_eigen() -> np.ndarray:
        pt = policy_point(mdp, theta)
        g = pt.gradient.ravel()
        w, V = scipy.sparse.linalg.eigsh(dense_fisher(pt), k=1, which="LA", v0=v0)
        v = V[:, 0]
        M = w[0] * np.outer(v, v)
        M[diag, diag] += lam
        return spd_solve(M, g)

    def dense_r1_grad(
        solve: Callable[[np.ndarray, np.ndarray], np.ndarray] = spd_solve,
    ) -> np.ndarray:
        pt = policy_point(mdp, theta)
        g = pt.gradient.ravel()
        M = np.outer(g, g)
        M[diag, diag] += lam
        return solve(M, g)

    def dense_r1_same() -> np.ndarray:
        pt = policy_point(mdp, theta)
        U = dense_scores(pt.pi)
        norms = np.einsum("ij,ij->i", U, U)
        w = (pt.ev.d[:, None] * pt.pi).ravel()
        A_hat = pt.ev.A.ravel() / (1.0 - gamma)
        return U.T @ (w * A_hat / (lam + norms))

    # r1-same's literal route: one dense (λI + uuᵀ) Cholesky solve per sample, timed on a random subset
    literal_rows = np.sort(np.random.default_rng(SEED + 2).choice(n, size=R1_SAME_LITERAL_SAMPLES, replace=False))
    pt_fixed = policy_point(mdp, theta)
    U_fixed = dense_scores(pt_fixed.pi)
    coef_fixed = (pt_fixed.ev.d[:, None] * pt_fixed.pi).ravel() * pt_fixed.ev.A.ravel() / (1.0 - gamma)

    def literal_r1_same_solves(rows: np.ndarray) -> np.ndarray:
        """Σ_{i ∈ rows} w_i Â_i (λI + u_i u_iᵀ)^{-1} u_i, each inverse by forming the matrix and solving."""
        out = np.zeros(n)
        for i in rows:
            u = U_fixed[i]
            M = np.outer(u, u)
            M[diag, diag] += lam
            out += coef_fixed[i] * spd_solve(M, u)
        return out

    def literal_r1_same_prefix() -> np.ndarray:
        return dense_scores(policy_point(mdp, theta).pi)

    def sherman_morrison_r1_same_fixed() -> np.ndarray:
        norms = np.einsum("ij,ij->i", U_fixed, U_fixed)
        return U_fixed.T @ (coef_fixed / (lam + norms))

    def _precond_parts(pt: PolicyPoint) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        U = dense_scores(pt.pi)
        norms = np.einsum("ij,ij->i", U, U)
        w = (pt.ev.d[:, None] * pt.pi).ravel()
        return U, w / (lam * (lam + norms)), pt.gradient.ravel()

    def dense_r1_precond() -> np.ndarray:
        pt = policy_point(mdp, theta)
        U, c, g = _precond_parts(pt)
        M = (U.T * c) @ U  # Σ_{s,a} c(s,a) u uᵀ
        M *= -1.0
        M[diag, diag] += 1.0 / lam  # E[(λI + uuᵀ)^{-1}] = I/λ − Σ c u uᵀ  (Σ d π = 1)
        return M @ g

    def dense_r1_precond_matrix_free() -> np.ndarray:
        pt = policy_point(mdp, theta)
        U, c, g = _precond_parts(pt)
        return g / lam - U.T @ (c * (U @ g))

    def engine(method: str) -> Callable[[], np.ndarray]:
        damping = None if method == "npg" else lam
        return lambda: direction(method, mdp, theta, damping=damping)

    dense_routes = {
        "npg": ("eval + dense F + pinv(F, hermitian=True) @ g", dense_npg),
        "npg-damped": ("eval + dense F + Cholesky solve (F + λI)", dense_npg_damped),
        "r1-eigen": (
            "eval + dense F + eigsh(k=1) + Cholesky (λI + σvvᵀ)",
            dense_r1_eigen,
        ),
        "r1-grad": ("eval + Cholesky solve (λI + ggᵀ)", dense_r1_grad),
        "r1-same": (
            "(info) cheapest: eval + dense U + Uᵀ(w Â/(λ+‖u‖²))",
            dense_r1_same,
        ),
        "r1-precond": ("eval + dense U + form I/λ − UᵀCU + matvec", dense_r1_precond),
    }
    methods = [m for m in METHODS if m != "pg"]
    if sorted(methods) != sorted(dense_routes):
        raise RuntimeError(f"METHODS changed ({METHODS}); add a dense route for every method but pg")

    # every dense route computes the engine's direction
    for method, (_, route) in dense_routes.items():
        want = engine(method)().ravel()
        got = route()
        scale = float(np.max(np.abs(want)))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-8 * scale, err_msg=f"dense route for {method}")
    np.testing.assert_allclose(dense_r1_precond_matrix_free(), engine("r1-precond")().ravel(), rtol=1e-10)
    np.testing.assert_allclose(dense_npg_damped(lu_solve), dense_npg_damped(), rtol=1e-8)
    np.testing.assert_allclose(dense_r1_grad(lu_solve), dense_r1_grad(), rtol=1e-8)
    np.testing.assert_allclose(natural_gradient(mdp, theta), engine("npg")(), rtol=0, atol=1e-12)
    # the literal per-sample solves agree with Sherman–Morrison on the timed subset
    sub = U_fixed[literal_rows]
    want_sub = sub.T @ (coef_fixed[literal_rows] / (lam + np.einsum("ij,ij->i", sub, sub)))
    got_sub = literal_r1_same_solves(literal_rows)
    np.testing.assert_allclose(got_sub, want_sub, rtol=0, atol=1e-8 * float(np.max(np.abs(want_sub))))
    np.testing.assert_allclose(
        sherman_morrison_r1_same_fixed(),
        direction_at(pt_fixed, "r1-same", lam).ravel(),
        rtol=0,
        atol=1e-12,
    )

    for method in methods:
        label, route = dense_routes[method]
        fns = {"dense": route, "engine": engine(method)}
        if method == "npg":
            fns["natural_gradient"] = lambda: natural_gradient(mdp, theta)
        if method == "r1-precond":
            fns["matrix-free"] = dense_r1_precond_matrix_free
        if method == "npg-damped":
            fns["lu"] = lambda: dense_npg_damped(lu_solve)
        if method == "r1-grad":
            fns["lu"] = lambda: dense_r1_grad(lu_solve)
        if method == "r1-same":
            fns["eval + U"] = literal_r1_same_prefix
            fns["literal solves"] = lambda: literal_r1_same_solves(literal_rows)
            fns["SM at a fixed point"] = sherman_morrison_r1_same_fixed
            fns["engine at a fixed point"] = lambda: direction_at(pt_fixed, "r1-same", lam)
        t = time_interleaved(fns, repeats=REPEATS, budget=BUDGET, max_time=2 * BUDGET)
        damping = "" if method == "npg" else f", damping={lam}"
        print(f" {method}", flush=True)
        print(describe(f"dense: {label}", t["dense"]))
        if method == "r1-precond":
            print(describe("dense, matrix-free: g/λ − Uᵀ(c ∘ Ug) (info)", t["matrix-free"]))
            mf = paired_ratio(t["matrix-free"], t["engine"])
            print(f"  (info) speed-up vs the matrix-free dense variant: {mf.median:.1f}×")
        if "lu" in t:
            print(describe("dense, numpy.linalg.solve instead (info)", t["lu"]))
            print(
                f"  (info) speed-up vs the numpy.linalg.solve variant: {paired_ratio(t['lu'], t['engine']).median:.1f}×"
            )
        if method == "npg":
            print(describe("natural_gradient(mdp, θ)", t["natural_gradient"]))
        print(describe(f"direction('{method}', mdp, θ{damping})", t["engine"]))
        print(load_note(t["engine"]))
        if method == "npg":
            ratio_ng = paired_ratio(t["dense"], t["natural_gradient"])
            print(f"  natural_gradient speed-up {ratio_ng} (target ≥ {DIR_TARGET_SPEEDUP:g}×)")
            emit("natural_gradient_vs_dense", ratio_ng, DIR_TARGET_SPEEDUP)
        ratio = paired_ratio(t["dense"], t["engine"])
        if method == "r1-same":
            m = R1_SAME_LITERAL_SAMPLES
            literal = [
                prefix + n * solves / m
                for prefix, solves in zip(t["eval + U"].samples, t["literal solves"].samples, strict=True)
            ]
            t_literal = sorted(literal)[len(literal) // 2]
            print(describe("eval + dense U", t["eval + U"]))
            print(describe(f"{m} per-sample Cholesky solves of λI + uuᵀ", t["literal solves"]))
            print(
                f"  literal dense route: eval + U + {n} solves = {fmt_time(t_literal)} (median; scaled from {m} solves)"
            )
            print(f"  (info) speed-up vs the cheapest dense code above (dense U, Sherman–Morrison per sample): {ratio}")
            print(
                describe(
                    "(info) that code at a fixed point, no eval",
                    t["SM at a fixed point"],
                )
            )
            print(describe("(info) direction_at at a fixed point", t["engine at a fixed point"]))
            print(
                "  (info) direction alone vs the cheapest dense code: "
                f"{paired_ratio(t['SM at a fixed point'], t['engine at a fixed point']).median:.1f}×"
            )
            ratio = paired_ratio(literal, t["engine"])
        print(
            f"  direction {method} speed-up {ratio} (target ≥ {DIR_TARGET_SPEEDUP:g}×)",
            flush=True,
        )
        emit(f"direction_{method}_vs_dense", ratio, DIR_TARGET_SPEEDUP)


def main() -> int:
    t0 = start("bench_engine")
    bench_policy_gradient(np.random.default_rng(SEED))
    bench_directions(np.random.default_rng(SEED + 1))
    done("bench_engine", t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
