"""nblib.envs.mujoco_pendulum: one short episode through gymnasium[mujoco], MuJoCo's fidelity
knobs with the control interval held fixed, and agreement with the ODE pendulum."""

import numpy as np
import pytest

from nblib.config import ConfigError
from nblib.envs.mujoco_pendulum import MujocoPendulumEnv, MujocoSimulator
from nblib.envs.pendulum import ODESimulator, PendulumPhysics

P = PendulumPhysics(dt=0.2)


def test_one_short_episode_through_gymnasium_mujoco():
    env = MujocoPendulumEnv("rk4", 4, P, max_steps=4)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3,) and obs[0] < -0.9  # starts near hanging down
    assert env.dt == pytest.approx(P.dt) and env.frame_skip == 4
    assert env.model.opt.timestep == pytest.approx(P.dt / 4)
    rewards, truncated = [], []
    for _ in range(4):
        obs, r, terminated, trunc, info = env.step(np.array([2.5]))
        rewards.append(r), truncated.append(trunc)
        assert not terminated and 0.0 <= r <= 1.0
    assert truncated == [False, False, False, True]
    assert rewards[-1] > rewards[0]  # the push lifts it
    env.close()


def test_fidelity_knobs_keep_the_control_interval():
    for k in (1, 5):
        sim = MujocoSimulator(P, "semi_implicit_euler", k)
        assert sim.model.opt.timestep * k == pytest.approx(P.dt)
    assert MujocoSimulator(P, "rk4", 3).evals_per_step == 12


def test_mujoco_matches_the_ode_and_converges():
    s = np.array([[np.pi - 0.3, 0.2], [0.4, -1.5]])
    u = np.array([1.0, -2.0])
    ode = ODESimulator(P, "rk4", 20).step(s, u)
    fine = MujocoSimulator(P, "rk4", 20).step(s, u)
    assert np.abs(fine - ode).max() < 0.01  # the sphere's own inertia: 0.1% of m l^2
    coarse = [np.abs(MujocoSimulator(P, "semi_implicit_euler", k).step(s, u) - fine).max()
              for k in (1, 4)]
    assert coarse[0] > coarse[1] > 0


def test_explicit_euler_is_not_a_mujoco_integrator():
    with pytest.raises(ConfigError, match="unknown for MuJoCo"):
        MujocoSimulator(P, "euler", 1)
    with pytest.raises(ConfigError, match="frame_skip"):
        MujocoPendulumEnv("rk4", 0, P)
