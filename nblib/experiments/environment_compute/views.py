"""Notebook 02's views: the figures, and the widget that watches one episode in the true and the
simulated world side by side. Intervals are Student-t over seeds (`stats.mean_ci_table`,
`plots.mean_band`), clipped to the reward's range [0, 1]; compute lives in `experiment`, the
statistics in `analysis`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from nblib import plots
from nblib.config import ConfigError, build, param
from nblib.experiments.environment_compute import EnvComputeConfig
from nblib.experiments.environment_compute.analysis import (
    allocation_grid,
    oracle,
    simulator_advantage,
    solver_axis,
)
from nblib.experiments.environment_compute.experiment import (
    CEMPlanner,
    cem_settings,
    make_simulator,
    physics,
    planner_rngs,
    reward,
    run_episodes,
    seed_states,
    sim_world,
    true_world,
)
from nblib.stats import mean_ci_table

RETURN_RANGE = (0.0, 1.0)  # mean reward per step
RETURN_LABEL = "true return (mean reward per step)"


@dataclass(frozen=True)
class EpisodeChoice:
    """What the widget plays: the planner's simulator and its budget (bounds as the config's)."""

    integrator: str = param("euler", "integrator of the planner's simulator", affects="train",
                            choices=("euler", "semi_implicit_euler", "rk4", "implicitfast"))
    substeps: int = param(1, "solver substeps per control step of the planner's simulator",
                          affects="train", low=1, high=1000)
    population: int = param(64, "CEM plans per iteration (the planner's budget)",
                            affects="train", low=2, high=65_536)
    seed: int = param(0, "seed of the initial state and the planner noise", affects="train",
                      low=0, high=10**6)


def watch(cfg: EnvComputeConfig, choice: EpisodeChoice) -> dict:
    """The widget's action: one seed's first episode planned in the chosen simulator, acted out
    in the true world and, with the same noise, in the simulated world; plotted side by side
    (saved as figure 'watch')."""
    sim = make_simulator(cfg, choice.integrator, choice.substeps)
    settings, s0 = cem_settings(cfg, choice.population), seed_states(cfg, choice.seed)
    worlds = {}
    for name, world in (("true world", true_world(cfg)), ("simulated world", sim_world(cfg, sim))):
        planner = CEMPlanner(settings, sim, reward, cfg.max_torque)
        worlds[name] = run_episodes(cfg, planner, world, s0, planner_rngs(cfg, choice.seed))
    fig = plot_episode({k: v["states"][0] for k, v in worlds.items()}, cfg.control_dt,
                       f"planned in {sim.name}, population {choice.population}")
    plots.show(fig, "watch")
    return worlds


class EpisodeControls(W.VBox):
    """Pick solver, substeps and planner budget, press Play: `watch` runs. Values are checked by
    the config's own rules (`config.build`): an out-of-range value is refused with the same
    one-line message as in the parameters cell, never clamped."""

    def __init__(self, cfg: EnvComputeConfig):
        self.cfg, style = cfg, {"description_width": "initial"}
        d = EpisodeChoice()
        self.controls = {
            "integrator": W.Dropdown(options=list(EpisodeChoice.__dataclass_fields__["integrator"]
                                                  .metadata["choices"]), value=d.integrator,
                                     description="integrator", style=style),
            "substeps": W.IntText(value=d.substeps, description="substeps", style=style),
            "population": W.IntText(value=cfg.population, description="population", style=style),
            "seed": W.IntText(value=cfg.first_seed, description="seed", style=style)}
        self.button = W.Button(description="Play", button_style="primary", icon="play")
        self.output = W.Output()
        self.button.on_click(lambda _: self.run())
        super().__init__([W.HBox(list(self.controls.values())), self.button, self.output])

    def choice(self) -> EpisodeChoice:
        return build(EpisodeChoice, {k: w.value for k, w in self.controls.items()})

    def run(self) -> dict | None:
        self.output.clear_output()
        with self.output:
            try:
                choice = self.choice()
                return watch(self.cfg, choice)
            except ConfigError as err:
                print(f"not run: {err}")
                return None


# --- figures --------------------------------------------------------------------------------------
def plot_episode(trajectories: dict[str, np.ndarray], dt: float, title: str) -> plt.Figure:
    """Angle from upright and angular velocity against time, one panel per world (each (T+1, 2))."""
    fig, axes = plt.subplots(2, len(trajectories), figsize=(4.6 * len(trajectories), 4.6),
                             sharex=True, sharey="row", squeeze=False)
    for j, (name, states) in enumerate(trajectories.items()):
        states = np.asarray(states)
        t = np.arange(len(states)) * dt
        theta = np.angle(np.exp(1j * states[:, 0]))  # wrapped to [-pi, pi]
        axes[0][j].plot(t, theta, c="C0")
        axes[0][j].axhline(0, c="k", lw=0.8, ls=":")
        axes[0][j].set(title=name, ylim=(-np.pi - 0.2, np.pi + 0.2))
        axes[1][j].plot(t, states[:, 1], c="C1")
        axes[1][j].set(xlabel="time (s)")
    axes[0][0].set_ylabel("angle from upright (rad)")
    axes[1][0].set_ylabel("angular velocity (rad/s)")
    fig.suptitle(title, y=1.02)
    return fig


def _log2_axis(ax: plt.Axes, values) -> None:
    """A log-2 x axis with a plain tick at each of `values`."""
    values = sorted({float(v) for v in values})
    ax.set_xscale("log", base=2)
    ax.set_xticks(values, [f"{v:g}" for v in values])
    ax.minorticks_off()


def _reference_lines(ax: plt.Axes, res, cfg: EnvComputeConfig) -> None:
    orc = oracle(res.mpc, cfg)
    ax.axhline(orc.mean(), c="k", ls="--", lw=1, label="oracle agent (plans in the true world)")
    colors = {"zero": "C7", "random": "C5"}
    for policy, g in res.baselines.groupby("policy"):
        ax.axhline(g.true_return.mean(), c=colors.get(policy, "C8"), ls=":", lw=1,
                   label=f"{policy} torque")


def plot_solver_axis(res, cfg: EnvComputeConfig) -> plt.Figure:
    """Figure 1, the headline: true return against RHS evaluations per control step, one line
    per integrator (mean and 95% t-band over seeds, clipped to [0, 1]), with the oracle agent and
    the trivial policies; right: the sim-minus-true return gap."""
    sel = solver_axis(res.mpc, cfg)
    sel = sel[~sel.oracle | sel.substeps.isin(cfg.substeps)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    plots.mean_band(left, sel, "evals_per_step", "true_return", hue="integrator",
                    clip=RETURN_RANGE)
    _reference_lines(left, res, cfg)
    left.set(xlabel="RHS evaluations per control step (per simulated state)",
             ylabel=RETURN_LABEL, title="true return vs solver compute")
    _log2_axis(left, sel.evals_per_step)
    left.legend(fontsize=7)
    plots.mean_band(right, sel, "substeps", "gap", hue="integrator")
    right.axhline(0, c="k", lw=0.8)
    right.set(xlabel="substeps per control step", ylabel="sim return − true return",
              title="exploited simulator error")
    _log2_axis(right, sel.substeps)
    right.legend(fontsize=7)
    return fig


def plot_allocation(res, cfg: EnvComputeConfig) -> plt.Figure:
    """Figure 2: the allocation grid. Left: mean true return per (population, substeps);
    middle: true return against total compute (RHS evaluations per control step), one line per
    substeps, the frontier in black; right: the simulator's advantage R(P, 2k) − R(2P, k) against
    P (mean over k per seed, 95% t-interval over seeds), the quantity of verdict 4."""
    grid = allocation_grid(res.mpc, cfg)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4), layout="constrained")
    heat = grid.groupby(["population", "substeps"]).true_return.mean().unstack()
    sns.heatmap(heat, annot=True, fmt=".2f", cmap="viridis", ax=axes[0],
                cbar_kws={"label": RETURN_LABEL})
    axes[0].set(xlabel=f"{cfg.ladder} substeps k", ylabel="CEM population P",
                title="true return (equal compute on anti-diagonals)")
    plots.mean_band(axes[1], grid, "rhs_evals_per_control_step", "true_return", hue="substeps",
                    clip=RETURN_RANGE, label_fmt="k = {}")
    best = mean_ci_table(grid, ["rhs_evals_per_control_step", "population", "substeps"],
                         "true_return").sort_values("mean").groupby(
        "rhs_evals_per_control_step").tail(1).sort_values("rhs_evals_per_control_step")
    axes[1].plot(best.rhs_evals_per_control_step, best["mean"], "k-", lw=2.5, alpha=0.5,
                 label="frontier")
    axes[1].set(xscale="log", xlabel="total RHS evaluations per control step",
                ylabel=RETURN_LABEL, title="frontier over allocations")
    axes[1].legend(fontsize=7)
    adv = simulator_advantage(res.mpc, cfg)
    per = adv.groupby(["seed", "population"]).advantage.mean().reset_index()
    plots.mean_band(axes[2], per, "population", "advantage")
    axes[2].axhline(0, c="k", lw=0.8)
    _log2_axis(axes[2], per.population)
    axes[2].set(xlabel="CEM population P",
                ylabel="R(P, 2k) − R(2P, k), mean over k",
                title="where the next doubling does more")
    return fig


def plot_world_model(res, cfg: EnvComputeConfig) -> plt.Figure:
    """Figure 3: the world-model axis. True return (left) and one-step error (right) against the
    model's training FLOPs, one line per M, checkpoints along one run (mean, 95% t-band)."""
    wm = res.world_model
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    plots.mean_band(left, wm, "train_flops", "true_return", hue="transitions",
                    clip=RETURN_RANGE, label_fmt="M = {}")
    _reference_lines(left, res, cfg)
    left.set(xscale="log", xlabel="world-model training FLOPs", ylabel=RETURN_LABEL,
             title="planning in a learned model")
    left.legend(fontsize=7)
    plots.mean_band(right, wm, "train_flops", "one_step_error", hue="transitions",
                    clip=(0, None), label_fmt="M = {}")
    right.set(xscale="log", yscale="log", xlabel="world-model training FLOPs",
              ylabel="one-step error (rad, RMS)", title="one-step error")
    right.legend(fontsize=7)
    return fig


