"""Linear extensions (topological sorts) of a small DAG: the exact count, exactly uniform samples,
and checks that an order respects the edges.

An edge (j, i) means "j comes before i". An order is a list of the nodes 0..n-1, first to last
(`order[k]` is the node placed at position k).

Counting is a dynamic programme over order ideals (down-closed subsets, as bitmasks): the number
of ways to finish an order once the ideal S is placed is g(S) = sum over the available nodes v of
g(S | v), with g(all) = 1. Before it, the poset is split (series-parallel decomposition): a
disjoint union counts as n! / prod(m_k!) * prod(count_k) (the interleavings of its parts' orders),
an ordinal sum (every node of one part before every node of the next) as prod(count_k). So an
antichain of 25 or a star of 25 costs tiny tables, not 2**25. Only the prime parts left over
are counted by the DP: one of more than MAX_NODES nodes, or with more than MAX_STATES ideals, is
refused with a ValueError. n itself is not capped (a chain of 100 is cheap).

Sampling draws one index uniformly in [0, count) and unranks it (the parts' orders by mixed
radix, then the interleaving), so every extension has probability exactly 1 / count. The naive
sampler, "place a uniformly random available node, repeat", is NOT uniform: for a < b and an
isolated c it returns c-a-b with probability 1/2 and a-b-c, a-c-b with 1/4 each.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

MAX_NODES = 25  # nodes of one prime part, counted by the ideal DP; refused above this
MAX_STATES = 2**20  # order ideals one prime part may have before counting is refused

Edge = tuple[int, int]


def check_edges(n: int, edges: Iterable[Sequence[int]]) -> tuple[Edge, ...]:
    """The edges as sorted, de-duplicated (j, i) pairs; a ValueError for a node outside 0..n-1,
    a self-loop or a cycle."""
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n={n!r}: the number of nodes must be an int >= 0")
    out = set()
    for edge in edges:
        j, i = (int(x) for x in edge)
        if not (0 <= j < n and 0 <= i < n):
            raise ValueError(f"edge {(j, i)}: nodes must lie in 0..{n - 1}")
        if j == i:
            raise ValueError(f"edge {(j, i)} is a self-loop")
        out.add((j, i))
    edges = tuple(sorted(out))
    remaining, indegree = set(range(n)), [0] * n  # Kahn's algorithm: what is left is on a cycle
    for _, i in edges:
        indegree[i] += 1
    free, succ = [v for v in range(n) if indegree[v] == 0], _successors(n, edges)
    while free:
        v = free.pop()
        remaining.discard(v)
        for i in succ[v]:
            indegree[i] -= 1
            if indegree[i] == 0:
                free.append(i)
    if remaining:
        raise ValueError(f"the edges contain a cycle through nodes {sorted(remaining)}")
    return edges


def _successors(n: int, edges: tuple[Edge, ...]) -> list[list[int]]:
    succ = [[] for _ in range(n)]
    for j, i in edges:
        succ[j].append(i)
    return succ


def _closure_masks(n: int, edges: tuple[Edge, ...]) -> tuple[list[int], list[int]]:
    """Bitmasks of the nodes that must come before, and after, each node (transitive)."""
    after, succ = [0] * n, _successors(n, edges)
    for j in _reverse_topological(n, edges):
        for i in succ[j]:
            after[j] |= 1 << i | after[i]
    before = [0] * n
    for j in range(n):
        for i in _bits(after[j]):
            before[i] |= 1 << j
    return before, after


def _bits(mask: int) -> list[int]:
    return [v for v in range(mask.bit_length()) if mask >> v & 1]


def _groups(nodes: int, linked: list[int]) -> list[int]:
    """Connected components (bitmasks) of the graph on `nodes` where v links to linked[v]."""
    groups, left = [], nodes
    while left:
        group = frontier = left & -left
        while frontier:
            reach = 0
            for v in _bits(frontier):
                reach |= linked[v]
            frontier = reach & nodes & ~group
            group |= frontier
        groups.append(group)
        left &= ~group
    return groups


class _Leaf:
    """A poset that is neither a disjoint union nor an ordinal sum: completion counts g over its
    order ideals (local bitmasks)."""

    def __init__(self, nodes: list[int], before: list[int], max_states: int):
        self.nodes, self.size, self.max_states = nodes, len(nodes), max_states
        self.preds = [sum(1 << k for k, u in enumerate(nodes) if before[v] >> u & 1)
                      for v in nodes]  # local bitmask of each node's predecessors
        self.full, self.g = (1 << len(nodes)) - 1, {}
        self.count = self._completions(0)

    def _available(self, placed: int) -> list[int]:
        return [v for v, p in enumerate(self.preds)
                if not placed >> v & 1 and p & ~placed == 0]

    def _completions(self, placed: int) -> int:
        if placed == self.full:
            return 1
        if placed in self.g:
            return self.g[placed]
        if len(self.g) >= self.max_states:
            raise ValueError(f"a part of {self.size} nodes has more than {self.max_states} "
                             "order ideals: too many to count exactly (raise max_states, or "
                             "add constraints)")
        total = sum(self._completions(placed | 1 << v) for v in self._available(placed))
        self.g[placed] = total
        return total

    def unrank(self, index: int) -> list[int]:
        placed, order = 0, []
        while placed != self.full:
            for v in self._available(placed):
                ways = self._completions(placed | 1 << v)
                if index < ways:
                    placed |= 1 << v
                    order.append(self.nodes[v])
                    break
                index -= ways
        return order


class _Series:
    """An ordinal sum: every node of one part precedes every node of the next."""

    def __init__(self, parts: list):
        self.parts, self.size = parts, sum(p.size for p in parts)
        self.count = math.prod(p.count for p in parts)

    def unrank(self, index: int) -> list[int]:
        order = []
        for part in self.parts:  # mixed radix, one digit per part
            index, digit = divmod(index, part.count)
            order += part.unrank(digit)
        return order


class _Parallel:
    """A disjoint union: any interleaving of the parts' own orders."""

    def __init__(self, parts: list):
        self.parts, self.size = parts, sum(p.size for p in parts)
        self.interleavings = (math.factorial(self.size)
                              // math.prod(math.factorial(p.size) for p in parts))
        self.count = self.interleavings * math.prod(p.count for p in parts)

    def unrank(self, index: int) -> list[int]:
        orders = []
        for part in self.parts:  # mixed radix: one digit per part, then the interleaving
            index, digit = divmod(index, part.count)
            orders.append(part.unrank(digit))
        left, pos, rest, ways, order = [p.size for p in self.parts], [0] * len(orders), \
            self.size, self.interleavings, []
        while rest:
            for k, m in enumerate(left):
                if m == 0:
                    continue
                first_k = ways * m // rest  # interleavings of what is left that take part k next
                if index < first_k:
                    order.append(orders[k][pos[k]])
                    pos[k], left[k], rest, ways = pos[k] + 1, m - 1, rest - 1, first_k
                    break
                index -= first_k
        return order


def _decompose(nodes: int, before: list[int], after: list[int], max_nodes: int,
               max_states: int):
    """Series-parallel decomposition of the subposet on `nodes` (a bitmask), down to prime parts
    that are counted by the ideal DP."""
    comparable = [b | a for b, a in zip(before, after, strict=True)]
    if nodes & (nodes - 1) == 0:  # one node
        return _Leaf(_bits(nodes), before, max_states)
    parts = _groups(nodes, comparable)
    if len(parts) > 1:
        return _Parallel([_decompose(p, before, after, max_nodes, max_states) for p in parts])
    incomparable = [~c & ~(1 << v) for v, c in enumerate(comparable)]
    parts = _groups(nodes, incomparable)
    if len(parts) > 1:  # all pairs across parts are ordered: sort parts by how many precede them
        parts.sort(key=lambda p: bin(before[_bits(p)[0]] & nodes).count("1"))
        return _Series([_decompose(p, before, after, max_nodes, max_states) for p in parts])
    if len(_bits(nodes)) > max_nodes:
        raise ValueError(f"a part of {len(_bits(nodes))} sentences/nodes is neither a disjoint "
                         "union nor an ordinal sum: exact counting is limited to "
                         f"max_nodes={max_nodes} there (bitmask tables over its order ideals)")
    return _Leaf(_bits(nodes), before, max_states)


def _randbelow(rng: np.random.Generator, n: int) -> int:
    """A uniform integer in [0, n) for an int of any size, from rng's bits (rejection)."""
    if n <= 2**62:
        return int(rng.integers(n))
    bits = n.bit_length()
    n_bytes = (bits + 7) // 8
    while True:
        r = int.from_bytes(rng.bytes(n_bytes), "little") >> (8 * n_bytes - bits)
        if r < n:
            return r


class LinearExtensions:
    """The topological sorts of a DAG on nodes 0..n-1: `count`, `unrank(index)`, `sample(rng)`.

    Build it once and sample many: the tables are computed in the constructor. Refuses a prime
    part (what is left after the series-parallel split) of more than `max_nodes` nodes or with
    more than `max_states` order ideals (ValueError)."""

    def __init__(self, n: int, edges: Iterable[Sequence[int]], max_nodes: int = MAX_NODES,
                 max_states: int = MAX_STATES):
        self.edges = check_edges(n, edges)
        self.n = int(n)
        before, after = _closure_masks(self.n, self.edges)
        self._root = (_decompose((1 << self.n) - 1, before, after, max_nodes, max_states)
                      if self.n else None)
        self.count = self._root.count if self.n else 1

    def unrank(self, index: int) -> list[int]:
        """The extension with this index, a bijection from range(count) onto all extensions."""
        if not 0 <= index < self.count:
            raise ValueError(f"index={index}: must lie in [0, {self.count})")
        return self._root.unrank(int(index)) if self.n else []

    def sample(self, rng: np.random.Generator) -> list[int]:
        """One extension, each with probability exactly 1 / count."""
        return self.unrank(_randbelow(rng, self.count))


def count_linear_extensions(n: int, edges: Iterable[Sequence[int]]) -> int:
    """The exact number of topological sorts of the DAG (1 for a chain, n! with no edges)."""
    return LinearExtensions(n, edges).count


def sample_topological_sort(n: int, edges: Iterable[Sequence[int]],
                            rng: np.random.Generator) -> list[int]:
    """One uniformly random topological sort. For many, build `LinearExtensions` once."""
    return LinearExtensions(n, edges).sample(rng)


def sample_topological_sorts(n: int, edges: Iterable[Sequence[int]], k: int,
                             rng: np.random.Generator) -> list[list[int]]:
    """k independent uniformly random topological sorts (with repetition)."""
    extensions = LinearExtensions(n, edges)
    return [extensions.sample(rng) for _ in range(k)]


def random_permutation(n: int, rng: np.random.Generator) -> list[int]:
    """The unconstrained baseline: a uniformly random order of 0..n-1."""
    return [int(v) for v in rng.permutation(n)]


def _positions(order: Sequence[int], n: int | None = None) -> list[int]:
    n = len(order) if n is None else n
    if sorted(int(v) for v in order) != list(range(n)):
        raise ValueError(f"order {list(order)} is not a permutation of 0..{n - 1}")
    pos = [0] * n
    for k, v in enumerate(order):
        pos[int(v)] = k
    return pos


def violations(order: Sequence[int], edges: Iterable[Sequence[int]]) -> list[Edge]:
    """The edges (j, i) that `order` breaks (i placed before j)."""
    pos = _positions(order)
    return [(int(j), int(i)) for j, i in edges if pos[int(j)] > pos[int(i)]]


def respects(order: Sequence[int], edges: Iterable[Sequence[int]]) -> bool:
    """Whether `order` is a topological sort of the DAG (no edge broken)."""
    return not violations(order, edges)


def inversions(order: Sequence[int]) -> int:
    """Kendall distance from the identity order: pairs placed in the opposite order."""
    _positions(order)
    return sum(a > b for k, a in enumerate(order) for b in order[k + 1:])


def transitive_closure(n: int, edges: Iterable[Sequence[int]]) -> tuple[Edge, ...]:
    """Every ordering constraint the edges imply: (j, i) whenever a path leads from j to i."""
    _, after = _closure_masks(n, check_edges(n, edges))
    return tuple((j, i) for j in range(n) for i in _bits(after[j]))


def transitive_reduction(n: int, edges: Iterable[Sequence[int]]) -> tuple[Edge, ...]:
    """The fewest edges with the same closure (the Hasse diagram): an edge is dropped when a
    longer path already implies it."""
    closure = set(transitive_closure(n, edges))
    return tuple((j, i) for j, i in sorted(closure)
                 if not any((j, k) in closure and (k, i) in closure for k in range(n)))


def _reverse_topological(n: int, edges: tuple[Edge, ...]) -> list[int]:
    """Every node after all of its successors (iterative depth-first search)."""
    order, seen, succ = [], [False] * n, _successors(n, edges)
    for root in range(n):
        if seen[root]:
            continue
        seen[root], stack = True, [(root, iter(succ[root]))]
        while stack:
            v, children = stack[-1]
            child = next((i for i in children if not seen[i]), None)
            if child is None:
                order.append(v)
                stack.pop()
            else:
                seen[child] = True
                stack.append((child, iter(succ[child])))
    return order
