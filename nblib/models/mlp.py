"""A plain MLP over a flattened input: [Linear, ReLU] x depth, then Linear."""

from __future__ import annotations

from torch import Tensor, nn


class MLP(nn.Module):
    """Flattens all but the batch dimension, so (B, L, C) sequences are read as one vector."""

    def __init__(self, in_dim: int, width: int, depth: int, out_dim: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(in_dim if i == 0 else width, width), nn.ReLU()]
        layers.append(nn.Linear(width if depth else in_dim, out_dim))
        self.net = nn.Sequential(nn.Flatten(), *layers)

    def forward(self, x: Tensor) -> Tensor:  # (B, ...) -> (B, out_dim)
        return self.net(x)

    def first_layer(self) -> Tensor:
        """Weights of the first Linear, (width, in_dim)."""
        return self.net[1].weight

    def flops_per_example(self) -> float:
        """Training FLOPs per example: 6 per weight (forward 2, backward 4)."""
        return 6.0 * sum(m.weight.numel() for m in self.net if isinstance(m, nn.Linear))
