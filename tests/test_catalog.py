"""The catalog: every registry entry, the random families, min_gap, and the closed-form instances."""

from __future__ import annotations

import dataclasses
import itertools
from collections import deque

import numpy as np
import pytest

import tabular_mdps as tm
from r1theory import TabularMDP, evaluate, optimal, policy_gradient, softmax
from tabular_mdps.grids import DEFAULT_LAYOUT, MOVES
from tabular_mdps.hard import MEI_BANDIT_INITS, MEI_BANDIT_REWARDS

NAMES = tm.names()


# --- the registry -------------------------------------------------------------------------------


def test_at_least_ten_entries() -> None:
    assert len(NAMES) >= 10
    assert NAMES == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_builds_and_validates_with_defaults(name: str) -> None:
    inst = tm.get_instance(name)
    mdp = inst.mdp
    assert isinstance(mdp, TabularMDP)
    assert inst.name == name
    assert dict(inst.params) == dict(tm.entry(name).defaults)
    # Conventions: rows of P are distributions, rewards in [0, 1], rho a distribution.
    np.testing.assert_allclose(mdp.P.sum(axis=2), 1.0, atol=1e-12)
    assert mdp.r.min() >= 0.0 and mdp.r.max() <= 1.0
    assert mdp.rho.min() >= 0.0 and abs(mdp.rho.sum() - 1.0) < 1e-12
    opt = optimal(mdp)
    assert opt.residual < 1e-9
    if inst.theta0 is not None:
        assert inst.theta0.shape == (mdp.S, mdp.A)
        assert not inst.theta0.flags.writeable
        assert np.all(np.isfinite(inst.theta0))
        evaluate(mdp, softmax(inst.theta0))  # a valid starting policy
    # get() is get_instance().mdp, and rebuilding from the recorded params gives the same arrays.
    again = tm.get(name, **inst.params)
    assert np.array_equal(again.P, mdp.P) and np.array_equal(again.r, mdp.r)
    assert np.array_equal(again.rho, mdp.rho) and again.gamma == mdp.gamma


@pytest.mark.parametrize("name", NAMES)
def test_describe_states_source_use_and_parameters(name: str) -> None:
    text = tm.describe(name)
    e = tm.entry(name)
    assert text.startswith(f"{name}: ")
    assert e.source in text and e.used_by in text and e.provenance in text
    for k, v in e.defaults.items():
        assert f"{k} = {v!r}" in text
    assert e.provenance in ("exact", "reconstructed", "standard")


def test_instance_is_frozen() -> None:
    inst = tm.get_instance("mei_bandit")
    with pytest.raises(dataclasses.FrozenInstanceError):
        inst.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        inst.params["init"] = "good"  # type: ignore[index]
    assert inst.theta0 is not None
    with pytest.raises(ValueError, match="read-only"):
        inst.theta0[0, 0] = 1.0


def test_unknown_name_and_parameter_are_reported() -> None:
    with pytest.raises(ValueError, match=r"unknown instance 'nope'.*garnet"):
        tm.get("nope")
    with pytest.raises(TypeError, match=r"no parameter.*branchign.*branching=2"):
        tm.get("garnet", branchign=3)
    with pytest.raises(ValueError, match="init must be one of"):
        tm.get("mei_bandit", init="worst")


def test_register_rejects_parameters_without_defaults() -> None:
    with pytest.raises(ValueError, match="keyword-only with a default"):

        @tm.register("bad_entry", summary="", source="", used_by="", provenance="standard")
        def _bad(*, x: int) -> tm.Built:  # pragma: no cover - never called
            raise AssertionError

    assert "bad_entry" not in tm.names()


# --- random families: seeds, Garnet branching, min_gap ------------------------------------------

FAMILIES = [("random", {"S": 6, "A": 3}), ("garnet", {"S": 12, "A": 4, "branching": 3}), ("bandit", {"A": 6})]


@pytest.mark.parametrize(
    ("S", "A", "b", "seed"), [(5, 2, 1, 0), (10, 3, 2, 1), (20, 4, 5, 7), (7, 3, 7, 3), (50, 2, 4, 11)]
)
def test_garnet_branching_is_exact(S: int, A: int, b: int, seed: int) -> None:
    for min_gap in (None, 0.2):
        mdp = tm.get("garnet", S=S, A=A, branching=b, seed=seed, min_gap=min_gap)
        counts = np.count_nonzero(mdp.P, axis=2)
        assert counts.shape == (S, A)
        assert np.all(counts == b), counts
        assert np.all(mdp.P[mdp.P != 0] > 0.0)


