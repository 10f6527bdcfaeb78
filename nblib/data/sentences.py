"""Sentences of a text with their character spans, by pysbd (rule-based, pure Python, English by
default), and the text rebuilt in another sentence order.

A span (start, end) indexes the original string exactly: `text[start:end] == sentence.text`,
without the whitespace around it. The spans are found by our own left-to-right alignment of
pysbd's segments (`clean=False`, so segments are verbatim); pysbd's own `char_span=True` matches
each segment anywhere in the text with a regex and silently drops one it cannot place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pysbd


@dataclass(frozen=True)
class Sentence:
    """One sentence: its text and where it lies in the original, text == original[start:end]."""

    text: str
    start: int
    end: int


def _locate(text: str, segment: str, cursor: int) -> tuple[int, int]:
    """Where `segment` (stripped) lies in `text` at or after `cursor`; whitespace-tolerant."""
    start = text.find(segment, cursor)
    if start >= 0:
        return start, start + len(segment)
    pattern = r"\s+".join(map(re.escape, segment.split()))
    match = re.compile(pattern).search(text, cursor)
    if match is None:
        raise RuntimeError(f"pysbd returned a segment not found in the text after "
                           f"character {cursor}: {segment[:60]!r}")
    return match.span()


def split_sentences(text: str, language: str = "en") -> list[Sentence]:
    """The sentences of `text` in order, each with its exact span; [] for a blank text."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        return []
    segmenter = pysbd.Segmenter(language=language, clean=False)
    sentences, cursor = [], 0
    for segment in segmenter.segment(text):
        segment = segment.strip()
        if not segment:
            continue
        start, end = _locate(text, segment, cursor)
        sentences.append(Sentence(text[start:end], start, end))
        cursor = end
    return sentences


def reorder(sentences: Sequence[Sentence], order: Sequence[int], sep: str = " ") -> str:
    """The sentences in `order` (order[k] is the sentence placed k-th), joined by `sep`."""
    if sorted(order) != list(range(len(sentences))):
        raise ValueError(f"order {list(order)} is not a permutation of the "
                         f"{len(sentences)} sentences")
    return sep.join(sentences[k].text for k in order)


def join(parts: Sequence[str], sep: str = " ") -> tuple[str, list[Sentence]]:
    """Known sentences joined by `sep` into one text, with their exact spans in it."""
    sentences, cursor = [], 0
    for part in parts:
        sentences.append(Sentence(part, cursor, cursor + len(part)))
        cursor += len(part) + len(sep)
    return sep.join(parts), sentences
