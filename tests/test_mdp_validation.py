"""Bad input raises ValueError or TypeError whose message names the field; nothing else, never silently."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import r1theory as r1
from tabular_mdps.strategies import mdps, thetas


def _valid(S=3, A=2):
    rng = np.random.default_rng(0)
    P = rng.random((S, A, S)) + 0.1
    P /= P.sum(axis=-1, keepdims=True)
    return P, rng.random((S, A)), 0.9, np.full(S, 1.0 / S)


@pytest.fixture
def mdp():
    return r1.TabularMDP(*_valid())


# ------------------------------------------------------------------------------------------------
# TabularMDP
# ------------------------------------------------------------------------------------------------
def _bad_P():
    P, _, _, _ = _valid()
    unnormalised = P.copy()
    unnormalised[1, 0] *= 0.9
    negative = P.copy()
    negative[0, 1, 0] -= 1.0
    negative[0, 1, 1] += 1.0
    nan, inf = P.copy(), P.copy()
    nan[2, 1, 0] = np.nan
    inf[0, 0, 2] = np.inf
    cases = {
        "unnormalised": (unnormalised, ValueError, r"P \(each row P\[s, a, :\]\) must sum to 1.*index \(1, 0\)"),
        "negative": (negative, ValueError, r"P \(each row P\[s, a, :\]\) has a negative entry.*index \(0, 1, 0\)"),
        "nan": (nan, ValueError, r"P \(each row P\[s, a, :\]\) has a NaN or infinite entry at index \(2, 1, 0\)"),
        "inf": (inf, ValueError, r"P \(each row P\[s, a, :\]\) has a NaN or infinite entry"),
        "not-square": (P[:, :, :2], ValueError, r"P must have shape \(S, A, S\)"),
        "2-d": (P[0], ValueError, r"P must be a 3-d array"),
        "4-d": (P[None], ValueError, r"P must be a 3-d array"),
        "empty": (np.zeros((0, 2, 0)), ValueError, r"P must have at least one state and one action"),
        "bool": (P > 0.2, TypeError, r"P must be a real numeric array.*bool"),
        "complex": (P.astype(complex), TypeError, r"P must be a real numeric array.*complex"),
        "strings": (P.astype(str), TypeError, r"P must be a real numeric array"),
        "ragged": ([[[1.0, 0.0, 0.0], [1.0, 0.0]]] * 3, TypeError, r"P must be a real numeric array"),
        "object": (np.array([[[None]]], dtype=object), TypeError, r"P must be a real numeric array.*object"),
        "str": ("P", TypeError, r"P must be a real numeric array"),
    }
    return [pytest.param(*case, id=name) for name, case in cases.items()]


@pytest.mark.parametrize("bad,exc,msg", _bad_P())
def test_bad_P(bad, exc, msg):
    _, r, gamma, rho = _valid()
    with pytest.raises(exc, match=msg):
        r1.TabularMDP(bad, r, gamma, rho)


def _bad_r():
    _, r, _, _ = _valid()
    nan = r.copy()
    nan[1, 1] = np.nan
    return [
        (r[:, :1], ValueError, r"r must have shape \(3, 2\)"),
        (r.T, ValueError, r"r must have shape \(3, 2\)"),
        (r.ravel(), ValueError, r"r must have shape"),
        (nan, ValueError, r"r has a NaN or infinite entry at index \(1, 1\)"),
        (np.full((3, 2), -np.inf), ValueError, r"r has a NaN or infinite"),
        (r > 0.5, TypeError, r"r must be a real numeric array.*bool"),
        (r + 0j, TypeError, r"r must be a real numeric array.*complex"),
        ([[1.0, 2.0], [3.0], [4.0, 5.0]], TypeError, r"r must be a real numeric array"),
    ]


@pytest.mark.parametrize("bad,exc,msg", _bad_r())
def test_bad_r(bad, exc, msg):
    P, _, gamma, rho = _valid()
    with pytest.raises(exc, match=msg):
        r1.TabularMDP(P, bad, gamma, rho)


@pytest.mark.parametrize(
    "gamma,exc,msg",
    [
        (1.0, ValueError, r"gamma must lie in \[0, 1\); got 1.0"),
        (1.5, ValueError, r"gamma must lie in \[0, 1\)"),
        (-0.1, ValueError, r"gamma must lie in \[0, 1\)"),
        (-0.0 - 1e-300, ValueError, r"gamma must lie in \[0, 1\)"),
        (np.nextafter(1.0, 0.0) + 1e-16, ValueError, r"gamma must lie in \[0, 1\)"),
        (float("nan"), ValueError, r"gamma must be finite"),
        (float("inf"), ValueError, r"gamma must be finite"),
        (True, TypeError, r"gamma must be a real number; got bool"),
        (False, TypeError, r"gamma must be a real number; got bool"),
        (np.bool_(False), TypeError, r"gamma must be a real number"),
        ("0.9", TypeError, r"gamma must be a real number; got str"),
        (0.9 + 0j, TypeError, r"gamma must be a real number; got complex"),
        (None, TypeError, r"gamma must be a real number"),
        ([0.9], TypeError, r"gamma must be a real number"),
    ],
)
def test_bad_gamma(gamma, exc, msg):
    P, r, _, rho = _valid()
    with pytest.raises(exc, match=msg):
        r1.TabularMDP(P, r, gamma, rho)


@pytest.mark.parametrize("gamma", [0, 0.0, 0.5, np.float64(0.99), np.float32(0.9), np.nextafter(1.0, 0.0)])
def test_good_gamma(gamma):
    P, r, _, rho = _valid()
    assert r1.TabularMDP(P, r, gamma, rho).gamma == float(gamma)


@pytest.mark.parametrize(
    "rho,exc,msg",
    [
        ([0.5, 0.5], ValueError, r"rho must have shape \(3,\)"),
        ([[1 / 3, 1 / 3, 1 / 3]], ValueError, r"rho must have shape \(3,\)"),
        ([0.5, 0.5, 0.5], ValueError, r"rho must sum to 1"),
        ([0.0, 0.0, 0.0], ValueError, r"rho must sum to 1"),
        ([1.5, -0.5, 0.0], ValueError, r"rho has a negative entry"),
        ([np.nan, 0.5, 0.5], ValueError, r"rho has a NaN or infinite entry"),
        ([True, False, False], TypeError, r"rho must be a real numeric array.*bool"),
        (["a", "b", "c"], TypeError, r"rho must be a real numeric array"),
    ],
)
def test_bad_rho(rho, exc, msg):
    P, r, gamma, _ = _valid()
    with pytest.raises(exc, match=msg):
        r1.TabularMDP(P, r, gamma, rho)


def test_valid_mdp_is_copied_and_frozen():
    P, r, gamma, rho = _valid()
    mdp = r1.TabularMDP(P.tolist(), r.astype(np.float32), gamma, rho)  # lists and other float dtypes are fine
    assert (mdp.S, mdp.A) == (3, 2)
    for arr in (mdp.P, mdp.r, mdp.rho):
        assert arr.dtype == np.float64
        assert not arr.flags.writeable
    P[0, 0, 0] = 123.0  # the MDP does not see later changes to the caller's arrays
    assert mdp.P[0, 0, 0] != 123.0
    with pytest.raises(ValueError, match="read-only"):
        mdp.P[0, 0, 0] = 1.0
    int_mdp = r1.TabularMDP(np.ones((1, 2, 1), dtype=int), np.zeros((1, 2), dtype=int), 0, [1])
    assert int_mdp.P.dtype == np.float64


# ------------------------------------------------------------------------------------------------
# Policies, logits, damping, methods
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "pi,exc,msg",
    [
        (np.full((3, 3), 1 / 3), ValueError, r"pi must have shape \(3, 2\)"),
        (np.full((3, 2), 0.6), ValueError, r"pi \(each row π\(·\|s\)\) must sum to 1"),
        (np.array([[1.5, -0.5]] * 3), ValueError, r"pi \(each row π\(·\|s\)\) has a negative entry"),
        (np.array([[np.nan, 1.0]] * 3), ValueError, r"pi .* NaN"),
        (np.array([[True, False]] * 3), TypeError, r"pi must be a real numeric array"),
    ],
)
def test_bad_policy(mdp, pi, exc, msg):
    with pytest.raises(exc, match=msg):
        r1.evaluate(mdp, pi)


def _theta_entry_points(mdp):
    return {
        "policy_gradient": lambda th: r1.policy_gradient(mdp, th),
        "policy_point": lambda th: r1.policy_point(mdp, th),
        "fisher": lambda th: r1.fisher(mdp, th),
        "natural_gradient": lambda th: r1.natural_gradient(mdp, th),
        "direction": lambda th: r1.direction("r1-precond", mdp, th, damping=0.1),
        "fisher_diagnostics": lambda th: r1.fisher_diagnostics(mdp, th, 0.1),
    }


@pytest.mark.parametrize(
    "theta,exc,msg",
    [
        (np.zeros((3, 3)), ValueError, r"theta must have shape \(3, 2\)"),
        (np.zeros(6), ValueError, r"theta must have shape \(3, 2\)"),
        (np.zeros((2, 3)), ValueError, r"theta must have shape \(3, 2\)"),
        (np.array([[0.0, np.nan]] * 3), ValueError, r"theta has a NaN or infinite entry at index \(0, 1\)"),
        (np.array([[0.0, -np.inf]] * 3), ValueError, r"theta has a NaN or infinite entry"),
        (np.zeros((3, 2), dtype=bool), TypeError, r"theta must be a real numeric array.*bool"),
        (np.zeros((3, 2), dtype=complex), TypeError, r"theta must be a real numeric array.*complex"),
        ([[0.0, 1.0], [0.0], [1.0, 2.0]], TypeError, r"theta must be a real numeric array"),
    ],
)
@pytest.mark.parametrize("entry", list(_theta_entry_points(None)))
def test_bad_theta(mdp, entry, theta, exc, msg):
    with pytest.raises(exc, match=msg):
        _theta_entry_points(mdp)[entry](theta)


@pytest.mark.parametrize(
    "theta,exc,msg",
    [
        (np.zeros((2, 0)), ValueError, r"theta must have at least one action"),
        (np.float64(1.0), ValueError, r"theta must have at least one action"),
        ([np.nan, 1.0], ValueError, r"theta has a NaN"),
        (["a", "b"], TypeError, r"theta must be a real numeric array"),
    ],
)
def test_bad_softmax_input(theta, exc, msg):
    with pytest.raises(exc, match=msg):
        r1.softmax(theta)
    with pytest.raises(exc, match=msg):
        r1.log_softmax(theta)


@pytest.mark.parametrize(
    "damping,exc,msg",
    [
        (-1e-3, ValueError, r"damping must be >= 0; got -0.001"),
        (float("nan"), ValueError, r"damping must be finite"),
        (float("inf"), ValueError, r"damping must be finite"),
        (True, TypeError, r"damping must be a real number; got bool"),
        ("0.1", TypeError, r"damping must be a real number; got str"),
        (np.array([0.1]), TypeError, r"damping must be a real number"),
    ],
)
def test_bad_damping(mdp, damping, exc, msg):
    theta = np.zeros((3, 2))
    F = r1.fisher(mdp, theta)
    for call in (
        lambda: r1.natural_gradient(mdp, theta, damping=damping),
        lambda: F.solve(np.ones((3, 2)), damping),
        lambda: r1.direction("npg-damped", mdp, theta, damping=damping),
        lambda: r1.direction("pg", mdp, theta, damping=damping),
        lambda: r1.sherman_morrison(np.ones(3), damping),
        lambda: r1.fisher_diagnostics(mdp, theta, damping),
    ):
        with pytest.raises(exc, match=msg):
            call()


@pytest.mark.parametrize("method", sorted(r1.DAMPED_METHODS))
def test_damped_method_needs_positive_damping(mdp, method):
    theta = np.zeros((3, 2))
    with pytest.raises(ValueError, match=rf"method '{method}' needs damping=λ > 0"):
        r1.direction(method, mdp, theta)
    with pytest.raises(ValueError, match=rf"damping must be > 0 for method '{method}'"):
        r1.direction(method, mdp, theta, damping=0.0)
    with pytest.raises(ValueError, match=r"damping must be > 0"):
        r1.fisher_diagnostics(mdp, theta, 0.0)


def test_undamped_method_refuses_damping(mdp):
    theta = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"method 'npg' is undamped but damping=0.1 was given; use 'npg-damped'"):
        r1.direction("npg", mdp, theta, damping=0.1)
    with pytest.raises(ValueError, match=r"method 'pg' is undamped.*pass damping=None"):
        r1.direction("pg", mdp, theta, damping=0.1)


@pytest.mark.parametrize(
    "method,exc,msg",
    [
        ("npg_damped", ValueError, r"unknown method 'npg_damped'; choose one of pg, npg, npg-damped"),
        ("PG", ValueError, r"unknown method 'PG'"),
        ("", ValueError, r"unknown method ''"),
        ("r1-sample", ValueError, r"unknown method 'r1-sample'"),
        (None, TypeError, r"method must be a string.*got NoneType"),
        (1, TypeError, r"method must be a string.*got int"),
    ],
)
def test_bad_method(mdp, method, exc, msg):
    with pytest.raises(exc, match=msg):
        r1.direction(method, mdp, np.zeros((3, 2)), damping=0.1)


# ------------------------------------------------------------------------------------------------
# Vectors for fisher.mv / fisher.solve / sherman_morrison
# ------------------------------------------------------------------------------------------------
BAD_FISHER_VECTORS = [
    (np.zeros((3, 3)), ValueError, r"v must have shape \(S, A\) = \(3, 2\) or \(S\*A,\) = \(6,\); got \(3, 3\)"),
    (np.zeros(5), ValueError, r"v must have shape .*got \(5,\)"),
    (np.zeros((3, 2, 1)), ValueError, r"v must have shape"),
    (np.zeros((2, 6)), ValueError, r"v must have shape"),
    (np.float64(1.0), ValueError, r"v must have shape"),
    (np.array([[1.0, np.nan]] * 3), ValueError, r"v has a NaN or infinite entry"),
    (np.ones((3, 2), dtype=bool), TypeError, r"v must be a real numeric array"),
    (np.ones((3, 2), dtype=complex), TypeError, r"v must be a real numeric array"),
]


@pytest.mark.parametrize("v,exc,msg", BAD_FISHER_VECTORS)
@pytest.mark.parametrize("op", ["mv", "solve0", "solve", "project_range"])
def test_bad_fisher_vector(mdp, op, v, exc, msg):
    F = r1.fisher(mdp, np.zeros((3, 2)))
    call = {
        "mv": lambda: F.mv(v),
        "solve0": lambda: F.solve(v),
        "solve": lambda: F.solve(v, 0.5),
        "project_range": lambda: F.project_range(v),
    }[op]
    with pytest.raises(exc, match=msg):
        call()


@pytest.mark.parametrize(
    "u,exc,msg",
    [
        (np.float64(1.0), ValueError, r"u must be a vector"),
        (np.array([1.0, np.nan]), ValueError, r"u has a NaN or infinite entry"),
        (np.array([1.0, np.inf]), ValueError, r"u has a NaN or infinite entry"),
        (np.array([True, False]), TypeError, r"u must be a real numeric array"),
        (np.array([1j, 0]), TypeError, r"u must be a real numeric array"),
        ([[1.0, 2.0], [3.0]], TypeError, r"u must be a real numeric array"),
    ],
)
def test_bad_sherman_morrison_u(u, exc, msg):
    with pytest.raises(exc, match=msg):
        r1.sherman_morrison(u, 1.0)


def test_sherman_morrison_damping_must_be_positive():
    with pytest.raises(ValueError, match=r"damping must be > 0 for method 'sherman_morrison'"):
        r1.sherman_morrison(np.ones(3), 0.0)
    with pytest.raises(ValueError, match=r"damping must be >= 0"):
        r1.sherman_morrison(np.ones(3), -1.0)


@pytest.mark.parametrize(
    "u_shape,v,exc,msg",
    [
        ((3,), np.ones(4), ValueError, r"v must have last dimension 3 to match u; got shape \(4,\)"),
        ((3,), np.ones((2, 4)), ValueError, r"v must have last dimension 3"),
        ((3,), np.float64(1.0), ValueError, r"v must have last dimension 3"),
        ((3,), np.array([True, False, True]), TypeError, r"v must be a real numeric array"),
        ((3,), np.array([1.0, np.nan, 0.0]), ValueError, r"\bv\b.*NaN"),
        ((2, 3), np.ones((4, 3)), ValueError, r"\bv\b"),  # batch of 2 operators, batch of 4 vectors
    ],
    ids=["last-dim", "batch-last-dim", "scalar", "bool", "nan", "batch-mismatch"],
)
def test_bad_sherman_morrison_v(u_shape, v, exc, msg):
    op = r1.sherman_morrison(np.ones(u_shape), 1.0)
    with pytest.raises(exc, match=msg):
        op.mv(v)


# ------------------------------------------------------------------------------------------------
# Property: every malformed input is refused with ValueError/TypeError naming the field
# ------------------------------------------------------------------------------------------------
MUTATIONS = ["shape", "nan", "inf", "negative", "unnormalised", "bool", "complex"]


def _mutate(draw, field, kind, arr):
    """Return a malformed version of ``arr`` (a field of a valid MDP) or None if ``kind`` does not apply."""
    arr = np.array(arr, dtype=np.float64, copy=True)
    idx = tuple(draw(st.integers(0, n - 1)) for n in arr.shape)
    if kind == "shape":
        axis = draw(st.integers(0, arr.ndim - 1))
        pad = [(0, 0)] * arr.ndim
        pad[axis] = (0, draw(st.integers(1, 2)))
        return np.pad(arr, pad) if draw(st.booleans()) else arr[..., None]
    if kind == "nan":
        arr[idx] = np.nan
    elif kind == "inf":
        arr[idx] = draw(st.sampled_from([np.inf, -np.inf]))
    elif kind == "negative":
        if field == "r":
            return None  # negative rewards are valid
        arr[idx] = -draw(st.floats(1e-6, 10.0))
    elif kind == "unnormalised":
        if field == "r":
            return None
        factor = draw(st.one_of(st.floats(0.0, 0.999), st.floats(1.001, 100.0)))
        if field == "P":
            arr[idx[:2]] *= factor
        else:
            arr *= factor
    elif kind == "bool":
        return arr > 0.5
    elif kind == "complex":
        return arr + 1j
    return arr


@settings(deadline=None, max_examples=2 * settings.default.max_examples)  # 100 under "ci"
@given(mdp=mdps(max_states=4, max_actions=3), data=st.data())
def test_malformed_mdp_is_refused(mdp, data):
    field = data.draw(st.sampled_from(["P", "r", "rho", "gamma"]))
    fields = {"P": mdp.P, "r": mdp.r, "rho": mdp.rho, "gamma": mdp.gamma}
    if field == "gamma":
        fields["gamma"] = data.draw(
            st.one_of(
                st.floats(1.0, 1e6),
                st.floats(-1e6, -1e-12),
                st.sampled_from([float("nan"), float("inf"), -float("inf"), True, False, "0.5", None, 0.5j]),
            )
        )
    else:
        kind = data.draw(st.sampled_from(MUTATIONS))
        bad = _mutate(data.draw, field, kind, fields[field])
        if bad is None:
            return
        fields[field] = bad
    with pytest.raises((ValueError, TypeError), match=rf"\b{field}\b"):
        r1.TabularMDP(fields["P"], fields["r"], fields["gamma"], fields["rho"])


@settings(deadline=None, max_examples=2 * settings.default.max_examples)  # 100 under "ci"
@given(mdp=mdps(max_states=4, max_actions=3), data=st.data())
def test_malformed_theta_and_vectors_are_refused(mdp, data):
    theta = data.draw(thetas(mdp, max_abs=10.0))
    kind = data.draw(st.sampled_from(["shape", "nan", "inf", "bool", "complex"]))
    bad = _mutate(data.draw, "theta", kind, theta)
    target = data.draw(st.sampled_from(["evaluate-path", "fisher.mv", "fisher.solve", "direction"]))
    if target == "evaluate-path":
        with pytest.raises((ValueError, TypeError), match=r"\btheta\b"):
            r1.policy_gradient(mdp, bad)
    elif target == "direction":
        method = data.draw(st.sampled_from(r1.METHODS))
        damping = 0.1 if method in r1.DAMPED_METHODS else None
        with pytest.raises((ValueError, TypeError), match=r"\btheta\b"):
            r1.direction(method, mdp, bad, damping=damping)
    else:
        F = r1.fisher(mdp, theta)
        with pytest.raises((ValueError, TypeError), match=r"\bv\b"):
            if target == "fisher.mv":
                F.mv(bad)
            else:
                F.solve(bad, data.draw(st.sampled_from([0.0, 0.1])))
