"""Modular arithmetic, a task with exactly one answer per problem (Power et al. 2022, "Grokking").

A problem is a pair (a, b) with 0 ≤ a, b < p; its answer is (a + b) mod p (or a − b, a · b). The
p² pairs are split once, by a seed, into a training share and a held-out rest. A sequence is the
tokens `a + b = c` (numbers are tokens 0..p−1, then the operator and '='); the loss is on c only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

OPERATIONS = {"add": lambda a, b, p: (a + b) % p,
              "sub": lambda a, b, p: (a - b) % p,
              "mul": lambda a, b, p: (a * b) % p}
PROMPT_LEN = 4  # a, op, b, =


@dataclass(frozen=True)
class ModularTask:
    """a ∘ b mod p with a fixed train/held-out split of the p² pairs."""

    modulus: int = 23  # p: numbers and answers are 0..p−1
    train_fraction: float = 0.5  # share of the p² pairs in the training set
    operation: str = "add"  # "add", "sub" or "mul"
    split_seed: int = 0  # seed of the train/held-out split

    def __post_init__(self):
        if self.modulus < 2:
            raise ValueError(f"modulus={self.modulus} must be at least 2")
        if not 0.0 < self.train_fraction < 1.0:
            raise ValueError(f"train_fraction={self.train_fraction} "
                             "must lie strictly between 0 and 1")
        if self.operation not in OPERATIONS:
            raise ValueError(f"operation={self.operation!r}: must be one of {sorted(OPERATIONS)}")
        if round(self.train_fraction * self.modulus**2) in (0, self.modulus**2):
            raise ValueError(f"train_fraction={self.train_fraction} "
                             f"with modulus={self.modulus} leaves "
                             "an empty training or held-out set")

    @property
    def op_token(self) -> int:
        return self.modulus

    @property
    def eq_token(self) -> int:
        return self.modulus + 1

    @property
    def vocab_size(self) -> int:
        return self.modulus + 2

    def answer(self, pairs: torch.Tensor) -> torch.Tensor:
        """(n,) answers of (n, 2) pairs."""
        return OPERATIONS[self.operation](pairs[:, 0], pairs[:, 1], self.modulus)

    def split(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(train pairs (n_train, 2), held-out pairs (n_test, 2)), fixed by split_seed."""
        p = self.modulus
        grid = torch.cartesian_prod(torch.arange(p), torch.arange(p))  # (p², 2)
        order = torch.randperm(p * p, generator=torch.Generator().manual_seed(self.split_seed))
        n_train = round(self.train_fraction * p * p)
        return grid[order[:n_train]], grid[order[n_train:]]

    def prompts(self, pairs: torch.Tensor) -> torch.Tensor:
        """(n, 4) prompts `a op b =`."""
        n = len(pairs)
        return torch.stack([pairs[:, 0], torch.full((n,), self.op_token), pairs[:, 1],
                            torch.full((n,), self.eq_token)], dim=1)

    def sequences(self, pairs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training rows: sequences (n, 5) `a op b = c` and their answer mask (n, 5), True on c."""
        seqs = torch.cat([self.prompts(pairs), self.answer(pairs)[:, None]], dim=1)  # (n, 5)
        mask = torch.zeros_like(seqs, dtype=torch.bool)
        mask[:, PROMPT_LEN:] = True
        return seqs, mask

    def is_correct(self, pairs: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
        """(n, m) booleans: is answers[i, j] the answer of pairs[i]? answers: (n, m) token ids."""
        return answers == self.answer(pairs)[:, None]
