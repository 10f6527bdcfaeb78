"""nblib.train.objectives: next-token loss and answer masking."""

import pytest
import torch
import torch.nn.functional as F

from nblib.eval.lm_loss import IGNORE
from nblib.train.objectives import answer_masked_targets, next_token_loss


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
