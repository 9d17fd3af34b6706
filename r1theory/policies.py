"""Policy parametrisations: where the logits and their Jacobian come from.

A parametrisation maps parameters θ to logits ℓ_θ(s, a) of shape (S, A); the policy is
π_θ(a|s) = softmax(ℓ_θ(s, ·))_a. Everything else is derived once, in logit space, and pulled back
through the Jacobian J = ∂ℓ/∂θ (shape (S, A, k)):

* score: ∇_θ log π(a|s) = Jᵀ(e_{(s,a)} − π_s) = J_{s,a} − Σ_b π(b|s) J_{s,b};
* gradient: ∇J(θ) = Jᵀ g_ℓ with g_ℓ(s, a) = d(s) π(a|s) A(s, a)/(1 − γ) (the tabular gradient in
  logit space; policy gradient theorem, Sutton et al. 1999);
* Fisher: F(θ) = Jᵀ F_ℓ J with F_ℓ = blockdiag_s d(s)(diag π_s − π_s π_sᵀ) (Kakade 2001).

Three parametrisations:

* :class:`TabularSoftmax` — ℓ = θ, J = I (θ has shape (S, A)); the engine's closed forms apply.
* :class:`LogLinear` — ℓ(s, a) = φ(s, a)ᵀθ with features φ of shape (S, A, k); J = φ. One-hot
  features φ(s, a) = e_{(s,a)} reproduce tabular softmax exactly.
* :class:`NeuralSoftmax` — ℓ(s, ·) = W_L tanh(… tanh(W_1 x_s + b_1) …) + b_L, one or two hidden layers,
  state inputs x_s (one-hot by default); J by exact reverse-mode differentiation.

A :class:`Linearisation` is the parametrisation at one θ: the logits, J applied to vectors
(``pushforward``: v ↦ Jv, shape (S, A)) and its transpose (``pullback``: x ↦ Jᵀx, θ-shaped), the
squared score norms ‖∇log π(a|s)‖², and the dense Jacobian on request.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._types import Array
from ._validate import as_real_array, check_finite, check_shape
from .score import one_minus, score_sq_norm


class Linearisation:
    """A parametrisation linearised at θ (see the module docstring). Subclasses implement the maps."""

    theta: Array
    logits: Array

    def pullback(self, x: Array) -> Array:
        """Jᵀx for a logit-space array x of shape (S, A); returns a θ-shaped array."""
        raise NotImplementedError

    def pushforward(self, v: Array) -> Array:
        """J v for a θ-shaped v; returns an (S, A) array."""
        raise NotImplementedError

    def jacobian(self) -> Array:
        """Dense J = ∂ℓ/∂θ of shape (S, A, k) (θ flattened row-major)."""
        raise NotImplementedError

    def gram(self) -> Array:
        """The per-state Gram matrices G_s = J_s J_sᵀ of the logit gradients, shape (S, A, A) (O(S·A²·k))."""
        J = self.jacobian()
        return np.matmul(J, J.transpose(0, 2, 1))

    def score_sq_norm(self, pi: Array) -> Array:
        """‖∇_θ log π(a|s)‖² = ‖Jᵀ(e_{(s,a)} − π_s)‖² for every (s, a), shape (S, A).

        Formed as δᵀ G_s δ with δ = e_a − π_s and the state's (A × A) Gram matrix G_s = J_s J_sᵀ of the
        logit gradients: O(S·A²·k) in one batched product and no (S, A, k) temporary (6× faster than
        forming the scores at (S, A, k) = (50, 4, 1000)). The dominant action's 1 − π(m|s) comes from
        :func:`r1theory.score.one_minus`, so near-deterministic policies keep their accuracy; the
        rounding is ~ε‖δ‖²‖G_s‖ in absolute terms, immaterial beside the damping in λ + ‖u‖².
        """
        G = self.gram()
        A = pi.shape[1]
        D = np.repeat(-pi[:, None, :], A, axis=1)  # D[s, a, b] = [a = b] − π(b|s)
        idx = np.arange(A)
        D[:, idx, idx] = one_minus(pi)
        return np.einsum("sab,sab->sa", np.matmul(D, G), D)


def _pull(J: Array, x: Array) -> Array:
    """Jᵀx = Σ_{s,a} x(s, a) J_{s,a} as one (S·A)-by-k matrix-vector product (2× faster than einsum)."""
    return x.reshape(-1) @ J.reshape(-1, J.shape[2])


class Parametrisation:
    """Base class: parameters θ ↦ logits (S, A) with an exact Jacobian."""

    S: int
    A: int
    name: str = "parametrisation"
    #: The spec's ``kind`` (:func:`from_spec`); one per class.
    kind: str = ""

    @property
    def theta_shape(self) -> tuple[int, ...]:
        """Shape of θ."""
        raise NotImplementedError

    def to_spec(self) -> dict[str, Any]:
        """A JSON-ready description that :func:`from_spec` turns back into an equal parametrisation."""
        raise NotImplementedError

    @property
    def n_params(self) -> int:
        """Number of parameters k."""
        return int(np.prod(self.theta_shape))

    @property
    def is_tabular(self) -> bool:
        """True for tabular softmax, where the closed forms of the engine apply."""
        return False

    def check_theta(self, theta: Any) -> Array:
        """Validate θ: real, finite, of shape :attr:`theta_shape`."""
        t = as_real_array(theta, "theta")
        check_shape(t, self.theta_shape, "theta", f"(the parameters of {self.name})")
        check_finite(t, "theta")
        return t

    def at(self, theta: Array) -> Linearisation:
        """The linearisation at a validated θ."""
        raise NotImplementedError


@dataclass(frozen=True)
class _IdentityLin(Linearisation):
    theta: Array
    logits: Array

    def pullback(self, x: Array) -> Array:
        return x

    def pushforward(self, v: Array) -> Array:
        return v

    def jacobian(self) -> Array:
        S, A = self.logits.shape
        return np.eye(S * A).reshape(S, A, S * A)

    def score_sq_norm(self, pi: Array) -> Array:
        return score_sq_norm(pi)


@dataclass(frozen=True)
class TabularSoftmax(Parametrisation):
    """ℓ = θ of shape (S, A): the tabular softmax policy (identity Jacobian)."""

    S: int
    A: int
    name: str = "tabular softmax"
    kind = "tabular"

    @property
    def theta_shape(self) -> tuple[int, ...]:
        """(S, A)."""
        return (self.S, self.A)

    def to_spec(self) -> dict[str, Any]:
        """``{"kind": "tabular"}`` (the sizes come from the MDP)."""
        return {"kind": self.kind}

    @property
    def is_tabular(self) -> bool:
        """Always True."""
        return True

    def at(self, theta: Array) -> Linearisation:
        """Identity linearisation."""
        return _IdentityLin(theta=theta, logits=theta)


@dataclass(frozen=True)
class _FeatureLin(Linearisation):
    theta: Array
    logits: Array
    phi: Array
    G: Array  # the parametrisation's per-state Gram matrices, independent of θ

    def gram(self) -> Array:
        return self.G

    def pullback(self, x: Array) -> Array:
        return _pull(self.phi, x)

    def pushforward(self, v: Array) -> Array:
        return self.phi @ v

    def jacobian(self) -> Array:
        return self.phi


@dataclass(frozen=True, eq=False)
class LogLinear(Parametrisation):
    """Log-linear policy π(a|s) ∝ exp φ(s, a)ᵀθ with features φ of shape (S, A, k); θ has shape (k,)."""

    features: Array
    name: str = "log-linear"
    kind = "log-linear"
    S: int = field(init=False)
    A: int = field(init=False)

    def __post_init__(self) -> None:
        phi = as_real_array(self.features, "features")
        if phi.ndim != 3 or 0 in phi.shape:
            raise ValueError(f"features must have shape (S, A, k) with k >= 1; got {phi.shape}")
        check_finite(phi, "features")
        phi.setflags(write=False)
        object.__setattr__(self, "features", phi)
        object.__setattr__(self, "S", phi.shape[0])
        object.__setattr__(self, "A", phi.shape[1])

    @classmethod
    def one_hot(cls, S: int, A: int) -> LogLinear:
        """φ(s, a) = e_{(s,a)} ∈ R^{SA}: reproduces tabular softmax with θ = vec(logits)."""
        return cls(np.eye(S * A).reshape(S, A, S * A), name="log-linear (one-hot)")

    @property
    def theta_shape(self) -> tuple[int, ...]:
        """(k,)."""
        return (int(self.features.shape[2]),)

    def to_spec(self) -> dict[str, Any]:
        """``{"kind": "log-linear", "features": φ}`` with φ as nested lists (S, A, k)."""
        return {"kind": self.kind, "features": self.features.tolist()}

    @functools.cached_property
    def gram(self) -> Array:
        """G_s = φ_s φ_sᵀ (S, A, A): J = φ does not depend on θ, so it is formed once per parametrisation."""
        return np.matmul(self.features, self.features.transpose(0, 2, 1))

    def at(self, theta: Array) -> Linearisation:
        """Feature linearisation (J = φ, independent of θ)."""
        return _FeatureLin(theta=theta, logits=self.features @ theta, phi=self.features, G=self.gram)


@dataclass(frozen=True)
class _NeuralLin(Linearisation):
    theta: Array
    logits: Array
    J: Array  # (S, A, k)
    #: Per layer l: δ_l (S, A, out_l) = ∂ℓ(s, a)/∂(pre-activation of layer l) and its input h_{l−1} (S, in_l).
    layers: tuple[tuple[Array, Array], ...]

    def gram(self) -> Array:
        """G_s[a, b] = Σ_l ⟨δ_l[s, a], δ_l[s, b]⟩ (‖h_{l−1}(s)‖² + 1): O(S·A²·width), not O(S·A²·k).

        Layer l's parameters give ∂ℓ_a/∂W_l = δ_l[a] h_{l−1}ᵀ and ∂ℓ_a/∂b_l = δ_l[a], whose inner products
        over (W_l, b_l) are ⟨δ_l[a], δ_l[b]⟩(⟨h_{l−1}, h_{l−1}⟩ + 1); the Gram matrix is their sum over layers.
        """
        G = np.zeros((self.J.shape[0], self.J.shape[1], self.J.shape[1]))
        for delta, h_in in self.layers:
            G += np.matmul(delta, delta.transpose(0, 2, 1)) * (np.einsum("si,si->s", h_in, h_in) + 1.0)[:, None, None]
        return G

    def pullback(self, x: Array) -> Array:
        return _pull(self.J, x)

    def pushforward(self, v: Array) -> Array:
        return self.J @ v

    def jacobian(self) -> Array:
        return self.J


@dataclass(frozen=True, eq=False)
class NeuralSoftmax(Parametrisation):
    """A small tanh network per state: ℓ(s, ·) = W_L h_{L−1} + b_L, h_l = tanh(W_l h_{l−1} + b_l), h_0 = x_s.

    Parameters
    ----------
    S, A
        Numbers of states and actions.
    hidden
        Hidden layer widths (one or two layers).
    inputs
        State inputs x_s, shape (S, m); one-hot states (m = S) by default.

    θ is the concatenation of (W_1, b_1, …, W_L, b_L), each flattened row-major, with W_l of shape
    (out, in). :meth:`init` draws a θ from a Generator (scaled Gaussian).
    """

    S: int
    A: int
    hidden: tuple[int, ...] = (16,)
    inputs: Array | None = None
    name: str = "neural softmax"
    kind = "neural"

    def __post_init__(self) -> None:
        if not 1 <= len(self.hidden) <= 2 or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden must be one or two positive layer widths; got {self.hidden}")
        x = np.eye(self.S) if self.inputs is None else as_real_array(self.inputs, "inputs")
        if x.ndim != 2 or x.shape[0] != self.S:
            raise ValueError(f"inputs must have shape (S, m) = ({self.S}, m); got {x.shape}")
        check_finite(x, "inputs")
        object.__setattr__(self, "inputs", x)
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))

    @property
    def _sizes(self) -> list[tuple[int, int]]:
        assert self.inputs is not None
        widths = [self.inputs.shape[1], *self.hidden, self.A]
        return [(widths[i + 1], widths[i]) for i in range(len(widths) - 1)]

    @property
    def theta_shape(self) -> tuple[int, ...]:
        """(k,) with k = Σ_l out_l·(in_l + 1)."""
        return (sum(o * (i + 1) for o, i in self._sizes),)

    def to_spec(self) -> dict[str, Any]:
        """``{"kind": "neural", "hidden": [widths], "inputs": x}`` with the state inputs x as nested lists (S, m)."""
        assert self.inputs is not None
        return {"kind": self.kind, "hidden": list(self.hidden), "inputs": self.inputs.tolist()}

    def init(self, rng: np.random.Generator, scale: float = 1.0) -> Array:
        """A random θ: W_l ~ N(0, scale²/in_l), b_l = 0."""
        parts = []
        for o, i in self._sizes:
            parts += [rng.normal(0.0, scale / np.sqrt(i), size=o * i), np.zeros(o)]
        return np.concatenate(parts)

    def _unpack(self, theta: Array) -> list[tuple[Array, Array]]:
        out, pos = [], 0
        for o, i in self._sizes:
            W = theta[pos : pos + o * i].reshape(o, i)
            pos += o * i
            b = theta[pos : pos + o]
            pos += o
            out.append((W, b))
        return out

    def at(self, theta: Array) -> Linearisation:
        """Forward pass for all states, then reverse mode for every output (exact Jacobian)."""
        layers = self._unpack(theta)
        assert self.inputs is not None
        hs = [self.inputs]  # activations h_0 … h_{L-1}, each (S, width)
        for W, b in layers[:-1]:
            hs.append(np.tanh(hs[-1] @ W.T + b))
        W_out, b_out = layers[-1]
        logits = hs[-1] @ W_out.T + b_out
        # reverse mode: δ has shape (S, A, width) = ∂ℓ(s, a)/∂(pre-activation of the layer)
        S, A = self.S, self.A
        delta = np.broadcast_to(np.eye(A), (S, A, A))
        grads: list[Array] = []
        per_layer: list[tuple[Array, Array]] = []
        for li in range(len(layers) - 1, -1, -1):
            W, _ = layers[li]
            h_in = hs[li]
            per_layer.append((np.ascontiguousarray(delta), h_in))
            grads.append(delta)  # ∂/∂b_l
            grads.append(np.einsum("sao,si->saoi", delta, h_in).reshape(S, A, -1))  # ∂/∂W_l
            if li > 0:
                delta = np.einsum("sao,oi->sai", delta, W) * (1.0 - hs[li] ** 2)[:, None, :]
        J = np.concatenate(list(reversed(grads)), axis=2)
        return _NeuralLin(theta=theta, logits=logits, J=np.ascontiguousarray(J), layers=tuple(per_layer))


def tabular(S: int, A: int) -> TabularSoftmax:
    """The tabular softmax parametrisation of an (S, A) MDP."""
    return TabularSoftmax(S, A)


#: The parametrisation kinds a spec can name, in the order tabular → dense Fisher.
PARAM_KINDS: tuple[str, ...] = (TabularSoftmax.kind, LogLinear.kind, NeuralSoftmax.kind)


def _spec_array(spec: dict[str, Any], key: str, where: str, ndim: int, meaning: str) -> Array:
    if spec.get(key) is None:
        raise ValueError(f"{where}.{key} is missing: give {meaning}")
    try:
        arr = as_real_array(spec[key], f"{where}.{key}")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}.{key} must be {meaning}: {exc}") from None
    if arr.ndim != ndim:
        raise ValueError(f"{where}.{key} must be {meaning}; got an array of shape {arr.shape}")
    check_finite(arr, f"{where}.{key}")
    return arr


def from_spec(spec: Any, S: int, A: int, where: str = "param") -> Parametrisation:
    """The parametrisation an (S, A) MDP's spec describes; the inverse of ``Parametrisation.to_spec``.

    ``None`` or ``{"kind": "tabular"}`` → :class:`TabularSoftmax`; ``{"kind": "log-linear", "features": φ}``
    with φ of shape (S, A, k) → :class:`LogLinear`; ``{"kind": "neural", "hidden": [h, ...], "inputs": x}``
    (inputs optional, one-hot by default) → :class:`NeuralSoftmax`.

    Raises
    ------
    ValueError
        Naming the field (prefixed by ``where``) that is missing, of the wrong shape or not finite.
    """
    if spec is None:
        return TabularSoftmax(S, A)
    if not isinstance(spec, dict) or spec.get("kind") not in PARAM_KINDS:
        raise ValueError(f"{where} must be an object whose kind is one of {', '.join(PARAM_KINDS)}; got {spec!r}")
    kind = spec["kind"]
    if kind == TabularSoftmax.kind:
        return TabularSoftmax(S, A)
    if kind == LogLinear.kind:
        phi = _spec_array(spec, "features", where, 3, "the features φ, shape (S, A, k)")
        if phi.shape[:2] != (S, A) or phi.shape[2] < 1:
            raise ValueError(f"{where}.features must have shape (S, A, k) = ({S}, {A}, k ≥ 1); got {phi.shape}")
        return LogLinear(phi)
    hidden = spec.get("hidden")
    if (
        not isinstance(hidden, list | tuple)
        or not 1 <= len(hidden) <= 2
        or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden)
    ):
        raise ValueError(f"{where}.hidden must be a list of one or two positive integers; got {hidden!r}")
    inputs = None
    if spec.get("inputs") is not None:
        inputs = _spec_array(spec, "inputs", where, 2, "the state inputs x, shape (S, m)")
        if inputs.shape[0] != S or inputs.shape[1] < 1:
            raise ValueError(f"{where}.inputs must have shape (S, m) = ({S}, m ≥ 1); got {inputs.shape}")
    return NeuralSoftmax(S, A, tuple(hidden), inputs)
