"""Converters: pymdptoolbox arrays both ways, and Gymnasium toy-text tables (optional extras)."""

from __future__ import annotations

import importlib
import sys
import tracemalloc
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
    m3 = tm.from_mdptoolbox(sparse, state_r, 0.9)  # sparse matrices give a sparse MDP ...
    assert m3.is_sparse
    np.testing.assert_array_equal(m3.to_dense().P, m1.P)
    m4 = tm.from_mdptoolbox(sparse, state_r, 0.9, sparse=False)  # ... unless a dense one is asked for
    assert not m4.is_sparse
    np.testing.assert_array_equal(m4.P, m1.P)


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


# --- pymdptoolbox, sparse: a list of A csr_matrix (S, S) <-> a sparse TabularMDP --------------------


def _same_sparse(a: TabularMDP, b: TabularMDP) -> bool:
    """Both sparse and equal bit for bit: CSR arrays (values and dtypes), r, ρ, γ."""
    parts = ("data", "indices", "indptr")
    return (
        a.is_sparse
        and b.is_sparse
        and a.P.shape == b.P.shape
        and all(getattr(a.P, k).dtype == getattr(b.P, k).dtype for k in parts)
        and all(getattr(a.P, k).tobytes() == getattr(b.P, k).tobytes() for k in parts)
        and a.r.tobytes() == b.r.tobytes()
        and a.rho.tobytes() == b.rho.tobytes()
        and a.gamma == b.gamma
    )


def _sparse_mdps() -> list[TabularMDP]:
    return [
        tm.garnet(S=50, A=3, branching=3, seed=2, sparse=True),
        tm.get("gridworld", slip=0.1).to_sparse(),
        tm.get("agarwal_chain").to_sparse(),
    ]


@pytest.mark.parametrize("index", range(3))
def test_mdptoolbox_sparse_round_trip(index: int) -> None:
    mdp = _sparse_mdps()[index]
    P, R = tm.to_mdptoolbox(mdp)
    assert isinstance(P, list) and len(P) == mdp.A
    dense = mdp.to_dense()
    for a, m in enumerate(P):
        assert type(m) is scipy.sparse.csr_matrix and m.shape == (mdp.S, mdp.S)  # pymdptoolbox's sparse form
        np.testing.assert_array_equal(m.toarray(), dense.P[:, a, :])
    np.testing.assert_array_equal(R, mdp.r)
    back = tm.from_mdptoolbox(P, R, mdp.gamma, mdp.rho)
    assert _same_sparse(back, mdp)
    P[0].data[0] = 123.0  # fresh, writable copies: the MDP is untouched
    R[0, 0] = 123.0
    assert mdp.P.data.max() <= 1.0 and mdp.r[0, 0] != 123.0


def test_from_mdptoolbox_storage_option() -> None:
    mdp = tm.get("gridworld", slip=0.2)
    P, R = tm.to_mdptoolbox(mdp)  # dense (A, S, S)
    as_sparse = tm.from_mdptoolbox(P, R, mdp.gamma, mdp.rho, sparse=True)
    assert _same_sparse(as_sparse, mdp.to_sparse())
    mixed = [scipy.sparse.csr_matrix(P[0]), *P[1:]]  # one sparse member is enough for a sparse MDP
    assert _same_sparse(tm.from_mdptoolbox(mixed, R, mdp.gamma, mdp.rho), mdp.to_sparse())
    assert not tm.from_mdptoolbox(list(P), R, mdp.gamma, mdp.rho).is_sparse  # dense members: dense MDP
    obj = np.empty(mdp.A, dtype=object)  # pymdptoolbox also accepts an object array of matrices
    obj[:] = [scipy.sparse.csr_matrix(m) for m in P]
    assert _same_sparse(tm.from_mdptoolbox(obj, R, mdp.gamma, mdp.rho), mdp.to_sparse())


