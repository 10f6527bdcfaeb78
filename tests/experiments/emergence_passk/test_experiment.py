import numpy as np
import pytest

from nblib.config import ConfigError, build
from nblib.experiments import emergence_passk as em
from nblib.experiments.emergence_passk import experiment

from .conftest import TINY


@pytest.mark.parametrize("change,match", [
    (dict(sampled_ks=[1, 16]), r"sampled_ks=\[1, 16\]: k=\[16\] above samples=8"),
    (dict(threshold=1.5), "threshold=1.5: out of range"),
    (dict(threshold=0.001), "threshold"),
    (dict(task="multiplication"), "task='multiplication': unknown task"),
    (dict(fit_below=0.4), "fit_below=0.4: must be below threshold"),
    (dict(forecast_ks=[4, 64]), "forecast_ks"),
    (dict(pass_ks=[2, 4, 8, 16, 32]), "pass_ks"),
    (dict(forecast_ks=[4]), "at least two"),
    (dict(widths=[15]), "divisible"),
    (dict(test_problems=5000), "test_problems=5000"),
    (dict(warmup_steps=500), "warmup_steps"),
    (dict(target="beam"), "target='beam': must be one of"),
])
def test_bad_configs_are_refused_before_any_compute(change, match):
    with pytest.raises(ConfigError, match=match):
        build(em.EmergenceConfig, {**TINY, **change})


def test_a_blind_guess_must_stay_below_the_threshold_at_the_forecast_k():
    with pytest.raises(ConfigError, match="blind guess already has pass@256"):
        build(em.EmergenceConfig, {**TINY, "pass_ks": [1, 4, 8, 256], "forecast_ks": [4, 256]})


def test_default_checkpoints_are_log_spaced_from_step_0():
    cfg = build(em.EmergenceConfig, {})
    steps = experiment.checkpoint_steps(cfg)
    assert steps[0] == 0 and steps[1] == 10 and steps[-1] == 3000 and len(steps) == 25
    assert np.allclose(np.diff(np.log(steps[1:])), np.log(300) / 23, atol=0.05)
    assert experiment.jobs(cfg) == [{"width": 64, "seed": s} for s in range(5)]


def test_run_records_every_checkpoint_and_resumes(tiny, cfg):
    _, res = tiny
    assert list(res.curves.groupby("seed").step.apply(list)) == [res.steps] * 2
    assert res.log_p[(16, 0)].shape == (len(res.steps), cfg.test_problems)
    assert set(res.passk.k) == set(cfg.pass_ks)
    sampled = res.passk.dropna(subset=["sampled"])
    assert set(sampled.k) == set(cfg.sampled_ks)
    again = em.run_all(cfg)  # read back from the record
    assert again.curves.equals(res.curves)


def test_validation_loss_is_the_mean_log_p_per_answer_token(tiny, cfg):
    _, res = tiny
    c = res.curves
    assert np.allclose(c.val_loss, -c.mean_log_p / (cfg.digits + 2))
