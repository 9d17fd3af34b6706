"""Stochastic runs of many configurations and seeds of one MDP in lockstep: the batched :func:`stochastic_iterate`.

A sample-complexity study (C2, issue #18) runs hundreds of stochastic runs — methods × steps × batches ×
seeds — of one small MDP, each for hundreds of iterations whose cost is interpreter and small-array
dispatch: a run of :func:`r1theory.stochastic_iterate` on a 4-state MDP spends ≈ 0.3–0.5 ms per iteration
on a few dozen numpy calls of a few dozen elements. :func:`stochastic_iterate_batch` steps R runs
together. Per iteration, for all runs still running:

* one batched exact evaluation of the R policies (:mod:`r1theory.batch`, the home of the batched evaluation):
  in full (:func:`r1theory.batch.batch_policy_point`: J, the gap and ‖∇J‖²) for the rows that record θ_t, and
  for the others only what the next step needs — π, and V for the exact-value baseline
  (:func:`r1theory.batch.policy_values`: one triangular solve, no visitation, no gradient; the same π and V bit
  for bit, so how often a run records changes none of its iterates);
* the episodes of every run — its B gradient episodes, those of a fitted baseline, and the pairs
  (s, a) ∼ d × π its preconditioner draws — sampled by **one** vectorised walk
  (:meth:`r1theory.TabularSampler.walk`) over the R policies' inverse-CDF tables side by side;
* the gradient estimates of all runs by the estimator's own functions (:mod:`r1theory.estimators`), and
  each method's direction for all its runs at once (Sherman–Morrison per distinct λ, the sampled Fisher
  blocks by one stacked solve);
* each run's step η_t (``constant``, ``normalized``, ``inverse-sqrt`` vectorised; any other
  :class:`~r1theory.steps.StepRule` called run by run).

Same seeds, same numbers
------------------------
Run i equals ``stochastic_iterate(mdp, theta0_i, method_i, step_i, iterations_i,
numpy.random.default_rng(seeds[i]), batch=B_i, damping=λ_i, ...)``: the same samples, so the same
transition and episode counts exactly, the same status and message, and J, gap and ‖∇J‖² equal to
rounding. This holds because every random number of a run is a uniform of its own generator, used in
the documented layout of :mod:`r1theory.sampler` ("layout": the lengths, then one block per episode),
whatever the other runs draw: each run's uniforms are read from its own generator, ahead in blocks
(:class:`r1theory.sampler.UniformStreams`), and mapped through the same inverse-CDF code as the single
run. What differs is rounding only: the batched LU (no pivoting; :mod:`r1theory.batch`) gives V, Q, d
and J a few units in the last place away from the single evaluation, and sums over a batch may be
ordered differently; the exact-value baseline and the recorded quantities inherit that, θ moves by
ulps, and a sampled action or next state could differ only if a uniform fell within those ulps of a
cumulative probability (probability ~1e-16 per draw). tests/test_stochastic_batch.py checks the counts
exactly and the histories to 1e-12 of each quantity's scale plus the two evaluations' rounding floors
(its docstring; observed on its instance: J within 2e-15, ‖∇J‖² within 4e-14, relative).

A run does not depend on what shares its batch, bit for bit: each run's sums (its gradient mean, its
episodes' suffix sums) run over its own samples in its own order, and the batched evaluation of a policy
does not depend on the other rows. So a sweep may cache runs one by one, whichever batch computed them.

A generator passed in ``seeds`` is advanced further than the single run would advance it (the streams
read ahead); an int or a SeedSequence makes a fresh generator, as ``numpy.random.default_rng`` does.

Mixed configurations. Runs may mix methods, steps, dampings, batch sizes B and iteration counts (C2 runs
every configuration to one episode budget, so T = budget // B differs). A run that has done its
iterations, or diverged, leaves the batch; the others go on. Rows are not regrouped by method: each
method's direction is computed on the index set of its rows.

Scope. Dense MDPs and the tabular softmax (as :func:`r1theory.iterate_batch`); the built-in stochastic
methods ``sgd-pg``, ``npg-sample``, ``r1-sample-same`` and ``r1-sample-independent`` (a plugin's stochastic
method raises a ValueError: run it with :func:`r1theory.stochastic_iterate`); every estimator
(``one-sample``, ``reinforce``, ``gpomdp``), baseline (None, ``"value"``, ``"fitted"``) and horizon of
:func:`r1theory.stochastic_iterate`.

Cost. An iteration is a fixed number of numpy calls plus a walk whose length is the longest
episode of the whole batch (≈ log(RB)/log(1/γ) steps for geometric lengths: ~30 for 64 runs of B = 16 at
γ = 0.8): ~15 calls per step while many episodes run, then one gather per step through successor tables
(:meth:`r1theory.TabularSampler.walk`). On C2's 4-state MDP with 64 runs (benchmarks/bench_stochastic_batch.py)
that is ≈ 1.0 ms per iteration, 15 µs per run-iteration against ≈ 320 µs in
:func:`r1theory.stochastic_iterate` (the single run shares the walk's successor tables and the sampler, so
it gets faster with them; the walk's step-by-step head, its row gathers by ``policy_index`` and the streams
are the batch's own): by a profile the walk ≈ 40 %, the directions ≈ 13 %, the batched evaluation ≈ 13 %,
the stream bookkeeping (reserving and indexing the uniforms, refilling the buffers — a third of it the
generators' own cost) ≈ 11 %, the estimator (suffix sums, per-run means) ≈ 9 %, the rest the steps and
records. All of it is numpy dispatch at this size, so more runs per batch cost little more per run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._types import Array, IntArray
from .batch import _batch_policy_point, _batch_policy_values, _softmax_rows
from .batch_iterates import _check_theta0
from .estimators import (
    _episodic_coefficients,
    _fit_episodic,
    _last_pairs,
    _one_sample_from,
    _per_state_mean,
    _run_means,
    check_estimator,
)
from .evaluation import Optimal, optimal
from .mdp import TabularMDP
from .methods import Method, get_method
from .sampler import (
    Episodes,
    TabularSampler,
    UniformStreams,
    _draw,
    _exclusive_cumsum,
    check_count,
    geometric_from_uniforms,
)
from .sherman_morrison import _mv as sherman_morrison_mv
from .steps import InverseSqrt, StepRule, as_step_rule
from .stochastic import StochasticRun, fisher_counts_solve

__all__ = ["stochastic_iterate_batch"]

#: One configuration: (method, step — a positive constant or a StepRule —, damping λ or None, batch B).
StochasticConfig = tuple[str, StepRule | float, float | None, int]

BoolArray = NDArray[np.bool_]

#: The stochastic methods with a batched form here (their directions: :func:`_directions`).
_BATCHED = ("sgd-pg", "npg-sample", "r1-sample-same", "r1-sample-independent")

#: Uniforms buffered for all runs together (8 bytes each: 32 MiB), unless one request needs more.
_STREAM_BUDGET = 1 << 22

#: Step kinds evaluated vectorised (η, η/‖D‖, η/√(t+1)); rules of other classes are called run by run.
_KIND_CODE = {"constant": 0, "normalized": 1, "inverse-sqrt": 2}


@dataclass(frozen=True)
class _Config:
    method: Method
    lam: float
    rule: StepRule
    batch: int
    iterations: int


def _check_configs(configs: Any, iterations: Any) -> list[_Config]:
    """Each configuration checked; errors name ``configs[i]`` or ``iterations[i]`` and the fix."""
    if isinstance(configs, str | bytes) or not isinstance(configs, Sequence):
        raise TypeError(
            f"configs must be a sequence of (method, step, damping, batch) tuples; got {type(configs).__name__}"
        )
    n = len(configs)
    if isinstance(iterations, Sequence) and not isinstance(iterations, str | bytes):
        if len(iterations) != n:
            raise ValueError(f"iterations must be one int or one per configuration ({n}); got {len(iterations)}")
        its = [check_count(v, f"iterations[{i}]", minimum=0) for i, v in enumerate(iterations)]
    elif isinstance(iterations, np.ndarray) and iterations.ndim == 1:
        return _check_configs(configs, list(iterations))
    else:
        its = [check_count(iterations, "iterations", minimum=0)] * n
    out = []
    for i, cfg in enumerate(configs):
        if isinstance(cfg, str | bytes) or not isinstance(cfg, Sequence) or len(cfg) != 4:
            raise ValueError(f"configs[{i}] must be a (method, step, damping, batch) tuple; got {cfg!r}")
        name, step, damping, batch = cfg
        try:
            method = get_method(name, stochastic=True)
            lam = method.check_damping(damping)
            rule = as_step_rule(step)
            B = check_count(batch, "batch")
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"configs[{i}]: {exc}") from None
        if method.name not in _BATCHED:
            raise ValueError(
                f"configs[{i}]: stochastic_iterate_batch has no batched form of method {method.name!r} (it runs "
                f"{', '.join(_BATCHED)}); run it with r1theory.stochastic_iterate"
            )
        out.append(_Config(method, lam, rule, B, its[i]))
    return out


def _check_every(record_every: Any, n: int) -> IntArray:
    """``record_every`` as one int ≥ 1 per configuration (one int for all, or a sequence of n)."""
    if isinstance(record_every, Sequence | np.ndarray) and not isinstance(record_every, str | bytes):
        if len(record_every) != n:
            raise ValueError(f"record_every must be one int or one per configuration ({n}); got {len(record_every)}")
        return np.array([check_count(v, f"record_every[{i}]") for i, v in enumerate(record_every)], dtype=np.int64)
    return np.full(n, check_count(record_every, "record_every"), dtype=np.int64)


def _check_seeds(seeds: Any, n: int) -> list[np.random.Generator]:
    """One generator per configuration from an int, a SeedSequence or a Generator (distinct objects)."""
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Sequence | np.ndarray):
        raise TypeError(f"seeds must be a sequence with one seed per configuration; got {type(seeds).__name__}")
    if len(seeds) != n:
        raise ValueError(f"seeds must have one entry per configuration ({n}); got {len(seeds)}")
    out = []
    for i, seed in enumerate(seeds):
        ok = isinstance(seed, np.random.SeedSequence | np.random.Generator) or (
            isinstance(seed, int | np.integer) and not isinstance(seed, bool | np.bool_) and seed >= 0
        )
        if not ok:
            raise TypeError(
                f"seeds[{i}] must be an int >= 0, a numpy.random.SeedSequence or a numpy.random.Generator; got {seed!r}"
            )
        out.append(np.random.default_rng(seed))
    seen: dict[int, int] = {}
    for i, g in enumerate(out):
        j = seen.setdefault(id(g), i)
        if j != i:
            raise ValueError(
                f"seeds[{i}] is the same Generator object as seeds[{j}]; give every run its own generator "
                "(e.g. SeedSequence(root).spawn(n)), since one generator cannot reproduce two single runs"
            )
    return out


@dataclass
class _Samples:
    """One iteration's samples for the active rows: gradient estimates, Fisher pairs, sample counts."""

    gradient: Array  # (R, S, A) ĝ of each row
    first_s: IntArray  # (R,) the Fisher pair of each row's first gradient sample
    first_a: IntArray
    pair_s: IntArray  # the extra pairs (s, a) ∼ d × π, grouped by row
    pair_a: IntArray
    pair_run: IntArray
    transitions: IntArray  # (R,)
    episodes: IntArray  # (R,)


