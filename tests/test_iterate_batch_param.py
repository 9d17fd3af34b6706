"""iterate_batch with a log-linear policy: B configurations in lockstep give the runs iterate(..., param=) gives.

Theorem tested: for a :class:`r1theory.LogLinear` parametrisation (logits Φθ, θ of shape (k,)) and every
configuration (method, step, λ) — any mix in one batch, rows stopping at different times and for different
reasons — ``iterate_batch(mdp, θ₀, configs, T, ..., param=param)[i]`` has the status, iteration count and
message text of ``iterate(mdp, θ₀, *configs[i], T, ..., param=param)``, and equal histories, and a row's run is
the same bit for bit whatever else its batch holds.

"Equal" is as in tests/test_iterate_batch.py: to RTOL = 1e-12 relative to each quantity's scale, plus the
rounding floor of the quantities the two engines compute differently (the batched LU against LAPACK's), pulled
back through the features: with ‖Φ‖ the spectral norm of the (S·A) × k feature matrix,

* ∇J = Φᵀg_ℓ is known to FLOOR·(1 + max|r|/(1 − γ))/(1 − γ)·‖Φ‖·√(SA) (g_ℓ to the tabular floor);
* θ: RTOL·(1 + max|θ|) + that floor × max(1, 1/λ) × Σ_t η_t (every damped preconditioner has norm ≤ 1/λ);
* J, gap: RTOL·value + max‖∇J‖·θ's floor; ‖∇J‖: RTOL·max‖∇J‖ + ∇J's floor + L‖Φ‖²·θ's floor, L the
  smoothness 8 max|r|/(1 − γ)³ of J in the logits (Mei et al. 2020, Lemma 7); min π(a*): RTOL·max + ‖Φ‖·θ's
  floor; kl: RTOL·max + (FLOOR + 4‖Φ‖·θ's floor)(1 + max|Φθ|); η and eff_step: relative RTOL + ∇J's floor over
  ‖∇J‖ (no relative accuracy where ‖∇J‖ is at its floor).

``npg`` applies the pseudo-inverse of a Fisher whose smallest kept eigenvalue may be 1e-10·σ₁: it multiplies
the last bits of ∇J by up to 1e10 in either engine, so its θ (not its J) is compared with the loop's own
spread only. As in tests/test_iterate_batch.py, runs may also part where the stopping rule is decided by
rounding (a knife edge, checked), and where the analytic floors do not hold (ill-conditioned random draws) the
batched run must stay within SPREAD times the loop's own deviation under perturbations of the size of rounding
(states and actions relabelled — the features with them —, r ± 4ε·value, θ₀ ± 4ε(1 + max|θ₀|)); a run that the
loop itself does not reproduce to CHAOS under those perturbations is not compared.

The directions themselves are checked at a batched point against :func:`r1theory.direction_at` at each row's
point: pg, npg and npg-damped bit for bit (the same BLAS/LAPACK calls on the same input), the others to the
rounding of sums taken in another order.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import r1theory as r1
from proofs_checks.runs import batch_key, conditioned_features, run_method, run_task
from r1theory import steps
from r1theory.batch_param import batch_param_point
from tabular_mdps.strategies import dampings, mdps
from tabular_mdps.strategies import steps as step_sizes

RTOL = 1e-12
FLOOR = 100 * np.finfo(float).eps
SPREAD = 10.0
CHAOS = 1e-6
BUILTIN = ("pg", "npg", "npg-damped", "r1-eigen", "r1-grad", "r1-same", "r1-precond")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)")
_POINT = ("J", "gap", "grad_norm", "min_pi_opt")
_STEP = ("kl", "eta", "eff_step")


def _mdp(seed: int = 0, S: int = 5, A: int = 3, gamma: float = 0.9) -> r1.TabularMDP:
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S))
    P /= P.sum(axis=-1, keepdims=True)
    rho = rng.random(S) + 0.1
    return r1.TabularMDP(P, rng.random((S, A)), gamma, rho / rho.sum())


def _features(mdp: r1.TabularMDP, k: int, seed: int = 0, cond: float | None = None) -> r1.LogLinear:
    phi = np.random.default_rng(seed).normal(size=(mdp.S, mdp.A, k)) / np.sqrt(k)
    return r1.LogLinear(phi if cond is None else conditioned_features(phi, cond))


def _norm_phi(param: r1.LogLinear) -> float:
    f = param.features
    return float(np.linalg.norm(f.reshape(-1, f.shape[2]), 2)) if f.size else 0.0


def _tolerances(want: r1.Run, mdp: r1.TabularMDP, param: r1.LogLinear) -> dict[str, Any]:
    """The allowed |batch − loop| of every history of ``want`` (module docstring)."""
    value = 1.0 + float(np.max(np.abs(mdp.r))) / (1.0 - mdp.gamma)
    phin = _norm_phi(param)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        grad_err = FLOOR * value / (1.0 - mdp.gamma) * phin * np.sqrt(mdp.S * mdp.A)
        gain = 1.0 if want.damping is None else max(1.0, 1.0 / want.damping)
        theta_floor = grad_err * gain * float(np.sum(np.abs(np.nan_to_num(want.eta))))
        smooth = 8.0 * float(np.max(np.abs(mdp.r))) / (1.0 - mdp.gamma) ** 3 * phin**2
        logits = 1.0 + float(np.max(np.abs(param.features @ want.theta)))
        cond = RTOL + (grad_err + smooth * theta_floor) / want.grad_norm[:-1]
        return {
            "theta": RTOL * (1.0 + float(np.max(np.abs(want.theta)))) + theta_floor,
            "J": RTOL * value + float(np.max(want.grad_norm)) * theta_floor,
            "gap": RTOL * value + float(np.max(want.grad_norm)) * theta_floor,
            "grad_norm": RTOL * float(np.max(want.grad_norm)) + grad_err + smooth * theta_floor,
            "min_pi_opt": RTOL * float(np.max(want.min_pi_opt)) + phin * theta_floor,
            "kl": RTOL * float(np.max(np.abs(want.kl), initial=0.0)) + (FLOOR + 4 * phin * theta_floor) * logits,
            "eta": cond * np.abs(want.eta),
            "eff_step": cond * np.abs(want.eff_step),
            "noise": cond >= 1.0,
            "value": value,
        }


def _knife_edge(got: r1.Run, want: r1.Run, edge: float, tol: float, stall: float, window: int) -> bool:
    """Whether the runs part at a decision taken from rounding (tests/test_iterate_batch.py)."""
    n = min(got.iterations, want.iterations)
    if all(abs(r.gap[n] - tol) <= edge for r in (got, want)):
        return True
    moved = [abs(r.J[n] - r.J[n - window]) for r in (got, want)] if n >= window else []
    return bool(moved) and all(abs(m - stall) <= edge for m in moved)


def _prefix(run: r1.Run, n: int) -> dict[str, np.ndarray]:
    out = {k: getattr(run, k)[: n + 1] for k in _POINT}
    out.update({k: getattr(run, k)[:n] for k in _STEP})
    return out


def _spread(other: r1.Run, run: r1.Run, value: float) -> float:
    """How far a perturbed loop run strays from ``run``: max |ΔJ|/value, and max |Δθ|/(1 + max|θ|)."""
    n = min(other.iterations, run.iterations)
    out = float(np.max(np.abs(other.J[: n + 1] - run.J[: n + 1]))) / value
    if other.iterations == run.iterations:
        out = max(out, float(np.max(np.abs(other.theta - run.theta))) / (1.0 + float(np.max(np.abs(run.theta)))))
    return out


def assert_same_run(
    got: r1.Run,
    want: r1.Run,
    mdp: r1.TabularMDP,
    param: r1.LogLinear,
    where: str = "",
    *,
    tol: float = 0.0,
    window: int = 200,
    spreads: list[r1.Run] | None = None,
) -> None:
    """``got`` (batched) equals ``want`` (iterate) to the tolerances of the module docstring."""
    ctx = f"{where}: {want.method} step={want.step.label} λ={want.damping}"
    assert (got.method, got.damping, got.step, got.J_star) == (want.method, want.damping, want.step, want.J_star), ctx
    lim = _tolerances(want, mdp, param)
    value = lim["value"]
    stall = 1e-13 * (1.0 + abs(want.J_star))
    if spreads and max(_spread(r, want, value) for r in spreads) > CHAOS:
        return  # iterate's own trajectory is decided by rounding: two engines cannot agree
    same = (got.status, got.iterations) == (want.status, want.iterations)
    if not same:
        parted = (
            f"{ctx}: {got.status}/{got.iterations} ({got.message}) vs {want.status}/{want.iterations} ({want.message})"
        )
        unsure = any((r.status, r.iterations) != (want.status, want.iterations) for r in spreads or [])
        assert unsure or _knife_edge(got, want, lim["J"], tol, stall, window), parted
    n = min(got.iterations, want.iterations, *(r.iterations for r in spreads or []))
    a, b = _prefix(got, n), _prefix(want, n)
    extra: dict[str, Any] = dict.fromkeys(a, 0.0)
    for spread in spreads or []:
        c = _prefix(spread, n)
        for k in a:
            extra[k] = np.maximum(extra[k], SPREAD * np.fmax.accumulate(np.nan_to_num(np.abs(c[k] - b[k]), nan=0.0)))
        lim["noise"] = lim["noise"][:n] | (np.isnan(c["eff_step"]) != np.isnan(b["eff_step"]))
    number_tol = 0.0
    for field in a:
        allowed = np.asarray(lim[field])[: len(b[field])] if np.ndim(lim[field]) else lim[field]
        allowed = allowed + extra[field]
        x, y = a[field], b[field]
        noise = lim["noise"][: len(y)] if field in ("eta", "eff_step") else np.zeros(len(y), dtype=bool)
        assert not ((np.isnan(x) != np.isnan(y)) & ~noise).any(), f"{ctx}: {field} NaN pattern {x} vs {y}"
        with np.errstate(invalid="ignore"):
            ok = noise | (x == y) | (np.abs(x - y) <= allowed)
        assert ok.all(), f"{ctx}: {field} differs at t={np.flatnonzero(~ok)[:5]}: {x[~ok][:3]} vs {y[~ok][:3]}"
        if field == "gap":
            number_tol = float(np.max(allowed))
    # npg's θ carries its pseudo-inverse's amplification of rounding (module docstring): with the spread only
    if same and all(r.iterations == want.iterations for r in spreads or []) and (spreads or want.method != "npg"):
        allowed = lim["theta"] + np.zeros_like(want.theta)
        for r in spreads or []:
            allowed = np.maximum(allowed, lim["theta"] + SPREAD * np.abs(r.theta - want.theta))
        np.testing.assert_array_less(np.abs(got.theta - want.theta), allowed + 1e-300, err_msg=f"{ctx}: θ")
    if not same:
        return
    assert _NUMBER.sub("#", got.message) == _NUMBER.sub("#", want.message), (
        f"{ctx}: {got.message!r} vs {want.message!r}"
    )
    for x_, y_ in zip(_NUMBER.findall(got.message), _NUMBER.findall(want.message), strict=True):
        u, v = float(x_), float(y_)
        assert u == v or abs(u - v) <= 0.01 * max(abs(u), abs(v)) + number_tol, (
            f"{ctx}: {got.message!r} vs {want.message!r}"
        )


def _probes(
    mdp: r1.TabularMDP,
    param: r1.LogLinear,
    theta0: np.ndarray,
    config: tuple[Any, ...],
    T: int,
    tol: float,
    kw: dict[str, Any],
) -> list[r1.Run]:
    """iterate's own runs under two perturbations of the size of rounding (module docstring)."""
    m, step, lam = config
    rng = np.random.default_rng(0)
    ps, pa = rng.permutation(mdp.S), rng.permutation(mdp.A)
    kw = {k: v for k, v in kw.items() if k != "optimum"}
    relabelled = r1.TabularMDP(mdp.P[ps][:, pa][:, :, ps], mdp.r[ps][:, pa], mdp.gamma, mdp.rho[ps])
    features = r1.LogLinear(param.features[ps][:, pa])
    out = [r1.iterate(relabelled, theta0, m, step, T, lam, tol, param=features, **kw)]
    signs = np.where(rng.random((mdp.S, mdp.A)) < 0.5, -1.0, 1.0)
    kick = np.where(rng.random(theta0.shape) < 0.5, -1.0, 1.0)
    eps = 4 * np.finfo(float).eps
    value = 1.0 + float(np.max(np.abs(mdp.r))) / (1.0 - mdp.gamma)
    perturbed = r1.TabularMDP(mdp.P, mdp.r + eps * value * signs, mdp.gamma, mdp.rho)
    theta1 = theta0 + eps * (1.0 + np.max(np.abs(theta0), initial=0.0)) * kick
    out.append(r1.iterate(perturbed, theta1, m, step, T, lam, tol, param=param, **kw))
    return out


