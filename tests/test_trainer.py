"""nblib.train.trainer: training lowers the loss, is deterministic, forks
WSD branches and resumes exactly from a checkpoint."""

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
    return torch.where(torch.rand(n, generator=g) < 0.1, torch.randint(0, 32, (n,),
                                                                       generator=g), base)


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


# --- hooks: any model, any loss, any evaluation
# ----------------------------------------------------

W_TRUE = torch.tensor([[1.0], [-2.0], [0.5]])  # (3, 1) the regression the MLP learns


def regression_batches(g: torch.Generator):
    x_Bx3 = torch.randn(16, 3, generator=g)
    return x_Bx3, x_Bx3 @ W_TRUE  # (16, 3), (16, 1)


def mse(model, batch, step):
    x, y = batch
    return torch.nn.functional.mse_loss(model(x), y)


def held_out_mse(model) -> float:
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(99))
    with torch.no_grad():
        return float(torch.nn.functional.mse_loss(model(x), x @ W_TRUE))


def mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))


def mlp_trainer(seed=0, callbacks=(), eval_every=10):
    cfg = TrainConfig(lr=3e-2, schedule=Schedule("wsd", 2), seed=seed, log_every=5,
                      eval_every=eval_every, weight_decay=0.0)
    return Trainer(mlp(seed), cfg, regression_batches, callbacks=callbacks, loss_fn=mse,
                   eval_fn=held_out_mse)


def test_loss_fn_trains_a_model_that_is_not_a_language_model():
    t = mlp_trainer(eval_every=0)
    before = held_out_mse(t.model)
    t.fit(60)
    assert held_out_mse(t.model) < before / 4
    assert t.tokens == 60 * 16 * 3  # batch[0].numel(): examples x features
    assert torch.equal(params(mlp_trainer(eval_every=0).fit(60).model), params(t.model))


def test_loss_fn_gets_the_batch_on_the_device_and_the_step():
    seen = []

    def loss(model, batch, step):
        seen.append((step, len(batch), batch[0].shape, batch[0].device))
        return mse(model, batch, step)

    cfg = TrainConfig(lr=1e-2, schedule=Schedule("constant"), log_every=1)
    Trainer(mlp(), cfg, regression_batches, loss_fn=loss).fit(3)
    assert seen == [(s, 2, torch.Size([16, 3]), torch.device("cpu")) for s in range(3)]


def test_eval_fn_replaces_the_val_windows_in_evaluate_and_eval_every():
    class Evals(Callback):
        def __init__(self):
            self.seen = []

        def on_eval(self, trainer, val_loss):
            self.seen.append((trainer.step, val_loss))

    evals = Evals()
    t = mlp_trainer(callbacks=[evals]).fit(30)
    assert t.val_windows is None and t.can_evaluate
    vals = [h for h in t.history if "val_loss" in h]
    assert [h["step"] for h in vals] == [10, 20, 30]
    assert evals.seen == [(h["step"], h["val_loss"]) for h in vals]
    assert t.evaluate() == held_out_mse(t.model) == t.history[-1]["val_loss"]
    calls = []
    lm = trainer()  # an LM with val windows: eval_fn takes precedence over them
    lm.eval_fn = lambda model: calls.append(1) or 7.0
    assert lm.evaluate() == 7.0 and calls == [1]


def test_no_eval_fn_and_no_windows_never_evaluates():
    cfg = TrainConfig(lr=1e-2, eval_every=2)
    t = Trainer(mlp(), cfg, regression_batches, loss_fn=mse).fit(6)
    assert not t.can_evaluate and not [h for h in t.history if "val_loss" in h]


def test_fork_keeps_the_hooks():
    main = mlp_trainer().fit(10)
    branch = main.fork(decay_steps=10)
    assert branch.loss_fn is mse and branch.eval_fn is held_out_mse
    branch.fit(20)
    assert branch.history[-1]["val_loss"] == held_out_mse(branch.model)
    assert not torch.equal(params(branch.model), params(main.model))
    lm = trainer()
    assert lm.fork(decay_steps=5).loss_fn is lm.loss_fn  # the default LM hook travels too


def test_default_lm_hook_passes_inputs_and_step_to_an_objective_that_uses_them():
    from nblib.train.objectives import next_token_loss
    from nblib.train.trainer import lm_loss

    seen = []

    def objective(logits, targets, inputs, step):
        seen.append((logits.shape, inputs.shape, step))
        return next_token_loss(logits, targets)

    objective.uses_inputs = True
    t = trainer()
    t = Trainer(t.model, t.cfg, t.batches, objective=objective)
    t.fit(2)
    assert seen == [(torch.Size([8, 16, 32]), torch.Size([8, 16]), s) for s in range(2)]
    assert lm_loss(objective).objective is objective and t.loss_fn.objective is objective


def test_seconds_per_step_times_real_steps():
    from nblib.train.trainer import seconds_per_step

    t = mlp_trainer(eval_every=0)
    seconds = seconds_per_step(t, steps=3, warmup=1)
    assert 0 < seconds < 5 and t.step == 4
    with pytest.raises(ValueError, match="steps"):
        seconds_per_step(t, steps=0)


def test_constant_after_warmup_reads_a_notebook_config():
    from types import SimpleNamespace

    from nblib.train.trainer import constant_after_warmup

    cfg = SimpleNamespace(lr=1e-3, weight_decay=0.05, warmup_steps=10, steps=400)
    train = constant_after_warmup(cfg, seed=7)
    assert (train.lr, train.weight_decay, train.seed, train.log_every) == (1e-3, 0.05, 7, 4)
    assert train.schedule(0) == 0.1 and train.schedule(10) == train.schedule(399) == 1.0
