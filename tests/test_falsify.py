"""``r1theory falsify``: the search finds, shrinks, reduces, saves and replays violations; usage errors exit 2."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

import r1theory as r1
import tabular_mdps
from proofs_checks import falsify as fz
from r1theory_cli import main
from tabular_mdps.strategies import bandits, mdps, thetas

#: The 3-armed bandit of tests/test_symbolic.py where V2 (r1-same) is not an ascent direction.
V2_BANDIT = fz.Candidate(
    r1.TabularMDP(np.ones((1, 3, 1)), [[0.0, 1.0, 0.04]], 0.0, [1.0]),
    np.log([[1 / 50, 1 / 1000, 979 / 1000]]),
    1e-4,
    1e-4 / 8.0,
)


def _planted(monkeypatch, name, candidates, violated):
    """Register a claim whose violation is a known predicate of the candidate."""

    def measure(c, method):
        v = bool(violated(c))
        return fz.Measurement(v, "planted", 1.0 if v else 0.0, 0.5, "<=", 0.0, "planted" if v else "")

    claim = fz.Falsifiable(
        ("pg",), "pg", lambda m: candidates, measure, lambda m: m.measured, id=name, statement="a planted claim"
    )
    monkeypatch.setitem(fz.FALSIFIABLE, name, claim)
    return claim


@st.composite
def _bandits(draw):
    mdp = draw(bandits(max_actions=5))
    return fz.Candidate(mdp, draw(thetas(mdp, max_abs=10.0)))


@st.composite
def _generic(draw):
    mdp = draw(mdps(max_states=4, max_actions=4))
    return fz.Candidate(mdp, draw(thetas(mdp, max_abs=10.0)))


# ------------------------------------------------------------------------------------------------
# The search
# ------------------------------------------------------------------------------------------------
def test_search_shrinks_a_planted_violation_to_the_smallest_instance(monkeypatch):
    _planted(monkeypatch, "planted", _generic(), lambda c: c.mdp.S >= 2 and c.mdp.A >= 3)
    res = fz.search("planted", budget=200, seed=3)
    assert res.found and (res.candidate.mdp.S, res.candidate.mdp.A) == (2, 3)
    assert np.all(res.candidate.theta == 0.0)  # simple numbers
    assert 1 <= res.examples <= 200 and res.calls > res.examples


def test_search_is_reproducible_from_its_seed(monkeypatch):
    def violated(c):
        return c.mdp.A >= 3 and np.ptp(c.mdp.r) > 0.5 and c.theta.max() > 1.0

    _planted(monkeypatch, "planted", _bandits(), violated)
    a, b = (fz.search("planted", budget=300, seed=11) for _ in range(2))
    assert a.found and b.found
    assert (a.examples, a.calls) == (b.examples, b.calls)
    assert np.array_equal(a.candidate.theta, b.candidate.theta)
    assert np.array_equal(a.candidate.mdp.r, b.candidate.mdp.r)
    assert (a.candidate.mdp.A, float(np.ptp(a.candidate.mdp.r))) == (3, 1.0)  # shrunk: rewards 0 and 1


def test_reduction_pass_keeps_a_violating_state_alone(monkeypatch):
    """A 2-state instance whose state 1 is the V2 bandit reduces to that bandit (the state alone)."""
    P = np.zeros((2, 3, 2))
    P[0, :, 0] = 1.0
    P[1, :, 1] = 1.0
    mdp = r1.TabularMDP(P, np.vstack([[0.5, 0.5, 0.5], V2_BANDIT.mdp.r[0]]), 0.0, [0.5, 0.5])  # ∇J = 0 at state 0
    theta = np.vstack([[0.0, 0.0, 0.0], V2_BANDIT.theta[0]])
    two = fz.Candidate(mdp, theta, 1e-4, 1e-4 / 8.0)
    assert fz.measure_ascent(two, "r1-same").violated
    monkeypatch.setitem(
        fz.FALSIFIABLE,
        "ascent.stated-step",
        dataclasses.replace(fz.FALSIFIABLE["ascent.stated-step"], candidates=lambda m: st.just(two)),
    )
    res = fz.search("ascent.stated-step", "r1-same", budget=5, seed=0)
    assert res.found and (res.candidate.mdp.S, res.candidate.mdp.A) == (1, 3)
    np.testing.assert_array_equal(res.candidate.theta, V2_BANDIT.theta)


def test_no_violation_within_budget():
    res = fz.search("mei2020.ascent", budget=8, seed=0)
    assert not res.found and res.candidate is None and 1 <= res.calls <= 8
    assert "NOT FOUND" in fz.report(res)


@pytest.mark.parametrize(
    "args,message",
    [
        (("nope", None), "unknown claim 'nope'"),
        (("ascent.stated-step", "bogus"), "unknown method 'bogus'"),
        (("c1.tuned-progress", "pg"), "not applicable to claim 'c1.tuned-progress'"),
        (("mei2020.ascent", "r1-grad"), "not applicable"),
        (("agarwal2021.npg-rate", "pg"), "choose one of: npg"),
    ],
)
def test_resolve_errors_name_the_choices(args, message):
    with pytest.raises(ValueError, match=message):
        fz.resolve(*args)


@pytest.mark.parametrize("budget", [0, -1, 2.5, True])
def test_budget_must_be_a_positive_integer(budget):
    with pytest.raises(ValueError, match="budget must be a positive integer"):
        fz.search("ascent.stated-step", budget=budget)


# ------------------------------------------------------------------------------------------------
# The measurements can fail, and hold where the theory says
# ------------------------------------------------------------------------------------------------
def test_ascent_measure_on_the_v2_bandit():
    m = fz.measure_ascent(V2_BANDIT, "r1-same")
    assert m.violated and m.quantity.startswith("cos") and -0.1956 < m.measured < -0.1955
    for method in ("r1-grad", "r1-precond", "r1-eigen", "npg-damped"):
        assert not fz.measure_ascent(V2_BANDIT, method).violated, method
    assert not fz.measure_ascent(dataclasses.replace(V2_BANDIT, damping=None, step=1 / 8), "pg").violated


def test_step_part_of_ascent_catches_a_decrease():
    """A step that lowers J (here η < 0 along ∇J) is reported by part (ii) although cos(d, ∇J) = 1."""
    back = dataclasses.replace(V2_BANDIT, damping=None, step=-1.0)
    m = fz.measure_ascent(back, "pg")
    assert m.violated and m.quantity.startswith("J(") and m.measured < 0


def test_classic_measures_refuse_instances_outside_their_conditions():
    mdp = V2_BANDIT.mdp
    assert not fz.measure_smooth_ascent(fz.Candidate(mdp, V2_BANDIT.theta, None, 1.0), "pg").applicable  # η > 1/L
    assert not fz.measure_npg_rate(fz.Candidate(mdp, V2_BANDIT.theta, None, 1.0, 5), "npg").applicable  # θ ≠ 0
    tie = r1.TabularMDP(np.ones((1, 2, 1)), [[0.5, 0.5]], 0.0, [1.0])
    assert not fz.measure_lojasiewicz(fz.Candidate(tie, np.zeros((1, 2))), "pg").applicable  # tie in Q*


def test_tune_extends_the_grid_at_its_edge_and_refines():
    eta, _, info = fz.tune(lambda e: -((math.log10(e) - math.log10(3.7)) ** 2))
    assert eta == pytest.approx(3.7, rel=1e-2) and not info["best_on_edge"]
    eta, _, info = fz.tune(lambda e: math.log(e))
    assert info["grid_max"] == pytest.approx(1e4 * 10**fz.C1_EXTENSIONS) and info["best_on_edge"]


def test_c1_measure_on_a_bandit():
    """On a 2-armed bandit, r1-grad with λ ≫ ‖∇J‖² is PG with step η/λ: no deficit beyond the allowance."""
    mdp = r1.TabularMDP(np.ones((1, 2, 1)), [[1.0, 0.0]], 0.0, [1.0])
    c = fz.Candidate(mdp, np.array([[-2.0, 0.0]]), 1e3, None, fz.C1_ITERATIONS)
    m = fz.measure_c1(c, "r1-grad")
    assert m.applicable and not m.violated
    assert m.details["progress_pg"] - m.details["progress_method"] <= fz.C1_RTOL * m.details["initial_gap"]
    assert m.details["progress_pg"] > 0.5 * m.details["initial_gap"]


def test_c1_refuses_r1_eigen_where_the_top_eigenvalue_is_repeated():
    """Uniform policy on a bandit: F = (I − 11ᵀ/A)/A has a repeated top eigenvalue, σ₁v₁v₁ᵀ is not unique."""
    mdp = r1.TabularMDP(np.ones((1, 4, 1)), [[1.0, 0.0, 0.0, 0.0]], 0.0, [1.0])
    m = fz.measure_c1(fz.Candidate(mdp, np.zeros((1, 4)), 1e-6, None, fz.C1_ITERATIONS), "r1-eigen")
    assert not m.applicable and "repeated" in m.reason


# ------------------------------------------------------------------------------------------------
# Files and the command line
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def v2_claim(monkeypatch):
    """The ascent claim with candidates fixed to the V2 bandit (the real measurement, a one-point search)."""
    monkeypatch.setitem(
        fz.FALSIFIABLE,
        "ascent.stated-step",
        dataclasses.replace(fz.FALSIFIABLE["ascent.stated-step"], candidates=lambda m: st.just(V2_BANDIT)),
    )


def test_cli_saves_a_counterexample_that_replays(v2_claim, tmp_path, capsys):
    out = tmp_path / "found"
    assert (
        main(
            ["falsify", "ascent.stated-step", "--method", "r1-same", "--budget", "5", "--seed", "7", "--out", str(out)]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "FOUND" in text and "cos(direction, ∇J)" in text
    record = out / "ascent.stated-step-r1-same-seed7.json"
    rec = json.loads(record.read_text())
    for key in ("mdp", "theta", "damping", "step", "claim", "method", "violation", "seed"):
        assert key in rec
    assert (rec["claim"], rec["method"], rec["seed"], rec["mdp"]) == (
        "ascent.stated-step",
        "r1-same",
        7,
        "ascent.stated-step-r1-same-seed7.mdp.json",
    )
    assert rec["violation"]["quantity"] == "cos(direction, ∇J)" and rec["violation"]["bound"] == 0.0
    mdp = tabular_mdps.load(out / rec["mdp"])
    np.testing.assert_array_equal(mdp.r, V2_BANDIT.mdp.r)
    np.testing.assert_array_equal(np.asarray(rec["theta"]), V2_BANDIT.theta)  # exact float round trip
    again = fz.replay(record)
    assert again.violated and again.measured == pytest.approx(rec["violation"]["measured"], rel=1e-12)


def test_cli_reports_none_found_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "none"
    assert main(["falsify", "mei2020.ascent", "--budget", "5", "--out", str(out)]) == 0
    assert "NOT FOUND: no violation within 5 examples" in capsys.readouterr().out
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    "argv,message",
    [
        (["falsify"], "the following arguments are required: CLAIM"),
        (["falsify", "frobnicate"], "unknown claim 'frobnicate'"),
        (["falsify", "c1.tuned-progress", "--method", "pg"], "not applicable to claim 'c1.tuned-progress'"),
        (["falsify", "mei2020.lojasiewicz", "--method", "r1-same"], "not applicable"),
        (["falsify", "ascent.stated-step", "--method", "sgd"], "unknown method 'sgd'"),
        (["falsify", "ascent.stated-step", "--budget", "0"], "--budget must be a positive integer"),
        (["falsify", "ascent.stated-step", "--budget", "-3"], "--budget must be a positive integer"),
        (["falsify", "ascent.stated-step", "--budget", "many"], "--budget must be a positive integer"),
        (["falsify", "ascent.stated-step", "--seed", "-1"], "--seed must be an integer >= 0"),
    ],
)
def test_usage_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_out_must_be_a_folder(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(SystemExit) as exc:
        main(["falsify", "ascent.stated-step", "--out", str(f)])
    assert exc.value.code == 2 and "not a folder" in capsys.readouterr().err


def test_cli_help_lists_every_claim(capsys):
    with pytest.raises(SystemExit):
        main(["falsify", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in fz.FALSIFIABLE:
        assert name in text


def _write(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_load_counterexample_rejects_bad_records(v2_claim, tmp_path):
    res = fz.search("ascent.stated-step", "r1-same", budget=2, seed=0)
    record = fz.save_counterexample(res, tmp_path)
    good = json.loads(record.read_text())
    cases = {
        "format": ({**good, "format": "other"}, "not a counterexample record"),
        "version": ({**good, "schema_version": 2}, "unsupported schema_version"),
        "missing": ({k: v for k, v in good.items() if k != "theta"}, "missing field theta"),
        "shape": ({**good, "theta": [[0.0, 1.0]]}, "must be a finite array of shape"),
        "absolute": ({**good, "mdp": str(tmp_path / good["mdp"])}, "relative to the record"),
        "claim": ({**good, "claim": "c2"}, "unknown claim"),
        "damping": ({**good, "damping": "small"}, "field damping must be a finite number"),
    }
    for name, (doc, message) in cases.items():
        with pytest.raises(ValueError, match=message):
            fz.load_counterexample(_write(tmp_path / f"{name}.json", doc))
    with pytest.raises(ValueError, match="nothing to save"):
        fz.save_counterexample(fz.search("mei2020.ascent", budget=2, seed=0), tmp_path)


# ------------------------------------------------------------------------------------------------
# One id per claim: the registry (proofs_checks.claims) is what falsify, verify and `claims` ask
# ------------------------------------------------------------------------------------------------
def test_falsify_searches_exactly_the_registry_ids_marked_falsifiable():
    from proofs_checks import claims, runner

    assert list(fz.FALSIFIABLE) == [c.id for c in claims.falsifiable()]
    assert len(set(claims.ids())) == len(claims.ids())  # one id per claim
    for c in claims.falsifiable():
        assert fz.FALSIFIABLE[c.id].statement == c.statement
    assert runner.claims() == [c.id for c in claims.verified()]
    # ids shared by a check and a search name one statement: the check module's
    assert {c.id for c in claims.verified()} & set(fz.FALSIFIABLE) == {
        "mei2020.ascent",
        "mei2020.lojasiewicz",
        "agarwal2021.npg-rate",
    }


def test_a_verify_only_claim_is_refused_with_the_ids_that_can_be_searched(capsys):
    with pytest.raises(ValueError, match="has no falsifiable measurement") as exc:
        fz.resolve("c1.faster-than-pg")
    for name in fz.FALSIFIABLE:
        assert name in str(exc.value)
    with pytest.raises(SystemExit) as stop:
        main(["falsify", "ascent"])  # the check's ascent (C1 runs), not the stated-step search
    assert stop.value.code == 2 and "claims that can be searched" in capsys.readouterr().err


def test_claims_lists_every_id_with_its_statement_and_where_it_is_checked(capsys):
    from proofs_checks import claims

    assert main(["claims"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == claims.ids()
    by_id = {line.split()[0]: line for line in lines}
    assert "[verify, falsify]" in by_id["mei2020.lojasiewicz"]
    assert "[falsify]" in by_id["ascent.stated-step"] and "[verify]" in by_id["ascent"]
    assert claims.get("c1.tuned-progress").statement in by_id["c1.tuned-progress"]
