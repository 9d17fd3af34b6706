"""Converters: pymdptoolbox arrays both ways, and Gymnasium toy-text tables (optional extras)."""

from __future__ import annotations

import importlib
import sys
from typing import Any, ClassVar

import numpy as np
import pytest
import scipy.sparse

import tabular_mdps as tm
from r1theory import TabularMDP, optimal

# --- pymdptoolbox array convention ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["garnet", "random", "cliff", "agarwal_chain"])
def test_mdptoolbox_round_trip_from_mdp(name: str) -> None:
    mdp = tm.get(name)
    P, R = tm.to_mdptoolbox(mdp)
    assert P.shape == (mdp.A, mdp.S, mdp.S) and R.shape == (mdp.S, mdp.A)
    for a in range(mdp.A):
        np.testing.assert_array_equal(P[a], mdp.P[:, a, :])
    back = tm.from_mdptoolbox(P, R, mdp.gamma, mdp.rho)
    for x, y in ((back.P, mdp.P), (back.r, mdp.r), (back.rho, mdp.rho)):
        assert x.tobytes() == y.tobytes()
    assert back.gamma == mdp.gamma
    P[0, 0, 0] = 123.0  # fresh, writable copies: the MDP is untouched
    assert mdp.P[0, 0, 0] != 123.0


def test_mdptoolbox_round_trip_from_arrays() -> None:
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(4), size=(3, 4))  # (A, S, S)
    R = rng.random((4, 3))
    mdp = tm.from_mdptoolbox(P, R, 0.8)
    np.testing.assert_array_equal(mdp.rho, np.full(4, 0.25))  # no start distribution in pymdptoolbox
    P2, R2 = tm.to_mdptoolbox(mdp)
    assert P2.tobytes() == P.tobytes() and R2.tobytes() == R.tobytes()


def test_mdptoolbox_reward_shapes_and_sparse_matrices() -> None:
    rng = np.random.default_rng(1)
    A, S = 2, 3
    P = rng.dirichlet(np.ones(S), size=(A, S))
    state_r = rng.random(S)
    m1 = tm.from_mdptoolbox(P, state_r, 0.9)
    np.testing.assert_array_equal(m1.r, np.repeat(state_r[:, None], A, axis=1))
    Rt = rng.random((A, S, S))
    m2 = tm.from_mdptoolbox(P, Rt, 0.9)
    expected = np.array([[P[a, s] @ Rt[a, s] for a in range(A)] for s in range(S)])
    np.testing.assert_allclose(m2.r, expected, rtol=1e-15)
    sparse = [scipy.sparse.csr_matrix(P[a]) for a in range(A)]
    m3 = tm.from_mdptoolbox(sparse, state_r, 0.9)
    np.testing.assert_array_equal(m3.P, m1.P)


def test_mdptoolbox_bad_shapes_are_rejected() -> None:
    P = np.ones((2, 3, 3)) / 3
    with pytest.raises(ValueError, match=r"R must have shape"):
        tm.from_mdptoolbox(P, np.zeros((2, 3)), 0.9)  # (A, S) instead of (S, A)
    with pytest.raises(ValueError, match=r"shape \(A, S, S\)"):
        tm.from_mdptoolbox(np.ones((2, 3, 4)), np.zeros((3, 2)), 0.9)
    with pytest.raises(ValueError, match="sum to 1"):
        tm.from_mdptoolbox(P * 2, np.zeros((3, 2)), 0.9)


def test_agrees_with_pymdptoolbox_solver() -> None:
    mdptoolbox_example = pytest.importorskip("mdptoolbox.example")
    mdptoolbox_mdp = pytest.importorskip("mdptoolbox.mdp")
    P, R = mdptoolbox_example.forest(S=5, r1=4, r2=2, p=0.1)
    pi_solver = mdptoolbox_mdp.PolicyIteration(P, R, 0.9)
    pi_solver.run()
    mdp = tm.from_mdptoolbox(P, R, 0.9)
    opt = optimal(mdp)
    np.testing.assert_allclose(opt.V, np.asarray(pi_solver.V), rtol=0, atol=1e-8)
    np.testing.assert_array_equal(opt.actions, np.asarray(pi_solver.policy))


# --- Gymnasium toy text ---------------------------------------------------------------------------


def _value_iteration_on_raw_table(table: dict[int, dict[int, list[Any]]], gamma: float) -> np.ndarray:
    """V*(s) from Gymnasium's P[s][a] = [(p, s', r, terminated)]: terminated ends the episode (future 0)."""
    S = len(table)
    V = np.zeros(S)
    for _ in range(100_000):
        new = np.array(
            [
                max(
                    sum(p * (rew + (0.0 if term else gamma * V[s2])) for p, s2, rew, term in table[s][a])
                    for a in table[s]
                )
                for s in range(S)
            ]
        )
        delta = float(np.max(np.abs(new - V)))
        V = new
        if delta < 1e-13:
            return V
    raise AssertionError("value iteration did not converge")