def assert_batch_equals_loop(
    mdp: r1.TabularMDP, param: r1.LogLinear, theta0: Any, configs: list[Any], T: int, *, strict: bool = True, **kw: Any
) -> list[r1.Run]:
    """Run the batch and the loop of iterate; every run equal (:func:`assert_same_run`).

    ``strict=False``, and always for npg's θ: a run that differs beyond the analytic tolerances is compared
    again with the loop's own spread (:func:`_probes`).
    """
    got = r1.iterate_batch(mdp, theta0, configs, T, param=param, **kw)
    assert len(got) == len(configs)
    k = param.n_params
    thetas0 = np.broadcast_to(np.asarray(theta0, dtype=float), (len(configs), k))
    tol = kw.pop("tol", 0.0)
    limits = {"tol": tol, "window": kw.get("stall_window", 200)}
    for i, ((m, step, lam), run) in enumerate(zip(configs, got, strict=True)):
        want = r1.iterate(mdp, thetas0[i], m, step, T, lam, tol, param=param, **kw)
        try:
            assert_same_run(run, want, mdp, param, where=f"configs[{i}]", **limits)
            if m != "npg" or run.iterations == 0:
                continue
        except AssertionError:
            if strict and m != "npg":
                raise
        spreads = _probes(mdp, param, thetas0[i], (m, step, lam), T, tol, kw)
        assert_same_run(
            run, want, mdp, param, where=f"configs[{i}] (with the loop's spread)", spreads=spreads, **limits
        )
    return got


