"""Symbolic derivations (sympy) of the closed forms the engine relies on, and of the rank-1 variants' algebra.

Each test derives a formula from its definition — the softmax score by differentiating log π, the Fisher
as the average of score outer products, inverses by sympy's exact linear algebra — and compares it with
the closed form written in ``r1theory`` (score.py, fisher.py, directions.py), symbolically where it is
cheap and otherwise exactly in rational arithmetic at rational points; the engine is then compared in
floating point. Instances: softmax blocks of 2 and 3 actions, K-armed bandits (S = 1, γ = 0, so d = 1,
A(a) = r(a) − πᵀr and ∇J = π ∘ A) and a 2-state × 2-action MDP with rational data.

Findings (docs/claims.md#v2-r1-same):

* V1 (``r1-grad``) and V3 (``r1-precond``) are ascent directions for every λ > 0: gᵀ(λI + uuᵀ)^{-1}g ≥
  ‖g‖²/(λ + ‖u‖²) by Lagrange's identity, so E[(λI + uuᵀ)^{-1}] is positive definite.
* V2 (``r1-same``) on a bandit: ⟨V2, ∇J⟩ = Σ_a π_a²A_a²/(λ + n_a) − (Σ_a π_aA_a/(λ + n_a))(Σ_a π_a²A_a).
  With two arms it equals 2p²(1−p)²Δ²[(1−p)/(λ + 2(1−p)²) + p/(λ + 2p²)] ≥ 0 (always ascent). With three
  arms it can be negative: at π = (1/50, 1/1000, 979/1000), r = (0, 1, 1/25), λ = 1/10000 it is exactly
  :data:`V2_EXACT` = −732822587085443/639730400034882812500 ≈ −1.1455e-6 (cosine ≈ −0.1956), while V3 is
  positive there; the engine agrees to 1e-9 relative. Mechanism: the dominant arm's tiny score norm
  n ≈ 4e-4 makes its weight 1/(λ + n) large, and the recentring −π Σc pushes probability towards the
  worst arm (r = 0) as well as the best.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy as sp

import r1theory as r1

R = sp.Rational


def _softmax_sym(t):
    Z = sum(sp.exp(x) for x in t)
    return [sp.exp(x) / Z for x in t]


# ------------------------------------------------------------------------------------------------
# The softmax score and its squared norm (r1theory/score.py)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("A", [2, 3])
def test_softmax_score_and_its_norm(A):
    """∂ log π_a/∂θ_b = δ_ab − π_b and ‖∇log π_a‖² = n_a = 1 − 2π_a + ‖π‖², from the definition."""
    t = sp.symbols(f"t0:{A}", real=True)
    pi = _softmax_sym(t)
    for a in range(A):
        u = [sp.diff(sp.log(pi[a]), tb) for tb in t]
        for b in range(A):
            assert sp.simplify(u[b] - ((1 if a == b else 0) - pi[b])) == 0
        n_closed = 1 - 2 * pi[a] + sum(p**2 for p in pi)
        assert sp.simplify(sum(x**2 for x in u) - n_closed) == 0
    # the engine's cancellation-free form at a near-deterministic rational point
    p = [R(1, 10**9), R(3, 10**9), 1 - R(4, 10**9)]
    exact = [1 - 2 * pa + sum(q**2 for q in p) for pa in p]
    got = r1.score_sq_norm(np.array([[float(x) for x in p]]))[0]
    np.testing.assert_allclose(got, [float(x) for x in exact], rtol=1e-12)


# ------------------------------------------------------------------------------------------------
# Sherman–Morrison and the rank-1 inverses (r1theory/sherman_morrison.py)
# ------------------------------------------------------------------------------------------------
def test_sherman_morrison_identity():
    """(λI + uuᵀ)·(1/λ)(I − uuᵀ/(λ + uᵀu)) = I, hence (λI + uuᵀ)^{-1}u = u/(λ + ‖u‖²) (V1's algebra)."""
    u = sp.Matrix(sp.symbols("u0:3", real=True))
    lam = sp.symbols("lambda", positive=True)
    I3 = sp.eye(3)
    M = lam * I3 + u * u.T
    uu = (u.T * u)[0, 0]
    inv = (I3 - u * u.T / (lam + uu)) / lam
    assert sp.simplify(M * inv - I3) == sp.zeros(3, 3)
    assert sp.simplify(inv * u - u / (lam + uu)) == sp.zeros(3, 1)


def test_rank1_quadratic_form_is_positive_lagrange_identity():
    """gᵀ(λI + uuᵀ)^{-1}g·λ(λ + ‖u‖²) = λ‖g‖² + Σ_{i<j}(u_i g_j − u_j g_i)² ≥ λ‖g‖² (V3 and V1 ascend)."""
    u = sp.Matrix(sp.symbols("u0:3", real=True))
    g = sp.Matrix(sp.symbols("g0:3", real=True))
    lam = sp.symbols("lambda", positive=True)
    uu, gg, ug = (u.T * u)[0, 0], (g.T * g)[0, 0], (u.T * g)[0, 0]
    quad = (gg - ug**2 / (lam + uu)) / lam  # gᵀ (1/λ)(I − uuᵀ/(λ + uᵀu)) g
    lagrange = sum((u[i] * g[j] - u[j] * g[i]) ** 2 for i, j in itertools.combinations(range(3), 2))
    assert sp.expand(sp.cancel(quad * lam * (lam + uu)) - lam * gg - lagrange) == 0
    # V1: ⟨g/(λ + ‖g‖²), g⟩ = ‖g‖²/(λ + ‖g‖²) ≥ 0
    assert sp.simplify((g.T * (g / (lam + gg)))[0, 0] - gg / (lam + gg)) == 0


# ------------------------------------------------------------------------------------------------
# Bandits: the closed forms of NPG, V2 and V3 against their definitions (r1theory/directions.py)
# ------------------------------------------------------------------------------------------------
def _bandit_symbols():
    p1, p2 = sp.symbols("p1 p2", positive=True)
    pi = [p1, p2, 1 - p1 - p2]
    r = list(sp.symbols("r0:3", real=True))
    lam = sp.symbols("lambda", positive=True)
    return pi, r, lam


def _bandit_parts(pi, r):
    K = len(pi)
    V = sum(p * x for p, x in zip(pi, r, strict=True))
    A = [x - V for x in r]
    g = sp.Matrix([pi[a] * A[a] for a in range(K)])  # ∇J = π ∘ A (γ = 0, d = 1)
    U = [sp.Matrix([(1 if b == a else 0) - pi[b] for b in range(K)]) for a in range(K)]  # scores
    n = [1 - 2 * pi[a] + sum(p**2 for p in pi) for a in range(K)]
    return A, g, U, n


def test_bandit_npg_is_the_centred_advantage():
    """F x = ∇J and 1ᵀx = 0 for x = A − mean(A): x is the minimum-norm solution F⁺∇J (range F = 1^⊥)."""
    pi, r, _ = _bandit_symbols()
    A, g, U, _ = _bandit_parts(pi, r)
    F = sum((pi[a] * U[a] * U[a].T for a in range(3)), sp.zeros(3, 3))  # E_a[u uᵀ]
    assert sp.simplify(F - (sp.diag(*pi) - sp.Matrix(pi) * sp.Matrix(pi).T)) == sp.zeros(3, 3)
    x = sp.Matrix([a - sum(A) / 3 for a in A])
    assert sp.simplify(F * x - g) == sp.zeros(3, 1)
    assert sp.simplify(sum(x)) == 0
    # and the pseudo-inverse itself at a rational point
    point = {pi[0]: R(1, 5), pi[1]: R(1, 3), r[0]: R(1), r[1]: R(0), r[2]: R(1, 2)}
    assert (F.subs(point).pinv() * g.subs(point) - x.subs(point)).applyfunc(sp.nsimplify) == sp.zeros(3, 1)


def test_bandit_v2_and_v3_closed_forms_match_their_definitions():
    """V2 = E_a[(λI + u_a u_aᵀ)^{-1} A_a u_a] = c − π Σc, c = πA/(λ + n); V3 = E_a[(λI + u_a u_aᵀ)^{-1}] g.

    Symbolic in (π, r, λ) with the Sherman–Morrison inverse (proved above); then exactly, at rational
    points, with sympy's dense inverse (independent of Sherman–Morrison).
    """
    pi, r, lam = _bandit_symbols()
    A, g, U, n = _bandit_parts(pi, r)
    I3 = sp.eye(3)

    def closed(pi, A, g, U, n, lam):
        c = [pi[a] * A[a] / (lam + n[a]) for a in range(3)]
        v2 = sp.Matrix([c[a] - pi[a] * sum(c) for a in range(3)])
        ug = [(U[a].T * g)[0, 0] for a in range(3)]
        w = [pi[a] * ug[a] / (lam * (lam + n[a])) for a in range(3)]
        v3 = g / lam - sp.Matrix([w[a] - pi[a] * sum(w) for a in range(3)])
        return v2, v3

    def definition(pi, A, g, U, lam, inverse):
        inv = [inverse(a) for a in range(3)]
        v2 = sum((pi[a] * A[a] * inv[a] * U[a] for a in range(3)), sp.zeros(3, 1))
        v3 = sum((pi[a] * inv[a] for a in range(3)), sp.zeros(3, 3)) * g
        return v2, v3

    def sm(a):
        return (I3 - U[a] * U[a].T / (lam + (U[a].T * U[a])[0, 0])) / lam

    # per sample a: (λI + uuᵀ)^{-1}A_a u_a = c_a u_a/π_a and (λI + uuᵀ)^{-1}g = g/λ − u (uᵀg)/(λ(λ + n))
    for a in range(3):
        c_a = pi[a] * A[a] / (lam + n[a])
        assert all(sp.cancel(e) == 0 for e in pi[a] * A[a] * sm(a) * U[a] - c_a * U[a])
        ug = (U[a].T * g)[0, 0]
        assert all(sp.cancel(e) == 0 for e in sm(a) * g - (g / lam - U[a] * ug / (lam * (lam + n[a]))))
    # the sums over a: Σ_a x_a (e_a − π) = x − π Σ_a x_a, and Σ_a π_a = 1 gives the g/λ term
    x = sp.Matrix(sp.symbols("x0:3"))
    lhs = sum((x[a] * U[a] for a in range(3)), sp.zeros(3, 1))
    assert (lhs - (x - sp.Matrix(pi) * sum(x))).applyfunc(sp.expand) == sp.zeros(3, 1)
    assert sp.simplify(sum(pi)) == 1
    for point in (
        {pi[0]: R(1, 5), pi[1]: R(1, 3), r[0]: R(1), r[1]: R(0), r[2]: R(1, 2), lam: R(1, 7)},
        {pi[0]: R(1, 50), pi[1]: R(1, 1000), r[0]: R(0), r[1]: R(1), r[2]: R(1, 25), lam: R(1, 10000)},
    ):
        Ap = [x.subs(point) for x in A]
        gp, Up, np_ = g.subs(point), [u.subs(point) for u in U], [x.subs(point) for x in n]
        pip, lp = [x.subs(point) for x in pi], point[lam]
        v2d, v3d = definition(pip, Ap, gp, Up, lp, lambda a, lp=lp, Up=Up: (lp * I3 + Up[a] * Up[a].T).inv())
        v2c, v3c = closed(pip, Ap, gp, Up, np_, lp)
        assert v2d - v2c == sp.zeros(3, 1)
        assert v3d - v3c == sp.zeros(3, 1)


#: A 3-armed bandit point where V2 is not an ascent direction, and ⟨V2, ∇J⟩ there (exact).
POINT_PI = (R(1, 50), R(1, 1000), R(979, 1000))
POINT_R = (R(0), R(1), R(1, 25))
POINT_LAMBDA = R(1, 10000)
V2_EXACT = R(-732822587085443, 639730400034882812500)  # ≈ −1.1455e-6; cosine with ∇J ≈ −0.1956


def _v2_inner(pi, r, lam):
    A, g, _, n = _bandit_parts(pi, r)
    c = [pi[a] * A[a] / (lam + n[a]) for a in range(len(pi))]
    v2 = sp.Matrix([c[a] - pi[a] * sum(c) for a in range(len(pi))])
    return (v2.T * g)[0, 0], v2, g, A, n


def test_v2_inner_product_formula_and_two_arms_always_ascend():
    pi, r, lam = _bandit_symbols()
    inner, _, _, A, n = _v2_inner(pi, r, lam)
    structure = sum(pi[a] ** 2 * A[a] ** 2 / (lam + n[a]) for a in range(3)) - sum(
        pi[a] * A[a] / (lam + n[a]) for a in range(3)
    ) * sum(pi[a] ** 2 * A[a] for a in range(3))
    assert sp.simplify(inner - structure) == 0
    # two arms: manifestly nonnegative
    p, delta = sp.symbols("p Delta", positive=True)
    inner2, *_ = _v2_inner([p, 1 - p], [delta, 0], lam)
    closed = 2 * p**2 * (1 - p) ** 2 * delta**2 * ((1 - p) / (lam + 2 * (1 - p) ** 2) + p / (lam + 2 * p**2))
    assert sp.simplify(inner2 - closed) == 0


def test_v2_is_not_an_ascent_direction_on_a_three_armed_bandit():
    """Exhibit the rational point where ⟨V2, ∇J⟩ < 0, exactly; the engine agrees numerically."""
    inner, v2, g, _, _ = _v2_inner(list(POINT_PI), list(POINT_R), POINT_LAMBDA)
    assert inner == V2_EXACT < 0
    cos = float(inner / sp.sqrt((v2.T * v2)[0, 0] * (g.T * g)[0, 0]))
    assert -0.1956 < cos < -0.1955
    # V1 and V3 at the same point ascend
    _, g_, U, n = _bandit_parts(list(POINT_PI), list(POINT_R))
    lam = POINT_LAMBDA
    ug = [(U[a].T * g_)[0, 0] for a in range(3)]
    w = [POINT_PI[a] * ug[a] / (lam * (lam + n[a])) for a in range(3)]
    v3 = g_ / lam - sp.Matrix([w[a] - POINT_PI[a] * sum(w) for a in range(3)])
    assert (v3.T * g_)[0, 0] > 0
    # the engine: θ = log π reproduces π to rounding
    mdp = r1.TabularMDP(np.ones((1, 3, 1)), [[float(x) for x in POINT_R]], 0.0, [1.0])
    theta = np.log([[float(x) for x in POINT_PI]])
    d = r1.direction("r1-same", mdp, theta, damping=float(lam))
    grad = r1.policy_gradient(mdp, theta)
    np.testing.assert_allclose(d[0], [float(x) for x in v2], rtol=1e-9)
    assert float(np.vdot(d, grad)) == pytest.approx(float(inner), rel=1e-9)
    assert float(np.vdot(r1.direction("r1-precond", mdp, theta, damping=float(lam)), grad)) > 0


def test_v2_expected_step_is_not_baseline_invariant():
    """E_a[u_a/(λ + n_a)] ≠ 0 although E_a[u_a] = 0 (docs/claims.md#v2-r1-same)."""
    pi = list(POINT_PI)
    _, _, U, n = _bandit_parts(pi, [R(0)] * 3)
    assert sum((pi[a] * U[a] for a in range(3)), sp.zeros(3, 1)) == sp.zeros(3, 1)
    shift = sum((pi[a] * U[a] / (POINT_LAMBDA + n[a]) for a in range(3)), sp.zeros(3, 1))
    assert shift != sp.zeros(3, 1)


# ------------------------------------------------------------------------------------------------
# A 2-state × 2-action MDP: every direction from its definition, exactly, at a rational policy
# ------------------------------------------------------------------------------------------------
P_SYM = [[[R(1, 3), R(2, 3)], [R(3, 4), R(1, 4)]], [[R(1, 2), R(1, 2)], [R(1, 5), R(4, 5)]]]
R_SYM = [[R(1), R(0)], [R(1, 4), R(3, 5)]]
GAMMA = R(9, 10)
RHO = [R(1, 3), R(2, 3)]
PI_POINT = [[R(1, 4), R(3, 4)], [R(9, 10), R(1, 10)]]
LAMBDA = R(1, 20)


@pytest.fixture(scope="module")
def exact_2x2():
    """Exact J-gradient (by differentiation), scores, d, A and the four directions at PI_POINT."""
    t = sp.symbols("t0:4", real=True)
    th = [[t[0], t[1]], [t[2], t[3]]]
    pi = [_softmax_sym(th[s]) for s in range(2)]
    P_pi = sp.Matrix(2, 2, lambda s, s2: sum(pi[s][a] * P_SYM[s][a][s2] for a in range(2)))
    r_pi = sp.Matrix(2, 1, lambda s, _: sum(pi[s][a] * R_SYM[s][a] for a in range(2)))
    rho = sp.Matrix(1, 2, RHO)
    J = (rho * (sp.eye(2) - GAMMA * P_pi).LUsolve(r_pi))[0, 0]
    at = {t[2 * s + a]: sp.log(PI_POINT[s][a]) for s in range(2) for a in range(2)}
    grad = sp.Matrix([sp.nsimplify(sp.simplify(sp.diff(J, x).subs(at))) for x in t])
    # exact evaluation at the rational policy
    Pp = sp.Matrix(2, 2, lambda s, s2: sum(PI_POINT[s][a] * P_SYM[s][a][s2] for a in range(2)))
    rp = sp.Matrix(2, 1, lambda s, _: sum(PI_POINT[s][a] * R_SYM[s][a] for a in range(2)))
    M = sp.eye(2) - GAMMA * Pp
    V = M.LUsolve(rp)
    d = (1 - GAMMA) * M.T.LUsolve(rho.T)
    Q = [[R_SYM[s][a] + GAMMA * sum(P_SYM[s][a][s2] * V[s2] for s2 in range(2)) for a in range(2)] for s in range(2)]
    A = [[Q[s][a] - V[s] for a in range(2)] for s in range(2)]
    scores = {}
    for s, a in itertools.product(range(2), range(2)):
        u = sp.Matrix([sp.diff(sp.log(pi[s][a]), x) for x in t]).subs(at)
        scores[s, a] = u.applyfunc(sp.nsimplify)
    w = {(s, a): d[s] * PI_POINT[s][a] for s in range(2) for a in range(2)}
    F = sum((w[k] * scores[k] * scores[k].T for k in scores), sp.zeros(4, 4))
    I4 = sp.eye(4)
    inv = {k: (LAMBDA * I4 + scores[k] * scores[k].T).inv() for k in scores}
    dirs = {
        "pg": grad,
        "npg": F.pinv() * grad,
        "r1-grad": (LAMBDA * I4 + grad * grad.T).inv() * grad,
        "r1-same": sum((w[k] * inv[k] * scores[k] * A[k[0]][k[1]] / (1 - GAMMA) for k in scores), sp.zeros(4, 1)),
        "r1-precond": sum((w[k] * inv[k] for k in scores), sp.zeros(4, 4)) * grad,
        "npg-damped": (F + LAMBDA * I4).inv() * grad,
    }
    return {"grad": grad, "d": d, "A": A, "F": F, "dirs": dirs}


def _mdp_2x2():
    P = [[[float(p) for p in row] for row in block] for block in P_SYM]
    return r1.TabularMDP(P, [[float(x) for x in row] for row in R_SYM], float(GAMMA), [float(x) for x in RHO])


def test_2x2_gradient_and_npg_closed_form(exact_2x2):
    """∇J by differentiation = d π A/(1−γ); F⁺∇J (sympy pinv) = centred A/(1−γ) exactly; the engine agrees."""
    grad, d, A = exact_2x2["grad"], exact_2x2["d"], exact_2x2["A"]
    formula = sp.Matrix([d[s] * PI_POINT[s][a] * A[s][a] / (1 - GAMMA) for s in range(2) for a in range(2)])
    assert grad - formula == sp.zeros(4, 1)
    centred = sp.Matrix([(A[s][a] - (A[s][0] + A[s][1]) / 2) / (1 - GAMMA) for s in range(2) for a in range(2)])
    assert exact_2x2["dirs"]["npg"] - centred == sp.zeros(4, 1)


@pytest.mark.parametrize("method", ["pg", "npg", "npg-damped", "r1-grad", "r1-same", "r1-precond"])
def test_2x2_engine_directions_match_their_definitions(exact_2x2, method):
    mdp = _mdp_2x2()
    theta = np.log([[float(x) for x in row] for row in PI_POINT])
    lam = float(LAMBDA) if method in r1.DAMPED_METHODS else None
    got = r1.direction(method, mdp, theta, damping=lam).ravel()
    want = np.array([float(x) for x in exact_2x2["dirs"][method]])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13 * np.abs(want).max())