@pytest.mark.parametrize("slippery", [True, False])
def test_frozenlake_optimal_value_matches_value_iteration_on_the_raw_table(slippery: bool) -> None:
    gym = pytest.importorskip("gymnasium")
    gamma = 0.99
    env = gym.make("FrozenLake-v1", map_name="4x4", is_slippery=slippery)
    mdp = tm.from_gymnasium(env, gamma=gamma)
    S = env.unwrapped.observation_space.n
    assert (mdp.S, mdp.A) == (S + 1, 4)
    # The appended state is absorbing and reward-free; ρ is the environment's start distribution.
    np.testing.assert_array_equal(mdp.P[S, :, S], 1.0)
    np.testing.assert_array_equal(mdp.r[S], 0.0)
    np.testing.assert_array_equal(mdp.rho, np.r_[env.unwrapped.initial_state_distrib, 0.0])
    V_ref = _value_iteration_on_raw_table(env.unwrapped.P, gamma)
    opt = optimal(mdp)
    np.testing.assert_allclose(opt.V[:S], V_ref, rtol=0, atol=1e-8)
    assert opt.V[S] == 0.0
    assert opt.J > 0.0
    env.close()


def test_frozenlake_by_id_with_make_kwargs() -> None:
    pytest.importorskip("gymnasium")
    mdp = tm.from_gymnasium("FrozenLake-v1", gamma=0.9, map_name="4x4", is_slippery=False)
    assert mdp.S == 17 and mdp.gamma == 0.9
    # Deterministic: the goal (reward 1 on the terminating move) is 6 moves away, so V*(start) = γ^5.
    assert optimal(mdp).J == pytest.approx(0.9**5, rel=1e-12)


def test_terminated_transitions_lead_to_the_absorbing_state() -> None:
    gym = pytest.importorskip("gymnasium")
    env = gym.make("FrozenLake-v1", map_name="4x4", is_slippery=True)
    mdp = tm.from_gymnasium(env, gamma=0.9)
    table = env.unwrapped.P
    S = len(table)
    for s in range(S):
        for a in range(4):
            to_absorbing = sum(p for p, _s2, _r, term in table[s][a] if term)
            assert mdp.P[s, a, S] == pytest.approx(to_absorbing, abs=1e-15)
            assert mdp.r[s, a] == pytest.approx(sum(p * r for p, _s2, r, _t in table[s][a]), abs=1e-15)
    env.close()


def test_cliffwalking_conversion_matches_the_catalog_cliff() -> None:
    pytest.importorskip("gymnasium")
    gamma = 0.9
    converted = tm.from_gymnasium("CliffWalking-v1", gamma=gamma)
    assert converted.S == 49
    ours = tm.get("cliff", gamma=gamma)
    start = 36
    v_gym = optimal(converted).V[start]  # raw −1/−100 rewards, episode ends at the goal
    assert optimal(ours).V[start] == pytest.approx((v_gym + 100 / (1 - gamma)) / 100, rel=1e-12)


def test_taxi_converts() -> None:
    gym = pytest.importorskip("gymnasium")
    taxi_id = "Taxi-v4" if "Taxi-v4" in gym.envs.registry else "Taxi-v3"
    mdp = tm.from_gymnasium(taxi_id, gamma=0.9)
    assert (mdp.S, mdp.A) == (501, 6)
    assert mdp.P[:500, :, 500].sum() > 0  # successful drop-offs end the episode


class _NoTable:
    unwrapped = None


def test_environment_without_a_table_is_rejected() -> None:
    with pytest.raises(ValueError, match="no transition table"):
        tm.from_gymnasium(_NoTable())


def test_make_kwargs_need_an_id() -> None:
    with pytest.raises(TypeError, match="make_kwargs"):
        tm.from_gymnasium(_NoTable(), is_slippery=False)


def test_missing_gymnasium_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # makes `import gymnasium` raise ImportError
    importlib.invalidate_caches()
    with pytest.raises(ImportError, match=r"pip install 'r1theory\[gym\]'"):
        tm.from_gymnasium("FrozenLake-v1")


def test_inconsistent_table_is_a_value_error() -> None:
    class Env:
        P: ClassVar[dict[int, Any]] = {0: {0: [(0.5, 0, 0.0, False)]}}  # probabilities sum to 0.5
        initial_state_distrib = np.array([1.0])

    with pytest.raises(ValueError, match="not a valid MDP"):
        tm.from_gymnasium(Env())

    class Env2:
        P: ClassVar[dict[int, Any]] = {0: {0: [(1.0, 3, 0.0, False)]}}
        initial_state_distrib = np.array([1.0])

    with pytest.raises(ValueError, match="outside"):
        tm.from_gymnasium(Env2())


def test_converted_mdp_is_a_tabular_mdp() -> None:
    pytest.importorskip("gymnasium")
    assert isinstance(tm.from_gymnasium("FrozenLake-v1", gamma=0.5), TabularMDP)


def test_termination_overrides_what_the_table_says_comes_next() -> None:
    class Env:
        # 0 --(p=1, reward 1, terminated)--> 1, and state 1 would pay 1 per step forever if entered.
        P: ClassVar[dict[int, Any]] = {0: {0: [(1.0, 1, 1.0, True)]}, 1: {0: [(1.0, 1, 1.0, False)]}}
        initial_state_distrib = np.array([1.0, 0.0])

    mdp = tm.from_gymnasium(Env(), gamma=0.9)
    assert mdp.S == 3
    np.testing.assert_array_equal(mdp.P[0, 0], [0.0, 0.0, 1.0])
    assert optimal(mdp).J == 1.0  # the episode ends after the first reward