def test_garnet_rejects_bad_branching() -> None:
    with pytest.raises(ValueError, match="branching must be <= S"):
        tm.get("garnet", S=3, branching=4)
    with pytest.raises(ValueError, match="branching must be >= 1"):
        tm.get("garnet", branching=0)


@pytest.mark.parametrize(("name", "params"), FAMILIES)
def test_seeds_reproduce_and_differ(name: str, params: dict[str, int]) -> None:
    a = tm.get(name, seed=3, **params)
    b = tm.get(name, seed=3, **params)
    c = tm.get(name, seed=4, **params)
    assert np.array_equal(a.P, b.P) and np.array_equal(a.r, b.r)
    assert not np.array_equal(a.r, c.r)
    if a.S > 1:
        assert not np.array_equal(a.P, c.P)


@pytest.mark.parametrize("seed", [1.0, True, None, "1", -1])
def test_seed_must_be_an_explicit_nonnegative_int(seed: object) -> None:
    with pytest.raises((TypeError, ValueError), match="seed"):
        tm.get("garnet", seed=seed)


@pytest.mark.parametrize(("name", "params"), FAMILIES)
@pytest.mark.parametrize("min_gap", [0.05, 0.3, 0.9])
def test_min_gap_holds_and_keeps_the_optimal_policy(name: str, params: dict[str, int], min_gap: float) -> None:
    for seed in range(4):
        plain = tm.get(name, seed=seed, **params)
        gapped = tm.get(name, seed=seed, min_gap=min_gap, **params)
        assert np.array_equal(plain.P, gapped.P)  # only rewards change
        assert gapped.r.min() >= 0.0 and gapped.r.max() <= 1.0
        o_plain, o_gap = optimal(plain), optimal(gapped)
        assert np.all(o_gap.gap >= min_gap), (o_gap.gap.min(), min_gap)
        if o_plain.gap.min() > 1e-9:  # unique optimum before: the same actions after
            assert np.array_equal(o_plain.actions, o_gap.actions)


def test_min_gap_construction_gives_the_predicted_gaps() -> None:
    # Theorem (gaps.py): with r' = (1 − c) r + c·1[a = a*], every gap becomes exactly (1 − c) g(s) + c.
    mdp = tm.get("garnet", S=15, A=3, branching=3, seed=5)
    opt = optimal(mdp)
    m = 0.4
    gapped = tm.enforce_min_gap(mdp, m)
    c = ((m + 1e-6 * (1 - m)) - opt.gap.min()) / (1.0 - opt.gap.min())
    np.testing.assert_allclose(optimal(gapped).gap, (1 - c) * opt.gap + c, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gapped.r, (1 - c) * mdp.r + c * np.eye(3)[opt.actions], rtol=0, atol=1e-15)


def test_min_gap_breaks_ties_and_is_a_no_op_when_met() -> None:
    tied = tm.get("tie_bandit")
    assert optimal(tied).gap.min() == 0.0
    fixed = tm.enforce_min_gap(tied, 0.25)
    assert optimal(fixed).gap.min() >= 0.25
    easy = tm.get("mei_bandit")  # gap 0.1 already
    assert tm.enforce_min_gap(easy, 0.05) is easy


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 2.0])
def test_min_gap_must_lie_in_the_open_unit_interval(bad: float) -> None:
    with pytest.raises(ValueError, match="min_gap must lie in"):
        tm.get("random", min_gap=bad)


def test_min_gap_rejects_rewards_outside_the_unit_interval() -> None:
    mdp = TabularMDP(np.ones((1, 2, 1)), [[2.0, 0.0]], 0.0, [1.0])
    with pytest.raises(ValueError, match=r"rewards in \[0, 1\]"):
        tm.enforce_min_gap(mdp, 0.5)


def test_bandit_family_is_a_bandit() -> None:
    mdp = tm.get("bandit", A=4, seed=2)
    assert (mdp.S, mdp.A, mdp.gamma) == (1, 4, 0.0)
    np.testing.assert_array_equal(optimal(mdp).Q, mdp.r)  # γ = 0: Q* = r


# --- hard and illustrative instances ------------------------------------------------------------


def test_mei_bandit_is_exact() -> None:
    for init, pi0 in MEI_BANDIT_INITS.items():
        inst = tm.get_instance("mei_bandit", init=init)
        np.testing.assert_array_equal(inst.mdp.r, [MEI_BANDIT_REWARDS])
        assert inst.theta0 is not None
        np.testing.assert_allclose(softmax(inst.theta0)[0], pi0, atol=1e-15)
    bad = tm.get_instance("mei_bandit").theta0
    assert bad is not None
    np.testing.assert_allclose(softmax(bad)[0], (0.01, 0.05, 0.94))
    assert optimal(tm.get("mei_bandit")).gap[0] == pytest.approx(0.1)


