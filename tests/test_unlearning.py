"""nblib.train.unlearning: gradient ascent, GradDiff and NPO through the Trainer."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from nblib.eval.extraction import sequence_losses
from nblib.models.lm import LMShape, build_lm
from nblib.train.trainer import lm_loss
from nblib.train.unlearning import (
    METHODS,
    ForgetRetainBatches,
    ascent_config,
    ascent_loss,
    graddiff_loss,
    gradient_ascent,
    npo_loss,
    reference_logp,
    unlearn,
)

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


# --- GradDiff and NPO ------------------------------------------------------------------------
def retain_set():
    return torch.randint(0, 40, (8, 13), generator=torch.Generator().manual_seed(1))


def test_npo_starts_at_its_known_value_and_pushes_the_forget_likelihood_down():
    model, forget = build_lm(SHAPE, seed=0), forget_set()
    ref = reference_logp(model, forget)
    batch = (forget[:, :-1], forget[:, 1:], ref)
    model.eval()  # the reference was taken in eval mode
    assert npo_loss(beta=0.1)(model, batch, 0).item() == pytest.approx(2 / 0.1 * math.log(2),
                                                                       rel=1e-5)
    manual = -F.cross_entropy(model(input_ids=forget[:, :-1]).logits.flatten(0, 1),
                              forget[:, 1:].flatten(), reduction="none").view(6, 12).sum(1)
    assert torch.allclose(ref, manual.detach(), atol=1e-4)
    rows = unlearn(model, forget, [3], method="NPO", lr=1e-2, batch_size=4, seed=0,
                   measure=lambda m: {"logp": reference_logp(m, forget).mean().item()})
    assert rows[0]["logp"] < ref.mean().item()


def test_graddiff_batches_carry_a_retain_batch_and_the_loss_combines_both():
    model, forget, retain = build_lm(SHAPE, seed=0), forget_set(), retain_set()
    batch = ForgetRetainBatches(forget, 4, retain)(torch.Generator().manual_seed(0))
    assert [t.shape for t in batch] == [(4, 12)] * 4
    descend = lm_loss()
    expected = -descend(model, batch[:2], 0) + 2.0 * descend(model, batch[2:], 0)
    assert graddiff_loss(2.0)(model, batch, 0).item() == pytest.approx(expected.item())
    with_ref = ForgetRetainBatches(forget, 4, retain, torch.arange(6.0))
    got = with_ref(torch.Generator().manual_seed(0))
    assert len(got) == 5 and torch.equal(got[0], batch[0])  # the same forget draw first
    assert set(got[2].tolist()) <= set(range(6))


def test_the_retain_term_protects_the_retained_passages():
    """At equal steps, GradDiff and NPO+RT leave the retain loss lower than their retain-free
    counterparts (gradient ascent, NPO), on a copy of the model."""
    model, forget, retain = build_lm(SHAPE, seed=0), forget_set(), retain_set()
    original = copy.deepcopy(model.state_dict())

    def retain_loss(m):
        return {"retain": sequence_losses(m, retain).mean().item()}

    got = {method: unlearn(model, forget, [15], method=method, lr=1e-2, batch_size=4, seed=0,
                           retain=retain, measure=retain_loss)[0]["retain"]
           for method in METHODS}
    assert got["GradDiff"] < got["gradient ascent"]
    assert got["NPO+RT"] < got["NPO"]
    assert all(torch.equal(v, original[k]) for k, v in model.state_dict().items())


def test_unlearn_rejects_unknown_methods_and_missing_retain_sets():
    model, forget = build_lm(SHAPE, seed=0), forget_set()
    with pytest.raises(ValueError, match="method"):
        unlearn(model, forget, [1], method="RMU", lr=1e-3, batch_size=2, seed=0, measure=dict)
    with pytest.raises(ValueError, match="retain"):
        unlearn(model, forget, [1], method="GradDiff", lr=1e-3, batch_size=2, seed=0,
                measure=dict)
