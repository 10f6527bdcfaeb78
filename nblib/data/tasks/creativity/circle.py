"""Circle and line construction: a cycle (or path) through distinct entity tokens, its edges
written in shuffled order; an object is the undirected edge set."""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from nblib.data.tasks.creativity.strings import QUERY, Example, join_pairs, pairs_of


@dataclass(frozen=True)
class Circle:
    """From `n_entities` tokens, a cycle through `cycle_len` distinct ones: its edges, in the order
    of a random walk round it, shuffled. Coherent: every node has degree 2 and the edges form one
    cycle of `cycle_len` nodes. An object is the undirected edge set."""

    n_entities: int = 8  # entity tokens n_i
    cycle_len: int = 6  # nodes (= edges) of each cycle
    name: str = "circle"
    closed: bool = field(default=True, repr=False)  # False: a path (line construction)

    @property
    def query(self) -> str:
        return QUERY

    def entities(self) -> list[str]:
        return [f"n{i}" for i in range(self.n_entities)]

    def n_objects(self) -> int:
        k, n = self.cycle_len, self.n_entities
        orders = 1
        for i in range(k):
            orders *= n - i
        return orders // (2 * k) if self.closed else orders // 2

    def sample_object(self, rng: random.Random) -> Hashable:
        nodes = rng.sample(self.entities(), self.cycle_len)
        return self._edge_set(nodes)

    def _edge_set(self, nodes: Sequence[str]) -> frozenset[frozenset[str]]:
        steps = len(nodes) if self.closed else len(nodes) - 1
        return frozenset(frozenset((nodes[i], nodes[(i + 1) % len(nodes)])) for i in range(steps))

    def _walk(self, obj: frozenset[frozenset[str]]) -> list[str]:
        """The nodes in order along the cycle (or path), from its smallest end; shorter than the
        node count when the edges form several pieces."""
        adj: dict[str, list[str]] = {}
        for e in obj:
            u, v = sorted(e)
            adj.setdefault(u, []).append(v)
            adj.setdefault(v, []).append(u)
        for neighbours in adj.values():  # a set's order follows string hashing: fix it
            neighbours.sort()
        start = min(n for n in adj if self.closed or len(adj[n]) == 1)
        walk = [start]
        while len(walk) < len(adj):
            step = next((n for n in adj[walk[-1]] if n not in walk), None)
            if step is None:  # several pieces: the walk ends before visiting every node
                break
            walk.append(step)
        return walk

    def render(self, obj: frozenset[frozenset[str]], rng: random.Random) -> tuple[str, ...]:
        walk = self._walk(obj)
        if self.closed:
            i = rng.randrange(len(walk))
            walk = walk[i:] + walk[:i]
        if rng.random() < 0.5:
            walk = walk[::-1]
        steps = len(walk) if self.closed else len(walk) - 1
        pairs = [(walk[i], walk[(i + 1) % len(walk)]) for i in range(steps)]
        rng.shuffle(pairs)
        return join_pairs(pairs)

    def canonical(self, output: Sequence[str]) -> Hashable | None:
        pairs = pairs_of(output)
        n_edges = self.cycle_len if self.closed else self.cycle_len - 1
        if pairs is None or len(pairs) != n_edges:
            return None
        known = set(self.entities())
        edges = {frozenset(p) for p in pairs}
        if len(edges) != n_edges or any(len(e) != 2 or not e <= known for e in edges):
            return None
        degree: dict[str, int] = {}
        for e in edges:
            for n in e:
                degree[n] = degree.get(n, 0) + 1
        ends = sorted(degree.values())
        want = [2] * self.cycle_len if self.closed else [1, 1] + [2] * (self.cycle_len - 2)
        if ends != want:
            return None
        obj = frozenset(edges)
        return obj if len(self._walk(obj)) == self.cycle_len else None  # one piece, not several

    def extra_examples(self) -> list[Example]:
        return []


def Line(n_entities: int = 8, path_len: int = 6) -> Circle:  # noqa: N802 (a task, like the classes)
    """Line construction: a path through `path_len` distinct entities, its edges shuffled."""
    return Circle(n_entities=n_entities, cycle_len=path_len, name="line", closed=False)

