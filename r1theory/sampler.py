"""Vectorised Monte-Carlo sampling on a :class:`TabularMDP`: episodes and (s, a) ∼ d × π.

Every draw is an inverse-CDF draw on a precomputed cumulative table, vectorised over episodes
(arrays of current states; no Python loop over episodes, only over time steps):

* the start state s₀ ∼ ρ from the cumulative row of ρ;
* the action aₜ ∼ π(·|sₜ) as a = #{b : C_π(sₜ, b) ≤ U}, U ∼ U[0, 1), with C_π the row-wise
  cumulative sums of π;
* the next state sₜ₊₁ ∼ P(·|sₜ, aₜ) likewise, on the cumulative sums of the nonzero entries of
  P[sₜ, aₜ, :] only (the support is compacted once per MDP, so a draw costs O(k) comparisons with
  k the largest support size, e.g. 3 for FrozenLake, S for a dense MDP; a sparse MDP's CSR rows are
  read directly and never densified).

The last entry of every cumulative row is set to exactly 1 (and so is every entry after the last
positive probability), so a draw never leaves the row and zero-probability outcomes are never
drawn. Rewards are the MDP's expected rewards r(sₜ, aₜ), i.e. a deterministic reward model.

Episode lengths (the number L of actions taken) are fixed before the rollout:

* truncated horizon: L = H for every episode;
* geometric termination: L ∼ Geom(1 − γ) on {1, 2, ...}, P(L > t) = γᵗ, independent of the
  trajectory, drawn by inversion from one uniform, L = 1 + ⌊log(1 − U)/log γ⌋
  (:func:`geometric_from_uniforms`). Then E Σ_{t<L} r(sₜ, aₜ) = Σ_t γᵗ E r(sₜ, aₜ) = V^π(ρ) (undiscounted
  sums are unbiased for discounted values), and the last state s_{L−1} has the law
  Σ_{l≥1} (1−γ)γ^{l−1} Pr(s_{l−1} = s) = d(s), the normalised discounted visitation
  (Szepesvári, RL theory lecture 16; Agarwal et al. 2021, §2).

:meth:`TabularSampler.state_actions` draws (s, a) ∼ d × π directly: run T = L − 1 ∼ Geom₀(1 − γ)
transitions (P(T = t) = (1 − γ)γᵗ, t ≥ 0) and draw a ∼ π(·|s_T); T transitions are consumed.

Reproducibility and the layout of the uniforms
----------------------------------------------
Every random number is a uniform U ∼ U[0, 1) from ``Generator.random`` of the generator passed in,
and the uniforms are used in a fixed layout, so the same generator state gives the same samples:

* lengths first: one uniform per geometric length, in episode order (none for a truncated horizon);
* then episode by episode, a block of 1 + 2L uniforms: U₀ draws s₀ ∼ ρ, U_{1+2t} the action aₜ and
  U_{2+2t} the next state sₜ₊₁ (:meth:`TabularSampler.walk`, which reads episode e's block at
  ``first[e]``); :meth:`~TabularSampler.state_actions` adds one uniform at the end of each block for the
  final action a ∼ π(·|s_T).

Generator.random(m) followed by Generator.random(k) returns the same numbers as Generator.random(m + k)
(each double is made from the bit generator's next raw output(s), nothing is buffered across calls: checked
for PCG64, PCG64DXSM, Philox, SFC64 and MT19937), so how a stream is cut into calls does not
matter: only this layout does. That is what lets :func:`r1theory.stochastic_iterate_batch` read every
run's uniforms from its own generator in large blocks (:class:`UniformStreams`) and walk the episodes of
all runs at once, reproducing each single run. (Before issue #18 the lengths came from
``Generator.geometric`` and the uniforms were drawn time step by time step, so a given seed now gives
other samples than it did then, with the same law.) Rollouts with ``stop_at_absorbing=True`` draw their
uniforms time step by time step (two per running episode), their length being unknown in advance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

from ._types import Array, IntArray
from .evaluation import check_policy
from .mdp import TabularMDP

BoolArray: TypeAlias = NDArray[np.bool_]


def check_rng(rng: Any) -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``; raise ``TypeError`` naming the field otherwise."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(seed)); got {type(rng).__name__}"
        )
    return rng


def check_count(value: Any, field: str, *, minimum: int = 1) -> int:
    """Validate an integer count (batch, episodes, horizon): an int ≥ ``minimum``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise TypeError(f"{field} must be an integer; got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{field} must be an integer >= {minimum}; got {value}")
    return int(value)


