"""r1theory.actor_critic: every exact instrument against an independent route.

* the exact expected actor update given a critic vs the Monte-Carlo mean of sampled updates (z-test);
* the expected critic step vs its Monte-Carlo mean; the TD fixed point vs V^π; GAE's expectation vs its series;
* the Sherman–Morrison step vs a dense solve; CG vs a dense damped solve; the KL step's radius;
* R runs in lockstep vs R single runs with the same seeds; the pairs' law d × π.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

import r1theory as r1
import tabular_mdps
from r1theory import actor_critic as ac
from r1theory.sampler import TabularSampler, _draw, cumulative_rows

Z_MAX = 4.5  # |z| bound per coordinate; with ≤ 40 coordinates a false alarm has probability < 3e-4


@pytest.fixture(scope="module")
def mdp() -> r1.TabularMDP:
    return tabular_mdps.get("random", S=4, A=3, gamma=0.7, seed=3)


@pytest.fixture(scope="module")
def theta(mdp: r1.TabularMDP) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(mdp.S, mdp.A))


def _mc_updates(mdp, theta, V, cfg, draws, seed):
    """`draws` independent sampled updates at (θ, V_w): R = draws stacked copies, one generator each."""
    sampler = TabularSampler(mdp)
    phi = ac.critic_features(mdp, cfg)
    th = np.broadcast_to(theta, (draws, mdp.S, mdp.A)).copy()
    Vs = np.broadcast_to(V, (draws, mdp.S)).copy()
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(draws)]
    return ac.sampled_update(sampler, th, Vs, phi, cfg, rngs), phi


def _z(samples: np.ndarray, exact: np.ndarray) -> float:
    n = samples.shape[0]
    flat = samples.reshape(n, -1)
    mean, se = flat.mean(axis=0), flat.std(axis=0, ddof=1) / np.sqrt(n)
    ok = se > 1e-12
    # a coordinate no draw touched: its mean is 0, and the exact value is at most the probability of a touch
    # (below ~5/n when n draws missed it) times the largest sampled magnitude
    assert np.all(np.abs(exact.ravel()[~ok]) <= 5.0 / n * np.max(np.abs(flat)) + 1e-12)
    return float(np.max(np.abs(mean[ok] - exact.ravel()[ok]) / se[ok]))


@pytest.mark.parametrize(
    ("actor", "gae", "batch"),
    [("a2c", 1.0, 2), ("a2c", 0.0, 2), ("smac-same", 1.0, 2), ("smac-same", 0.5, 3), ("smac-independent", 0.0, 2)],
)
def test_expected_update_matches_monte_carlo(mdp, theta, actor: str, gae: float, batch: int) -> None:
    V = np.array([1.0, -0.5, 2.0, 0.3])  # a critic far from V^π: its bias is part of the expectation
    cfg = ac.ActorCriticConfig(actor, 1.0, batch=batch, gae_lambda=gae, damping=None if actor == "a2c" else 0.7)
    up, _ = _mc_updates(mdp, theta, V, cfg, 40_000, 11)
    exact = ac.expected_update(mdp, theta, V, cfg)
    assert _z(up.direction, exact) < Z_MAX
    # and the critic really biases the same-sample form: the exact expectation moves with V_w
    if actor == "smac-same":
        moved = ac.expected_update(mdp, theta, r1.evaluate(mdp, r1.softmax(theta)).V, cfg)
        assert np.linalg.norm(moved - exact) > 1e-3 * np.linalg.norm(exact)


def test_a2c_mc_advantage_is_unbiased_for_any_critic(mdp, theta) -> None:
    """λ_GAE = 1: the critic is a baseline only, so E[ĝ] = ∇J whatever V_w (Σ_a π u = 0)."""
    cfg = ac.ActorCriticConfig("a2c", 1.0, batch=4, gae_lambda=1.0)
    grad = r1.policy_gradient(mdp, theta)
    for V in (np.zeros(mdp.S), np.array([5.0, -3.0, 0.0, 1.0])):
        np.testing.assert_allclose(ac.expected_update(mdp, theta, V, cfg), grad, atol=1e-12)
    indep = ac.ActorCriticConfig("smac-independent", 1.0, batch=4, gae_lambda=1.0, damping=0.5)
    a = ac.expected_update(mdp, theta, np.zeros(mdp.S), indep)
    b = ac.expected_update(mdp, theta, np.array([5.0, -3.0, 0.0, 1.0]), indep)
    np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(a, r1.direction("r1-precond", mdp, theta, 0.5), atol=1e-12)


def test_same_sample_expectation_is_r1_sample_expectation(mdp, theta) -> None:
    """With V_w = b and λ_GAE = 1, smac-same's expectation is the C2 formula for V4 with baseline b."""
    b = np.array([0.2, 0.1, -0.4, 0.9])
    for B in (1, 5):
        cfg = ac.ActorCriticConfig("smac-same", 1.0, batch=B, gae_lambda=1.0, damping=0.3)
        ref = r1.r1_sample_expectation(mdp, theta, 0.3, "same", batch=B, baseline=b)
        np.testing.assert_allclose(ac.expected_update(mdp, theta, b, cfg), ref, atol=1e-12)


