"""nblib.eval.extraction: per-sequence loss and greedy extraction on a model that memorised."""

import torch

from nblib.eval.extraction import extraction, greedy_continue, sequence_losses
from nblib.models.lm import LMShape, build_lm
from nblib.train.batches import TaskExamples
from nblib.train.trainer import TrainConfig, Trainer


def memorised_model():
    """A tiny LM trained to memorise two fixed sequences."""
    torch.manual_seed(0)
    seqs = torch.randint(1, 30, (2, 12))
    model = build_lm(LMShape(vocab_size=30, d_model=32, n_layers=1, n_heads=2, context=12))
    Trainer(model, TrainConfig(lr=1e-2, grad_clip=None),
            TaskExamples(seqs, torch.ones_like(seqs, dtype=torch.bool), 2)).fit(150)
    return model, seqs


def test_memorised_sequences_are_extracted_and_fresh_ones_are_not():
    model, seqs = memorised_model()
    fresh = torch.randint(1, 30, (2, 12), generator=torch.Generator().manual_seed(9))
    assert (sequence_losses(model, seqs) < 0.2).all()
    assert (sequence_losses(model, fresh) > 1.0).all()
    got = extraction(model, seqs, prefix=4, n_tokens=8)
    assert got["exact"].all() and (got["matched"] == 8).all()
    assert not extraction(model, fresh, 4, 8)["exact"].any()


def test_greedy_continue_shapes_and_errors():
    model, seqs = memorised_model()
    assert greedy_continue(model, seqs[:, :3], 5).shape == (2, 5)
    try:
        extraction(model, seqs, prefix=8, n_tokens=8)
    except ValueError as err:
        assert "exceeds" in str(err)
    else:
        raise AssertionError("a too-long continuation must be refused")