def cumulative_rows(probs: Array) -> Array:
    """Row-wise cumulative sums for inverse-CDF draws, with every entry from the last positive one on set to 1.

    For a row p, C(k) = Σ_{j≤k} p_j; then a = #{k : C(k) ≤ U} for U ∼ U[0, 1) has law p: a = k iff
    C(k−1) ≤ U < C(k), an interval of length p_k. Setting C(k) = 1 from the row's last positive
    entry on removes the rounding of the cumulative sum at the end of the row, so U < 1 = C(last)
    always selects an index ≤ last and zero-probability trailing entries are never drawn.
    """
    cdf = np.cumsum(probs, axis=-1)
    positive = probs > 0
    n = probs.shape[-1]
    last = n - 1 - np.argmax(positive[..., ::-1], axis=-1)
    cdf[np.arange(n) >= last[..., None]] = 1.0
    return cdf


def geometric_from_uniforms(u: Array, gamma: float) -> IntArray:
    """Lengths L ∼ Geom(1 − γ) on {1, 2, ...} by inversion: L = 1 + ⌊log(1 − U)/log γ⌋, U ∼ U[0, 1).

    1 − U is uniform on (0, 1], and L > t iff log(1 − U) ≤ t log γ iff 1 − U ≤ γᵗ, which has probability
    γᵗ. Every L is 1 when γ = 0. One uniform per length (:func:`numpy.random.Generator.geometric` uses a
    variable number of raw draws, which a batched reader of the stream could not follow).
    """
    x = np.asarray(u, dtype=np.float64)
    if gamma == 0.0:
        return np.ones(x.shape, dtype=np.int64)
    return np.floor(np.log1p(-x) / math.log(gamma)).astype(np.int64) + 1


def _exclusive_cumsum(x: IntArray) -> IntArray:
    """[0, x₀, x₀ + x₁, ...] (length x.size): where each block of a concatenation of blocks of sizes x starts."""
    out = np.zeros(x.size, dtype=np.int64)
    np.cumsum(x[:-1], out=out[1:])
    return out


#: Rows at most NARROW wide, drawn for at least SMALL episodes at once, are drawn column by column (one
#: gather-compare-add per column); otherwise by a 2-d gather and argmax (the first index with C > u).
#: Both give the same index; the first is faster for narrow rows (measured 1.2–2× at 100–1000 rows of width 3–4,
#: ~7× for 50 000 rows), the second has fewer calls, which wins below ~64 rows.
NARROW = 16
SMALL = 64
#: :meth:`TabularSampler.walk` draws a time step one by one while its K running episodes make K·(S − 1) > TAIL_WORK,
#: and the later steps through successor tables (S candidate states per entry, then one gather per step): a step
#: drawn on its own costs ~15 numpy calls, the tables S − 1 times the draws' element work (measured on 4- to
#: 10-state MDPs: 1.3× faster walks of ~1300 episodes, 2–3× of 8 to 170).
TAIL_WORK = 1024


def _draw(cdf_t: Array, rows: IntArray, u: Array) -> IntArray:
    """Inverse-CDF draw per row: the index #{k : C[rows, k] ≤ u}, vectorised over the rows.

    ``cdf_t`` is the transposed table C (shape (width, rows), each column contiguous) made by
    :func:`cumulative_rows`; its last row is 1 > u, so it is never counted and is skipped.
    """
    width = cdf_t.shape[0]
    if width <= NARROW and rows.size >= SMALL:
        return _count_at_most(lambda k: cdf_t[k].take(rows), width, u)
    return (cdf_t[:, rows] > u).argmax(axis=0)


def _count_at_most(column: Callable[[int], Any], width: int, u: Array) -> IntArray:
    """#{k : C_k ≤ u} per uniform, column by column, for a CDF of ``width`` columns ``column(k)``.

    The last column is 1 > u, so it is never counted and not read: width − 1 comparisons added as integers.
    """
    if width <= 2:
        return (column(0) <= u).astype(np.int64) if width == 2 else np.zeros(u.size, dtype=np.int64)
    out = np.add(column(0) <= u, column(1) <= u, dtype=np.int64)  # a count, not an "or"
    for k in range(2, width - 1):
        np.add(out, column(k) <= u, out=out)
    return out


