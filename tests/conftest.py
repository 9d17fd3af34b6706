"""Shared fixtures: hypothesis profiles, seeded MDP instances and DENSE reference builders.

The reference builders below never call the engine routine they are used to check: they work
from the definitions (power series, score outer products, finite differences, value iteration,
numpy dense linear algebra). Tests get them through the session fixture ``ref``.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import r1theory as r1
from proofs_checks import plugins

# ---------------------------------------------------------------------------------------------
# Hypothesis profiles: "ci" (default, derandomised) and "long" (HYPOTHESIS_PROFILE=long).
# ---------------------------------------------------------------------------------------------
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=50,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=2000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# ---------------------------------------------------------------------------------------------
# Dense references, built from the definitions
# ---------------------------------------------------------------------------------------------
class Reference:
    """Independent dense reference computations (float64, small instances only)."""

    @staticmethod
    def random_mdp(
        seed: int, S: int, A: int, gamma: float, *, sparse: bool = False, rho_full: bool = True
    ) -> r1.TabularMDP:
        """A random MDP from a seed; dense rows have every probability ≥ ~0.05/S."""
        rng = np.random.default_rng(seed)
        W = rng.random((S, A, S)) + 0.05
        if sparse:
            W = W * (rng.random((S, A, S)) < 0.4)
            W[np.arange(S)[:, None], np.arange(A)[None, :], rng.integers(0, S, size=(S, A))] += 1.0
        P = W / W.sum(axis=-1, keepdims=True)
        r = rng.random((S, A))
        rho = rng.random(S) + (0.1 if rho_full else 0.0)
        return r1.TabularMDP(P, r, gamma, rho / rho.sum())

    @staticmethod
    def unreachable_mdp(absorbing: bool) -> r1.TabularMDP:
        """3 states, 2 actions; state 2 has ρ(2) = 0 and no transition from states 0, 1 leads to it.

        So d(2) = 0 for every policy. With ``absorbing=False`` state 2 leads back into {0, 1}.
        """
        P = np.zeros((3, 2, 3))
        P[0, 0] = [1.0, 0.0, 0.0]
        P[0, 1] = [0.5, 0.5, 0.0]
        P[1, 0] = [0.5, 0.5, 0.0]
        P[1, 1] = [0.0, 1.0, 0.0]
        if absorbing:
            P[2, :, 2] = 1.0
        else:
            P[2, 0] = [1.0, 0.0, 0.0]
            P[2, 1] = [0.2, 0.6, 0.2]
        r = np.array([[1.0, 0.0], [0.0, 0.5], [0.3, 0.7]])
        return r1.TabularMDP(P, r, 0.9, [0.5, 0.5, 0.0])

    @staticmethod
    def naive_softmax(theta: np.ndarray) -> np.ndarray:
        """exp(θ − max θ)/Σ exp(θ − max θ) per row (only the max-shift; no log-sum-exp)."""
        z = np.exp(theta - theta.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    @staticmethod
    def markov_chain(mdp: r1.TabularMDP, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P_π[s, s'] = Σ_a π(a|s) P[s, a, s'] and r_π(s) = Σ_a π(a|s) r(s, a), by explicit loops."""
        S, A = mdp.S, mdp.A
        P_pi = np.zeros((S, S))
        r_pi = np.zeros(S)
        for s in range(S):
            for a in range(A):
                P_pi[s] += pi[s, a] * mdp.P[s, a]
                r_pi[s] += pi[s, a] * mdp.r[s, a]
        return P_pi, r_pi

    @staticmethod
    def power_series(mdp: r1.TabularMDP, pi: np.ndarray, tol: float = 1e-14) -> tuple[np.ndarray, np.ndarray]:
        """V = Σ_t γ^t P_π^t r_π and d = (1−γ) Σ_t γ^t ρᵀP_π^t, truncated after T terms.

        The tail after T terms is at most γ^T/(1−γ)·max|r_π| for V and γ^T for d (P_π is
        stochastic), so T = ⌈log(tol(1−γ)) / log γ⌉ makes both tails ≤ tol·max(1, max|r|).
        """
        P_pi, r_pi = Reference.markov_chain(mdp, pi)
        g = mdp.gamma
        T = 1 if g == 0.0 else math.ceil(math.log(tol * (1.0 - g)) / math.log(g)) + 1
        V = np.zeros(mdp.S)
        occ = np.zeros(mdp.S)
        Pt_r = r_pi.copy()  # P_π^t r_π
        rho_Pt = mdp.rho.copy()  # ρᵀ P_π^t
        w = 1.0
        for _ in range(T):
            V += w * Pt_r
            occ += w * rho_Pt
            Pt_r = P_pi @ Pt_r
            rho_Pt = rho_Pt @ P_pi
            w *= g
        return V, (1.0 - g) * occ

    @staticmethod
    def score_vectors(pi: np.ndarray) -> np.ndarray:
        """U[(s, a), :] = u_{s,a} = e_{(s,a)} − Σ_b π(b|s) e_{(s,b)} in R^{S·A} (row-major)."""
        S, A = pi.shape
        n = S * A
        U = np.zeros((n, n))
        for s in range(S):
            for a in range(A):
                U[s * A + a, s * A + a] += 1.0
                for b in range(A):
                    U[s * A + a, s * A + b] -= pi[s, b]
        return U

    @staticmethod
    def sample_weights(d: np.ndarray, pi: np.ndarray) -> np.ndarray:
        """w[(s, a)] = d(s) π(a|s), flat (S·A,)."""
        return (d[:, None] * pi).ravel()

    @staticmethod
    def fisher_dense(d: np.ndarray, pi: np.ndarray) -> np.ndarray:
        """F = Σ_{s,a} d(s) π(a|s) u_{s,a} u_{s,a}ᵀ, the average of score outer products."""
        U = Reference.score_vectors(pi)
        w = Reference.sample_weights(d, pi)
        F = np.zeros((U.shape[1], U.shape[1]))
        for k in range(U.shape[0]):
            F += w[k] * np.outer(U[k], U[k])
        return F

    @staticmethod
    def J(mdp: r1.TabularMDP, theta: np.ndarray) -> float:
        """J(θ) = ρ·V^{softmax θ}, V by a dense solve of (I − γP_π)V = r_π."""
        P_pi, r_pi = Reference.markov_chain(mdp, Reference.naive_softmax(theta))
        V = np.linalg.solve(np.eye(mdp.S) - mdp.gamma * P_pi, r_pi)
        return float(mdp.rho @ V)

    @staticmethod
    def fd_gradient(mdp: r1.TabularMDP, theta: np.ndarray, h: float = 1e-5) -> np.ndarray:
        """Central differences (J(θ + h e) − J(θ − h e))/(2h) of J(θ) = evaluate(mdp, softmax(θ)).J."""
        grad = np.zeros_like(theta)
        for idx in np.ndindex(theta.shape):
            e = np.zeros_like(theta)
            e[idx] = h
            jp = r1.evaluate(mdp, r1.softmax(theta + e)).J
            jm = r1.evaluate(mdp, r1.softmax(theta - e)).J
            grad[idx] = (jp - jm) / (2 * h)
        return grad

    @staticmethod
    def advantage(mdp: r1.TabularMDP, pi: np.ndarray) -> np.ndarray:
        """A^π(s, a) = Q − V with V from a dense solve and Q = r + γ P V (no cancellation control)."""
        P_pi, r_pi = Reference.markov_chain(mdp, pi)
        V = np.linalg.solve(np.eye(mdp.S) - mdp.gamma * P_pi, r_pi)
        Q = mdp.r + mdp.gamma * np.einsum("sat,t->sa", mdp.P, V)
        return Q - V[:, None]

    @staticmethod
    def occupancy(mdp: r1.TabularMDP, pi: np.ndarray) -> np.ndarray:
        """d = (1−γ) (I − γP_π)^{-T} ρ by a dense solve."""
        P_pi, _ = Reference.markov_chain(mdp, pi)
        return (1.0 - mdp.gamma) * np.linalg.solve((np.eye(mdp.S) - mdp.gamma * P_pi).T, mdp.rho)

    @staticmethod
    def value_iteration(mdp: r1.TabularMDP, tol: float = 1e-13, max_iter: int = 1_000_000) -> np.ndarray:
        """V* by value iteration V ← max_a (r + γ P V) until the sup-norm change is ≤ tol(1−γ)."""
        V = np.zeros(mdp.S)
        for _ in range(max_iter):
            V_new = (mdp.r + mdp.gamma * np.einsum("sat,t->sa", mdp.P, V)).max(axis=1)
            if np.max(np.abs(V_new - V)) <= tol * (1.0 - mdp.gamma):
                return V_new
            V = V_new
        raise AssertionError("value iteration did not converge")

    @staticmethod
    def sm_dense(u: np.ndarray, lam: float) -> np.ndarray:
        """inv(λI + u uᵀ) by numpy.linalg.inv."""
        return np.linalg.inv(lam * np.eye(u.size) + np.outer(u, u))

    @staticmethod
    def centred(x: np.ndarray) -> np.ndarray:
        """Subtract each row's (state's) uniform mean."""
        return x - x.mean(axis=1, keepdims=True)


