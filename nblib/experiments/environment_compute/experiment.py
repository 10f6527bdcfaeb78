"""Notebook 02's compute: the simulators, the episodes, and the job grid through
`train.grid.run_jobs` (resumable, one JSON result per job).

Every job is one setting at one seed and runs `episodes` episodes of `episode_steps` control steps
from the seed's initial states, acting in the true world (a `gymnasium` vector env stepped by the
fine solver) with the seed's planner noise: every setting of a seed sees the same initial states
and the same noise draws, so settings are compared paired by seed. Returns are mean reward per
step, in [0, 1].

Compute, never wall time. Per control step of one episode the planner simulates
`transitions = population x iterations x horizon` transitions (best-of-N: N x horizon); the
simulator spends `evals_per_step` right-hand-side (RHS) evaluations (MuJoCo: forward-dynamics
evaluations) and `flops_per_step` FLOPs on each, and the planner `PLAN_FLOPS` FLOPs of its own
(sampling, clipping, reward, elite statistics). A world model's FLOPs per transition are its
forward pass; its training FLOPs are counted apart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from nblib.config import cache_key
from nblib.env import derive_seed
from nblib.envs.pendulum import (
    ODESimulator,
    PendulumPhysics,
    PendulumSwingUpVectorEnv,
    initial_states,
    reward,
)
from nblib.experiments.environment_compute import JUDGES, SLUG, EnvComputeConfig
from nblib.models.world_model import MLPWorldModel, build_trainer, train_flops, transitions
from nblib.paths import checkpoints_dir
from nblib.planning.best_of_n import BestOfN
from nblib.planning.cem import CEMPlanner, CEMSettings
from nblib.planning.rollout import plan_returns
from nblib.train.checkpoints import geometric_steps
from nblib.train.grid import JobResults, run_jobs

PLAN_FLOPS = 10  # planner FLOPs per simulated transition outside the simulator (by hand)
KINDS = ("mpc", "baseline", "world_model", "best_of_n")


def physics(cfg: EnvComputeConfig) -> PendulumPhysics:
    return PendulumPhysics(max_torque=cfg.max_torque, dt=cfg.control_dt)


def make_simulator(cfg: EnvComputeConfig, integrator: str, substeps: int):
    """The backend's simulator at this solver setting (the control interval fixed)."""
    if cfg.backend == "mujoco":
        from nblib.envs.mujoco_pendulum import MujocoSimulator

        return MujocoSimulator(physics(cfg), integrator, substeps)
    return ODESimulator(physics(cfg), integrator, substeps)


def true_simulator(cfg: EnvComputeConfig):
    return make_simulator(cfg, cfg.true_integrator, cfg.true_substeps)


def cem_settings(cfg: EnvComputeConfig, population: int) -> CEMSettings:
    return CEMSettings(cfg.horizon, population, cfg.iterations, cfg.elite_frac)


# --- seeds: the same initial states and noise for every setting of a seed ------------------------
def seed_states(cfg: EnvComputeConfig, seed: int) -> np.ndarray:
    """(episodes, 2) initial states of a seed."""
    return initial_states(np.random.default_rng(derive_seed(seed, "initial")), cfg.episodes,
                          cfg.init_spread)


def planner_rngs(cfg: EnvComputeConfig, seed: int) -> list[np.random.Generator]:
    return [np.random.default_rng(derive_seed(seed, "planner", e)) for e in range(cfg.episodes)]


# --- episodes -------------------------------------------------------------------------------------
def run_episodes(cfg: EnvComputeConfig, agent, world, states0: np.ndarray,
                 rngs: list[np.random.Generator] | None = None) -> dict:
    """`agent.act(states, rngs)` in `world` (a vector env) from states0 (E, 2) for T steps.
    Returns rewards (E, T), states (E, T+1, 2) and actions (E, T)."""
    _, info = world.reset(options={"states": states0})
    states, rewards, traj, actions = info["states"], [], [info["states"]], []
    if hasattr(agent, "reset"):
        agent.reset(len(states0))
    for _ in range(cfg.episode_steps):
        a = agent.act(states, rngs)  # (E,)
        _, r, _, _, info = world.step(a)
        states = info["states"]
        rewards.append(r), traj.append(states), actions.append(a)
    return {"rewards": np.stack(rewards, 1), "states": np.stack(traj, 1),
            "actions": np.stack(actions, 1)}


