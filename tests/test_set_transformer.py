import pytest
import torch

from nblib.models.set_transformer import SequenceTransformer


def test_shapes_and_flops():
    m = SequenceTransformer(in_dim=3, d_model=8, n_layers=2, n_heads=2)
    assert m(torch.randn(4, 5, 3)).shape == (4, 1)
    assert m.flops_per_example(5) > m.flops_per_example(4) > 0
    with pytest.raises(ValueError, match="divisible"):
        SequenceTransformer(3, 10, 1, 3)


def test_causal_reads_the_whole_context_but_no_future():
    torch.manual_seed(0)
    m = SequenceTransformer(in_dim=3, d_model=8, n_layers=2, n_heads=2).eval()
    z = torch.randn(1, 6, 3)
    z2 = z.clone()
    z2[0, 0] += 1.0  # the first context row reaches the read-out at the last position
    assert not torch.allclose(m(z), m(z2))
    h1 = m.blocks(m.embed(z))
    h2 = m.blocks(m.embed(torch.cat([z[:, :3], torch.randn(1, 3, 3)], 1)))
    assert torch.allclose(h1[:, :3], h2[:, :3], atol=1e-6)  # position 2 never sees rows 3..5


def test_one_layer_is_blind_to_context_order():
    """No positional embeddings: with one block the read-out sees the context as a set."""
    torch.manual_seed(0)
    m = SequenceTransformer(in_dim=3, d_model=8, n_layers=1, n_heads=2).eval()
    z = torch.randn(2, 6, 3)
    perm = torch.cat([torch.randperm(5), torch.tensor([5])])
    assert torch.allclose(m(z), m(z[:, perm]), atol=1e-5)
