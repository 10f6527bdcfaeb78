"""nblib.train.trainer: training lowers the loss, is deterministic, forks WSD branches and resumes
exactly from a checkpoint."""

import pytest
import torch

from nblib.eval.lm_loss import eval_windows, mean_loss
from nblib.models.lm import LMShape, build_lm
from nblib.train.batches import RandomWindows
from nblib.train.callbacks import Checkpointing
from nblib.train.checkpoints import CheckpointStore
from nblib.train.schedules import Schedule
from nblib.train.trainer import Callback, TrainConfig, Trainer

SHAPE = LMShape(vocab_size=32, d_model=16, n_layers=1, n_heads=2, context=16)


def stream(n=4000, seed=0):
    """A learnable stream: a repeating pattern with noise, so a tiny model can lower its loss."""
    g = torch.Generator().manual_seed(seed)
    base = torch.arange(n) % 8
    return torch.where(torch.rand(n, generator=g) < 0.1, torch.randint(0, 32, (n,), generator=g), base)


def trainer(seed=0, callbacks=(), lr=1e-2, schedule=None):
    tokens, schedule = stream(), schedule or Schedule("wsd", 2)
    cfg = TrainConfig(lr=lr, schedule=schedule, seed=seed, log_every=5, eval_every=10)
    return Trainer(build_lm(SHAPE, seed=seed), cfg, RandomWindows(tokens, 8, 16),
                   eval_windows(stream(seed=1), 16, 16), callbacks)


def params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_a_few_steps_lower_the_validation_loss():
    t = trainer()
    before = mean_loss(t.model, t.val_windows)
    t.fit(40)
    assert t.step == 40 and t.tokens == 40 * 8 * 16
    assert t.history[-1]["val_loss"] < before - 0.5
    assert [h["step"] for h in t.history if "train_loss" in h] == list(range(5, 41, 5))


def test_same_seed_same_run_bit_for_bit():
    a, b = trainer(seed=3).fit(15), trainer(seed=3).fit(15)
    assert torch.equal(params(a.model), params(b.model))
    assert not torch.equal(params(a.model), params(trainer(seed=4).fit(15).model))


def test_fit_in_pieces_equals_fit_at_once_and_the_schedule_is_applied():
    class LRs(Callback):
        def __init__(self):
            self.seen = []

        def on_step(self, trainer, loss):
            self.seen.append(trainer.optimizer.param_groups[0]["lr"])

    lrs = LRs()
    a = trainer(callbacks=[lrs], schedule=Schedule("cosine", 2, 20)).fit(8).fit(20)
    b = trainer(schedule=Schedule("cosine", 2, 20)).fit(20)
    assert torch.equal(params(a.model), params(b.model))
    assert lrs.seen == pytest.approx([1e-2 * Schedule("cosine", 2, 20)(s) for s in range(20)])


def test_fork_decays_the_copy_and_leaves_the_stable_run_untouched():
    main = trainer().fit(10)
    reference = trainer().fit(20)
    branch = main.fork(decay_steps=5)
    branch.fit(15)
    main.fit(20)
    assert torch.equal(params(main.model), params(reference.model))  # the fork changed nothing
    assert branch.optimizer.param_groups[0]["lr"] == pytest.approx(0.0)  # decayed to zero
    assert branch.cfg.schedule(14) == 0.0 and main.cfg.schedule(14) == 1.0
    assert branch.branch == "decay" and branch.step == 15


def test_resume_from_a_checkpoint_continues_identically(tmp_path):
    store = CheckpointStore(tmp_path)
    original = trainer(callbacks=[Checkpointing(store, [0, 10, 20])]).fit(20)
    assert [c.step for c in store.list()] == [0, 10, 20]
    assert store.get(10).meta["tokens"] == 10 * 8 * 16
    resumed = trainer(seed=0).restore(store, 10)
    assert resumed.step == 10
    resumed.fit(20)
    assert torch.equal(params(resumed.model), params(original.model))
    loaded = store.load(20)
    assert torch.equal(params(loaded), params(original.model))


def test_nan_loss_stops_with_the_step():
    t = trainer(lr=1e6, schedule=Schedule("constant"))
    with pytest.raises(FloatingPointError, match="step"):
        t.fit(200)
    with pytest.raises(ValueError, match="behind"):
        trainer().fit(5).fit(2)
