"""A learned simulator: an MLP dynamics model of a pendulum-like system (state (theta, omega),
torque u), trained through the shared `Trainer`, used by a planner in place of the solver.

Input (cos theta, sin theta, omega / omega_scale, u / u_max) -> output the state change
(delta theta, delta omega / omega_scale) over one control interval; the loss is the mean squared
error of that normalised change. Compute: `flops_per_step` (forward, 2 per weight) per simulated
transition, `train_flops` (6 per weight per example) for training.
"""

from __future__ import annotations

import numpy as np
import torch

from nblib.models.mlp import MLP
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer


def features(states: torch.Tensor, actions: torch.Tensor, omega_scale: float,
             max_torque: float) -> torch.Tensor:
    """(B, 2) states, (B,) torques -> (B, 4) network inputs."""
    theta, omega = states[:, 0], states[:, 1]
    return torch.stack([torch.cos(theta), torch.sin(theta), omega / omega_scale,
                        actions / max_torque], dim=1)


class MLPWorldModel:
    """`step(states (B, 2), actions (B,)) -> (B, 2)` with an MLP, as `ODESimulator.step` does."""

    def __init__(self, net: MLP, omega_scale: float, max_torque: float):
        self.net, self.omega_scale, self.max_torque = net.eval(), omega_scale, max_torque
        self.scale = torch.tensor([1.0, omega_scale])  # output units -> (rad, rad/s)

    @property
    def flops_per_step(self) -> float:
        """Forward FLOPs per simulated transition of one state (2 per weight)."""
        return self.net.flops_per_example() / 3.0

    @torch.no_grad()
    def step(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        s = torch.as_tensor(states, dtype=torch.float32)  # (B, 2)
        u = torch.as_tensor(np.clip(actions, -self.max_torque, self.max_torque),
                            dtype=torch.float32)  # (B,)
        delta = self.net(features(s, u, self.omega_scale, self.max_torque)) * self.scale
        return (s + delta).double().numpy()


def transitions(simulator, rng: np.random.Generator, n: int, omega_scale: float,
                max_torque: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n transitions of `simulator` from states uniform over theta in [-pi, pi], omega in
    [-omega_scale, omega_scale] and torques uniform in [-u_max, u_max]: (states, actions, next)."""
    states = np.stack([rng.uniform(-np.pi, np.pi, n), rng.uniform(-omega_scale, omega_scale, n)],
                      1)
    actions = rng.uniform(-max_torque, max_torque, n)
    return states, actions, simulator.step(states, actions)


def build_trainer(data: tuple[np.ndarray, np.ndarray, np.ndarray], width: int, depth: int,
                  lr: float, batch_size: int, omega_scale: float, max_torque: float,
                  seed: int) -> Trainer:
    """A Trainer of a fresh MLP (seeded) on the transitions `data`, minibatches drawn with
    replacement, AdamW at a constant rate after 10 warm-up steps (every checkpoint along the run
    is read at the same rate, so none is a mid-decay transient)."""
    s, u, nxt = (torch.as_tensor(a, dtype=torch.float32) for a in data)
    x = features(s, u, omega_scale, max_torque)  # (M, 4)
    y = (nxt - s) / torch.tensor([1.0, omega_scale])  # (M, 2)
    torch.manual_seed(seed)
    net = MLP(4, width, depth, out_dim=2)

    def batches(g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(0, len(x), (batch_size,), generator=g)
        return x[idx], y[idx]  # (B, 4), (B, 2)

    def loss(model, batch, step):
        xb, yb = batch
        return ((model(xb) - yb) ** 2).mean()

    cfg = TrainConfig(lr=lr, schedule=Schedule("constant", warmup_steps=10), weight_decay=0.0,
                      grad_clip=None, log_every=10**9, seed=seed)
    return Trainer(net, cfg, batches, loss_fn=loss)


def train_flops(net: MLP, steps: int, batch_size: int) -> float:
    """Training FLOPs of `steps` minibatches (6 per weight per example)."""
    return net.flops_per_example() * steps * batch_size
