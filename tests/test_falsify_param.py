"""``r1theory falsify --param``: ascent and c1 under log-linear and neural policies; the classic claims stay tabular.

The parametrisation is a condition of the check: the same measurements run in θ space of a log-linear or
neural policy, one-hot log-linear features reproduce the tabular numbers, parametrised counterexamples
round-trip through save/load/replay, and the default (tabular) search is the one from before.
"""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import r1theory as r1
from proofs_checks import falsify as fz
from r1theory_cli import main
from tabular_mdps.strategies import FEATURE_QUANTUM, features, mdps, parameter_vectors

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
CORPUS_RECORDS = sorted(p for p in CORPUS.glob("*.json") if not p.name.endswith(".mdp.json"))
CLASSIC = ("mei2020.lojasiewicz", "mei2020.ascent", "agarwal2021.npg-rate")


def _bandit(r):
    return r1.TabularMDP(np.ones((1, len(r), 1)), [r], 0.0, [1.0])


#: A 3-armed bandit where V2 (r1-same) under ONE log-linear feature points against ∇J at the uniform
#: policy θ = 0 (no near-deterministic policy needed, unlike tabular softmax): φ = (0, 1/4, 3/4), r = (0, 1, 1).
#: Exactly (test below): ∇J = 1/9 > 0 while V2 → −2/5 as λ → 0.
PHI_1 = r1.LogLinear(np.array([[[0.0], [0.25], [0.75]]]))
LOGLIN_BANDIT = fz.Candidate(
    _bandit([0.0, 1.0, 1.0]), np.zeros(1), 1e-6, fz.stated_step("r1-same", 0.0, 1e-6, PHI_1), param=PHI_1
)

#: The neural counterexample found by ``r1theory falsify ascent --param neural --budget 1000 --seed 0``:
#: a 3-armed bandit, one hidden tanh layer of width 2 (13 parameters), λ = 1e-6; cos(V2, ∇J) ≈ −0.155.
NEURAL_THETA = np.array([0.375, 0.0, 0.0, 3.0, 0.0, 3.0, 3.0, 0.0, -3.0, 0.0, 0.0, 0.0, 3.0])
NEURAL_BANDIT = fz.Candidate(_bandit([0.0, 0.01, 0.0]), NEURAL_THETA, 1e-6, None, param=r1.NeuralSoftmax(1, 3, (2,)))


def _one_point(monkeypatch, claim, cand):
    """``claim`` with its parametrised candidates fixed to ``cand`` (the real measurement, a one-point search)."""
    monkeypatch.setitem(
        fz.FALSIFIABLE, claim, dataclasses.replace(fz.FALSIFIABLE[claim], param_candidates=lambda m, k: st.just(cand))
    )


def _one_hot(c: fz.Candidate) -> fz.Candidate:
    """The same instance under one-hot log-linear features, θ = vec(logits)."""
    return dataclasses.replace(c, theta=c.theta.ravel().copy(), param=r1.LogLinear.one_hot(c.mdp.S, c.mdp.A))


# ------------------------------------------------------------------------------------------------
# One-hot log-linear features are tabular softmax: the measurements agree
# ------------------------------------------------------------------------------------------------
def test_one_hot_features_have_the_tabular_smoothness_constant_and_steps():
    par = r1.LogLinear.one_hot(3, 4)
    assert fz.smoothness_scale(par) == pytest.approx(1.0, rel=1e-15)
    for method in ("pg", "r1-same", "npg-damped"):
        lam = None if method == "pg" else 1e-3
        assert fz.stated_step(method, 0.9, lam, par) == pytest.approx(fz.stated_step(method, 0.9, lam), rel=1e-12)
    assert fz.stated_step("npg", 0.9, None, par) is None  # Lemma 5.2 of Agarwal et al. is tabular
    assert fz.stated_step("r1-same", 0.9, 1e-3, r1.NeuralSoftmax(3, 4, (2,))) is None  # no certified constant
    doubled = r1.LogLinear(2.0 * par.features)
    assert fz.stated_step("pg", 0.9, None, doubled) == pytest.approx(fz.stated_step("pg", 0.9, None) / 4.0)