@dataclass(frozen=True)
class Episodes:
    """A batch of sampled episodes, stored flat in time-major order (one entry per transition).

    Attributes
    ----------
    episode, time, states, actions : (m,) int arrays
        Entry k is the transition of episode ``episode[k]`` at time ``time[k]``: action
        ``actions[k]`` taken in state ``states[k]``. Entries are sorted by time; within a time step the
        episodes come in one order fixed for the batch (by decreasing length for known lengths).
    rewards : (m,) the rewards r(sₜ, aₜ).
    lengths : (n,) the number of actions each episode took (its L; smaller only when
        ``stop_at_absorbing`` ended it early).
    start_states : (n,) s₀ of each episode.
    final_states : (n,) s_L, the state after each episode's last action (s₀ when L = 0).
    gamma : the MDP's discount.
    horizon : H for truncated rollouts, None for geometric termination (or given lengths).
    last_entry : (n,) the entry of each episode's last transition (time L − 1), −1 when L = 0; None when the
        sampler did not record it (:meth:`TabularSampler.walk` does: it finds these entries anyway for
        ``final_states``, so the estimators read an episode's last pair without a search over all entries).
    """

    episode: IntArray
    time: IntArray
    states: IntArray
    actions: IntArray
    rewards: Array
    lengths: IntArray
    start_states: IntArray
    final_states: IntArray
    gamma: float
    horizon: int | None
    last_entry: IntArray | None = field(default=None, compare=False)

    @property
    def n(self) -> int:
        """Number of episodes."""
        return int(self.lengths.size)

    @property
    def transitions(self) -> int:
        """Number of transitions (actions executed), m = Σ lengths."""
        return int(self.episode.size)

    def padded(self) -> tuple[IntArray, IntArray, Array, BoolArray]:
        """Padded (n, T) arrays ``(states, actions, rewards, mask)``, T = max length; padding is 0, mask False."""
        T = int(self.lengths.max()) if self.n else 0
        states = np.zeros((self.n, T), dtype=np.int64)
        actions = np.zeros((self.n, T), dtype=np.int64)
        rewards = np.zeros((self.n, T))
        mask = np.zeros((self.n, T), dtype=bool)
        states[self.episode, self.time] = self.states
        actions[self.episode, self.time] = self.actions
        rewards[self.episode, self.time] = self.rewards
        mask[self.episode, self.time] = True
        return states, actions, rewards, mask


@dataclass(frozen=True)
class StateActions:
    """Independent draws (s, a) ∼ d × π, with the transitions consumed to make them.

    Attributes
    ----------
    states, actions : (n,) the pairs.
    transitions : total transitions executed (Σ T, T ∼ Geom₀(1 − γ); mean γ/(1 − γ) per pair).
    episodes : rollouts started from ρ (one per pair).
    """

    states: IntArray
    actions: IntArray
    transitions: int
    episodes: int


def _compact_rows(mdp: TabularMDP) -> tuple[IntArray, Array, IntArray]:
    """The nonzero next states of every row s·A + a in increasing order, padded: (support, probs, counts).

    ``support`` and ``probs`` have shape (S·A, w), w the largest support; padding is state 0 with
    probability 0. A dense P is compacted by a stable sort of its "is zero" flags; a sparse P (an
    (S·A, S) CSR matrix, when the MDP stores one) is read from its index arrays, never densified.
    """
    S, A = mdp.S, mdp.A
    if getattr(mdp, "is_sparse", False):
        csr: Any = mdp.P
        indptr = np.asarray(csr.indptr, dtype=np.int64)
        counts = np.diff(indptr)
        k = int(counts.max())
        rows = np.repeat(np.arange(S * A), counts)
        pos = np.arange(indptr[-1]) - np.repeat(indptr[:-1], counts)
        order = np.argsort(rows * S + np.asarray(csr.indices), kind="stable")  # increasing next state per row
        support = np.zeros((S * A, k), dtype=np.int64)
        probs = np.zeros((S * A, k))
        support[rows, pos] = np.asarray(csr.indices, dtype=np.int64)[order]
        probs[rows, pos] = np.asarray(csr.data, dtype=np.float64)[order]
        return support, probs, counts.astype(np.int64)
    P = np.asarray(mdp.P).reshape(S * A, S)
    positive = P > 0
    counts = positive.sum(axis=1).astype(np.int64)
    k = int(counts.max())
    order = np.argsort(~positive, axis=1, kind="stable")[:, :k]  # nonzero next states first, increasing
    probs = np.take_along_axis(P, order, axis=1)
    probs[~np.take_along_axis(positive, order, axis=1)] = 0.0
    support = np.where(probs > 0, order, 0).astype(np.int64)
    return support, probs, counts