def _grid(
    methods: tuple[str, ...] = BUILTIN, etas: tuple[Any, ...] | None = None, lams: tuple[float, ...] = (1e-2, 0.3, 10.0)
) -> list[Any]:
    etas = (0.1, 3.0, steps.normalized(0.5)) if etas is None else etas
    return [(m, eta, None) for m in methods if m in ("pg", "npg") for eta in etas] + [
        (m, eta, lam) for m in methods if m not in ("pg", "npg") for eta in etas for lam in lams
    ]


# ---------------------------------------------------------------------------------------------
# deterministic cases
# ---------------------------------------------------------------------------------------------
def test_every_builtin_method_in_one_mixed_batch() -> None:
    """k < S(A − 1) random features (the dense Fisher XᵀX, k ≤ S·A) and κ = 3 features of the whole class."""
    mdp = _mdp()
    opt = r1.optimal(mdp)
    for param in (_features(mdp, 7), _features(mdp, 10, seed=1, cond=3.0)):
        gap0 = opt.J - r1.policy_point(mdp, np.zeros(param.n_params), param).ev.J
        runs = assert_batch_equals_loop(
            mdp, param, np.zeros(param.n_params), _grid(), 200, tol=1e-3 * gap0, optimum=opt, stall_window=50
        )
        assert {"converged", "max_iterations"} <= {r.status for r in runs}
        assert len({r.iterations for r in runs}) > 5, "rows stop at many different times"


