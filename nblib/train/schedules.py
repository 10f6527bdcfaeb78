"""Learning-rate schedules as pure functions of the step: a multiplier of the peak rate.

`cosine`: linear warmup, then cosine decay to `final_ratio`. `wsd` (warmup-stable-decay,
Hu et al. 2024 "MiniCPM"; Hägele et al. 2024 "Scaling laws and compute-optimal training beyond
fixed training durations"): linear warmup, constant, then a linear decay to `final_ratio` over the
last `decay_steps`; `decay_start=None` means the stable phase never ends (the main trajectory from
which decay branches fork). `constant`: warmup then flat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nblib.config import ConfigError

KINDS = ("cosine", "wsd", "constant")


@dataclass(frozen=True)
class Schedule:
    """The shape of the learning rate over steps (multiplies the peak rate)."""

    kind: str = "constant"  # "constant", "cosine" or "wsd"
    warmup_steps: int = 0  # linear warmup from 0 over these optimizer steps
    total_steps: int = 1  # cosine: the step at which the decay ends
    decay_start: int | None = None  # wsd: first step of the decay (None: stay stable forever)
    decay_steps: int = 0  # wsd: length of the linear decay in steps
    final_ratio: float = 0.0  # multiplier reached at the end of the decay

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"schedule kind={self.kind!r} is not one of {KINDS}")
        if self.warmup_steps < 0 or self.decay_steps < 0 or self.total_steps < 1:
            raise ConfigError(f"schedule steps must be non-negative (got {self})")
        if not 0.0 <= self.final_ratio <= 1.0:
            raise ConfigError(f"final_ratio={self.final_ratio} must be in [0, 1]")

    def __call__(self, step: int) -> float:
        """Multiplier of the peak learning rate for the update made at optimizer step `step`."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.kind == "constant":
            return 1.0
        if self.kind == "cosine":
            span = max(1, self.total_steps - self.warmup_steps)
            progress = min(1.0, (step - self.warmup_steps) / span)
            return self.final_ratio + (1 - self.final_ratio) * 0.5 * (
                1 + math.cos(math.pi * progress)
            )
        if self.decay_start is None or step < self.decay_start:  # wsd, stable phase
            return 1.0
        progress = min(1.0, (step - self.decay_start + 1) / max(1, self.decay_steps))
        return 1.0 - (1.0 - self.final_ratio) * progress

    def with_decay(self, start: int, steps: int) -> Schedule:
        """This WSD schedule with its decay placed at [start, start + steps)."""
        return Schedule("wsd", self.warmup_steps, self.total_steps, start, steps, self.final_ratio)
