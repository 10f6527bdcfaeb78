"""nblib.train.batches: deterministic batch sources."""

import torch

from nblib.train.batches import RandomWindows, TaskExamples


def test_windows_are_shifted_slices_and_deterministic():
    tokens = torch.arange(1000)
    source = RandomWindows(tokens.numpy(), batch_size=4, context=8)
    x, y = source(torch.Generator().manual_seed(1))
    assert x.shape == y.shape == (4, 8) and x.dtype == torch.int64
    assert torch.equal(y, x + 1)  # the stream is 0..999, so the next token is +1
    x2, _ = source(torch.Generator().manual_seed(1))
    assert torch.equal(x, x2)


def test_task_examples_draw_rows_with_masked_targets():
    seqs = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]])
    mask = torch.tensor([[0, 0, 1, 1], [0, 0, 0, 1]], dtype=torch.bool)
    x, y = TaskExamples(seqs, mask, batch_size=6)(torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (6, 3)
    for yi in y:
        assert yi.tolist() in ([-100, 3, 4], [-100, -100, 8])
