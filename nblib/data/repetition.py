"""The repetition meter: how much of a training stream was already seen earlier in it.

For a stream of documents (each a list of sentences, each a sequence of tokens), the share of
documents, of sentences and of n-grams (within a document, across its sentence boundaries) that
are exact repeats of one seen before in the stream; and, given a per-token flag of the tokens
that carry facts (names, values), the share of n-grams holding at least one such token that
repeat ("fact n-grams"). A stream that never repeats a sentence can still repeat every template
n-gram: the fact n-grams separate repeating a wording from repeating a fact's wording. So "no
repeated tokens" is measured, not assumed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Repetition:
    """Shares of a stream's units that repeat an earlier unit exactly (0: nothing repeats)."""

    documents: float  # share of documents identical to an earlier document
    sentences: float  # share of sentences identical to an earlier sentence
    ngrams: float  # share of n-grams (within documents) seen earlier
    fact_ngrams: float  # the same, over n-grams holding a fact token (NaN without flags)
    n_documents: int  # documents metered
    n_tokens: int  # tokens metered
    n: int  # the n of the n-grams

    def as_dict(self) -> dict:
        return asdict(self)


class Meter:
    """The meter fed one document at a time (a stream too long to hold in memory). Units are
    compared by hash, so a collision (probability ~ units² / 2^64) could count one spurious
    repeat."""

    def __init__(self, n: int = 8):
        if n < 1:
            raise ValueError(f"n={n}: n-grams need n >= 1")
        self.n = n
        self.seen = {unit: set() for unit in ("docs", "sents", "grams", "facts")}
        self.total = dict.fromkeys(self.seen, 0)
        self.repeats = dict.fromkeys(self.seen, 0)
        self.tokens, self.flagged = 0, False

    def _count(self, unit: str, key) -> None:
        h = hash(key)
        self.total[unit] += 1
        self.repeats[unit] += h in self.seen[unit]
        self.seen[unit].add(h)

    def add(self, document: Sequence[Sequence], facts: Sequence[Sequence[bool]] | None = None):
        """Meter one document (sentences of tokens); `facts` flags its tokens, per sentence."""
        sentences = [tuple(s) for s in document]
        self._count("docs", tuple(sentences))
        for s in sentences:
            self._count("sents", s)
        stream = [t for s in sentences for t in s]
        self.tokens += len(stream)
        fact = None
        if facts is not None:
            self.flagged = True
            fact = [bool(f) for s in facts for f in s]
            if len(fact) != len(stream):
                raise ValueError(f"document {self.total['docs'] - 1}: {len(fact)} fact flags for "
                                 f"{len(stream)} tokens")
        n = self.n
        for i in range(len(stream) - n + 1):
            gram = tuple(stream[i:i + n])
            self._count("grams", gram)
            if fact is not None and any(fact[i:i + n]):
                self._count("facts", gram)

    def result(self) -> Repetition:
        if self.total["docs"] == 0:
            raise ValueError("an empty stream: nothing to meter")
        share = {u: self.repeats[u] / self.total[u] if self.total[u] else float("nan")
                 for u in self.seen}
        return Repetition(share["docs"], share["sents"], share["grams"],
                          share["facts"] if self.flagged else float("nan"),
                          self.total["docs"], self.tokens, self.n)


def meter(documents: Iterable[Sequence[Sequence]], n: int = 8,
          facts: Iterable[Sequence[Sequence[bool]]] | None = None) -> Repetition:
    """Repetition of `documents` in stream order; `facts`, when given, parallels `documents`
    (per sentence, per token: does the token carry a fact)."""
    m = Meter(n)
    flags = iter(facts) if facts is not None else None
    for doc in documents:
        m.add(doc, next(flags) if flags is not None else None)
    return m.result()