def _ascent_pairs():
    rng = np.random.default_rng(5)
    out = []
    for S, A in ((1, 3), (2, 3), (3, 2)):
        P = rng.dirichlet(np.ones(S), size=(S, A))
        mdp = r1.TabularMDP(P, rng.uniform(size=(S, A)), 0.9, np.ones(S) / S)
        theta = rng.normal(scale=2.0, size=(S, A))
        out.append((mdp, theta))
    for record in CORPUS_RECORDS:
        cand, rec = fz.load_counterexample(record)
        if rec["claim"] == "ascent.stated-step" and cand.kind == "tabular":
            out.append((cand.mdp, cand.theta))
    return out


@pytest.mark.parametrize("method", r1.METHODS)
def test_one_hot_log_linear_ascent_measurements_equal_the_tabular_ones(method):
    for mdp, theta in _ascent_pairs():
        lam = 1e-4 if method in r1.DAMPED_METHODS else None
        step = 0.5 if method == "npg" else fz.stated_step(method, mdp.gamma, lam)
        tab = fz.Candidate(mdp, theta, lam, step)
        hot = _one_hot(tab)
        if method != "npg":
            hot = dataclasses.replace(hot, step=fz.stated_step(method, mdp.gamma, lam, hot.param))
        a, b = fz.measure_ascent(tab, method), fz.measure_ascent(hot, method)
        assert b.details["cosine"] == pytest.approx(a.details["cosine"], abs=1e-9), method
        assert b.details["inner_product"] == pytest.approx(a.details["inner_product"], rel=1e-9, abs=1e-15)
        if method != "npg":  # npg has no stated step under a non-tabular parametrisation
            assert b.details["rise_at_step"] == pytest.approx(a.details["rise_at_step"], abs=1e-9)
        assert (a.violated, a.quantity) == (b.violated, b.quantity)


def test_one_hot_features_reproduce_the_tabular_v2_counterexamples_of_the_corpus():
    ascent = [p for p in CORPUS_RECORDS if json.loads(p.read_text())["claim"] == "ascent.stated-step"]
    assert ascent
    for record in ascent:
        cand, rec = fz.load_counterexample(record)
        if cand.kind != "tabular":
            continue
        tab, hot = fz.measure_ascent(cand, rec["method"]), fz.measure_ascent(_one_hot(cand), rec["method"])
        assert hot.violated and hot.applicable and hot.quantity == tab.quantity
        assert hot.measured == pytest.approx(tab.measured, abs=1e-9)
        assert hot.margin > hot.tolerance


@pytest.mark.parametrize("stem", ["c1.tuned-progress-r1-same-seed0", "c1.tuned-progress-r1-eigen-seed0"])
def test_one_hot_log_linear_c1_measurement_equals_the_tabular_one(stem):
    cand, rec = fz.load_counterexample(CORPUS / f"{stem}.json")
    a, b = fz.measure_c1(cand, rec["method"]), fz.measure_c1(_one_hot(cand), rec["method"])
    assert a.applicable and b.applicable and a.violated == b.violated
    for key in ("progress_method", "progress_pg", "initial_gap"):
        assert b.details[key] == pytest.approx(a.details[key], abs=1e-9), key


