"""r1theory: exact tabular MDP engine for checking rank-1 natural policy gradient theory.

Arrays in, arrays out. Conventions: ``P[s, a, s']`` (S, A, S); ``r[s, a]`` (S, A); ``gamma`` in
[0, 1); ``rho`` (S,); θ, π, Q, A (S, A); ``d`` the normalised discounted visitation (sums to 1);
J(θ) = ρ·V; flattening is row-major (index s·A + a).
"""

from __future__ import annotations

from . import rates, steps
from .batch import BatchEvaluation, evaluate_batch
from .batch_iterates import iterate_batch
from .diagnostics import Diagnostic, centred_cosine, fisher_diagnostics
from .directions import direction, direction_at
from .estimators import ESTIMATORS, GradientSample, Moments, exact_moments, gradient_moments, sample_gradient
from .evaluation import Evaluation, KrylovInfo, Optimal, advantage, evaluate, optimal
from .fisher import ParamFisher, TabularFisher, fisher, natural_gradient, npg_closed_form
from .iterates import Run, iterate, trajectory
from .mdp import TabularMDP
from .methods import (
    CANDIDATE_METHODS,
    DAMPED_METHODS,
    METHODS,
    STOCHASTIC_METHODS,
    Method,
    MethodNames,
    Operator,
    Preconditioner,
    get_method,
    register_method,
    registered_methods,
    unregister_method,
)
from .point import PolicyPoint, policy_gradient, policy_point
from .policies import LogLinear, NeuralSoftmax, Parametrisation, TabularSoftmax
from .sampler import Episodes, StateActions, TabularSampler, rollout, sample_state_actions
from .score import score_sq_norm, scores
from .sherman_morrison import ShermanMorrison, sherman_morrison
from .softmax import log_softmax, softmax
from .stochastic import SampleDraw, StochasticRun, r1_sample_expectation, stochastic_iterate
from .stochastic_batch import stochastic_iterate_batch

__version__ = "0.1.0"

__all__ = [
    "CANDIDATE_METHODS",
    "DAMPED_METHODS",
    "ESTIMATORS",
    "METHODS",
    "STOCHASTIC_METHODS",
    "BatchEvaluation",
    "Diagnostic",
    "Episodes",
    "Evaluation",
    "GradientSample",
    "KrylovInfo",
    "LogLinear",
    "Method",
    "MethodNames",
    "Moments",
    "NeuralSoftmax",
    "Operator",
    "Optimal",
    "ParamFisher",
    "Parametrisation",
    "PolicyPoint",
    "Preconditioner",
    "Run",
    "SampleDraw",
    "ShermanMorrison",
    "StateActions",
    "StochasticRun",
    "TabularFisher",
    "TabularMDP",
    "TabularSampler",
    "TabularSoftmax",
    "__version__",
    "advantage",
    "centred_cosine",
    "direction",
    "direction_at",
    "evaluate",
    "evaluate_batch",
    "exact_moments",
    "fisher",
    "fisher_diagnostics",
    "get_method",
    "gradient_moments",
    "iterate",
    "iterate_batch",
    "log_softmax",
    "natural_gradient",
    "npg_closed_form",
    "optimal",
    "policy_gradient",
    "policy_point",
    "r1_sample_expectation",
    "rates",
    "register_method",
    "registered_methods",
    "rollout",
    "sample_gradient",
    "sample_state_actions",
    "score_sq_norm",
    "scores",
    "sherman_morrison",
    "softmax",
    "steps",
    "stochastic_iterate",
    "stochastic_iterate_batch",
    "trajectory",
    "unregister_method",
]