class TabularSampler:
    """Inverse-CDF tables of one MDP, built once and reused for any policy.

    Parameters
    ----------
    mdp
        The MDP. P's rows are compacted to their nonzero support: ``support[(s·A + a)·w + k]`` is
        the k-th next state with positive probability (w = ``width``, the widest support) and
        ``next_cdf[k, s·A + a]`` the cumulative probability up to it (rows padded with 1). A state
        is *absorbing* when P[s, a, s] = 1 and r(s, a) = 0 for every a: nothing more is earned
        there, so a rollout may stop on entering it.
    """

    def __init__(self, mdp: TabularMDP) -> None:
        if not isinstance(mdp, TabularMDP):
            raise TypeError(f"mdp must be an r1theory.TabularMDP; got {type(mdp).__name__}")
        self.mdp = mdp
        S, A = mdp.S, mdp.A
        support, probs, counts = _compact_rows(mdp)
        k = support.shape[1]
        self.width = k
        self.support: IntArray = support.ravel()  # flat, row-major (S·A, w)
        self.support_rows: IntArray = self.support * A  # the same next states as their first rows s'·A
        # every row's support is all S states in order (a dense P without zeros): the k-th next state is k
        self.full_support = k == S and bool(np.all(support == np.arange(S)))
        self.next_cdf: Array = np.ascontiguousarray(cumulative_rows(probs).T)  # (k, S·A), column per row
        self.start_cdf: Array = cumulative_rows(mdp.rho)
        self.reward: Array = mdp.r.ravel().copy()
        state_of_row = np.arange(S * A) // A
        self_loop = (counts == 1) & (support[:, 0] == state_of_row) & (probs[:, 0] == 1.0)
        self.absorbing: BoolArray = np.all(self_loop.reshape(S, A), axis=1) & np.all(mdp.r == 0.0, axis=1)

    def policy_table(self, pi: Any) -> Array:
        """The inverse-CDF table of a validated policy π (S, A): its cumulative rows, transposed to (A, S)."""
        return np.ascontiguousarray(cumulative_rows(check_policy(self.mdp, pi)).T)

    def policy_tables(self, pi: Array) -> Array:
        """The inverse-CDF tables of R policies π (R, S, A) side by side, shape (A, R·S).

        Column r·S + s is the cumulative row of π_r(·|s), the same numbers as column s of
        ``policy_table(pi[r])``; :meth:`walk` reads policy r's column through ``policy_offset = r·S``. The
        policies are not validated (a batched engine passes softmax policies it has just computed).
        """
        R, S, A = pi.shape
        flat = pi.reshape(R * S, A)
        if A > NARROW or not flat.min() > 0.0:  # a zero (an underflowed softmax entry): the general rule
            return np.ascontiguousarray(cumulative_rows(flat).T)
        # every entry positive: cumulative_rows is the running sum with its last entry set to 1, formed here
        # column by column straight into the transposed layout (the same additions in the same order)
        out = np.empty((A, R * S))
        out[0] = flat[:, 0]
        for k in range(1, A - 1):
            np.add(out[k - 1], flat[:, k], out=out[k])
        out[A - 1] = 1.0
        return out

    def starts(self, n: int, rng: np.random.Generator) -> IntArray:
        """Draw n start states s₀ ∼ ρ."""
        return np.searchsorted(self.start_cdf, rng.random(n), side="right").astype(np.int64)

    def rollout(
        self,
        pi: Any,
        lengths: Any,
        rng: np.random.Generator,
        *,
        stop_at_absorbing: bool = False,
        horizon: int | None = None,
        policy_cdf: Array | None = None,
    ) -> Episodes:
        """Roll out one episode per entry of ``lengths`` (the number of actions each takes).

        Parameters
        ----------
        pi
            Policy (S, A); ignored when ``policy_cdf`` (its :meth:`policy_table`) is given.
        lengths
            (n,) nonnegative integers.
        rng
            The generator all draws come from.
        stop_at_absorbing
            End an episode as soon as it enters an absorbing, reward-free state (its remaining
            rewards are 0, so returns are unchanged; the states visited are not).
        horizon
            Recorded in the result (for truncated rollouts).
        policy_cdf
            The policy's inverse-CDF table (:meth:`policy_table`), to skip rebuilding and revalidating it.
        """
        check_rng(rng)
        cdf_pi = self.policy_table(pi) if policy_cdf is None else policy_cdf
        L = np.asarray(lengths)
        if L.ndim != 1 or not np.issubdtype(L.dtype, np.integer):
            raise TypeError(f"lengths must be a 1-d integer array; got dtype {L.dtype}, shape {L.shape}")
        if L.size and L.min() < 0:
            raise ValueError(f"lengths must be >= 0; got minimum {L.min()}")
        L = L.astype(np.int64)
        n = int(L.size)
        A = self.mdp.A
        if not stop_at_absorbing:
            # lengths are known: one block of 1 + 2L uniforms per episode (module docstring)
            u = rng.random(n + 2 * int(L.sum()))
            return self.walk(cdf_pi, L, u, _exclusive_cumsum(1 + 2 * L), horizon=horizon)
        s0 = self.starts(n, rng)
        final = s0.copy()
        ep_l: list[IntArray] = []
        s_l: list[IntArray] = []
        a_l: list[IntArray] = []
        r_l: list[Array] = []
        if n:
            # an episode may also end on entering an absorbing state: compact the running ones each step
            same_length = bool(L.min() == L.max())
            idx = np.flatnonzero((L > 0) & ~self.absorbing[s0])
            cur = s0[idx]
            t = 0
            while idx.size:
                u = rng.random((2, idx.size))
                a = _draw(cdf_pi, cur, u[0])
                row = cur * A + a
                nxt = self.support[row * self.width + _draw(self.next_cdf, row, u[1])]
                ep_l.append(idx)
                s_l.append(cur)
                a_l.append(a)
                r_l.append(self.reward.take(row))
                t += 1
                if same_length:
                    keep = ~self.absorbing[nxt] if t < L[0] else np.zeros(idx.size, dtype=bool)
                else:
                    keep = (L[idx] > t) & ~self.absorbing[nxt]
                ended = ~keep
                final[idx[ended]] = nxt[ended]
                idx = idx[keep]
                cur = nxt[keep]
        sizes = np.fromiter((e.size for e in ep_l), dtype=np.int64, count=len(ep_l))
        empty = np.zeros(0, dtype=np.int64)
        episode = np.concatenate(ep_l) if ep_l else empty
        return Episodes(
            episode=episode,
            time=np.repeat(np.arange(len(ep_l), dtype=np.int64), sizes),
            states=np.concatenate(s_l) if s_l else empty,
            actions=np.concatenate(a_l) if a_l else empty,
            rewards=np.concatenate(r_l) if r_l else np.zeros(0),
            lengths=np.bincount(episode, minlength=n).astype(np.int64),
            start_states=s0,
            final_states=final,
            gamma=self.mdp.gamma,
            horizon=horizon,
        )

    def walk(
        self,
        policy_cdf: Array,
        lengths: IntArray,
        u: Array,
        first: IntArray,
        *,
        policy_offset: IntArray | None = None,
        policy_index: IntArray | None = None,
        horizon: int | None = None,
    ) -> Episodes:
        """Roll out episode e for ``lengths[e]`` actions from the uniforms ``u[first[e]:first[e] + 1 + 2L_e]``.

        The engine of every rollout with known lengths (module docstring, "layout"): ``u[first[e]]`` draws
        s₀ ∼ ρ, ``u[first[e] + 1 + 2t]`` the action aₜ ∼ π(·|sₜ) and ``u[first[e] + 2 + 2t]`` the next state.
        The episodes are stepped together, one vectorised step per time t over the episodes still running
        (sorted by decreasing length, so those are a prefix); the uniforms are first gathered into that
        time-major order, so a step reads contiguous slices. Once few episodes run (K·(S − 1) ≤
        :data:`TAIL_WORK`), the remaining steps go through successor tables instead: every entry's action and
        next state drawn for each of the S states it could be in, then one gather per step
        (:meth:`_walk_successors`). Both routes make the same comparisons, so they draw the same samples.

        Parameters
        ----------
        policy_cdf
            An inverse-CDF table (A, columns): :meth:`policy_table` of one policy, or
            :meth:`policy_tables` of several side by side.
        lengths
            (n,) int64 numbers of actions, ≥ 0 (not checked).
        u
            Flat uniforms in [0, 1).
        first
            (n,) int64 index in ``u`` of each episode's block.
        policy_offset
            (n,) int64 column offset of each episode's policy in ``policy_cdf`` (r·S for policy r of
            :meth:`policy_tables`); None for one policy.
        policy_index
            (n,) int64 index r of each episode's policy when ``policy_cdf`` is :meth:`policy_tables` of R
            policies: the same as ``policy_offset = r·S`` (give one or neither), and lets the successor
            tables read each policy's S columns as one block (a row gather instead of an element gather).
        horizon
            Recorded in the result.
        """
        L = lengths
        n = int(L.size)
        S, A = self.mdp.S, self.mdp.A
        s0 = self._start_states(u.take(first))
        # running episodes are a prefix at every t (a 16-bit key takes numpy's radix sort)
        order = np.argsort((-L).astype(np.int16) if n and L.max() < 1 << 15 else -L, kind="stable")
        K = (n - np.cumsum(np.bincount(L)))[:-1] if n else np.zeros(0, dtype=np.int64)  # K[t] = #{e : L_e > t}
        T = int(K.size)
        at = _exclusive_cumsum(K)  # where step t's entries start
        total = int(at[-1] + K[-1]) if T else 0
        t_all = np.repeat(np.arange(T, dtype=np.int64), K)
        j_all = np.arange(total, dtype=np.int64) - at[t_all]  # rank of the entry's episode in ``order``
        ep_all = order[j_all]
        pos = first[ep_all] + 2 * t_all + 1
        u_act, u_next = u.take(pos), u.take(pos + 1)
        pol = None if policy_index is None else policy_index[ep_all]
        off = None if policy_offset is None else policy_offset[ep_all]
        Kl, atl = K.tolist(), at.tolist()
        head = 0  # steps 0..head−1 are drawn step by step, the rest through successor tables (docstring)
        while head < T and Kl[head] * (S - 1) > TAIL_WORK:
            head += 1
        parts: list[tuple[IntArray, IntArray, IntArray]] = []  # (states, actions, next states) of each part
        cur = s0[order[: Kl[0]]] if T else s0[:0]
        if head:
            after = Kl[head] if head < T else 0  # episodes running after the last of these steps
            if off is None and pol is not None:  # the head's column offsets r·S only
                off = pol[: atl[head - 1] + Kl[head - 1]] * S
            parts.append(self._walk_steps(policy_cdf, cur, off, u_act, u_next, [*Kl[:head], after], atl[:head]))
            cur = parts[0][2][atl[head - 1] : atl[head - 1] + after]
        if head < T:
            lo = atl[head]
            parts.append(
                self._walk_successors(
                    policy_cdf,
                    cur,
                    None if off is None or pol is not None else off[lo:],
                    u_act[lo:],
                    u_next[lo:],
                    K[head:],
                    t_all[lo:],
                    None if pol is None else pol[lo:],
                )
            )
        if len(parts) == 1:
            states, actions, nxt = parts[0]
        else:  # both parts, or no step at all
            empty = np.zeros(0, dtype=np.int64)
            states, actions, nxt = (np.concatenate([p[i] for p in parts] or [empty]) for i in range(3))
        rewards = self.reward.take(states * A + actions)
        # the final state of an episode of L ≥ 1 steps is the next state of its last entry, (L − 1, its rank)
        final = s0.copy()
        last = np.full(n, -1, dtype=np.int64)
        if T:
            k0 = Kl[0]
            moved = order[:k0]
            lk = at[L[moved] - 1] + np.arange(k0, dtype=np.int64)  # entry (L − 1, rank) of each moved episode
            last[moved] = lk
            final[moved] = nxt[lk]
        return Episodes(
            episode=ep_all,
            time=t_all,
            states=states,
            actions=actions,
            rewards=rewards,
            lengths=L.astype(np.int64, copy=True),
            start_states=s0,
            final_states=final,
            gamma=self.mdp.gamma,
            horizon=horizon,
            last_entry=last,
        )

    def _start_states(self, u: Array) -> IntArray:
        """s₀ = #{s : C_ρ(s) ≤ u} per uniform (column by column for a narrow ρ, else one searchsorted)."""
        c = self.start_cdf
        if c.size > NARROW or u.size < SMALL:
            return np.searchsorted(c, u, side="right").astype(np.int64)
        return _count_at_most(c.__getitem__, c.size, u)

    def _walk_steps(
        self,
        policy_cdf: Array,
        cur: IntArray,
        off: IntArray | None,
        u_act: Array,
        u_next: Array,
        K: list[int],
        at: list[int],
    ) -> tuple[IntArray, IntArray, IntArray]:
        """The first ``len(at)`` time steps, one vectorised step each: (states, actions, next states) of their entries.

        Step t draws for its K[t] entries ``at[t]:at[t] + K[t]`` from the states ``cur`` of the running episodes;
        ``K`` has one more element than ``at`` (the episodes running after the last step).
        """
        A, w = self.mdp.A, self.width
        # states are carried as s·A, the first row s·A + a of their block: then the action's row is one addition
        # away, and the policy table is read at columns (offset + s)·A of a copy spaced A apart
        cols = policy_cdf.shape[1]
        spaced = np.ones((policy_cdf.shape[0], cols * A))
        spaced[:, ::A] = policy_cdf
        support = self.support_rows  # next states as s'·A, flat (S·A, w): entry row·w + k
        s_l: list[IntArray] = []
        a_l: list[IntArray] = []
        n_l: list[IntArray] = []
        cur = cur * A
        offA = None if off is None else off[: at[-1] + K[len(at) - 1]] * A
        for t, lo in enumerate(at):
            hi = lo + K[t]
            a = _draw(spaced, cur if offA is None else cur + offA[lo:hi], u_act[lo:hi])
            row = cur + a
            k = _draw(self.next_cdf, row, u_next[lo:hi])
            nxt = k * A if self.full_support else support.take(row * w + k)  # as s'·A
            s_l.append(cur)
            a_l.append(a)
            n_l.append(nxt)
            cur = nxt[: K[t + 1]]
        return np.concatenate(s_l) // A, np.concatenate(a_l), np.concatenate(n_l) // A

    def _walk_successors(
        self,
        policy_cdf: Array,
        cur: IntArray,
        off: IntArray | None,
        u_act: Array,
        u_next: Array,
        K: IntArray,
        t_all: IntArray,
        pol: IntArray | None = None,
    ) -> tuple[IntArray, IntArray, IntArray]:
        """The remaining time steps through successor tables: (states, actions, next states) of their m entries.

        Entry k (in time-major order, its step's episodes ranked as at the first step) has its two uniforms
        whatever state it is reached in, so its action and next state are first drawn for **every** candidate
        state s (an (m, S) table each, the same comparisons as a step-by-step draw: the same numbers), and its
        successor code (k + K_t)·S + s' names the next entry of the same episode (``K_t`` entries later) and
        its state. A step is then one gather of the running episodes' codes, ``cur`` holding the states at the
        first of these steps.
        """
        S, A, w = self.mdp.S, self.mdp.A, self.width
        m = int(t_all.size)
        cand = np.arange(S, dtype=np.int64)
        ua, un = u_act[:, None], u_next[:, None]
        if pol is not None:  # policy r's columns r·S + s as row r of an (R, S) table: one row gather per entry
            tables = policy_cdf.reshape(policy_cdf.shape[0], -1, S)
            row = (tables[0].take(pol, axis=0) <= ua).astype(np.int64)  # the action drawn in each candidate state
            for j in range(1, policy_cdf.shape[0] - 1):  # the last cumulative entry is 1 > u
                row += tables[j].take(pol, axis=0) <= ua
        else:
            col = np.broadcast_to(cand, (m, S)) if off is None else off[:, None] + cand
            row = (policy_cdf[0].take(col) <= ua).astype(np.int64)  # the same comparisons, column by column
            for j in range(1, policy_cdf.shape[0] - 1):
                row += policy_cdf[j].take(col) <= ua
        row += cand * A  # its row s·A + a
        k = (self.next_cdf[0].take(row) <= un).astype(np.int64) if w > 1 else np.zeros((m, S), dtype=np.int64)
        for j in range(1, w - 1):
            k += self.next_cdf[j].take(row) <= un
        nxt = self.support.take(row * w + k)  # the next state of each candidate, (m, S)
        ahead = np.arange(m, dtype=np.int64) + K[t_all - t_all[0]]
        succ = (nxt + (ahead * S)[:, None]).reshape(-1)
        codes = np.empty(m, dtype=np.int64)
        Kl = K.tolist()
        codes[: Kl[0]] = np.arange(Kl[0], dtype=np.int64) * S + cur
        lo = 0
        for t in range(len(Kl) - 1):
            hi = lo + Kl[t]
            np.take(succ, codes[lo : lo + Kl[t + 1]], out=codes[hi : hi + Kl[t + 1]], mode="wrap")
            lo = hi
        states = codes - np.arange(m, dtype=np.int64) * S
        rows = row.reshape(-1).take(codes)
        return states, rows - states * A, nxt.reshape(-1).take(codes)

    def geometric_lengths(self, n: int, rng: np.random.Generator) -> IntArray:
        """Draw n lengths L ∼ Geom(1 − γ) on {1, 2, ...} (all 1 when γ = 0), one uniform each."""
        return geometric_from_uniforms(rng.random(n), self.mdp.gamma)

    def episodes(
        self,
        pi: Any,
        n: int,
        rng: np.random.Generator,
        *,
        horizon: int | None = None,
        stop_at_absorbing: bool = False,
        policy_cdf: Array | None = None,
    ) -> Episodes:
        """Sample n episodes from ρ under π, truncated at ``horizon`` H or geometrically terminated (H None).

        With H = None each episode takes L ∼ Geom(1 − γ) actions, so undiscounted sums of rewards
        are unbiased for discounted values and s_{L−1} ∼ d (module docstring).
        """
        n = check_count(n, "n (episodes)")
        check_rng(rng)
        if horizon is None:
            lengths = self.geometric_lengths(n, rng)
        else:
            H = check_count(horizon, "horizon")
            lengths = np.full(n, H, dtype=np.int64)
        return self.rollout(
            pi, lengths, rng, stop_at_absorbing=stop_at_absorbing, horizon=horizon, policy_cdf=policy_cdf
        )

    def state_actions(
        self, pi: Any, n: int, rng: np.random.Generator, *, policy_cdf: Array | None = None
    ) -> StateActions:
        """Draw n independent pairs (s, a) ∼ d(s)π(a|s) by geometric stopping.

        T ∼ Geom₀(1 − γ) (P(T = t) = (1 − γ)γᵗ); after T transitions from s₀ ∼ ρ the state s_T has
        law (1 − γ) Σ_t γᵗ Pr(s_t = s) = d(s); then a ∼ π(·|s_T).
        """
        n = check_count(n, "n (pairs)")
        check_rng(rng)
        cdf_pi = self.policy_table(pi) if policy_cdf is None else policy_cdf
        T = self.geometric_lengths(n, rng) - 1
        first = _exclusive_cumsum(2 + 2 * T)  # block of pair j: s₀, 2T transitions, the final action
        u = rng.random(2 * n + 2 * int(T.sum()))
        ep = self.walk(cdf_pi, T, u, first)
        s = ep.final_states
        a = _draw(cdf_pi, s, u.take(first + 1 + 2 * T))
        return StateActions(states=s, actions=a, transitions=ep.transitions, episodes=n)


