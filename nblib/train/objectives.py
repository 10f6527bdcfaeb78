"""Training objectives on logits and targets; a target of IGNORE (-100) contributes nothing."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nblib.eval.lm_loss import IGNORE


def next_token_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the targets that are not IGNORE.

    logits: (batch, seq, vocab); targets: (batch, seq), already shifted (targets[:, t] is the
    token that follows inputs[:, t])."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)


def answer_masked_targets(sequences: torch.Tensor, answer_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets for a loss on the answer tokens only.

    sequences: (batch, seq + 1) token ids (prompt, answer, padding); answer_mask: (batch, seq + 1),
    True where the token is part of the answer. Returns inputs (batch, seq) and targets
    (batch, seq) in which every position whose next token is not an answer token is IGNORE."""
    if sequences.shape != answer_mask.shape:
        raise ValueError(f"sequences {tuple(sequences.shape)} and answer_mask "
                         f"{tuple(answer_mask.shape)} differ in shape")
    inputs, targets = sequences[:, :-1], sequences[:, 1:].clone()
    targets[~answer_mask[:, 1:].bool()] = IGNORE
    return inputs, targets
