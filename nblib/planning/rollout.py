"""Scoring action sequences inside a simulator: the one rollout both planners use.

A simulator is anything with `step(states (B, S), actions (B,)) -> (B, S)`; a reward function maps
states (..., S) to (...) rewards. Scores are mean reward per step over the horizon, in the reward's
range.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Reward = Callable[[np.ndarray], np.ndarray]


def plan_returns(simulator, reward: Reward, states: np.ndarray, plans: np.ndarray) -> np.ndarray:
    """Mean reward per step of each plan: states (E, S), plans (E, P, H) -> (E, P)."""
    E, P, H = plans.shape
    s = np.repeat(states, P, axis=0)  # (E*P, S)
    total = np.zeros(E * P)
    flat = plans.reshape(E * P, H)
    for h in range(H):
        s = simulator.step(s, flat[:, h])
        total += reward(s)
    return total.reshape(E, P) / H


def replay(simulator, reward: Reward, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Mean reward per step of whole action sequences replayed open-loop: (E, S), (E, T) -> (E,)."""
    return plan_returns(simulator, reward, states, actions[:, None, :])[:, 0]
