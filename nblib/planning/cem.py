"""A fixed cross-entropy-method (CEM) model-predictive planner, batched over episodes.

Every control step, per episode: `iterations` rounds of drawing `population` action sequences of
length `horizon` from a Gaussian (clipped to the torque limit), scoring them in the simulator,
and refitting mean and std to the best `elite_frac`; the first action of the final mean is taken,
and the mean, shifted by one step, warm-starts the next control step. Each episode draws its noise
from its own generator, so two simulators planned with the same generators see the same noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nblib.config import ConfigError
from nblib.planning.rollout import Reward, plan_returns


@dataclass(frozen=True)
class CEMSettings:
    """The agent's fixed budget."""

    horizon: int = 15  # H, control steps planned ahead
    population: int = 64  # candidate plans per iteration
    iterations: int = 3  # refits of the sampling distribution per control step
    elite_frac: float = 0.125  # share of the population kept as elites (at least 2)
    init_std: float = 1.0  # std of the first iteration's plans, in units of the torque limit

    def __post_init__(self) -> None:
        for name in ("horizon", "population", "iterations"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)}: must be >= 1")
        if not 0 < self.elite_frac <= 1:
            raise ConfigError(f"elite_frac={self.elite_frac}: must be in (0, 1]")

    @property
    def elites(self) -> int:
        return min(self.population, max(2, round(self.elite_frac * self.population)))

    @property
    def transitions_per_step(self) -> int:
        """Simulated transitions per control step of one episode (the agent's budget)."""
        return self.population * self.iterations * self.horizon


class CEMPlanner:
    """CEM-MPC inside `simulator` for a batch of episodes; `act` returns one torque per episode."""

    def __init__(self, settings: CEMSettings, simulator, reward: Reward, max_torque: float):
        self.s, self.simulator, self.reward, self.max_torque = settings, simulator, reward, \
            max_torque
        self.mean: np.ndarray | None = None  # (E, H) warm start
        self.transitions = 0  # simulated transitions so far

    def reset(self, n_episodes: int) -> None:
        self.mean = np.zeros((n_episodes, self.s.horizon))

    def act(self, states: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
        """states (E, S), one generator per episode -> torques (E,)."""
        s, u = self.s, self.max_torque
        mean = self.mean
        std = np.full_like(mean, s.init_std * u)
        for _ in range(s.iterations):
            noise = np.stack([rng.standard_normal((s.population, s.horizon)) for rng in rngs])
            plans = np.clip(mean[:, None] + std[:, None] * noise, -u, u)  # (E, P, H)
            scores = plan_returns(self.simulator, self.reward, states, plans)  # (E, P)
            top = np.argsort(-scores, axis=1, kind="stable")[:, :s.elites]  # (E, K)
            elites = np.take_along_axis(plans, top[..., None], axis=1)  # (E, K, H)
            mean, std = elites.mean(1), elites.std(1) + 1e-3 * u
            self.transitions += plans.size
        self.mean = np.concatenate([mean[:, 1:], np.zeros((len(mean), 1))], axis=1)
        return mean[:, 0]