def test_more_features_than_state_actions_and_per_configuration_theta0() -> None:
    """k > S·A: the Gram matrix XXᵀ (Woodbury solve, eigenvectors Xᵀw/‖Xᵀw‖); θ₀ of shape (B, k)."""
    mdp = _mdp(2, S=3, A=3, gamma=0.8)
    param = _features(mdp, 14, seed=3)
    configs = _grid(etas=(0.3, steps.normalized(0.2)), lams=(0.05, 2.0))
    theta0 = np.random.default_rng(4).normal(size=(len(configs), 14))
    assert_batch_equals_loop(mdp, param, theta0, configs, 60, tol=1e-9, stall_window=30)


def test_every_status_at_different_times_in_one_batch() -> None:
    """converged (at the top and at the final check), diverged, stalled and the cap, in one batch."""
    big = _mdp(3, S=4, A=3, gamma=0.8)
    big = r1.TabularMDP(big.P, 1e3 * big.r, big.gamma, big.rho)
    param = _features(big, 5, seed=2)
    assert_batch_equals_loop(
        big, param, np.zeros(5), [("pg", 1e308, None), ("pg", 1e-3, None), ("r1-grad", 1e308, 1e-6)], 30, tol=1e-6
    )
    bandit = r1.TabularMDP(np.ones((1, 3, 1)), np.array([[1.0, 0.9, 0.1]]), 0.0, np.ones(1))
    onehot = r1.LogLinear.one_hot(1, 3)
    theta0 = np.array([0.0, 5.0, 0.0])  # near-deterministic at the suboptimal arm 1
    configs = [
        ("npg", 1.0, None),  # converges at tol
        ("pg", 1e5, None),  # frozen at the suboptimal arm: stalled
        ("r1-grad", 1e5, 1e-3),
        ("pg", 1e-15, None),  # too small to move J: stalled
        ("pg", 0.5, None),  # still moving at the cap
        ("r1-eigen", 0.5, 0.1),
    ]
    runs = assert_batch_equals_loop(bandit, onehot, theta0, configs, 400, tol=1e-3, stall_window=100)
    assert [r.status for r in runs] == [
        "converged",
        "stalled",
        "stalled",
        "stalled",
        "max_iterations",
        "max_iterations",
    ]
    T = runs[0].iterations  # converged by the final check: gap ≤ tol first reached at the last iterate
    last = assert_batch_equals_loop(bandit, onehot, theta0, configs[:1] + configs[4:], T, tol=1e-3)
    assert last[0].status == "converged" and last[0].message.endswith(f"at t={T}")


