"""Sibling discovery: parents a_i with two sets of children; an object is a triplet (a, b1, b2)
of siblings and their parent, written `b1 b2 a`."""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from nblib.data.tasks.creativity.strings import QUERY, Example


@dataclass(frozen=True)
class Sibling:
    """Parents a_i, each with `n_children` children in set 1 (b1_*) and in set 2 (b2_*). An object
    is a triplet (a, b1, b2) with b1 and b2 both children of a; output `b1 b2 a`."""

    n_parents: int = 5  # parents a_i
    n_children: int = 40  # children per parent in each of the two sets
    name: str = "sibling"

    @property
    def query(self) -> str:
        return QUERY

    def entities(self) -> list[str]:
        n = self.n_parents * self.n_children
        return ([f"a{i}" for i in range(self.n_parents)] + [f"b1_{j}" for j in range(n)]
                + [f"b2_{j}" for j in range(n)])

    def n_objects(self) -> int:
        return self.n_parents * self.n_children**2

    def object_at(self, i: int) -> tuple[str, str, str]:
        """The i-th triplet (a, b1, b2), i in [0, n_objects)."""
        per = self.n_children**2
        a, rest = divmod(i, per)
        j1, j2 = divmod(rest, self.n_children)
        c = a * self.n_children
        return f"a{a}", f"b1_{c + j1}", f"b2_{c + j2}"

    def sample_object(self, rng: random.Random) -> Hashable:
        return self.object_at(rng.randrange(self.n_objects()))

    def render(self, obj: tuple[str, str, str], rng: random.Random) -> tuple[str, ...]:
        a, b1, b2 = obj
        return b1, b2, a

    def _parent(self, child: str, prefix: str) -> int | None:
        if not child.startswith(prefix) or not child[len(prefix):].isdigit():
            return None
        j = int(child[len(prefix):])
        return j // self.n_children if j < self.n_parents * self.n_children else None

    def canonical(self, output: Sequence[str]) -> Hashable | None:
        if len(output) != 3:
            return None
        b1, b2, a = output
        p1, p2 = self._parent(b1, "b1_"), self._parent(b2, "b2_")
        if p1 is None or p1 != p2 or a != f"a{p1}":
            return None
        return a, b1, b2

    def extra_examples(self) -> list[Example]:
        return []  # everything is learned from the triplets