def plot_best_of_n(res, cfg: EnvComputeConfig) -> plt.Figure:
    """Figure 4: best-of-N. True return against the number of candidate plans N, one line per
    judge (mean and 95% t-band over seeds), the pre-registered peak N marked."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    plots.mean_band(ax, res.best_of_n, "candidates", "true_return", hue="judge",
                    clip=RETURN_RANGE)
    _reference_lines(ax, res, cfg)
    ax.axvline(cfg.bon_peak_n, c="C3", ls=":", lw=1, label=f"pre-registered N = {cfg.bon_peak_n}")
    ax.set(xlabel="candidate plans N per control step", ylabel=RETURN_LABEL,
           title="best-of-N: gold (true) return by judge")
    _log2_axis(ax, res.best_of_n.candidates)
    ax.legend(fontsize=7)
    return fig


def plot_mismatch(points: pd.DataFrame) -> plt.Figure:
    """Figure 5: objective mismatch. Each simulator's one-step error against the true return of
    the agent planning in it (left) and against its sim-minus-true gap (right); means over
    seeds."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for ax, y, label in ((left, "true_return", RETURN_LABEL),
                         (right, "gap", "sim return − true return")):
        sns.scatterplot(points, x="one_step_error", y=y, hue="kind", style="kind", s=60, ax=ax)
        ax.set(xscale="log", xlabel="one-step error (rad, RMS, log scale)", ylabel=label)
    left.set_title("one-step error vs control performance")
    right.axhline(0, c="k", lw=0.8)
    right.set_title("one-step error vs exploitation")
    return fig


