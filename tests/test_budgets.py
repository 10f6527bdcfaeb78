"""nblib.train.budgets: WSD budgets, and annealed branches that leave the stable run untouched."""

import torch

from nblib.models.lm import LMShape, build_lm
from nblib.train.batches import RandomWindows
from nblib.train.budgets import annealed_branches, steps_for, wsd_budgets
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer


def test_budgets_are_sorted_and_decay_over_their_fraction():
    bs = wsd_budgets(1000, [40, 10, 20, 10], tokens_per_step=100, decay_fraction=0.25)
    assert [b.tpp for b in bs] == [10, 20, 40] and [b.total_steps for b in bs] == [100, 200, 400]
    assert [b.total_steps - b.decay_start for b in bs] == [25, 50, 100]
    assert steps_for(bs) == 300 + 25 + 50 + 100


def test_branches_end_annealed_at_each_budget_and_the_stable_run_goes_on():
    shape = LMShape(vocab_size=64, d_model=16, n_layers=1, n_heads=2, context=8)
    tokens = torch.randint(0, 64, (5000,))
    trainer = Trainer(build_lm(shape, seed=0),
                      TrainConfig(lr=1e-2, schedule=Schedule("wsd", 2), seed=0),
                      RandomWindows(tokens, 4, 8))
    bs = wsd_budgets(100, [4, 8], tokens_per_step=32, decay_fraction=0.5)  # 12 and 25 steps
    seen = [(b.total_steps, branch.step, branch.cfg.schedule(branch.step - 1))
            for b, branch in annealed_branches(trainer, bs)]
    assert [s[0] for s in seen] == [s[1] for s in seen] == [12, 25]
    assert all(last_lr == 0.0 for *_, last_lr in seen)  # each branch's last update is fully decayed
    # the stable trajectory stopped where the last decay began
    assert trainer.step == bs[-1].decay_start
    assert trainer.cfg.schedule.decay_start is None  # and was never decayed itself
