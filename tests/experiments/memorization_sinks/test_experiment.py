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


def test_tiny_run_records_every_condition_sparsity_and_method(cfg, data, tiny_run):
    final = tiny_run.final
    assert set(final.method) == {"standard", "dedup", "sinks", "gradient ascent", "GradDiff",
                                 "NPO", "NPO+RT", "pruning"}
    assert set(final[final.method == "pruning"].strength) == {4, 8}
    for method in ("gradient ascent", "GradDiff", "NPO", "NPO+RT"):
        assert set(final[final.method == method].strength) == {1, 3}, method
    sinks = final[final.method == "sinks"]
    assert sorted(set(zip(sinks.n_sink, sinks.n_active, strict=True))) == [(16, 1), (16, 4)]
    assert set(final.seed) == {0, 1}
    assert list(final.columns[:4]) == ["condition", "n_sink", "n_active", "seed"]
    assert final[["gap", "canary_gap", "val_loss"]].notna().all().all()
    assert sinks.gap_sinks_on.notna().all()
    trained = final[final.strength == 0]
    assert trained[[f"matched_{k}" for k in ex.EXTRACTION_SETS]].notna().all().all()
    post_hoc = final[final.strength > 0]
    assert post_hoc.matched_canary.notna().all() and post_hoc.matched_natural.isna().all()
    assert set(tiny_run.history.step) == {20, 40}
    assert [c.step for c in ms.store_for(cfg, "sinks", 0).list()][-1] == cfg.steps
    assert [c.step for c in ms.store_for(cfg, "sinks", 0, 16, 1).list()][-1] == cfg.steps
    assert len(tiny_run.seconds) == 2 * (2 + 2)
    assert "condition=sinks-n_active=1-n_sink=16-seed=1" in tiny_run.seconds
    again = ms.run_one(cfg, {"condition": "dedup", "n_sink": 0, "n_active": 0, "seed": 0},
                       data=data)["final"][0]
    first = final[final.method == "dedup"].iloc[0]  # deterministic for a seed
    assert (again["gap"], again["val_loss"]) == (first.gap, first.val_loss)


def test_the_sparsities_differ_only_in_their_masks(cfg, tiny_run):
    """Two MemSinks models of one seed start from the same weights and see the same data, so
    any difference between them is the sparsity's."""
    sinks = tiny_run.final[(tiny_run.final.method == "sinks") & (tiny_run.final.seed == 0)]
    assert sinks.val_loss.nunique() == 2
    start = [ms.store_for(cfg, "sinks", 0, 16, a).load(0).state_dict() for a in (1, 4)]
    assert all(torch.equal(start[0][k], start[1][k]) for k in start[0])


def test_post_hoc_unlearning_raises_the_loss_of_the_forgotten_passages(tiny_run):
    final = tiny_run.final
    standard = final[final.method == "standard"].set_index("seed").loss_repeated
    for method in ("gradient ascent", "GradDiff", "NPO", "NPO+RT"):
        strongest = final[(final.method == method) & (final.strength == 3)]
        assert (strongest.set_index("seed").loss_repeated > standard).all(), method


def test_a_restarted_run_redoes_only_the_unfinished_jobs(cfg, tiny_run, monkeypatch):
    folder = ex.jobs_folder(cfg)
    (folder / "condition=sinks-n_active=4-n_sink=16-seed=1.json").unlink()  # killed before it ended
    trained = []
    real = ex.train_condition

    def spy(cfg, condition, seed, *args, **kwargs):
        trained.append((condition, seed, *args[-2:]))
        return real(cfg, condition, seed, *args, **kwargs)

    monkeypatch.setattr(ex, "train_condition", spy)
    again = ms.run_all(cfg, workers=1)
    assert trained == [("sinks", 1, 16, 4)]
    assert again.final.equals(tiny_run.final) and again.history.equals(tiny_run.history)


def test_first_seed_moves_the_seeds(cfg):
    assert [j["seed"] for j in ex.jobs(replace(cfg, first_seed=3))] == [3, 4] * 4


def test_the_n_sink_sweep_keeps_the_headline_ratio(cfg):
    wider = replace(cfg, n_sink_sweep=[32])
    assert wider.sink_points == [(16, 1), (16, 4), (32, 8)]
    assert len(ex.jobs(wider)) == 2 * 5


@pytest.mark.parametrize("bad, field", [
    (dict(n_sink=64), "n_sink"), (dict(n_active=2), "n_active"), (dict(d_mlp=60), "d_mlp"),
    (dict(n_active_sweep=[1, 32]), "n_active_sweep"),
    (dict(n_active_sweep=[4, 4]), "repeats a value"),
    (dict(n_sink_sweep=[18]), "n_sink_sweep"), (dict(n_sink_sweep=[16]), "n_sink_sweep"),
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
    assert folder == ms.store_for(replace(cfg, unlearn_lr=0.01, workers=1), "sinks", 0).root
    assert folder == ms.store_for(replace(cfg, threshold=0.3, parity_margin=0.1), "sinks", 0).root
    assert folder != ms.store_for(cfg, "sinks", 0, 16, 1).root
    for change in (dict(steps=cfg.steps + 1), dict(warmup_fraction=0.1),
                   dict(final_lr_ratio=0.2), dict(data_seed=1)):
        assert folder != ms.store_for(replace(cfg, **change), "sinks", 0).root, change


def test_job_results_are_keyed_by_training_and_evaluation_fields(cfg):
    folder = ex.jobs_folder(cfg)
    assert folder == ex.jobs_folder(replace(cfg, seeds=3, first_seed=1, workers=1))
    assert folder == ex.jobs_folder(replace(cfg, threshold=0.3, parity_margin=0.1))
    for change in (dict(unlearn_lr=0.01), dict(prune_counts=[2]), dict(extract_tokens=8),
                   dict(lr=1e-3), dict(retain_passages=8), dict(npo_beta=0.5),
                   dict(retain_weight=2.0), dict(unlearn_steps=[1, 2])):
        assert folder != ex.jobs_folder(replace(cfg, **change)), change


def test_runtime_estimate_is_timed_and_positive(cfg):
    seconds = ms.estimate_seconds(cfg, torch.device("cpu"), 2)
    assert math.isfinite(seconds) and seconds > 0
