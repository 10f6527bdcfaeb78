"""Notebook 08's GRPO batches: groups of one prompt, zero-sum advantages, a logged step and a
prompt stream that ignores the sampler's seed."""

import torch

from nblib.data.tasks.modexp import ModExpTask
from nblib.experiments.more_is_different.rollouts import Rollouts
from nblib.models.lm import LMShape, build_lm

TASK = ModExpTask(train_b=(1, 4), test_b=(5, 6), max_len=40)


def test_rollouts_return_groups_and_log_the_step():
    model = build_lm(LMShape(vocab_size=TASK.vocab.size, d_model=16, n_layers=1, n_heads=2,
                             context=TASK.max_len), seed=0)
    rollouts = Rollouts(TASK, model, prompts=3, group=4, prompt_seed=1)
    seqs, mask, adv, rewards = rollouts(torch.Generator().manual_seed(0))
    n_new = TASK.max_completion_len("train")
    assert seqs.shape == (12, TASK.prompt_len + n_new) and mask.shape == (12, n_new)
    assert adv.shape == rewards.shape == (12,)
    assert torch.allclose(adv.view(3, 4).sum(1), torch.zeros(3), atol=1e-5)
    assert torch.equal(seqs[::4, :TASK.prompt_len], seqs[1::4, :TASK.prompt_len])  # groups
    row = rollouts.log[-1]
    assert abs(row["share_linear"] + row["share_binary"] + row["share_other"] - 1) < 1e-9
    again = Rollouts(TASK, model, prompts=3, group=4, prompt_seed=1)
    assert torch.equal(again(torch.Generator().manual_seed(5))[0][:, :TASK.prompt_len],
                       seqs[:, :TASK.prompt_len])  # the prompt stream ignores the sampler's seed
