"""The counterexamples kept in ``corpus/`` replay as regression cases.

Every record ``corpus/<claim>-<method>-seed<seed>.json`` (written by ``r1theory falsify ... --out corpus``;
``<claim>-<method>-<kind>-seed<seed>.json`` for a log-linear or neural policy, ``--param KIND``) is loaded
with its MDP file and its violation is **re-measured** from the saved instance — nothing is read from the
recorded ``violation`` except, at the end, its quantity's name for a consistency check. Each case is also
confirmed by a route independent of :mod:`proofs_checks.falsify`: the engine's public API
(``r1.direction``, ``r1.policy_gradient``, ``r1.iterate``, with the record's parametrisation) and, for
one-state instances of V2, an exact evaluation with sympy at 50 digits (the scores of a neural policy
differentiated symbolically, then evaluated at 60 digits).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import r1theory as r1
from proofs_checks import falsify as fz

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
RECORDS = sorted(p for p in CORPUS.glob("*.json") if not p.name.endswith(".mdp.json"))


def _records(claim: str) -> list[Path]:
    return [p for p in RECORDS if json.loads(p.read_text())["claim"] == claim]


def _id(p: Path) -> str:
    return p.stem


def test_corpus_holds_the_counterexamples_found_and_every_file_pairs_up():
    assert RECORDS, "corpus/ has no counterexample record"
    found = {(json.loads(p.read_text())["claim"], json.loads(p.read_text())["method"]) for p in RECORDS}
    assert ("ascent.stated-step", "r1-same") in found  # docs/claims.md#v2-r1-same: V2 is not always an ascent direction
    referenced = {CORPUS / json.loads(p.read_text())["mdp"] for p in RECORDS}
    assert referenced == set(CORPUS.glob("*.mdp.json")), "an MDP file without a record, or a record without one"


@pytest.mark.parametrize("record", RECORDS, ids=_id)
def test_counterexample_replays(record):
    m = fz.replay(record)  # re-measured from the files
    assert m.applicable, m.reason
    assert m.violated, f"{record.name} no longer violates its claim: {m.quantity} = {m.measured} vs {m.bound}"
    assert m.margin > m.tolerance  # beyond the tolerance, not rounding
    assert m.quantity == json.loads(record.read_text())["violation"]["quantity"]


@pytest.mark.parametrize("record", _records("ascent.stated-step"), ids=_id)
def test_ascent_counterexample_with_the_engine_api(record):
    cand, rec = fz.load_counterexample(record)
    d = r1.direction(rec["method"], cand.mdp, cand.theta, damping=cand.damping, param=cand.param)
    g = r1.policy_gradient(cand.mdp, cand.theta, param=cand.param)
    cos = float(np.vdot(d, g) / (np.linalg.norm(d) * np.linalg.norm(g)))
    if cand.step is None:  # no stated step (a neural policy): the direction part alone
        assert cos < -fz.COS_TOL
        return
    J0 = r1.policy_point(cand.mdp, cand.theta, cand.param).ev.J
    J1 = r1.policy_point(cand.mdp, cand.theta + cand.step * d, cand.param).ev.J
    assert cos < -fz.COS_TOL or J1 < J0


@pytest.mark.parametrize(
    "record", [p for p in _records("ascent.stated-step") if json.loads(p.read_text())["method"] == "r1-same"], ids=_id
)
def test_v2_counterexample_exactly(record):
    """One-state instances: ⟨V2, ∇J⟩ < 0 at 50 digits from the saved θ, r, λ (θ read as exact rationals).

    Tabular softmax: ℓ = θ; log-linear: ℓ = Φθ with the saved features (exact binary fractions); neural: the
    saved network's logits, differentiated symbolically and evaluated at 60 digits. Scores u_a = Jᵀ(e_a − π),
    Â(a) = r(a) − πᵀr, V2 = Σ_a π_a Â_a u_a/(λ + ‖u_a‖²) and ∇J = Σ_a π_a Â_a u_a (d = 1; the factor
    1/(1 − γ) drops out).
    """
    cand, _ = fz.load_counterexample(record)
    if cand.mdp.S != 1:
        pytest.skip("the exact evaluation is written for one-state instances")
    theta = sp.Matrix([sp.Rational(float(x)) for x in cand.theta.ravel()])
    logits, jac = _exact_logits(cand, theta)
    r = [sp.Rational(float(x)) for x in cand.mdp.r[0]]
    lam = sp.Rational(cand.damping)
    A = cand.mdp.A
    Z = sum(sp.exp(t) for t in logits)
    pi = [sp.exp(t) / Z for t in logits]
    V = sum(p * x for p, x in zip(pi, r, strict=True))
    adv = [x - V for x in r]  # one state: Q(a) − V = r(a) − πᵀr for every γ
    mean_row = sum((pi[b] * jac[b, :] for b in range(A)), sp.zeros(1, jac.shape[1]))
    u = [jac[a, :] - mean_row for a in range(A)]
    v2 = sum((pi[a] * adv[a] * u[a] / (lam + u[a].dot(u[a])) for a in range(A)), sp.zeros(1, jac.shape[1]))
    g = sum((pi[a] * adv[a] * u[a] for a in range(A)), sp.zeros(1, jac.shape[1]))
    assert sp.N(v2.dot(g), 50) < 0


def _exact_logits(cand, theta):
    """The logits ℓ (list of A expressions) and their Jacobian ∂ℓ/∂θ (A × k matrix) of a one-state candidate."""
    A = cand.mdp.A
    if cand.param is None:
        return list(theta), sp.eye(A)
    if isinstance(cand.param, r1.LogLinear):
        phi = sp.Matrix([[sp.Rational(float(x)) for x in row] for row in cand.param.features[0]])
        return list(phi * theta), phi
    par = cand.param  # NeuralSoftmax: W_l (out, in) then b_l, row-major, layer by layer
    syms = sp.symbols(f"t0:{theta.shape[0]}")
    h = sp.Matrix([sp.Rational(float(x)) for x in par.inputs[0]])
    widths = [h.shape[0], *par.hidden, A]
    pos = 0
    for i, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
        W = sp.Matrix(n_out, n_in, syms[pos : pos + n_out * n_in])
        pos += n_out * n_in
        pre = W * h + sp.Matrix(syms[pos : pos + n_out])
        pos += n_out
        h = pre if i == len(widths) - 2 else pre.applyfunc(sp.tanh)
    values = dict(zip(syms, theta, strict=True))
    jac = h.jacobian(sp.Matrix(syms)).subs(values).evalf(60)  # tanh of rationals: 60-digit floats from here on
    return list(h.subs(values).evalf(60)), jac


@pytest.mark.parametrize("record", _records("c1.tuned-progress"), ids=_id)
def test_c1_counterexample_with_r1_iterate(record):
    """The re-tuned steps, run by ``r1.iterate`` (not falsify's loop), reproduce the progress deficit."""
    cand, rec = fz.load_counterexample(record)
    m = fz.replay(record)
    det = m.details
    K = cand.iterations
    run_m = r1.iterate(
        cand.mdp, cand.theta, rec["method"], det["step_method"], K, damping=cand.damping, param=cand.param
    )
    run_pg = r1.iterate(cand.mdp, cand.theta, "pg", det["step_pg"], K, param=cand.param)
    prog_m, prog_pg = run_m.J[-1] - run_m.J[0], run_pg.J[-1] - run_pg.J[0]
    assert prog_m == pytest.approx(det["progress_method"], rel=1e-9, abs=1e-12)
    assert prog_pg == pytest.approx(det["progress_pg"], rel=1e-9, abs=1e-12)
    assert prog_pg - prog_m > fz.C1_RTOL * det["initial_gap"]