def test_r1_eigen_fallback_vector_and_zero_fisher() -> None:
    """P_E∇J = 0 with ∇J ≠ 0 (TopEigenspace's fallback v₁) and F = 0 (σ₁ = 0: E the whole space)."""
    rng = np.random.default_rng(7)
    P = rng.random((2, 2, 2))
    P[0, 1] = P[0, 0]  # state 0: both actions the same, so A(0, ·) = 0 and g_ℓ(0, ·) = 0
    P /= P.sum(axis=-1, keepdims=True)
    r = rng.random((2, 2))
    r[0, 1] = r[0, 0]
    mdp = r1.TabularMDP(P, r, 0.9, np.array([0.9, 0.1]))
    phi = np.zeros((2, 2, 2))
    phi[0, 0, 0] = 5.0  # feature 0 acts on state 0 only, strongly: it spans the top eigenspace
    phi[1, 0, 1] = 1.0  # feature 1 on state 1: carries all of ∇J
    param = r1.LogLinear(phi)
    point = r1.policy_point(mdp, np.zeros(2), param)
    E = r1.fisher(mdp, np.zeros(2), param).top_eigenspace()
    g = point.gradient
    assert np.linalg.norm(g) > 0 and np.linalg.norm(E.project(g)) <= E.rtol * np.linalg.norm(g)
    configs = [("r1-eigen", eta, lam) for eta in (0.1, 1.0) for lam in (0.01, 1.0)] + [("pg", 1.0, None)]
    assert_batch_equals_loop(mdp, param, np.zeros(2), configs, 30, tol=1e-9)
    flat = r1.LogLinear(np.ones((2, 2, 3)))  # the same features for every action: logits never move, F = 0
    runs = assert_batch_equals_loop(mdp, flat, np.zeros(3), configs, 5, stall_window=2)
    assert all(r.status == "stalled" for r in runs)


