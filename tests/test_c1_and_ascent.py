"""C1 and ascent verdict logic: each protocol can come out holds, fails and inconclusive."""

from __future__ import annotations

import numpy as np

from proofs_checks import c1_faster_than_pg as c1
from proofs_checks.runs import run_method, run_task
from r1theory import Run, steps

COND = {"family": "t", "damping": 1.0, "epsilon": "tight"}


def _fake(gap: list[float], status: str = "converged", eff: float = 1.0) -> Run:
    g = np.asarray(gap, dtype=float)
    n = len(g) - 1
    return Run(
        method="pg", damping=None, step=steps.constant(1.0),
        J=1.0 - g, gap=g, grad_norm=np.ones(n + 1), min_pi_opt=np.ones(n + 1), kl=np.zeros(n), eta=np.ones(n),
        eff_step=np.full(n, eff), theta=np.zeros((1, 2)), status=status, message="", J_star=1.0,
    )  # fmt: skip


def _decay(T: int, length: int = 60) -> list[float]:
    """A gap curve that first drops below 1e-3 at iteration T."""
    return [1.0 if t < T else 1e-4 for t in range(length)]


def test_cmp_rules() -> None:
    assert c1._cmp(3, 10) == "faster"
    assert c1._cmp(10, 3) == "not-faster"
    assert c1._cmp(5, 5) == "not-faster"
    assert c1._cmp(None, 3) == "not-faster"
    assert c1._cmp(3, None) == "faster"
    assert c1._cmp(None, None) == "undecidable"
    assert c1._cmp(1, 2) == "undecidable"  # greedy-step regime


def test_equal_step_protocol_verdicts() -> None:
    grid = [0.1, 1.0, 10.0]
    pg = c1.Series({eta: _fake(_decay(30)) for eta in grid})
    fast = c1.Series({eta: _fake(_decay(10)) for eta in grid})
    slow = c1.Series({eta: _fake(_decay(50)) for eta in grid})
    mixed = c1.Series({0.1: _fake(_decay(10)), 1.0: _fake(_decay(50)), 10.0: _fake(_decay(10))})
    never = c1.Series({eta: _fake([1.0] * 60, "max_iterations") for eta in grid})
    pg_never = c1.Series({eta: _fake([1.0] * 60, "max_iterations") for eta in grid})
    assert c1._equal_step("r1-grad", COND, fast, pg, grid, 1e-3).verdict == "holds"
    assert c1._equal_step("r1-grad", COND, slow, pg, grid, 1e-3).verdict == "fails"
    res = c1._equal_step("r1-grad", COND, mixed, pg, grid, 1e-3)
    assert res.verdict == "fails" and res.measured["faster_at"] == [0.1, 10.0]
    assert c1._equal_step("r1-grad", COND, never, pg_never, grid, 1e-3).verdict == "inconclusive"


def test_tuned_protocol_verdicts_and_edges() -> None:
    pg = c1.Series({0.1: _fake(_decay(40)), 1.0: _fake(_decay(30)), 10.0: _fake(_decay(35))})
    fast = c1.Series({0.1: _fake(_decay(30)), 1.0: _fake(_decay(10)), 10.0: _fake(_decay(20))})
    slow = c1.Series({0.1: _fake(_decay(60 - 1)), 1.0: _fake(_decay(45)), 10.0: _fake(_decay(50))})
    assert c1._tuned("m", COND, fast, pg, 1e-3).verdict == "holds"
    assert c1._tuned("m", COND, slow, pg, 1e-3).verdict == "fails"
    # the method's best step on the upper edge: it might do better with a larger step
    edge = c1.Series({0.1: _fake(_decay(55)), 1.0: _fake(_decay(50)), 10.0: _fake(_decay(45))})
    r = c1._tuned("m", COND, edge, pg, 1e-3)
    assert r.verdict == "inconclusive" and "edge" in r.evidence["reason"]
    # both converge in one greedy step: undecidable
    greedy = c1.Series({1.0: _fake(_decay(1))})
    assert c1._tuned("m", COND, greedy, c1.Series({1.0: _fake(_decay(1))}), 1e-3).verdict == "inconclusive"


def test_effective_step_protocol() -> None:
    m = c1.Series({1.0: _fake(_decay(10), eff=5.0)})
    pg = c1.Series({1.0: _fake(_decay(40)), 5.0: _fake(_decay(8))})
    r = c1._effective("r1-grad", COND, m, pg, 5.0, 1e-3)
    assert r.verdict == "fails" and r.measured["T_pg_at_effective"] == 8
    pg2 = c1.Series({1.0: _fake(_decay(40)), 5.0: _fake(_decay(20))})
    assert c1._effective("r1-grad", COND, m, pg2, 5.0, 1e-3).verdict == "holds"
    assert c1._effective("r1-grad", COND, m, pg2, None, 1e-3).verdict == "inconclusive"


def _series(method: str, damping: float | None, steps: list[float]) -> c1.Series:
    return c1.Series(
        {
            eta: Run.from_record(
                run_method(
                    run_task("mei_bandit", method, eta, 400, params={"init": "bad"}, damping=damping,
                             theta0="instance").config
                )
            )
            for eta in steps
        }
    )  # fmt: skip


