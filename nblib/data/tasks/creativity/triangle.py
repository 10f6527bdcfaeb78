"""Triangle discovery: a fixed random graph learned from `edge:` strings; an object is one of its
triangles, written `u v <sep> v w <sep> w u`."""

from __future__ import annotations

import functools
import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from nblib.data.tasks.creativity.strings import EDGE, TRI, Example, join_pairs, pairs_of


@dataclass(frozen=True)
class Triangle:
    """A fixed random graph on `n_nodes` nodes: each node links to `degree` random others, then
    closes `triangles_per_node` random triangles. Training shows every edge as `edge: u v <sep> v u`
    (no hash) and some triangles as `HASH tri: u v <sep> v w <sep> w u`; an object is a triangle."""

    n_nodes: int = 40  # nodes v_i
    degree: int = 2  # random edges added per node
    triangles_per_node: int = 2  # random triangles closed per node
    graph_seed: int = 0  # the graph is fixed by this seed
    name: str = "triangle"

    @property
    def query(self) -> str:
        return TRI

    def entities(self) -> list[str]:
        return [f"v{i}" for i in range(self.n_nodes)]

    def edges(self) -> frozenset[frozenset[str]]:
        return _graph(self)[0]

    def triangles(self) -> list[frozenset[str]]:
        """Every triangle of the graph, in a fixed order."""
        return _graph(self)[1]

    def build_graph(self) -> tuple[frozenset[frozenset[str]], list[frozenset[str]]]:
        rng, nodes = random.Random(self.graph_seed), self.entities()
        edges = set()
        for v in nodes:
            for u in rng.sample([x for x in nodes if x != v], self.degree):
                edges.add(frozenset((u, v)))
            for _ in range(self.triangles_per_node):
                u, w = rng.sample([x for x in nodes if x != v], 2)
                edges |= {frozenset((v, u)), frozenset((u, w)), frozenset((w, v))}
        order = {v: i for i, v in enumerate(nodes)}
        adj: dict[str, set[str]] = {v: set() for v in nodes}
        for e in edges:
            u, w = tuple(e)
            adj[u].add(w)
            adj[w].add(u)
        triangles = [frozenset((u, v, w)) for u in nodes
                     for v in sorted(adj[u], key=order.get) if order[v] > order[u]
                     for w in sorted(adj[u] & adj[v], key=order.get) if order[w] > order[v]]
        return frozenset(edges), triangles

    def n_objects(self) -> int:
        return len(self.triangles())

    def object_at(self, i: int) -> frozenset[str]:
        return self.triangles()[i]

    def render(self, obj: frozenset[str], rng: random.Random) -> tuple[str, ...]:
        u, v, w = rng.sample(sorted(obj), 3)
        return join_pairs([(u, v), (v, w), (w, u)])

    def canonical(self, output: Sequence[str]) -> Hashable | None:
        pairs = pairs_of(output)
        if pairs is None or len(pairs) != 3:
            return None
        (u, v), (v2, w), (w2, u2) = pairs
        nodes = {u, v, w}
        if (v, w, u) != (v2, w2, u2) or len(nodes) != 3 or not nodes <= set(self.entities()):
            return None
        edges = self.edges()
        if not all(frozenset(p) in edges for p in ((u, v), (v, w), (w, u))):
            return None
        return frozenset(nodes)

    def extra_examples(self) -> list[Example]:
        """Both orientations of every edge, without a hash: the graph, learned in the weights."""
        return [Example("", EDGE, join_pairs([(a, b), (b, a)]))
                for e in sorted(self.edges(), key=sorted) for a, b in (sorted(e), sorted(e)[::-1])]


@functools.cache
def _graph(task: Triangle) -> tuple[frozenset[frozenset[str]], list[frozenset[str]]]:
    return task.build_graph()

