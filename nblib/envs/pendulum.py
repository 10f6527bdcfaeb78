"""A torque-limited pendulum swing-up whose physics is an explicit ODE, its fixed-step solvers as
a vectorised batch step, and the `gymnasium` environments around it.

State s = (theta, omega): the angle from upright (rad; 0 is up, pi hangs down) and the angular
velocity (rad/s). The ODE, with the torque u held over one control interval dt (zero-order hold):

    theta' = omega,    omega' = (g / l) sin(theta) - b omega + u / (m l^2),   |u| <= u_max

Reward per control step: r = (1 + cos theta) / 2 of the state reached, in [0, 1] (1 upright).
Compute is counted in right-hand-side (RHS) evaluations, never wall time: a control step costs
`substeps` x (1 for euler and semi_implicit_euler, 4 for rk4) of them per state.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv

from nblib.config import ConfigError

INTEGRATORS = {"euler": 1, "semi_implicit_euler": 1, "rk4": 4}  # RHS evaluations per substep
RHS_FLOPS = 8  # FLOPs of one RHS evaluation of one state (sin 1, mul 4, add 3; by hand)
UPDATE_FLOPS = {"euler": 4, "semi_implicit_euler": 4, "rk4": 22}  # per substep, besides the RHS


@dataclass(frozen=True)
class PendulumPhysics:
    """The pendulum's constants (SI units) and its control interval."""

    gravity: float = 10.0  # g, m/s^2
    length: float = 1.0  # l, m
    mass: float = 1.0  # m, kg (a point mass at the end of a massless rod)
    damping: float = 0.05  # b, 1/s
    max_torque: float = 2.5  # u_max, N m (m g l = 10: one push cannot lift it, it must pump)
    dt: float = 0.1  # control interval, s (fixed for every solver and substep count)


DEFAULT_PHYSICS = PendulumPhysics()


def check_solver(integrator: str, substeps: int) -> None:
    """ConfigError for an unknown integrator or fewer than one substep."""
    if integrator not in INTEGRATORS:
        raise ConfigError(f"integrator={integrator!r}: unknown, must be one of "
                          f"{list(INTEGRATORS)}")
    if isinstance(substeps, bool) or not isinstance(substeps, int | np.integer) or substeps < 1:
        raise ConfigError(f"substeps={substeps!r}: must be an integer >= 1 (substeps per "
                          "control step)")


def acceleration(p: PendulumPhysics, theta: np.ndarray, omega: np.ndarray,
                 u: np.ndarray) -> np.ndarray:
    """omega' of the ODE, elementwise over a batch."""
    return (p.gravity / p.length) * np.sin(theta) - p.damping * omega \
        + u / (p.mass * p.length**2)


def integrate(p: PendulumPhysics, theta: np.ndarray, omega: np.ndarray, u: np.ndarray,
              integrator: str, substeps: int) -> tuple[np.ndarray, np.ndarray]:
    """One control step of length p.dt in `substeps` steps of `integrator`, over a batch."""
    h = p.dt / substeps
    for _ in range(substeps):
        if integrator == "euler":
            theta, omega = theta + h * omega, omega + h * acceleration(p, theta, omega, u)
        elif integrator == "semi_implicit_euler":  # symplectic: velocity first, then position
            omega = omega + h * acceleration(p, theta, omega, u)
            theta = theta + h * omega
        else:  # rk4
            k1t, k1w = omega, acceleration(p, theta, omega, u)
            k2t = omega + 0.5 * h * k1w
            k2w = acceleration(p, theta + 0.5 * h * k1t, k2t, u)
            k3t = omega + 0.5 * h * k2w
            k3w = acceleration(p, theta + 0.5 * h * k2t, k3t, u)
            k4t = omega + h * k3w
            k4w = acceleration(p, theta + h * k3t, k4t, u)
            theta = theta + h / 6 * (k1t + 2 * k2t + 2 * k3t + k4t)
            omega = omega + h / 6 * (k1w + 2 * k2w + 2 * k3w + k4w)
    return theta, omega


def reward(states: np.ndarray) -> np.ndarray:
    """(1 + cos theta) / 2 of states (..., 2): 1 upright, 0 hanging."""
    return 0.5 * (1.0 + np.cos(states[..., 0]))


