"""nblib.planning.cem: the planner's budget, its determinism under a seed, and that it plans."""

import numpy as np
import pytest

from nblib.config import ConfigError
from nblib.envs.pendulum import ODESimulator, PendulumPhysics, reward
from nblib.planning.cem import CEMPlanner, CEMSettings

P = PendulumPhysics(dt=0.2)
SIM = ODESimulator(P, "rk4", 2)
STATES = np.array([[0.1, 0.0], [np.pi - 0.2, 0.5]])


def _rngs(seed):
    return [np.random.default_rng([seed, e]) for e in range(len(STATES))]


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="population=0"):
        CEMSettings(population=0)
    with pytest.raises(ConfigError, match="elite_frac"):
        CEMSettings(elite_frac=0.0)
    assert CEMSettings(population=8, elite_frac=0.01).elites == 2


def test_budget_and_determinism():
    s = CEMSettings(horizon=5, population=16, iterations=2)
    actions = []
    for _ in range(2):
        planner = CEMPlanner(s, SIM, reward, P.max_torque)
        planner.reset(len(STATES))
        actions.append(planner.act(STATES, _rngs(0)))
        assert planner.transitions == len(STATES) * s.transitions_per_step == 2 * 160
    assert np.array_equal(*actions)
    assert np.all(np.abs(actions[0]) <= P.max_torque)


def test_it_balances_what_random_torque_drops():
    """Closed loop from near upright: CEM keeps the pendulum up, random torque does not."""
    planner = CEMPlanner(CEMSettings(horizon=8, population=64, iterations=3), SIM, reward,
                         P.max_torque)
    planner.reset(len(STATES))
    rng = np.random.default_rng(3)
    planned, rand = STATES[:1].copy(), STATES[:1].copy()
    got = {"cem": 0.0, "random": 0.0}
    for _ in range(15):
        planned = SIM.step(planned, planner.act(np.repeat(planned, 2, 0), _rngs(1))[:1])
        rand = SIM.step(rand, rng.uniform(-P.max_torque, P.max_torque, 1))
        got["cem"] += float(reward(planned)[0]) / 15
        got["random"] += float(reward(rand)[0]) / 15
    assert got["cem"] > 0.9 > got["random"]
