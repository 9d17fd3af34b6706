r"""Hypothesis-driven search for the smallest instance that violates a claim (``r1theory falsify``).

A falsifiable claim is an inequality that a theorem, a lemma or the paper's reading says holds on *every*
instance meeting stated conditions. Its id, statement and check are those of the one claim registry,
:mod:`proofs_checks.claims`; ``r1theory falsify`` accepts exactly the ids ``r1theory claims`` lists as
searchable (:data:`FALSIFIABLE`). One module per idea:

* :mod:`~proofs_checks.falsify.candidates` — :class:`Candidate` (MDP, θ of a parametrisation, λ, η, K) and
  the parametrisation kinds :data:`PARAM_KINDS`;
* :mod:`~proofs_checks.falsify.measurement` — :class:`Measurement` (measured vs bound, tolerance, verdict)
  and :class:`~proofs_checks.falsify.measurement.Spec`, what an adapter declares;
* the adapters, one per claim family: :mod:`~proofs_checks.falsify.ascent_stated_step`
  (``ascent.stated-step``), :mod:`~proofs_checks.falsify.c1_tuned_progress` (``c1.tuned-progress``) and
  :mod:`~proofs_checks.falsify.classic` (``mei2020.lojasiewicz``, ``mei2020.ascent``,
  ``agarwal2021.npg-rate``, measured with the check modules' own inequality functions);
* :mod:`~proofs_checks.falsify.registry` — :data:`FALSIFIABLE` and :func:`resolve`;
* :mod:`~proofs_checks.falsify.search` — :func:`search` (hypothesis, its reproducibility) and
  :mod:`~proofs_checks.falsify.reduce` (the greedy reduction after shrinking);
* :mod:`~proofs_checks.falsify.records` — :func:`save_counterexample`, :func:`load_counterexample`
  (the file format); :mod:`~proofs_checks.falsify.replay` — :func:`replay`;
* :mod:`~proofs_checks.falsify.report` — :func:`report` and :func:`run` (the command line's output).

Cost per candidate: ~5 ms for ``ascent.stated-step`` and the classic claims, ~50–100 ms for
``c1.tuned-progress`` (two step tunings of K = 10 updates); shrinking adds a few hundred to two thousand
measurements. Log-linear and neural candidates cost about the same (k ≤ S·A + 2 = 18, a network has ≤ 40
parameters: dense k × k algebra is cheap).

Parametrisations (``search(..., param=KIND)``, ``r1theory falsify CLAIM --param KIND``): the policy
parametrisation is a condition of the claim (:mod:`r1theory.policies`): the MDP, the directions (the
score u = Jᵀ(e_{(s,a)} − π_s), the Fisher F = Jᵀ F_ℓ J) and the iterates are those of the candidate's
parametrisation, θ has its shape, and the verdicts can be compared between tabular softmax and the
dense-Fisher classes. The classic claims are theorems about tabular softmax: :func:`resolve`,
:func:`search` and :func:`run` refuse another kind with a ValueError, and their measurements report a
non-tabular candidate as not applicable.

Conditions are re-checked by each measurement (an instance that does not meet them is never a
violation), so a saved counterexample replays from its files alone: :func:`replay` re-measures it.
"""

from __future__ import annotations

from .._classic import value_tolerance
from .ascent_stated_step import COS_TOL, smoothness_scale, stated_step
from .ascent_stated_step import measure as measure_ascent
from .c1_tuned_progress import C1_EXTENSIONS, C1_GRID, C1_ITERATIONS, C1_RTOL, tune
from .c1_tuned_progress import measure as measure_c1
from .candidates import PARAM_KINDS, Candidate, param_kind
from .classic import measure_lojasiewicz, measure_npg_rate, measure_smooth_ascent
from .measurement import Measurement
from .records import load_counterexample, save_counterexample
from .registry import FALSIFIABLE, Falsifiable, resolve
from .replay import replay
from .report import report, run
from .search import DEFAULT_BUDGET, SearchResult, search

__all__ = [
    "C1_EXTENSIONS",
    "C1_GRID",
    "C1_ITERATIONS",
    "C1_RTOL",
    "COS_TOL",
    "DEFAULT_BUDGET",
    "FALSIFIABLE",
    "PARAM_KINDS",
    "Candidate",
    "Falsifiable",
    "Measurement",
    "SearchResult",
    "load_counterexample",
    "measure_ascent",
    "measure_c1",
    "measure_lojasiewicz",
    "measure_npg_rate",
    "measure_smooth_ascent",
    "param_kind",
    "replay",
    "report",
    "resolve",
    "run",
    "save_counterexample",
    "search",
    "smoothness_scale",
    "stated_step",
    "tune",
    "value_tolerance",
]
