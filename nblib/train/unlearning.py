"""Post-hoc unlearning through the Trainer: gradient ascent (the LM loss negated) on the
documents to forget (the standard baseline of the memorisation literature, e.g. Jang et al. 2023,
arXiv 2210.01504; Maini et al. 2024, arXiv 2401.06121), and the retain-regularised baselines a
sceptic proposes next to it: GradDiff (ascent on the forget set, descent on a retain set) and NPO
(Zhang et al. 2024, arXiv 2404.05868), alone and with its retain term (NPO+RT).

    rows = gradient_ascent(model, forget, [2, 5, 10], lr=1e-3, batch_size=32, seed=0,
                           measure=lambda m: {"gap": ...})
    rows = unlearn(model, forget, [2, 5, 10], method="NPO+RT", retain=unique, lr=1e-3,
                   batch_size=32, seed=0, measure=...)
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


# ------------------------------------------------------------------ retain-regularised baselines
# GradDiff (ascent on the forget set, descent on a retain set; Liu et al. 2022, arXiv 2203.12817;
# Maini et al. 2024, arXiv 2401.06121) and NPO (negative preference optimisation, Zhang et al.
# 2024, arXiv 2404.05868), with and without its retain term (NPO+RT).

METHODS = ("gradient ascent", "GradDiff", "NPO", "NPO+RT")


class ForgetRetainBatches:
    """Batches for the unlearning losses: forget passages drawn uniformly with replacement
    (inputs, targets), then, when given, the reference model's sequence log-probabilities of the
    drawn passages (batch,) and a batch of retain passages (inputs, targets), in that order."""

    def __init__(self, forget: torch.Tensor, batch_size: int, retain: torch.Tensor | None = None,
                 reference_logp: torch.Tensor | None = None):
        self.forget, self.retain, self.batch_size = forget, retain, batch_size
        self.reference_logp = reference_logp  # (len(forget),) or None

    def __call__(self, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        rows = torch.randint(0, len(self.forget), (self.batch_size,), generator=generator)
        batch = self.forget[rows]  # (batch, context + 1)
        out = [batch[:, :-1], batch[:, 1:]]
        if self.reference_logp is not None:
            out.append(self.reference_logp[rows])
        if self.retain is not None:
            kept = self.retain[torch.randint(0, len(self.retain), (self.batch_size,),
                                             generator=generator)]
            out += [kept[:, :-1], kept[:, 1:]]
        return tuple(out)


def sequence_logp(model: torch.nn.Module, inputs: torch.Tensor,
                  targets: torch.Tensor) -> torch.Tensor:
    """log p(targets | inputs) of each sequence, summed over its tokens: (batch,)."""
    logits = model(input_ids=inputs).logits  # (B, L, vocab)
    token = -torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(),
                                               reduction="none")
    return token.view(targets.shape).sum(1)


def graddiff_loss(retain_weight: float = 1.0) -> LossFn:
    """GradDiff: minus the LM loss of the forget batch plus `retain_weight` times the LM loss of
    the retain batch."""
    descend = lm_loss()

    def loss(model, batch, step):
        f_in, f_out, r_in, r_out = batch
        return (-descend(model, (f_in, f_out), step)
                + retain_weight * descend(model, (r_in, r_out), step))

    return loss


def npo_loss(beta: float = 0.1, retain_weight: float = 0.0) -> LossFn:
    """NPO: (2 / beta) * mean softplus(beta * (log p_model − log p_reference)) over the forget
    sequences (log-probabilities summed over tokens), plus `retain_weight` times the LM loss of
    the retain batch when the batch carries one (NPO+RT)."""
    descend = lm_loss()

    def loss(model, batch, step):
        f_in, f_out, ref = batch[:3]
        logratio = sequence_logp(model, f_in, f_out) - ref  # (B,)
        out = 2.0 / beta * torch.nn.functional.softplus(beta * logratio).mean()
        if retain_weight and len(batch) == 5:
            out = out + retain_weight * descend(model, batch[3:], step)
        return out

    return loss


@torch.no_grad()
def reference_logp(model: torch.nn.Module, sequences: torch.Tensor,
                   batch_size: int = 64) -> torch.Tensor:
    """Sequence log-probabilities (n,) of `sequences` (n, context + 1) under `model` (eval mode),
    NPO's reference: the model before unlearning."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.cat([sequence_logp(model, c[:, :-1].to(device), c[:, 1:].to(device)).cpu()
                     for c in sequences.split(batch_size)])
    model.train(was_training)
    return out


def unlearn(model: torch.nn.Module, forget: torch.Tensor, strengths: Sequence[int], *,
            method: str, lr: float, batch_size: int, seed: int,
            measure: Callable[[torch.nn.Module], dict], retain: torch.Tensor | None = None,
            beta: float = 0.1, retain_weight: float = 1.0) -> list[dict]:
    """One of METHODS on a copy of `model` (the original is left alone), measured after each
    strength (cumulative optimiser steps, in increasing order; the optimiser is
    `ascent_config`'s): one row per strength, {"strength": steps, **measure(model)}.
    "gradient ascent" is `gradient_ascent`; "GradDiff" and "NPO+RT" need `retain` passages."""
    if method not in METHODS:
        raise ValueError(f"method={method!r}: use one of {METHODS}")
    if method == "gradient ascent":
        return gradient_ascent(model, forget, strengths, lr=lr, batch_size=batch_size, seed=seed,
                               measure=measure)
    needs_retain = method in ("GradDiff", "NPO+RT")
    if needs_retain and retain is None:
        raise ValueError(f"method={method!r} needs retain passages")
    copy_ = copy.deepcopy(model)
    ref = reference_logp(copy_, forget) if method.startswith("NPO") else None
    batches = ForgetRetainBatches(forget, batch_size, retain if needs_retain else None, ref)
    loss = (graddiff_loss(retain_weight) if method == "GradDiff"
            else npo_loss(beta, retain_weight if needs_retain else 0.0))
    trainer = Trainer(copy_, ascent_config(lr, seed), batches, loss_fn=loss)
    rows = []
    for steps in sorted(strengths):
        trainer.fit(steps)
        rows.append({"strength": steps, **measure(trainer.model)})
    return rows
