"""nblib.eval.lm_loss: fixed evaluation windows and mean held-out loss."""

import math

import pytest
import torch

from nblib.eval.lm_loss import eval_windows, mean_loss, token_losses
from nblib.models.lm import LMShape, build_lm


def test_windows_are_evenly_spaced_and_fixed():
    w = eval_windows(torch.arange(101), context=10, n_windows=5)
    assert w.shape == (5, 11) and w[0, 0] == 0 and w[-1, -1] == 100
    assert torch.equal(w, eval_windows(torch.arange(101), 10, 5))
    assert eval_windows(torch.arange(101), 10, 1000).shape[0] == 10  # no more than fit
    with pytest.raises(ValueError, match="no window"):
        eval_windows(torch.arange(5), 10, 3)


def test_untrained_model_scores_about_log_vocab_and_batching_does_not_matter():
    model = build_lm(LMShape(vocab_size=64, d_model=16, n_layers=1, n_heads=2, context=16))
    w = eval_windows(torch.randint(0, 64, (2000,)), 16, 20)
    loss = mean_loss(model, w, batch_size=7)
    assert loss == pytest.approx(mean_loss(model, w, batch_size=20), rel=1e-5)
    assert abs(loss - math.log(64)) < 0.3
    assert token_losses(model, w[:3]).shape == (3, 16)
    assert model.training  # restored after evaluation