def test_expected_advantage_against_its_series(mdp, theta) -> None:
    p = r1.policy_point(mdp, theta)
    V = np.array([0.5, 1.5, -1.0, 0.0])
    P, g = np.asarray(mdp.P), mdp.gamma
    P_pi = np.einsum("sa,sat->st", p.pi, P)
    delta = mdp.r + g * (P @ V) - V[:, None]
    dbar = np.einsum("sa,sa->s", p.pi, delta)
    for lam in (0.0, 0.3, 0.8, 1.0):
        series, v = delta.copy(), dbar.copy()  # term k ≥ 1: (γλ)^k P P_π^{k−1} δ̄
        for k in range(1, 400):
            series += (g * lam) ** k * (P @ v)
            v = P_pi @ v
        np.testing.assert_allclose(ac.expected_advantage(p, V, lam), series, atol=1e-10)
    np.testing.assert_allclose(ac.expected_advantage(p, V, 1.0), p.ev.Q - V[:, None], atol=1e-12)
    for lam in (0.0, 0.6):
        np.testing.assert_allclose(ac.expected_advantage(p, p.ev.V, lam), p.ev.A, atol=1e-12)


@pytest.mark.parametrize(("critic", "n"), [("tabular", 1), ("tabular", 3), ("linear", 2)])
def test_expected_critic_step_matches_monte_carlo(mdp, theta, critic: str, n: int) -> None:
    feats = np.random.default_rng(5).normal(size=(mdp.S, 2)) if critic == "linear" else None
    cfg = ac.ActorCriticConfig("a2c", 1.0, critic=critic, features=feats, batch=2, gae_lambda=0.0, n_step=n)
    phi = ac.critic_features(mdp, cfg)
    w = np.random.default_rng(6).normal(size=phi.shape[1])
    up, _ = _mc_updates(mdp, theta, phi @ w, cfg, 40_000, 12)
    exact = ac.expected_critic_update(r1.policy_point(mdp, theta), phi, w, n)
    assert _z(up.critic_increment, exact) < Z_MAX


@pytest.mark.parametrize("n", [1, 2, 5])
def test_td_fixed_point_is_v_pi_for_the_tabular_critic(mdp, theta, n: int) -> None:
    p = r1.policy_point(mdp, theta)
    phi = np.eye(mdp.S)
    np.testing.assert_allclose(ac.td_fixed_point(mdp, theta, phi, n), p.ev.V, atol=1e-10)
    # the expected TD step vanishes there and, iterated, converges to it from w = 0
    np.testing.assert_allclose(ac.expected_critic_update(p, phi, p.ev.V, n), 0.0, atol=1e-12)
    w = np.zeros(mdp.S)
    for _ in range(3000):
        w = w + 1.0 * ac.expected_critic_update(p, phi, w, n)
    np.testing.assert_allclose(w, p.ev.V, atol=1e-8)