class _Sampler:
    """The sampling of one iteration for all active rows, in each run's documented layout of uniforms."""

    def __init__(
        self,
        sampler: TabularSampler,
        streams: UniformStreams,
        estimator: str,
        baseline: str | None,
        horizon: int | None,
    ) -> None:
        self.sampler = sampler
        self.streams = streams
        self.estimator = estimator
        self.baseline = baseline
        self.horizon = horizon
        self.gamma = sampler.mdp.gamma
        self.first_pairs = True  # whether the gradient samples' Fisher pairs are needed (r1-sample-same)
        self._layout_for: IntArray | None = None  # the rows array the cached layout below belongs to
        self._run_g = self._run_p = self._start = self._start_p = self._run_entry = np.zeros(0, dtype=np.int64)
        self._b_ext = np.zeros((1, sampler.mdp.S))
        self._run_all = self._episodes = np.zeros(0, dtype=np.int64)
        self._B_equal = self._pairs_equal = False

    def _lengths(self, rows: IntArray, B: IntArray, run: IntArray) -> tuple[IntArray, IntArray | None]:
        """The episode lengths of one gradient batch per row (and T₁ for one-sample), from each row's stream."""
        n = run.size
        g = self.gamma
        if self.estimator == "one-sample":
            u = self.streams.take(rows, 2 * B)  # per row: B uniforms for T₁, then B for T₂
            start = _exclusive_cumsum(B)
            i1 = 2 * start[run] + (np.arange(n, dtype=np.int64) - start[run])
            T1 = geometric_from_uniforms(u.take(i1), g) - 1
            T2 = geometric_from_uniforms(u.take(i1 + B[run]), g)
            return T1 + T2, T1
        if self.horizon is None:
            return geometric_from_uniforms(self.streams.take(rows, B, equal=self._B_equal), g), None
        return np.full(n, self.horizon, dtype=np.int64), None

    def _blocks(
        self, rows: IntArray, L: IntArray, run: IntArray, start: IntArray, per_row: IntArray, extra: int
    ) -> tuple[IntArray, IntArray]:
        """Reserve each episode's block of 1 + 2L (+ ``extra``) uniforms in its row's stream.

        Row j's ``per_row[j]`` episodes are ``start[j]:start[j] + per_row[j]`` (``run`` the row of each).
        Returns the blocks' stream positions and each row's number of transitions Σ L.
        """
        size = 2 * L + (1 + extra)
        at = np.zeros(size.size + 1, dtype=np.int64)  # where each block starts in the concatenation of all
        np.cumsum(size, out=at[1:])
        before = at[start]
        counts = at[start + per_row] - before  # each row's uniforms
        first = (self.streams.reserve(rows, counts) - before)[run] + at[:-1]  # row's position + offset within it
        return first, (counts - (1 + extra) * per_row) // 2

    def draw(self, rows: IntArray, B: IntArray, pairs: IntArray, pi: Array, V: Array | None) -> _Samples:
        """Gradient batches of B[j] samples and ``pairs[j]`` extra pairs (s, a) ∼ d × π for every active row j."""
        R, S, _ = pi.shape
        sampler, streams = self.sampler, self.streams
        cdf = sampler.policy_tables(pi)
        fitted = self.baseline == "fitted"
        if self._layout_for is not rows:  # the rows changed: each episode's row, each row's first sample
            self._layout_for = rows
            self._run_g = np.repeat(np.arange(R, dtype=np.int64), B)
            self._run_p = np.repeat(np.arange(R, dtype=np.int64), pairs)
            self._start = _exclusive_cumsum(B)
            self._start_p = _exclusive_cumsum(pairs)
            # the row of every episode of the walk, pair episodes (never fitted ones) in an extra bin R
            self._run_entry = np.concatenate([self._run_g, np.full(self._run_p.size, R, dtype=np.int64)])
            self._b_ext = np.zeros((R + 1, S))  # the rows' baselines and a zero row R for the pair episodes
            # the row of every episode of the walk, in its order: gradient, [fitted,] pair episodes
            self._run_all = np.concatenate([self._run_g] * (2 if fitted else 1) + [self._run_p])
            self._episodes = B * (2 if fitted else 1) + pairs  # each row's episodes per iteration
            self._B_equal = bool(B.min() == B.max())  # equal batches: the lengths' uniforms as one block
            self._pairs_equal = bool(pairs.size and pairs.min() == pairs.max())
        run_g, run_p, start = self._run_g, self._run_p, self._start
        n_g = run_g.size
        # the uniforms, in each run's order: gradient lengths, gradient blocks, [fitted lengths, fitted blocks],
        # pair lengths, pair blocks (the order of stochastic_direction: gradient_sample, then the method's draws).
        # The blocks are used in place in the streams' buffer: reserved now, indexed after the last reservation.
        streams.release(rows)
        L_g, T1_g = self._lengths(rows, B, run_g)
        first_g, transitions = self._blocks(rows, L_g, run_g, start, B, 0)
        Ls, starts = [L_g], [first_g]
        if fitted:
            L_f, T1_f = self._lengths(rows, B, run_g)
            first_f, tr_f = self._blocks(rows, L_f, run_g, start, B, 0)
            Ls.append(L_f)
            starts.append(first_f)
            transitions += tr_f
        n_p = run_p.size
        if n_p:
            T_p = geometric_from_uniforms(streams.take(rows, pairs, equal=self._pairs_equal), self.gamma) - 1
            first_p, tr_p = self._blocks(rows, T_p, run_p, self._start_p, pairs, 1)  # + the final action's uniform
            Ls.append(T_p)
            starts.append(first_p)
            transitions += tr_p
        # one walk for every episode of every row, reading the uniforms where they lie: stream position p of
        # row j is flat index p + shift[j] (streams.index, formed once per row)
        run_all = self._run_all
        shift = streams.index(rows, np.zeros(R, dtype=np.int64))
        first = np.concatenate(starts) + shift[run_all]
        u = streams.flat
        ep = sampler.walk(cdf, np.concatenate(Ls), u, first, policy_index=run_all, horizon=self.horizon)
        # an episodic gradient without a fitted baseline is formed on the whole walk, the pair episodes' entries
        # summed into an extra row R that is dropped (:func:`_run_means`); otherwise on the gradient episodes alone
        whole = not fitted and self.estimator != "one-sample"
        ep_g = ep if whole else _subset(ep, 0, n_g)
        if fitted:
            ep_f = _subset(ep, n_g, n_g)
        # the baseline b (R, S)
        if self.baseline == "value":
            assert V is not None
            b = V
        elif fitted and self.estimator == "one-sample":
            assert T1_f is not None
            s_f, _, R_f = _one_sample_from(ep_f, T1_f)
            b = _per_state_mean(s_f, R_f, S, run_g, R)
        elif fitted:
            b = _fit_episodic(ep_f, S, run_g, R)
        else:
            b = np.zeros((R, S))
        # per-sample estimates and each sample's Fisher pair
        # ĝ of each row: the mean over its B samples of c·u, summed over its own entries only (module docstring)
        if self.estimator == "one-sample":
            assert T1_g is not None
            s_g, a_g, R_g = _one_sample_from(ep_g, T1_g)
            c = (R_g - b[run_g, s_g]) / (1.0 - self.gamma)
            gradient = _run_means(pi, s_g, a_g, c, run_g, B)
            s_first, a_first = s_g[start], a_g[start]
        else:
            entry_run = (self._run_entry if whole else run_g).take(ep_g.episode)  # the row of each entry
            if whole:
                self._b_ext[:R] = b
                b = self._b_ext
            cell = entry_run * S + ep_g.states  # the entry's (row, state) cell
            c = _episodic_coefficients(ep_g, self.estimator, b, cell=cell)
            gradient = _run_means(pi, ep_g.states, ep_g.actions, c, entry_run, B, cell=cell)
            if self.first_pairs:  # each row's first gradient episode's last pair
                s_first, a_first = _last_pairs(ep_g, start)
            else:  # no r1-sample-same row: the Fisher pairs of the gradient samples are not used
                s_first = a_first = np.zeros(R, dtype=np.int64)
        if n_p:
            lo = n_g * (2 if fitted else 1)
            s_p = ep.final_states[lo:]
            a_p = _draw(cdf, s_p + run_p * S, u.take(first[lo:] + 1 + 2 * T_p))
        else:
            s_p = a_p = np.zeros(0, dtype=np.int64)
        return _Samples(gradient, s_first, a_first, s_p, a_p, run_p, transitions, self._episodes)