# ------------------------------------------------------------------------------------------------
# Hand-made counterexamples: flagged, exact, reduced, saved, replayed
# ------------------------------------------------------------------------------------------------
def test_log_linear_v2_counterexample_is_flagged_and_exact():
    m = fz.measure_ascent(LOGLIN_BANDIT, "r1-same")
    assert m.applicable and m.violated and m.quantity == "cos(direction, ∇J)"
    assert m.measured == pytest.approx(-1.0) and m.margin > m.tolerance  # k = 1: d and ∇J are opposite numbers
    # exact rational arithmetic at θ = 0 (π uniform): u_a = φ_a − φ̄, g = Σπ A u, V2 = Σ π A u/(λ + u²)
    phi = [Fraction(0), Fraction(1, 4), Fraction(3, 4)]
    r = [Fraction(0), Fraction(1), Fraction(1)]
    lam = Fraction(LOGLIN_BANDIT.damping)
    pi = Fraction(1, 3)
    adv = [x - sum(r) * pi for x in r]
    u = [f - sum(phi) * pi for f in phi]
    g = sum(pi * a * v for a, v in zip(adv, u, strict=True))
    v2 = sum(pi * a * v / (lam + v * v) for a, v in zip(adv, u, strict=True))
    assert g == Fraction(1, 9) and v2 < 0 and abs(v2 + Fraction(2, 5)) < Fraction(1, 10**3)
    for method in ("pg", "npg", "npg-damped", "r1-eigen", "r1-grad", "r1-precond"):
        lam = LOGLIN_BANDIT.damping if method in r1.DAMPED_METHODS else None
        c = dataclasses.replace(LOGLIN_BANDIT, damping=lam, step=fz.stated_step(method, 0.0, lam, PHI_1))
        assert not fz.measure_ascent(c, method).violated, method  # PG and the preconditioners: no violation


def test_neural_v2_counterexample_is_flagged_and_confirmed_by_finite_differences():
    m = fz.measure_ascent(NEURAL_BANDIT, "r1-same")
    assert m.applicable and m.violated and -0.16 < m.measured < -0.15 and m.margin > m.tolerance
    assert m.details["step"] is None  # no certified smoothness constant: the direction part only

    # independent of the engine's reverse mode: own forward pass, central-difference Jacobian
    def logits(t):
        W1, b1, W2, b2 = t[0:2].reshape(2, 1), t[2:4], t[4:10].reshape(3, 2), t[10:13]
        return W2 @ np.tanh(W1 @ np.ones(1) + b1) + b2

    h = 1e-6
    jac = np.stack(
        [(logits(NEURAL_THETA + h * e) - logits(NEURAL_THETA - h * e)) / (2 * h) for e in np.eye(13)], axis=1
    )
    pi = r1.softmax(logits(NEURAL_THETA)[None, :])[0]
    r = NEURAL_BANDIT.mdp.r[0]
    adv = r - pi @ r
    u = jac - pi @ jac  # rows: scores u_a = Jᵀ(e_a − π)
    g = (pi * adv) @ u
    v2 = (pi * adv / (NEURAL_BANDIT.damping + np.einsum("ak,ak->a", u, u))) @ u
    assert float(v2 @ g) / (np.linalg.norm(v2) * np.linalg.norm(g)) == pytest.approx(m.measured, abs=1e-5)


def test_rounding_noise_of_a_vanishing_gradient_is_not_a_violation():
    """Equal rewards: ∇J = 0, the engine's uncentred Jᵀ(dπA) is rounding noise; its cosine with V2 means nothing."""
    par = r1.LogLinear(np.array([[[0.0], [0.0], [0.25]]]))
    c = fz.Candidate(_bandit([0.4375] * 3), np.zeros(1), 1e-6, fz.stated_step("r1-same", 0.0, 1e-6, par), param=par)
    m = fz.measure_ascent(c, "r1-same")
    assert not m.violated and m.tolerance > 1.0


def test_reduction_drops_a_state_and_a_dead_feature_of_a_log_linear_candidate(monkeypatch):
    P = np.zeros((2, 3, 2))
    P[0, :, 0] = P[1, :, 1] = 1.0
    mdp = r1.TabularMDP(P, [[0.0, 0.0, 0.0], [0.0, 1.0, 1.0]], 0.0, [0.5, 0.5])
    phi = np.zeros((2, 3, 2))
    phi[1, :, 0] = PHI_1.features[0, :, 0]  # state 1 is the bandit; state 0 and feature 1 do nothing
    par = r1.LogLinear(phi)
    two = fz.Candidate(mdp, np.zeros(2), 1e-6, fz.stated_step("r1-same", 0.0, 1e-6, par), param=par)
    assert fz.measure_ascent(two, "r1-same").violated
    _one_point(monkeypatch, "ascent.stated-step", two)
    res = fz.search("ascent.stated-step", "r1-same", budget=3, seed=0, param="log-linear")
    assert res.found and res.param == "log-linear"
    c = res.candidate
    assert (c.mdp.S, c.mdp.A, c.theta.shape) == (1, 3, (1,))
    np.testing.assert_array_equal(c.param.features, PHI_1.features)
    assert c.step == LOGLIN_BANDIT.step  # the reduced instance's stated step