class UniformStreams:
    """R independent streams of uniforms, stream r the doubles of ``rngs[r].random``, read ahead in blocks.

    :meth:`take` returns the next ``counts[j]`` uniforms of stream ``rows[j]`` for every j, concatenated in
    that order, in one gather: the same numbers as ``rngs[rows[j]].random(counts[j])`` called in turn,
    because a generator's doubles do not depend on how the calls cut them (module docstring). Each stream
    is buffered ``block`` uniforms at a time (a row of one (R, cap) array, ``cap`` ≥ ``block``, refilled or
    widened when a request does not fit), so a batched engine draws for R runs with a few numpy calls
    instead of R generator calls. The generators are advanced by the read-ahead: after use they are
    further along than the uniforms handed out.

    Uniforms can also be used in place: :meth:`reserve` hands out the next ``counts[j]`` of each stream as
    *stream positions* (absolute indices), and :meth:`index` turns positions into indices of the flat
    buffer :attr:`flat`, valid until the next :meth:`take` or :meth:`reserve` (a refill moves a row's
    data). A refill keeps every uniform from the row's :meth:`release` mark on, so positions reserved since
    then stay readable: reserve, reserve, ..., then index and read.

    Parameters
    ----------
    rngs
        One ``numpy.random.Generator`` per stream, each a distinct object.
    block
        Uniforms read ahead per stream (≥ 1); a good value covers several requests.
    """

    def __init__(self, rngs: Sequence[np.random.Generator], block: int = 4096) -> None:
        self.rngs = [check_rng(g) for g in rngs]
        if len({id(g) for g in self.rngs}) != len(self.rngs):
            raise ValueError("rngs must be distinct Generator objects (one stream each); got one object twice")
        self.cap = check_count(block, "block")
        R = len(self.rngs)
        self.buf = np.empty((R, self.cap))
        for r, g in enumerate(self.rngs):
            g.random(out=self.buf[r])  # generated in place: the same doubles as g.random(cap)
        self.base = np.zeros(R, dtype=np.int64)  # stream position of buf[r, 0]
        self.pos = np.zeros(R, dtype=np.int64)  # stream position of the next unread uniform
        self.mark = np.zeros(R, dtype=np.int64)  # uniforms before it may be dropped by a refill

    @property
    def flat(self) -> Array:
        """The buffer as one flat array (a view): :meth:`index` points into it."""
        return self.buf.reshape(-1)

    def index(self, rows: IntArray, position: IntArray) -> IntArray:
        """Flat buffer indices of the stream positions ``position`` of streams ``rows`` (elementwise)."""
        return rows * self.cap + (position - self.base[rows])

    def release(self, rows: IntArray) -> None:
        """Let a refill drop the uniforms of ``rows`` read so far."""
        self.mark[rows] = self.pos[rows]

    def reserve(self, rows: IntArray, counts: IntArray) -> IntArray:
        """Hand out the next ``counts[j]`` uniforms of each stream ``rows[j]`` (distinct); their first positions."""
        first = self.pos[rows]
        end = first + counts
        short = end - self.base[rows] > self.cap
        if short.any():
            self._refill(rows[short], counts[short])  # moves buffers, not positions
        self.pos[rows] = end
        return first

    def take(self, rows: IntArray, counts: IntArray, *, equal: bool | None = None) -> Array:
        """The next ``counts[j]`` uniforms of stream ``rows[j]`` (distinct rows), concatenated in ``rows``' order.

        ``equal``: whether all counts are equal, when the caller knows (else it is checked).
        """
        first = self.index(rows, self.reserve(rows, counts))
        if equal is None:
            equal = bool(counts.size and counts.min() == counts.max())
        if equal and counts.size:  # equal counts: a (rows, count) block of indices
            return self.flat.take((first[:, None] + np.arange(int(counts[0]), dtype=np.int64)).reshape(-1))
        idx = np.repeat(first - _exclusive_cumsum(counts), counts) + np.arange(int(counts.sum()), dtype=np.int64)
        return self.flat.take(idx)

    def _refill(self, rows: IntArray, counts: IntArray) -> None:
        """Make room for ``counts`` more uniforms in each of ``rows``, keeping each row's uniforms from its mark on."""
        need = int((self.pos[rows] + counts - self.mark[rows]).max())
        if need > self.cap:  # widen every row: each continues its stream where its buffer ended
            cap = max(2 * self.cap, need)
            grown = np.empty((len(self.rngs), cap))
            grown[:, : self.cap] = self.buf
            for r, g in enumerate(self.rngs):
                g.random(out=grown[r, self.cap :])
            self.buf, self.cap = grown, cap
        for r, c in zip(rows.tolist(), counts.tolist(), strict=True):
            if self.pos[r] + c - self.base[r] <= self.cap:
                continue
            keep = int(self.mark[r] - self.base[r])  # buffer index of the mark: shift it to the front
            rest = self.cap - keep
            self.buf[r, :rest] = self.buf[r, keep:].copy()
            self.rngs[r].random(out=self.buf[r, rest:])
            self.base[r] = self.mark[r]


def rollout(
    mdp: TabularMDP,
    pi: Any,
    episodes: int,
    rng: np.random.Generator,
    *,
    horizon: int | None = None,
    stop_at_absorbing: bool = False,
) -> Episodes:
    """Sample ``episodes`` episodes of π on ``mdp`` (truncated at ``horizon``, geometric when None).

    See :class:`TabularSampler` and :meth:`TabularSampler.episodes`; reuse a sampler when sampling
    the same MDP repeatedly (its tables are built once).
    """
    return TabularSampler(mdp).episodes(pi, episodes, rng, horizon=horizon, stop_at_absorbing=stop_at_absorbing)


def sample_state_actions(mdp: TabularMDP, pi: Any, n: int, rng: np.random.Generator) -> StateActions:
    """Draw n independent (s, a) ∼ d × π by geometric stopping (see :meth:`TabularSampler.state_actions`)."""
    return TabularSampler(mdp).state_actions(pi, n, rng)
