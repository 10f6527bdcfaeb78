"""Token strings of the creativity tasks: special tokens, `Example` (`HASH q OUTPUT </a>`), the
`Vocab`, random hashes, and the `u v <sep> w x` pair format the graph tasks write outputs in."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

PAD, QUERY, SEP, EOS, DUMMY, TRI, EDGE = "<pad>", "<q>", "<sep>", "</a>", "<dummy>", "tri:", "edge:"
SPECIALS = (PAD, QUERY, SEP, EOS, DUMMY, TRI, EDGE)
HASH_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"  # one token per character, as "#c"


@dataclass(frozen=True)
class Example:
    """One training string: `hash` (characters), then `query`, then `output` tokens, then EOS."""

    hash: str  # random prefix ("" for none)
    query: str  # QUERY, or TRI / EDGE for triangle discovery
    output: tuple[str, ...]  # the object's tokens (EOS not included)

    def tokens(self) -> list[str]:
        return [f"#{c}" for c in self.hash] + [self.query, *self.output, EOS]


class Vocab:
    """Token strings <-> ids: specials (PAD = 0), hash characters, then the task's entities."""

    def __init__(self, entities: Sequence[str]):
        self.tokens = [*SPECIALS, *(f"#{c}" for c in HASH_CHARS), *entities]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("entity names clash with special or hash tokens")

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.index[t] for t in tokens]

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.tokens[int(i)] for i in ids]

    @property
    def hash_ids(self) -> torch.Tensor:
        """(36,) ids of the hash characters: the alphabet of seed-conditioning prefixes."""
        return torch.tensor([self.index[f"#{c}"] for c in HASH_CHARS])


def random_hash(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(HASH_CHARS) for _ in range(length))



def pairs_of(output: Sequence[str]) -> list[tuple[str, str]] | None:
    """`u v <sep> w x ...` -> [(u, v), (w, x), ...]; None unless every chunk is two tokens."""
    chunks, current = [], []
    for t in [*output, SEP]:
        if t == SEP:
            if len(current) != 2:
                return None
            chunks.append(tuple(current))
            current = []
        else:
            current.append(t)
    return chunks


def join_pairs(pairs: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    out: list[str] = []
    for i, (u, v) in enumerate(pairs):
        out += ([SEP] if i else []) + [u, v]
    return tuple(out)