def test_mei_prop1_nonconcavity_on_the_bandit() -> None:
    # Mei et al. 2020, Prop. 1: value at the midpoint of θ₁ = 0 and θ₂ = (ln 9, ln 16, ln 25) is below the average.
    r = np.array(MEI_BANDIT_REWARDS)
    t1, t2 = np.zeros(3), np.log([9.0, 16.0, 25.0])

    def value(t: np.ndarray) -> float:
        return float(softmax(t) @ r)

    assert value((t1 + t2) / 2) < (value(t1) + value(t2)) / 2


def test_mei_self_loop_gradient_vanishes_off_the_support_of_mu() -> None:
    inst = tm.get_instance("mei_self_loop", S=3)
    assert inst.theta0 is not None
    g = policy_gradient(inst.mdp, inst.theta0)
    assert np.all(g[1:] == 0.0)
    assert np.abs(g[0]).max() > 0.0
    # The limit of PG (state 0 solved, others frozen) is sub-optimal at a uniform ρ'.
    pi = softmax(inst.theta0)
    pi[0] = (1.0, 0.0)
    V = evaluate(inst.mdp, pi).V
    Vstar = optimal(inst.mdp).V
    np.testing.assert_allclose(Vstar - V, np.r_[0.0, softmax(inst.theta0)[1:, 1]] / (1 - 0.9), atol=1e-12)


@pytest.mark.parametrize("H", [1, 5, 20])
def test_agarwal_chain_structure_and_closed_form(H: int) -> None:
    inst = tm.get_instance("agarwal_chain", H=H)
    mdp = inst.mdp
    assert (mdp.S, mdp.A) == (H + 2, 4)
    assert mdp.gamma == H / (H + 1)
    opt = optimal(mdp)
    i = np.arange(H + 2)
    np.testing.assert_allclose(opt.V, (H + 1) * mdp.gamma ** (H + 1 - i), rtol=1e-12)
    assert np.all(opt.actions == 0) and opt.gap.min() > 0
    assert opt.J >= (H + 1) / 4
    assert inst.theta0 is not None
    pi0 = softmax(inst.theta0)
    assert np.all(pi0[:, 0] < 0.25)
    if H == 20:  # the plateau: from π(a1|s) = 0.2 the value is a tiny fraction of V*(s0) ≥ (H+1)/4
        assert evaluate(mdp, pi0).J < 1e-6 * opt.J


@pytest.mark.parametrize(
    ("H", "gamma", "margin", "shrink"), [(5, 0.9, 0.5, 0.5), (8, 0.9, 0.5, 0.5), (6, 0.95, 0.3, 0.7)]
)
def test_li_chain_closed_form(H: int, gamma: float, margin: float, shrink: float) -> None:
    mdp = tm.get("li_chain", H=H, gamma=gamma, margin=margin, shrink=shrink)
    s = np.arange(1, H + 1)
    opt = optimal(mdp)
    np.testing.assert_allclose(opt.V[1:], gamma ** (s - 1), rtol=1e-12)
    assert np.all(opt.actions[1:] == 0)
    eps = margin * shrink ** (s - 1)
    np.testing.assert_allclose(opt.gap[1:], gamma ** (s - 1) * np.minimum(eps, 1 - gamma), rtol=1e-9)


@pytest.mark.parametrize("H", [5, 8])
def test_li_chain_trap_under_the_uniform_policy(H: int) -> None:
    inst = tm.get_instance("li_chain", H=H)
    assert inst.theta0 is not None
    ev = evaluate(inst.mdp, softmax(inst.theta0))
    assert ev.Q[1, 0] > ev.Q[1, 1]  # at the goal end advancing already wins
    assert np.all(ev.Q[2:, 1] > ev.Q[2:, 0])  # elsewhere quitting looks better than the optimal "advance"
    assert np.all(ev.A[3:, 0] < 0.0)


def test_li_chain_softmax_pg_learns_state_by_state_with_growing_delays() -> None:
    inst = tm.get_instance("li_chain", H=4)
    assert inst.theta0 is not None
    theta = inst.theta0.copy()
    learned: dict[int, int] = {}
    for t in range(5000):
        pi = softmax(theta)
        learned.update({s: t for s in range(1, 5) if s not in learned and pi[s, 0] > 0.5})
        if len(learned) == 4:
            break
        theta += 1.0 * policy_gradient(inst.mdp, theta)
    times = [learned[s] for s in range(1, 5)]
    assert times == sorted(times)  # from the goal end, one state after the other
    assert all(b > 3 * a for a, b in itertools.pairwise(times)), times