def recorded_episode(res, cfg: EnvComputeConfig, integrator: str, substeps: int) -> plt.Figure:
    """Episode 0 of the first seed, recorded by the solver-axis job: the true and the simulated
    world side by side."""
    sel = solver_axis(res.mpc, cfg)
    row = sel[(sel.integrator == integrator) & (sel.substeps == substeps)].sort_values("seed")
    traj = row.trajectory.iloc[0]
    return plot_episode({"true world": traj["true"], "simulated world": traj["sim"]},
                        cfg.control_dt, f"planned in {integrator} x{substeps}, population "
                        f"{cfg.population}, seed {int(row.seed.iloc[0])}")


def describe_env(cfg: EnvComputeConfig, steps: int = 5) -> dict:
    """The true world as a single `gymnasium.Env` (ODE backend): gymnasium's own env checker
    run on it, its spaces, and a few zero-torque steps from the first seed's first initial
    state."""
    from gymnasium.utils.env_checker import check_env

    from nblib.envs.pendulum import PendulumSwingUpEnv

    env = PendulumSwingUpEnv(cfg.true_integrator, cfg.true_substeps,
                             physics(cfg), cfg.episode_steps)
    with warnings.catch_warnings():  # advice only: a normalised action range, bounded omega
        warnings.simplefilter("ignore", UserWarning)
        check_env(env, skip_render_check=True)  # raises on an API violation
    obs, info = env.reset(options={"state": seed_states(cfg, cfg.first_seed)[0]})
    rows = [dict(t=0, theta=info["state"][0], omega=info["state"][1], reward=float("nan"))]
    for t in range(1, steps + 1):
        obs, r, _, _, info = env.step([0.0])
        rows.append(dict(t=t, theta=info["state"][0], omega=info["state"][1], reward=r))
    return {"observation_space": str(env.observation_space),
            "action_space": str(env.action_space), "steps": pd.DataFrame(rows).set_index("t")}
