import torch

from nblib.models.mlp import MLP


def test_flattens_and_counts():
    m = MLP(in_dim=12, width=8, depth=2)
    assert m(torch.randn(5, 4, 3)).shape == (5, 1)
    assert m.first_layer().shape == (8, 12)
    assert m.flops_per_example() == 6 * (12 * 8 + 8 * 8 + 8 * 1)


def test_one_step_reduces_loss():
    torch.manual_seed(0)
    m, x, y = MLP(6, 16, 1), torch.randn(64, 6), torch.randn(64, 1)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    before = ((m(x) - y) ** 2).mean()
    before.backward()
    opt.step()
    assert ((m(x) - y) ** 2).mean() < before
