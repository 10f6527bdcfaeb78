"""GRPO's pieces (`nblib.train.grpo`) on hand-built cases: advantages, the loss's
normalisations, the clip, the KL and the sign of one step's gradient."""

import pytest
import torch

from nblib.config import ConfigError
from nblib.data.tasks.modexp import ModExpTask
from nblib.models.lm import LMShape, build_lm
from nblib.train import grpo

TASK = ModExpTask(train_b=(1, 4), test_b=(5, 6), max_len=40)


def test_advantages_are_zero_when_every_reward_in_a_group_is_equal():
    rewards = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    for kind in ("grpo", "mean"):
        adv = grpo.group_advantages(rewards, kind)
        assert torch.equal(adv[:2], torch.zeros(2, 3))
        assert adv[2, 0] > 0 > adv[2, 1] and adv[2, 1] == adv[2, 2]
        assert torch.allclose(adv.sum(1), torch.zeros(3), atol=1e-6)
    centred = torch.tensor([2.0, -1.0, -1.0]) / 3
    assert torch.allclose(grpo.group_advantages(rewards, "mean")[2], centred)
    assert torch.allclose(grpo.group_advantages(rewards)[2],
                          centred / (torch.tensor([1.0, 0, 0]).std(unbiased=False) + grpo.EPS))
    with pytest.raises(ConfigError, match="advantage='ppo'"):
        grpo.group_advantages(rewards, "ppo")


def test_normalisations_weigh_tokens_as_documented():
    logp = torch.zeros(2, 4, requires_grad=True)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    adv = torch.tensor([1.0, 1.0])
    grads = {}
    for norm in ("constant", "sequence", "token"):
        logp.grad = None
        grpo.policy_loss(logp, logp.detach(), adv, mask, norm).backward()
        grads[norm] = logp.grad.clone()
    assert torch.allclose(grads["constant"], -mask.float() / 8)  # every token alike
    assert torch.allclose(grads["sequence"][0, :2], torch.full((2,), -1 / 4))  # short: larger
    assert torch.allclose(grads["sequence"][1], torch.full((4,), -1 / 8))
    assert torch.allclose(grads["token"], -mask.float() / 6)
    assert (grads["constant"][~mask] == 0).all()
    with pytest.raises(ConfigError, match="loss_norm='mean'"):
        grpo.policy_loss(logp, logp.detach(), adv, mask, "mean")


def test_clip_stops_the_gradient_beyond_the_trust_region():
    logp = torch.tensor([[0.5]], requires_grad=True)  # ratio e^0.5 > 1.2
    grpo.policy_loss(logp, torch.zeros(1, 1), torch.tensor([1.0]),
                     torch.ones(1, 1, dtype=torch.bool)).backward()
    assert logp.grad.abs().sum() == 0


def test_the_kl_penalty_is_zero_at_the_reference_and_positive_away_from_it():
    logp = torch.log(torch.tensor([[0.5, 0.25]]))
    mask, zero = torch.ones(1, 2, dtype=torch.bool), torch.zeros(1)
    same = grpo.policy_loss(logp, logp, zero, mask, ref_logp=logp, kl_coef=1.0)
    away = grpo.policy_loss(logp, logp, zero, mask, ref_logp=logp - 0.3, kl_coef=1.0)
    assert same.item() == 0.0 and away.item() > 0
    with pytest.raises(ValueError, match="ref_logp"):
        grpo.policy_loss(logp, logp, zero, mask, kl_coef=1.0)


def test_a_step_pushes_the_rewarded_completion_up_and_the_other_down():
    model = build_lm(LMShape(vocab_size=TASK.vocab.size, d_model=16, n_layers=1, n_heads=2,
                             context=40), seed=0)
    problem = (3, 2, 31)
    good = TASK.completion(problem, "binary")  # correct: reward 1
    bad = TASK.completion(problem, "linear")[:-3] + [0, 0, TASK.vocab.stop_id]  # wrong answer
    width = max(len(good), len(bad))
    rows = [x + [TASK.vocab.pad_id] * (width - len(x)) for x in (good, bad)]
    seqs = torch.tensor([TASK.prompt(problem) + r for r in rows])  # (2, T)
    mask = torch.tensor([[j < len(x) for j in range(width)] for x in (good, bad)])  # (2, Tc)
    rewards = torch.tensor([[TASK.reward(problem, good), TASK.reward(problem, bad)]])
    assert rewards.tolist() == [[1.0, 0.0]]
    adv = grpo.group_advantages(rewards).reshape(-1)  # (2,)

    def seq_logp():
        with torch.no_grad():
            return (grpo.completion_logprobs(model, seqs, TASK.prompt_len) * mask).sum(1)

    before = seq_logp()
    loss_fn = grpo.grpo_loss_fn(TASK.prompt_len, "constant")
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    loss_fn(model, (seqs, mask, adv, rewards[0]), 0).backward()
    opt.step()
    after = seq_logp()
    assert after[0] > before[0] and after[1] < before[1]