def test_absorbing_states_have_value_zero_and_stop_episodes() -> None:
    pytest.importorskip("gymnasium")
    lake = tabular_mdps.from_gymnasium("FrozenLake-v1", gamma=0.9)
    cfg = ac.ActorCriticConfig("a2c", 1.0, batch=25)  # batch averages make each draw closer to normal
    phi = ac.critic_features(lake, cfg)
    assert np.all(phi[lake.S - 1] == 0) and phi[0, 0] == 1.0
    # the tabular fixed point (V = 0 on the absorbing state) is still V^π
    # near the optimal policy, so that the goal's reward is common and the z-test's normal approximation holds
    # (under a random policy the returns are rare events and the sample variance is unreliable)
    th = 2.0 * r1.optimal(lake).pi + np.random.default_rng(1).normal(scale=0.3, size=(lake.S, lake.A))
    np.testing.assert_allclose(ac.td_fixed_point(lake, th, phi, 2), r1.evaluate(lake, r1.softmax(th)).V, atol=1e-10)
    up, _ = _mc_updates(lake, th, np.zeros(lake.S), cfg, 4000, 4)
    exact = ac.expected_update(lake, th, np.zeros(lake.S), cfg)
    assert _z(up.direction, exact) < Z_MAX


def test_pairs_have_law_d_times_pi(mdp, theta) -> None:
    p = r1.policy_point(mdp, theta)
    sampler = TabularSampler(mdp)
    R, B = 500, 40
    pi = np.broadcast_to(p.pi, (R, mdp.S, mdp.A)).copy()
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(4).spawn(R)]
    mb = ac.sample_minibatch(sampler, pi, rngs, B, full_continuation=True, n_step=1, extra=True)
    for s, a in ((mb.states, mb.actions), (mb.extra_states, mb.extra_actions)):
        freq = np.bincount((s * mdp.A + a).ravel(), minlength=mdp.S * mdp.A) / s.size
        q = (p.ev.d[:, None] * p.pi).ravel()
        assert np.max(np.abs(freq - q) / np.sqrt(q * (1 - q) / s.size)) < Z_MAX
    # the continuation starts at the pair and its length law is Geom(1 − γ): mean 1/(1 − γ)
    assert np.all(mb.cont_states[:, :, 0] == mb.states)
    assert abs(mb.cont_length.mean() - 1 / (1 - mdp.gamma)) < 5 * np.sqrt(mdp.gamma) / (1 - mdp.gamma) / np.sqrt(R * B)
    assert np.all(mb.episodes == B + 1)


