"""C2 analysis: pure functions from run histories to N(ε), tuned choices, fits, trapping and verdicts.

Nothing here runs an MDP except :func:`trapped` (which reads a policy's greedy successors); every
function takes arrays and returns arrays or small records, so each rule is tested on constructed
histories (tests/test_c2_analysis.py). The rules, as the check (:mod:`proofs_checks.c2_sample_complexity`)
states them:

* **first hit.** For a history ``values`` (seeds, records) and a level ℓ, the seed-mean hit is the first
  record whose mean over seeds is ≤ ℓ (E[J* − J] ≤ ε for optimality, E‖∇J‖² ≤ ε² for stationarity); the
  per-seed hit is each seed's own first record ≤ ℓ. A level never reached within the budget is
  **censored**: its N is +∞ here and reported as "> budget", never dropped silently.
* **quantile.** N_q(ε) is the q-quantile over seeds of the per-seed hits (an order statistic, censored
  seeds counted as +∞): the episodes by which a fraction ≥ q of the seeds has reached ε.
* **tuned choice.** N*(ε) = min over the (η, B) grid of N_c(ε); ties go to the first configuration in
  grid order. A choice at the end of the η/B range, or at the largest B, is a **grid-edge** choice: the
  true minimum may lie outside, so that ε is not used in a fit (B = 1 is the smallest batch there is,
  not an edge; a smallest B > 1 is one).
* **regime.** The deterministic cost of ε at a configuration is T_exact(ε)·e, T_exact the iterations of
  the exact-gradient iteration at the same η and e the episodes per update; an ε is **noise-dominated**
  when the sampled N(ε) ≥ :data:`NOISE_FACTOR` × that cost. Exponents are fitted there only.
* **fit.** Least squares of log N on log(1/ε); CIs by percentile bootstrap over (fresh) seeds, which
  omits the selection noise of the tuned choice (the choice is held fixed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from r1theory import TabularMDP
from r1theory._types import Array, IntArray
from r1theory.sampler import BoolArray
from r1theory.softmax import softmax

#: Tolerance on exponents: |k_method − k_sgd| ≤ TOL counts as equal (the CI must lie within ±TOL to hold).
TOL = 0.25
#: Fewest ε in a fit, and the fewest decades of ε it must span.
MIN_POINTS = 3
MIN_DECADES = 0.5
#: Hits before this iteration are pre-asymptotic and not fitted.
T_MIN = 10
#: A sampled cost this many times the deterministic cost counts as noise-dominated.
NOISE_FACTOR = 2.0
#: Fraction of bootstrap resamples that must give a fit.
MIN_VALID_BOOT = 0.8
CONFIDENCE = 0.95
#: The high quantile over seeds reported next to the seed mean.
QUANTILE = 0.75
#: Trapped: gap > TRAP_GAP_FRAC·(J* − J(θ₀)) at a policy with max_a π(a|s) > 1 − TRAP_DET_TOL in every state
#: the greedy policy reaches from ρ.
TRAP_GAP_FRAC = 0.1
TRAP_DET_TOL = 1e-3
#: Tolerance on the trapped-fraction difference (arm − SGD-PG), and the widest CI that can decide.
TRAP_TOL = 0.1


# ---------------------------------------------------------------------------------------------
# first hits, quantiles, censoring
# ---------------------------------------------------------------------------------------------
def first_hits(mean: Array, levels: Array) -> IntArray:
    """Index of the first record with ``mean`` ≤ level, per level; −1 when never (NaN never counts)."""
    below = np.asarray(mean)[None, :] <= np.asarray(levels)[:, None]
    return np.where(below.any(axis=1), below.argmax(axis=1), -1)


def seed_hits(values: Array, levels: Array) -> IntArray:
    """Per seed and level, the first record with ``values[seed]`` ≤ level; shape (seeds, levels), −1 never."""
    v = np.asarray(values)
    below = v[:, None, :] <= np.asarray(levels)[None, :, None]
    return np.where(below.any(axis=2), below.argmax(axis=2), -1)


def episodes_at(hits: IntArray, episodes: Array) -> Array:
    """Episodes at each hit index; +∞ where the hit is −1 (censored)."""
    h = np.asarray(hits)
    return np.where(h >= 0, np.asarray(episodes, dtype=np.float64)[np.maximum(h, 0)], np.inf)


def mean_N(values: Array, episodes: Array, levels: Array) -> Array:
    """N(ε) of the seed mean: episodes at the first record where the mean over seeds is ≤ each level (+∞ never)."""
    return episodes_at(first_hits(np.asarray(values).mean(axis=0), levels), episodes)


def quantile_N(values: Array, episodes: Array, levels: Array, q: float = QUANTILE) -> Array:
    """N_q(ε): the smallest N by which a fraction ≥ q of the seeds has reached ε (per-seed first hits; censored = +∞).

    The q-quantile of the per-seed hit episodes with numpy's "inverted_cdf" method (an order statistic, no
    interpolation, so a censored seed is never averaged with a finite one).
    """
    per_seed = episodes_at(seed_hits(values, levels), episodes)
    return np.quantile(per_seed, q, axis=0, method="inverted_cdf")


# ---------------------------------------------------------------------------------------------
# tuned choice over a grid
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Choice:
    """The tuned choice per level: chosen configuration index (−1 censored), N*, and the grid-edge flags."""

    index: IntArray
    N: Array
    censored: BoolArray
    edge: BoolArray


def choose(N: Array, edge: Any) -> Choice:
    """N*(ε) = min over configurations (rows of ``N``, shape (configs, levels)); first row on ties.

    ``edge`` (configs,) marks the configurations on the grid's edge; a level whose minimum is +∞ is censored
    (index −1, not an edge).
    """
    N = np.asarray(N, dtype=np.float64)
    idx = np.argmin(N, axis=0)
    best = N[idx, np.arange(N.shape[1])]
    censored = ~np.isfinite(best)
    index = np.where(censored, -1, idx)
    on_edge = np.where(censored, False, np.asarray(edge, dtype=bool)[idx])
    return Choice(index.astype(np.int64), best, censored, on_edge)


def grid_edges(ratios: Any, batches: Any, ratio_grid: Sequence[float], batch_grid: Sequence[float]) -> BoolArray:
    """Per configuration: on the edge of the η/B range (either end), at the largest B, or at the smallest B > 1."""
    r = np.asarray(ratios, dtype=np.float64)
    b = np.asarray(batches, dtype=np.float64)
    lo, hi = min(ratio_grid), max(ratio_grid)
    small = (b <= min(batch_grid)) & (min(batch_grid) > 1)
    return np.isclose(r, lo, rtol=1e-9) | np.isclose(r, hi, rtol=1e-9) | (b >= max(batch_grid)) | small


# ---------------------------------------------------------------------------------------------
# regime diagnostic
# ---------------------------------------------------------------------------------------------
def noise_dominated(N_sampled: Array, deterministic_cost: Array, factor: float = NOISE_FACTOR) -> BoolArray:
    """True where the sampled cost is finite and ≥ ``factor`` × the (finite) deterministic cost."""
    n, d = np.asarray(N_sampled, dtype=np.float64), np.asarray(deterministic_cost, dtype=np.float64)
    return np.isfinite(n) & np.isfinite(d) & (n >= factor * d)


def degenerate(gap_at_hit: Array, trapped_fraction: Array, gap_threshold: float) -> BoolArray:
    """Stationarity reached at a bad policy: seed-mean gap at the hit > threshold and ≥ half the seeds end trapped.

    NaN gaps (level not reached) are never degenerate.
    """
    g = np.nan_to_num(np.asarray(gap_at_hit, dtype=np.float64), nan=-np.inf)
    return (g > gap_threshold) & (np.asarray(trapped_fraction, dtype=np.float64) >= 0.5)


def noise_onset(eps: Array, dominated: Any) -> float | None:
    """The largest ε from which on (towards smaller ε) every reached level is noise-dominated; None if none."""
    e = np.asarray(eps, dtype=np.float64)
    dom = np.asarray(dominated, dtype=bool)
    order = np.argsort(-e)
    onset = None
    for i in order[::-1]:  # from the smallest ε up
        if not dom[i]:
            break
        onset = float(e[i])
    return onset


# ---------------------------------------------------------------------------------------------
# power fits and bootstrap
# ---------------------------------------------------------------------------------------------
def power_fit(eps: Array, N: Array) -> tuple[float, float]:
    """Least squares log N = k·log(1/ε) + c; returns (k, c)."""
    k, c = np.polyfit(np.log(1.0 / np.asarray(eps)), np.log(np.asarray(N)), 1)
    return float(k), float(c)


def decades(eps: Array) -> float:
    """log10(max ε / min ε) of the fitted levels (0 for fewer than two)."""
    e = np.asarray(eps, dtype=np.float64)
    return float(np.log10(e.max() / e.min())) if e.size >= 2 else 0.0


def fittable(eps: Array) -> bool:
    """At least :data:`MIN_POINTS` levels spanning at least :data:`MIN_DECADES` decades."""
    return np.asarray(eps).size >= MIN_POINTS and decades(eps) >= MIN_DECADES - 1e-12


def percentile_ci(x: Array, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Two-sided percentile interval of the bootstrap replicates ``x``."""
    a = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(np.asarray(x), [a, 1.0 - a])
    return float(lo), float(hi)


