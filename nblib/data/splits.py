"""A corpus as a notebook trains on it: the training token stream and fixed evaluation windows."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nblib.data.tokenizer import load_tokens
from nblib.eval.lm_loss import eval_windows


@dataclass(frozen=True)
class TokenSplits:
    """One corpus, tokenized: what a Trainer draws from and what every checkpoint is scored on."""

    train: torch.Tensor  # (n_train,) int64 token stream of the train split
    val: torch.Tensor  # (n_windows, context + 1) fixed windows of the val split
    test: torch.Tensor | None  # (n_windows, context + 1) of the test split, when asked for


def token_splits(corpus: str, vocab_size: int, context: int, n_windows: int,
                 tokenizer_corpus: str | None = None, test: bool = False) -> TokenSplits:
    """Tokenize `corpus` (cached after the first call) with the tokenizer of `tokenizer_corpus or
    corpus`, and cut `n_windows` evenly spaced evaluation windows from val (and test)."""
    def stream(split: str):
        return load_tokens(corpus, split, vocab_size, tokenizer_corpus=tokenizer_corpus)

    train = torch.from_numpy(stream("train").astype("int64"))
    val = eval_windows(stream("val"), context, n_windows)
    return TokenSplits(train, val,
                       eval_windows(stream("test"), context, n_windows) if test else None)