def test_sherman_morrison_step_is_the_dense_solve(mdp, theta) -> None:
    R, lam = 6, 0.4
    cfg = ac.ActorCriticConfig("smac-same", 1.0, batch=3, damping=lam)
    sampler = TabularSampler(mdp)
    th = np.broadcast_to(theta, (R, mdp.S, mdp.A)).copy()
    V = np.zeros((R, mdp.S))
    seeds = np.random.SeedSequence(8).spawn(R)
    up = ac.sampled_update(sampler, th, V, np.eye(mdp.S), cfg, [np.random.default_rng(s) for s in seeds])
    mb = ac.sample_minibatch(sampler, r1.softmax(th), [np.random.default_rng(s) for s in seeds], 3,
                             full_continuation=True, n_step=1, extra=False)  # fmt: skip
    pi = r1.softmax(theta)
    for r in range(R):
        u = np.zeros((mdp.S, mdp.A))
        s, a = mb.states[r, 0], mb.actions[r, 0]
        u[s] = -pi[s]
        u[s, a] += 1.0
        u = u.ravel()
        dense = np.linalg.solve(lam * np.eye(u.size) + np.outer(u, u), up.gradient[r].ravel())
        np.testing.assert_allclose(up.direction[r].ravel(), dense, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(up.step[r], up.direction[r])


def test_cg_is_the_dense_damped_solve_and_the_step_has_kl_radius(mdp, theta) -> None:
    R, B, lam, delta = 5, 4, 0.1, 0.02
    S, A = mdp.S, mdp.A
    big = ac.ActorCriticConfig("npg-cg", delta, batch=B, damping=lam, cg_iters=S * A, cg_tol=1e-14)
    sampler = TabularSampler(mdp)
    th = np.broadcast_to(theta, (R, S, A)).copy()
    seeds = np.random.SeedSequence(9).spawn(R)
    up = ac.sampled_update(sampler, th, np.zeros((R, S)), np.eye(S), big, [np.random.default_rng(s) for s in seeds])
    mb = ac.sample_minibatch(sampler, r1.softmax(th), [np.random.default_rng(s) for s in seeds], B,
                             full_continuation=True, n_step=1, extra=False)  # fmt: skip
    pi = r1.softmax(theta)
    for r in range(R):
        U = []
        for s, a in zip(mb.states[r], mb.actions[r], strict=True):
            u = np.zeros((S, A))
            u[s] = -pi[s]
            u[s, a] += 1.0
            U.append(u.ravel())
        F = np.mean([np.outer(u, u) for u in U], axis=0)
        x = np.linalg.solve(F + lam * np.eye(S * A), up.gradient[r].ravel())
        np.testing.assert_allclose(up.direction[r].ravel(), x, rtol=1e-8, atol=1e-12)
        step = up.step[r].ravel()
        assert 0.5 * step @ F @ step == pytest.approx(delta, rel=1e-10)
    # the batched CG alone, on random SPD systems
    rng = np.random.default_rng(2)
    M = np.stack([(lambda X: X @ X.T + 0.1 * np.eye(7))(rng.normal(size=(7, 7))) for _ in range(3)])
    b = rng.normal(size=(3, 7))
    x, steps = ac.conjugate_gradient(lambda v: np.einsum("rij,rj->ri", M, v), b, 7, 1e-13)
    np.testing.assert_allclose(x, np.linalg.solve(M, b[..., None])[..., 0], rtol=1e-8)
    assert np.all(steps <= 7)


@pytest.mark.parametrize("actor", ac.ACTORS)
def test_lockstep_runs_equal_single_runs(mdp, actor: str) -> None:
    cfg = ac.ActorCriticConfig(actor, 0.05 if actor == "npg-cg" else 0.5, batch=3,
                               damping=None if actor == "a2c" else 0.5, gae_lambda=0.7)  # fmt: skip
    seeds = np.random.SeedSequence(21).spawn(3)
    th0 = np.zeros((mdp.S, mdp.A))
    batch = ac.actor_critic(
        mdp, th0, cfg, 12, seeds, record_every=4, steps=[0.5, 0.2, 0.5] if actor != "npg-cg" else None
    )
    for r, s in enumerate(seeds):
        step = None if actor == "npg-cg" else [[0.5, 0.2, 0.5][r]]
        one = ac.actor_critic(mdp, th0, cfg, 12, [s], record_every=4, steps=step)
        for k in ("J", "gap", "critic_error", "critic_bias", "episodes", "transitions"):
            np.testing.assert_allclose(getattr(batch, k)[r], getattr(one, k)[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(batch.theta[r], one.theta[0], rtol=1e-12, atol=1e-13)


def test_oracle_critic_has_no_error_and_no_bias(mdp) -> None:
    cfg = ac.ActorCriticConfig("smac-same", 0.5, critic="exact", batch=4, damping=1.0, gae_lambda=0.5)
    runs = ac.actor_critic(mdp, np.zeros((mdp.S, mdp.A)), cfg, 10, [1, 2], record_every=5)
    assert np.all(runs.critic_error < 1e-12)
    assert np.all(runs.critic_bias < 1e-12 * np.maximum(runs.oracle_norm, 1.0))
    learned = ac.actor_critic(mdp, np.zeros((mdp.S, mdp.A)), ac.ActorCriticConfig(
        "smac-same", 0.5, batch=4, damping=1.0, gae_lambda=1.0), 10, [1, 2], record_every=5)  # fmt: skip
    assert np.all(learned.same_sample_bias[:, 1:] > 1e-6)  # the critic has moved off V^π... and off 0
    np.testing.assert_allclose(learned.critic_bias, learned.same_sample_bias, rtol=1e-8, atol=1e-14)
    assert learned.J.shape == (2, 3) and np.all(learned.episodes[:, -1] == 40)


def test_exact_values_are_policy_point_values_bit_for_bit(mdp: r1.TabularMDP) -> None:
    # the exact critic's V feeds every update: it must be the single evaluation's V exactly, not to rounding
    lake = tabular_mdps.from_gymnasium("FrozenLake-v1", gamma=0.9)  # S = 17 (absorbing states)
    for m in (mdp, lake):
        theta = np.random.default_rng(5).normal(size=(6, m.S, m.A)) * 3.0
        V = ac.exact_values(m, np.exp(r1.log_softmax(theta)))
        assert np.array_equal(V, np.stack([r1.policy_point(m, t).ev.V for t in theta]))


def test_batched_record_points_match_single_points(mdp: r1.TabularMDP) -> None:
    lake = tabular_mdps.from_gymnasium("FrozenLake-v1", gamma=0.9)
    for m in (mdp, lake):
        theta = np.random.default_rng(6).normal(size=(5, m.S, m.A)) * 3.0
        points = ac._points(m, theta)
        scale = 1.0 + np.max(np.abs(m.r)) / (1.0 - m.gamma)
        for t, p in zip(theta, points, strict=True):
            q = r1.policy_point(m, t)
            np.testing.assert_allclose(p.ev.V, q.ev.V, rtol=0, atol=1e-12 * scale)
            np.testing.assert_allclose(p.ev.d, q.ev.d, rtol=0, atol=1e-12)
            np.testing.assert_allclose(p.gradient, q.gradient, rtol=0, atol=1e-12 * scale)
            assert np.array_equal(p.ev.d > 0, q.ev.d > 0)
        # chunked (one point per batch) or not, bit for bit: a run's record does not depend on its neighbours
        one = [ac._points(m, theta[i : i + 1])[0] for i in range(len(theta))]
        for p, o in zip(points, one, strict=True):
            assert np.array_equal(p.ev.V, o.ev.V) and np.array_equal(p.gradient, o.gradient)


def test_expected_update_refuses_npg_cg(mdp, theta) -> None:
    with pytest.raises(ValueError, match="not a finite enumeration"):
        ac.expected_update(mdp, theta, np.zeros(mdp.S), ac.ActorCriticConfig("npg-cg", 0.01, damping=0.1))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"actor_step": 0.0}, ValueError, "actor_step must be a finite number > 0"),
        ({"actor_step": float("nan")}, ValueError, "actor_step"),
        ({"actor_step": "big"}, TypeError, "actor_step"),
        ({"critic_step": 1.5}, ValueError, r"critic_step must be a finite number in \(0, 1\]"),
        ({"critic_step": -0.1}, ValueError, "critic_step"),
        ({"gae_lambda": -0.1}, ValueError, r"gae_lambda must lie in \[0, 1\]"),
        ({"gae_lambda": 1.01}, ValueError, r"gae_lambda must lie in \[0, 1\]"),
        ({"batch": 0}, ValueError, "batch"),
        ({"batch": 2.0}, TypeError, "batch"),
        ({"n_step": 0}, ValueError, "n_step"),
        ({"actor": "ppo"}, ValueError, "actor must be one of a2c, smac-same"),
        ({"critic": "neural"}, ValueError, "critic must be one of tabular, linear, exact"),
        ({"actor": "smac-same", "damping": None}, ValueError, "needs damping"),
        ({"damping": 0.5}, ValueError, "undamped"),
        ({"critic": "linear"}, ValueError, "needs features"),
        ({"features": np.ones((4, 2))}, ValueError, "only by critic 'linear'"),
        ({"critic": "linear", "features": np.ones(4)}, ValueError, r"shape \(S, k\)"),
    ],
)
def test_bad_configuration_is_named(kwargs, exc, match) -> None:
    args = {"actor": "a2c", "actor_step": 1.0, **kwargs}
    with pytest.raises(exc, match=match):
        ac.ActorCriticConfig(**args)


