"""Greedy reduction after hypothesis's shrinking: fewer states, actions, features or hidden units.

Hypothesis's shrinker works on the random choices behind a candidate, and a change of S or A shifts all
later choices, so it cannot always delete a state; :func:`reduce` removes states and actions directly
(a state alone as a one-state MDP, an action removed; for a log-linear policy also a feature removed, for
a neural one a hidden unit) and keeps any smaller instance that still violates.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from r1theory import LogLinear, NeuralSoftmax, TabularMDP
from r1theory._types import Array

from .ascent_stated_step import stated_step
from .candidates import Candidate
from .registry import Falsifiable

__all__ = ["reduce", "reductions"]


def _bandit_of_state(c: Candidate, s: int) -> Candidate:
    """State s alone: a one-state MDP (self-loop, ρ = [1], same γ) with s's rewards and policy.

    Tabular: s's logits. Log-linear: s's features φ(s, ·, ·) and the same θ. Neural: the same network on
    the input x_s alone (input coordinates where x_s is 0 are dropped with their first-layer weights),
    so π(·|s) is unchanged in every case.
    """
    mdp = TabularMDP(np.ones((1, c.mdp.A, 1)), c.mdp.r[s : s + 1], c.mdp.gamma, [1.0])
    par = c.param
    if isinstance(par, LogLinear):
        return replace(c, mdp=mdp, theta=c.theta.copy(), param=LogLinear(par.features[s : s + 1].copy()))
    if isinstance(par, NeuralSoftmax):
        assert par.inputs is not None
        x = par.inputs[s : s + 1]
        used = x[0] != 0.0
        if not used.any():
            used[0] = True
        layers = _neural_layers(par, c.theta)
        W1, b1 = layers[0]
        layers[0] = (W1[:, used], b1)
        new = NeuralSoftmax(1, c.mdp.A, par.hidden, x[:, used].copy())
        return replace(c, mdp=mdp, theta=_neural_theta(layers), param=new)
    return replace(c, mdp=mdp, theta=c.theta[s : s + 1].copy(), param=None)


def _without_action(c: Candidate, a: int) -> Candidate:
    """The instance with action a removed from every state (P, r and the policy's logit for a).

    Tabular: θ loses column a. Log-linear: φ loses φ(·, a, ·), θ is kept. Neural: the output layer loses
    row a. The other actions' logits are unchanged.
    """
    keep = np.arange(c.mdp.A) != a
    mdp = TabularMDP(c.mdp.P[:, keep, :], c.mdp.r[:, keep], c.mdp.gamma, c.mdp.rho)
    par = c.param
    if isinstance(par, LogLinear):
        return replace(c, mdp=mdp, theta=c.theta.copy(), param=LogLinear(par.features[:, keep].copy()))
    if isinstance(par, NeuralSoftmax):
        layers = _neural_layers(par, c.theta)
        W, b = layers[-1]
        layers[-1] = (W[keep], b[keep])
        new = NeuralSoftmax(c.mdp.S, int(keep.sum()), par.hidden, par.inputs)
        return replace(c, mdp=mdp, theta=_neural_theta(layers), param=new)
    return replace(c, mdp=mdp, theta=c.theta[:, keep].copy(), param=None)


def _without_feature(c: Candidate, i: int) -> Candidate:
    """Log-linear: feature i dropped (φ loses column i, θ entry i): a smaller class, the same MDP."""
    assert isinstance(c.param, LogLinear)
    keep = np.arange(c.theta.size) != i
    return replace(c, theta=c.theta[keep].copy(), param=LogLinear(c.param.features[:, :, keep].copy()))


def _without_unit(c: Candidate, layer: int, j: int) -> Candidate:
    """Neural: unit j of hidden layer ``layer`` removed (its row of W and b, its column downstream)."""
    par = c.param
    assert isinstance(par, NeuralSoftmax)
    layers = _neural_layers(par, c.theta)
    keep = np.arange(par.hidden[layer]) != j
    W, b = layers[layer]
    layers[layer] = (W[keep], b[keep])
    W_next, b_next = layers[layer + 1]
    layers[layer + 1] = (W_next[:, keep], b_next)
    hidden = tuple(h - 1 if li == layer else h for li, h in enumerate(par.hidden))
    new = NeuralSoftmax(c.mdp.S, c.mdp.A, hidden, par.inputs)
    return replace(c, theta=_neural_theta(layers), param=new)


def _neural_layers(par: NeuralSoftmax, theta: Array) -> list[tuple[Array, Array]]:
    """θ of a :class:`~r1theory.NeuralSoftmax` as [(W_1, b_1), …, (W_L, b_L)], W_l of shape (out, in).

    The layout NeuralSoftmax documents: W_1, b_1, …, W_L, b_L, each flattened row-major, concatenated.
    """
    assert par.inputs is not None
    widths = [int(par.inputs.shape[1]), *par.hidden, par.A]
    out, pos = [], 0
    for n_in, n_out in itertools.pairwise(widths):
        W = theta[pos : pos + n_out * n_in].reshape(n_out, n_in).copy()
        pos += n_out * n_in
        out.append((W, theta[pos : pos + n_out].copy()))
        pos += n_out
    return out


def _neural_theta(layers: list[tuple[Array, Array]]) -> Array:
    """The inverse of :func:`_neural_layers`."""
    return np.concatenate([part for W, b in layers for part in (W.ravel(), b)])


def reductions(c: Candidate) -> list[Candidate]:
    """One-step reductions: each state alone, each action removed, then each feature or hidden unit removed.

    Features only for a log-linear policy with k > 1; hidden units only for a neural policy, keeping at
    least one unit per layer.
    """
    options = [_bandit_of_state(c, s) for s in range(c.mdp.S)] if c.mdp.S > 1 else []
    options += [_without_action(c, a) for a in range(c.mdp.A)] if c.mdp.A > 1 else []
    if isinstance(c.param, LogLinear) and c.theta.size > 1:
        options += [_without_feature(c, i) for i in range(c.theta.size)]
    if isinstance(c.param, NeuralSoftmax):
        options += [_without_unit(c, layer, j) for layer, h in enumerate(c.param.hidden) if h > 1 for j in range(h)]
    return options


def _restep(option: Candidate, original: Candidate, method: str) -> Candidate:
    """Keep a stated step stated: a log-linear candidate at its stated step passes on its reduction's own.

    Dropping rows or columns of Φ can lower ‖Φ‖₂ and so raise the stated step λ/L or 1/L; any other step
    (npg's drawn one, a hand-made one, a tabular or neural candidate's) is kept as it is.
    """
    if original.kind != "log-linear" or original.step is None or method == "npg":
        return option
    try:
        if original.step != stated_step(method, original.mdp.gamma, original.damping, original.param):
            return option
        return replace(option, step=stated_step(method, option.mdp.gamma, option.damping, option.param))
    except ValueError:
        return option


def reduce(claim: Falsifiable, method: str, cand: Candidate) -> tuple[Candidate, int]:
    """Greedy reduction after hypothesis's shrinking: fewer states, then fewer actions, while it still violates.

    Tries, in order, each state alone as a one-state MDP (:func:`_bandit_of_state`) and each action
    removed (:func:`_without_action`), then for a log-linear policy each feature and for a neural policy
    each hidden unit removed (:func:`reductions`: every option is an honest instance of the same
    parametrisation kind, and a log-linear candidate at its stated step gets the option's stated step,
    :func:`_restep`); the first reduction that still violates the claim (measured again, conditions
    included) is kept and the pass restarts. Every step lowers S, A, k or a layer width, so the pass
    ends. Hypothesis's shrinker works on the random choices behind a candidate, and a change of S or A
    shifts all later choices; this pass removes states and actions directly. Returns the reduced
    candidate and the number of measurements made.
    """
    calls = 0
    while True:
        for option in reductions(cand):
            option = _restep(option, cand, method)
            calls += 1
            try:
                with np.errstate(all="ignore"):
                    if claim.measure(option, method).violated:
                        cand = option
                        break
            except (ValueError, RuntimeError, ArithmeticError, np.linalg.LinAlgError):
                continue
        else:
            return cand, calls