@dataclass(frozen=True)
class Series:
    """Seed histories behind the N of a set of levels: level i uses ``values[group[i]]`` against ``levels[i]``.

    ``values`` is a list of (seeds, records) arrays (one per configuration; the seeds are the same
    indices in every array, so a bootstrap resamples them jointly), ``episodes`` and ``t`` the matching
    record axes.
    """

    eps: Array
    levels: Array
    group: IntArray
    values: list[Array]
    episodes: list[Array]
    t: list[Array]

    def N(self, seeds: IntArray | None = None) -> tuple[Array, Array]:
        """(N per level of the seed mean over ``seeds`` (all when None), iteration t at each hit; +∞/−1 never)."""
        N = np.full(self.eps.size, np.inf)
        T = np.full(self.eps.size, -1.0)
        for g in np.unique(self.group):
            sel = np.flatnonzero(self.group == g)
            v = self.values[g] if seeds is None else self.values[g][seeds]
            h = first_hits(v.mean(axis=0), self.levels[sel])
            N[sel] = episodes_at(h, self.episodes[g])
            T[sel] = np.where(h >= 0, np.asarray(self.t[g], dtype=np.float64)[np.maximum(h, 0)], -1.0)
        return N, T

    def N_resampled(self, seeds: IntArray) -> Array:
        """N per level for many seed resamples at once: row j is ``N(seeds[j])[0]``, bit for bit; shape (m, levels).

        The resampled means are formed over the seed axis of an (m, seeds, records) gather, the same additions in
        the same order as each resample's own mean (a bootstrap's cost was the loop of N calls).
        """
        idx = np.asarray(seeds, dtype=np.int64)
        N = np.full((idx.shape[0], self.eps.size), np.inf)
        for g in np.unique(self.group):
            sel = np.flatnonzero(self.group == g)
            mean = self.values[g][idx].mean(axis=1)  # (m, records)
            below = mean[:, None, :] <= self.levels[sel][None, :, None]
            h = np.where(below.any(axis=2), below.argmax(axis=2), -1)
            N[:, sel] = episodes_at(h, self.episodes[g])
        return N

    @property
    def seeds(self) -> int:
        """Number of seeds (the same for every configuration)."""
        return int(self.values[0].shape[0])


