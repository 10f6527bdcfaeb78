"""A small causal transformer over a sequence of real-valued rows, without positional embeddings.

As in Tong & Pehlevan's in-context regression runs: each row [x_i, y_i] is projected to d_model,
passes through pre-LayerNorm blocks with causal self-attention, and the last position is read out.
Without positional embeddings the model sees the context as a set (the causal mask aside).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class Block(nn.Module):
    """Pre-LN block: causal multi-head attention, then a GELU MLP, each with a residual."""

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: int = 2):
        super().__init__()
        self.n_heads = n_heads
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, mlp_ratio * d_model), nn.GELU(),
                                 nn.Linear(mlp_ratio * d_model, d_model))

    def forward(self, h: Tensor) -> Tensor:  # (B, T, C) -> (B, T, C)
        B, T, C = h.shape
        q, k, v = (
            self.qkv(self.ln1(h))
            .view(B, T, 3, self.n_heads, C // self.n_heads)
            .permute(2, 0, 3, 1, 4)
        )  # (B, nh, T, hs) each
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
        h = h + self.proj(att.transpose(1, 2).reshape(B, T, C))
        return h + self.mlp(self.ln2(h))


class SequenceTransformer(nn.Module):
    """Rows (B, T, in_dim) -> one prediction per sequence (B, out_dim), read at the last row."""

    def __init__(self, in_dim: int, d_model: int, n_layers: int, n_heads: int, out_dim: int = 1):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.embed = nn.Linear(in_dim, d_model)
        self.blocks = nn.Sequential(*[Block(d_model, n_heads) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, out_dim)
        self.d_model, self.n_layers = d_model, n_layers

    def forward(self, z: Tensor) -> Tensor:
        h = self.blocks(self.embed(z))  # (B, T, d_model)
        return self.head(self.ln_f(h[:, -1]))  # (B, out_dim)

    def flops_per_example(self, seq_len: int) -> float:
        """Training FLOPs per sequence: 6 per weight per row, plus
        attention's 12 * layers * T^2 * C."""
        n_weights = sum(m.weight.numel() for m in self.modules() if isinstance(m, nn.Linear))
        return 6.0 * n_weights * seq_len + 12.0 * self.n_layers * seq_len**2 * self.d_model
