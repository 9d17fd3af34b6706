"""C2 analysis rules on constructed histories: first hits and censoring, N*(ε) choice, fits, verdicts, trapping."""

from __future__ import annotations

import numpy as np
import pytest

import r1theory as r1
from proofs_checks import c2_analysis as an
from proofs_checks.runs import instance


def _series(exponent: float, seeds: int = 8, T: int = 4000, batch: int = 10, noise: float = 0.05, seed: int = 0,
            floor: float = 0.0) -> an.Series:  # fmt: skip
    """x_t = max((t+1)^(−1/k)·(1 + noise·z), floor): the seed mean first reaches ε near t ≈ ε^(−k)."""
    rng = np.random.default_rng(seed)
    t = np.arange(T + 1, dtype=float)
    vals = np.maximum((t + 1.0) ** (-1.0 / exponent) * (1.0 + noise * rng.standard_normal((seeds, T + 1))), floor)
    eps = 10.0 ** (-np.arange(1, 13) / 4.0)
    return an.Series(eps, eps, np.zeros(eps.size, dtype=np.int64), [vals], [batch * t], [t])


# ---------------------------------------------------------------------------------------------
# hits, quantiles, censoring
# ---------------------------------------------------------------------------------------------
def test_first_hits_seed_hits_and_censoring() -> None:
    mean = np.array([1.0, 0.5, 0.25, np.nan, 0.1])
    np.testing.assert_array_equal(an.first_hits(mean, np.array([0.6, 0.2, 0.05])), [1, 4, -1])
    values = np.array([[1.0, 0.4, 0.1], [1.0, 0.9, 0.8]])
    np.testing.assert_array_equal(an.seed_hits(values, np.array([0.5, 0.2])), [[1, 2], [-1, -1]])
    episodes = np.array([0.0, 10.0, 20.0])
    # mean: [1, 0.65, 0.45] → 0.5 first at record 2; 0.2 never (censored = +inf, not dropped)
    np.testing.assert_array_equal(an.mean_N(values, episodes, np.array([0.5, 0.2])), [20.0, np.inf])


def test_quantile_counts_censored_seeds_as_infinite() -> None:
    # four seeds hit 0.5 at records 1, 2, 3 and never
    values = np.array([[1, 0.4, 0.4, 0.4], [1, 1, 0.4, 0.4], [1, 1, 1, 0.4], [1, 1, 1, 1]], dtype=float)
    ep = np.array([0.0, 1.0, 2.0, 3.0])
    assert an.quantile_N(values, ep, np.array([0.5]), q=0.5)[0] == 2.0  # half the seeds by the 2nd of [1, 2, 3, ∞]
    assert an.quantile_N(values, ep, np.array([0.5]), q=0.75)[0] == 3.0
    assert an.quantile_N(values, ep, np.array([0.5]), q=0.9)[0] == np.inf  # more than 10% censored


# ---------------------------------------------------------------------------------------------
# tuned choice
# ---------------------------------------------------------------------------------------------
def test_choose_takes_the_minimum_marks_edges_and_censoring() -> None:
    inf = np.inf
    N = np.array([
        [10.0, 50.0, inf, inf],  # config 0: on the edge
        [12.0, 40.0, 90.0, inf],
        [10.0, 45.0, 80.0, inf],  # ties with config 0 at level 0: the first wins
    ])  # fmt: skip
    edge = np.array([True, False, False])
    ch = an.choose(N, edge)
    np.testing.assert_array_equal(ch.index, [0, 1, 2, -1])
    np.testing.assert_array_equal(ch.N, [10.0, 40.0, 80.0, inf])
    np.testing.assert_array_equal(ch.censored, [False, False, False, True])
    np.testing.assert_array_equal(ch.edge, [True, False, False, False])


def test_grid_edges() -> None:
    ratios = [0.01, 0.1, 1.0, 0.01, 0.1, 1.0]
    batches = [1, 1, 1, 16, 16, 16]
    e = an.grid_edges(ratios, batches, [0.01, 0.1, 1.0], [1, 16])
    np.testing.assert_array_equal(e, [True, False, True, True, True, True])  # B = 1 is not an edge, B = 16 is
    e = an.grid_edges(ratios, [4, 4, 4, 16, 16, 16], [0.01, 0.1, 1.0], [4, 16])
    assert e[1]  # a smallest B above 1 is an edge: B = 1 or 2 might do better


# ---------------------------------------------------------------------------------------------
# regime diagnostic and degeneracy
# ---------------------------------------------------------------------------------------------
def test_noise_dominated_and_onset() -> None:
    eps = np.array([0.5, 0.3, 0.1, 0.03, 0.01])
    N = np.array([10.0, 100.0, 1000.0, 8000.0, np.inf])
    det = np.array([10.0, 80.0, 300.0, 1000.0, 2000.0])
    dom = an.noise_dominated(N, det)
    np.testing.assert_array_equal(dom, [False, False, True, True, False])  # censored is never dominated
    assert an.noise_onset(eps[:4], dom[:4]) == 0.1
    assert an.noise_onset(eps, np.zeros(5, dtype=bool)) is None
    assert not an.noise_dominated(np.array([5.0]), np.array([np.inf]))[0]  # exact run censored: undecided


