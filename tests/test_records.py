"""Runs and parametrisations write and read their own records: a round trip gives an equal object."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import r1theory as r1
from proofs_checks.sweep import load_result, save_result
from r1theory import policies, steps
from r1theory.iterates import HISTORIES
from tabular_mdps import random_mdp


def _assert_same(a: object, b: object) -> None:
    assert type(a) is type(b)
    for f in dataclasses.fields(a):  # type: ignore[arg-type]
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)
            assert np.asarray(y).dtype == x.dtype, f.name
        else:
            assert x == y, f.name


@pytest.mark.parametrize("method, damping", [("pg", None), ("r1-grad", 0.1), ("npg", None)])
def test_run_record_round_trips_through_the_cache_format(tmp_path: Path, method: str, damping: float | None) -> None:
    mdp = random_mdp(4, 3, gamma=0.9, seed=1)
    run = r1.iterate(mdp, np.zeros((4, 3)), method, steps.normalized(0.5), 7, damping=damping)
    rec = run.to_record()
    _assert_same(run, r1.Run.from_record(rec))
    save_result(tmp_path / "run.npz", rec)  # what a sweep worker stores
    back = r1.Run.from_record(load_result(tmp_path / "run.npz"))
    _assert_same(run, back)
    assert back.step(0, np.ones(3)) == run.step(0, np.ones(3))


def test_stochastic_run_record_round_trips_through_the_cache_format(tmp_path: Path) -> None:
    mdp = random_mdp(3, 2, gamma=0.8, seed=2)
    run = r1.stochastic_iterate(
        mdp, np.zeros((3, 2)), "r1-sample-same", 0.3, 6, np.random.default_rng(0), damping=0.5, record_every=2
    )
    save_result(tmp_path / "run.npz", run.to_record())
    _assert_same(run, r1.StochasticRun.from_record(load_result(tmp_path / "run.npz")))


def test_run_record_errors_name_the_field() -> None:
    mdp = random_mdp(2, 2, gamma=0.5, seed=3)
    rec = r1.iterate(mdp, np.zeros((2, 2)), "pg", 1.0, 2).to_record()
    with pytest.raises(ValueError, match="gap"):
        r1.Run.from_record({k: v for k, v in rec.items() if k != "gap"})
    with pytest.raises(ValueError, match="status"):
        r1.Run.from_record({**rec, "status": "finished"})
    with pytest.raises(ValueError, match=r"step\.eta"):
        r1.Run.from_record({**rec, "step": {"kind": "constant", "eta": -1.0}})
    with pytest.raises(ValueError, match="kind is one of constant, normalized"):
        r1.Run.from_record({**rec, "step": {"kind": "cosine", "eta": 1.0}})
    with pytest.raises(ValueError, match=r"StochasticRun\.to_record"):
        r1.StochasticRun.from_record(rec)
    assert set(HISTORIES) <= set(rec)


def _params(S: int, A: int) -> list[policies.Parametrisation]:
    rng = np.random.default_rng(4)
    return [
        r1.TabularSoftmax(S, A),
        r1.LogLinear(rng.normal(size=(S, A, 5))),
        r1.LogLinear.one_hot(S, A),
        r1.NeuralSoftmax(S, A, (3,)),
        r1.NeuralSoftmax(S, A, (2, 3), rng.normal(size=(S, 4))),
    ]


@pytest.mark.parametrize("i", range(5))
def test_parametrisation_spec_round_trips_through_json(i: int) -> None:
    S, A = 3, 4
    par = _params(S, A)[i]
    spec = json.loads(json.dumps(par.to_spec()))
    back = policies.from_spec(spec, S, A)
    assert type(back) is type(par) and back.kind == par.kind == spec["kind"]
    assert back.theta_shape == par.theta_shape
    theta = np.random.default_rng(5).normal(size=par.theta_shape)
    np.testing.assert_array_equal(back.at(theta).logits, par.at(theta).logits)
    np.testing.assert_array_equal(back.at(theta).jacobian(), par.at(theta).jacobian())


def test_parametrisation_spec_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="kind is one of tabular, log-linear, neural"):
        policies.from_spec({"kind": "rbf"}, 2, 2)
    with pytest.raises(ValueError, match=r"param\.features is missing"):
        policies.from_spec({"kind": "log-linear"}, 2, 2)
    with pytest.raises(ValueError, match=r"param\.features must have shape \(S, A, k\) = \(2, 2, k ≥ 1\)"):
        policies.from_spec({"kind": "log-linear", "features": np.zeros((3, 2, 1)).tolist()}, 2, 2)
    with pytest.raises(ValueError, match=r"rec\.features has a NaN"):
        policies.from_spec({"kind": "log-linear", "features": [[[np.nan]]]}, 1, 1, where="rec")
    with pytest.raises(ValueError, match=r"param\.hidden must be a list"):
        policies.from_spec({"kind": "neural", "hidden": [0]}, 2, 2)
    with pytest.raises(ValueError, match=r"param\.inputs must have shape \(S, m\) = \(2, m ≥ 1\)"):
        policies.from_spec({"kind": "neural", "hidden": [2], "inputs": [[1.0]]}, 2, 2)
    assert isinstance(policies.from_spec(None, 2, 2), r1.TabularSoftmax)