# ---------------------------------------------------------------------------------------------
# Seeded instances
# ---------------------------------------------------------------------------------------------
#: (seed, S, A, gamma) of the seeded instances used by the deterministic tests.
INSTANCES = [
    (0, 1, 2, 0.0),
    (1, 1, 4, 0.5),
    (2, 2, 2, 0.9),
    (3, 3, 3, 0.9),
    (4, 4, 2, 0.95),
    (5, 5, 4, 0.8),
    (6, 3, 5, 0.99),
]


def _instance_id(p: tuple[int, int, int, float]) -> str:
    return f"seed{p[0]}-S{p[1]}A{p[2]}-g{p[3]}"


@pytest.fixture(params=INSTANCES, ids=_instance_id)
def instance(request: pytest.FixtureRequest) -> tuple[r1.TabularMDP, np.ndarray]:
    """A seeded MDP with full support and a moderate θ (entries N(0, 1)): well-conditioned F."""
    seed, S, A, gamma = request.param
    mdp = Reference.random_mdp(seed, S, A, gamma)
    theta = np.random.default_rng(1000 + seed).normal(size=(S, A))
    return mdp, theta


@pytest.fixture(scope="session")
def ref() -> Iterator[type[Reference]]:
    """The dense reference builders (session scoped, so usable inside @given tests)."""
    yield Reference


