"""Adding a variant is one file: examples/normalised_pg.py, loaded with --plugin, runs everywhere.

Without touching the package, the plugin's method (normalised PG, ∇J/‖∇J‖) runs in ``r1.iterate`` and
``r1.fisher_diagnostics``, gets C1 verdicts from ``r1theory verify --only c1``, is searched by
``r1theory falsify ascent.stated-step`` and is drawn by ``r1theory figures``. The C1 suite is shrunk to two
small families here (test scaffolding, as in test_figures.py) so that the whole chain takes seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import r1theory as r1
from proofs_checks import c1_faster_than_pg as c1
from proofs_checks import plugins
from r1theory_cli import main
from tabular_mdps import random_mdp

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "normalised_pg.py"
NAME = "normalised-pg"


@pytest.fixture
def unloaded(monkeypatch: pytest.MonkeyPatch, method_registry: None) -> Iterator[None]:
    """The plugin's method is registered only for the test; the plugin record is restored afterwards."""
    monkeypatch.setattr(plugins, "_LOADED", {})
    if NAME in r1.METHODS:  # the README's copy of the example, run by test_readme, may have registered it
        r1.unregister_method(NAME)
    yield


def test_the_example_registers_a_method_that_the_engine_runs(unloaded: None) -> None:
    assert NAME not in r1.METHODS
    plugins.load(str(EXAMPLE))
    assert r1.METHODS[-1] == NAME and NAME in r1.CANDIDATE_METHODS and NAME not in r1.DAMPED_METHODS
    mdp = random_mdp(4, 3, gamma=0.9, seed=5)
    theta = np.random.default_rng(2).normal(size=(4, 3))
    d = r1.direction(NAME, mdp, theta)
    g = r1.policy_gradient(mdp, theta)
    np.testing.assert_allclose(d, g / np.linalg.norm(g), rtol=1e-12)
    run = r1.iterate(mdp, np.zeros((4, 3)), NAME, 0.2, 100)
    np.testing.assert_allclose(run.eta * 1.0, 0.2)
    assert run.J[-1] > run.J[0]
    diag = r1.fisher_diagnostics(mdp, theta, 0.1)
    assert diag[NAME].cosine == pytest.approx(diag["pg"].cosine, abs=1e-12)
    assert diag[NAME].spectral_error is None  # the record declares no preconditioner


def test_verify_falsify_and_figures_take_the_plugin(
    unloaded: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        c1,
        "suite",
        lambda quick: [
            c1.Family("plateau", "mei_bandit", {"init": "bad"}, "instance", 150),
            c1.Family("rand", "random", {"S": 3, "A": 3, "gamma": 0.8, "seed": 2}, "uniform", 150),
        ],
    )
    monkeypatch.setattr(c1, "dampings", lambda quick: [0.1, 10.0])
    monkeypatch.setattr(c1, "step_grid", lambda quick: [1.0, 10.0, 100.0])
    out = tmp_path / "out"
    common = ["--plugin", str(EXAMPLE), "--out", str(out), "--jobs", "1", "--no-progress"]

    assert main(["verify", "--quick", "--only", "c1", *common]) == 0
    results = json.loads((out / "results.json").read_text())
    rows = results["results"] if isinstance(results, dict) else results
    mine = [r for r in rows if r["variant"] == NAME]
    # one series per family (undamped: λ = None) × 2 ε × 3 protocols, each with a verdict
    assert len(mine) == 2 * 2 * 3
    assert {r["conditions"]["damping"] for r in mine} == {None}
    assert {r["verdict"] for r in mine} <= {"holds", "fails", "inconclusive"}
    report = (out / "report" / "c1.faster-than-pg.md").read_text()
    assert f"**{NAME}**, protocol `tuned`" in report

    assert main(["figures", "--quick", "--only", "c1_protocols", *common]) == 0
    assert (out / "figures" / "c1_protocols.png").stat().st_size > 0
    from figures import c1_protocols, context

    data = c1_protocols.data(context(out, "quick", jobs=1, progress=False))
    assert NAME in {c["method"] for p in data["panels"] for c in p["cells"]}

    capsys.readouterr()
    code = main(["falsify", "ascent.stated-step", "--method", NAME, "--budget", "60", "--plugin", str(EXAMPLE),
                 "--out", str(tmp_path / "cx")])  # fmt: skip
    assert code == 0
    assert f"--method {NAME}" in capsys.readouterr().out
