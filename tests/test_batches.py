"""nblib.train.batches: deterministic batch sources."""

import torch

from nblib.models.lm import LMShape
from nblib.models.sinks import SinkMLP, build_sink_lm, document_id, sink_masks
from nblib.train.batches import PassageBatches, RandomPassages, RandomWindows, TaskExamples


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


def test_hybrid_batches_mix_teacherless_rows_with_the_same_targets():
    from nblib.data.tasks import creativity as ct
    from nblib.eval.lm_loss import IGNORE
    from nblib.train.batches import HybridBatches

    data = ct.split(ct.Sibling(2, 4), 20, seed=0, hash_lengths=(3,))
    ids, mask = ct.encode(data.vocab, data.train)
    dummy = data.vocab.index[ct.DUMMY]
    ntp = HybridBatches(ids, mask, dummy, 64, 0.0)(torch.Generator().manual_seed(0))
    mixed = HybridBatches(ids, mask, dummy, 64, 0.5)(torch.Generator().manual_seed(0))
    assert torch.equal(ntp[1], mixed[1])  # same rows, same targets
    teach = (mixed[0] == dummy).any(1)
    assert 0 < teach.sum() < 64 and not (ntp[0] == dummy).any()
    assert ((mixed[0][teach] == dummy) == (mixed[1][teach] != IGNORE)[:, :]).sum() > 0
    assert (mixed[0][teach][:, :4] == ntp[0][teach][:, :4]).all()  # hash and query kept


def test_passage_batches_are_consecutive_and_wrap_around():
    seqs = torch.arange(5 * 4).view(5, 4)  # five passages of 4 tokens
    source = PassageBatches(seqs, batch_size=2)
    firsts = [source(torch.Generator())[0][:, 0].tolist() for _ in range(3)]
    assert firsts == [[0, 4], [8, 12], [16, 0]]  # rows 0-1, 2-3, then 4 and back to 0
    x, y = PassageBatches(seqs, 3)(torch.Generator())
    assert torch.equal(x, seqs[:3, :-1]) and torch.equal(y, seqs[:3, 1:])


def test_passage_batches_set_each_documents_own_sink_mask():
    shape = LMShape(vocab_size=40, d_model=16, n_layers=1, n_heads=2, context=8, mlp_ratio=6.0)
    model = build_sink_lm(shape, n_sink=16)
    seqs = torch.randint(0, 40, (10, 9), generator=torch.Generator().manual_seed(0))
    x, y = PassageBatches(seqs, 4, model, n_sink=16, n_active=4)(torch.Generator())
    assert torch.equal(x[:, 1:], y[:, :-1])
    mlp = next(m for m in model.modules() if isinstance(m, SinkMLP))
    assert torch.equal(mlp.sink_mask, sink_masks([document_id(s) for s in seqs[:4]], 16, 4))


def test_random_passages_draw_whole_passages_reproducibly():
    seqs = torch.arange(6 * 5).view(6, 5)
    source = RandomPassages(seqs, batch_size=7)
    x, y = source(torch.Generator().manual_seed(3))
    assert x.shape == y.shape == (7, 4) and torch.equal(y, x + 1)
    rows = torch.randint(0, 6, (7,), generator=torch.Generator().manual_seed(3))
    assert torch.equal(x, seqs[rows, :-1])  # one randint draw of the generator per batch
