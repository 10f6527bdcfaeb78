"""nblib.models.world_model: it learns the pendulum's one-step map, and counts its FLOPs."""

import numpy as np
import torch

from nblib.envs.pendulum import ODESimulator, PendulumPhysics
from nblib.models.world_model import MLPWorldModel, build_trainer, train_flops, transitions

P = PendulumPhysics(dt=0.2)


def _error(model, data):
    s, u, nxt = data
    return float(np.sqrt(np.mean((model.step(s, u) - nxt) ** 2)))


def test_training_lowers_the_one_step_error():
    torch.set_num_threads(1)
    true = ODESimulator(P, "rk4", 10)
    data = transitions(true, np.random.default_rng(0), 2000, 8.0, P.max_torque)
    test = transitions(true, np.random.default_rng(1), 500, 8.0, P.max_torque)
    trainer = build_trainer(data, 32, 2, 3e-3, 128, 8.0, P.max_torque, seed=0)
    before = _error(MLPWorldModel(trainer.model, 8.0, P.max_torque), test)
    trainer.fit(300)
    after = _error(MLPWorldModel(trainer.model, 8.0, P.max_torque), test)
    assert after < 0.5 * before


def test_step_shape_and_flops():
    trainer = build_trainer(transitions(ODESimulator(P, "euler", 1), np.random.default_rng(0),
                                        10, 8.0, P.max_torque), 16, 2, 1e-3, 4, 8.0,
                            P.max_torque, seed=0)
    model = MLPWorldModel(trainer.model, 8.0, P.max_torque)
    assert model.step(np.zeros((5, 2)), np.zeros(5)).shape == (5, 2)
    weights = 4 * 16 + 16 * 16 + 16 * 2
    assert model.flops_per_step == 2 * weights
    assert train_flops(trainer.model, 10, 4) == 6 * weights * 40
