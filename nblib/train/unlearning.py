"""Post-hoc unlearning by gradient ascent: the Trainer, with the LM loss negated, on the
documents to forget (the standard baseline of the memorisation literature, e.g. Jang et al. 2023,
arXiv 2210.01504; Maini et al. 2024, arXiv 2401.06121).

    rows = gradient_ascent(model, forget, [2, 5, 10], lr=1e-3, batch_size=32, seed=0,
                           measure=lambda m: {"gap": ...})
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch

from nblib.train.batches import RandomPassages
from nblib.train.objectives import next_token_loss
from nblib.train.trainer import LossFn, TrainConfig, Trainer, lm_loss


def ascent_loss(objective: Callable = next_token_loss) -> LossFn:
    """The loss hook that ascends `objective`: minus the LM loss of the batch."""
    descend = lm_loss(objective)

    def loss(model, batch, step):
        return -descend(model, batch, step)

    return loss


def ascent_config(lr: float, seed: int, beta1: float = 0.9, beta2: float = 0.999) -> TrainConfig:
    """Gradient ascent's optimiser: AdamW with torch's default betas, no weight decay, no
    clipping, a constant learning rate (the loss is unbounded below: a schedule tuned for
    descent does not transfer)."""
    return TrainConfig(lr=lr, weight_decay=0.0, beta1=beta1, beta2=beta2, grad_clip=None,
                       seed=seed)


def ascent_trainer(model: torch.nn.Module, forget: torch.Tensor, lr: float, batch_size: int,
                   seed: int, **optimiser) -> Trainer:
    """A Trainer that ascends the LM loss of `model` (trained in place) on passages drawn
    uniformly from `forget` (n, context + 1), the draws seeded by `seed`."""
    return Trainer(model, ascent_config(lr, seed, **optimiser), RandomPassages(forget, batch_size),
                   loss_fn=ascent_loss())


def gradient_ascent(model: torch.nn.Module, forget: torch.Tensor, strengths: Sequence[int], *,
                    lr: float, batch_size: int, seed: int,
                    measure: Callable[[torch.nn.Module], dict], **optimiser) -> list[dict]:
    """Ascend the loss on `forget` with a copy of `model` (the original is left alone), measuring
    after each strength (cumulative steps, in increasing order): one row per strength,
    {"strength": steps, **measure(model)}."""
    trainer = ascent_trainer(copy.deepcopy(model), forget, lr, batch_size, seed, **optimiser)
    rows = []
    for steps in sorted(strengths):
        trainer.fit(steps)
        rows.append({"strength": steps, **measure(trainer.model)})
    return rows
