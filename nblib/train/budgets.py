"""Token budgets of a warmup-stable-decay run, and the annealed decay branch at each of them.

One stable trajectory serves every budget: at each budget's decay start a branch is forked whose
learning rate decays to the budget's end, so every measured point is annealed (Hägele et al. 2024)
at the cost of one run plus the decay phases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from nblib.train.trainer import Trainer


@dataclass(frozen=True)
class Budget:
    """One annealed checkpoint of a WSD run: where its decay starts and ends."""

    tpp: float  # tokens per (non-embedding) parameter at the end of the decay
    total_steps: int  # optimizer steps at the end of the decay
    decay_start: int  # step at which the decay branch forks from the stable trajectory


def wsd_budgets(n_params: int, tpps: Sequence[float], tokens_per_step: int,
                decay_fraction: float) -> list[Budget]:
    """A budget per tokens-per-parameter ratio (sorted), each
    decaying over `decay_fraction` of it."""
    out = []
    for tpp in sorted(set(tpps)):
        total = max(2, round(tpp * n_params / tokens_per_step))
        out.append(Budget(tpp, total, total - max(1, round(decay_fraction * total))))
    return out


def steps_for(budgets: Sequence[Budget]) -> int:
    """Optimizer steps of the whole run: the stable trajectory plus every decay branch."""
    return max(b.decay_start for b in budgets) + sum(b.total_steps - b.decay_start for b in budgets)


def annealed_branches(trainer: Trainer, budgets: Sequence[Budget],
                      branch_callbacks: Callable[[Budget], Sequence] = lambda budget: ()
                      ) -> Iterator[tuple[Budget, Trainer]]:
    """Train the stable trajectory to each budget's decay start, fork a decay branch and train it to
    the budget's end; yields (budget, branch trainer) in budget order. `trainer` must use a WSD
    schedule with no decay of its own."""
    for budget in sorted(budgets, key=lambda b: b.total_steps):
        trainer.fit(budget.decay_start)
        branch = trainer.fork(budget.total_steps - budget.decay_start, branch="decay",
                              callbacks=branch_callbacks(budget))
        branch.fit(budget.total_steps)
        yield budget, branch
