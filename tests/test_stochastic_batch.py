"""The batched stochastic runs: every run equals the single run of the same seed, whatever shares its batch.

The reference is :func:`r1theory.stochastic_iterate`, an independent route through the same sampling
layout (its own generator calls, its own exact evaluation by a pivoted LU). Theorem tested: the sample
counts, status and message agree exactly, and the exact histories to rounding — RTOL = 1e-12 of each
quantity's scale (J and gap: the value scale 1 + max|r|/(1 − γ); ‖∇J‖²: its largest value in the run;
θ: 1 + max|θ|) plus the floors the two exact evaluations leave (r1theory.stochastic_batch docstring): ∇J
is known to FLOOR·(1 + max|r|/(1 − γ))/(1 − γ) in both (A to ε·|Q|), FLOOR = 100ε, and update t turns the
baseline's and the gradient's last bits into at most η_t·max(1, 1/λ) times as many in θ (every sampled
preconditioner has norm ≤ 1/λ), which J and ‖∇J‖² inherit through ‖∇J‖ and the smoothness
L = 8 max|r|/(1 − γ)³ (Mei et al. 2020, Lemma 7). Observed on the fixed instance: J ≤ 2e-15, ‖∇J‖² ≤ 4e-14
relative; the floors matter only on the property test's ill-conditioned draws (γ = 0.9, one state, A ≈ 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import full_support_mdp as _mdp
from hypothesis import given
from hypothesis import strategies as st

import r1theory as r1
from r1theory import steps
from r1theory.sampler import UniformStreams, geometric_from_uniforms
from tabular_mdps.strategies import mdps, thetas

RTOL = 1e-12
FLOOR = 100 * np.finfo(float).eps
MDP = _mdp()
METHODS = ("sgd-pg", "npg-sample", "r1-sample-same", "r1-sample-independent")


def _damping(method: str, lam: float) -> float | None:
    return None if method == "sgd-pg" else lam


def _eta_sum(rule: steps.StepRule, T: int) -> float:
    """Σ_{t<T} η_t of a rule (for a normalised rule, the length of the path: η per step)."""
    if rule.kind == "inverse-sqrt":
        return float(np.sum(rule.eta / np.sqrt(np.arange(1, T + 1))))
    return rule.eta * T


def assert_same_run(got: r1.StochasticRun, want: r1.StochasticRun, mdp: r1.TabularMDP, what: Any = "") -> None:
    """One batched run against its single run: counts and status exactly, the exact histories to rounding."""
    msg = f"{what}: {got.method} B={got.batch} {got.step.label}"
    assert (got.status, got.message) == (want.status, want.message), msg
    for f in ("t", "transitions", "episodes"):
        np.testing.assert_array_equal(getattr(got, f), getattr(want, f), err_msg=f"{msg} {f}")
    for f in ("method", "estimator", "baseline", "batch", "damping", "horizon", "step", "J_star"):
        assert getattr(got, f) == getattr(want, f), f"{msg} {f}"
    g = mdp.gamma
    r_max = float(np.max(np.abs(mdp.r)))
    value = 1.0 + r_max / (1.0 - g)
    grad_floor = FLOOR * value / (1.0 - g)
    gain = max(1.0, 1.0 / want.damping) if want.damping else 1.0
    theta_floor = float(grad_floor * gain * _eta_sum(want.step, want.iterations))
    if want.status == "diverged" or not np.isfinite(theta_floor):
        theta_floor = 0.0  # θ ≈ ±1e308: compared relative to its size only
    root_n = np.sqrt(mdp.S * mdp.A)
    g_max = float(np.sqrt(np.max(want.grad_norm_sq)))
    J_tol = RTOL * value + g_max * root_n * theta_floor
    np.testing.assert_allclose(got.J, want.J, rtol=0, atol=J_tol, err_msg=f"{msg} J")
    np.testing.assert_allclose(got.gap, want.gap, rtol=0, atol=J_tol, err_msg=f"{msg} gap")
    smooth = 8.0 * r_max / (1.0 - g) ** 3
    err = grad_floor + smooth * root_n * theta_floor  # of ∇J; |‖a‖² − ‖b‖²| ≤ ‖a − b‖(2‖b‖ + ‖a − b‖)
    g2_tol = RTOL * g_max**2 + (2.0 * g_max + err) * err
    np.testing.assert_allclose(got.grad_norm_sq, want.grad_norm_sq, rtol=0, atol=g2_tol, err_msg=f"{msg} g2")
    theta_tol = RTOL * (1.0 + np.max(np.abs(want.theta))) + theta_floor
    np.testing.assert_allclose(got.theta, want.theta, rtol=0, atol=theta_tol, err_msg=f"{msg} theta")


def _singles(
    mdp: r1.TabularMDP, theta0: Any, configs: list[Any], iterations: list[int], seeds: list[Any], **kw: Any
) -> list[r1.StochasticRun]:
    th = np.asarray(theta0, dtype=np.float64)
    return [
        r1.stochastic_iterate(
            mdp,
            th if th.ndim == 2 else th[i],
            m,
            step,
            T,
            np.random.default_rng(seed),
            batch=B,
            damping=lam,
            **kw,
        )
        for i, ((m, step, lam, B), T, seed) in enumerate(zip(configs, iterations, seeds, strict=True))
    ]


def _mix() -> tuple[list[Any], list[int]]:
    """Every method with several batch sizes, a constant, a decreasing and a normalised step, different lengths,
    and one diverging row per method (a step of 1e308 with λ = 1e-3 overflows θ within a few updates)."""
    configs, its = [], []
    for k, m in enumerate(METHODS):
        for B, step, T, lam in (
            (16, 0.3, 40, 0.5 + k),
            (3, steps.inverse_sqrt(2.0), 57, 1.5 + k),
            (1, steps.normalized(0.5), 23, 0.1 * (k + 1)),
            (2, 1e308, 30, 1e-3),
        ):
            configs.append((m, step, _damping(m, lam), B))
            its.append(T)
    return configs, its


@pytest.mark.filterwarnings("ignore:overflow encountered")  # the single runs' softmax at θ ≈ ±1e308
@pytest.mark.parametrize(
    ("estimator", "baseline"),
    [("one-sample", None), ("gpomdp", "value"), ("gpomdp", "fitted"), ("reinforce", None), ("one-sample", "fitted")],
)
def test_each_run_equals_the_single_run_of_its_seed(estimator: str, baseline: str | None) -> None:
    configs, its = _mix()
    seeds = list(range(100, 100 + len(configs)))
    kw: dict[str, Any] = {"estimator": estimator, "baseline": baseline, "record_every": 4}
    got = r1.stochastic_iterate_batch(MDP, np.zeros((4, 3)), configs, its, seeds, **kw)
    want = _singles(MDP, np.zeros((4, 3)), configs, its, seeds, **kw)
    assert len(got) == len(configs)
    for g, w in zip(got, want, strict=True):
        assert_same_run(g, w, MDP, (estimator, baseline))
    statuses = {(r.method, r.status) for r in got}
    assert {(m, "diverged") for m in METHODS} <= statuses  # the diverging rows diverged, and left the batch
    assert {(m, "max_iterations") for m in METHODS} <= statuses
    for r, T in zip(got, its, strict=True):
        if r.status == "max_iterations":
            assert r.iterations == T and r.t[-1] == T


@pytest.mark.parametrize(("estimator", "baseline"), [("gpomdp", "value"), ("gpomdp", "fitted"), ("reinforce", None)])
def test_truncated_horizon_and_fisher_batch(estimator: str, baseline: str | None) -> None:
    configs = [("sgd-pg", 0.5, None, 3), ("npg-sample", 0.2, 1.0, 2), ("r1-sample-independent", 0.4, 0.3, 5)]
    kw: dict[str, Any] = {"estimator": estimator, "horizon": 6, "fisher_batch": 7, "baseline": baseline}
    got = r1.stochastic_iterate_batch(MDP, np.zeros((4, 3)), configs, 25, [1, 2, 3], **kw)
    for g, w in zip(got, _singles(MDP, np.zeros((4, 3)), configs, [25] * 3, [1, 2, 3], **kw), strict=True):
        assert_same_run(g, w, MDP, "horizon")
    # npg-sample draws fisher_batch pairs per update and B gradient episodes (B more for a fitted baseline)
    fit = 2 if baseline == "fitted" else 1
    assert got[1].episodes[-1] == 25 * (2 * fit + 7)
    assert got[0].transitions[-1] == 25 * 3 * 6 * fit  # truncated episodes take exactly H actions


def test_seeds_as_ints_seed_sequences_and_generators_and_per_run_theta0() -> None:
    children = np.random.SeedSequence(2026).spawn(4)
    configs = [(m, 0.3, _damping(m, 1.0), 4) for m in METHODS]
    theta0 = np.random.default_rng(5).normal(size=(4, 4, 3))
    by_seq = r1.stochastic_iterate_batch(MDP, theta0, configs, 20, children, estimator="gpomdp", baseline="value")
    gens = [np.random.default_rng(c) for c in children]
    by_gen = r1.stochastic_iterate_batch(MDP, theta0, configs, 20, gens, estimator="gpomdp", baseline="value")
    want = _singles(MDP, theta0, configs, [20] * 4, children, estimator="gpomdp", baseline="value")
    for a, b, w in zip(by_seq, by_gen, want, strict=True):
        assert_same_run(a, w, MDP, "SeedSequence")
        assert_same_run(b, w, MDP, "Generator")
    # the C2 worker's seeds: SeedSequence(root).spawn(n) children
    ints = r1.stochastic_iterate_batch(MDP, theta0[0], configs, 5, [7, 8, 9, 10])
    for r, w in zip(ints, _singles(MDP, theta0[0], configs, [5] * 4, [7, 8, 9, 10]), strict=True):
        assert_same_run(r, w, MDP, "int seeds")


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_a_run_does_not_depend_on_its_batch() -> None:
    """Bit for bit: a run alone, and the same run among others (other methods, B, lengths, rows that diverge).

    A sweep caches each run under its own configuration, so a run must not depend on what shared its batch.
    """
    configs, its = _mix()
    seeds = list(range(len(configs)))
    kw: dict[str, Any] = {"estimator": "gpomdp", "baseline": "value"}
    together = r1.stochastic_iterate_batch(MDP, np.zeros((4, 3)), configs, its, seeds, **kw)
    for i in (0, 5, 9, 14):
        alone = r1.stochastic_iterate_batch(MDP, np.zeros((4, 3)), [configs[i]], [its[i]], [seeds[i]], **kw)[0]
        assert (alone.status, alone.message) == (together[i].status, together[i].message)
        for f in ("t", "transitions", "episodes", "J", "gap", "grad_norm_sq", "theta"):
            np.testing.assert_array_equal(getattr(alone, f), getattr(together[i], f), err_msg=f)


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_record_every_per_run() -> None:
    """Each run recorded at its own resolution equals its single run with that ``record_every``, and the same run
    in a batch with one shared resolution, bit for bit (C2 runs every batch size of a grid in one call)."""
    configs, its = _mix()
    seeds = list(range(len(configs)))
    every = [1 + i % 5 for i in range(len(configs))]
    kw: dict[str, Any] = {"estimator": "gpomdp", "baseline": "value"}
    got = r1.stochastic_iterate_batch(MDP, np.zeros((4, 3)), configs, its, seeds, record_every=every, **kw)
    for i, g in enumerate(got):
        (want,) = _singles(MDP, np.zeros((4, 3)), [configs[i]], [its[i]], [seeds[i]], record_every=every[i], **kw)
        assert_same_run(g, want, MDP, f"record_every={every[i]}")
        if g.status != "diverged":
            np.testing.assert_array_equal(g.t, np.unique(np.r_[np.arange(0, its[i] + 1, every[i]), its[i]]))
    for e in (2, 5):
        shared = r1.stochastic_iterate_batch(MDP, np.zeros((4, 3)), configs, its, seeds, record_every=e, **kw)
        for i in np.flatnonzero(np.array(every) == e).tolist():
            for f in ("t", "transitions", "episodes", "J", "gap", "grad_norm_sq", "theta"):
                np.testing.assert_array_equal(getattr(got[i], f), getattr(shared[i], f), err_msg=f)


@pytest.mark.filterwarnings("ignore:overflow encountered")
@pytest.mark.parametrize(("estimator", "baseline"), [("gpomdp", "value"), ("one-sample", "value"), ("reinforce", None)])
def test_recording_less_often_changes_no_iterate(estimator: str, baseline: str | None) -> None:
    """Between records a row is evaluated by the V-only path (π and V, no visitation or gradient), at a record in
    full; both give π and V bit for bit, so the trajectory cannot depend on ``record_every``: recorded every
    iteration (full evaluations only) and every 3rd or 7th, each run has the same θ and the same records at the
    shared t, bit for bit, diverging rows included (their last θ_t recorded once more)."""
    configs, its = _mix()
    seeds = list(range(len(configs)))
    kw: dict[str, Any] = {"estimator": estimator, "baseline": baseline}
    dense = r1.stochastic_iterate_batch(MDP, np.zeros((4, 3)), configs, its, seeds, **kw)
    for every in (3, [7 - i % 5 for i in range(len(configs))]):
        sparse = r1.stochastic_iterate_batch(MDP, np.zeros((4, 3)), configs, its, seeds, record_every=every, **kw)
        for i, (x, y) in enumerate(zip(sparse, dense, strict=True)):
            assert (x.status, x.message) == (y.status, y.message)
            np.testing.assert_array_equal(x.theta, y.theta, err_msg=f"run {i} theta")
            at = np.searchsorted(y.t, x.t)
            np.testing.assert_array_equal(y.t[at], x.t, err_msg=f"run {i} t")
            for f in ("J", "gap", "grad_norm_sq"):
                np.testing.assert_array_equal(getattr(x, f), getattr(y, f)[at], err_msg=f"run {i} {f}")
            # θ_t of a diverging row, recorded once more when t is off the grid, counts the failed step's samples too
            k = x.t.size - (x.status == "diverged")
            for f in ("transitions", "episodes"):
                np.testing.assert_array_equal(getattr(x, f)[:k], getattr(y, f)[at][:k], err_msg=f"run {i} {f}")
                assert getattr(x, f)[-1] >= getattr(y, f)[at][-1]


def test_zero_iterations_and_no_configurations() -> None:
    assert r1.stochastic_iterate_batch(MDP, np.zeros((4, 3)), [], 5, []) == []
    runs = r1.stochastic_iterate_batch(MDP, np.zeros((4, 3)), [("sgd-pg", 0.1, None, 2)] * 2, [0, 3], [1, 2])
    single = r1.stochastic_iterate(MDP, np.zeros((4, 3)), "sgd-pg", 0.1, 0, np.random.default_rng(1), batch=2)
    assert_same_run(runs[0], single, MDP, "T=0")
    assert runs[0].iterations == 0 and runs[1].iterations == 3
    np.testing.assert_array_equal(runs[0].theta, np.zeros((4, 3)))
    assert runs[1].transitions[0] == 0 and runs[1].episodes[-1] == 6


@given(mdp=mdps(max_states=5, max_actions=4, gamma_max=0.9), data=st.data())
def test_batch_equals_single_runs_on_random_mdps(mdp: r1.TabularMDP, data: st.DataObject) -> None:
    R = data.draw(st.integers(1, 5))
    configs = []
    for _ in range(R):
        m = data.draw(st.sampled_from(METHODS))
        eta = data.draw(st.sampled_from([0.01, 0.3, 3.0]))
        step = steps.inverse_sqrt(eta) if data.draw(st.booleans()) else eta
        configs.append(
            (m, step, _damping(m, data.draw(st.sampled_from([0.1, 1.0, 10.0]))), data.draw(st.integers(1, 5)))
        )
    its = [data.draw(st.integers(0, 12)) for _ in range(R)]
    est, base = data.draw(st.sampled_from([("one-sample", None), ("gpomdp", "value"), ("reinforce", "fitted")]))
    theta0 = data.draw(thetas(mdp, max_abs=5.0))
    every = data.draw(st.integers(1, 4))
    seeds = [data.draw(st.integers(0, 2**32)) for _ in range(R)]
    kw: dict[str, Any] = {"estimator": est, "baseline": base, "record_every": every}
    got = r1.stochastic_iterate_batch(mdp, theta0, configs, its, seeds, **kw)
    for g, w in zip(got, _singles(mdp, theta0, configs, its, seeds, **kw), strict=True):
        assert_same_run(g, w, mdp, "random MDP")


# ---------------------------------------------------------------------------------------------
# the pieces: streams, geometric lengths by inversion, the decreasing step
# ---------------------------------------------------------------------------------------------
def test_uniform_streams_return_each_generators_own_numbers() -> None:
    streams = UniformStreams([np.random.default_rng(i) for i in range(5)], block=7)
    ref = [np.random.default_rng(i) for i in range(5)]
    rng = np.random.default_rng(99)
    for _ in range(200):
        rows = np.sort(rng.choice(5, size=int(rng.integers(1, 6)), replace=False)).astype(np.int64)
        counts = rng.integers(0, 20, size=rows.size).astype(np.int64)  # some requests exceed the block
        equal = bool(rng.random() < 0.3)  # equal counts, said so by the caller (the check skipped)
        if equal:
            counts[:] = counts[0]
        want = np.concatenate([ref[r].random(int(c)) for r, c in zip(rows, counts, strict=True)])
        np.testing.assert_array_equal(streams.take(rows, counts, equal=equal or None), want)
    g = np.random.default_rng(0)
    with pytest.raises(ValueError, match="distinct"):
        UniformStreams([g, g])


def test_reserved_uniforms_stay_readable_in_place_until_the_next_release() -> None:
    """reserve, reserve, take, ... then index: the positions point at each generator's own numbers, across refills."""
    streams = UniformStreams([np.random.default_rng(i) for i in range(4)], block=5)
    ref = [np.random.default_rng(i) for i in range(4)]
    rng = np.random.default_rng(7)
    for _ in range(100):
        rows = np.sort(rng.choice(4, size=int(rng.integers(1, 5)), replace=False)).astype(np.int64)
        streams.release(rows)
        held = []
        for _ in range(3):
            counts = rng.integers(0, 9, size=rows.size).astype(np.int64)
            want = [ref[r].random(int(c)) for r, c in zip(rows, counts, strict=True)]
            if rng.random() < 0.5:
                np.testing.assert_array_equal(streams.take(rows, counts), np.concatenate(want))
            else:
                held.append((streams.reserve(rows, counts), counts, want))
        for first, counts, want in held:  # read after all the iteration's requests, as the batched draw does
            for j, r in enumerate(rows.tolist()):
                pos = first[j] + np.arange(counts[j])
                np.testing.assert_array_equal(streams.flat[streams.index(np.full(pos.size, r), pos)], want[j])


