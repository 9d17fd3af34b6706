"""The vectorised sampler: inverse-CDF draws, state frequencies against d, episode structure, reproducibility.

Statistical tests use fixed seeds and state their false-alarm probability: a chi-square goodness-of-fit
test rejects at p < 1e-4, so a correct sampler fails a given test with probability 1e-4 (and, the seeds
being fixed, deterministically never once it passes).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.stats
from conftest import full_support_mdp as _mdp

import r1theory as r1
from r1theory import estimators as es
from r1theory.sampler import NARROW, SMALL, TabularSampler, _draw, cumulative_rows

P_REJECT = 1e-4


def _absorbing_mdp() -> r1.TabularMDP:
    """3 states; state 2 is absorbing and reward-free, reached from state 1."""
    P = np.zeros((3, 2, 3))
    P[0, 0] = [0.5, 0.5, 0.0]
    P[0, 1] = [0.2, 0.8, 0.0]
    P[1, 0] = [0.3, 0.3, 0.4]
    P[1, 1] = [0.0, 0.1, 0.9]
    P[2, :, 2] = 1.0
    r = np.array([[1.0, 0.5], [0.2, 2.0], [0.0, 0.0]])
    return r1.TabularMDP(P, r, 0.9, [1.0, 0.0, 0.0])


def _chi2_p(counts: np.ndarray, probs: np.ndarray) -> float:
    keep = probs > 0
    assert counts[~keep].sum() == 0, "a zero-probability outcome was drawn"
    if keep.sum() == 1:
        return 1.0  # a single possible outcome: nothing to test beyond the assertion above
    expected = probs[keep] / probs[keep].sum() * counts.sum()
    return float(scipy.stats.chisquare(counts[keep], expected).pvalue)


def test_cumulative_rows_end_at_one_and_skip_zero_probabilities() -> None:
    p = np.array([[0.2, 0.0, 0.8, 0.0], [0.0, 0.0, 0.0, 1.0], [0.1, 0.2, 0.3, 0.4]])
    c = cumulative_rows(p)
    np.testing.assert_array_equal(c[:, -1], 1.0)
    np.testing.assert_array_equal(c[0], [0.2, 0.2, 1.0, 1.0])
    u = np.random.default_rng(0).random(20_000)
    for row in range(3):
        rows = np.full(u.size, row)
        drawn = _draw(np.ascontiguousarray(c.T), rows, u)
        assert np.all(p[row, drawn] > 0)
        assert _chi2_p(np.bincount(drawn, minlength=4), p[row]) > P_REJECT


@pytest.mark.parametrize("width", [3, NARROW + 5])
def test_both_draw_paths_agree(width: int) -> None:
    rng = np.random.default_rng(width)
    probs = rng.dirichlet(np.ones(width), size=7)
    probs[:, 1] = 0.0
    probs /= probs.sum(axis=1, keepdims=True)
    cdf_t = np.ascontiguousarray(cumulative_rows(probs).T)
    rows = rng.integers(0, 7, size=3 * SMALL)
    u = rng.random(rows.size)
    big = _draw(cdf_t, rows, u)  # column path when narrow (rows.size >= SMALL)
    small = np.concatenate([_draw(cdf_t, rows[i : i + 10], u[i : i + 10]) for i in range(0, rows.size, 10)])
    np.testing.assert_array_equal(big, small)
    # the definition: #{k : C(k) ≤ u}
    np.testing.assert_array_equal(big, (cdf_t[:, rows] <= u).sum(axis=0))


def test_state_actions_follow_d_times_pi() -> None:
    mdp = _mdp()
    pi = r1.softmax(np.random.default_rng(1).normal(size=(4, 3)))
    ev = r1.evaluate(mdp, pi)
    n = 100_000
    sa = TabularSampler(mdp).state_actions(pi, n, np.random.default_rng(2))
    counts = np.bincount(sa.states * 3 + sa.actions, minlength=12)
    assert _chi2_p(counts, (ev.d[:, None] * pi).ravel()) > P_REJECT
    # per-state binomial bounds, 5 standard errors
    freq = np.bincount(sa.states, minlength=4) / n
    assert np.all(np.abs(freq - ev.d) <= 5 * np.sqrt(ev.d * (1 - ev.d) / n))
    # transitions: T ~ Geom0(1 - γ) has mean γ/(1 - γ) = 4
    assert sa.transitions / n == pytest.approx(4.0, rel=0.02)
    assert sa.episodes == n


def test_geometric_episodes_last_state_is_d_and_the_chi2_test_has_power() -> None:
    mdp = _mdp(3)
    pi = r1.softmax(np.random.default_rng(4).normal(size=(4, 3)))
    ev = r1.evaluate(mdp, pi)
    ep = TabularSampler(mdp).episodes(pi, 60_000, np.random.default_rng(5))
    last = np.flatnonzero(ep.time == ep.lengths[ep.episode] - 1)
    assert last.size == ep.n
    assert _chi2_p(np.bincount(ep.states[last], minlength=4), ev.d) > P_REJECT
    # the state *after* the last action has law (d − (1 − γ)ρ)/γ ≠ d: the same test rejects it
    assert _chi2_p(np.bincount(ep.final_states, minlength=4), ev.d) < P_REJECT
    after = (ev.d - (1 - mdp.gamma) * mdp.rho) / mdp.gamma
    assert _chi2_p(np.bincount(ep.final_states, minlength=4), after) > P_REJECT
    # undiscounted returns of geometric episodes are unbiased for J
    ret = np.bincount(ep.episode, weights=ep.rewards, minlength=ep.n)
    assert abs(ret.mean() - ev.J) <= 4.5 * ret.std() / np.sqrt(ep.n)


def test_truncated_episodes_discounted_return_matches_J_H() -> None:
    mdp = _mdp(6)
    pi = r1.softmax(np.random.default_rng(7).normal(size=(4, 3)))
    H = 6
    ep = TabularSampler(mdp).episodes(pi, 40_000, np.random.default_rng(8), horizon=H)
    assert np.all(ep.lengths == H)
    assert ep.transitions == H * ep.n
    ret = np.bincount(ep.episode, weights=ep.rewards * mdp.gamma**ep.time, minlength=ep.n)
    P_pi = mdp.transition_matrix(pi)
    r_pi = (pi * mdp.r).sum(axis=1)
    p, J_H = mdp.rho.copy(), 0.0
    for t in range(H):
        J_H += mdp.gamma**t * p @ r_pi
        p = p @ P_pi
    assert abs(ret.mean() - J_H) <= 4.5 * ret.std() / np.sqrt(ep.n)


def test_episode_layout_is_time_major_and_padded_view_is_consistent() -> None:
    mdp = _mdp()
    ep = r1.rollout(mdp, np.full((4, 3), 1 / 3), 50, np.random.default_rng(0))
    assert np.all(np.diff(ep.time) >= 0)
    for i in range(ep.n):
        np.testing.assert_array_equal(ep.time[ep.episode == i], np.arange(ep.lengths[i]))
        first = np.flatnonzero((ep.episode == i) & (ep.time == 0))
        assert ep.states[first[0]] == ep.start_states[i]
    states, actions, rewards, mask = ep.padded()
    assert mask.sum() == ep.transitions
    np.testing.assert_array_equal(mask.sum(axis=1), ep.lengths)
    np.testing.assert_allclose(rewards[mask].sum(), ep.rewards.sum())
    np.testing.assert_allclose(rewards, np.where(mask, mdp.r[states, actions], 0.0))


def test_transitions_follow_P() -> None:
    mdp = _mdp(9)
    pi = np.full((4, 3), 1 / 3)
    ep = TabularSampler(mdp).episodes(pi, 20_000, np.random.default_rng(10), horizon=5)
    states, actions, _, _ = ep.padded()
    s, a, s2 = states[:, :-1].ravel(), actions[:, :-1].ravel(), states[:, 1:].ravel()
    sel = (s == 1) & (a == 2)
    assert _chi2_p(np.bincount(s2[sel], minlength=4), mdp.P[1, 2]) > P_REJECT


def test_stop_at_absorbing_ends_episodes_without_changing_returns() -> None:
    mdp = _absorbing_mdp()
    sampler = TabularSampler(mdp)
    np.testing.assert_array_equal(sampler.absorbing, [False, False, True])
    pi = np.array([[0.5, 0.5], [0.3, 0.7], [0.5, 0.5]])
    full = sampler.episodes(pi, 30_000, np.random.default_rng(0), horizon=30)
    short = sampler.episodes(pi, 30_000, np.random.default_rng(1), horizon=30, stop_at_absorbing=True)
    assert np.all(short.states != 2)
    assert short.transitions < full.transitions
    ended = short.lengths < 30
    assert np.all(short.final_states[ended] == 2)
    w_full = mdp.gamma**full.time
    w_short = mdp.gamma**short.time
    r_full = np.bincount(full.episode, weights=full.rewards * w_full, minlength=full.n)
    r_short = np.bincount(short.episode, weights=short.rewards * w_short, minlength=short.n)
    se = np.sqrt(r_full.var() / full.n + r_short.var() / short.n)
    assert abs(r_full.mean() - r_short.mean()) <= 4.5 * se


def test_reproducible_from_the_generator() -> None:
    mdp = _mdp()
    pi = r1.softmax(np.random.default_rng(1).normal(size=(4, 3)))
    a = TabularSampler(mdp).episodes(pi, 500, np.random.default_rng(42))
    b = TabularSampler(mdp).episodes(pi, 500, np.random.default_rng(42))
    c = TabularSampler(mdp).episodes(pi, 500, np.random.default_rng(43))
    for f in ("episode", "time", "states", "actions", "rewards", "lengths", "final_states"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert not np.array_equal(a.lengths, c.lengths)
    x = r1.sample_state_actions(mdp, pi, 300, np.random.default_rng(7))
    y = r1.sample_state_actions(mdp, pi, 300, np.random.default_rng(7))
    np.testing.assert_array_equal(x.states, y.states)
    np.testing.assert_array_equal(x.actions, y.actions)


def test_gamma_zero_and_zero_length_episodes() -> None:
    mdp = _mdp(gamma=0.0)
    pi = np.full((4, 3), 1 / 3)
    sampler = TabularSampler(mdp)
    ep = sampler.episodes(pi, 100, np.random.default_rng(0))
    assert np.all(ep.lengths == 1)
    sa = sampler.state_actions(pi, 1000, np.random.default_rng(1))
    assert sa.transitions == 0  # T = 0: s ~ ρ directly
    ep0 = sampler.rollout(pi, np.array([0, 2, 0]), np.random.default_rng(2))
    np.testing.assert_array_equal(ep0.lengths, [0, 2, 0])
    np.testing.assert_array_equal(ep0.final_states[[0, 2]], ep0.start_states[[0, 2]])


def test_validation_names_the_field() -> None:
    mdp = _mdp()
    pi = np.full((4, 3), 1 / 3)
    sampler = TabularSampler(mdp)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="episodes"):
        sampler.episodes(pi, 0, rng)
    with pytest.raises(TypeError, match="episodes"):
        sampler.episodes(pi, 2.5, rng)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="horizon"):
        sampler.episodes(pi, 3, rng, horizon=0)
    with pytest.raises(TypeError, match="rng"):
        sampler.episodes(pi, 3, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pi"):
        sampler.episodes(np.full((3, 3), 1 / 3), 3, rng)
    with pytest.raises(ValueError, match="lengths"):
        sampler.rollout(pi, np.array([1, -1]), rng)
    with pytest.raises(TypeError, match="lengths"):
        sampler.rollout(pi, np.array([1.0, 2.0]), rng)
    with pytest.raises(TypeError, match="mdp"):
        TabularSampler(np.zeros(3))  # type: ignore[arg-type]


def test_sparse_storage_samples_identically() -> None:
    """A sparse MDP (P as an (S·A, S) CSR matrix) gives the same tables and, from one seed, the same samples."""
    if not hasattr(r1.TabularMDP, "to_sparse"):
        pytest.skip("this TabularMDP has no sparse storage")
    rng = np.random.default_rng(12)
    P = rng.random((5, 2, 5)) * (rng.random((5, 2, 5)) < 0.5)
    P[:, :, 0] += 0.1
    P /= P.sum(axis=-1, keepdims=True)
    P[4] = 0.0
    P[4, :, 4] = 1.0  # absorbing
    r = rng.random((5, 2))
    r[4] = 0.0
    dense = r1.TabularMDP(P, r, 0.9, np.full(5, 0.2))
    sparse = dense.to_sparse()
    a, b = TabularSampler(dense), TabularSampler(sparse)
    np.testing.assert_array_equal(a.support, b.support)
    np.testing.assert_array_equal(a.next_cdf, b.next_cdf)
    np.testing.assert_array_equal(a.absorbing, [False, False, False, False, True])
    np.testing.assert_array_equal(b.absorbing, a.absorbing)
    pi = r1.softmax(rng.normal(size=(5, 2)))
    x = a.episodes(pi, 200, np.random.default_rng(3), horizon=7, stop_at_absorbing=True)
    y = b.episodes(pi, 200, np.random.default_rng(3), horizon=7, stop_at_absorbing=True)
    for f in ("episode", "time", "states", "actions", "rewards", "final_states"):
        np.testing.assert_array_equal(getattr(x, f), getattr(y, f))


def _reference_walk(
    sampler: TabularSampler, pis: np.ndarray, lengths: np.ndarray, u: np.ndarray, first: np.ndarray, policy: np.ndarray
) -> tuple[list[list[tuple[int, int]]], list[int], list[int]]:
    """Episode by episode in plain Python, from the documented layout: u[first] draws s₀, then (a, s') per step.

    Returns each episode's (s, a) pairs, its final state and its start state.
    """
    mdp = sampler.mdp
    P = np.asarray(mdp.to_dense().P if getattr(mdp, "is_sparse", False) else mdp.P)

    def inverse_cdf(p: np.ndarray, x: float) -> int:
        c = cumulative_rows(p[None])[0]
        return int(np.sum(c <= x))

    paths, finals, starts = [], [], []
    for e, L in enumerate(lengths.tolist()):
        k = int(first[e])
        s = inverse_cdf(mdp.rho, u[k])
        starts.append(s)
        path = []
        for t in range(L):
            a = inverse_cdf(pis[policy[e], s], u[k + 1 + 2 * t])
            path.append((s, a))
            s = inverse_cdf(P[s, a], u[k + 2 + 2 * t])
        paths.append(path)
        finals.append(s)
    return paths, finals, starts


@pytest.mark.parametrize("tail_work", [0, 1024, 10**9])  # successor tables for every step, the default, none
@pytest.mark.parametrize(("S", "A", "zeros"), [(4, 3, False), (6, 2, True), (3, 1, False)])
def test_walk_follows_the_layout_on_both_routes(
    monkeypatch: pytest.MonkeyPatch, tail_work: int, S: int, A: int, zeros: bool
) -> None:
    """walk = the per-episode reference, whichever steps go through the successor tables (TAIL_WORK)."""
    import r1theory.sampler as sampler_module

    monkeypatch.setattr(sampler_module, "TAIL_WORK", tail_work)
    rng = np.random.default_rng(S * 10 + A)
    P = rng.random((S, A, S)) * ((rng.random((S, A, S)) < 0.5) if zeros else 1.0)
    P[:, :, 0] += 0.05  # every row has support (sparse supports: width < S)
    P /= P.sum(axis=-1, keepdims=True)
    mdp = r1.TabularMDP(P, rng.random((S, A)), 0.8, rng.dirichlet(np.ones(S)))
    sampler = TabularSampler(mdp)
    assert sampler.full_support == (not zeros)  # both routes of a head step's next state (k itself, or a lookup)
    R = 3
    pis = r1.softmax(rng.normal(size=(R, S, A)) * 2.0)
    pis[1, 0] = np.eye(A)[A - 1]  # a deterministic row (zero probabilities before the last entry)
    for n in (1, 5, 300):
        lengths = np.minimum(sampler.geometric_lengths(n, rng), 40)
        lengths[0] = 0
        policy = rng.integers(0, R, size=n)
        first = np.cumsum(np.concatenate([[7], 1 + 2 * lengths[:-1] + 3]))  # gaps between blocks are allowed
        u = rng.random(int(first[-1] + 1 + 2 * lengths[-1]))
        ep = sampler.walk(sampler.policy_tables(pis), lengths, u, first, policy_offset=policy * S)
        paths, finals, starts = _reference_walk(sampler, pis, lengths, u, first, policy)
        np.testing.assert_array_equal(ep.final_states, finals)
        np.testing.assert_array_equal(ep.start_states, starts)
        assert ep.last_entry is not None
        for e in range(n):
            mine = ep.episode == e
            np.testing.assert_array_equal(ep.time[mine], np.arange(lengths[e]))
            got = list(zip(ep.states[mine].tolist(), ep.actions[mine].tolist(), strict=True))
            assert got == paths[e], f"episode {e} (n={n})"
            np.testing.assert_array_equal(ep.rewards[mine], [mdp.r[s, a] for s, a in paths[e]])
            # the recorded last entry is the transition at time L − 1 (−1 for an empty episode)
            k = int(ep.last_entry[e])
            if lengths[e]:
                assert (ep.episode[k], ep.time[k]) == (e, lengths[e] - 1)
                assert (ep.states[k], ep.actions[k]) == paths[e][-1]
            else:
                assert k == -1
        # the estimators' last pairs: read at the recorded entries = found by the search route (no record)
        which = rng.integers(0, n, size=7)
        searched = es._last_pairs(dataclasses.replace(ep, last_entry=None))
        cases = [(es._last_pairs(ep), searched), (es._last_pairs(ep, which), tuple(x[which] for x in searched))]
        for got_pairs, want in cases:
            for g, w in zip(got_pairs, want, strict=True):
                np.testing.assert_array_equal(g, w)
        # policies by index (the successor tables' row gather) = by column offset, every field
        by_index = sampler.walk(sampler.policy_tables(pis), lengths, u, first, policy_index=policy)
        for f in dataclasses.fields(ep):
            np.testing.assert_array_equal(getattr(by_index, f.name), getattr(ep, f.name), err_msg=f.name)
        # one policy (no offsets): the same as every episode on policy 0
        one = sampler.walk(sampler.policy_table(pis[0]), lengths, u, first)
        ref0, fin0, _ = _reference_walk(sampler, pis, lengths, u, first, np.zeros(n, dtype=np.int64))
        np.testing.assert_array_equal(one.final_states, fin0)
        for e in range(n):
            mine = one.episode == e
            assert list(zip(one.states[mine].tolist(), one.actions[mine].tolist(), strict=True)) == ref0[e]


def test_policy_tables_are_the_policies_cumulative_rows() -> None:
    """policy_tables (a column-by-column running sum when every entry is positive) = cumulative_rows, bit for bit."""
    rng = np.random.default_rng(3)
    for A in (1, 2, 3, 7, NARROW + 2):
        mdp = _mdp(A=A) if A != 3 else _mdp()
        sampler = TabularSampler(mdp)
        pi = r1.softmax(rng.normal(size=(6, 4, A)) * 30.0)  # some entries tiny
        if A > 1:
            pi[2, 1] = np.eye(A)[0]  # exact zeros after the first entry
        want = np.stack([cumulative_rows(p).T for p in pi], axis=1).reshape(A, -1)
        np.testing.assert_array_equal(sampler.policy_tables(pi), want)
        np.testing.assert_array_equal(sampler.policy_tables(pi[3:]), want[:, 12:])
