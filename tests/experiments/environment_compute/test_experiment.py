import numpy as np
import pytest

from nblib.config import ConfigError, build, replace
from nblib.experiments import environment_compute as ec
from nblib.experiments.environment_compute import experiment as ex
from tests.experiments.environment_compute.conftest import TINY


@pytest.mark.parametrize("bad, match", [
    (dict(integrators=["euler", "leapfrog", "rk4"]), "unknown integrator 'leapfrog'"),
    (dict(substeps=[0, 1, 2]), "element 0 out of range"),
    (dict(true_substeps=0), "true_substeps=0: out of range"),
    (dict(horizon=9, episode_steps=8), "horizon=9: longer than the episode"),
    (dict(backend="mujoco"), "unknown integrator 'euler' for backend='mujoco'"),
    (dict(substeps=[1, 3, 9]), "doubling ladder"),
    (dict(bon_peak_n=16), "inner value of bon_sizes"),
])
def test_bad_input_is_a_config_error_naming_the_field(bad, match):
    with pytest.raises(ConfigError, match=match):
        build(ec.EnvComputeConfig, {**TINY, **bad})


def test_jobs_cover_every_axis_once(cfg):
    jobs = ec.jobs(cfg)
    keys = [tuple(sorted(j.items())) for j in jobs]
    assert len(keys) == len(set(keys))
    mpc = [j for j in jobs if j["kind"] == "mpc" and j["seed"] == 0]
    # solver axis 3 x 3, the oracle, the allocation grid 3 x 3 minus its overlap at population 8
    assert len(mpc) == 9 + 1 + 9 - 3
    assert {j["candidates"] for j in jobs if j["kind"] == "best_of_n"} == {1, 4, 16}
    assert len(jobs) == cfg.seeds * (len(mpc) + 2 + 2 + 4 * 3)


def test_settings_share_initial_states_and_noise_within_a_seed(cfg):
    a, b = ex.seed_states(cfg, 0), ex.seed_states(cfg, 0)
    assert np.array_equal(a, b) and not np.array_equal(a, ex.seed_states(cfg, 1))
    r1, r2 = ex.planner_rngs(cfg, 0), ex.planner_rngs(cfg, 0)
    assert np.array_equal(r1[1].standard_normal(3), r2[1].standard_normal(3))


def test_a_job_is_deterministic_and_counts_its_compute(cfg):
    job = dict(kind="mpc", integrator="euler", substeps=2, population=8, seed=0)
    one, two = ec.run_job(cfg, job), ec.run_job(cfg, job)
    assert one == two
    assert one["transitions_per_step"] == 8 * cfg.iterations * cfg.horizon
    assert one["transitions_counted"] == one["transitions_per_step"]
    assert one["rhs_evals_per_control_step"] == one["transitions_per_step"] * 2
    assert 0 <= one["true_return"] <= 1 and len(one["episode_returns"]) == cfg.episodes
    assert "sim_return" in one  # the agent's own population: also played in its own world


def test_oracle_in_its_own_world_is_the_true_world(cfg):
    out = ec.run_job(cfg, dict(kind="mpc", integrator="rk4", substeps=20, population=8, seed=1))
    assert out["sim_return"] == pytest.approx(out["true_return"], abs=1e-12)
    assert out["one_step_error"] == 0.0


def test_coarse_euler_has_a_larger_one_step_error_than_rk4(cfg):
    errors = {(i, k): ex.one_step_error(cfg, ec.make_simulator(cfg, i, k))
              for i in ("euler", "rk4") for k in (1, 4)}
    assert errors["euler", 1] > errors["euler", 4] > errors["rk4", 1] > errors["rk4", 4] > 0


def test_run_all_tables_and_resume(tiny):
    cfg, res = tiny
    assert len(res.mpc) == 16 * cfg.seeds and len(res.baselines) == 2 * cfg.seeds
    assert len(res.best_of_n) == 12 * cfg.seeds
    assert set(res.world_model.transitions) == {50, 200}
    again = ec.run_all(cfg)  # every job read back from its record
    assert len(again.jobs.resumed) == len(ec.jobs(cfg))
    assert again.mpc.true_return.tolist() == res.mpc.true_return.tolist()


def test_a_changed_world_is_not_read_back(tiny):
    cfg, _ = tiny
    assert ex.runs_folder(cfg) != ex.runs_folder(replace(cfg, max_torque=3.0))
    assert ex.runs_folder(cfg) == ex.runs_folder(replace(cfg, margin=0.05))  # analysis only


def test_estimate_is_positive_and_grows_with_seeds(cfg):
    small = ec.estimate_seconds(cfg, None, 1)
    assert 0 < small < ec.estimate_seconds(replace(cfg, seeds=4), None, 1)


def test_the_full_profiles_mujoco_backend_runs_its_jobs_at_tiny_size():
    """The `full` profile's path: the same jobs with MuJoCo as every simulator and the true world
    (fidelity knobs: integrator and timestep = dt / frame_skip)."""
    cfg = build(ec.EnvComputeConfig, {**TINY, "backend": "mujoco", "seeds": 1,
                                      "integrators": ["semi_implicit_euler", "implicitfast", "rk4"],
                                      "ladder": "semi_implicit_euler", "episode_steps": 4})
    mpc = ec.run_job(cfg, dict(kind="mpc", integrator="semi_implicit_euler", substeps=1,
                               population=8, seed=0))
    oracle = ec.run_job(cfg, dict(kind="mpc", integrator="rk4", substeps=20, population=8,
                                  seed=0))
    assert 0 <= mpc["true_return"] <= 1 and mpc["one_step_error"] > oracle["one_step_error"] == 0
    assert oracle["sim_return"] == pytest.approx(oracle["true_return"], abs=1e-12)
    bon = ec.run_job(cfg, dict(kind="best_of_n", judge="coarse", candidates=4, seed=0))
    assert 0 <= bon["true_return"] <= 1


def test_the_learned_judge_is_the_world_model_axis_last_checkpoint(cfg):
    """Trained once per process, and the same weights as the world-model job's last checkpoint
    (its one-step error matches the recorded one)."""
    model = ex.learned_judge_model(cfg, 0)
    assert ex.learned_judge_model(cfg, 0) is model
    job = ec.run_job(cfg, dict(kind="world_model", transitions=min(cfg.wm_transitions), seed=0))
    assert ex.one_step_error(cfg, model) == pytest.approx(job["checkpoints"][-1]["one_step_error"])