@dataclass(frozen=True)
class Fit:
    """A power-law fit N ≈ e^c (1/ε)^k over the levels ``used``, with its bootstrap CI (None: cannot fit)."""

    exponent: float | None
    log_constant: float | None
    ci: tuple[float, float] | None
    eps: list[float]
    N: list[float]
    decades: float
    valid_boot: float
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "exponent": self.exponent,
            "exponent_ci": self.ci,
            "log_constant": self.log_constant,
            "eps": self.eps,
            "N_episodes": self.N,
            "decades": self.decades,
            "valid_bootstrap": self.valid_boot,
            "reason": self.reason,
        }


def fit_series(s: Series, usable: Any, rng: np.random.Generator, n_boot: int) -> Fit:
    """Fit over the usable levels; bootstrap resamples the seeds (the usable set is held fixed).

    A resample whose seed mean misses a usable level drops it; a resample left with too few levels is not valid.
    """
    N, _ = s.N()
    use = np.asarray(usable, dtype=bool) & np.isfinite(N)
    e = s.eps[use]
    if not fittable(e):
        why = f"{e.size} usable ε over {decades(e):.2f} decades (need {MIN_POINTS} over {MIN_DECADES:g})"
        return Fit(None, None, None, e.tolist(), N[use].tolist(), decades(e), 0.0, why)
    k, c = power_fit(e, N[use])
    boot = []
    draws = [rng.integers(0, s.seeds, s.seeds) for _ in range(n_boot)]  # one call per resample, as drawn before
    for Nb in s.N_resampled(np.array(draws).reshape(n_boot, s.seeds)) if n_boot else ():
        ok = np.isfinite(Nb[use])
        if fittable(e[ok]):
            boot.append(power_fit(e[ok], Nb[use][ok])[0])
    valid = len(boot) / n_boot if n_boot else 0.0
    ci = percentile_ci(np.asarray(boot)) if boot and valid >= MIN_VALID_BOOT else None
    return Fit(k, c, ci, e.tolist(), N[use].tolist(), decades(e), valid)