def test_directions_equal_the_single_ones_at_near_deterministic_points() -> None:
    mdp = _mdp(4, S=4, A=3, gamma=0.99)
    param = _features(mdp, 6, seed=5)
    theta = np.random.default_rng(5).normal(scale=40.0, size=(3, 6))
    _check_directions(mdp, param, theta, np.array([1e-4, 0.1, 10.0]))


def test_step_rules_of_every_kind_and_on_run() -> None:
    class Halving(steps.StepRule):
        def __call__(self, t: int, direction: np.ndarray) -> float:
            return self.eta / 2.0**t

    mdp = _mdp(6)
    param = _features(mdp, 6, seed=6)
    rules = (0.5, steps.constant(0.5), steps.normalized(0.2), steps.mei2020(mdp.gamma), Halving("custom", 1.0, "h"))
    configs = [(m, rule, lam) for rule in rules for m, lam in (("pg", None), ("r1-precond", 0.1), ("npg-damped", 1.0))]
    seen: dict[int, r1.Run] = {}
    runs = r1.iterate_batch(mdp, np.zeros(6), configs, 40, param=param, on_run=seen.__setitem__)
    assert sorted(seen) == list(range(len(configs))) and all(seen[i] is runs[i] for i in seen)
    assert_batch_equals_loop(mdp, param, np.zeros(6), configs, 40)
    np.testing.assert_allclose(runs[-1].eta, 1.0 / 2.0 ** np.arange(40))


def _unit_pg(p: r1.PolicyPoint, lam: float) -> np.ndarray:
    g = p.gradient
    n = float(np.linalg.norm(g))
    return g / n if n > 0 else g


@pytest.mark.usefixtures("method_registry")
def test_plugin_methods_run_row_by_row_and_nan_raises() -> None:
    calls: list[float] = []

    def scaled(p: r1.PolicyPoint, lam: float) -> np.ndarray:
        calls.append(lam)
        return p.gradient / (1.0 + lam)

    r1.register_method(r1.Method("unit-pg", "PG/‖∇J‖", damped=False, direction=_unit_pg))
    r1.register_method(
        r1.Method(
            "scaled-pg",
            "scaled",
            damped=True,
            direction=scaled,
            param_batch_direction=lambda p, lam: p.gradient / (1.0 + lam)[:, None],
        )
    )
    mdp = _mdp()
    param = _features(mdp, 5)
    configs = [("unit-pg", 0.3, None), ("pg", 0.3, None), ("scaled-pg", 0.3, 0.5), ("r1-eigen", 1.0, 0.1)]
    assert_batch_equals_loop(mdp, param, np.zeros(5), configs, 20)
    n_loop = len(calls)
    r1.iterate_batch(mdp, np.zeros(5), configs, 20, param=param)
    assert len(calls) == n_loop, "a method with a param_batch_direction is not called row by row"
    r1.register_method(r1.Method("nan-pg", "nan", damped=False, direction=lambda p, lam: p.gradient * np.nan))
    with pytest.raises(ValueError, match=r"configs\[1\].*nan-pg.*NaN"):
        r1.iterate_batch(mdp, np.zeros(5), [("pg", 1.0, None), ("nan-pg", 1.0, None)], 3, param=param)
    bad = r1.Method("bad", "bad", damped=False, direction=_unit_pg, param_batch_direction=lambda p, lam: p.pi)
    r1.register_method(bad)
    with pytest.raises(ValueError, match="param_batch_direction must return an array of shape"):
        r1.iterate_batch(mdp, np.zeros(5), [("bad", 1.0, None)], 3, param=param)
    with pytest.raises(ValueError, match="param_batch_direction vectorises direction"):
        r1.register_method(r1.Method("x", "x", damped=False, sample=lambda d, lam: d, param_batch_direction=_unit_pg))  # type: ignore[arg-type, return-value]
    assert all(m.param_batch_direction is not None for m in r1.registered_methods() if m.name in BUILTIN)


