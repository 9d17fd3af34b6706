"""iterate_batch: B configurations stepped in lockstep give the runs iterate gives, one by one.

Theorem tested: for every configuration (method, step, λ) — any mix in one batch, rows stopping at
different times and for different reasons — ``iterate_batch(mdp, θ₀, configs, T, ...)[i]`` has the
status, iteration count and message text of ``iterate(mdp, θ₀, *configs[i], T, ...)``, and equal
histories. "Equal" is to rounding, because the batched LU orders its operations differently from
LAPACK's (r1theory/batch.py); the tolerance is RTOL = 1e-12 relative to each quantity's scale:

* θ: RTOL·(1 + max|θ|) + θ's floor FLOOR·(1 + max|r|/(1 − γ))/(1 − γ)·max(1, 1/λ)·Σ_t η_t: the gradient
  is accurate to ε·|Q|/(1 − γ) in both engines (A to ε·|Q|), update t moves θ by η_t·M_t∇J_t, and every
  built-in preconditioner has ‖M_t‖ ≤ max(1, 1/λ) (npg's closed form takes A directly): the damped
  methods turn the gradient's last bits into 1/λ times as many bits of θ;
* the quantities that depend on θ inherit its floor through their Lipschitz constants: J and gap,
  RTOL·(1 + max|r|/(1 − γ)) (the value scale) + max‖∇J‖·√(SA)·θ's floor; grad_norm, RTOL·max‖∇J‖ + the
  gradient's error FLOOR·(1 + max|r|/(1 − γ))/(1 − γ) + L·√(SA)·θ's floor, L = 8 max|r|/(1 − γ)³ the
  smoothness of J (Mei et al. 2020, Lemma 7); min_pi_opt, RTOL·max + θ's floor (softmax is 1/2-Lipschitz);
* η (normalised rules) and eff_step = η⟨D, ∇J⟩/‖∇J‖²: RTOL relative + the gradient's error over ‖∇J_t‖
  (a gradient of the size of its error has no relative accuracy in either engine: where that ratio
  reaches 1, not even ‖∇J‖ > 0, which decides whether eff_step is NaN, is compared);
* kl, a π-weighted sum of differences of log-probabilities whose size is up to 2·max|θ|, from two
  iterates each known to θ's floor: RTOL·max kl + (FLOOR + 4·θ's floor)·(1 + max|θ|).

FLOOR = 100ε. Message texts are compared with their numbers replaced, and the numbers to the same
tolerances (a gap printed with 3 digits).

Two exceptions, both decided by the data and checked:

* a knife edge: the runs may stop at different iterations where the stopping rule is decided by
  rounding — the deciding quantity of both runs within J's tolerance of its threshold (e.g.
  tol = 0, where "gap ≤ 0" holds once J reaches J* to the last bit); their common prefix must agree;
* ill-conditioned runs (the property test and marked cases only): where a run amplifies rounding beyond
  these bounds — a normalised step once ∇J is at its rounding floor moves θ by η along a direction of
  rounding noise; γ → 1 leaves ∇J = dπA/(1 − γ) with few correct digits; tied optimal actions leave a
  neutral direction — the batched run must deviate from iterate by at most SPREAD = 10 times iterate's
  own deviation under perturbations of the size of rounding, at every step (the MDP relabelled, which
  reorders every sum and the LU; r ± 4ε(1 + max|r|/(1 − γ)), the rounding of Q, and θ₀ ± 4ε(1 + max|θ₀|)),
  and may part from it only where such a perturbed loop parts too. Where a perturbed loop strays from
  iterate by more than CHAOS = 1e-6 (of the value scale, or of θ), iterate's trajectory is itself decided
  by rounding (a chaotic run: O(1) differences after tens of steps) and no comparison is meaningful.

θ is compared modulo per-state constants (docs/conventions: compare updates modulo per-state constants):
a shift of θ(s, ·) leaves π unchanged, and the damped directions multiply the rounding of
Σ_a ∇J(s, a) = 0 by up to 1/λ along it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import r1theory as r1
from r1theory import steps
from r1theory.batch import batch_policy_point, evaluate_policies
from tabular_mdps.strategies import dampings, mdps, thetas
from tabular_mdps.strategies import steps as step_sizes

RTOL = 1e-12
FLOOR = 100 * np.finfo(float).eps
SPREAD = 10.0
CHAOS = 1e-6
BUILTIN = ("pg", "npg", "npg-damped", "r1-eigen", "r1-grad", "r1-same", "r1-precond")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)")


def _mdp(seed: int = 0, S: int = 5, A: int = 3, gamma: float = 0.9) -> r1.TabularMDP:
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S))
    P /= P.sum(axis=-1, keepdims=True)
    rho = rng.random(S) + 0.1
    return r1.TabularMDP(P, rng.random((S, A)), gamma, rho / rho.sum())


def _bandit(r: tuple[float, ...] = (1.0, 0.9, 0.1)) -> r1.TabularMDP:
    return r1.TabularMDP(np.ones((1, len(r), 1)), np.array([r]), 0.0, np.ones(1))


def _tolerances(want: r1.Run, mdp: r1.TabularMDP) -> dict[str, Any]:
    """The allowed |batch − loop| of every history of ``want`` (module docstring); arrays for η and eff_step."""
    value = 1.0 + float(np.max(np.abs(mdp.r))) / (1.0 - mdp.gamma)
    theta_scale = 1.0 + float(np.max(np.abs(want.theta)))
    root_n = float(np.sqrt(mdp.S * mdp.A))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # a 1e308 step: infinite floors
        # update t moves θ by η_t·D_t, and D_t = M_t∇J_t with ‖M_t‖ ≤ max(1, 1/λ) for every built-in method
        # (npg's closed form from A directly): the gradient's rounding floor, amplified
        gain = 1.0 if want.damping is None else max(1.0, 1.0 / want.damping)
        steps_taken = float(np.sum(np.abs(np.nan_to_num(want.eta))))
        theta_floor = FLOOR * value / (1.0 - mdp.gamma) * gain * steps_taken
        smooth = 8.0 * float(np.max(np.abs(mdp.r))) / (1.0 - mdp.gamma) ** 3  # Mei et al. 2020, Lemma 7
        grad_err = FLOOR * value / (1.0 - mdp.gamma) + smooth * root_n * theta_floor
        cond = RTOL + grad_err / want.grad_norm[:-1]  # inf where ∇J = 0
        return {
            "theta": RTOL * theta_scale + theta_floor,
            "J": RTOL * value + float(np.max(want.grad_norm)) * root_n * theta_floor,
            "gap": RTOL * value + float(np.max(want.grad_norm)) * root_n * theta_floor,
            "grad_norm": RTOL * float(np.max(want.grad_norm)) + grad_err,
            "min_pi_opt": RTOL * float(np.max(want.min_pi_opt)) + theta_floor,  # softmax: 1/2-Lipschitz
            # a π-weighted sum of log-probability differences (up to 2·max|θ|) from two θ's, each to θ's floor
            "kl": RTOL * float(np.max(np.abs(want.kl), initial=0.0)) + (FLOOR + 4 * theta_floor) * theta_scale,
            "eta": cond * np.abs(want.eta),
            "eff_step": cond * np.abs(want.eff_step),
            "noise": cond >= 1.0,  # ‖∇J‖ at its rounding floor: not even ‖∇J‖ > 0 is decided (eff_step NaN or not)
            "value": value,
        }


def _knife_edge(got: r1.Run, want: r1.Run, edge: float, tol: float, stall: float, window: int) -> bool:
    """Whether the runs part at a decision taken from rounding: the deciding quantity of both runs within
    rounding (``edge``, J's tolerance) of its threshold at the first point where one of them stops.

    E.g. tol = 0 and a run converging to V*(ρ): "gap ≤ 0" holds once the computed J reaches J* to its last
    bit, which the two engines' different (equally accurate) roundings decide differently.
    """
    n = min(got.iterations, want.iterations)  # the first point where a stopping decision differs
    if all(abs(r.gap[n] - tol) <= edge for r in (got, want)):  # "gap ≤ tol" (before a step or at the end)
        return True
    moved = [abs(r.J[n] - r.J[n - window]) for r in (got, want)] if n >= window else []
    return bool(moved) and all(abs(m - stall) <= edge for m in moved)  # "|ΔJ| < stall_tol"


def _spread(other: r1.Run, run: r1.Run, value: float) -> float:
    """How far a perturbed loop run strays from ``run``: max |ΔJ|/value, and max |Δθ|/(1 + max|θ|) mod constants."""
    n = min(other.iterations, run.iterations)
    out = float(np.max(np.abs(other.J[: n + 1] - run.J[: n + 1]))) / value
    if other.iterations == run.iterations:
        dtheta = np.max(np.abs(_centred(other.theta) - _centred(run.theta)))
        out = max(out, float(dtheta) / (1.0 + float(np.max(np.abs(run.theta)))))
    return out


def _prefix(run: r1.Run, n: int) -> dict[str, np.ndarray]:
    """The run's histories of its first n steps (n + 1 points)."""
    out = {k: getattr(run, k)[: n + 1] for k in ("J", "gap", "grad_norm", "min_pi_opt")}
    out.update({k: getattr(run, k)[:n] for k in ("kl", "eta", "eff_step")})
    return out


def assert_same_run(
    got: r1.Run,
    want: r1.Run,
    mdp: r1.TabularMDP,
    where: Any = "",
    *,
    tol: float = 0.0,
    stall: float | None = None,
    window: int = 200,
    spreads: list[r1.Run] | None = None,
) -> None:
    """``got`` (batched) equals ``want`` (iterate) to the tolerances of the module docstring.

    With ``spreads`` (iterate's own runs under perturbations of the size of rounding) the tolerances grow by
    SPREAD times the loop's own largest deviation, and the runs may part (status, iteration count) where a
    perturbed loop also parts from ``want``; without, only at a knife edge (:func:`_knife_edge`).
    θ is compared modulo per-state constants (a shift of θ(s, ·) leaves π unchanged, and the damped
    directions scale the rounding of Σ_a ∇J(s, a) = 0 by 1/λ along it).
    """
    ctx = f"{where}: {want.method} step={want.step.label} λ={want.damping}"
    assert (got.method, got.damping, got.step, got.J_star) == (want.method, want.damping, want.step, want.J_star), ctx
    lim = _tolerances(want, mdp)
    value = lim["value"]
    stall = 1e-13 * (1.0 + abs(want.J_star)) if stall is None else stall
    if spreads and max(_spread(r, want, value) for r in spreads) > CHAOS:
        return  # iterate's own trajectory is decided by rounding here: two engines cannot agree (docstring)
    same = (got.status, got.iterations) == (want.status, want.iterations)
    if not same:
        parted = (
            f"{ctx}: {got.status}/{got.iterations} ({got.message}) vs {want.status}/{want.iterations} ({want.message})"
        )
        unsure = any((r.status, r.iterations) != (want.status, want.iterations) for r in spreads or [])
        assert unsure or _knife_edge(got, want, lim["J"], tol, stall, window), parted
    n = min(got.iterations, want.iterations, *(r.iterations for r in spreads or []))
    a, b = _prefix(got, n), _prefix(want, n)
    extra: dict[str, Any] = {k: 0.0 for k in a}
    for spread in spreads or []:  # the loop's own deviation so far (running maximum), times SPREAD
        c = _prefix(spread, n)
        for k in a:
            extra[k] = np.maximum(extra[k], SPREAD * np.fmax.accumulate(np.nan_to_num(np.abs(c[k] - b[k]), nan=0.0)))
        lim["noise"] = lim["noise"][:n] | (np.isnan(c["eff_step"]) != np.isnan(b["eff_step"]))
    for field in a:
        allowed = np.asarray(lim[field])[: len(b[field])] if np.ndim(lim[field]) else lim[field]
        allowed = allowed + extra[field]
        x, y = a[field], b[field]
        noise = lim["noise"][: len(y)] if field in ("eta", "eff_step") else np.zeros(len(y), dtype=bool)
        nan = np.isnan(x) != np.isnan(y)
        assert not (nan & ~noise).any(), f"{ctx}: {field} NaN pattern {x} vs {y}"
        ok = noise | (x == y) | (np.abs(x - y) <= allowed)
        assert ok.all(), f"{ctx}: {field} differs at t={np.flatnonzero(~ok)[:5]}: {x[~ok][:3]} vs {y[~ok][:3]}"
        if field == "gap":  # the numbers of a message: gaps (and η), to the gap's tolerance at the last point
            number_tol = float(np.max(allowed))
    if same and all(r.iterations == want.iterations for r in spreads or []):
        allowed = lim["theta"] + np.zeros_like(want.theta)
        for r in spreads or []:
            allowed = np.maximum(allowed, lim["theta"] + SPREAD * np.abs(_centred(r.theta) - _centred(want.theta)))
        deviation = np.abs(_centred(got.theta) - _centred(want.theta))
        np.testing.assert_array_less(deviation, allowed + 1e-300, err_msg=f"{ctx}: θ (modulo per-state constants)")
    if not same:
        return
    assert _NUMBER.sub("#", got.message) == _NUMBER.sub("#", want.message), (
        f"{ctx}: {got.message!r} vs {want.message!r}"
    )
    for x_, y_ in zip(_NUMBER.findall(got.message), _NUMBER.findall(want.message), strict=True):
        u, v = float(x_), float(y_)
        close = u == v or abs(u - v) <= 0.01 * max(abs(u), abs(v)) + number_tol
        assert close, f"{ctx}: {got.message!r} vs {want.message!r}"


def _centred(theta: np.ndarray) -> np.ndarray:
    """θ modulo per-state constants: each row minus its mean."""
    return theta - theta.mean(axis=1, keepdims=True)


def _probes(mdp: r1.TabularMDP, theta0: np.ndarray, config: tuple, T: int, tol: float, kw: dict) -> list[r1.Run]:
    """iterate's own runs under two perturbations of the size of rounding, at every step, mapped back.

    * relabelled: states and actions permuted (every sum, the LU's pivots and the ties are taken in
      another order; iterate is equivariant under relabelling to rounding, tests/test_symmetry.py);
    * perturbed: r ± 4ε(1 + max|r|/(1 − γ)) — the rounding of Q = r + γPV, whose size is the value
      scale — and θ₀ ± 4ε(1 + max|θ₀|).
    """
    m, step, lam = config
    rng = np.random.default_rng(0)
    ps, pa = rng.permutation(mdp.S), rng.permutation(mdp.A)
    kw = {k: v for k, v in kw.items() if k != "optimum"}
    relabelled = r1.TabularMDP(mdp.P[ps][:, pa][:, :, ps], mdp.r[ps][:, pa], mdp.gamma, mdp.rho[ps])
    run = r1.iterate(relabelled, theta0[ps][:, pa], m, step, T, lam, tol, **kw)
    theta = np.empty_like(run.theta)
    theta[np.ix_(ps, pa)] = run.theta
    out = [dataclasses.replace(run, theta=theta)]
    signs = np.where(rng.random((2, mdp.S, mdp.A)) < 0.5, -1.0, 1.0)
    eps = 4 * np.finfo(float).eps
    value = 1.0 + float(np.max(np.abs(mdp.r))) / (1.0 - mdp.gamma)
    perturbed = r1.TabularMDP(mdp.P, mdp.r + eps * value * signs[0], mdp.gamma, mdp.rho)
    kick = eps * (1.0 + np.max(np.abs(theta0))) * signs[1]
    out.append(r1.iterate(perturbed, theta0 + kick, m, step, T, lam, tol, **kw))
    return out


def assert_batch_equals_loop(mdp, theta0, configs, T, *, strict: bool = True, **kw) -> list[r1.Run]:
    """Run the batch and the loop of iterate; every run equal (:func:`assert_same_run`).

    ``strict=False``: a run that differs beyond the tolerances is compared again with the loop's own
    spread (``spreads`` of :func:`assert_same_run`, from :func:`_probes`).
    """
    got = r1.iterate_batch(mdp, theta0, configs, T, **kw)
    assert len(got) == len(configs)
    thetas0 = np.broadcast_to(np.asarray(theta0, dtype=float), (len(configs), mdp.S, mdp.A))
    tol = kw.pop("tol", 0.0)
    limits = {"tol": tol, "stall": kw.get("stall_tol"), "window": kw.get("stall_window", 200)}
    for i, ((m, step, lam), run) in enumerate(zip(configs, got, strict=True)):
        want = r1.iterate(mdp, thetas0[i], m, step, T, lam, tol, **kw)
        try:
            assert_same_run(run, want, mdp, where=f"configs[{i}]", **limits)
        except AssertionError:
            if strict:
                raise
            spreads = _probes(mdp, thetas0[i], (m, step, lam), T, tol, kw)
            assert_same_run(run, want, mdp, where=f"configs[{i}] (with the loop's spread)", spreads=spreads, **limits)
    return got


def _grid(methods=BUILTIN, etas=None, lams=(1e-3, 0.1, 10.0)):
    etas = (0.1, 3.0, steps.normalized(0.5)) if etas is None else etas
    return [(m, eta, None) for m in methods if m in ("pg", "npg") for eta in etas] + [
        (m, eta, lam) for m in methods if m not in ("pg", "npg") for eta in etas for lam in lams
    ]


# ---------------------------------------------------------------------------------------------
# deterministic cases
# ---------------------------------------------------------------------------------------------
def test_every_builtin_method_in_one_mixed_batch() -> None:
    mdp = _mdp()
    opt = r1.optimal(mdp)
    gap0 = opt.J - r1.evaluate(mdp, r1.softmax(np.zeros((5, 3)))).J
    runs = assert_batch_equals_loop(mdp, np.zeros((5, 3)), _grid(), 300, tol=1e-4 * gap0, optimum=opt)
    statuses = {r.status for r in runs}
    assert {"converged", "max_iterations"} <= statuses
    assert len({r.iterations for r in runs}) > 5, "rows stop at many different times"


def test_random_start_and_per_configuration_theta0() -> None:
    mdp = _mdp(1, S=4, A=4, gamma=0.95)
    configs = _grid(etas=(0.3, steps.normalized(0.1)), lams=(0.01, 1.0))
    theta0 = np.random.default_rng(2).normal(scale=3.0, size=(len(configs), 4, 4))
    assert_batch_equals_loop(mdp, theta0, configs, 150, tol=1e-8, stall_window=50)


def test_every_status_at_different_times_in_one_batch() -> None:
    """converged (at the top and at the final check), diverged, stalled (frozen deterministic policy) and the cap."""
    big = _mdp(3, S=4, A=3, gamma=0.8)
    big = r1.TabularMDP(big.P, 1e3 * big.r, big.gamma, big.rho)  # gradient entries > 1: a 1e308 step overflows θ
    assert_batch_equals_loop(
        big,
        np.zeros((4, 3)),
        [("pg", 1e308, None), ("pg", 1e-3, None), ("r1-grad", 1e308, 1e-6), ("npg", 0.05, None)],
        30,
        tol=1e-6,
    )
    bandit = _bandit()
    theta0 = np.array([[0.0, 5.0, 0.0]])  # near-deterministic at the suboptimal arm 1
    configs = [
        ("npg", 1.0, None),  # converges at tol
        ("pg", 1e5, None),  # one huge step to the (suboptimal) deterministic arm 1, then frozen: stalled
        ("r1-grad", 1e5, 1e-3),  # the same freeze for a rank-1 variant
        ("pg", 1e-15, None),  # too small to move J: stalled
        ("pg", 0.5, None),  # still moving at the cap
        ("r1-same", 0.5, 0.1),
    ]
    runs = assert_batch_equals_loop(bandit, theta0, configs, 400, tol=1e-3, stall_window=100)
    assert [r.status for r in runs] == [
        "converged",
        "stalled",
        "stalled",
        "stalled",
        "max_iterations",
        "max_iterations",
    ]
    assert runs[1].gap[-1] > 0.05 and runs[1].min_pi_opt[-1] < 1e-100  # frozen at arm 1, not converged
    # converged by the final check (gap ≤ tol first reached at the last iterate)
    T = runs[0].iterations
    last = assert_batch_equals_loop(bandit, theta0, configs[:1] + configs[4:], T, tol=1e-3)
    assert last[0].status == "converged" and last[0].message.endswith(f"at t={T}")


def test_on_run_reports_each_run_once_as_it_stops() -> None:
    """``on_run(i, run)`` fires once per configuration, in stopping order, with the run that is returned."""
    bandit = _bandit()
    theta0 = np.array([[0.0, 5.0, 0.0]])
    configs = [("pg", 0.5, None), ("npg", 1.0, None), ("pg", 1e-15, None), ("r1-grad", 1e5, 1e-3)]
    seen: list[tuple[int, r1.Run, int]] = []
    runs = r1.iterate_batch(
        bandit, theta0, configs, 400, tol=1e-3, stall_window=100, on_run=lambda i, r: seen.append((i, r, len(seen)))
    )
    assert sorted(i for i, _, _ in seen) == [0, 1, 2, 3]
    for i, r, _ in seen:
        assert r is runs[i]
    order = [i for i, _, _ in seen]
    # npg converges first, the frozen rows stall after the window, the PG row runs to the cap and is reported last
    assert order[0] == 1 and order[-1] == 0
    assert [runs[i].status for i in order] == ["converged", "stalled", "stalled", "max_iterations"]
    assert runs[1].iterations < runs[2].iterations <= runs[0].iterations


def test_diverged_by_non_finite_j(monkeypatch: pytest.MonkeyPatch) -> None:
    """A finite θ whose J is not finite (forced): 'non-finite J after step t' at the same step as iterate."""
    import r1theory.batch_iterates as bi
    import r1theory.iterates as it

    limit = 2.0
    single, batched = it.next_point, bi._batch_policy_point

    def poisoned_single(mdp, theta, param):  # iterate forms every point after θ₀ by next_point
        p = single(mdp, theta, param)
        if np.max(np.abs(theta)) > limit:
            object.__setattr__(p.ev, "J", float("nan"))
        return p

    def poisoned_batch(mdp, theta):
        p = batched(mdp, theta)
        p.ev.J[np.max(np.abs(theta), axis=(1, 2)) > limit] = np.nan
        return p

    monkeypatch.setattr(it, "next_point", poisoned_single)
    monkeypatch.setattr(bi, "_batch_policy_point", poisoned_batch)
    runs = assert_batch_equals_loop(_mdp(), np.zeros((5, 3)), [("pg", 1.0, None), ("npg", 1.0, None)], 50)
    assert all(r.status == "diverged" and "non-finite J" in r.message for r in runs)
    assert runs[0].iterations != runs[1].iterations


def test_zero_and_one_iterations_and_empty_batch() -> None:
    mdp = _mdp()
    for T in (0, 1):
        runs = assert_batch_equals_loop(mdp, np.zeros((5, 3)), _grid(etas=(1.0,), lams=(0.1,)), T)
        assert all(r.iterations == T for r in runs)
    assert r1.iterate_batch(mdp, np.zeros((5, 3)), [], 10) == []


def test_stall_windows_of_zero_and_one_iteration() -> None:
    """stall_window = 0 compares J with itself (every row with gap > tol stalls after its first step), 1 with the
    previous point: the histories' rows that the window reads are written by then (the batch records a point
    with its step, and a stopping row's last point as it stops)."""
    mdp = _mdp(4, S=4, A=3, gamma=0.9)
    configs = _grid(etas=(0.1, 1.0), lams=(0.1,))
    for window in (0, 1):
        runs = assert_batch_equals_loop(mdp, np.zeros((4, 3)), configs, 20, stall_window=window, stall_tol=1e-3)
        assert {r.status for r in runs} == ({"stalled"} if window == 0 else {"stalled", "max_iterations"})
        assert len({r.iterations for r in runs}) == (1 if window == 0 else 3)  # window 1: stalls at 11, 19, 20


def test_degenerate_instances() -> None:
    """Constant rewards and one action (∇J = 0, J = J*: every stop is a knife edge), unreachable states, ties."""
    P = np.random.default_rng(0).random((3, 2, 3))
    P /= P.sum(axis=-1, keepdims=True)
    flat = r1.TabularMDP(P, np.full((3, 2), 0.5), 0.9, np.ones(3) / 3)
    assert_batch_equals_loop(flat, np.zeros((3, 2)), _grid(etas=(1.0,), lams=(0.1,)), 5, strict=False, stall_window=2)
    one_action = r1.TabularMDP(np.ones((2, 1, 2)) / 2, np.array([[1.0], [0.0]]), 0.9, np.array([0.5, 0.5]))
    assert_batch_equals_loop(one_action, np.zeros((2, 1)), _grid(etas=(1.0,), lams=(0.1,)), 5, strict=False)
    P = np.zeros((3, 2, 3))
    P[0, 0] = [1.0, 0.0, 0.0]
    P[0, 1] = [0.5, 0.5, 0.0]
    P[1, 0] = [0.5, 0.5, 0.0]
    P[1, 1] = [0.0, 1.0, 0.0]
    P[2, 0] = [1.0, 0.0, 0.0]
    P[2, 1] = [0.2, 0.6, 0.2]
    unreachable = r1.TabularMDP(P, np.array([[1.0, 0.0], [0.0, 0.5], [0.3, 0.7]]), 0.9, [0.5, 0.5, 0.0])
    runs = assert_batch_equals_loop(unreachable, np.zeros((3, 2)), _grid(), 60, tol=1e-9)
    assert all(np.all(r.theta[2] == 0.0) for r in runs if r.method in ("pg", "npg"))  # d(2) = 0: never updated
    tied = _bandit((0.2, 0.7, 0.7, 0.1))  # two best arms: a neutral direction, and normalised steps at ∇J ≈ 0
    assert_batch_equals_loop(tied, np.zeros((1, 4)), _grid(), 40, tol=1e-9, strict=False)


def test_r1_eigen_rows_that_need_the_fallback_vector(monkeypatch: pytest.MonkeyPatch) -> None:
    """A state whose actions are identical carries the top eigenvalue: P_E ∇J = 0 there while ∇J ≠ 0, so
    v₁ is TopEigenspace's fallback, which the batch computes vectorised (no row goes to the single direction)
    and which equals the single direction's."""
    import r1theory.directions as dirs

    rng = np.random.default_rng(7)
    P = rng.random((3, 2, 3))
    P[0, 1] = P[0, 0]  # state 0: both actions the same
    P /= P.sum(axis=-1, keepdims=True)
    r = rng.random((3, 2))
    r[0, 1] = r[0, 0]
    mdp = r1.TabularMDP(P, r, 0.9, np.array([0.9, 0.05, 0.05]))  # d(0) largest: block 0 holds σ₁ at θ = 0
    calls = []
    single = dirs._r1_eigen
    monkeypatch.setattr(dirs, "_r1_eigen", lambda p, lam: calls.append(lam) or single(p, lam))
    configs = [("r1-eigen", eta, lam) for eta in (0.1, 1.0) for lam in (0.01, 1.0)] + [("pg", 1.0, None)]

    def fallback_at(point: r1.PolicyPoint) -> bool:
        g = point.gradient.ravel()
        E = r1.fisher(mdp, point.theta).top_eigenspace()
        return bool(np.linalg.norm(g) > 0 and np.linalg.norm(E.project(g)) <= E.rtol * np.linalg.norm(g))

    path = list(r1.trajectory(mdp, np.zeros((3, 2)), "r1-eigen", step=1.0, iterations=30, damping=0.01))
    assert any(fallback_at(pt) for pt in path), "the run meets the fallback case"
    assert_batch_equals_loop(mdp, np.zeros((3, 2)), configs, 30, tol=1e-9)
    calls.clear()
    r1.iterate_batch(mdp, np.zeros((3, 2)), configs, 30, tol=1e-9)
    assert not calls, "the fallback rows are vectorised"


def test_near_deterministic_start() -> None:
    mdp = _mdp(4, S=4, A=3, gamma=0.99)
    theta0 = np.random.default_rng(5).normal(scale=40.0, size=(4, 3))
    assert_batch_equals_loop(mdp, theta0, _grid(etas=(0.1, 30.0)), 80, stall_window=20)


class HalvingRule(steps.StepRule):
    """A step rule of a subclass (called row by row): η_t = η/2^t."""

    def __call__(self, t: int, direction: np.ndarray) -> float:
        return self.eta / 2.0**t


def test_step_rules_of_every_kind() -> None:
    mdp = _mdp(6)
    rules = (
        0.5,
        steps.constant(0.5),
        steps.normalized(0.2),
        steps.mei2020(mdp.gamma),
        HalvingRule("custom", 1.0, "η/2^t"),
    )
    configs = [(m, rule, lam) for rule in rules for m, lam in (("pg", None), ("r1-precond", 0.1), ("npg-damped", 1.0))]
    runs = assert_batch_equals_loop(mdp, np.zeros((5, 3)), configs, 40)
    np.testing.assert_allclose(runs[-1].eta, 1.0 / 2.0 ** np.arange(40))


def _normalised_pg(p: r1.PolicyPoint, lam: float) -> np.ndarray:
    g = p.gradient
    n = float(np.linalg.norm(g))
    return g / n if n > 0 else g


@pytest.mark.usefixtures("method_registry")
def test_plugin_method_without_batch_direction_runs_row_by_row() -> None:
    r1.register_method(r1.Method("unit-pg", "PG / ‖∇J‖", damped=False, direction=_normalised_pg))
    calls = []

    def scaled(p: r1.PolicyPoint, lam: float) -> np.ndarray:
        calls.append(lam)
        return p.gradient / (1.0 + lam)

    def scaled_batch(p, lam):
        return p.gradient / (1.0 + lam)[:, None, None]

    r1.register_method(r1.Method("scaled-pg", "scaled", damped=True, direction=scaled, batch_direction=scaled_batch))
    mdp = _mdp()
    configs = [("unit-pg", 0.3, None), ("pg", 0.3, None), ("scaled-pg", 0.3, 0.5), ("unit-pg", 1.0, None)]
    configs += [("scaled-pg", 1.0, 2.0), ("r1-eigen", 1.0, 0.1)]
    assert_batch_equals_loop(mdp, np.zeros((5, 3)), configs, 30)
    n_loop = len(calls)
    r1.iterate_batch(mdp, np.zeros((5, 3)), configs, 30)
    assert len(calls) == n_loop, "a method with a batch_direction is not called row by row"


@pytest.mark.usefixtures("method_registry")
def test_a_nan_direction_raises_naming_the_configuration() -> None:
    r1.register_method(r1.Method("nan-pg", "nan", damped=False, direction=lambda p, lam: p.gradient * np.nan))
    with pytest.raises(ValueError, match=r"configs\[1\].*nan-pg.*NaN"):
        r1.iterate_batch(_mdp(), np.zeros((5, 3)), [("pg", 1.0, None), ("nan-pg", 1.0, None)], 3)
    with pytest.raises(ValueError, match="NaN"):
        r1.iterate(_mdp(), np.zeros((5, 3)), "nan-pg", 1.0, 3)
    bad = r1.Method(
        "bad-shape", "bad", damped=False, direction=_normalised_pg, batch_direction=lambda p, lam: p.pi[:, 0]
    )
    r1.register_method(bad)
    with pytest.raises(ValueError, match="batch_direction must return an array of shape"):
        r1.iterate_batch(_mdp(), np.zeros((5, 3)), [("bad-shape", 1.0, None)], 3)


def test_method_records_check_batch_direction(method_registry: None) -> None:
    with pytest.raises(TypeError, match="batch_direction must be callable"):
        r1.register_method(r1.Method("x", "x", damped=False, direction=_normalised_pg, batch_direction=3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_direction vectorises direction"):
        r1.register_method(r1.Method("x", "x", damped=False, sample=lambda d, lam: d, batch_direction=_normalised_pg))  # type: ignore[arg-type]
    assert all(m.batch_direction is not None for m in r1.registered_methods() if m.name in BUILTIN)


def test_bad_arguments() -> None:
    mdp = _mdp()
    theta0 = np.zeros((5, 3))
    with pytest.raises(ValueError, match="tabular softmax and log-linear policies only"):
        r1.iterate_batch(mdp, theta0, [("pg", 1.0, None)], 3, param=r1.NeuralSoftmax(5, 3))
    r1.iterate_batch(mdp, theta0, [("pg", 1.0, None)], 3, param=r1.TabularSoftmax(5, 3))  # accepted
    with pytest.raises(ValueError, match="dense MDP"):
        r1.iterate_batch(mdp.to_sparse(), theta0, [("pg", 1.0, None)], 3)
    with pytest.raises(ValueError, match=r"configs\[1\]: unknown method"):
        r1.iterate_batch(mdp, theta0, [("pg", 1.0, None), ("nope", 1.0, None)], 3)
    with pytest.raises(ValueError, match=r"configs\[0\].*needs damping"):
        r1.iterate_batch(mdp, theta0, [("r1-grad", 1.0, None)], 3)
    with pytest.raises(ValueError, match=r"configs\[0\].*step must be > 0"):
        r1.iterate_batch(mdp, theta0, [("pg", 0.0, None)], 3)
    with pytest.raises(ValueError, match="triple"):
        r1.iterate_batch(mdp, theta0, [("pg", 1.0)], 3)
    with pytest.raises(TypeError, match="sequence"):
        r1.iterate_batch(mdp, theta0, "pg", 3)
    with pytest.raises(ValueError, match="theta0 must have shape"):
        r1.iterate_batch(mdp, np.zeros((2, 5, 3)), [("pg", 1.0, None)], 3)
    with pytest.raises(ValueError, match="theta0 has a NaN"):
        r1.iterate_batch(mdp, np.full((5, 3), np.nan), [("pg", 1.0, None)], 3)
    with pytest.raises(ValueError, match="iterations"):
        r1.iterate_batch(mdp, theta0, [("pg", 1.0, None)], -1)
    with pytest.raises(ValueError, match="tol"):
        r1.iterate_batch(mdp, theta0, [("pg", 1.0, None)], 3, tol=-1.0)
    with pytest.raises(ValueError, match="stall_window"):
        r1.iterate_batch(mdp, theta0, [("pg", 1.0, None)], 3, stall_window=-1)


# ---------------------------------------------------------------------------------------------
# the pieces: batched evaluation, batched point, batched directions
# ---------------------------------------------------------------------------------------------
def test_evaluate_policies_equals_evaluate() -> None:
    P = np.zeros((3, 2, 3))
    P[0, 0, 0] = P[0, 1, 1] = P[1, 0, 0] = P[1, 1, 1] = P[2, :, 0] = 1.0
    mdp = r1.TabularMDP(P, np.array([[1.0, 0.0], [0.0, 0.5], [0.3, 0.7]]), 0.9, [1.0, 0.0, 0.0])
    pi = np.array([[[1.0, 0.0], [0.5, 0.5], [0.5, 0.5]], [[0.3, 0.7], [1.0, 0.0], [0.5, 0.5]], [[0.5, 0.5]] * 3])
    for full in (False, True):
        be = evaluate_policies(mdp, pi, full_support=full)
        for b in range(3):
            ev = r1.evaluate(mdp, pi[b], full_support=full)
            for field in ("V", "Q", "A", "d"):
                np.testing.assert_allclose(getattr(be, field)[b], getattr(ev, field), rtol=0, atol=1e-13)
            np.testing.assert_array_equal(be.d[b] == 0, ev.d == 0)
            assert abs(be.J[b] - ev.J) <= 1e-13
    assert evaluate_policies(mdp, pi[:1], full_support=False).d[0, 1] == 0.0  # π(1|0) = 0 is real
    assert evaluate_policies(mdp, pi[:1], full_support=True).d[0, 1] > 0.0  # a softmax π never is 0
    with pytest.raises(ValueError, match="shape"):
        evaluate_policies(mdp, pi[0])
    with pytest.raises(ValueError, match="sum to 1"):
        evaluate_policies(mdp, 2 * pi)
    with pytest.raises(ValueError, match="dense"):
        evaluate_policies(mdp.to_sparse(), pi)


@given(mdp=mdps(max_states=5, max_actions=4), data=st.data())
def test_batched_directions_equal_the_single_ones(mdp: r1.TabularMDP, data: st.DataObject) -> None:
    """Every built-in batch_direction at a batched point equals direction_at on each row's point, to the rounding
    of sums over actions taken in another order (pg, npg, r1-eigen: bit for bit)."""
    B = data.draw(st.integers(1, 4))
    theta = np.stack([data.draw(thetas(mdp, max_abs=50.0)) for _ in range(B)])
    lam = np.array([data.draw(dampings()) for _ in range(B)])
    point = batch_policy_point(mdp, theta)
    value = 1.0 + float(np.max(np.abs(mdp.r))) / (1.0 - mdp.gamma)
    for b in range(B):
        single = r1.policy_point(mdp, theta[b])
        np.testing.assert_array_equal(point.pi[b], single.pi)
        np.testing.assert_array_equal(point.ev.d[b] == 0, single.ev.d == 0)
        atol = FLOOR * value / (1.0 - mdp.gamma)  # the gradient's rounding floor (module docstring)
        np.testing.assert_allclose(point.gradient[b], single.gradient, rtol=RTOL, atol=atol)
    for m in r1.registered_methods():
        if m.name not in BUILTIN:
            continue
        lams = lam if m.damped else np.zeros(B)
        got = m.batch_direction(point, lams)
        sub = m.batch_direction(point.take(slice(B - 1, B)), lams[B - 1 :])  # a sub-batch shares the point's caches
        np.testing.assert_array_equal(sub[0], got[B - 1])
        for b in range(B):
            want = r1.direction_at(point[b], m.name, lams[b] if m.damped else None)
            # the same formulas, sums over actions in another order: rounding of the terms, which the
            # damped formulas' cancellations (Σ_a π y = 0 in exact arithmetic as λ → 0) scale by up to 1/λ
            scale = np.max(np.abs(want)) + (np.max(np.abs(point.gradient[b])) / lams[b] if m.damped else 0.0)
            np.testing.assert_allclose(got[b], want, rtol=0, atol=RTOL * scale + 1e-300, err_msg=m.name)


# ---------------------------------------------------------------------------------------------
# random MDPs and configuration mixes
# ---------------------------------------------------------------------------------------------
@st.composite
def _configs(draw: st.DrawFn) -> list[tuple[str, Any, float | None]]:
    out = []
    for _ in range(draw(st.integers(1, 8))):
        m = draw(st.sampled_from(BUILTIN))
        eta = draw(step_sizes(1e-3, 1e3))
        step = steps.normalized(eta) if draw(st.booleans()) else eta
        out.append((m, step, draw(dampings(1e-4, 1e2)) if m not in ("pg", "npg") else None))
    return out


@given(mdp=mdps(max_states=5, max_actions=4), data=st.data())
def test_batch_equals_loop_on_random_mdps_and_mixes(mdp: r1.TabularMDP, data: st.DataObject) -> None:
    configs = data.draw(_configs())
    theta0 = data.draw(thetas(mdp, max_abs=20.0))
    T = data.draw(st.integers(0, 60))
    opt = r1.optimal(mdp)
    gap0 = opt.J - r1.evaluate(mdp, r1.softmax(theta0), full_support=True).J
    tol = data.draw(st.sampled_from([0.0, 1e-3, 0.3])) * max(gap0, 0.0)
    window = data.draw(st.integers(1, 30))
    # random instances reach ill-conditioned regimes (γ → 1, λ → 0, normalised steps at ∇J ≈ 0): compared with
    # the loop's own spread where the analytic bounds do not hold (module docstring)
    assert_batch_equals_loop(mdp, theta0, configs, T, strict=False, tol=tol, optimum=opt, stall_window=window)


_RUN_FIELDS = ("J", "gap", "grad_norm", "min_pi_opt", "kl", "eta", "eff_step", "theta")


@given(mdp=mdps(max_states=9, max_actions=9), data=st.data())
def test_a_row_does_not_depend_on_its_batch(mdp: r1.TabularMDP, data: st.DataObject) -> None:
    """Bit for bit: configuration i's run is the same alone, in its batch, and in a batch of 3× its size.

    The sweep runner batches whichever runs are missing from its cache, so a cached run must be a function
    of its configuration only, not of the runs that happened to share its batch (r1theory.batch).
    """
    configs = data.draw(_configs())
    theta0 = data.draw(thetas(mdp, max_abs=20.0))
    T = data.draw(st.integers(1, 40))
    opt = r1.optimal(mdp)
    together = r1.iterate_batch(mdp, theta0, configs, T, optimum=opt, stall_window=10)
    bigger = r1.iterate_batch(mdp, theta0, configs * 3, T, optimum=opt, stall_window=10)
    for i, cfg in enumerate(configs):
        alone = r1.iterate_batch(mdp, theta0, [cfg], T, optimum=opt, stall_window=10)[0]
        for other in (together[i], bigger[i + len(configs)]):
            assert (alone.status, alone.message) == (other.status, other.message)
            for f in _RUN_FIELDS:
                np.testing.assert_array_equal(getattr(alone, f), getattr(other, f), err_msg=f"{cfg} {f}")


def test_more_states_than_the_elimination_serves_solve_by_lapack_and_agree() -> None:
    """S > LAPACK_FROM: the stacked LAPACK path equals the loop of iterate, and a row is independent of its batch."""
    from r1theory.batch import LAPACK_FROM

    S = LAPACK_FROM + 8
    mdp = _mdp(5, S=S, A=3, gamma=0.95)
    configs = [("pg", 1.0, None), ("npg", 0.5, None), ("r1-eigen", 0.3, 0.1), ("r1-same", 0.3, 1.0), ("pg", 30.0, None)]
    theta0 = np.random.default_rng(1).normal(size=(S, 3))
    runs = assert_batch_equals_loop(mdp, theta0, configs, 40, tol=1e-6)
    for i, cfg in enumerate(configs):
        alone = r1.iterate_batch(mdp, theta0, [cfg], 40, tol=1e-6)[0]
        for f in _RUN_FIELDS:
            np.testing.assert_array_equal(getattr(alone, f), getattr(runs[i], f), err_msg=f"{cfg} {f}")
    pi = r1.softmax(np.random.default_rng(2).normal(size=(4, S, 3)))
    ev = evaluate_policies(mdp, pi)
    for b in range(4):
        one = r1.evaluate(mdp, pi[b])
        np.testing.assert_allclose(ev.V[b], one.V, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ev.d[b], one.d, rtol=1e-12, atol=1e-13)
        assert abs(ev.d[b].sum() - 1.0) < 1e-12