def _bfs_moves(layout: tuple[str, ...]) -> int:
    start = next((i, j) for i, row in enumerate(layout) for j, ch in enumerate(row) if ch == "S")
    dist = {start: 0}
    todo = deque([start])
    while todo:
        i, j = todo.popleft()
        if layout[i][j] == "G":
            return dist[(i, j)]
        for di, dj in MOVES:
            n = (i + di, j + dj)
            if 0 <= n[0] < len(layout) and 0 <= n[1] < len(layout[0]) and layout[n[0]][n[1]] != "#" and n not in dist:
                dist[n] = dist[(i, j)] + 1
                todo.append(n)
    raise AssertionError("goal unreachable")


@pytest.mark.parametrize("layout", [DEFAULT_LAYOUT, ("S.G",), ("S#.", "...", ".#G")])
def test_gridworld_optimal_value_is_gamma_to_the_path_length(layout: tuple[str, ...]) -> None:
    mdp = tm.get("gridworld", layout=layout, gamma=0.8)
    assert mdp.S == sum(ch != "#" for row in layout for ch in row)
    d = _bfs_moves(layout)
    assert optimal(mdp).J == pytest.approx(0.8 ** (d - 1), rel=1e-12)


def test_gridworld_slip_and_bad_layouts() -> None:
    slippery = tm.get("gridworld", slip=0.2)
    assert 0 < optimal(slippery).J < optimal(tm.get("gridworld")).J
    with pytest.raises(ValueError, match="exactly one 'S'"):
        tm.get("gridworld", layout=("..G",))
    with pytest.raises(ValueError, match="equal length"):
        tm.get("gridworld", layout=("S..", "G"))
    with pytest.raises(ValueError, match="only 'S', 'G'"):
        tm.get("gridworld", layout=("S.x", "..G"))


@pytest.mark.parametrize(("rows", "cols", "gamma"), [(4, 12, 0.9), (3, 5, 0.95)])
def test_cliff_walking_closed_form(rows: int, cols: int, gamma: float) -> None:
    mdp = tm.get("cliff", rows=rows, cols=cols, gamma=gamma)
    n = cols + 1  # up, along the edge, down
    v_orig = -(1 - gamma**n) / (1 - gamma)  # Sutton & Barto's −1 per move, goal ends the episode
    assert optimal(mdp).J == pytest.approx((v_orig + 100 / (1 - gamma)) / 100, rel=1e-12)
    assert mdp.r.min() == 0.0 and mdp.r.max() == 1.0


def test_cliff_slip_prefers_the_safe_path() -> None:
    risky, safe = optimal(tm.get("cliff", gamma=0.99)), optimal(tm.get("cliff", gamma=0.99, slip=0.1))
    start = 3 * 12
    assert risky.actions[start] == 0  # up, then along the edge
    # With slip the policy one row above the cliff moves away from it (up) instead of walking right along it.
    assert risky.actions[2 * 12 + 5] == 1 and safe.actions[2 * 12 + 5] == 0


@pytest.mark.parametrize(("reward", "gamma", "A"), [(0.5, 0.9, 1), (1.0, 0.0, 3), (0.25, 0.99, 2)])
def test_absorbing_state_value_is_r_over_one_minus_gamma(reward: float, gamma: float, A: int) -> None:
    mdp = tm.get("absorbing", reward=reward, gamma=gamma, A=A)
    pi = np.full((1, A), 1.0 / A)
    ev = evaluate(mdp, pi)
    assert ev.V[0] == pytest.approx(reward / (1 - gamma), rel=1e-14)
    assert ev.J == pytest.approx(reward / (1 - gamma), rel=1e-14)


@pytest.mark.parametrize(("r0", "r1", "gamma"), [(1.0, 0.5, 0.9), (0.0, 1.0, 0.5), (0.3, 0.3, 0.99)])
def test_two_cycle_values(r0: float, r1: float, gamma: float) -> None:
    mdp = tm.get("two_cycle", r0=r0, r1=r1, gamma=gamma)
    cycle = np.array([[1.0, 0.0], [1.0, 0.0]])
    expected = tm.two_cycle_values(r0, r1, gamma)
    np.testing.assert_allclose(evaluate(mdp, cycle).V, expected, rtol=1e-12)
    opt = optimal(mdp)
    assert np.all(opt.actions == 0)
    np.testing.assert_allclose(opt.V, expected, rtol=1e-12)
