"""nblib.train.unlearning: gradient ascent through the Trainer."""

import copy

import pytest
import torch
import torch.nn.functional as F

from nblib.eval.extraction import sequence_losses
from nblib.models.lm import LMShape, build_lm
from nblib.train.unlearning import ascent_config, ascent_loss, gradient_ascent

SHAPE = LMShape(vocab_size=40, d_model=16, n_layers=2, n_heads=2, context=12, mlp_ratio=6.0)


def forget_set():
    return torch.randint(0, 40, (6, 13), generator=torch.Generator().manual_seed(0))


def hand_written_ascent(model, forget, steps, lr, batch_size, seed):
    """Notebook 15's own loop before the Trainer: the reference the Trainer must reproduce."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    for _ in range(steps):
        batch = forget[torch.randint(0, len(forget), (batch_size,), generator=gen)]
        logits = model(input_ids=batch[:, :-1]).logits
        loss = -F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return model


def test_the_trainer_reproduces_the_hand_written_loop_bit_for_bit():
    model, forget = build_lm(SHAPE, seed=1), forget_set()
    reference = hand_written_ascent(copy.deepcopy(model), forget, 5, 1e-2, 4, seed=3)
    states = []

    def keep(m):
        states.append(copy.deepcopy(m.state_dict()))
        return {}

    gradient_ascent(model, forget, [2, 5], lr=1e-2, batch_size=4, seed=3, measure=keep)
    for name, value in reference.state_dict().items():
        assert torch.equal(states[1][name], value), name


def test_ascent_raises_the_forget_loss_on_a_copy_and_measures_each_strength():
    model, forget = build_lm(SHAPE, seed=0), forget_set()
    before = sequence_losses(model, forget).mean().item()
    original = copy.deepcopy(model.state_dict())
    rows = gradient_ascent(model, forget, [4, 1], lr=1e-2, batch_size=4, seed=0,
                           measure=lambda m: {"loss": sequence_losses(m, forget).mean().item()})
    assert [r["strength"] for r in rows] == [1, 4]  # cumulative, in increasing order
    assert before < rows[0]["loss"] < rows[1]["loss"]
    assert all(torch.equal(v, original[k]) for k, v in model.state_dict().items())


def test_ascent_loss_is_minus_the_lm_loss_and_the_optimiser_has_no_decay_or_clip():
    model, forget = build_lm(SHAPE, seed=0), forget_set()
    batch = (forget[:, :-1], forget[:, 1:])
    loss = ascent_loss()(model, batch, 0)
    logits = model(input_ids=batch[0]).logits
    assert loss.item() == pytest.approx(-F.cross_entropy(logits.flatten(0, 1),
                                                          batch[1].flatten()).item())
    cfg = ascent_config(1e-3, seed=2)
    assert (cfg.weight_decay, cfg.grad_clip, cfg.beta1, cfg.beta2, cfg.seed) == (0.0, None, 0.9,
                                                                                 0.999, 2)
    assert cfg.schedule(0) == cfg.schedule(100) == 1.0
