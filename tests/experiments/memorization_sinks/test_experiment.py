"""nblib.experiments.memorization_sinks: data assignment, training orders, the schedule, a tiny
run of the grid, resuming it, and the config's rules."""

import math

import pytest
import torch

from nblib.config import ConfigError, build, replace
from nblib.env import derive_seed
from nblib.experiments import memorization_sinks as ms
from nblib.experiments.memorization_sinks import experiment as ex

from .conftest import TINY


def test_passages_are_disjoint_and_fixed(cfg, data):
    assert data.repeated.shape == data.heldout.shape == (6, 65)
    rows = {tuple(r.tolist()) for r in torch.cat([data.repeated, data.heldout, data.unique])}
    assert len(rows) == 12 + len(data.unique)  # no passage in two roles
    assert torch.equal(ms.load_data(cfg).repeated, data.repeated)
    other = ms.load_data(replace(cfg, data_seed=cfg.data_seed + 1))
    assert not torch.equal(other.repeated, data.repeated)  # data_seed picks the documents


def test_conditions_see_the_same_number_of_sequences_and_dedup_sees_repeats_once(cfg, data):
    standard = ms.training_sequences(cfg, data, "standard", 0)
    dedup = ms.training_sequences(cfg, data, "dedup", 0)
    assert len(standard) == len(dedup) == cfg.steps * cfg.batch_size

    def count(seqs, passage):
        return int((seqs == passage).all(1).sum())

    assert count(standard, data.repeated[0]) == cfg.repeats and count(dedup, data.repeated[0]) == 1
    assert count(standard, data.canaries[0]) == cfg.repeats
    assert count(standard, data.heldout[0]) == 0
    assert not torch.equal(standard, ms.training_sequences(cfg, data, "standard", 1))  # order
    repeated = torch.cat([data.repeated, data.canaries]).repeat(cfg.repeats, 1)
    unshuffled = torch.cat([repeated, data.unique[: len(standard) - len(repeated)]])
    gen = torch.Generator().manual_seed(derive_seed(0, "data order"))  # its own seed stream
    assert torch.equal(standard, unshuffled[torch.randperm(len(standard), generator=gen)])


def test_schedule_comes_from_the_parameters(cfg, data):
    assert cfg.warmup_steps == cfg.steps // 20  # today's value at warmup_fraction 0.05
    assert all(build(ms.SinksConfig, {**TINY, "steps": s}).warmup_steps == s // 20
               for s in range(40, 3000))
    schedule = ex.trainer_for(cfg, "standard", 0, data).cfg.schedule
    assert (schedule.kind, schedule.warmup_steps, schedule.total_steps) == ("cosine", 2, 40)
    assert schedule.final_ratio == 0.1 and schedule(cfg.steps) == pytest.approx(0.1)
    other = replace(cfg, warmup_fraction=0.25, final_lr_ratio=0.0)
    schedule = ex.trainer_for(other, "standard", 0, data).cfg.schedule
    assert (schedule.warmup_steps, schedule.final_ratio) == (10, 0.0)


def test_tiny_run_records_every_condition_and_method(cfg, data, tiny_run):
    final = tiny_run.final
    assert set(final.method) == {"standard", "dedup", "sinks", "gradient ascent", "pruning"}
    assert set(final[final.method == "pruning"].strength) == {4, 8}
    assert set(final[final.method == "gradient ascent"].strength) == {1, 3}
    assert set(final.seed) == {0, 1} and list(final.columns[:2]) == ["condition", "seed"]
    assert final[["gap", "canary_gap", "val_loss"]].notna().all().all()
    assert final[final.method == "sinks"].gap_sinks_on.notna().all()
    assert set(tiny_run.history.step) == {20, 40}
    assert [c.step for c in ms.store_for(cfg, "sinks", 0).list()][-1] == cfg.steps
    assert set(tiny_run.seconds) == {"condition=standard-seed=0", "condition=standard-seed=1",
                                     "condition=dedup-seed=0", "condition=dedup-seed=1",
                                     "condition=sinks-seed=0", "condition=sinks-seed=1"}
    again = ms.run_one(cfg, {"condition": "dedup", "seed": 0}, data=data)["final"][0]
    first = final[final.method == "dedup"].iloc[0]  # deterministic for a seed
    assert (again["gap"], again["val_loss"]) == (first.gap, first.val_loss)


def test_a_restarted_run_redoes_only_the_unfinished_jobs(cfg, tiny_run, monkeypatch):
    folder = ex.jobs_folder(cfg)
    (folder / "condition=sinks-seed=1.json").unlink()  # as if killed before this job finished
    trained = []
    real = ex.train_condition

    def spy(cfg, condition, seed, *args, **kwargs):
        trained.append((condition, seed))
        return real(cfg, condition, seed, *args, **kwargs)

    monkeypatch.setattr(ex, "train_condition", spy)
    again = ms.run_all(cfg, workers=1)
    assert trained == [("sinks", 1)]
    assert again.final.equals(tiny_run.final) and again.history.equals(tiny_run.history)


def test_first_seed_moves_the_seeds(cfg):
    assert [j["seed"] for j in ex.jobs(replace(cfg, first_seed=3))] == [3, 4] * 3


@pytest.mark.parametrize("bad, field", [
    (dict(n_sink=64), "n_sink"), (dict(n_active=32), "n_active"), (dict(d_mlp=60), "d_mlp"),
    (dict(extract_prefix=60), "extract_prefix"), (dict(repeats=1000), "repeated"),
    (dict(corpus="tinystories"), "corpus"), (dict(prune_counts=[100]), "prune_counts"),
    (dict(warmup_fraction=0.9), "warmup_fraction"), (dict(final_lr_ratio=1.5), "final_lr_ratio")])
def test_bad_settings_fail_before_training(bad, field):
    with pytest.raises(ConfigError, match=field):
        build(ms.SinksConfig, {**TINY, **bad})


def test_too_much_data_asked_of_the_corpus_fails_clearly(cfg):
    huge = build(ms.SinksConfig, {**TINY, "steps": 10**6, "batch_size": 64})
    with pytest.raises(ConfigError, match="passages"):
        ms.load_data(huge)


def test_checkpoint_folders_are_keyed_by_what_shapes_the_weights(cfg):
    """A default run's checkpoints are never listed by a smoke run (or a test) of another size."""
    folder = ms.store_for(cfg, "sinks", 0).root
    assert folder == ms.store_for(replace(cfg, prune_counts=[2], seeds=3), "sinks", 0).root
    assert folder == ms.store_for(replace(cfg, ga_lr=0.01, workers=1), "sinks", 0).root
    for change in (dict(steps=cfg.steps + 1), dict(warmup_fraction=0.1),
                   dict(final_lr_ratio=0.2), dict(data_seed=1)):
        assert folder != ms.store_for(replace(cfg, **change), "sinks", 0).root, change


def test_job_results_are_keyed_by_training_and_evaluation_fields(cfg):
    folder = ex.jobs_folder(cfg)
    assert folder == ex.jobs_folder(replace(cfg, seeds=3, first_seed=1, workers=1))
    for change in (dict(ga_lr=0.01), dict(prune_counts=[2]), dict(extract_tokens=8),
                   dict(lr=1e-3), dict(prune_reference=16)):
        assert folder != ex.jobs_folder(replace(cfg, **change)), change


def test_runtime_estimate_is_timed_and_positive(cfg):
    seconds = ms.estimate_seconds(cfg, torch.device("cpu"), 2)
    assert math.isfinite(seconds) and seconds > 0