def true_world(cfg: EnvComputeConfig) -> PendulumSwingUpVectorEnv:
    return PendulumSwingUpVectorEnv(cfg.episodes, max_steps=cfg.episode_steps,
                                    simulator=true_simulator(cfg))


def sim_world(cfg: EnvComputeConfig, simulator) -> PendulumSwingUpVectorEnv:
    return PendulumSwingUpVectorEnv(cfg.episodes, max_steps=cfg.episode_steps,
                                    simulator=simulator)


class FixedPolicy:
    """The trivial baselines: zero torque, or torque uniform in [-u_max, u_max] every step."""

    def __init__(self, kind: str, max_torque: float):
        self.kind, self.max_torque = kind, max_torque

    def act(self, states: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
        if self.kind == "zero":
            return np.zeros(len(states))
        return np.array([rng.uniform(-self.max_torque, self.max_torque) for rng in rngs])


# --- one-step error -------------------------------------------------------------------------------
def test_set(cfg: EnvComputeConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fixed one-step-error test set: (states, torques, true next states), n_test of each,
    drawn as the world model's training data is (one set for every seed and setting)."""
    rng = np.random.default_rng(derive_seed(0, "one_step_test"))
    return transitions(true_simulator(cfg), rng, cfg.n_test, cfg.omega_scale, cfg.max_torque)


def one_step_error(cfg: EnvComputeConfig, simulator, data=None) -> float:
    """RMS one-step state error against the true world on the test set, in rad: the angle error
    (wrapped to [-pi, pi]) and the velocity error times dt (the angle it would travel)."""
    s, u, nxt = data if data is not None else test_set(cfg)
    pred = simulator.step(s, u)
    d_theta = np.angle(np.exp(1j * (pred[:, 0] - nxt[:, 0])))
    d_omega = (pred[:, 1] - nxt[:, 1]) * cfg.control_dt
    return float(np.sqrt(np.mean(d_theta**2 + d_omega**2)))


# --- jobs -----------------------------------------------------------------------------------------
def jobs(cfg: EnvComputeConfig) -> list[dict]:
    """Every job: the solver axis (each integrator x substeps at `population`, and the true
    solver as the planner's own simulator, the oracle agent), the allocation grid (each population
    x the ladder's substeps), the trivial baselines, the world models, and best-of-N."""
    out, seen = [], set()

    def add(job: dict) -> None:
        key = tuple(sorted(job.items()))
        if key not in seen:
            seen.add(key), out.append(job)

    for seed in cfg.seed_list:
        settings = [(i, k, cfg.population) for i in cfg.integrators for k in cfg.substeps]
        settings.append((cfg.true_integrator, cfg.true_substeps, cfg.population))
        settings += [(cfg.ladder, k, p) for p in cfg.populations for k in cfg.substeps]
        for integrator, k, pop in settings:
            add(dict(kind="mpc", integrator=integrator, substeps=k, population=pop, seed=seed))
        for policy in ("zero", "random"):
            add(dict(kind="baseline", policy=policy, seed=seed))
        for m in cfg.wm_transitions:
            add(dict(kind="world_model", transitions=m, seed=seed))
        for judge in JUDGES:
            for n in cfg.bon_sizes:
                add(dict(kind="best_of_n", judge=judge, candidates=n, seed=seed))
    return out


def _episode_numbers(out: dict) -> dict:
    per_episode = out["rewards"].mean(1)  # (E,)
    return {"true_return": float(per_episode.mean()), "episode_returns": per_episode.tolist()}


def mpc_job(cfg: EnvComputeConfig, job: dict) -> dict:
    """CEM planning in a solver, acting in the true world; at the agent's own population also the
    same agent in the simulated world (its sim return) and episode 0's trajectories."""
    sim = make_simulator(cfg, job["integrator"], job["substeps"])
    settings = cem_settings(cfg, job["population"])
    s0 = seed_states(cfg, job["seed"])
    planner = CEMPlanner(settings, sim, reward, cfg.max_torque)
    out = run_episodes(cfg, planner, true_world(cfg), s0, planner_rngs(cfg, job["seed"]))
    tr = settings.transitions_per_step
    row = dict(_episode_numbers(out), transitions_per_step=tr,
               evals_per_step=sim.evals_per_step,
               rhs_evals_per_control_step=tr * sim.evals_per_step,
               sim_flops_per_control_step=tr * sim.flops_per_step,
               plan_flops_per_control_step=tr * PLAN_FLOPS,
               one_step_error=one_step_error(cfg, sim),
               transitions_counted=planner.transitions / (cfg.episode_steps * cfg.episodes))
    if job["population"] == cfg.population:
        planner = CEMPlanner(settings, sim, reward, cfg.max_torque)
        in_sim = run_episodes(cfg, planner, sim_world(cfg, sim), s0,
                              planner_rngs(cfg, job["seed"]))
        row["sim_return"] = float(in_sim["rewards"].mean())
        row["trajectory"] = {"true": out["states"][0].tolist(),
                             "sim": in_sim["states"][0].tolist(),
                             "actions_true": out["actions"][0].tolist()}
    return row


def baseline_job(cfg: EnvComputeConfig, job: dict) -> dict:
    rngs = [np.random.default_rng(derive_seed(job["seed"], "random_policy", e))
            for e in range(cfg.episodes)]
    out = run_episodes(cfg, FixedPolicy(job["policy"], cfg.max_torque), true_world(cfg),
                       seed_states(cfg, job["seed"]), rngs)
    return _episode_numbers(out)


def world_model_trainer(cfg: EnvComputeConfig, m: int, seed: int):
    """The Trainer of a seed's world model on M true transitions (its data and init seeded)."""
    data = transitions(true_simulator(cfg), np.random.default_rng(
        derive_seed(seed, "wm_data", m)), m, cfg.omega_scale, cfg.max_torque)
    return build_trainer(data, cfg.wm_width, cfg.wm_depth, cfg.wm_lr, cfg.wm_batch,
                         cfg.omega_scale, cfg.max_torque, derive_seed(seed, "wm_init", m) % 2**31)


def world_model_job(cfg: EnvComputeConfig, job: dict) -> dict:
    """Train an MLP world model on M true transitions; at each checkpoint, its one-step error and
    the CEM agent planning in it (true return, and its return in the model's own world)."""
    m, seed = job["transitions"], job["seed"]
    trainer = world_model_trainer(cfg, m, seed)
    test, s0 = test_set(cfg), seed_states(cfg, seed)
    settings = cem_settings(cfg, cfg.population)
    untrained = one_step_error(cfg, MLPWorldModel(trainer.model, cfg.omega_scale,
                                                  cfg.max_torque), test)
    rows = []
    for step in geometric_steps(cfg.wm_steps, cfg.wm_checkpoints, first=cfg.wm_steps / 100):
        trainer.fit(step)
        model = MLPWorldModel(trainer.model, cfg.omega_scale, cfg.max_torque)
        true_out = run_episodes(cfg, CEMPlanner(settings, model, reward, cfg.max_torque),
                                true_world(cfg), s0, planner_rngs(cfg, seed))
        in_sim = run_episodes(cfg, CEMPlanner(settings, model, reward, cfg.max_torque),
                              sim_world(cfg, model), s0, planner_rngs(cfg, seed))
        trainer.model.train()
        tr = settings.transitions_per_step
        rows.append(dict(step=step, train_flops=train_flops(trainer.model, step, cfg.wm_batch),
                         one_step_error=one_step_error(cfg, model, test),
                         sim_return=float(in_sim["rewards"].mean()),
                         sim_flops_per_control_step=tr * model.flops_per_step,
                         plan_flops_per_control_step=tr * PLAN_FLOPS,
                         **_episode_numbers(true_out)))
    return {"untrained_one_step_error": untrained, "checkpoints": rows}


_JUDGE_MODELS: dict[tuple, MLPWorldModel] = {}  # trained once per process, world and seed


def learned_judge_model(cfg: EnvComputeConfig, seed: int) -> MLPWorldModel:
    """The seed's world model on the fewest transitions after all `wm_steps` (deterministic:
    the same weights as the world-model axis's last checkpoint), trained once per process."""
    key = (cache_key(cfg, "train"), seed)
    if key not in _JUDGE_MODELS:
        trainer = world_model_trainer(cfg, min(cfg.wm_transitions), seed).fit(cfg.wm_steps)
        _JUDGE_MODELS[key] = MLPWorldModel(trainer.model, cfg.omega_scale, cfg.max_torque)
    return _JUDGE_MODELS[key]


def judge(cfg: EnvComputeConfig, name: str, seed: int):
    """A best-of-N judge and the simulator it scores in: a plan's mean reward per step in the
    true world (oracle), that plus Gaussian noise of std `bon_noise` (noisy), in the ladder's
    solver at one substep (coarse), or in the seed's world model trained on the fewest
    transitions M for all `wm_steps` (learned: the world-model axis's last checkpoint)."""
    if name == "coarse":
        sim = make_simulator(cfg, cfg.ladder, 1)
    elif name == "learned":
        sim = learned_judge_model(cfg, seed)
    else:
        sim = true_simulator(cfg)
    rng = np.random.default_rng(derive_seed(seed, "judge"))

    def score(states: np.ndarray, plans: np.ndarray) -> np.ndarray:
        scores = plan_returns(sim, reward, states, plans)  # (E, N)
        return scores + cfg.bon_noise * rng.standard_normal(scores.shape) if name == "noisy" \
            else scores

    return score, sim


def best_of_n_job(cfg: EnvComputeConfig, job: dict) -> dict:
    score, sim = judge(cfg, job["judge"], job["seed"])
    agent = BestOfN(job["candidates"], max(cfg.bon_sizes), cfg.horizon,
                    cfg.bon_std * cfg.max_torque, score, cfg.max_torque)
    out = run_episodes(cfg, agent, true_world(cfg), seed_states(cfg, job["seed"]),
                       planner_rngs(cfg, job["seed"]))
    tr = job["candidates"] * cfg.horizon
    return dict(_episode_numbers(out), transitions_per_step=tr,
                judge_flops_per_control_step=tr * sim.flops_per_step)


def run_job(cfg: EnvComputeConfig, job: dict, device: str = "cpu") -> dict:
    """run_jobs' job function (CPU: NumPy physics and a small MLP; `device` is not used)."""
    fn = {"mpc": mpc_job, "baseline": baseline_job, "world_model": world_model_job,
          "best_of_n": best_of_n_job}[job["kind"]]
    return fn(cfg, job)


# --- the grid -------------------------------------------------------------------------------------
@dataclass
class Results:
    """Everything the figures and statistics read: one table per kind of job."""

    mpc: pd.DataFrame  # one row per (integrator, substeps, population, seed)
    baselines: pd.DataFrame  # one row per (policy, seed)
    world_model: pd.DataFrame  # one row per (transitions M, seed, checkpoint step)
    best_of_n: pd.DataFrame  # one row per (judge, candidates N, seed)
    jobs: JobResults | None = field(default=None, repr=False)  # the raw job results


def runs_folder(cfg: EnvComputeConfig) -> Path:
    return checkpoints_dir(SLUG, cache_key(cfg, "train", "eval"), "runs")


def _label(job: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in job.items() if k != "kind") + f" ({job['kind']})"


def frames(grid: JobResults) -> Results:
    """The job results as tables, one per kind."""
    parts: dict[str, list[dict]] = {k: [] for k in KINDS}
    for job, res in zip(grid.jobs, grid.results, strict=True):
        if job["kind"] == "world_model":
            parts["world_model"] += [{**job, "untrained_one_step_error":
                                      res["untrained_one_step_error"], **row}
                                     for row in res["checkpoints"]]
        else:
            parts[job["kind"]].append({**job, **res})
    tables = {k: pd.DataFrame(v).drop(columns="kind", errors="ignore") for k, v in parts.items()}
    mpc = tables["mpc"]
    if len(mpc):
        mpc["setting"] = mpc.integrator + " x" + mpc.substeps.astype(str)
    return Results(tables["mpc"], tables["baseline"], tables["world_model"],
                   tables["best_of_n"], grid)


def run_all(cfg: EnvComputeConfig, device: torch.device | str = "cpu", workers: int = 1,
            bar=None) -> Results:
    """Every job of `jobs(cfg)` (a job recorded by an earlier run with the same settings is read
    back); `workers` processes at once."""
    grid = run_jobs(run_job, cfg, jobs(cfg), runs_folder(cfg), "cpu", workers, bar, label=_label)
    return frames(grid)


def settings_table(cfg: EnvComputeConfig) -> pd.DataFrame:
    """Per solver setting of the planner's simulator: RHS evaluations and FLOPs per simulated
    transition, and the planner's compute per control step at `population`."""
    tr = cem_settings(cfg, cfg.population).transitions_per_step
    rows = []
    for integrator, k in [(i, k) for i in cfg.integrators for k in cfg.substeps] + [
            (cfg.true_integrator, cfg.true_substeps)]:
        sim = make_simulator(cfg, integrator, k)
        rows.append(dict(integrator=integrator, substeps=k, evals_per_step=sim.evals_per_step,
                         flops_per_step=sim.flops_per_step, transitions_per_control_step=tr,
                         rhs_evals_per_control_step=tr * sim.evals_per_step,
                         one_step_error=one_step_error(cfg, sim)))
    return pd.DataFrame(rows).drop_duplicates(["integrator", "substeps"])


def _seconds_per_call(fn, min_s: float = 0.03) -> float:
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < min_s:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n


def estimate_seconds(cfg: EnvComputeConfig, device=None, workers: int = 1) -> float:
    """Wall-clock estimate of `run_all`, timed on this machine: one RHS batch evaluation at two
    batch sizes (a + b x batch), the planner's own overhead per CEM iteration, a world-model
    forward pass and training step; times the calls every job makes, spread over `workers`."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the worker processes run
    try:
        sim = make_simulator(cfg, cfg.ladder, 1)
        E, P = cfg.episodes, cfg.population
        small, big = (_seconds_per_call(lambda b=b: sim.step(np.zeros((b, 2)), np.zeros(b)))
                      for b in (64, 4096))
        slope = max(0.0, (big - small) / (4096 - 64))
        fixed = max(small - 64 * slope, 1e-7)
        planner = CEMPlanner(cem_settings(cfg, P), sim, reward, cfg.max_torque)
        planner.reset(E)
        states, rngs = seed_states(cfg, 0), planner_rngs(cfg, 0)
        act = _seconds_per_call(lambda: planner.act(states, rngs))
        T, H, iters = cfg.episode_steps, cfg.horizon, cfg.iterations
        overhead = max(0.0, act / iters - H * (fixed + slope * E * P))  # per CEM iteration
        data = transitions(sim, np.random.default_rng(0), 256, cfg.omega_scale, cfg.max_torque)
        trainer = build_trainer(data, cfg.wm_width, cfg.wm_depth, cfg.wm_lr, cfg.wm_batch,
                                cfg.omega_scale, cfg.max_torque, 0)
        train_step = _seconds_per_call(trainer.train_step)
        model = MLPWorldModel(trainer.model, cfg.omega_scale, cfg.max_torque)
        forward = _seconds_per_call(lambda: model.step(np.zeros((E * P, 2)), np.zeros(E * P)))
    finally:
        torch.set_num_threads(threads)

    def cost(calls: float, batch: float) -> float:  # seconds of `calls` RHS batch evaluations
        return calls * (fixed + slope * batch)

    true_evals = true_simulator(cfg).evals_per_step
    world = cost(T * true_evals, E) + T * overhead / 2  # the true world's steps per episode set
    total = 0.0
    for job in jobs(cfg):
        if job["kind"] == "mpc":
            evals = make_simulator(cfg, job["integrator"], job["substeps"]).evals_per_step
            plan = T * iters * overhead + cost(T * iters * H * evals, E * job["population"])
            total += world + plan * (2 if job["population"] == cfg.population else 1)
        elif job["kind"] == "best_of_n":
            if job["judge"] == "learned":
                calls = T * H * forward * max(1.0, job["candidates"] / P)
                # the judge's model is trained once per seed and process: amortised over N
                total += world + T * overhead + calls + cfg.wm_steps * train_step / len(
                    cfg.bon_sizes)
            else:
                evals = 1 if job["judge"] == "coarse" else true_evals
                total += world + T * overhead + cost(T * H * evals, E * job["candidates"])
        elif job["kind"] == "world_model":
            n_ckpt = len(geometric_steps(cfg.wm_steps, cfg.wm_checkpoints,
                                         first=cfg.wm_steps / 100))
            total += n_ckpt * 2 * (world + T * iters * (overhead + H * forward))
            total += cfg.wm_steps * train_step
        else:
            total += world
    return total / max(1, min(workers, len(jobs(cfg))))