def test_bad_run_input_is_named(mdp) -> None:
    cfg = ac.ActorCriticConfig("a2c", 1.0)
    th0 = np.zeros((mdp.S, mdp.A))
    with pytest.raises(ValueError, match="one step per seed"):
        ac.actor_critic(mdp, th0, cfg, 2, [1, 2], steps=[0.1])
    with pytest.raises(ValueError, match="steps"):
        ac.actor_critic(mdp, th0, cfg, 2, [1], steps=[-1.0])
    with pytest.raises(TypeError, match="seeds"):
        ac.actor_critic(mdp, th0, cfg, 2, np.random.default_rng(0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="config"):
        ac.actor_critic(mdp, th0, {"actor": "a2c"}, 2, [1])  # type: ignore[arg-type]
    lin = ac.ActorCriticConfig("a2c", 1.0, critic="linear", features=np.ones((mdp.S + 1, 2)))
    with pytest.raises(ValueError, match="rows"):
        ac.actor_critic(mdp, th0, lin, 2, [1])


def _reference_minibatch(
    sampler: TabularSampler,
    pi: np.ndarray,
    rngs: Sequence[np.random.Generator],
    batch: int,
    *,
    full_continuation: bool,
    n_step: int,
    extra: bool,
) -> ac.Minibatch:
    """The step-by-step rollout :func:`r1theory.actor_critic.sample_minibatch` replaced (issue #17), kept as its
    reference: one loop step per time step over the running episodes, each dropped on entering an absorbing
    state, the continuation recorded as it is walked."""
    mdp = sampler.mdp
    S, A, g = mdp.S, mdp.A, mdp.gamma
    R = len(rngs)
    B = batch
    nb = B + int(extra)
    T1 = np.empty((R, nb), dtype=np.int64)
    m = np.zeros((R, nb), dtype=np.int64)
    blocks: list[np.ndarray] = []
    for r, rng in enumerate(rngs):
        T1[r, :B] = rng.geometric(1.0 - g, size=B) - 1
        T2 = rng.geometric(1.0 - g, size=B).astype(np.int64)
        m[r, :B] = T2 if full_continuation else np.minimum(T2, n_step)
        if extra:
            T1[r, B] = rng.geometric(1.0 - g) - 1
        steps = T1[r] + m[r]
        blocks.append(rng.random(nb + int(2 * steps.sum()) + int(extra)))
    L = (T1 + m).ravel()  # steps simulated per episode
    size = np.array([b.size for b in blocks], dtype=np.int64)
    U = np.concatenate(blocks)
    run = np.repeat(np.arange(R), nb)
    pos = np.tile(np.arange(nb), R)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])  # each run's block in U
    per_ep = 2 * L + np.where(pos == B, 1, 0)  # 2 per step (+1: the independent draw's action)
    ep_off = np.zeros(R * nb, dtype=np.int64)
    csum = np.cumsum(per_ep.reshape(R, nb), axis=1)
    ep_off.reshape(R, nb)[:, 1:] = csum[:, :-1]
    base = start[run] + nb + ep_off  # first uniform of each episode's steps
    s0 = np.searchsorted(sampler.start_cdf, U[start[run] + pos], side="right").astype(np.int64)
    cdf_pi = np.ascontiguousarray(cumulative_rows(pi.reshape(R * S, A)).T)
    t1 = T1.ravel()
    E = R * nb
    M = int(m.max()) if m.size else 0
    cont_s = np.full((E, M + 1), -1, dtype=np.int64)
    cont_r = np.zeros((E, M))
    pair_s = np.full(E, -1, dtype=np.int64)
    pair_a = np.full(E, -1, dtype=np.int64)
    cur = s0.copy()
    steps_done = np.zeros(E, dtype=np.int64)
    absorbing = sampler.absorbing
    idx = np.flatnonzero((L > 0) & ~absorbing[cur])
    t = 0
    while idx.size:
        s = cur[idx]
        b = base[idx] + 2 * t
        a = _draw(cdf_pi, run[idx] * S + s, U[b])
        row = s * A + a
        nxt = sampler.support[row * sampler.width + _draw(sampler.next_cdf, row, U[b + 1])]
        k = t - t1[idx]
        c = k >= 0
        if c.any():  # some episodes are past their pair: record the continuation
            at_pair = k == 0
            pair_s[idx[at_pair]] = s[at_pair]
            pair_a[idx[at_pair]] = a[at_pair]
            ic, kc = idx[c], k[c]
            cont_s[ic, kc] = s[c]
            cont_s[ic, kc + 1] = nxt[c]
            cont_r[ic, kc] = sampler.reward[row[c]]
        cur[idx] = nxt
        steps_done[idx] += 1
        t += 1
        idx = idx[(L[idx] > t) & ~absorbing[nxt]]
    # pairs not reached in the loop (absorbed before T₁, or the independent draw): the state where the
    # episode stands, and the action drawn with the uniform reserved for step T₁
    todo = np.flatnonzero(pair_s < 0)
    if todo.size:
        pair_s[todo] = cur[todo]
        pair_a[todo] = _draw(cdf_pi, run[todo] * S + cur[todo], U[base[todo] + 2 * t1[todo]])
    fill = cont_s < 0
    cont_s[fill] = np.broadcast_to(cur[:, None], cont_s.shape)[fill]
    transitions = np.bincount(run, weights=steps_done, minlength=R).astype(np.int64)
    ps, pa = pair_s.reshape(R, nb), pair_a.reshape(R, nb)
    return ac.Minibatch(
        states=ps[:, :B],
        actions=pa[:, :B],
        cont_states=cont_s.reshape(R, nb, M + 1)[:, :B],
        cont_rewards=cont_r.reshape(R, nb, M)[:, :B],
        cont_length=m[:, :B],
        extra_states=ps[:, B:],
        extra_actions=pa[:, B:],
        transitions=transitions,
        episodes=np.full(R, nb, dtype=np.int64),
    )