def test_degenerate_needs_a_large_gap_and_trapped_seeds() -> None:
    d = an.degenerate(np.array([0.5, 0.5, 0.01, np.nan]), np.array([0.75, 0.25, 1.0, 1.0]), 0.1)
    np.testing.assert_array_equal(d, [True, False, False, False])


# ---------------------------------------------------------------------------------------------
# fits and verdicts
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("exponent", [1.0, 2.0])
def test_fit_recovers_a_known_exponent(exponent: float) -> None:
    s = _series(exponent)
    N, _ = s.N()
    usable = np.isfinite(N) & (N >= 100)
    fit = an.fit_series(s, usable, np.random.default_rng(0), 100)
    assert fit.exponent == pytest.approx(exponent, abs=0.1)
    assert fit.ci is not None and fit.ci[0] - 0.1 <= exponent <= fit.ci[1] + 0.1
    assert set(fit.eps) == set(s.eps[usable].tolist())  # only the usable levels are fitted


def test_fit_refuses_a_short_span() -> None:
    s = _series(1.0)
    usable = np.zeros(s.eps.size, dtype=bool)
    usable[4:6] = True  # two levels, a quarter decade
    fit = an.fit_series(s, usable, np.random.default_rng(0), 50)
    assert fit.exponent is None and "2 usable" in fit.reason


def test_compare_gives_each_verdict() -> None:
    rng = np.random.default_rng(1)
    ref = _series(1.0, seed=1)
    Nr, _ = ref.N()
    usable = np.isfinite(Nr) & (Nr >= 100)
    same = an.compare(ref, _series(1.0, seed=2, batch=30), usable, rng, 200)
    assert an.assess_difference(same.ci, len(same.eps), same.decades)[0] == "holds"
    assert same.log_ratio == pytest.approx(np.log(3.0), abs=0.1)  # 3× the episodes per iteration
    worse = an.compare(ref, _series(1.6, seed=3), usable, rng, 200)
    assert worse.delta == pytest.approx(0.6, abs=0.1)
    assert an.assess_difference(worse.ci, len(worse.eps), worse.decades)[0] == "fails"
    stuck = an.compare(ref, _series(1.0, seed=4, floor=0.3), usable, rng, 200)  # plateau: small ε never reached
    v, why = an.assess_difference(stuck.ci, len(stuck.eps), stuck.decades)
    assert v == "inconclusive" and why.startswith("span")


def test_assess_difference_names_span_and_resolution() -> None:
    assert an.assess_difference((-0.1, 0.2), 5, 1.0)[0] == "holds"
    # an equivalence test: holds only when the whole CI lies within ±0.25; a CI straddling 0.25 cannot decide
    assert an.assess_difference((-0.25, 0.25), 5, 1.0)[0] == "holds"
    v, why = an.assess_difference((0.1, 0.3), 5, 1.0)
    assert v == "inconclusive" and why.startswith("resolution") and "beyond ±0.25" in why
    assert an.assess_difference((-0.53, -0.1), 5, 1.0)[0] == "inconclusive"
    assert an.assess_difference((0.26, 0.3), 5, 1.0)[0] == "fails"
    assert an.assess_difference((0.6, 0.9), 5, 1.0)[0] == "fails"
    assert an.assess_difference((-1.0, -0.6), 5, 1.0)[0] == "fails"
    v, why = an.assess_difference((-0.1, 0.2), 2, 1.0)
    assert v == "inconclusive" and why.startswith("span")
    v, why = an.assess_difference((-0.1, 0.2), 5, 0.25)
    assert v == "inconclusive" and why.startswith("span")
    v, why = an.assess_difference((-2.0, 2.0), 5, 1.0)
    assert v == "inconclusive" and why.startswith("resolution")
    v, why = an.assess_difference(None, 5, 1.0)
    assert v == "inconclusive" and why.startswith("resolution")


def test_assess_rate() -> None:
    assert an.assess_rate((0.8, 1.1), 4)[0] == "holds"
    assert an.assess_rate((4.5, 5.0), 4)[0] == "fails"
    assert an.assess_rate((3.9, 4.6), 4)[0] == "inconclusive"
    assert an.assess_rate((0.8, 1.1), 1)[0] == "inconclusive"


# ---------------------------------------------------------------------------------------------
# trapping
# ---------------------------------------------------------------------------------------------
def _deterministic_theta(actions: np.ndarray, A: int, scale: float = 20.0) -> np.ndarray:
    theta = np.zeros((actions.size, A))
    theta[np.arange(actions.size), actions] = scale
    return theta