def test_from_mdptoolbox_sparse_reward_shapes() -> None:
    rng = np.random.default_rng(3)
    A, S = 3, 8
    mdp = tm.garnet(S=S, A=A, branching=3, seed=4, sparse=True)
    P, _ = tm.to_mdptoolbox(mdp)
    Rt = rng.random((A, S, S))
    expected = np.einsum("sat,ast->sa", mdp.to_dense().P, Rt)
    np.testing.assert_allclose(tm.from_mdptoolbox(P, Rt, 0.9).r, expected, rtol=1e-14)  # dense (A, S, S)
    Rs = [scipy.sparse.csr_matrix(Rt[a] * (Rt[a] > 0.5)) for a in range(A)]  # sparse transition rewards
    expected_s = np.einsum("sat,ast->sa", mdp.to_dense().P, np.stack([m.toarray() for m in Rs]))
    m_s = tm.from_mdptoolbox(P, Rs, 0.9)
    assert m_s.is_sparse
    np.testing.assert_allclose(m_s.r, expected_s, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(tm.from_mdptoolbox(P, Rs, 0.9, sparse=False).r, expected_s, rtol=1e-14, atol=1e-16)
    state_r = rng.random(S)
    np.testing.assert_array_equal(tm.from_mdptoolbox(P, state_r, 0.9).r, np.repeat(state_r[:, None], A, axis=1))


def test_from_mdptoolbox_sparse_bad_input() -> None:
    P, R = tm.to_mdptoolbox(tm.garnet(S=5, A=2, branching=2, seed=0, sparse=True))
    with pytest.raises(ValueError, match=r"P\[1\] has shape \(4, 4\), P\[0\] has \(5, 5\)"):
        tm.from_mdptoolbox([P[0], P[1][:4, :4]], R, 0.9)
    with pytest.raises(ValueError, match=r"shape \(A, S, S\).*got a sparse matrix of shape \(5, 5\)"):
        tm.from_mdptoolbox(P[0], R, 0.9, sparse=True)
    with pytest.raises(ValueError, match=r"R must have shape"):
        tm.from_mdptoolbox(P, R.T, 0.9)
    with pytest.raises(ValueError, match=r"R as a sequence of A matrices must have shape \(S, S\)"):
        tm.from_mdptoolbox(P, [scipy.sparse.csr_matrix((5, 4))] * 2, 0.9)
    with pytest.raises(ValueError, match=r"P \(sparse\) must have rows summing to 1"):
        tm.from_mdptoolbox([m * 2 for m in P], R, 0.9)


def test_mdptoolbox_sparse_conversion_never_densifies() -> None:
    S, A = 20_000, 4
    mdp = tm.garnet(S=S, A=A, branching=3, seed=0, sparse=True)
    tracemalloc.start()
    try:
        P, R = tm.to_mdptoolbox(mdp)
        back = tm.from_mdptoolbox(P, R, mdp.gamma, mdp.rho)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    nnz_bytes = mdp.nnz * 16  # a float64 value and an int64 column index per entry: 3.84 MB
    assert peak < 10 * nnz_bytes < S * A * S * 8 / 300  # dense would be 12.8 GB
    assert _same_sparse(back, mdp)


@pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")  # pymdptoolbox's `matrix >= 0`
def test_sparse_agrees_with_pymdptoolbox_solvers() -> None:
    mdptoolbox_example = pytest.importorskip("mdptoolbox.example")
    mdptoolbox_mdp = pytest.importorskip("mdptoolbox.mdp")
    # pymdptoolbox's own sparse example, converted without densifying ...
    P, R = mdptoolbox_example.forest(S=30, r1=4, r2=2, p=0.1, is_sparse=True)
    assert all(scipy.sparse.issparse(m) for m in P)
    mdp = tm.from_mdptoolbox(P, R, 0.9)
    assert mdp.is_sparse
    solver = mdptoolbox_mdp.PolicyIteration(P, R, 0.9)
    solver.run()
    opt = optimal(mdp)
    np.testing.assert_allclose(opt.V, np.asarray(solver.V), rtol=0, atol=1e-8)
    np.testing.assert_array_equal(opt.actions, np.asarray(solver.policy))
    # ... and a sparse Garnet with a clear optimal action, handed to pymdptoolbox in its sparse form.
    garnet = tm.garnet(S=60, A=3, branching=3, gamma=0.9, seed=1, min_gap=0.05, sparse=True)
    Pg, Rg = tm.to_mdptoolbox(garnet)
    opt = optimal(garnet)
    pi_solver = mdptoolbox_mdp.PolicyIteration(Pg, Rg, 0.9)
    pi_solver.run()
    np.testing.assert_allclose(opt.V, np.asarray(pi_solver.V), rtol=0, atol=1e-8)
    np.testing.assert_array_equal(opt.actions, np.asarray(pi_solver.policy))
    vi_solver = mdptoolbox_mdp.ValueIteration(Pg, Rg, 0.9, epsilon=1e-10)
    vi_solver.run()  # stops on a span criterion (or its iteration bound): compare the policy, not V
    np.testing.assert_array_equal(opt.actions, np.asarray(vi_solver.policy))


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