# ---------------------------------------------------------------------------------------------
# Plugins (tests/test_plugins.py, tests/test_cli_plugins.py)
# ---------------------------------------------------------------------------------------------
PLUGIN = '''\
"""A test plugin: registers one catalog instance."""
import numpy as np

import r1theory as r1
import tabular_mdps


@tabular_mdps.register("{name}", summary="a two-state chain from a plugin", source="tests", used_by="tests",
                       provenance="standard")
def chain(*, gamma: float = 0.9) -> tabular_mdps.Built:
    """Action 0 stays, action 1 moves; reward 1 for moving out of state 0."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[1, 0, 1] = P[0, 1, 1] = P[1, 1, 0] = 1.0
    r = np.array([[0.0, 1.0], [0.2, 0.0]])
    return tabular_mdps.Built(r1.TabularMDP(P, r, gamma, np.array([0.5, 0.5])))
'''


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch):
    """Plugins loaded by a test stay out of the catalog, the plugin record and sys.modules of later tests."""
    from tabular_mdps import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(plugins, "_LOADED", {})
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("r1theory_plugin_"):
            del sys.modules[name]


def plugin_file(folder: Path) -> tuple[Path, str]:
    """Write a plugin file registering a uniquely named instance; return (path, instance name)."""
    name = f"plugin_chain_{uuid.uuid4().hex[:8]}"
    path = folder / f"{name}.py"
    path.write_text(PLUGIN.format(name=name))
    return path, name


def full_support_mdp(seed: int = 0, S: int = 4, A: int = 3, gamma: float = 0.8) -> r1.TabularMDP:
    """A seeded MDP with every P[s, a, s'] ≥ ~0.05/S and ρ > 0 (the sampler and estimator tests' instance)."""
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S)) + 0.05
    P /= P.sum(axis=-1, keepdims=True)
    rho = rng.random(S) + 0.1
    return r1.TabularMDP(P, rng.random((S, A)), gamma, rho / rho.sum())


@pytest.fixture
def method_registry() -> Iterator[None]:
    """Methods a test registers (directly or through a plugin) are gone afterwards; the built-ins stay."""
    import r1theory.methods  # noqa: F401  (the module, for its registry)

    methods = sys.modules["r1theory.methods"]

    saved = dict(methods._REGISTRY)
    yield
    methods._REGISTRY.clear()
    methods._REGISTRY.update(saved)


# ---------------------------------------------------------------------------------------------
# A real `r1theory verify` in a subprocess (tests/test_resume.py, tests/test_interrupt.py)
# ---------------------------------------------------------------------------------------------
def start_verify(
    out: Path, claim: str, *options: str, jobs: int = 1, stderr: Path | None = None, session: bool = False
) -> subprocess.Popen[bytes]:
    """Start ``python -m r1theory_cli verify --only CLAIM --out OUT --jobs N --no-progress OPTIONS``.

    Its stderr goes to the file ``stderr`` (a file, not a pipe: a killed run's orphans could hold a pipe
    open), or to a pipe when None. ``session``: in a new session (so its own process group), as a
    scheduler or a terminal runs it; the run's processes are then :func:`session_processes` of its pid.
    """
    cmd = [sys.executable, "-m", "r1theory_cli", "verify", "--only", claim, "--out", str(out), "--jobs", str(jobs)]
    cmd += ["--no-progress", *options]
    if stderr is None:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=session)
    with stderr.open("wb") as err:  # the child has its own copy
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, start_new_session=session)


def cache_files(out: Path) -> list[Path]:
    """The finished results in ``out/cache`` (temporary files of a writer in progress excluded)."""
    if not (out / "cache").exists():
        return []
    return sorted(p for p in (out / "cache").rglob("*.npz") if not p.name.startswith(".tmp-"))


def session_processes(sid: int, mention: str | None = None) -> dict[int, str]:
    """Live processes (zombies excluded) of session ``sid``, or whose command line contains ``mention``.

    Read from /proc (Linux): ``{pid: command line}``. Orphans keep their session when re-parented to
    init, so this finds a killed run's leftovers whatever their parent now is.
    """
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # exited meanwhile
            continue
        # pid (comm) state ppid pgrp session ...; comm may hold spaces and parentheses
        state, _ppid, _pgrp, session = stat.rpartition(")")[2].split()[:4]
        if state != "Z" and (int(session) == sid or (mention is not None and mention in cmdline)):
            found[int(entry.name)] = cmdline
    return found
