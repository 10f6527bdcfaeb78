"""Notebook 02: environment-time compute: how an agent's true return grows with the compute spent
simulating its world (Jones 2021, arXiv 2104.03113; Lambert et al. 2020, arXiv 2002.04523;
Gao et al. 2022, arXiv 2210.10760).

A fixed agent (CEM model-predictive control, `nblib.planning.cem`) plans inside a cheap simulator
of a torque-limited pendulum swing-up (`nblib.envs.pendulum`: an explicit ODE, or the same
pendulum in MuJoCo for the `full` profile) and acts in the true one (RK4 x 20 substeps at the same
control interval). Three environment-compute axes: the solver (integrator x substeps), an MLP
world model (transitions seen, checkpoints along its training), and best-of-N plan selection by a
judge; and the allocation grid (planner population x simulator substeps). `experiment` runs the
job grid, `analysis` holds tables, statistics and verdicts, `views` draws and holds the widget.

What each field shapes: "train" (the world, the agent and every episode: the job results),
"eval" (the one-step-error test set), "jobs" (only which jobs run; each job's own key says its
setting and seed), "analysis" (statistics and verdicts).
"""

from __future__ import annotations

from dataclasses import dataclass

from nblib.config import ConfigError, GridConfig, param

SLUG = "02_environment_compute"
QUESTION = ("Does an agent's true return grow with the compute spent simulating its world? "
            "(Jones 2021, arXiv 2104.03113; Lambert et al. 2020, arXiv 2002.04523)")
FIGURE = "return_vs_solver_compute"
BACKEND_INTEGRATORS = {"ode": ("euler", "semi_implicit_euler", "rk4"),
                       "mujoco": ("semi_implicit_euler", "implicitfast", "rk4")}
JUDGES = ("oracle", "noisy", "coarse", "learned")  # best-of-N: true world, true + noise, coarse
# solver, the smallest world model (see experiment.judge)


def _doubling(values: list[int]) -> bool:
    v = sorted(values)
    return all(b == 2 * a for a, b in zip(v, v[1:], strict=False))