def test_bad_arguments() -> None:
    mdp = _mdp()
    param = _features(mdp, 4)
    with pytest.raises(ValueError, match=r"theta0 must have shape \(k,\)"):
        r1.iterate_batch(mdp, np.zeros((5, 3)), [("pg", 1.0, None)], 3, param=param)
    with pytest.raises(ValueError, match="theta0 has a NaN"):
        r1.iterate_batch(mdp, np.full(4, np.nan), [("pg", 1.0, None)], 3, param=param)
    with pytest.raises(ValueError, match=r"configs\[0\].*needs damping"):
        r1.iterate_batch(mdp, np.zeros(4), [("r1-grad", 1.0, None)], 3, param=param)
    with pytest.raises(ValueError, match="param is for"):
        r1.iterate_batch(_mdp(S=4), np.zeros(4), [("pg", 1.0, None)], 3, param=param)
    with pytest.raises(ValueError, match="tabular softmax and log-linear policies only"):
        r1.iterate_batch(mdp, np.zeros(4), [("pg", 1.0, None)], 3, param=r1.NeuralSoftmax(5, 3))
    with pytest.raises(ValueError, match="dense MDP"):
        r1.iterate_batch(mdp.to_sparse(), np.zeros(4), [("pg", 1.0, None)], 3, param=param)
    assert r1.iterate_batch(mdp, np.zeros(4), [], 3, param=param) == []


def test_the_sweep_batches_log_linear_runs_keyed_by_their_features() -> None:
    """A log-linear run planned batched gets a batch key that names its parametrisation, and its record is
    iterate_batch's row, equal to iterate's run (the C1 family's parametrisation, a short cap)."""
    spec: dict[str, Any] = {"kind": "log-linear", "k": 6, "seed": 0, "cond": 3.0}
    base: dict[str, Any] = {"params": {"S": 3, "A": 3, "gamma": 0.9, "seed": 2}, "damping": 0.1}
    a = run_task("random", "r1-eigen", 0.5, 40, param=spec, batched=True, **base)
    b = run_task("random", "r1-eigen", 0.5, 40, param={**spec, "seed": 1}, batched=True, **base)
    tab = run_task("random", "r1-eigen", 0.5, 40, batched=True, **base)
    alone = run_task("random", "r1-eigen", 0.5, 40, param=spec, **base)
    keys = [batch_key(t.config) for t in (a, b, tab, alone)]
    assert None not in keys[:3] and len(set(keys[:3])) == 3 and keys[3] is None
    assert (
        batch_key(run_task("random", "pg", 0.5, 40, param={"kind": "neural", "hidden": [3]}, batched=True).config)
        is None
    )
    record = run_method(a.config)
    single = run_method(alone.config)  # iterate(..., param=...)
    from proofs_checks.runs import instance, param_from

    mdp, _, _ = instance("random", base["params"])
    assert_same_run(r1.Run.from_record(record), r1.Run.from_record(single), mdp, param_from(spec, mdp))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# random MDPs, features and configuration mixes
# ---------------------------------------------------------------------------------------------
def _check_directions(mdp: r1.TabularMDP, param: r1.LogLinear, theta: np.ndarray, lam: np.ndarray) -> None:
    B = theta.shape[0]
    point = batch_param_point(mdp, param, theta)
    for b in range(B):  # the point: the single point's gradient, bit for bit from the same evaluation
        np.testing.assert_array_equal(point[b].gradient, point.gradient[b])
    for m in r1.registered_methods():
        if m.name not in BUILTIN:
            continue
        lams = lam if m.damped else np.zeros(B)
        assert m.param_batch_direction is not None
        got = m.param_batch_direction(point, lams)
        sub = m.param_batch_direction(point.take(slice(B - 1, B)), lams[B - 1 :])
        np.testing.assert_array_equal(sub[0], got[B - 1], err_msg=m.name)  # independent of the batch
        for b in range(B):
            want = r1.direction_at(point[b], m.name, lams[b] if m.damped else None)
            if m.name in ("pg", "npg", "npg-damped"):
                np.testing.assert_array_equal(got[b], want, err_msg=m.name)
            else:
                scale = np.max(np.abs(want)) + (np.max(np.abs(point.gradient[b])) / lams[b] if m.damped else 0.0)
                np.testing.assert_allclose(got[b], want, rtol=0, atol=RTOL * scale + 1e-300, err_msg=m.name)


