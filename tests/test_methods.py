"""The method registry: one record per method, live name views, and clear errors for bad records."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import r1theory as r1
from r1theory.point import PolicyPoint
from tabular_mdps import random_mdp


def _normalised_pg(p: PolicyPoint, lam: float) -> np.ndarray:
    g = p.gradient
    n = float(np.linalg.norm(g))
    return g / n if n > 0 else np.zeros_like(g)


@pytest.fixture
def temporary(method_registry: None) -> Iterator[list[str]]:
    """Names registered by a test (the registry is restored afterwards by ``method_registry``)."""
    yield []


def _register(temporary: list[str], method: r1.Method, replace: bool = False) -> r1.Method:
    temporary.append(method.name)
    return r1.register_method(method, replace=replace)


def test_builtin_records_answer_every_question_the_toolkit_asks() -> None:
    for m in r1.registered_methods():
        assert not m.stochastic and m.direction is not None
        assert (m.name in r1.DAMPED_METHODS) == m.damped
        assert m.label and m.summary
    for m in r1.registered_methods(stochastic=True):
        assert m.stochastic and m.sample is not None
    assert {m.name for m in r1.registered_methods() if not m.damped} == {"pg", "npg"}
    assert [m.name for m in r1.registered_methods(stochastic=None)] == [*r1.METHODS, *r1.STOCHASTIC_METHODS]
    assert r1.get_method("r1-grad").rescaled_pg


def test_preconditioner_times_gradient_is_the_direction() -> None:
    """For every method with a fixed preconditioner M: direction = M ∇J, and dense() agrees with mv."""
    mdp = random_mdp(3, 3, gamma=0.8, seed=7)
    theta = np.random.default_rng(0).normal(size=(3, 3))
    point = r1.policy_point(mdp, theta)
    g = point.gradient.ravel()
    with_M = [m for m in r1.registered_methods() if m.preconditioner is not None]
    assert {m.name for m in with_M} == {"npg-damped", "r1-eigen", "r1-grad", "r1-precond"}
    for m in with_M:
        M = m.preconditioner(point, 0.3)  # type: ignore[misc]
        d = r1.direction_at(point, m.name, 0.3).ravel()
        np.testing.assert_allclose(M.mv(g), d, rtol=1e-12, atol=1e-14 * np.abs(d).max(), err_msg=m.name)
        np.testing.assert_allclose(M.dense() @ g, d, rtol=1e-10, atol=1e-12 * np.abs(d).max(), err_msg=m.name)


def test_a_registered_method_runs_everywhere_and_the_views_are_live(temporary: list[str]) -> None:
    mdp = random_mdp(4, 2, gamma=0.9, seed=3)
    assert "normalised-pg" not in r1.METHODS
    _register(temporary, r1.Method("normalised-pg", "PG / ‖∇J‖", damped=False, direction=_normalised_pg))
    assert r1.METHODS[-1] == "normalised-pg" and "normalised-pg" not in r1.DAMPED_METHODS
    run = r1.iterate(mdp, np.zeros((4, 2)), "normalised-pg", 0.5, 50)
    assert run.J[-1] > run.J[0]
    np.testing.assert_allclose(np.linalg.norm(run.theta), 0.5 * 50, rtol=0.3)  # unit steps of size η
    diag = r1.fisher_diagnostics(mdp, np.zeros((4, 2)), 0.1)
    assert diag["normalised-pg"].cosine == pytest.approx(diag["pg"].cosine, abs=1e-12)  # same direction as PG
    r1.unregister_method("normalised-pg")
    assert "normalised-pg" not in r1.METHODS
    with pytest.raises(ValueError, match="unknown method 'normalised-pg'"):
        r1.direction("normalised-pg", mdp, np.zeros((4, 2)))


def test_registering_an_existing_name_needs_replace(temporary: list[str]) -> None:
    pg = r1.get_method("pg")
    with pytest.raises(ValueError, match="'pg' is already registered; pass replace=True"):
        r1.register_method(pg)
    _register(temporary, r1.Method("twice", "twice", damped=False, direction=_normalised_pg))
    with pytest.raises(ValueError, match="'twice' is already registered"):
        r1.register_method(r1.Method("twice", "twice", damped=False, direction=_normalised_pg))
    r1.register_method(r1.Method("twice", "again", damped=False, direction=_normalised_pg), replace=True)
    assert r1.get_method("twice").label == "again"


@pytest.mark.parametrize(
    "record, error, match",
    [
        ("pg", TypeError, "takes an r1theory.Method; got str"),
        (r1.Method("", "x", damped=False, direction=_normalised_pg), ValueError, "non-empty string"),
        (r1.Method("x", "x", damped=False), ValueError, "exactly one of direction"),
        (r1.Method("x", "x", damped=False, direction=1), TypeError, "direction must be callable"),  # type: ignore[arg-type]
    ],
)
def test_malformed_records_are_refused(record: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        r1.register_method(record)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "returns, error, match",
    [
        (lambda p: p.gradient.ravel(), ValueError, r"'bad': direction must return an array of θ's shape \(3, 2\)"),
        (lambda p: np.full_like(p.gradient, np.nan), ValueError, "'bad': direction returned NaN"),
        (lambda p: p.gradient.tolist(), TypeError, "'bad': direction must return a real numpy array; got list"),
        (lambda p: p.gradient.astype(complex), TypeError, "'bad': direction must return a real numpy array"),
    ],
)
def test_a_bad_direction_is_an_error_naming_the_method(temporary: list[str], returns, error, match) -> None:  # type: ignore[no-untyped-def]
    mdp = random_mdp(3, 2, gamma=0.5, seed=1)
    _register(temporary, r1.Method("bad", "bad", damped=True, direction=lambda p, lam: returns(p)))
    with pytest.raises(error, match=match):
        r1.iterate(mdp, np.zeros((3, 2)), "bad", 1.0, 3, damping=0.1)


def test_damping_errors_come_from_the_record() -> None:
    mdp = random_mdp(2, 2, gamma=0.5, seed=1)
    with pytest.raises(ValueError, match="'r1-grad' needs damping=λ > 0"):
        r1.direction("r1-grad", mdp, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"'npg' is undamped but damping=0\.1 was given; use 'npg-damped'"):
        r1.direction("npg", mdp, np.zeros((2, 2)), damping=0.1)
    with pytest.raises(ValueError, match="unknown stochastic method 'r1-grad'; choose one of sgd-pg"):
        r1.get_method("r1-grad", stochastic=True)


def test_a_registered_stochastic_method_is_sampled(temporary: list[str]) -> None:
    """A stochastic record's ``sample`` builds D̂ from the draw; extra draws are counted."""

    def twice_independent(draw: r1.SampleDraw, lam: float) -> np.ndarray:
        draw.state_actions(2)
        return 2.0 * draw.gradient.gradient

    _register(temporary, r1.Method("sgd-2x", "2×SGD", damped=False, sample=twice_independent))
    mdp = random_mdp(3, 2, gamma=0.8, seed=2)
    a = r1.stochastic_iterate(mdp, np.zeros((3, 2)), "sgd-2x", 0.1, 5, np.random.default_rng(1))
    b = r1.stochastic_iterate(mdp, np.zeros((3, 2)), "sgd-pg", 0.1, 5, np.random.default_rng(1))
    assert a.episodes[-1] == b.episodes[-1] + 5 * 2  # one geometric episode per extra pair
    assert "sgd-2x" in r1.STOCHASTIC_METHODS and "sgd-2x" not in r1.METHODS
