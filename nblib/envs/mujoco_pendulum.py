"""The pendulum swing-up of `nblib.envs.pendulum` in MuJoCo (through `gymnasium[mujoco]`), with
MuJoCo's own fidelity knobs: `model.opt.integrator`, `model.opt.timestep` and `frame_skip`,
holding the control interval timestep x frame_skip fixed (changing the timestep alone would
change the control rate too).

A hinge about y with a 1 kg sphere (radius 5 cm) at 1 m on a massless rod, upright at qpos = 0,
so gravity gives theta'' = (g / l) sin(theta) as in the ODE; joint damping b; a motor with
ctrlrange ±u_max. State (theta, omega) = (qpos, qvel). Compute is counted in forward-dynamics
evaluations: a step costs 4 with RK4, 1 otherwise; MuJoCo's FLOPs are not counted (NaN).
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv
from mujoco import rollout

from nblib.config import ConfigError
from nblib.envs.pendulum import DEFAULT_PHYSICS, PendulumPhysics, observe, reward

INTEGRATORS = {"semi_implicit_euler": mujoco.mjtIntegrator.mjINT_EULER,  # MuJoCo's "Euler"
               "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
               "rk4": mujoco.mjtIntegrator.mjINT_RK4}
EVALS = {"semi_implicit_euler": 1, "implicitfast": 1, "rk4": 4}  # forward evaluations per step


def model_xml(p: PendulumPhysics, substeps: int = 1) -> str:
    """The MJCF of the pendulum with the constants of `p`, timestep dt / substeps."""
    return f"""<mujoco model="pendulum_swingup">
  <option gravity="0 0 {-p.gravity}" timestep="{p.dt / substeps!r}"/>
  <worldbody>
    <body name="pole" pos="0 0 0">
      <joint name="hinge" type="hinge" axis="0 1 0" damping="{p.damping * p.mass * p.length**2}"/>
      <geom type="capsule" fromto="0 0 0 0 0 {p.length}" size="0.01" mass="1e-6"/>
      <geom type="sphere" pos="0 0 {p.length}" size="0.05" mass="{p.mass}"/>
    </body>
  </worldbody>
  <actuator>
    <motor joint="hinge" gear="1" ctrllimited="true" ctrlrange="{-p.max_torque} {p.max_torque}"/>
  </actuator>
</mujoco>
"""


def model_path(p: PendulumPhysics, substeps: int = 1) -> Path:
    """The MJCF written once to a file named by its contents (gymnasium loads models by path)."""
    xml = model_xml(p, substeps)
    path = Path(tempfile.gettempdir()) / (
        f"nblib_pendulum_{hashlib.blake2b(xml.encode(), digest_size=6).hexdigest()}.xml")
    if not path.is_file():
        path.write_text(xml)
    return path


def configure_model(model: mujoco.MjModel, integrator: str, substeps: int, dt: float) -> None:
    """Set MuJoCo's integrator and a timestep of dt / substeps (frame_skip = substeps)."""
    if integrator not in INTEGRATORS:
        raise ConfigError(f"integrator={integrator!r}: unknown for MuJoCo, must be one of "
                          f"{list(INTEGRATORS)}")
    if isinstance(substeps, bool) or not isinstance(substeps, int | np.integer) or substeps < 1:
        raise ConfigError(f"substeps={substeps!r}: must be an integer >= 1 (frame_skip)")
    model.opt.integrator = INTEGRATORS[integrator]
    model.opt.timestep = dt / substeps


@dataclass
class MujocoSimulator:
    """A batch of MuJoCo pendulums advanced one control interval by `mujoco.rollout` (one
    thread): `step(states (B, 2), actions (B,)) -> (B, 2)`, as `ODESimulator.step`."""

    physics: PendulumPhysics
    integrator: str = "rk4"  # semi_implicit_euler (MuJoCo's Euler), implicitfast or rk4
    substeps: int = 20  # frame_skip: MuJoCo steps per control interval

    def __post_init__(self) -> None:
        self.model = mujoco.MjModel.from_xml_string(model_xml(self.physics))
        configure_model(self.model, self.integrator, self.substeps, self.physics.dt)
        self.data = mujoco.MjData(self.model)
        self.spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        self.nstate = mujoco.mj_stateSize(self.model, self.spec)
        self.offset = mujoco.mj_stateSize(self.model, mujoco.mjtState.mjSTATE_TIME)

    @property
    def name(self) -> str:
        return f"mujoco {self.integrator}x{self.substeps}"

    @property
    def evals_per_step(self) -> int:
        return EVALS[self.integrator] * self.substeps

    @property
    def flops_per_step(self) -> float:
        return float("nan")  # not counted for MuJoCo: compute is in forward evaluations

    def step(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        batch = len(states)
        init = np.zeros((batch, self.nstate))
        init[:, self.offset], init[:, self.offset + 1] = states[:, 0], states[:, 1]
        u = np.clip(actions, -self.physics.max_torque, self.physics.max_torque)
        control = np.repeat(u[:, None, None], self.substeps, axis=1)  # (B, substeps, 1)
        out, _ = rollout.rollout(self.model, self.data, init, control)  # (B, substeps, nstate)
        return out[:, -1, self.offset:self.offset + 2].copy()


class MujocoPendulumEnv(MujocoEnv):
    """The swing-up as a gymnasium `MujocoEnv`: observation (cos theta, sin theta, omega), reward
    (1 + cos theta) / 2, truncated after `max_steps`; `frame_skip` = substeps, timestep =
    dt / substeps, so the control interval stays dt."""

    metadata = {"render_modes": ["human", "rgb_array", "depth_array", "rgbd_tuple"]}

    def __init__(self, integrator: str = "rk4", substeps: int = 20,
                 physics: PendulumPhysics = DEFAULT_PHYSICS, max_steps: int = 60, **kwargs):
        obs = spaces.Box(-np.inf, np.inf, (3,), np.float64)
        self.metadata = {**self.metadata, "render_fps": round(1 / physics.dt)}
        configure_model(mujoco.MjModel.from_xml_string(model_xml(physics)), integrator,
                        substeps, physics.dt)  # bad input fails here, before the env is built
        MujocoEnv.__init__(self, str(model_path(physics, substeps)), substeps,
                           observation_space=obs, **kwargs)
        configure_model(self.model, integrator, substeps, physics.dt)
        self.physics, self.max_steps, self.t = physics, max_steps, 0

    def _state(self) -> np.ndarray:
        return np.array([self.data.qpos[0], self.data.qvel[0]])

    def reset_model(self) -> np.ndarray:
        spread = 0.3
        theta = np.pi + self.np_random.uniform(-spread, spread)
        self.set_state(np.array([theta]), np.array([self.np_random.uniform(-spread, spread)]))
        self.t = 0
        return observe(self._state())

    def step(self, action):
        self.do_simulation(np.asarray(action, float).reshape(1), self.frame_skip)
        self.t += 1
        state = self._state()
        return (observe(state), float(reward(state)), False, self.t >= self.max_steps,
                {"state": state})