def _subset(ep: Episodes, lo: int, n: int) -> Episodes:
    """The episodes lo..lo+n−1 of a walk, renumbered from 0 (their entries keep their order)."""
    if lo == 0 and n == ep.n:
        return ep
    keep = (ep.episode >= lo) & (ep.episode < lo + n)
    return Episodes(
        episode=ep.episode[keep] - lo,
        time=ep.time[keep],
        states=ep.states[keep],
        actions=ep.actions[keep],
        rewards=ep.rewards[keep],
        lengths=ep.lengths[lo : lo + n],
        start_states=ep.start_states[lo : lo + n],
        final_states=ep.final_states[lo : lo + n],
        gamma=ep.gamma,
        horizon=ep.horizon,
    )


@dataclass(frozen=True)
class _Plan:
    """How the active rows' directions are computed: index sets per method and per λ, rebuilt when rows leave.

    ``rank1`` holds the rows of both V4 forms (one Sherman–Morrison call per distinct λ serves them all),
    ``rank1_same`` marks those whose u is the first gradient sample's pair (else the row's own extra pair).
    """

    sgd: IntArray
    npg: IntArray
    rank1: IntArray
    rank1_same: BoolArray
    rank1_groups: list[tuple[float, IntArray]]  # (λ, positions in rank1)
    pair_start: IntArray  # index of each row's first extra pair (pairs are grouped by row)
    pairs: IntArray
    rank1_indep: IntArray  # positions in rank1 of the independent form
    rank1_own: IntArray  # their rows' own extra pair (index into the pairs)
    # the same row sets as indexers: a slice when the rows are consecutive (views, not gathered copies)
    sgd_sel: IntArray | slice
    npg_sel: IntArray | slice
    rank1_sel: IntArray | slice