def test_trapping_on_known_policies() -> None:
    mdp, _, opt = instance("random", {"S": 4, "A": 3, "gamma": 0.8, "seed": 0})
    gap0 = opt.J - r1.policy_point(mdp, np.zeros((4, 3))).ev.J
    best = np.argmax(opt.Q, axis=1)
    # the worst deterministic policy by exact evaluation, found by enumeration (3^4 policies)
    worst, worst_gap = None, -1.0
    for code in range(3**4):
        acts = np.array([(code // 3**s) % 3 for s in range(4)])
        g = opt.J - r1.policy_point(mdp, _deterministic_theta(acts, 3)).ev.J
        if g > worst_gap:
            worst, worst_gap = acts, g
    assert worst is not None and worst_gap > 0.1 * gap0
    tau = an.TRAP_GAP_FRAC * gap0
    for theta, trapped in ((_deterministic_theta(worst, 3), True), (_deterministic_theta(best, 3), False),
                           (np.zeros((4, 3)), False), (_deterministic_theta(worst, 3, scale=2.0), False)):  # fmt: skip
        gap = opt.J - r1.policy_point(mdp, theta).ev.J
        assert an.trapped(mdp, theta, gap, tau) is trapped
    assert an.near_deterministic(mdp, _deterministic_theta(best, 3))
    assert not an.near_deterministic(mdp, _deterministic_theta(best, 3, scale=5.0))  # max π ≈ 1 − 1.3e-2


def test_near_determinism_ignores_states_the_greedy_policy_never_reaches() -> None:
    # a 3-state chain from state 0: action 0 stays, action 1 moves to 2; state 1 is never reached
    P = np.zeros((3, 2, 3))
    P[0, 0, 0] = P[0, 1, 2] = 1.0
    P[1, :, 1] = 1.0
    P[2, :, 2] = 1.0
    mdp = r1.TabularMDP(P, np.zeros((3, 2)), 0.9, np.array([1.0, 0.0, 0.0]))
    theta = np.array([[20.0, 0.0], [0.0, 0.0], [0.0, 20.0]])  # uniform at the unreachable state 1
    np.testing.assert_array_equal(an.greedy_reachable(mdp, r1.softmax(theta)), [True, False, False])
    assert an.near_deterministic(mdp, theta)
    theta[0] = [0.0, 20.0]  # now the greedy policy moves to 2, still deterministic there
    np.testing.assert_array_equal(an.greedy_reachable(mdp, r1.softmax(theta)), [True, False, True])
    assert an.near_deterministic(mdp, theta)
    theta[2] = [0.0, 0.0]
    assert not an.near_deterministic(mdp, theta)


def test_trap_difference_and_its_ci() -> None:
    rng = np.random.default_rng(0)
    ref = np.zeros((5, 40), dtype=bool)
    arm = np.zeros((5, 40), dtype=bool)
    arm[:, :20] = True  # the arm traps half its seeds everywhere
    est, ci = an.trap_difference(arm, ref, rng, 300)
    assert est == pytest.approx(0.5)
    assert ci[0] < 0.5 < ci[1]
    assert an.assess_difference(ci, 5, tol=an.TRAP_TOL)[0] == "fails"
    est, ci = an.trap_difference(ref, ref, rng, 50)
    assert est == 0.0 and ci == (0.0, 0.0)
    ref[3, 0] = True  # the comparison is restricted to the configurations where either arm traps a seed
    np.testing.assert_array_equal(an.trapping_regime(np.zeros((5, 40), dtype=bool), ref), [0, 0, 0, 1, 0])


def test_resampled_N_equals_each_resample_alone() -> None:
    """Series.N_resampled (the bootstraps' vectorised N) gives row j = N(seeds[j]) bit for bit: two configurations,
    levels never reached, NaN after a divergence, repeated seeds."""
    rng = np.random.default_rng(5)
    t = np.arange(200, dtype=np.float64)
    decay = np.exp(-t / 40.0)[None, :]
    vals = [decay * rng.uniform(0.5, 2.0, (7, 1)) + rng.normal(0, 1e-3, (7, 200)) for _ in range(2)]
    vals[1][3, 150:] = np.nan
    eps = 10.0 ** -np.arange(1, 9, 0.5)
    group = np.arange(eps.size) % 2
    s = an.Series(eps, eps, group, vals, [4 * t, 16 * t], [t, t])
    draws = rng.integers(0, 7, (50, 7))
    many = s.N_resampled(draws)
    assert many.shape == (50, eps.size) and np.isinf(many).any() and np.isfinite(many).any()
    for j, d in enumerate(draws):
        np.testing.assert_array_equal(many[j], s.N(d)[0])
    np.testing.assert_array_equal(s.N_resampled(np.tile(np.arange(7), (2, 1)))[0], s.N()[0])