@dataclass(frozen=True)
class Comparison:
    """An arm against the reference on their common usable levels: exponent difference and constant ratio."""

    delta: float | None
    ci: tuple[float, float] | None
    log_ratio: float | None
    log_ratio_ci: tuple[float, float] | None
    eps: list[float]
    N_ref: list[float]
    N_arm: list[float]
    decades: float
    valid_boot: float


def compare(ref: Series, arm: Series, usable: Any, rng: np.random.Generator, n_boot: int) -> Comparison:
    """k_arm − k_ref and exp(mean log(N_arm/N_ref)) on the common usable levels, paired bootstrap over seeds.

    Both series must share seed indices (the same seed streams), which the bootstrap resamples jointly.
    """
    Nr, _ = ref.N()
    Na, _ = arm.N()
    use = np.asarray(usable, dtype=bool) & np.isfinite(Nr) & np.isfinite(Na)
    e = ref.eps[use]
    if not fittable(e):
        return Comparison(None, None, None, None, e.tolist(), Nr[use].tolist(), Na[use].tolist(), decades(e), 0.0)
    delta = power_fit(e, Na[use])[0] - power_fit(e, Nr[use])[0]
    lr = float(np.mean(np.log(Na[use] / Nr[use])))
    n = min(ref.seeds, arm.seeds)
    deltas, ratios = [], []
    draws = np.array([rng.integers(0, n, n) for _ in range(n_boot)]).reshape(n_boot, n)  # the same stream as before
    for br, ba in zip(ref.N_resampled(draws), arm.N_resampled(draws), strict=True):
        ok = np.isfinite(br[use]) & np.isfinite(ba[use])
        if fittable(e[ok]):
            deltas.append(power_fit(e[ok], ba[use][ok])[0] - power_fit(e[ok], br[use][ok])[0])
            ratios.append(float(np.mean(np.log(ba[use][ok] / br[use][ok]))))
    valid = len(deltas) / n_boot if n_boot else 0.0
    good = bool(deltas) and valid >= MIN_VALID_BOOT
    return Comparison(
        delta,
        percentile_ci(np.asarray(deltas)) if good else None,
        lr,
        percentile_ci(np.asarray(ratios)) if good else None,
        e.tolist(),
        Nr[use].tolist(),
        Na[use].tolist(),
        decades(e),
        valid,
    )


# ---------------------------------------------------------------------------------------------
# verdicts
# ---------------------------------------------------------------------------------------------
def assess_difference(
    ci: tuple[float, float] | None,
    points: int,
    span: float = np.inf,
    *,
    tol: float = TOL,
    why_few: str = "",
) -> tuple[str, str]:
    """Verdict on "the difference is 0 within ``tol``" from its CI (an equivalence test).

    holds when the whole CI lies in [−tol, tol] (two one-sided tests at the CI's level: the difference is shown
    to be within the tolerance); fails when the whole CI lies beyond it (shown to exceed the tolerance);
    inconclusive (resolution) when the CI straddles ±tol or is missing — the data allow both; inconclusive
    (span) with fewer than :data:`MIN_POINTS` points or a span under :data:`MIN_DECADES` decades.
    """
    if points < MIN_POINTS or span < MIN_DECADES - 1e-12:
        extra = f" ({why_few})" if why_few else ""
        return "inconclusive", (
            f"span: {points} usable ε over {0.0 if not np.isfinite(span) else span:.2f} decades "
            f"(need {MIN_POINTS} over {MIN_DECADES:g}){extra}"
        )
    if ci is None:
        return "inconclusive", f"resolution: fewer than {MIN_VALID_BOOT:.0%} of the bootstrap resamples give a fit"
    lo, hi = ci
    if lo > tol or hi < -tol:
        return "fails", f"the CI [{lo:.3g}, {hi:.3g}] lies beyond ±{tol:g} of 0"
    if lo < -tol or hi > tol:
        return "inconclusive", f"resolution: the CI [{lo:.3g}, {hi:.3g}] reaches beyond ±{tol:g} of 0"
    return "holds", f"the CI [{lo:.3g}, {hi:.3g}] lies within ±{tol:g} of 0"