def _selector(rows: IntArray) -> IntArray | slice:
    """``rows`` as a slice when consecutive (indexing by it then takes a view, not a copy), else as is."""
    if rows.size and int(rows[-1]) - int(rows[0]) + 1 == rows.size:
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


def _plan(names: list[str], key: IntArray, lam: Array, pairs: IntArray) -> _Plan:
    same, indep = names.index("r1-sample-same"), names.index("r1-sample-independent")
    rank1 = np.flatnonzero((key == same) | (key == indep))
    lam1 = lam[rank1]
    sgd, npg = np.flatnonzero(key == names.index("sgd-pg")), np.flatnonzero(key == names.index("npg-sample"))
    return _Plan(
        sgd=sgd,
        npg=npg,
        rank1=rank1,
        rank1_same=key[rank1] == same,
        rank1_groups=[(v, np.flatnonzero(lam1 == v)) for v in np.unique(lam1).tolist()],
        pair_start=_exclusive_cumsum(pairs),
        pairs=pairs,
        rank1_indep=np.flatnonzero(key[rank1] != same),
        rank1_own=_exclusive_cumsum(pairs)[rank1[key[rank1] != same]],
        sgd_sel=_selector(sgd),
        npg_sel=_selector(npg),
        rank1_sel=_selector(rank1),
    )


