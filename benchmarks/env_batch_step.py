"""Benchmark: notebook 02's pendulum, (a) the vectorised batch step against a plain Python loop
over the same states one environment at a time, and (b) the `gymnasium.Env` wrapper's steps/s
against the raw dynamics (`ODESimulator.step` on one state, no wrapper).

Same solver and states in each pair. Each measurement runs a loop until at least `--min-s`
seconds are timed; the loops alternate over `--rounds` rounds in one process (A B, B A, ...) so
drift hits both. Prints states (or env steps) per second of each and the median per-round ratio,
and writes them to benchmarks/results/env_batch_step.json. About 30 s on an idle 2-core machine.
Run: `make bench` (or `python benchmarks/env_batch_step.py`).
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np
from timing import interleaved, machine, write_record

from nblib.envs.pendulum import ODESimulator, PendulumPhysics, PendulumSwingUpEnv

PHYSICS = PendulumPhysics(dt=0.2)
SOLVERS = [("euler", 1), ("rk4", 20)]  # the cheapest simulator and the true world


def batch_loop(sim: ODESimulator, states: np.ndarray, steps: int) -> tuple[int, float]:
    """`steps` batch steps of all states at once: (state steps, seconds)."""
    u = np.zeros(len(states))
    t0 = time.perf_counter()
    for _ in range(steps):
        states = sim.step(states, u)
    return steps * len(states), time.perf_counter() - t0


def per_env_loop(sim: ODESimulator, states: np.ndarray, steps: int) -> tuple[int, float]:
    """The same state steps, one environment at a time in a Python loop."""
    u = np.zeros(1)
    states = [s[None] for s in states]
    t0 = time.perf_counter()
    for _ in range(steps):
        states = [sim.step(s, u) for s in states]
    return steps * len(states), time.perf_counter() - t0


def raw_loop(sim: ODESimulator, steps: int) -> tuple[int, float]:
    """One state stepped by the raw dynamics."""
    s, u = np.array([[np.pi, 0.0]]), np.zeros(1)
    t0 = time.perf_counter()
    for _ in range(steps):
        s = sim.step(s, u)
    return steps, time.perf_counter() - t0


def gym_loop(integrator: str, substeps: int, steps: int) -> tuple[int, float]:
    """One `PendulumSwingUpEnv` stepped through the gymnasium API (reset on truncation)."""
    env = PendulumSwingUpEnv(integrator, substeps, PHYSICS, max_steps=10**9)
    env.reset(seed=0, options={"state": [np.pi, 0.0]})
    action = np.zeros(1)
    t0 = time.perf_counter()
    for _ in range(steps):
        env.step(action)
    return steps, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=512, help="states per batch step (CEM's "
                        "8 episodes x 64 plans)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved A/B rounds per pair")
    parser.add_argument("--min-s", type=float, default=1.0, help="least timed seconds per loop "
                        "and round")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (NumPy here)")
    args = parser.parse_args()
    record = {"machine": machine(args.threads), "batch": args.batch, "pairs": {}}
    states = np.random.default_rng(0).uniform(-3, 3, (args.batch, 2))
    print(f"{'pair':<44}{'reference /s':>14}{'target /s':>14}{'ratio':>8}   per-round ratios")
    for integrator, k in SOLVERS:
        sim = ODESimulator(PHYSICS, integrator, k)
        pairs = {
            f"batch step vs per-env loop, {sim.name}": (
                functools.partial(per_env_loop, sim, states), functools.partial(batch_loop, sim,
                                                                                  states), 4),
            f"gymnasium env vs raw dynamics, {sim.name}": (
                functools.partial(raw_loop, sim),
                functools.partial(gym_loop, integrator, k), 500),
        }
        for name, (reference, target, steps) in pairs.items():
            out = interleaved(reference, target, steps, args.rounds, args.min_s)
            record["pairs"][name] = out
            print(f"{name:<44}{out['reference']:>14.0f}{out['target']:>14.0f}"
                  f"{out['ratio']:>8.2f}   {', '.join(f'{r:.2f}' for r in out['ratios'])}",
                  flush=True)
    write_record("env_batch_step", record)


if __name__ == "__main__":
    main()
