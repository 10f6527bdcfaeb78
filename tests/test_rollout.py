"""nblib.planning.rollout: plan scores are mean reward per step of the simulated states."""

import numpy as np

from nblib.envs.pendulum import ODESimulator, PendulumPhysics, reward
from nblib.planning.rollout import plan_returns, replay


class Drift:
    """A toy simulator: theta moves by the action."""

    def step(self, states, actions):
        return states + np.stack([actions, np.zeros_like(actions)], 1)


def test_plan_returns_average_the_reward_of_every_step():
    states = np.array([[0.0, 0.0]])
    plans = np.array([[[0.0, 0.0], [np.pi, 0.0]]])  # (E=1, P=2, H=2)
    out = plan_returns(Drift(), reward, states, plans)
    assert out.shape == (1, 2)
    assert np.allclose(out, [[1.0, 0.0]])  # stays upright; falls to hanging and stays


def test_replay_matches_a_manual_loop():
    sim = ODESimulator(PendulumPhysics(), "euler", 2)
    s0 = np.array([[np.pi, 0.1], [3.0, -0.2]])
    actions = np.array([[1.0, -1.0, 2.0], [0.0, 0.5, -2.0]])
    s, total = s0, 0.0
    for t in range(3):
        s = sim.step(s, actions[:, t])
        total = total + reward(s)
    assert np.allclose(replay(sim, reward, s0, actions), total / 3)
