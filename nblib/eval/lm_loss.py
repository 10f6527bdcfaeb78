"""Held-out cross-entropy of a causal LM on a token stream, over a fixed set of windows."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

IGNORE = -100  # target id that the loss skips (answer-masked losses, padding)


def as_tensor(tokens) -> torch.Tensor:
    """A 1-D int64 tensor of a token stream (numpy array, memmap or tensor)."""
    if isinstance(tokens, torch.Tensor):
        return tokens.long()
    return torch.from_numpy(np.asarray(tokens, dtype=np.int64))


def eval_windows(tokens, context: int, n_windows: int) -> torch.Tensor:
    """`n_windows` evenly spaced, non-overlapping windows of `context + 1` tokens: (n, context + 1).

    Deterministic (no sampling), so every checkpoint is scored on exactly the same text."""
    tokens = as_tensor(tokens)
    available = (len(tokens) - 1) // context
    if available < 1:
        raise ValueError(f"a stream of {len(tokens)} tokens has no window of {context + 1}")
    n = min(n_windows, available)
    starts = torch.linspace(0, len(tokens) - context - 1, n).long()  # (n,)
    return tokens[starts[:, None] + torch.arange(context + 1)]  # (n, context + 1)


def token_losses(model, windows: torch.Tensor) -> torch.Tensor:
    """Per-token cross-entropy (nats) of predicting windows[:, 1:]
    from windows[:, :-1]: (n, context)."""
    device = next(model.parameters()).device
    windows = windows.to(device)
    logits = model(input_ids=windows[:, :-1]).logits  # (n, context, vocab)
    # cross_entropy wants the classes second: (n, vocab, context) against (n, context)
    return F.cross_entropy(logits.transpose(1, 2).float(), windows[:, 1:], reduction="none")


@torch.no_grad()
def mean_loss(model, windows: torch.Tensor, batch_size: int = 64) -> float:
    """Mean next-token cross-entropy (nats/token) of `model` over `windows` (n, context + 1)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for chunk in windows.split(batch_size):
        losses = token_losses(model, chunk)  # (b, context)
        total += losses.sum().item()
        count += losses.numel()
    model.train(was_training)
    return total / count
