"""nblib.envs.pendulum: the solvers' orders and energy behaviour, the batch step, the gymnasium
environments, and the errors for bad solver settings."""

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from nblib.config import ConfigError
from nblib.envs.pendulum import (
    INTEGRATORS,
    ODESimulator,
    PendulumPhysics,
    PendulumSwingUpEnv,
    PendulumSwingUpVectorEnv,
    reward,
)

STATES = np.array([[np.pi - 0.3, 0.2], [0.4, -1.5], [2.0, 3.0]])
TORQUES = np.array([1.0, -2.5, 0.3])


@pytest.mark.parametrize("integrator, substeps, match", [
    ("leapfrog", 1, "unknown, must be one of"), ("rk4", 0, "substeps=0: must be an integer >= 1"),
    ("euler", 1.5, "substeps=1.5")])
def test_bad_solver_settings_are_config_errors(integrator, substeps, match):
    with pytest.raises(ConfigError, match=match):
        ODESimulator(PendulumPhysics(), integrator, substeps)
    with pytest.raises(ConfigError, match=match):
        PendulumSwingUpEnv(integrator, substeps)


@pytest.mark.parametrize("integrator, order", [("euler", 1), ("semi_implicit_euler", 1),
                                               ("rk4", 4)])
def test_each_solver_converges_at_its_order(integrator, order):
    p = PendulumPhysics(dt=0.2)
    exact = ODESimulator(p, "rk4", 400).step(STATES, TORQUES)
    err = [np.abs(ODESimulator(p, integrator, k).step(STATES, TORQUES) - exact).max()
           for k in (4, 8)]
    assert np.log2(err[0] / err[1]) == pytest.approx(order, abs=0.35)


def _energy(p, s):
    return 0.5 * s[:, 1] ** 2 + (p.gravity / p.length) * np.cos(s[:, 0])


def test_explicit_euler_injects_energy_semi_implicit_does_not():
    p = PendulumPhysics(damping=0.0, dt=0.2)
    s0 = np.array([[np.pi - 0.5, 0.0]])  # a swing about the bottom
    for integrator, grows in (("euler", True), ("semi_implicit_euler", False)):
        sim, s = ODESimulator(p, integrator, 1), s0
        for _ in range(100):
            s = sim.step(s, np.zeros(1))
        change = (_energy(p, s) - _energy(p, s0))[0]
        assert (change > 1.0) if grows else (abs(change) < 0.5), (integrator, change)


def test_batch_step_equals_a_per_state_loop_and_clips_torque():
    sim = ODESimulator(PendulumPhysics(), "rk4", 3)
    batch = sim.step(STATES, TORQUES * 10)
    loop = np.stack([sim.step(s[None], np.array([u]))[0] for s, u in zip(STATES, TORQUES * 10,
                                                                           strict=True)])
    assert np.array_equal(batch, loop)
    clipped = sim.step(STATES, np.clip(TORQUES * 10, -2.5, 2.5))
    assert np.array_equal(batch, clipped)


def test_compute_counts():
    assert ODESimulator(PendulumPhysics(), "rk4", 5).evals_per_step == 20
    assert ODESimulator(PendulumPhysics(), "euler", 3).evals_per_step == 3
    assert set(INTEGRATORS) == {"euler", "semi_implicit_euler", "rk4"}


def test_gymnasium_env_passes_the_checker_and_truncates():
    env = PendulumSwingUpEnv("euler", 2, max_steps=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check_env(env, skip_render_check=True)
    obs, info = env.reset(options={"state": [np.pi, 0.0]})
    assert np.allclose(obs, [-1, 0, 0]) and reward(info["state"]) == pytest.approx(0.0)
    flags = [env.step([1.0])[3] for _ in range(3)]
    assert flags == [False, False, True]
    assert env.step([0.0])[4]["rhs_evals"] == 2


def test_vector_env_steps_like_the_single_env():
    vec = PendulumSwingUpVectorEnv(3, "rk4", 4, max_steps=2)
    obs, info = vec.reset(options={"states": STATES})
    obs, r, term, trunc, info = vec.step(TORQUES)
    for i in range(3):
        env = PendulumSwingUpEnv("rk4", 4, max_steps=2)
        env.reset(options={"state": STATES[i]})
        o, ri, *_ = env.step([TORQUES[i]])
        assert np.allclose(o, obs[i]) and ri == pytest.approx(r[i])
    assert not trunc.any() and vec.step(TORQUES)[3].all()