def test_reduction_drops_a_state_and_a_dead_hidden_unit_of_a_neural_candidate(monkeypatch):
    P = np.zeros((2, 3, 2))
    P[0, :, 0] = P[1, :, 1] = 1.0
    mdp = r1.TabularMDP(P, [[0.0, 0.0, 0.0], [0.0, 0.01, 0.0]], 0.0, [0.5, 0.5])
    W1 = np.array([[0.0, 0.375], [0.0, 0.0], [0.0, 0.0]])  # column 1 = state 1's one-hot input; unit 2 is dead
    b1 = np.array([0.0, 3.0, 0.0])
    W2 = np.array([[0.0, 3.0, 0.0], [3.0, 0.0, 0.0], [-3.0, 0.0, 0.0]])
    b2 = np.array([0.0, 0.0, 3.0])
    theta = np.concatenate([W1.ravel(), b1, W2.ravel(), b2])
    big = fz.Candidate(mdp, theta, 1e-6, None, param=r1.NeuralSoftmax(2, 3, (3,)))
    assert fz.measure_ascent(big, "r1-same").violated
    _one_point(monkeypatch, "ascent.stated-step", big)
    res = fz.search("ascent.stated-step", "r1-same", budget=3, seed=0, param="neural")
    assert res.found and res.candidate.param.hidden == (2,) and res.candidate.mdp.S == 1
    np.testing.assert_array_equal(res.candidate.theta, NEURAL_THETA)
    np.testing.assert_array_equal(res.candidate.param.inputs, [[1.0]])
    assert res.measurement.measured == pytest.approx(fz.measure_ascent(NEURAL_BANDIT, "r1-same").measured, abs=1e-12)


@pytest.mark.parametrize("cand,kind", [(LOGLIN_BANDIT, "log-linear"), (NEURAL_BANDIT, "neural")])
def test_parametrised_counterexample_round_trips_and_replays(monkeypatch, tmp_path, cand, kind):
    _one_point(monkeypatch, "ascent.stated-step", cand)
    res = fz.search("ascent.stated-step", "r1-same", budget=2, seed=7, param=kind)
    assert res.found and res.candidate.kind == kind
    record = fz.save_counterexample(res, tmp_path)
    assert record.name == f"ascent.stated-step-r1-same-{kind}-seed7.json"
    rec = json.loads(record.read_text())
    assert rec["param"]["kind"] == kind and rec["instance"]["param"] == kind
    loaded, _ = fz.load_counterexample(record)
    assert loaded.kind == kind and (loaded.damping, loaded.step) == (res.candidate.damping, res.candidate.step)
    np.testing.assert_array_equal(loaded.theta, res.candidate.theta)  # bit for bit
    if kind == "log-linear":
        np.testing.assert_array_equal(loaded.param.features, res.candidate.param.features)
    else:
        assert loaded.param.hidden == res.candidate.param.hidden
        np.testing.assert_array_equal(loaded.param.inputs, res.candidate.param.inputs)
    again = fz.replay(record)
    assert again.violated and again.measured == res.measurement.measured
    assert again.quantity == rec["violation"]["quantity"]


def test_records_without_a_param_field_load_as_tabular():
    old = [p for p in CORPUS_RECORDS if "param" not in json.loads(p.read_text())]  # from before parametrisations
    assert len(old) >= 8
    for record in old:
        cand, _ = fz.load_counterexample(record)
        assert cand.param is None and cand.kind == "tabular" and cand.theta.shape == (cand.mdp.S, cand.mdp.A)
    for record in set(CORPUS_RECORDS) - set(old):
        cand, rec = fz.load_counterexample(record)
        assert cand.kind == rec["param"]["kind"] == rec["instance"]["param"]
        assert record.stem.endswith(f"-{cand.kind}-seed{rec['seed']}") and cand.theta.shape == cand.param.theta_shape


