"""Memorisation probes: per-sequence loss and verbatim extraction by greedy continuation."""

from __future__ import annotations

import torch

from nblib.eval.lm_loss import token_losses


@torch.no_grad()
def sequence_losses(model, sequences: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Mean next-token loss (nats/token) of each sequence (n, length): (n,)."""
    was_training = model.training
    model.eval()
    out = torch.cat(
        [token_losses(model, chunk).mean(1).cpu() for chunk in sequences.split(batch_size)]
    )
    model.train(was_training)
    return out


@torch.no_grad()
def greedy_continue(model, prefixes: torch.Tensor, n_tokens: int) -> torch.Tensor:
    """Greedy (argmax) continuation of each prefix (n, p) by `n_tokens` tokens: (n, n_tokens).
    No KV cache: the models here are tiny and the continuations short."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    sequence = prefixes.to(device)
    for _ in range(n_tokens):
        next_token = model(input_ids=sequence).logits[:, -1].argmax(-1)  # (n,)
        sequence = torch.cat([sequence, next_token[:, None]], dim=1)
    model.train(was_training)
    return sequence[:, prefixes.shape[1]:].cpu()


def extraction(model, sequences: torch.Tensor, prefix: int,
               n_tokens: int) -> dict[str, torch.Tensor]:
    """Does a greedy continuation of the first `prefix` tokens reproduce the next `n_tokens`?

    Returns per sequence: `exact` (all n_tokens reproduced, bool) and `matched` (tokens reproduced
    before the first error)."""
    if prefix + n_tokens > sequences.shape[1]:
        raise ValueError(f"prefix {prefix} + n_tokens {n_tokens} exceeds the sequence length "
                         f"{sequences.shape[1]}")
    target = sequences[:, prefix:prefix + n_tokens]  # (n, n_tokens)
    produced = greedy_continue(model, sequences[:, :prefix], n_tokens)  # (n, n_tokens)
    correct = (produced == target).int()  # (n, n_tokens)
    matched = correct.cumprod(dim=1).sum(dim=1)  # (n,)
    return {"exact": matched == n_tokens, "matched": matched}
