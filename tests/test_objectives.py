"""nblib.train.objectives: next-token loss, answer masking, the k-shot loss, label smoothing and
distillation."""

import pytest
import torch
import torch.nn.functional as F

from nblib.eval.lm_loss import IGNORE
from nblib.train.objectives import (
    answer_masked_targets,
    distillation_loss,
    kshot_loss,
    label_smoothed_loss,
    next_token_loss,
)


def test_masked_positions_do_not_count():
    logits = torch.randn(2, 5, 7)
    targets = torch.randint(0, 7, (2, 5))
    masked = targets.clone()
    masked[:, :3] = IGNORE
    expected = F.cross_entropy(logits[:, 3:].reshape(-1, 7), targets[:, 3:].reshape(-1))
    assert next_token_loss(logits, masked) == pytest.approx(expected.item())


def test_answer_masking_keeps_only_answer_targets():
    seq = torch.tensor([[5, 6, 7, 8, 9, 0]])  # prompt 5 6 7, answer 8 9, pad 0
    answer = torch.tensor([[0, 0, 0, 1, 1, 0]], dtype=torch.bool)
    inputs, targets = answer_masked_targets(seq, answer)
    assert inputs.tolist() == [[5, 6, 7, 8, 9]]
    assert targets.tolist() == [[IGNORE, IGNORE, 8, 9, IGNORE]]
    with pytest.raises(ValueError, match="shape"):
        answer_masked_targets(seq, answer[:, :3])


def test_kshot_loss_is_next_token_loss_at_k1_and_matches_its_formula():
    torch.manual_seed(0)
    logits, targets = torch.randn(2, 5, 7), torch.randint(0, 7, (2, 5))
    targets[0, 0] = IGNORE
    assert torch.allclose(kshot_loss(logits, targets, 1), next_token_loss(logits, targets))
    p = (
        torch.softmax(logits, -1)
        .gather(-1, targets.clamp(min=0).unsqueeze(-1))
        .squeeze(-1)[targets != IGNORE]
    )
    for k in (2, 4, 16):
        expected = -torch.log(1 - (1 - p) ** k).mean()
        assert torch.allclose(kshot_loss(logits, targets, k), expected, atol=1e-5)
    assert (
        kshot_loss(logits, targets, 16)
        < kshot_loss(logits, targets, 4)
        < kshot_loss(logits, targets, 1)
    )


def test_kshot_loss_stays_finite_for_confident_models():
    logits = torch.full((1, 2, 3), -50.0)
    logits[0, :, 1] = 50.0  # p(target) = 1 up to float precision
    loss = kshot_loss(logits.requires_grad_(), torch.tensor([[1, 1]]), 8)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all() and loss < 1e-5
    with pytest.raises(ValueError, match="positive"):
        kshot_loss(logits, torch.tensor([[1, 1]]), 0)


def test_distillation_loss_interpolates_between_kl_and_cross_entropy():
    torch.manual_seed(1)
    student, teacher, targets = (
        torch.randn(2, 4, 6),
        torch.randn(2, 4, 6),
        torch.randint(0, 6, (2, 4)),
    )
    assert torch.allclose(
        distillation_loss(student, teacher, targets, 0.0), next_token_loss(student, targets)
    )
    assert distillation_loss(teacher, teacher, targets, 1.0).abs() < 1e-6  # KL of a model to itself
    kl = torch.nn.functional.kl_div(torch.log_softmax(student / 2, -1).flatten(0, 1),
                                    torch.log_softmax(teacher / 2, -1).flatten(0, 1),
                                    log_target=True, reduction="batchmean")
    assert torch.allclose(distillation_loss(student, teacher, targets, 1.0, temperature=2.0),
                          4 * kl, atol=1e-5)
    mixed = distillation_loss(student, teacher, targets, 0.3)
    ends = 0.3 * distillation_loss(student, teacher, targets, 1.0) + 0.7 * next_token_loss(
        student, targets
    )
    assert torch.allclose(mixed, ends, atol=1e-6)
    with pytest.raises(ValueError, match="differ in shape"):
        distillation_loss(student, teacher[:, :3], targets, 0.5)


def test_teacherless_targets_hide_the_answer_from_the_inputs():
    from nblib.train.objectives import teacherless_targets

    seqs = torch.tensor([[5, 6, 7, 8, 9, 0]])  # prompt 5 6, answer 7 8 9, pad
    mask = torch.tensor([[False, False, True, True, True, False]])
    inputs, targets = teacherless_targets(seqs, mask, dummy_id=4)
    ntp_inputs, ntp_targets = answer_masked_targets(seqs, mask)
    assert inputs.tolist() == [[5, 6, 4, 4, 4]]  # answer tokens replaced by the dummy
    assert torch.equal(targets, ntp_targets) and targets.tolist() == [[IGNORE, 7, 8, 9, IGNORE]]
    assert torch.equal(ntp_inputs, seqs[:, :-1])


def test_label_smoothing_is_cross_entropy_against_a_mixed_target_and_ignores_masked_positions():
    torch.manual_seed(0)
    logits, targets = torch.randn(2, 3, 5), torch.randint(0, 5, (2, 3))
    targets[0, 0] = IGNORE
    plain = next_token_loss(logits, targets)
    assert torch.allclose(label_smoothed_loss(logits, targets, 0.0), plain)
    keep = targets != IGNORE
    log_p = torch.log_softmax(logits[keep], -1)  # (n, 5)
    target = 0.7 * F.one_hot(targets[keep], 5) + 0.3 / 5  # (n, 5) the smoothed target
    expected = -(target * log_p).sum(-1).mean()
    assert torch.allclose(label_smoothed_loss(logits, targets, 0.3), expected)
    with pytest.raises(ValueError, match="smoothing=1.0"):
        label_smoothed_loss(logits, targets, 1.0)
