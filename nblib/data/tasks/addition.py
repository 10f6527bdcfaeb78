"""Multi-digit addition with digit-level (compositional) answers: a + b for d-digit operands,
written with leading zeros, answered with the d + 1 digits of the sum and a stop token.

    "042+917=" -> "0959" then <stop>       (d = 3: prompt 8 tokens, answer 4 + 1)

One token per digit, so every answer is a string over the same ten digit tokens (an answer or
operand unseen in training still has trained embeddings), and the answer space (10^(d+1) digit
strings) is far larger than any k of pass@k. The (10^d)² problems are split once, by a seed, into
`test_problems` held-out pairs and the rest, which training draws from; the two never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nblib.config import ConfigError
from nblib.train.objectives import answer_masked_targets

DIGITS = "0123456789"
PLUS, EQUALS, STOP, PAD = 10, 11, 12, 13  # token ids after the ten digits
SYMBOLS = {**{c: i for i, c in enumerate(DIGITS)}, "+": PLUS, "=": EQUALS, "$": STOP, "_": PAD}
TASKS = ("addition",)  # the task names a notebook config may ask for


def check_task(name: str) -> None:
    """ConfigError unless `name` is a task this module generates."""
    if name not in TASKS:
        raise ConfigError(f"parameter task={name!r}: unknown task, must be one of {list(TASKS)}")


class Vocab:
    """The character-level tokenizer: digits 0-9, '+', '=', '$' (stop) and '_' (padding)."""

    size = len(SYMBOLS)  # 14 tokens
    stop_id, pad_id = STOP, PAD
    _chars = {i: c for c, i in SYMBOLS.items()}

    @staticmethod
    def encode(text: str) -> list[int]:
        unknown = sorted(set(text) - set(SYMBOLS))
        if unknown:
            raise ValueError(f"characters {unknown} are not in the vocabulary {list(SYMBOLS)}")
        return [SYMBOLS[c] for c in text]

    @classmethod
    def decode(cls, ids) -> str:
        return "".join(cls._chars[int(i)] for i in ids)


@dataclass(frozen=True)
class AdditionTask:
    """a + b with `digits`-digit operands (leading zeros) and a fixed held-out test set."""

    digits: int = 3  # digits per operand; answers have digits + 1
    test_problems: int = 512  # held-out (a, b) pairs, never trained on
    split_seed: int = 0  # seed of the held-out draw

    def __post_init__(self):
        if not 1 <= self.digits <= 9:
            raise ConfigError(f"parameter digits={self.digits}: must lie in [1, 9]")
        if not 1 <= self.test_problems <= self.n_problems // 4:
            raise ConfigError(f"parameter test_problems={self.test_problems}: must lie in "
                              f"[1, {self.n_problems // 4}] (a quarter of the "
                              f"{self.n_problems} problems with digits={self.digits})")

    vocab = Vocab

    @property
    def n_problems(self) -> int:
        return 10 ** (2 * self.digits)

    @property
    def prompt_len(self) -> int:
        return 2 * self.digits + 2  # a + b =

    @property
    def answer_len(self) -> int:
        return self.digits + 1  # digits of the sum, without the stop token

    @property
    def seq_len(self) -> int:
        return self.prompt_len + self.answer_len + 1  # with the stop token

    @property
    def chance(self) -> float:
        """Probability that a blind guess is right: uniform over the 2·10^d − 1 possible sums."""
        return 1.0 / (2 * 10**self.digits - 1)

    def test_pairs(self) -> torch.Tensor:
        """(test_problems, 2) held-out (a, b), fixed by split_seed."""
        gen = torch.Generator().manual_seed(self.split_seed)
        codes = torch.randperm(self.n_problems, generator=gen)[:self.test_problems] \
            if self.n_problems <= 10**7 else self._distinct_codes(gen)
        return self._pairs(codes)

    def _distinct_codes(self, gen: torch.Generator) -> torch.Tensor:
        codes = torch.unique(torch.randint(self.n_problems, (2 * self.test_problems,),
                                           generator=gen))
        return codes[torch.randperm(len(codes), generator=gen)][:self.test_problems]

    def _pairs(self, codes: torch.Tensor) -> torch.Tensor:
        base = 10**self.digits
        return torch.stack([codes // base, codes % base], dim=1)  # (n, 2)

    def _digits(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """(m,) integers -> (m, n) digit ids, most significant first, with leading zeros."""
        powers = 10 ** torch.arange(n - 1, -1, -1)  # (n,)
        return (x[:, None] // powers) % 10

    def prompts(self, pairs: torch.Tensor) -> torch.Tensor:
        """(n, 2d + 2) prompts `a + b =`."""
        n, d = len(pairs), self.digits
        return torch.cat([self._digits(pairs[:, 0], d), torch.full((n, 1), PLUS),
                          self._digits(pairs[:, 1], d), torch.full((n, 1), EQUALS)], dim=1)

    def answers(self, pairs: torch.Tensor) -> torch.Tensor:
        """(n, d + 1) digit ids of a + b (no stop token)."""
        return self._digits(pairs.sum(1), self.answer_len)

    def sequences(self, pairs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training rows (n, 3d + 3) `a + b = c $` and their answer mask, True on c and $."""
        n = len(pairs)
        seqs = torch.cat([self.prompts(pairs), self.answers(pairs),
                          torch.full((n, 1), STOP)], dim=1)
        mask = torch.zeros_like(seqs, dtype=torch.bool)
        mask[:, self.prompt_len:] = True
        return seqs, mask

    def is_correct(self, pairs: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
        """(n, m) booleans: is samples[i, j] (n, m, ≥ d + 2 tokens) exactly the answer of
        pairs[i] followed by the stop token?"""
        want = torch.cat([self.answers(pairs), torch.full((len(pairs), 1), STOP)], 1)  # (n, d+2)
        return (samples[..., :self.answer_len + 1] == want[:, None]).all(-1)

    def batches(self, batch_size: int) -> TrainingBatches:
        return TrainingBatches(self, batch_size)


class TrainingBatches:
    """Training draws for the Trainer: (a, b) uniform over every pair but the test pairs (a drawn
    test pair is replaced by the next fresh draw), as (inputs, targets) with the loss on the
    answer and stop tokens only."""

    def __init__(self, task: AdditionTask, batch_size: int):
        self.task, self.batch_size = task, batch_size
        base = 10**task.digits
        test = task.test_pairs()
        self.test_codes = torch.sort(test[:, 0] * base + test[:, 1]).values  # (P,)

    def __call__(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        kept = torch.empty(0, dtype=torch.long)
        while len(kept) < self.batch_size:
            codes = torch.randint(self.task.n_problems, (self.batch_size + 8,),
                                  generator=generator)
            kept = torch.cat([kept, codes[~torch.isin(codes, self.test_codes)]])
        seqs, mask = self.task.sequences(self.task._pairs(kept[:self.batch_size]))
        return answer_masked_targets(seqs, mask)  # (B, 3d + 2) each
