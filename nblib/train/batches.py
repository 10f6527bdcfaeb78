"""Batch sources for the Trainer: callables that draw (inputs, targets) with a torch.Generator.

Drawing only from the generator passed in keeps training deterministic for a seed and makes
resuming exact (the generator's state is saved with each checkpoint)."""

from __future__ import annotations

import torch

from nblib.eval.lm_loss import as_tensor
from nblib.train.objectives import answer_masked_targets


class RandomWindows:
    """Uniformly placed windows of a token stream (language-model pretraining and fine-tuning)."""

    def __init__(self, tokens, batch_size: int, context: int):
        self.tokens = as_tensor(tokens)  # (n_tokens,) int64
        if len(self.tokens) <= context + 1:
            raise ValueError(f"a stream of {len(self.tokens)} tokens is too short for context {context}")
        self.batch_size, self.context = batch_size, context
        self.offsets = torch.arange(context + 1)  # (context + 1,)

    def __call__(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        starts = torch.randint(0, len(self.tokens) - self.context - 1, (self.batch_size,),
                               generator=generator)  # (batch,)
        window = self.tokens[starts[:, None] + self.offsets]  # (batch, context + 1)
        return window[:, :-1], window[:, 1:]


class TaskExamples:
    """Rows of a fixed set of task sequences, with the loss on answer tokens only."""

    def __init__(self, sequences: torch.Tensor, answer_mask: torch.Tensor, batch_size: int):
        self.inputs, self.targets = answer_masked_targets(sequences, answer_mask)  # (n, seq) each
        self.batch_size = batch_size

    def __call__(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.randint(0, len(self.inputs), (self.batch_size,), generator=generator)
        return self.inputs[rows], self.targets[rows]
