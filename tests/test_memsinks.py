"""nblib.experiments.memsinks: data assignment, training orders, sink batches, a tiny run."""

import pytest
import torch

from nblib.config import ConfigError, build, replace
from nblib.experiments import memsinks as ms
from nblib.models.sinks import SinkMLP, build_sink_lm, document_id, sink_masks

TINY = dict(interactive=False, seeds=1, steps=40, eval_every=20, n_repeated=6, n_canaries=4, repeats=5,
            d_model=32, d_mlp=64, n_sink=16, n_active=4, ga_steps=[1, 3], prune_counts=[4, 8],
            val_windows=16, batch_size=8)


@pytest.fixture(scope="module")
def cfg():
    return build(ms.SinksConfig, TINY)


@pytest.fixture(scope="module")
def data(cfg):
    return ms.load_data(cfg)


def test_passages_are_disjoint_and_fixed(cfg, data):
    assert data.repeated.shape == data.heldout.shape == (6, 65)
    rows = {tuple(r.tolist()) for r in torch.cat([data.repeated, data.heldout, data.unique])}
    assert len(rows) == 12 + len(data.unique)  # no passage in two roles
    assert torch.equal(ms.load_data(cfg).repeated, data.repeated)


def test_conditions_see_the_same_number_of_sequences_and_dedup_sees_repeats_once(cfg, data):
    standard = ms.training_sequences(cfg, data, "standard", 0)
    dedup = ms.training_sequences(cfg, data, "dedup", 0)
    assert len(standard) == len(dedup) == cfg.steps * cfg.batch_size

    def count(seqs, passage):
        return int((seqs == passage).all(1).sum())

    assert count(standard, data.repeated[0]) == cfg.repeats and count(dedup, data.repeated[0]) == 1
    assert count(standard, data.canaries[0]) == cfg.repeats and count(standard, data.heldout[0]) == 0


def test_sink_batches_set_each_documents_own_mask(cfg, data):
    model = build_sink_lm(ms.shape(cfg), cfg.n_sink)
    seqs = ms.training_sequences(cfg, data, "sinks", 0)
    x, y = ms.PassageBatches(seqs, 4, model, cfg.n_sink, cfg.n_active)(torch.Generator())
    assert torch.equal(x[:, 1:], y[:, :-1])
    mlp = next(m for m in model.modules() if isinstance(m, SinkMLP))
    expected = sink_masks([document_id(s) for s in seqs[:4]], cfg.n_sink, cfg.n_active)
    assert torch.equal(mlp.sink_mask, expected)


def test_tiny_run_records_every_condition_and_method(cfg, data):
    results = ms.run_all(cfg, workers=1)
    final = results.final
    assert set(final.method) == {"standard", "dedup", "sinks", "gradient ascent", "pruning"}
    assert set(final[final.method == "pruning"].strength) == {4, 8}
    assert final[["gap", "canary_gap", "val_loss"]].notna().all().all()
    assert final[final.method == "sinks"].gap_sinks_on.notna().all()
    assert set(results.history.step) == {20, 40}
    assert [c.step for c in ms.store_for(cfg, "sinks", 0).list()][-1] == cfg.steps
    again = ms.run_one(cfg, "dedup", 0, data=data)["final"][0]  # deterministic for a seed
    first = final[final.method == "dedup"].iloc[0]
    assert (again["gap"], again["val_loss"]) == (first.gap, first.val_loss)


@pytest.mark.parametrize("bad, field", [
    (dict(n_sink=64), "n_sink"), (dict(n_active=32), "n_active"), (dict(d_mlp=60), "d_mlp"),
    (dict(extract_prefix=60), "extract_prefix"), (dict(repeats=1000), "repeated"),
    (dict(corpus="tinystories"), "corpus"), (dict(prune_counts=[100]), "prune_counts")])
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
    assert folder == ms.store_for(replace(cfg, prune_counts=[2], seeds=2), "sinks", 0).root
    assert folder != ms.store_for(replace(cfg, steps=cfg.steps + 1), "sinks", 0).root