@st.composite
def _params(draw: st.DrawFn, mdp: r1.TabularMDP) -> r1.LogLinear:
    k = draw(st.integers(1, mdp.S * mdp.A + 3))
    seed = draw(st.integers(0, 2**16))
    phi = np.random.default_rng(seed).normal(size=(mdp.S, mdp.A, k)) * draw(st.sampled_from([0.3, 1.0, 3.0]))
    if draw(st.booleans()) and mdp.A > 1 and k > 1:
        phi = conditioned_features(phi, draw(st.sampled_from([1.0, 3.0, 30.0])))
    return r1.LogLinear(phi)


@given(mdp=mdps(max_states=4, max_actions=3), data=st.data())
def test_batched_directions_equal_the_single_ones(mdp: r1.TabularMDP, data: st.DataObject) -> None:
    param = data.draw(_params(mdp))
    B = data.draw(st.integers(1, 4))
    theta = np.random.default_rng(data.draw(st.integers(0, 99))).normal(size=(B, param.n_params))
    theta *= data.draw(st.sampled_from([0.0, 1.0, 10.0]))
    lam = np.array([data.draw(dampings()) for _ in range(B)])
    _check_directions(mdp, param, theta, lam)


@st.composite
def _configs(draw: st.DrawFn) -> list[tuple[str, Any, float | None]]:
    out = []
    for _ in range(draw(st.integers(1, 6))):
        m = draw(st.sampled_from(BUILTIN))
        eta = draw(step_sizes(1e-3, 1e2))
        step = steps.normalized(eta) if draw(st.booleans()) else eta
        out.append((m, step, draw(dampings(1e-3, 1e2)) if m not in ("pg", "npg") else None))
    return out


@given(mdp=mdps(max_states=4, max_actions=3), data=st.data())
def test_batch_equals_loop_on_random_mdps_features_and_mixes(mdp: r1.TabularMDP, data: st.DataObject) -> None:
    param = data.draw(_params(mdp))
    configs = data.draw(_configs())
    theta0 = np.random.default_rng(data.draw(st.integers(0, 99))).normal(size=param.n_params)
    theta0 *= data.draw(st.sampled_from([0.0, 1.0, 5.0]))
    T = data.draw(st.integers(0, 40))
    opt = r1.optimal(mdp)
    gap0 = opt.J - r1.policy_point(mdp, theta0, param).ev.J
    tol = data.draw(st.sampled_from([0.0, 1e-3, 0.3])) * max(gap0, 0.0)
    window = data.draw(st.integers(1, 20))
    assert_batch_equals_loop(mdp, param, theta0, configs, T, strict=False, tol=tol, optimum=opt, stall_window=window)


_RUN_FIELDS = ("J", "gap", "grad_norm", "min_pi_opt", "kl", "eta", "eff_step", "theta")


@given(mdp=mdps(max_states=6, max_actions=4), data=st.data())
def test_a_row_does_not_depend_on_its_batch(mdp: r1.TabularMDP, data: st.DataObject) -> None:
    """Bit for bit: configuration i's run is the same alone, in its batch, and in a batch of 3× its size."""
    param = data.draw(_params(mdp))
    configs = data.draw(_configs())
    theta0 = np.random.default_rng(data.draw(st.integers(0, 99))).normal(size=param.n_params)
    T = data.draw(st.integers(1, 25))
    opt = r1.optimal(mdp)
    kw: dict[str, Any] = {"optimum": opt, "stall_window": 10, "param": param}
    together = r1.iterate_batch(mdp, theta0, configs, T, **kw)
    bigger = r1.iterate_batch(mdp, theta0, configs * 3, T, **kw)
    for i, cfg in enumerate(configs):
        alone = r1.iterate_batch(mdp, theta0, [cfg], T, **kw)[0]
        for other in (together[i], bigger[i + len(configs)]):
            assert (alone.status, alone.message) == (other.status, other.message)
            for f in _RUN_FIELDS:
                np.testing.assert_array_equal(getattr(alone, f), getattr(other, f), err_msg=f"{cfg} {f}")