def test_c1_on_a_real_instance_can_fail_and_hold() -> None:
    """On the plateau bandit: r1-grad with λ = 10 is PG with the step divided by ≈ 10, so at equal nominal
    step it must lose; with λ = 1e-3 and small nominal steps its effective step is ~1000× larger and it wins."""
    big = [30.0, 100.0, 300.0]
    pg = _series("pg", None, big)
    eps = 1e-1 * float(pg.runs[30.0].gap[0])
    assert c1._equal_step("r1-grad", COND, _series("r1-grad", 10.0, big), pg, big, eps).verdict == "fails"
    small = [0.03, 0.1, 0.3]
    pg_small = _series("pg", None, small)
    light = _series("r1-grad", 1e-3, small)
    assert c1._equal_step("r1-grad", COND, light, pg_small, small, eps).verdict == "holds"


def test_pi_steps_from_start_counts_policy_iteration() -> None:
    assert c1.pi_steps_from_start(c1.Family("x", "li_chain", {"H": 5, "gamma": 0.9}, "uniform", 10)) == 5
    assert c1.pi_steps_from_start(c1.Family("y", "mei_bandit", {"init": "bad"}, "instance", 10)) == 1


def test_step_grid_and_extension() -> None:
    grid = c1.step_grid(True)
    assert grid[0] == 0.01 and grid[-1] == 100.0 and len(grid) == 9
    assert c1._extend(100.0, True) == 1000.0 and c1._extend(0.01, False) == 0.001


def test_ascent_assess_holds_and_fails() -> None:
    from proofs_checks import ascent

    good = c1.Series({1.0: _fake([1.0, 0.5, 0.1, 1e-5])})
    d, m = ascent.assess("pg", {"family": "t"}, good, 1e-3)
    assert d.verdict == "holds" and m.verdict == "holds"
    bad_dir = c1.Series({1.0: _fake([1.0, 0.5, 0.1, 1e-5], eff=-0.1)})
    assert ascent.assess("r1-same", {}, bad_dir, 1e-3)[0].verdict == "fails"
    non_monotone = c1.Series({1.0: _fake([1.0, 0.5, 0.7, 1e-5])})
    m2 = ascent.assess("r1-same", {}, non_monotone, 1e-3)[1]
    assert m2.verdict == "fails" and "iterate 1" in m2.evidence["reason"]


def test_run_tasks_accept_a_parametrisation() -> None:
    """One-hot log-linear runs reproduce tabular runs; a random-feature run is a different (dense-Fisher) run."""
    base = {"params": {"S": 4, "A": 3, "gamma": 0.9, "seed": 3}, "damping": 1e-2}
    tab = Run.from_record(run_method(run_task("random", "r1-precond", 0.5, 30, **base).config))
    hot = Run.from_record(
        run_method(run_task("random", "r1-precond", 0.5, 30, param={"kind": "log-linear-onehot"}, **base).config)
    )
    np.testing.assert_allclose(hot.J, tab.J, atol=1e-13)
    dense = Run.from_record(
        run_method(
            run_task("random", "r1-precond", 0.5, 30, param={"kind": "log-linear", "k": 12, "seed": 0}, **base).config
        )
    )
    assert dense.theta.shape == (12,)
    assert np.max(np.abs(dense.J - tab.J)) > 1e-6
    neural = Run.from_record(
        run_method(
            run_task(
                "random", "pg", 0.5, 30, params=base["params"], param={"kind": "neural", "hidden": [5], "seed": 1}
            ).config
        )
    )
    assert np.all(np.diff(neural.J) > -1e-12)


def test_by_parametrisation_pairs_families_on_the_same_mdp_and_lists_differences() -> None:
    from proofs_checks.result import CheckResult

    def res(family: str, param: dict[str, object] | None, method: str, lam: float, verdict: str) -> CheckResult:
        seed = 2 if family == "other-mdp" else 1
        cond = {"family": family, "instance": "random", "params": {"S": 3, "seed": seed}, "theta0": "uniform",
                "protocol": "tuned", "damping": lam, "epsilon": "tight", "param": param}  # fmt: skip
        return CheckResult(c1.CLAIM, "", method, cond, {}, {}, verdict)

    ll = {"kind": "log-linear", "k": 9, "seed": 0}
    results = [
        res("tab", None, "r1-grad", 0.1, "holds"),
        res("tab", None, "r1-same", 0.1, "holds"),
        res("ll", ll, "r1-grad", 0.1, "holds"),
        res("ll", ll, "r1-same", 0.1, "fails"),
        res("other-mdp", ll, "r1-grad", 0.1, "fails"),  # no tabular twin: not paired
    ]
    lines = c1.by_parametrisation(results)
    body = [x for x in lines if x.startswith("- ")]
    assert len(body) == 1
    assert "`tab` (tabular) vs `ll` (log-linear k=9): verdicts agree in 1 of 2 cells" in body[0]
    assert "0 of 0 at the loose ε, 1 of 2 at the tight ε" in body[0]
    assert "changes tabular→log-linear: `r1-same` ✓→✗ ×1" in body[0]
    assert "r1-grad" not in body[0]
    assert c1.by_parametrisation(results[:2]) == []  # nothing to compare
    assert "tabular softmax vs a dense-Fisher parametrisation" in c1.summarize(results)