def assess_rate(
    ci: tuple[float, float] | None, points: int, *, bound: float = 4.0, tol: float = TOL
) -> tuple[str, str]:
    """Verdict of an exponent against an upper bound (e.g. 4 for O(ε⁻⁴))."""
    if points < MIN_POINTS or ci is None:
        return "inconclusive", f"not enough ε reached ({points}) or too few valid bootstrap fits"
    lo, hi = ci
    if hi <= bound + tol:
        return "holds", f"exponent CI [{lo:.3g}, {hi:.3g}] ≤ {bound:g} + {tol:g}"
    if lo > bound + tol:
        return "fails", f"exponent CI [{lo:.3g}, {hi:.3g}] lies above {bound:g} + {tol:g}"
    return "inconclusive", f"exponent CI [{lo:.3g}, {hi:.3g}] straddles {bound:g} + {tol:g}"


# ---------------------------------------------------------------------------------------------
# trapping
# ---------------------------------------------------------------------------------------------
def greedy_reachable(mdp: TabularMDP, pi: Array) -> BoolArray:
    """States reachable from supp ρ under the greedy policy argmax_a π(a|s) (P > 0 edges); bool (S,)."""
    greedy = np.argmax(pi, axis=1)
    if mdp.is_sparse:  # rows s*A + a of the (S·A, S) matrix
        succ = np.asarray(mdp.P[np.arange(mdp.S) * mdp.A + greedy].todense()) > 0
    else:
        succ = np.asarray(mdp.P)[np.arange(mdp.S), greedy] > 0
    seen = np.asarray(mdp.rho) > 0
    frontier = seen.copy()
    while frontier.any():
        nxt = succ[frontier].any(axis=0) & ~seen
        seen |= nxt
        frontier = nxt
    return seen


def near_deterministic(mdp: TabularMDP, theta: Array, tol: float = TRAP_DET_TOL) -> bool:
    """True when every state the greedy policy reaches from ρ has max_a π(a|s) > 1 − tol."""
    pi = softmax(np.asarray(theta, dtype=np.float64))
    reach = greedy_reachable(mdp, pi)
    return bool(pi.max(axis=1)[reach].min() > 1.0 - tol)


def trapped(mdp: TabularMDP, theta: Array, gap: float, gap_threshold: float, tol: float = TRAP_DET_TOL) -> bool:
    """Trapped: the gap exceeds ``gap_threshold`` at a near-deterministic policy (:func:`near_deterministic`)."""
    return bool(gap > gap_threshold) and near_deterministic(mdp, theta, tol)


def trapping_regime(arm: Any, ref: Any) -> BoolArray:
    """Configurations (rows of the (configs, seeds) booleans) where either arm traps at least one seed."""
    both = np.concatenate([np.asarray(arm, dtype=bool), np.asarray(ref, dtype=bool)], axis=1)
    return np.asarray(both.any(axis=1), dtype=bool)


def trap_difference(arm: Any, ref: Any, rng: np.random.Generator, n_boot: int) -> tuple[float, tuple[float, float]]:
    """Mean over matched configurations of (trapped fraction of the arm − of the reference), bootstrap CI.

    ``arm`` and ``ref`` are (configs, seeds) booleans on the same seed indices, resampled jointly.
    """
    a, r = np.asarray(arm, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    est = float(np.mean(a.mean(axis=1) - r.mean(axis=1)))
    n = a.shape[1]
    reps = []
    for _ in range(max(n_boot, 1)):
        idx = rng.integers(0, n, n)
        reps.append(float(np.mean(a[:, idx].mean(axis=1) - r[:, idx].mean(axis=1))))
    return est, percentile_ci(np.asarray(reps))
