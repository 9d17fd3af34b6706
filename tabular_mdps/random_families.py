r"""Seeded random families: dense random MDPs, Garnet MDPs with exact branching, random bandits.

Every family takes an explicit integer ``seed`` (``numpy.random.default_rng(seed)``; the same seed
gives the same arrays bit for bit, on any machine with the same numpy) and draws rewards
r(s, a) ~ U[0, 1), the range all classic constants assume (Mei et al. 2020, Assumption 1).
``min_gap`` (default None) makes the optimal action of every state unique with Q*-gap ≥ min_gap,
by the construction of :mod:`tabular_mdps.gaps` (the optimal policy is unchanged).

Garnet (Archibald, McKinnon & Thomas 1995; Bhatnagar, Sutton, Ghavamzadeh & Lee 2009)
--------------------------------------------------------------------------------------
In our words: Archibald, McKinnon & Thomas (1995, J. Oper. Res. Soc. 46, "On the generation of
Markov decision processes") studied how to generate random MDP test problems whose structure is
set by a few parameters; the resulting family is known as GARNET ("Generic Average Reward
Non-stationary Environment Testbed"), and Bhatnagar, Sutton, Ghavamzadeh & Lee (2009,
Automatica 45, "Natural actor-critic algorithms") used it as Garnet(n, m, b, σ): n states,
m actions and a *branching factor* b. For every state-action pair, b distinct successor states
are chosen uniformly at random without replacement, and the probabilities of moving to them are
the lengths of the b pieces obtained by cutting [0, 1] at b − 1 independent uniform points
(uniform spacings, i.e. a Dirichlet(1, ..., 1) vector); every other state has probability 0.
Their rewards were random numbers with spread σ (Gaussian, as we recall it; not checked against
the paper). Here rewards are U[0, 1) per (s, a), so that r ∈ [0, 1]: a deliberate deviation.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from r1theory import TabularMDP

from ._checks import check_int, check_real, check_seed
from ._types import Array
from .gaps import check_min_gap, enforce_min_gap
from .registry import Built, register

__all__ = ["garnet", "random_bandit", "random_mdp", "uniform_spacings"]


def uniform_spacings(rng: np.random.Generator, b: int) -> Array:
    """Probabilities from cutting [0, 1] at ``b − 1`` uniform points: b strictly positive numbers, sum 1.

    A spacing is exactly 0 only if a cut point is drawn twice or equals 0.0 (probability ~1e-16 per
    draw); such a draw is repeated, so the result is strictly positive.
    """
    while True:
        cuts = np.sort(rng.random(b - 1))
        w = np.diff(np.concatenate(([0.0], cuts, [1.0])))
        if np.all(w > 0.0):
            return w / w.sum()


def _finish(P: Array, r: Array, gamma: float, rho: Array, min_gap: float | None) -> TabularMDP:
    mdp = TabularMDP(P, r, gamma, rho)
    return mdp if min_gap is None else enforce_min_gap(mdp, min_gap)


def random_mdp(
    S: int = 5, A: int = 3, *, gamma: float = 0.9, seed: int = 0, min_gap: float | None = None
) -> TabularMDP:
    r"""Dense random MDP: every row P(·|s, a) ~ Dirichlet(1, ..., 1) (uniform on the simplex).

    r(s, a) ~ U[0, 1), ρ uniform (so μ(s) > 0, Mei et al.'s Assumption 2). Draw order: P, then r.

    Parameters
    ----------
    S, A
        Numbers of states and actions (≥ 1).
    gamma
        Discount in [0, 1).
    seed
        Explicit integer seed of ``numpy.random.default_rng``.
    min_gap
        None, or m ∈ (0, 1): guarantee a unique optimal action per state with Q*-gap ≥ m.
    """
    S = check_int(S, "S", 1)
    A = check_int(A, "A", 1)
    g = check_real(gamma, "gamma", 0.0, 1.0)
    m = check_min_gap(min_gap)
    rng = check_seed(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A)) if S > 1 else np.ones((1, A, 1))
    r = rng.random((S, A))
    return _finish(P, r, g, np.full(S, 1.0 / S), m)


def garnet(
    S: int = 10,
    A: int = 3,
    branching: int = 2,
    *,
    gamma: float = 0.9,
    seed: int = 0,
    min_gap: float | None = None,
    sparse: bool = False,
) -> TabularMDP:
    r"""Garnet(S, A, b) MDP: exactly ``branching`` distinct successors with positive probability per (s, a).

    For each (s, a) in row-major order: successors ~ ``rng.choice(S, b, replace=False)``, then the
    probabilities are :func:`uniform_spacings` (see the module docstring for the definition). Then
    r(s, a) ~ U[0, 1). ρ is uniform. Hence ``np.count_nonzero(P[s, a]) == branching`` for every
    (s, a), also after ``min_gap`` (which changes only r).

    Parameters
    ----------
    S, A
        Numbers of states and actions (≥ 1).
    branching
        b, with 1 ≤ b ≤ S.
    gamma, seed, min_gap
        As in :func:`random_mdp`.
    sparse
        Build ``P`` directly as a sparse (S·A, S) CSR matrix in O(S·A·b) time and memory (for large
        S, e.g. S = 100,000): successors are drawn for all (s, a) at once (rows with a repeated
        successor are redrawn), then uniform spacings and rewards as above. The distribution is the
        same Garnet(S, A, b), but the random stream differs from the dense construction, so
        ``garnet(..., sparse=True)`` and ``garnet(...)`` with the same seed are different MDPs.
    """
    S = check_int(S, "S", 1)
    A = check_int(A, "A", 1)
    b = check_int(branching, "branching", 1)
    if b > S:
        raise ValueError(f"branching must be <= S (distinct successors); got branching={b}, S={S}")
    g = check_real(gamma, "gamma", 0.0, 1.0)
    m = check_min_gap(min_gap)
    rng = check_seed(seed)
    if sparse:
        return _finish(_sparse_garnet_P(rng, S, A, b), rng.random((S, A)), g, np.full(S, 1.0 / S), m)
    P = np.zeros((S, A, S))
    for s in range(S):
        for a in range(A):
            succ = rng.choice(S, size=b, replace=False)
            P[s, a, succ] = uniform_spacings(rng, b)
    r = rng.random((S, A))
    return _finish(P, r, g, np.full(S, 1.0 / S), m)


def _sparse_garnet_P(rng: np.random.Generator, S: int, A: int, b: int) -> scipy.sparse.csr_array:
    """The (S·A, S) CSR transition matrix of a Garnet, vectorised over all (s, a) rows."""
    n = S * A
    succ = rng.integers(0, S, size=(n, b))
    while True:  # redraw rows with a repeated successor (rare when b ≪ S)
        srt = np.sort(succ, axis=1)
        dup = np.any(srt[:, 1:] == srt[:, :-1], axis=1)
        if not dup.any():
            break
        succ[dup] = rng.integers(0, S, size=(int(dup.sum()), b))
    cuts = np.sort(rng.random((n, b - 1)), axis=1)
    probs = np.diff(np.concatenate([np.zeros((n, 1)), cuts, np.ones((n, 1))], axis=1), axis=1)
    order = np.argsort(succ, axis=1)
    cols = np.take_along_axis(succ, order, axis=1)
    vals = np.take_along_axis(probs, order, axis=1)
    return scipy.sparse.csr_array((vals.ravel(), cols.ravel(), np.arange(0, n * b + 1, b)), shape=(n, S))


def random_bandit(A: int = 5, *, seed: int = 0, min_gap: float | None = None) -> TabularMDP:
    r"""Random K-armed bandit as an MDP: one state, γ = 0, r(0, a) ~ U[0, 1), P = 1, ρ = (1,).

    With γ = 0, V^π = π^T r and Q*(0, a) = r(a): this is the setting of Mei et al. 2020, §1.1
    (Update 1). ``min_gap`` makes the best arm unique with r(a*) − max_{a≠a*} r(a) ≥ min_gap.
    """
    A = check_int(A, "A", 1)
    m = check_min_gap(min_gap)
    rng = check_seed(seed)
    r = rng.random((1, A))
    return _finish(np.ones((1, A, 1)), r, 0.0, np.ones(1), m)


_RANDOM_SOURCE = "generated; Dirichlet(1) rows (uniform on the simplex)"


@register(
    "random",
    summary="dense random MDP: P(·|s,a) ~ Dirichlet(1), r ~ U[0,1), ρ uniform",
    source=_RANDOM_SOURCE,
    used_by="generic checks of Mei et al. 2020 Thm 4 / Lemma 8, AKM Thm 5.3, Xiao Thms 8/10 (random instances)",
    provenance="standard",
)
def _random_entry(*, S: int = 5, A: int = 3, gamma: float = 0.9, seed: int = 0, min_gap: float | None = None) -> Built:
    """Dense random MDP; see :func:`tabular_mdps.random_families.random_mdp`."""
    return Built(random_mdp(S, A, gamma=gamma, seed=seed, min_gap=min_gap))


@register(
    "garnet",
    summary="Garnet(S, A, b): exactly b distinct successors per (s, a), uniform-spacing probabilities",
    source="Archibald, McKinnon & Thomas 1995 (JORS 46); Bhatnagar, Sutton, Ghavamzadeh & Lee 2009 (Automatica 45)",
    used_by="random sparse instances for every rate check (mismatch coefficients grow as b shrinks)",
    provenance="standard",
)
def _garnet_entry(
    *,
    S: int = 10,
    A: int = 3,
    branching: int = 2,
    gamma: float = 0.9,
    seed: int = 0,
    min_gap: float | None = None,
    sparse: bool = False,
) -> Built:
    """Garnet MDP; see :func:`tabular_mdps.random_families.garnet` and the module docstring."""
    return Built(garnet(S, A, branching, gamma=gamma, seed=seed, min_gap=min_gap, sparse=sparse))


@register(
    "bandit",
    summary="random A-armed bandit (one state, γ = 0), r ~ U[0,1)",
    source="generated; the bandit setting of Mei et al. 2020 §3",
    used_by="Mei et al. 2020 Lemmas 3-4, Thms 2-3 and 9 (bandit rates); Mei et al. 2021 GNPG",
    provenance="standard",
)
def _bandit_entry(*, A: int = 5, seed: int = 0, min_gap: float | None = None) -> Built:
    """Random bandit; see :func:`tabular_mdps.random_families.random_bandit`."""
    return Built(random_bandit(A, seed=seed, min_gap=min_gap))
