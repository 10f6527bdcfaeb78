"""Distillation from a fixed teacher, with the weight of the distillation term on a schedule: the
"KD annealed into next-token prediction" recipe (notebook 01).

`KDSchedule` says how much of the loss is distillation at each step (alpha); `Distillation` is a
Trainer objective that runs the teacher on the batch while alpha > 0, and counts the tokens the
teacher read so its forward FLOPs can be charged to the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from nblib.config import ConfigError
from nblib.train.objectives import distillation_loss, next_token_loss

SHAPES = ("linear", "cosine", "step", "constant")


@dataclass(frozen=True)
class KDSchedule:
    """alpha(step): the weight of the distillation term, 1 − alpha on next-token cross-entropy."""

    shape: str = "linear"  # "linear"/"cosine" fall from 1 to 0, "step": 1 then 0, "constant" stays
    value: float = 0.3  # decaying shapes: share of the run until alpha is 0; "constant": alpha

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise ConfigError(f"KD schedule shape={self.shape!r} is not one of {SHAPES}")
        if not 0.0 < self.value <= 1.0:
            raise ConfigError(f"KD schedule {self.shape}:{self.value}: the value must be in (0, 1]")

    @classmethod
    def parse(cls, text: str) -> KDSchedule:
        """'linear:0.3' (alpha falls 1 → 0 over the first 30% of steps), 'cosine:0.6', 'step:0.3',
        'constant:0.5' (alpha = 0.5 throughout)."""
        shape, sep, value = text.partition(":")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not sep or number != number:
            raise ConfigError(f"KD schedule {text!r}: write "
                              f"'<shape>:<number>' with shape one of {SHAPES}, "
                              "e.g. 'linear:0.3' or 'constant:0.5'")
        return cls(shape, number)

    def __str__(self) -> str:
        return f"{self.shape}:{self.value:g}"

    def alpha(self, step: int, total_steps: int) -> float:
        """Weight of the distillation term for the update at `step` of a `total_steps` run."""
        if self.shape == "constant":
            return self.value
        progress = step / (self.value * total_steps)  # 1 where the distillation phase ends
        if progress >= 1.0:
            return 0.0
        if self.shape == "step":
            return 1.0
        if self.shape == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))  # cosine

    def last_kd_step(self, total_steps: int) -> int:
        """The number of steps on which the teacher is run (alpha > 0)."""
        return sum(self.alpha(s, total_steps) > 0 for s in range(total_steps))


class Distillation:
    """Trainer objective: alpha(step) · T² · KL(teacher ‖ student) + (1 − alpha) · cross-entropy.

    The teacher (same vocabulary) is frozen and only run while alpha > 0; `teacher_tokens` counts
    the tokens it has read."""

    uses_inputs = True  # the Trainer passes the batch's inputs and the step

    def __init__(self, teacher: torch.nn.Module, schedule: KDSchedule, total_steps: int,
                 temperature: float = 1.0):
        if temperature <= 0:
            raise ConfigError(f"temperature={temperature} must be positive")
        self.teacher = teacher.eval().requires_grad_(False)
        self.schedule, self.total_steps, self.temperature = schedule, total_steps, temperature
        self.teacher_tokens = 0  # tokens the teacher has read (forward passes to charge)

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor, *, inputs: torch.Tensor,
                 step: int) -> torch.Tensor:
        alpha = self.schedule.alpha(step, self.total_steps)
        if alpha == 0:
            return next_token_loss(logits, targets)
        with torch.no_grad():
            teacher_logits = self.teacher(input_ids=inputs).logits  # (batch, seq, vocab)
        self.teacher_tokens += inputs.numel()
        return distillation_loss(logits, teacher_logits, targets, alpha, self.temperature)
