"""Exact symbolic check on a 2-state, 2-action MDP with rational data (sympy).

J(θ) = ρᵀ(I − γP_π)^{-1} r_π with π = softmax(θ) written with sympy ``exp``; ∇J by symbolic
differentiation; the Fisher from its definition E_{s∼d, a∼π}[∇log π ∇log πᵀ], with the visitation
d = (1 − γ)ρᵀ(I − γP_π)^{-1} symbolic too. Evaluated to 30 digits at rational θ and compared with
the engine to 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import r1theory as r1

R = sp.Rational
P_SYM = [
    [[R(1, 3), R(2, 3)], [R(3, 4), R(1, 4)]],
    [[R(1, 2), R(1, 2)], [R(1, 5), R(4, 5)]],
]
R_SYM = [[R(1), R(0)], [R(1, 4), R(3, 5)]]
GAMMA = R(9, 10)
RHO = [R(1, 3), R(2, 3)]
THETA_SYMS = sp.symbols("t00 t01 t10 t11", real=True)
THETAS = [
    [[R(0), R(0)], [R(0), R(0)]],
    [[R(1, 2), R(-1, 3)], [R(2), R(-3, 2)]],
    [[R(-4), R(3)], [R(5, 7), R(0)]],
]


@pytest.fixture(scope="module")
def symbolic():
    """Symbolic J, ∇J and F blocks as functions of θ (built once per module)."""
    t = [[THETA_SYMS[0], THETA_SYMS[1]], [THETA_SYMS[2], THETA_SYMS[3]]]
    pi = [[sp.exp(t[s][a]) / (sp.exp(t[s][0]) + sp.exp(t[s][1])) for a in range(2)] for s in range(2)]
    P_pi = sp.Matrix(2, 2, lambda s, s2: sum(pi[s][a] * P_SYM[s][a][s2] for a in range(2)))
    r_pi = sp.Matrix(2, 1, lambda s, _: sum(pi[s][a] * R_SYM[s][a] for a in range(2)))
    M_inv = (sp.eye(2) - GAMMA * P_pi).inv()  # 2×2 adjugate formula
    rho = sp.Matrix(1, 2, RHO)
    J = (rho * M_inv * r_pi)[0, 0]
    grad = [sp.diff(J, x) for x in THETA_SYMS]
    d = (1 - GAMMA) * rho * M_inv  # 1×2 row: normalised discounted visitation
    F = sp.zeros(4, 4)
    for s in range(2):
        for a in range(2):
            score = sp.Matrix([sp.diff(sp.log(pi[s][a]), x) for x in THETA_SYMS])
            F += d[0, s] * pi[s][a] * score * score.T
    return J, grad, F


def _numeric(expr, theta):
    subs = {THETA_SYMS[2 * s + a]: theta[s][a] for s in range(2) for a in range(2)}
    return float(sp.N(expr.subs(subs), 30))


def _mdp():
    P = [[[float(p) for p in row] for row in block] for block in P_SYM]
    r = [[float(x) for x in row] for row in R_SYM]
    return r1.TabularMDP(P, r, float(GAMMA), [float(x) for x in RHO])


@pytest.mark.parametrize("theta", THETAS, ids=["uniform", "mixed", "skewed"])
def test_engine_matches_symbolic(symbolic, theta):
    J, grad, F = symbolic
    mdp = _mdp()
    th = np.array([[float(x) for x in row] for row in theta])
    ev = r1.evaluate(mdp, r1.softmax(th))
    assert ev.J == pytest.approx(_numeric(J, theta), abs=1e-12)
    g_sym = np.array([_numeric(e, theta) for e in grad]).reshape(2, 2)
    np.testing.assert_allclose(r1.policy_gradient(mdp, th), g_sym, rtol=0, atol=1e-12)
    F_sym = np.array([[_numeric(F[i, j], theta) for j in range(4)] for i in range(4)])
    blocks = r1.fisher(mdp, th).blocks
    for s in range(2):
        np.testing.assert_allclose(blocks[s], F_sym[2 * s : 2 * s + 2, 2 * s : 2 * s + 2], rtol=0, atol=1e-12)
    np.testing.assert_allclose(F_sym[0:2, 2:4], 0.0, rtol=0, atol=1e-12)  # scores live on their own block
    np.testing.assert_allclose(r1.fisher(mdp, th).dense(), F_sym, rtol=0, atol=1e-12)
