"""Batch sources for the Trainer: callables that draw (inputs, targets) with a torch.Generator.

Drawing only from the generator passed in keeps training deterministic for a seed and makes
resuming exact (the generator's state is saved with each checkpoint)."""

from __future__ import annotations

import torch

from nblib.eval.lm_loss import as_tensor
from nblib.models.sinks import document_id, set_sink_masks, sink_masks
from nblib.train.objectives import answer_masked_targets, teacherless_targets


class RandomWindows:
    """Uniformly placed windows of a token stream (language-model pretraining and fine-tuning)."""

    def __init__(self, tokens, batch_size: int, context: int):
        self.tokens = as_tensor(tokens)  # (n_tokens,) int64
        if len(self.tokens) <= context + 1:
            raise ValueError(f"a stream of {len(self.tokens)} tokens is too short for "
                             f"context {context}")
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


class PassageBatches:
    """Consecutive batches of a fixed list of passages (n, context + 1), in its order, wrapping
    around; it ignores the generator (the order is the data order). For a sink model it sets each
    passage's sink mask (from the hash of its tokens) just before the Trainer's forward pass."""

    def __init__(self, sequences: torch.Tensor, batch_size: int, model=None, n_sink: int = 0,
                 n_active: int = 0):
        self.sequences, self.batch_size, self.position = sequences, batch_size, 0
        self.model, self.n_sink, self.n_active = model, n_sink, n_active

    def __call__(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.arange(self.position, self.position + self.batch_size) % len(self.sequences)
        self.position += self.batch_size
        batch = self.sequences[rows]  # (batch, context + 1)
        if self.model is not None and self.n_sink:
            ids = [document_id(s) for s in batch]
            set_sink_masks(self.model, sink_masks(ids, self.n_sink, self.n_active))
        return batch[:, :-1], batch[:, 1:]


class RandomPassages:
    """Passages (n, context + 1) drawn uniformly with replacement, e.g. the documents to forget."""

    def __init__(self, sequences: torch.Tensor, batch_size: int):
        self.sequences, self.batch_size = sequences, batch_size

    def __call__(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.randint(0, len(self.sequences), (self.batch_size,), generator=generator)
        batch = self.sequences[rows]  # (batch, context + 1)
        return batch[:, :-1], batch[:, 1:]


class HybridBatches:
    """Rows of fixed task sequences for the teacherless hybrid (Nagarajan et al. 2025): NTP rows
    (loss on the answer tokens) and, with probability `fraction` per row, the same string as a
    teacherless row (its answer tokens replaced by `dummy_id` in the inputs, the same targets).
    fraction 0 is plain answer-masked NTP."""

    def __init__(self, ids: torch.Tensor, mask: torch.Tensor, dummy_id: int, batch_size: int,
                 fraction: float):
        self.ntp = answer_masked_targets(ids, mask)  # inputs, targets: (n, seq) each
        self.tl = teacherless_targets(ids, mask, dummy_id)  # inputs, targets: (n, seq) each
        self.batch_size, self.fraction = batch_size, fraction

    def __call__(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.randint(0, len(self.ntp[0]), (self.batch_size,), generator=generator)  # (B,)
        teach_Bx1 = (torch.rand(self.batch_size, generator=generator) < self.fraction)[:, None]
        inputs = torch.where(teach_Bx1, self.tl[0][rows], self.ntp[0][rows])  # (B, seq)
        return inputs, self.ntp[1][rows]
