"""The worker of ``smac.vs-baselines``: one actor at a grid of steps, several seeds, in lockstep (a sweep task).

Kept apart from the check (:mod:`proofs_checks.smac_vs_baselines`) so that editing the check's analysis or
report does not change the cache keys of its runs (:mod:`proofs_checks.codehash`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

import r1theory as r1
from r1theory import actor_critic as ac

from .runs import instance as catalog_instance

RUN_FN = "proofs_checks.smac_runs:run_config"

#: Gymnasium toy-text ids tried in order (Taxi-v3 became v4 in Gymnasium 1.3).
GYM_IDS: dict[str, tuple[str, ...]] = {
    "FrozenLake": ("FrozenLake-v1",),
    "CliffWalking": ("CliffWalking-v1", "CliffWalking-v0"),
    "Taxi": ("Taxi-v4", "Taxi-v3"),
}


def gymnasium_mdp(env: str, gamma: float, kwargs: dict[str, Any] | None = None) -> r1.TabularMDP:
    """The exact MDP of a Gymnasium toy-text environment (a :data:`GYM_IDS` name or a full id).

    Raises
    ------
    ImportError
        gymnasium is not installed (with the install hint).
    TypeError
        The environment is not toy text: its observation or action space is not ``Discrete`` (e.g.
        CartPole's continuous Box); the message names ``env`` and what is accepted.
    """
    import tabular_mdps

    try:
        import gymnasium
    except ImportError as exc:
        raise ImportError("gymnasium is not installed; install it with: pip install 'r1theory[gym]'") from exc
    ids = GYM_IDS.get(env, (env,))
    known = [i for i in ids if i in gymnasium.envs.registry]
    if not known:
        raise ValueError(f"env {env!r}: none of {list(ids)} is registered in this gymnasium {gymnasium.__version__}")
    e = gymnasium.make(known[0], **(kwargs or {}))
    try:
        spaces = (e.observation_space, e.action_space)
        if not all(isinstance(sp, gymnasium.spaces.Discrete) for sp in spaces):
            raise TypeError(
                f"env {known[0]!r} has observation space {spaces[0]} and action space {spaces[1]}; accepted: "
                "toy-text environments with Discrete observation and action spaces and a transition table "
                "(FrozenLake, CliffWalking, Taxi)"
            )
        return tabular_mdps.from_gymnasium(e, gamma)
    finally:
        e.close()


@functools.lru_cache(maxsize=16)
def _mdp(spec_json: str) -> tuple[r1.TabularMDP, r1.Optimal]:
    spec = json.loads(spec_json)
    if spec["source"] == "gymnasium":
        mdp = gymnasium_mdp(spec["env"], float(spec["gamma"]), spec.get("kwargs"))
        return mdp, r1.optimal(mdp)
    mdp, _, opt = catalog_instance(spec["name"], spec["params"])
    return mdp, opt


def build_mdp(spec: dict[str, Any]) -> tuple[r1.TabularMDP, r1.Optimal]:
    """The MDP of a spec and its optimum; memoised.

    A spec is ``{"source": "catalog", "name", "params"}`` or ``{"source": "gymnasium", "env", "gamma", "kwargs"}``.
    """
    return _mdp(json.dumps(spec, sort_keys=True))


def run_config(config: dict[str, Any]) -> dict[str, Any]:
    """Worker: R seeds of one actor-critic configuration in lockstep; the record of :class:`ActorCriticRuns`."""
    mdp, opt = build_mdp(config["instance"])
    steps = [float(x) for x in config["steps"]]
    cfg = ac.ActorCriticConfig(
        config["actor"],
        steps[0],
        critic=config["critic"],
        critic_step=float(config["critic_step"]),
        batch=int(config["batch"]),
        damping=config["damping"],
        gae_lambda=float(config["gae_lambda"]),
        n_step=int(config["n_step"]),
    )
    seeds = np.random.SeedSequence(int(config["root"])).spawn(int(config["seeds"]))
    runs = ac.actor_critic(
        mdp,
        np.zeros((mdp.S, mdp.A)),
        cfg,
        int(config["iterations"]),
        seeds * len(steps),
        record_every=int(config["record_every"]),
        instruments_every=int(config["instruments_every"]),
        steps=np.repeat(steps, len(seeds)).tolist(),
        optimum=opt,
    )
    return runs.to_record()


#: Record fields with one row per run (the rest are shared: ``t``, ``J_star``, ``config``).
PER_RUN: tuple[str, ...] = (*ac.HISTORIES, "episodes", "transitions", "theta", "w", "max_pi_min", "steps")


def split(record: dict[str, Any], steps: Sequence[float]) -> dict[float, dict[str, Any]]:
    """The record of a step grid run in lockstep (step-major runs), one record per step."""
    n = len(steps)
    R = np.asarray(record["steps"]).shape[0]
    k = R // n
    return {
        float(s): {**record, **{f: np.asarray(record[f])[i * k : (i + 1) * k] for f in PER_RUN}}
        for i, s in enumerate(steps)
    }