@pytest.mark.parametrize("gamma", [0.0, 0.3, 0.8, 0.99])
def test_geometric_lengths_by_inversion_have_the_geometric_law(gamma: float) -> None:
    """On a midpoint grid of N uniforms, the share with L > t is P(1 − U ≤ γᵗ) = γᵗ to within 1/N."""
    N = 200_000
    L = geometric_from_uniforms((np.arange(N) + 0.5) / N, gamma)
    assert L.min() == 1
    for t in range(0, 30):
        assert abs(np.mean(L > t) - gamma**t) <= 1.0 / N + 1e-15


def test_inverse_sqrt_step() -> None:
    rule = steps.inverse_sqrt(0.8)
    assert [rule(t, np.ones(2)) for t in (0, 3, 15)] == [0.8, 0.4, 0.2]
    assert steps.StepRule.from_dict(rule.as_dict()) == rule
    assert rule.kind in steps.STEP_KINDS
    with pytest.raises(ValueError, match="eta0"):
        steps.inverse_sqrt(0.0)
    # an engine that vectorises only the kinds it knows calls the subclass row by row: iterate_batch = iterate
    batch = r1.iterate_batch(MDP, np.zeros((4, 3)), [("pg", rule, None)], 20)[0]
    loop = r1.iterate(MDP, np.zeros((4, 3)), "pg", rule, 20)
    np.testing.assert_allclose(batch.eta, 0.8 / np.sqrt(np.arange(1, 21)), rtol=1e-15)
    np.testing.assert_allclose(batch.J, loop.J, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# bad input: the message names the field
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("configs", "iterations", "seeds", "kw", "error", "match"),
    [
        ([("sgd-pg", 0.1, None)], 5, [0], {}, ValueError, r"configs\[0\] must be a \(method, step, damping, batch\)"),
        ([("pg", 0.1, None, 1)], 5, [0], {}, ValueError, r"configs\[0\].*pg"),
        ([("npg-sample", 0.1, None, 1)], 5, [0], {}, ValueError, r"configs\[0\].*damping"),
        ([("sgd-pg", 0.1, None, 0)], 5, [0], {}, ValueError, r"configs\[0\].*batch"),
        ([("sgd-pg", -1.0, None, 1)], 5, [0], {}, ValueError, r"configs\[0\].*step"),
        ([("sgd-pg", 0.1, None, 1)] * 2, [5], [0, 1], {}, ValueError, "iterations must be one int or one per"),
        ([("sgd-pg", 0.1, None, 1)] * 2, [5, -1], [0, 1], {}, ValueError, r"iterations\[1\]"),
        ([("sgd-pg", 0.1, None, 1)], 5, [0, 1], {}, ValueError, "seeds must have one entry per configuration"),
        ([("sgd-pg", 0.1, None, 1)], 5, [None], {}, TypeError, r"seeds\[0\]"),
        ([("sgd-pg", 0.1, None, 1)], 5, [1.5], {}, TypeError, r"seeds\[0\]"),
        ([("sgd-pg", 0.1, None, 1)], 5, [0], {"estimator": "td"}, ValueError, "estimator"),
        ([("sgd-pg", 0.1, None, 1)], 5, [0], {"baseline": "mean"}, ValueError, "baseline"),
        ([("sgd-pg", 0.1, None, 1)], 5, [0], {"record_every": 0}, ValueError, "record_every"),
        ([("sgd-pg", 0.1, None, 1)] * 2, 5, [0, 1], {"record_every": [1]}, ValueError, "record_every must be one"),
        ([("sgd-pg", 0.1, None, 1)] * 2, 5, [0, 1], {"record_every": [1, 0]}, ValueError, r"record_every\[1\]"),
        ([("sgd-pg", 0.1, None, 1)], 5, [0], {"fisher_batch": 0}, ValueError, "fisher_batch"),
        ([("sgd-pg", 0.1, None, 1)], 5, [0], {"theta0": np.zeros((3, 3))}, ValueError, "theta0"),
        (
            [("r1-sample-same", 0.1, 1.0, 1)],
            5,
            [0],
            {"estimator": "gpomdp", "horizon": 5},
            ValueError,
            r"configs\[0\].*geometric termination",
        ),
    ],
)
def test_bad_input_names_the_field(
    configs: Any, iterations: Any, seeds: Any, kw: dict[str, Any], error: type[Exception], match: str
) -> None:
    theta0 = kw.pop("theta0", np.zeros((4, 3)))
    with pytest.raises(error, match=match):
        r1.stochastic_iterate_batch(MDP, theta0, configs, iterations, seeds, **kw)


def test_one_generator_twice_a_sparse_mdp_and_a_plugin_method_are_refused() -> None:
    g = np.random.default_rng(0)
    cfg = [("sgd-pg", 0.1, None, 1)] * 2
    with pytest.raises(ValueError, match=r"seeds\[1\] is the same Generator"):
        r1.stochastic_iterate_batch(MDP, np.zeros((4, 3)), cfg, 3, [g, g])
    with pytest.raises(ValueError, match="dense"):
        r1.stochastic_iterate_batch(MDP.to_sparse(), np.zeros((4, 3)), cfg, 3, [0, 1])
    plugin = r1.Method("test-plugin-sample", "plugin", damped=False, sample=lambda draw, lam: draw.gradient.gradient)
    r1.register_method(plugin)
    try:
        with pytest.raises(ValueError, match=r"configs\[0\].*test-plugin-sample.*stochastic_iterate"):
            r1.stochastic_iterate_batch(MDP, np.zeros((4, 3)), [("test-plugin-sample", 0.1, None, 1)], 3, [0])
    finally:
        r1.unregister_method("test-plugin-sample")