def _directions(
    plan: _Plan, names: list[str], key: IntArray, pi: Array, smp: _Samples, lam: Array, idx: IntArray
) -> Array:
    """Every active row's sampled direction D̂, method by method on the index set of its rows.

    ``r1-sample-*``: (λI + uuᵀ)⁻¹ĝ by :class:`r1theory.ShermanMorrison`, u = e_a − π_s on block s of the row's
    Fisher pair; ``npg-sample``: the blockwise solve of :func:`r1theory.stochastic.fisher_counts_solve` on the
    row's m pair counts.
    """
    g = smp.gradient
    R, S, A = pi.shape
    out = np.empty_like(g)
    out[plan.sgd_sel] = g[plan.sgd_sel]
    rows = plan.rank1
    if rows.size:
        s, a = smp.first_s[rows], smp.first_a[rows]  # the first gradient sample's pair (r1-sample-same)
        indep, own = plan.rank1_indep, plan.rank1_own  # the row's own extra pair (r1-sample-independent)
        s[indep], a[indep] = smp.pair_s[own], smp.pair_a[own]
        n = rows.size
        u = np.zeros((n, S, A))
        # e_a − π_s on block s: the row a of scores(π_s), formed as that one row (the same subtractions)
        u[np.arange(n), s] = np.eye(A).take(a, axis=0) - pi.reshape(R * S, A).take(rows * S + s, axis=0)
        flat_u, flat_g = u.reshape(n, S * A), g[plan.rank1_sel].reshape(n, S * A)
        if len(plan.rank1_groups) == 1:  # one λ for all (row by row the same arithmetic, without the copies)
            d = sherman_morrison_mv(flat_u, plan.rank1_groups[0][0], flat_g)  # ShermanMorrison.mv, unchecked
        else:
            d = np.empty((n, S * A))
            for value, sel in plan.rank1_groups:
                d[sel] = sherman_morrison_mv(flat_u[sel], value, flat_g[sel])
        out[plan.rank1_sel] = d.reshape(n, S, A)
    if plan.npg.size:
        C = np.bincount((smp.pair_run * S + smp.pair_s) * A + smp.pair_a, minlength=R * S * A).reshape(R, S, A)
        npg = plan.npg_sel
        out[npg] = fisher_counts_solve(pi[npg], C[npg].astype(np.float64), plan.pairs[npg], g[npg], lam[npg])
    if np.isnan(out).any():
        j = int(np.flatnonzero(np.isnan(out).any(axis=(1, 2)))[0])
        raise ValueError(f"configs[{int(idx[j])}]: method {names[key[j]]!r}: direction returned NaN at a finite θ")
    return out


