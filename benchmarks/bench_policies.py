"""Dense-Fisher parametrisations: matrix-free products vs forming and factorising the Fisher.

Run ``python benchmarks/bench_policies.py``. Every BENCH ratio is time(baseline) / time(engine),
measured in this run (median of paired per-round ratios, BLAS threads pinned); it passes iff
ratio >= target (see ``_timing.py`` and README.md).

Setting: a log-linear policy with k = 1000 random features on a random MDP with S = 50, A = 4, and a
neural softmax policy with about 1000 parameters on the same MDP. Both sides share the exact
evaluation and the Jacobian at θ (computed once, outside the timed region), so the timings compare
only the linear algebra:

* engine: one Fisher-vector product ``F.mv(v)`` = Jᵀ(F_ℓ(Jv)), O(S·A·k); and one rank-1 direction
  (r1-precond, the costliest of the matrix-free ones: Jv, n(s,a) = ‖u_{s,a}‖² and Jᵀ of a logit array);
* baseline: form the dense (k, k) Fisher Jᵀ F_ℓ J and Cholesky-factorise F + λI (what a user needs
  before any dense natural-gradient step). F is formed the fastest way we know, one BLAS product
  XᵀX with rows x_{s,a} = √(d(s)π(a|s)) u_{s,a} (``ParamFisher.dense``); the three-operand
  ``einsum("sak,sab,sbl->kl")`` a user might write first is ~100× slower at k = 1000 (its time is
  printed for information only).

Target (issue 10): at k = 1000 each matrix-free operation costs far less, ratio >= 50.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from _timing import (
    describe,
    done,
    emit,
    load_note,
    paired_ratio,
    start,
    time_interleaved,
)

import r1theory as r1
from r1theory.directions import direction_at
from r1theory.fisher import ParamFisher, TabularFisher


def bench_one(
    name: str,
    mdp: r1.TabularMDP,
    point: r1.PolicyPoint,
    v: np.ndarray,
    lam: float = 1e-2,
) -> bool:
    """Time F.mv and r1-precond against forming and Cholesky-factorising the dense Fisher; emit two BENCH lines."""
    F = ParamFisher(TabularFisher(point.ev.d, point.pi), point.lin)
    J = point.lin.jacobian()
    blocks = F.logit.blocks
    k = point.theta.size

    def dense_route() -> object:
        Fd = F.dense()
        Fd[np.diag_indices(k)] += lam
        return scipy.linalg.cho_factor(Fd, overwrite_a=True, check_finite=False)

    def naive_einsum() -> object:
        return np.einsum("sak,sab,sbl->kl", J, blocks, J)

    Fd = F.dense()  # correctness before timing, against the naive triple product as well
    Fe = np.asarray(naive_einsum())
    assert np.allclose(Fd, Fe, rtol=0, atol=1e-12 * np.abs(Fe).max())
    assert np.allclose(F.mv(v), Fd @ v, atol=1e-12 * np.abs(Fd @ v).max())
    t = time_interleaved(
        {
            "dense": dense_route,
            "mv": lambda: F.mv(v),
            "r1": lambda: direction_at(point, "r1-precond", lam),
        },
        budget=6.0,
    )
    t_naive = time_interleaved({"naive": naive_einsum}, repeats=1, warmup=0, max_repeats=1)["naive"]
    print(f"{name}: k = {k} parameters, S = {mdp.S}, A = {mdp.A}")
    for label in ("dense", "mv", "r1"):
        print(describe(f"{name} {label}", t[label]))
    print(describe(f"{name} (info) forming F by the 3-operand einsum", t_naive))
    print(load_note(t["dense"]))
    ok = emit(
        f"{name}_fisher_mv_vs_dense_factorisation",
        paired_ratio(t["dense"], t["mv"]),
        50.0,
    )
    return (
        emit(
            f"{name}_r1_direction_vs_dense_factorisation",
            paired_ratio(t["dense"], t["r1"]),
            50.0,
        )
        and ok
    )


def main() -> int:
    t0 = start("bench_policies")
    rng = np.random.default_rng(20261125)
    S, A, k = 50, 4, 1000
    P = rng.random((S, A, S))
    P /= P.sum(axis=-1, keepdims=True)
    mdp = r1.TabularMDP(P, rng.random((S, A)), 0.9, np.full(S, 1.0 / S))
    params: dict[str, r1.Parametrisation] = {
        "loglinear": r1.LogLinear(rng.normal(size=(S, A, k)) / np.sqrt(k)),
        "neural": r1.NeuralSoftmax(S, A, (18,)),
    }
    for name, param in params.items():
        theta = param.init(rng) if isinstance(param, r1.NeuralSoftmax) else rng.normal(size=param.n_params)
        bench_one(name, mdp, r1.policy_point(mdp, theta, param), rng.normal(size=theta.shape))
    done("bench_policies", t0)
    return 0  # run.py judges the BENCH lines


if __name__ == "__main__":
    raise SystemExit(main())
