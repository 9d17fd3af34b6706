"""Sampler throughput: vectorised rollouts vs a Python loop stepping Gymnasium's FrozenLake 8×8.

Run ``python benchmarks/bench_sampler.py`` (or ``python benchmarks/run.py bench_sampler``).

Both sides sample the same process with the same policy π (a fixed softmax policy from a seeded θ):

* baseline — ``gymnasium.make("FrozenLake-v1", map_name="8x8")`` (slippery, TimeLimit of 100 steps, the
  default wrappers), stepped in a Python loop: the action is drawn by inverse CDF with ``bisect`` on the
  cumulative π row of the current state (uniforms drawn in advance, the cheapest per-step draw in
  Python), ``env.step(a)``, and ``env.reset()`` when the episode terminates or is truncated;
* measured — ``TabularSampler.episodes`` on the same environment converted by
  ``tabular_mdps.from_gymnasium`` (S = 65: the 64 cells plus the absorbing end state), 50 000 episodes at
  once, ``horizon=100`` and ``stop_at_absorbing=True``, i.e. the same episode semantics: an episode ends
  when it reaches a hole or the goal (the converted MDP's absorbing state) or after 100 steps. The
  sampler's tables are built once per MDP (not timed); the policy's table is built inside every call.

Throughput is transitions (``env.step`` calls, or entries of the sampled episodes) per second, and

    BENCH sampler_vs_gymnasium ratio = (t_gym / N_gym) / (t_sampler / N_sampler)   target = 100

i.e. time per transition of the baseline over that of the sampler, round by round, median over the
rounds (``_timing.py`` convention: a speed-up, passes iff ratio ≥ target). A detail line checks that
both sides sample the same process (mean episode length and success rate agree within Monte-Carlo
error).
"""

from __future__ import annotations

import bisect
import math
import sys

import numpy as np
from _timing import describe, done, emit, paired_ratio, start, time_interleaved

import tabular_mdps
from r1theory import TabularSampler, softmax

SEED = 20_260_126
EPISODES = 50_000
GYM_STEPS = 20_000
HORIZON = 100  # FrozenLake-v1's registered TimeLimit (max_episode_steps), also for map_name="8x8"
TARGET = 100.0


def main() -> int:
    import gymnasium

    t0 = start("bench_sampler")
    print(f"[bench_sampler] gymnasium {gymnasium.__version__}")
    mdp = tabular_mdps.from_gymnasium("FrozenLake-v1", gamma=0.99, map_name="8x8")
    env = gymnasium.make("FrozenLake-v1", map_name="8x8")
    if env.spec is None or env.spec.max_episode_steps != HORIZON:
        print(
            f"  ERROR: expected FrozenLake-v1's TimeLimit of {HORIZON} steps; got {env.spec}",
            flush=True,
        )
        return 1
    theta = np.random.default_rng(SEED).normal(scale=0.5, size=(mdp.S, mdp.A))
    pi = softmax(theta)
    sampler = TabularSampler(mdp)

    cdf_rows = [np.cumsum(pi[s]).tolist() for s in range(mdp.S - 1)]
    for row in cdf_rows:
        row[-1] = 1.0
    uniforms = np.random.default_rng(SEED + 1).random(GYM_STEPS).tolist()
    stats = {"episodes": 0, "successes": 0}

    def gym_loop() -> None:
        obs, _ = env.reset(seed=SEED)
        episodes = successes = 0
        for k in range(GYM_STEPS):
            a = bisect.bisect_right(cdf_rows[obs], uniforms[k])
            obs, reward, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                episodes += 1
                successes += reward > 0
                obs, _ = env.reset()
        stats["episodes"], stats["successes"] = episodes, successes

    def vectorised() -> object:
        return sampler.episodes(
            pi,
            EPISODES,
            np.random.default_rng(SEED),
            horizon=HORIZON,
            stop_at_absorbing=True,
        )

    ep = sampler.episodes(
        pi,
        EPISODES,
        np.random.default_rng(SEED),
        horizon=HORIZON,
        stop_at_absorbing=True,
    )
    n_ours = ep.transitions
    gym_loop()
    # both sides sample the same process: mean episode length and success rate agree
    # the converted MDP carries expected rewards, so an episode's return is its success probability given its path
    ours_len = float(ep.lengths.mean())
    ours_succ = float(np.bincount(ep.episode, weights=ep.rewards, minlength=ep.n).mean())
    gym_len = GYM_STEPS / max(stats["episodes"], 1)
    gym_succ = stats["successes"] / max(stats["episodes"], 1)
    se_len = float(ep.lengths.std()) / math.sqrt(max(stats["episodes"], 1))
    print(
        f"  same process: mean episode length {ours_len:.2f} (sampler) vs {gym_len:.2f} (gymnasium, ±{se_len:.2f}); "
        f"success rate {ours_succ:.4f} (mean return) vs {gym_succ:.4f}"
    )
    if abs(ours_len - gym_len) > 5 * se_len:
        print(
            "  ERROR: the sampler and gymnasium disagree on the mean episode length",
            flush=True,
        )
        return 1

    timings = time_interleaved({"gymnasium": gym_loop, "sampler": vectorised}, budget=10.0)
    t_gym, t_ours = timings["gymnasium"], timings["sampler"]
    print(describe(f"gymnasium loop, {GYM_STEPS} steps", t_gym))
    print(describe(f"sampler, {EPISODES} episodes = {n_ours} transitions", t_ours))
    per_gym = t_gym.median / GYM_STEPS
    per_ours = t_ours.median / n_ours
    ratio = paired_ratio(t_gym, t_ours, scale=n_ours / GYM_STEPS)  # per-transition times, round by round
    print(
        f"  per transition (medians): gymnasium {per_gym * 1e9:.0f} ns ({1 / per_gym:,.0f}/s), "
        f"sampler {per_ours * 1e9:.1f} ns ({1 / per_ours:,.0f}/s): the sampler is {ratio} faster "
        f"(target ≥ {TARGET:g}×)"
    )
    env.close()
    emit("sampler_vs_gymnasium", ratio, TARGET)
    done("bench_sampler", t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