MINIBATCH_FIELDS = ("states", "actions", "cont_states", "cont_rewards", "cont_length", "extra_states",
                    "extra_actions", "transitions", "episodes")  # fmt: skip


@pytest.mark.parametrize("name", ["garnet", "FrozenLake", "FrozenLake8x8", "random", "li_chain", "gridworld"])
def test_minibatch_is_the_step_by_step_rollout_bit_for_bit(name: str) -> None:
    # the same random numbers, the same draws: every field equal byte for byte (dtype, shape and sign of 0 too),
    # on instances with absorbing states (FrozenLake: episodes end in holes, most before their length) and without,
    # with one successor per (s, a) (li_chain, gridworld) or several
    mdp = {
        "garnet": lambda: tabular_mdps.get("garnet", S=10, A=4, branching=2, gamma=0.9, seed=0),
        "FrozenLake": lambda: tabular_mdps.from_gymnasium("FrozenLake-v1", gamma=0.9),
        "FrozenLake8x8": lambda: tabular_mdps.from_gymnasium("FrozenLake-v1", gamma=0.95, map_name="8x8"),
        "random": lambda: tabular_mdps.get("random", S=4, A=3, gamma=0.7, seed=3),
        "li_chain": lambda: tabular_mdps.get("li_chain"),  # deterministic transitions (one successor), absorbing
        "gridworld": lambda: tabular_mdps.get("gridworld"),
    }[name]()
    sampler = TabularSampler(mdp)
    cases = absorbed_pairs = 0
    for R in (1, 5):
        for extra in (False, True):
            for full, n in ((True, 1), (False, 1), (False, 3)):
                for B in (1, 8):
                    for rep in range(3):
                        theta = np.random.default_rng(rep + 100 * R).normal(size=(R, mdp.S, mdp.A)) * (0.1 + 3 * rep)
                        pi = np.exp(r1.log_softmax(theta))
                        seeds = np.random.SeedSequence([rep, R, B, int(extra), n]).spawn(R)
                        rngs = [np.random.default_rng(s) for s in seeds]
                        new = ac.sample_minibatch(sampler, pi, rngs, B, full_continuation=full, n_step=n, extra=extra)
                        rngs = [np.random.default_rng(s) for s in seeds]
                        ref = _reference_minibatch(sampler, pi, rngs, B, full_continuation=full, n_step=n, extra=extra)
                        for f in MINIBATCH_FIELDS:
                            x, y = getattr(new, f), getattr(ref, f)
                            assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), f
                        cases += 1
                        absorbed_pairs += int(np.sum(sampler.absorbing[ref.states]))
    assert cases == 72
    if name.startswith("FrozenLake"):  # the cases include episodes absorbed before their pair (which stands there)
        assert absorbed_pairs > 0
