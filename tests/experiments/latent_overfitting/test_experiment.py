import pytest

from nblib.config import ConfigError, build
from nblib.experiments import latent_overfitting as lo
from nblib.experiments.latent_overfitting import experiment

from .conftest import TINY


@pytest.mark.parametrize("change,match", [
    (dict(diversity=[4, 16]), r"diversity=\[4, 16\]: no repeats, and it must include people=8"),
    (dict(diversity=[8]), "at least two people counts"),
    (dict(conditions=["fresh", "repeated"]), "fresh and rephrased are always run"),
    (dict(conditions=["fresh", "rephrased", "paraphrased"]), r"unknown \['paraphrased'\]"),
    (dict(d_model=15), "divisible"),
    (dict(warmup_steps=40), "warmup_steps=40: must be below steps=40"),
    (dict(n_checkpoints=50), "n_checkpoints=50"),
    (dict(people=0), "people=0: out of range"),
    (dict(near_zero=1.5), "near_zero=1.5: out of range"),
])
def test_bad_configs_are_refused_before_any_compute(change, match):
    with pytest.raises(ConfigError, match=match):
        build(lo.LatentConfig, {**TINY, **change})


def test_default_jobs_and_checkpoints():
    cfg = build(lo.LatentConfig, {})
    grid = {(j["condition"], j["people"]) for j in lo.jobs(cfg)}
    assert grid == {("fresh", 0), ("rephrased", 25), ("rephrased", 50), ("rephrased", 100),
                    ("repeated", 50), ("shuffled", 50)} and len(lo.jobs(cfg)) == 30
    steps = experiment.checkpoint_steps(cfg)
    assert steps[0] == 0 and steps[-1] == 400 and {25, 50, 375} <= set(steps)


def test_streams_meter_what_they_promise(cfg):
    seq, read = experiment.read_stream(cfg, {"condition": "rephrased", "people": 8, "seed": 0})
    assert seq.shape == (cfg.steps * cfg.batch_size, cfg.context + 1)
    assert len(read["people"]) == 8 and read["repetition"]["documents"] == 0.0
    _, rep = experiment.read_stream(cfg, {"condition": "repeated", "people": 8, "seed": 0})
    docs = rep["documents"]
    assert rep["repetition"]["documents"] == pytest.approx(1 - 8 / docs)
    _, fresh = experiment.read_stream(cfg, {"condition": "fresh", "people": 0, "seed": 0})
    assert len(fresh["people"]) == fresh["documents"]  # a new person every document


def test_run_records_every_checkpoint_and_resumes(tiny, cfg):
    _, res = tiny
    assert len(res.streams) == len(lo.jobs(cfg)) == 10
    per_job = res.curves.groupby(["condition", "people", "seed"]).step.apply(list)
    assert all(steps == res.steps for steps in per_job)
    assert {"new_all_a", "new_value_b", "seen_held_out_value", "new_held_out_name"} <= set(
        res.curves.columns)
    assert sum(res.token_shares.values()) == pytest.approx(1.0)
    again = lo.run_all(cfg)  # read back from the record
    assert again.curves.equals(res.curves)


def test_baselines_lie_between_a_trained_model_and_uniform(tiny, cfg):
    _, res = tiny
    b = lo.baselines(cfg)
    assert b["unigram"] < b["uniform"]
    first = res.curves[res.curves.step == 0].new_all
    assert (abs(first - b["uniform"]) < 0.5).all()  # the untrained model sits near uniform