class _Records:
    """Per-field history buffers (records, configurations) and the number of records of each configuration."""

    def __init__(self, rows: int, n: int) -> None:
        self.J = np.empty((rows, n))
        self.g2 = np.empty((rows, n))
        self.t = np.empty((rows, n), dtype=np.int64)
        self.tr = np.empty((rows, n), dtype=np.int64)
        self.ep = np.empty((rows, n), dtype=np.int64)
        self.count = np.zeros(n, dtype=np.int64)

    def add(self, cols: IntArray, t: int, J: Array, g2: Array, tr: IntArray, ep: IntArray) -> None:
        k = self.count[cols]
        self.J[k, cols] = J
        self.g2[k, cols] = g2
        self.t[k, cols] = t
        self.tr[k, cols] = tr
        self.ep[k, cols] = ep
        self.count[cols] = k + 1


def stochastic_iterate_batch(
    mdp: TabularMDP,
    theta0: Any,
    configs: Sequence[StochasticConfig],
    iterations: int | Sequence[int],
    seeds: Sequence[int | np.random.SeedSequence | np.random.Generator],
    *,
    estimator: str = "one-sample",
    baseline: str | None = None,
    horizon: int | None = None,
    fisher_batch: int | None = None,
    optimum: Optimal | None = None,
    record_every: int | Sequence[int] = 1,
) -> list[StochasticRun]:
    """Run R stochastic runs of :func:`r1theory.stochastic_iterate` on one MDP in lockstep; one run per configuration.

    Run i performs θ_{t+1} = θ_t + η_t D̂_t with method_i's sampled direction D̂ (batch B_i, damping λ_i) and
    step rule_i, drawing every random number from ``default_rng(seeds[i])``, and equals
    ``stochastic_iterate(mdp, theta0_i, method_i, step_i, iterations_i, numpy.random.default_rng(seeds[i]),
    batch=B_i, damping=λ_i, estimator=estimator, baseline=baseline, horizon=horizon,
    fisher_batch=fisher_batch, optimum=optimum, record_every=record_every)``: the same sample counts and
    status, J, gap and ‖∇J‖² to rounding (module docstring).

    Parameters
    ----------
    mdp
        A dense :class:`r1theory.TabularMDP` shared by every run.
    theta0
        Initial logits: shape (S, A), shared, or (R, S, A), one per configuration.
    configs
        R tuples ``(method, step, damping, batch)``: a method of :data:`r1theory.STOCHASTIC_METHODS` with a
        batched form (the four built-ins), a positive constant or a :class:`r1theory.steps.StepRule` (e.g.
        :func:`r1theory.steps.inverse_sqrt`), λ (None for ``sgd-pg``), and the batch size B ≥ 1.
    iterations
        The number of updates T ≥ 0: one int for every run, or one per configuration.
    seeds
        One per configuration: an int ≥ 0, a ``numpy.random.SeedSequence`` or a ``numpy.random.Generator``
        (distinct objects; a generator is advanced further than the single run would, see the module
        docstring).
    estimator, baseline, horizon, fisher_batch, optimum
        As for :func:`r1theory.stochastic_iterate`, shared by every run.
    record_every
        As for :func:`r1theory.stochastic_iterate`: one int for every run, or one per configuration (runs
        of different lengths in one batch, each recorded at its own resolution).

    Returns
    -------
    list[StochasticRun]
        The runs in the order of ``configs``.

    Raises
    ------
    TypeError, ValueError
        For an invalid argument (the message names the field, ``configs[i]`` or ``seeds[i]``), a sparse MDP,
        a stochastic method without a batched form, or a direction that is NaN at a finite θ (as
        :func:`r1theory.stochastic_iterate` raises for that run).
    """
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp must be an r1theory.TabularMDP; got {type(mdp).__name__}")
    if mdp.is_sparse:
        raise ValueError(
            "stochastic_iterate_batch needs a dense MDP (its exact evaluation is one batched dense LU); use "
            "mdp.to_dense() for a small sparse MDP, or r1theory.stochastic_iterate for a large one"
        )
    checked = _check_configs(configs, iterations)
    R = len(checked)
    check_estimator(estimator, baseline, horizon)
    if fisher_batch is not None:
        check_count(fisher_batch, "fisher_batch")
    every_all = _check_every(record_every, R)
    rngs = _check_seeds(seeds, R)
    theta = _check_theta0(mdp, theta0, R)
    if optimum is not None and not isinstance(optimum, Optimal):
        raise TypeError(f"optimum must be an r1theory.Optimal (from r1theory.optimal(mdp)) or None; got {optimum!r}")
    for i, c in enumerate(checked):
        if c.method.name == "r1-sample-same" and horizon is not None and c.iterations > 0:
            raise ValueError(
                f"configs[{i}]: r1-sample-same needs geometric termination (horizon=None): only then is the "
                "gradient's own Fisher pair distributed as d × π"
            )
    if R == 0:
        return []
    opt = optimum if optimum is not None else optimal(mdp)

    names = list(_BATCHED)
    key_all = np.array([names.index(c.method.name) for c in checked], dtype=np.int64)
    T_all = np.array([c.iterations for c in checked], dtype=np.int64)
    B_all = np.array([c.batch for c in checked], dtype=np.int64)
    lam_all = np.array([c.lam for c in checked], dtype=np.float64)
    eta_all = np.array([c.rule.eta for c in checked], dtype=np.float64)
    kind_all = np.array(
        [_KIND_CODE[c.rule.kind] if type(c.rule) in (StepRule, InverseSqrt) else -1 for c in checked], dtype=np.int64
    )
    # extra pairs (s, a) ∼ d × π per iteration: m for npg-sample, 1 for r1-sample-independent
    m_all = np.zeros(R, dtype=np.int64)
    for i, c in enumerate(checked):
        if c.method.name == "npg-sample":
            m_all[i] = c.batch if fisher_batch is None else fisher_batch
        elif c.method.name == "r1-sample-independent":
            m_all[i] = 1
    n_records = np.array(
        [1 + T // e + (T % e != 0) for T, e in zip(T_all.tolist(), every_all.tolist(), strict=True)], dtype=np.int64
    )
    every = int(every_all[0]) if R and bool(np.all(every_all == every_all[0])) else 0  # 0: one per row
    rec = _Records(int(n_records.max()), R)
    final_theta: list[Array | None] = [None] * R
    status = ["max_iterations"] * R
    message = [f"reached the cap of {c.iterations} iterations" for c in checked]

    # a stream block lasts ~16 iterations (a refill costs one generator call per run), within 32 MiB for all
    # the runs' buffers (a request larger than a block widens them, as it must)
    gamma = mdp.gamma
    mean_length = (1.0 + gamma) / (1.0 - gamma) if estimator == "one-sample" else 1.0 / (1.0 - gamma)
    if horizon is not None:
        mean_length = float(horizon)
    per_episode = 3.0 + 2.0 * mean_length  # its length(s), s₀ and two uniforms per transition
    expected = float(np.max((B_all * (2 if baseline == "fitted" else 1) + m_all) * per_episode))
    streams = UniformStreams(rngs, block=int(max(1024, min(16 * expected, _STREAM_BUDGET // R))))
    draws = _Sampler(TabularSampler(mdp), streams, estimator, baseline, horizon)

    # Between records a row needs π (its samples and direction) and, with the exact-value baseline, V — not d,
    # Q, A, J or ∇J: those rows are evaluated by the V-only path (one triangular solve, no visitation), the
    # recording rows in full. Both give π and V bit for bit as the full evaluation of the whole batch would, and
    # row b of either does not depend on the other rows (r1theory.batch), so the runs are unchanged by the split.
    need_V = baseline == "value"

    def values(th: Array) -> tuple[Array, Array | None]:
        """π, and V when the baseline needs it, of the rows θ (no visitation, no gradient)."""
        if need_V:
            _, p, v = _batch_policy_values(mdp, th)
            return p, v
        return _softmax_rows(th)[1], None

    def records(th: Array) -> tuple[Array, Array, Array, Array]:
        """π, V, J and ‖∇J‖² of the rows θ, by the full batched evaluation."""
        full = _batch_policy_point(mdp, th)
        return full.pi, full.ev.V, full.ev.J, np.einsum("bsa,bsa->b", full.gradient, full.gradient)

    idx = np.arange(R, dtype=np.int64)
    n_tr = np.zeros(R, dtype=np.int64)
    n_ep = np.zeros(R, dtype=np.int64)
    pi, V_all, J0, g2 = records(theta)
    rec.add(idx, 0, J0, g2, n_tr, n_ep)
    last_t = np.zeros(R, dtype=np.int64)  # the last recorded t of each active row
    for j in np.flatnonzero(T_all == 0).tolist():
        final_theta[j] = theta[j].copy()
    live = np.flatnonzero(T_all > 0)
    idx, theta, pi, n_tr, n_ep, last_t = idx[live], theta[live], pi[live], n_tr[live], n_ep[live], last_t[live]
    V: Array | None = V_all[live] if need_V else None  # the exact-value baseline's V of the active rows

    t = 0
    plan_for = np.zeros(0, dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # non-finite rows are detected and stopped
        while idx.size:
            if plan_for.size != idx.size:  # rows left: the per-row settings change (rows only ever leave)
                key, B, lam, pairs, T = key_all[idx], B_all[idx], lam_all[idx], m_all[idx], T_all[idx]
                every_row = every_all[idx]
                kind, eta0 = kind_all[idx], eta_all[idx]
                normalized, decreasing, custom = kind == 1, kind == 2, np.flatnonzero(kind < 0).tolist()
                any_normalized, any_decreasing = bool(normalized.any()), bool(decreasing.any())
                plan, plan_for, next_end = _plan(names, key, lam, pairs), idx, int(T.min())
                draws.first_pairs = bool(plan.rank1_same.any())
            smp = draws.draw(idx, B, pairs, pi, V)
            n_tr += smp.transitions
            n_ep += smp.episodes
            dirn = _directions(plan, names, key, pi, smp, lam, idx)
            eta = eta0  # the step rule's η_t, vectorised by kind (constant: η)
            if any_normalized:
                norm = np.sqrt(np.einsum("bsa,bsa->b", dirn, dirn))
                eta = np.where(normalized, np.where(norm > 0, eta / np.where(norm > 0, norm, 1.0), 0.0), eta)
            if any_decreasing:
                eta = np.where(decreasing, eta / math.sqrt(t + 1), eta)
            if custom:
                eta = eta.copy()
                for j in custom:
                    eta[j] = checked[int(idx[j])].rule(t, dirn[j])
            new_theta = theta + eta[:, None, None] * dirn
            if not np.isfinite(new_theta).all():  # some row is not finite (per row only then)
                finite = np.isfinite(new_theta).all(axis=(1, 2))
                bad = np.flatnonzero(~finite)
                fresh = bad[last_t[bad] != t]  # stochastic_iterate records θ_t once more unless t is recorded
                if fresh.size:
                    _, _, Jf, g2f = records(theta[fresh])
                    rec.add(idx[fresh], t, Jf, g2f, n_tr[fresh], n_ep[fresh])
                for j in bad.tolist():
                    i = int(idx[j])
                    status[i], message[i] = "diverged", f"non-finite θ after step {t} (η={eta[j]:.3g})"
                    final_theta[i] = theta[j].copy()
                keep = np.flatnonzero(finite)
                idx, n_tr, n_ep, last_t = idx[keep], n_tr[keep], n_ep[keep], last_t[keep]
                new_theta = new_theta[keep]
                if not idx.size:
                    break
                T, every_row = T[keep], every_row[keep]  # the other settings are rebuilt at the top (plan_for)
                next_end = int(T.min())
            theta = new_theta
            t += 1
            if every and t % every == 0:  # every row records θ_t
                sel = None
            elif every == 0 or t == next_end:  # rows at a multiple of their resolution or their last iteration
                sel = np.flatnonzero(T == t) if every else np.flatnonzero((t % every_row == 0) | (T == t))
            else:
                sel = idx[:0]
            if sel is None or sel.size == idx.size:  # every row records: one full evaluation
                pi, Vr, Jr, g2r = records(theta)
                rec.add(idx, t, Jr, g2r, n_tr, n_ep)
                last_t[:] = t
                V = Vr if need_V else None
            else:
                pi, V = values(theta)
                if sel.size:
                    _, _, Jr, g2r = records(theta[sel])
                    rec.add(idx[sel], t, Jr, g2r, n_tr[sel], n_ep[sel])
                    last_t[sel] = t
            if t == next_end:
                done = T == t
                for j in np.flatnonzero(done).tolist():
                    final_theta[int(idx[j])] = theta[j].copy()
                keep = np.flatnonzero(~done)
                idx, n_tr, n_ep, last_t = idx[keep], n_tr[keep], n_ep[keep], last_t[keep]
                theta, pi = theta[keep], pi[keep]
                V = V[keep] if V is not None else None

    runs = []
    for i, c in enumerate(checked):
        k = int(rec.count[i])
        theta_i = final_theta[i]
        assert theta_i is not None
        J = rec.J[:k, i].copy()
        runs.append(
            StochasticRun(
                method=c.method.name,
                estimator=estimator,
                baseline=baseline,
                batch=c.batch,
                damping=None if c.method.name == "sgd-pg" else c.lam,
                horizon=horizon,
                step=c.rule,
                t=rec.t[:k, i].copy(),
                J=J,
                gap=opt.J - J,
                grad_norm_sq=rec.g2[:k, i].copy(),
                transitions=rec.tr[:k, i].copy(),
                episodes=rec.ep[:k, i].copy(),
                theta=theta_i,
                status=status[i],
                message=message[i],
                J_star=opt.J,
            )
        )
    return runs