def _write(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_load_rejects_bad_parametrised_records(monkeypatch, tmp_path):
    _one_point(monkeypatch, "ascent.stated-step", LOGLIN_BANDIT)
    good = json.loads(
        fz.save_counterexample(fz.search("ascent.stated-step", budget=1, param="log-linear"), tmp_path).read_text()
    )
    cases = {
        "kind": ({**good, "param": {"kind": "quadratic"}}, "field param must be an object whose kind"),
        "features": ({**good, "param": {"kind": "log-linear", "features": [[1.0]]}}, "param.features must be"),
        "nan": ({**good, "param": {"kind": "log-linear", "features": "x"}}, "param.features"),
        "theta": ({**good, "theta": [[0.0, 0.0, 0.0]]}, "theta must be a finite array of shape \\(1,\\)"),
        "hidden": ({**good, "param": {"kind": "neural", "hidden": [0]}}, "param.hidden must be"),
        "classic": ({**good, "claim": "mei2020.ascent", "method": "pg"}, "stated for tabular softmax only"),
    }
    for name, (doc, message) in cases.items():
        with pytest.raises(ValueError, match=message):
            fz.load_counterexample(_write(tmp_path / f"{name}.json", doc))


def test_candidate_refuses_a_foreign_parametrisation():
    mdp = _bandit([0.0, 1.0])
    with pytest.raises(ValueError, match="param is for"):
        fz.Candidate(mdp, np.zeros(1), param=PHI_1)
    with pytest.raises(TypeError, match="param must be"):
        fz.Candidate(mdp, np.zeros(1), param="log-linear")


# ------------------------------------------------------------------------------------------------
# Which claims take which parametrisation
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("claim", CLASSIC)
@pytest.mark.parametrize("kind", ["log-linear", "neural"])
def test_classic_claims_are_tabular_only(claim, kind, tmp_path):
    with pytest.raises(ValueError, match=rf"claim '{claim}' is stated for tabular softmax only"):
        fz.resolve(claim, None, kind)
    with pytest.raises(ValueError, match="stated for tabular softmax only"):
        fz.search(claim, budget=1, param=kind)
    with pytest.raises(ValueError, match="stated for tabular softmax only"):
        fz.run(claim, None, 1, 0, tmp_path, param=kind)
    m = fz.FALSIFIABLE[claim].measure(
        dataclasses.replace(LOGLIN_BANDIT, iterations=3), fz.FALSIFIABLE[claim].default_method
    )
    assert not m.applicable and "tabular softmax only" in m.reason


def test_unknown_parametrisation_kind():
    with pytest.raises(ValueError, match="unknown parametrisation 'quadratic'; choose one of: tabular, log-linear"):
        fz.resolve("ascent.stated-step", None, "quadratic")
    with pytest.raises(ValueError, match="unknown parametrisation"):
        fz.search("c1.tuned-progress", budget=1, param="quadratic")


def test_c1_r1_eigen_applicability_uses_the_parametrisations_fisher():
    """Uniform bandit: tabular F = (I − 11ᵀ/A)/A has a repeated top eigenvalue; a generic feature map does not."""
    mdp = _bandit([1.0, 0.0, 0.0, 0.0])
    tab = fz.Candidate(mdp, np.zeros((1, 4)), 1e-6, None, fz.C1_ITERATIONS)
    assert not fz.measure_c1(tab, "r1-eigen").applicable
    assert not fz.measure_c1(_one_hot(tab), "r1-eigen").applicable  # the same Fisher, densely
    par = r1.LogLinear(np.array([[[1.0, 0.0], [0.0, 0.5], [0.25, 0.0], [0.0, 0.0]]]))
    m = fz.measure_c1(fz.Candidate(mdp, np.zeros(2), 1e-6, None, fz.C1_ITERATIONS, par), "r1-eigen")
    assert m.applicable and m.details["param"] == "log-linear"


# ------------------------------------------------------------------------------------------------
# Real searches: the default is the search from before; the parametrised ones run
# ------------------------------------------------------------------------------------------------
def test_tabular_search_is_unchanged_by_the_param_option():
    """param="tabular" is the default search: the same seed gives the same examples and candidate.

    (Not pinned to recorded numbers: hypothesis also draws constants from the local modules already
    imported, so the same seed can search differently in processes that imported different modules;
    see the falsify module docstring. Two searches in one process see the same modules.)
    """
    a = fz.search("ascent.stated-step", "r1-same", budget=400, seed=14)
    b = fz.search("ascent.stated-step", "r1-same", budget=400, seed=14, param="tabular")
    assert (a.found, a.examples, a.calls, a.param, b.param) == (b.found, b.examples, b.calls, "tabular", "tabular")
    if a.found:
        assert a.candidate is not None and b.candidate is not None and a.candidate.param is None
        np.testing.assert_array_equal(a.candidate.theta, b.candidate.theta)
        np.testing.assert_array_equal(a.candidate.mdp.r, b.candidate.mdp.r)
        assert a.measurement is not None and b.measurement is not None
        assert a.measurement.measured == b.measurement.measured
    assert "parametrisation: tabular softmax" in fz.report(a)


@pytest.mark.parametrize(
    "claim,method,kind,budget",
    [
        ("ascent.stated-step", "r1-same", "log-linear", 60),
        ("ascent.stated-step", "r1-precond", "neural", 60),
        ("c1.tuned-progress", "r1-grad", "log-linear", 3),
        ("c1.tuned-progress", "r1-eigen", "neural", 2),
    ],
)
def test_parametrised_searches_run_and_report_their_parametrisation(claim, method, kind, budget):
    res = fz.search(claim, method, budget=budget, seed=0, param=kind)
    assert res.param == kind and res.errors == 0, res.first_error
    text = fz.report(res)
    assert f"--param {kind}" in text and f"parametrisation: {kind}" in text


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_feature_and_parameter_strategies(data):
    mdp = data.draw(mdps(max_states=3, max_actions=3))
    phi = data.draw(features(mdp))
    assert phi.shape[:2] == (mdp.S, mdp.A) and 1 <= phi.shape[2] <= mdp.S * mdp.A + 2
    assert np.all(np.abs(phi) <= 3.0) and np.all(phi / FEATURE_QUANTUM == np.round(phi / FEATURE_QUANTUM))
    theta = data.draw(parameter_vectors(phi.shape[2], 5.0))
    assert theta.shape == (phi.shape[2],) and np.all(np.abs(theta) <= 5.0)


# ------------------------------------------------------------------------------------------------
# The command line
# ------------------------------------------------------------------------------------------------
def test_cli_param_saves_a_parametrised_counterexample(monkeypatch, tmp_path, capsys):
    _one_point(monkeypatch, "ascent.stated-step", LOGLIN_BANDIT)
    out = tmp_path / "found"
    argv = [
        "falsify",
        "ascent.stated-step",
        "--method",
        "r1-same",
        "--param",
        "log-linear",
        "--budget",
        "2",
        "--seed",
        "7",
    ]
    assert main([*argv, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "--param log-linear" in text and "parametrisation: log-linear" in text
    assert "FOUND" in text and "param=log-linear(k=1)" in text and "phi[0] = " in text
    record = out / "ascent.stated-step-r1-same-log-linear-seed7.json"
    assert record.exists() and (out / "ascent.stated-step-r1-same-log-linear-seed7.mdp.json").exists()
    assert fz.replay(record).violated


@pytest.mark.parametrize(
    "argv,message",
    [
        (["falsify", "ascent.stated-step", "--param", "quadratic"], "argument --param: invalid choice: 'quadratic'"),
        (["falsify", "mei2020.ascent", "--param", "log-linear"], "stated for tabular softmax only"),
        (["falsify", "agarwal2021.npg-rate", "--param", "neural"], "stated for tabular softmax only"),
    ],
)
def test_cli_param_usage_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