@dataclass(frozen=True)
class EnvComputeConfig(GridConfig):
    """Parameters of notebook 02 (one field per line of its parameters cell)."""

    seeds: int = param(5, "independent seeds (initial states, planner noise, world-model data "
                       "and init)", affects="analysis", low=1, high=50)
    backend: str = param("ode", "physics: 'ode' (NumPy pendulum ODE) or 'mujoco' (the same "
                         "pendulum in MuJoCo)", affects="train", choices=("ode", "mujoco"))
    control_dt: float = param(0.2, "control interval dt in s, the same for every simulator",
                              affects="train", low=1e-3, high=1.0)
    episode_steps: int = param(40, "control steps per episode (T)", affects="train", low=1,
                               high=10_000)
    episodes: int = param(8, "episodes per seed, each from its own initial state",
                          affects="train", low=1, high=4096)
    max_torque: float = param(2.5, "torque limit u_max in N m (m g l = 10: it must pump)",
                              affects="train", low=0.1, high=100.0)
    init_spread: float = param(0.3, "initial theta - pi and omega drawn from U(-spread, spread)",
                               affects="train", low=0.0, high=3.14)
    true_integrator: str = param("rk4", "the true world's solver", affects="train",
                                 choices=("euler", "semi_implicit_euler", "rk4", "implicitfast"))
    true_substeps: int = param(20, "the true world's substeps per control step",
                               affects="train", low=1, high=1000)
    horizon: int = param(10, "planning horizon H in control steps", affects="train", low=1,
                         high=10_000)
    population: int = param(64, "CEM plans per iteration on the solver and world-model axes",
                            affects="train", low=2, high=65_536)
    iterations: int = param(3, "CEM refits per control step", affects="train", low=1, high=100)
    elite_frac: float = param(0.125, "share of plans kept as elites (at least 2)",
                              affects="train", low=0.01, high=1.0)
    integrators: list[str] = param(["euler", "semi_implicit_euler", "rk4"], "solver axis: "
                                   "integrators of the planner's simulator", affects="jobs")
    substeps: list[int] = param([1, 2, 4, 8, 16], "solver axis: substeps per control step (a "
                                "doubling ladder)", affects="jobs", item_low=1, item_high=1000)
    ladder: str = param("euler", "the integrator whose substep ladder verdicts 1 and 4 read",
                        affects=("jobs", "analysis"),
                        choices=("euler", "semi_implicit_euler", "rk4", "implicitfast"))
    equal_evals: int = param(4, "verdict 2: RHS evaluations per control step at which rk4 x "
                             "(e/4) meets e substeps of the others", affects="analysis", low=4,
                             high=4000)
    populations: list[int] = param([8, 16, 32, 64, 128], "allocation grid: CEM populations (a "
                                   "doubling ladder)", affects="jobs", item_low=2,
                                   item_high=65_536)
    wm_transitions: list[int] = param([100, 1000, 10_000], "world-model axis: training "
                                      "transitions M", affects="jobs", item_low=10,
                                      item_high=10**7)
    wm_steps: int = param(3000, "world-model training steps (minibatches)", affects="train",
                          low=1, high=10**7)
    wm_checkpoints: int = param(5, "checkpoints along training (log-spaced) the planner uses",
                                affects="train", low=1, high=50)
    wm_width: int = param(64, "world-model hidden units per layer", affects="train", low=1,
                          high=4096)
    wm_depth: int = param(2, "world-model hidden layers", affects="train", low=1, high=8)
    wm_lr: float = param(3e-3, "world-model AdamW rate (constant after 10 warm-up steps)",
                         affects="train", low=1e-6, high=1.0)
    wm_batch: int = param(256, "world-model minibatch size", affects="train", low=1,
                          high=65_536)
    omega_scale: float = param(8.0, "omega range of the world model's data and its input scale "
                               "(rad/s)", affects="train", low=0.1, high=100.0)
    bon_sizes: list[int] = param([1, 4, 16, 64, 256, 1024], "best-of-N axis: candidate plans N",
                                 affects="jobs", item_low=1, item_high=65_536)
    bon_peak_n: int = param(64, "verdict 3: the intermediate N at which a peak is tested",
                            affects="analysis", low=2, high=65_536)
    bon_std: float = param(0.5, "std of best-of-N candidate plans around the warm start, in "
                           "units of u_max", affects="train", low=0.01, high=10.0)
    bon_noise: float = param(0.05, "std of the noisy judge's error on a plan's reward per step",
                             affects="train", low=0.0, high=10.0)
    n_test: int = param(4096, "(state, torque) pairs of the one-step-error test set",
                        affects="eval", low=16, high=10**6)
    margin: float = param(0.02, "smallest difference in true reward per step (range [0, 1]) "
                          "worth the name, and the equivalence margin", affects="analysis",
                          low=1e-4, high=1.0)
    alloc_margin: float = param(0.01, "verdict 4: smallest slope (reward per step per doubling "
                                "of the population) worth the name", affects="analysis",
                                low=1e-4, high=1.0)

    def check(self) -> None:
        allowed = BACKEND_INTEGRATORS[self.backend]
        for name in ("integrators", "substeps", "populations", "wm_transitions", "bon_sizes"):
            values = getattr(self, name)
            if len(set(values)) < len(values) or not values:
                raise ConfigError(f"parameter {name}={values}: at least one value, no repeats")
        for name, values in (("integrators", self.integrators),
                             ("true_integrator", [self.true_integrator]),
                             ("ladder", [self.ladder])):
            bad = [v for v in values if v not in allowed]
            if bad:
                raise ConfigError(f"parameter {name}={getattr(self, name)!r}: unknown integrator "
                                  f"{bad[0]!r} for backend={self.backend!r}, must be one of "
                                  f"{list(allowed)}")
        if self.horizon > self.episode_steps:
            raise ConfigError(f"parameter horizon={self.horizon}: longer than the episode "
                              f"(episode_steps={self.episode_steps}); must be <= it")
        if self.ladder == "rk4" or self.ladder not in self.integrators:
            raise ConfigError(f"parameter ladder={self.ladder!r}: must be one of "
                              f"integrators={self.integrators} other than rk4 (verdict 2 sets "
                              "rk4 against it)")
        for name in ("substeps", "populations"):
            if len(getattr(self, name)) < 3 or not _doubling(getattr(self, name)):
                raise ConfigError(f"parameter {name}={getattr(self, name)}: at least 3 values, "
                                  "each twice the one before (a doubling ladder)")
        if self.population not in self.populations:
            raise ConfigError(f"parameter population={self.population}: must be one of "
                              f"populations={self.populations}")
        e = self.equal_evals
        if "rk4" not in self.integrators or e % 4 or e not in self.substeps \
                or e // 4 not in self.substeps:
            raise ConfigError(f"parameter equal_evals={e}: needs rk4 in integrators and both "
                              f"{e} and {e}/4 in substeps={self.substeps}")
        if self.bon_peak_n not in self.bon_sizes or self.bon_peak_n in (min(self.bon_sizes),
                                                                        max(self.bon_sizes)):
            raise ConfigError(f"parameter bon_peak_n={self.bon_peak_n}: must be an inner value "
                              f"of bon_sizes={self.bon_sizes}")


from nblib.experiments.environment_compute.analysis import (  # noqa: E402
    HEADLINE,
    closing_line,
    decide,
    invariants,
    statistics,
)
from nblib.experiments.environment_compute.experiment import (  # noqa: E402
    Results,
    estimate_seconds,
    jobs,
    make_simulator,
    run_all,
    run_job,
    settings_table,
)

__all__ = ["FIGURE", "HEADLINE", "JUDGES", "QUESTION", "SLUG", "EnvComputeConfig", "Results",
           "closing_line", "decide", "estimate_seconds", "invariants", "jobs", "make_simulator",
           "run_all", "run_job", "settings_table", "statistics"]
