"""In-context linear regression (Garg et al. 2022; Raventós et al. 2023; Tong & Pehlevan 2024).

Each sequence has its own task vector w: x_i ~ N(0, I_d), y_i = w.x_i + eps, eps ~ N(0, noise_var).
w ~ N(0, I/d) fresh per sequence (the "true" distribution), or drawn uniformly from a fixed pool of
k vectors (a finite pretraining pool). The model sees rows [x_i, y_i], i = 1..L, with the last
row's y set to 0, and predicts that y (the query).

Two Bayes baselines on the same sequences:
- ridge: the posterior mean under the true prior, w = (X^T X + d * noise_var * I)^-1 X^T y,
  optimal on the true distribution;
- dMMSE: the posterior mean over the k pool vectors, optimal on the pool distribution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class RegressionTask:
    """A distribution over in-context regression sequences."""

    dim: int  # d, the dimension of x and w
    context_len: int  # L, points per sequence, the query included (it is the last)
    noise_var: float = 0.05  # sigma^2 of the label noise
    pool_size: int | None = None  # k task vectors in the pool; None: a fresh w per sequence
    pool_seed: int = 0  # seed of the pool's task vectors

    def pool(self, device: torch.device | str = "cpu") -> Tensor | None:
        """The k task vectors, (k, d), fixed by `pool_seed`; None for the true distribution."""
        if self.pool_size is None:
            return None
        g = torch.Generator().manual_seed(self.pool_seed)
        return (torch.randn(self.pool_size, self.dim, generator=g) / math.sqrt(self.dim)).to(device)

    def sample(self, n: int, generator: torch.Generator, pool: Tensor | None = None,
               device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
        """n sequences: inputs (n, L, d+1) with the query's y zeroed, and targets (n,).

        Sampling runs on the generator's device (CPU here); pass `pool` to avoid rebuilding it.
        """
        d, L = self.dim, self.context_len
        x = torch.randn(n, L, d, generator=generator)  # (n, L, d)
        if self.pool_size is None:
            w = torch.randn(n, d, generator=generator) / math.sqrt(d)  # (n, d)
        else:
            pool = self.pool() if pool is None else pool.cpu()
            w = pool[torch.randint(len(pool), (n,), generator=generator)]  # (n, d)
        noise = math.sqrt(self.noise_var) * torch.randn(n, L, generator=generator)
        y = torch.einsum("nld,nd->nl", x, w) + noise  # (n, L)
        z = torch.cat([x, y.unsqueeze(-1)], dim=-1)  # (n, L, d+1)
        z[:, -1, -1] = 0.0  # hide the query's label
        return z.to(device), y[:, -1].to(device)


def split(z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Context inputs (n, L-1, d), context labels (n, L-1) and query input (n, d)."""
    return z[:, :-1, :-1], z[:, :-1, -1], z[:, -1, :-1]


def ridge_predict(z: Tensor, noise_var: float) -> Tensor:
    """Posterior-mean prediction under w ~ N(0, I/d): (n,)."""
    X, y, xq = split(z)
    d = X.shape[-1]
    gram = X.transpose(1, 2) @ X + d * noise_var * torch.eye(d, device=z.device)  # (n, d, d)
    w = torch.linalg.solve(gram, (X.transpose(1, 2) @ y.unsqueeze(-1))).squeeze(-1)  # (n, d)
    return (w * xq).sum(-1)


def dmmse_predict(z: Tensor, pool: Tensor, noise_var: float) -> Tensor:
    """Posterior-mean prediction with w uniform over the pool's k vectors: (n,)."""
    X, y, xq = split(z)
    resid = y.unsqueeze(1) - torch.einsum("nld,kd->nkl", X, pool)  # (n, k, L-1)
    log_post = -(resid**2).sum(-1) / (2 * noise_var)  # (n, k)
    w = torch.softmax(log_post, dim=-1) @ pool  # (n, d)
    return (w * xq).sum(-1)