@dataclass(frozen=True)
class ODESimulator:
    """A solver for the pendulum's ODE at a fixed control interval: `step` advances a batch."""

    physics: PendulumPhysics = DEFAULT_PHYSICS  # the constants and the control interval
    integrator: str = "rk4"  # euler, semi_implicit_euler or rk4
    substeps: int = 20  # solver steps per control step (>= 1)

    def __post_init__(self) -> None:
        check_solver(self.integrator, self.substeps)

    @property
    def name(self) -> str:
        return f"{self.integrator}x{self.substeps}"

    @property
    def evals_per_step(self) -> int:
        """RHS evaluations per control step of one state."""
        return INTEGRATORS[self.integrator] * self.substeps

    @property
    def flops_per_step(self) -> float:
        """FLOPs per control step of one state (RHS evaluations and the solver's updates)."""
        return float(self.substeps * (INTEGRATORS[self.integrator] * RHS_FLOPS
                                      + UPDATE_FLOPS[self.integrator]))

    def step(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """(B, 2) states, (B,) torques (clipped to ±u_max) -> (B, 2) states one dt later."""
        p = self.physics
        u = np.clip(actions, -p.max_torque, p.max_torque)
        theta, omega = integrate(p, states[..., 0], states[..., 1], u, self.integrator,
                                 self.substeps)
        return np.stack([theta, omega], axis=-1)


def observe(states: np.ndarray) -> np.ndarray:
    """(..., 2) states -> (..., 3) observations (cos theta, sin theta, omega), as Pendulum-v1."""
    return np.stack([np.cos(states[..., 0]), np.sin(states[..., 0]), states[..., 1]], -1)


def initial_states(rng: np.random.Generator, n: int, spread: float = 0.3) -> np.ndarray:
    """(n, 2) states near hanging down: theta = pi + U(-spread, spread), omega likewise."""
    return np.stack([np.pi + rng.uniform(-spread, spread, n), rng.uniform(-spread, spread, n)], 1)


def _spaces(p: PendulumPhysics) -> tuple[spaces.Box, spaces.Box]:
    act = spaces.Box(-p.max_torque, p.max_torque, (1,), np.float64)
    obs = spaces.Box(-np.inf, np.inf, (3,), np.float64)
    return obs, act


class PendulumSwingUpEnv(gymnasium.Env):
    """Pendulum swing-up as a `gymnasium.Env`: observation (cos theta, sin theta, omega), action
    the torque (1,), reward (1 + cos theta) / 2, truncated after `max_steps`. The solver and its
    substeps are constructor arguments; `info` carries the exact state and the RHS evaluations."""

    metadata = {"render_modes": []}

    def __init__(self, integrator: str = "rk4", substeps: int = 20,
                 physics: PendulumPhysics = DEFAULT_PHYSICS, max_steps: int = 60):
        self.simulator = ODESimulator(physics, integrator, substeps)
        self.observation_space, self.action_space = _spaces(physics)
        self.max_steps, self.state, self.t = max_steps, np.zeros(2), 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """A state near hanging down from the env's RNG, or `options["state"]` (theta, omega)."""
        super().reset(seed=seed)
        given = (options or {}).get("state")
        self.state = (np.asarray(given, float).copy() if given is not None
                      else initial_states(self.np_random, 1)[0])
        self.t = 0
        return observe(self.state), {"state": self.state.copy()}

    def step(self, action):
        self.state = self.simulator.step(self.state[None], np.asarray(action, float)
                                         .reshape(1))[0]
        self.t += 1
        info = {"state": self.state.copy(), "rhs_evals": self.simulator.evals_per_step}
        return (observe(self.state), float(reward(self.state)), False, self.t >= self.max_steps,
                info)


class PendulumSwingUpVectorEnv(VectorEnv):
    """`num_envs` swing-up episodes stepped as one batch (`gymnasium.vector.VectorEnv`): the way
    the planner's true world acts. Every episode runs exactly `max_steps` steps (no autoreset)."""

    def __init__(self, num_envs: int, integrator: str = "rk4", substeps: int = 20,
                 physics: PendulumPhysics = DEFAULT_PHYSICS, max_steps: int = 60,
                 simulator=None):
        """`simulator` (anything with `step(states, actions)`) replaces the ODE solver: the same
        episode in a simulated world (a coarse solver, a learned model, MuJoCo)."""
        self.num_envs, self.max_steps = num_envs, max_steps
        self.simulator = simulator or ODESimulator(physics, integrator, substeps)
        self.single_observation_space, self.single_action_space = _spaces(physics)
        self.observation_space = spaces.Box(-np.inf, np.inf, (num_envs, 3), np.float64)
        self.action_space = spaces.Box(-physics.max_torque, physics.max_torque, (num_envs, 1),
                                       np.float64)
        self.states, self.t = np.zeros((num_envs, 2)), 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """States from `options["states"]` (num_envs, 2), else near hanging down (seeded)."""
        given = (options or {}).get("states")
        rng = np.random.default_rng(seed)
        self.states = (np.asarray(given, float).copy() if given is not None
                       else initial_states(rng, self.num_envs))
        self.t = 0
        return observe(self.states), {"states": self.states.copy()}

    def step(self, actions):
        self.states = self.simulator.step(self.states, np.asarray(actions, float)
                                          .reshape(self.num_envs))
        self.t += 1
        done = np.full(self.num_envs, self.t >= self.max_steps)
        return (observe(self.states), reward(self.states), np.zeros(self.num_envs, bool), done,
                {"states": self.states.copy()})
