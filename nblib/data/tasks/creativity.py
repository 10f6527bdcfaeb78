"""The four algorithmic-creativity tasks of Nagarajan, Wu, Ding & Raghunathan 2025, "Roll the dice &
look before you leap" (arXiv 2504.15266), reimplemented from their description.

Every task produces token strings `HASH q OUTPUT </a>`: a random hash prefix (one token per
character, unique per training example), a query token, and an output naming one object. An object
is *coherent* when it obeys the task's rule against a hidden structure learned from training data;
`canonical(output)` returns the object (permutations of the same object collapse to one key) or
None when the output is incoherent.

- sibling discovery: parents a_i with two sets of children; output `b1 b2 a`, siblings first.
- triangle discovery: a fixed random graph, learned from `edge:` strings; output a triangle
  `u v <sep> v w <sep> w u`.
- circle construction: a cycle through `cycle_len` of the entity tokens, its edges shuffled.
- line construction: the same with a path.

`split(task, ...)` draws distinct objects: training examples (each with a fresh hash) and held-out
objects never trained on. `Vocab` maps tokens to ids; `encode` pads examples into tensors.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

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


def _pairs(output: Sequence[str]) -> list[tuple[str, str]] | None:
    """`u v <sep> w x ...` -> [(u, v), (w, x), ...]; None unless every chunk is exactly two tokens."""
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


def _join(pairs: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    out: list[str] = []
    for i, (u, v) in enumerate(pairs):
        out += ([SEP] if i else []) + [u, v]
    return tuple(out)


# --- sibling discovery --------------------------------------------------------------------------
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


# --- triangle discovery -------------------------------------------------------------------------
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
        triangles = [frozenset((u, v, w)) for u in nodes for v in sorted(adj[u], key=order.get) if order[v] > order[u]
                     for w in sorted(adj[u] & adj[v], key=order.get) if order[w] > order[v]]
        return frozenset(edges), triangles

    def n_objects(self) -> int:
        return len(self.triangles())

    def object_at(self, i: int) -> frozenset[str]:
        return self.triangles()[i]

    def render(self, obj: frozenset[str], rng: random.Random) -> tuple[str, ...]:
        u, v, w = rng.sample(sorted(obj), 3)
        return _join([(u, v), (v, w), (w, u)])

    def canonical(self, output: Sequence[str]) -> Hashable | None:
        pairs = _pairs(output)
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
        return [Example("", EDGE, _join([(a, b), (b, a)]))
                for e in sorted(self.edges(), key=sorted) for a, b in (sorted(e), sorted(e)[::-1])]


@functools.cache
def _graph(task: Triangle) -> tuple[frozenset[frozenset[str]], list[frozenset[str]]]:
    return task.build_graph()


# --- circle and line construction ---------------------------------------------------------------
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
        return _join(pairs)

    def canonical(self, output: Sequence[str]) -> Hashable | None:
        pairs = _pairs(output)
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


TASKS = ("sibling", "triangle", "circle", "line")
Task = Sibling | Triangle | Circle


def make_task(name: str, **sizes) -> Task:
    """A task by name; `sizes` are its size fields."""
    builders = {"sibling": Sibling, "triangle": Triangle, "circle": Circle, "line": Line}
    if name not in builders:
        raise ValueError(f"task={name!r} is not one of {TASKS}")
    return builders[name](**sizes)


# --- train/test split ---------------------------------------------------------------------------
@dataclass
class Split:
    """Training examples and held-out objects of one task, drawn with one seed."""

    task: Task  # the task they come from
    train: list[Example]  # hashed training strings (one per training object) plus extra examples
    train_objects: list[Hashable]  # the object of each hashed training string, in order
    heldout: list[Hashable]  # objects never trained on
    vocab: Vocab  # ids of every token the task uses

    @property
    def train_set(self) -> set[Hashable]:
        return set(self.train_objects)


def split(task: Task, n_train: int, seed: int, hash_lengths: Sequence[int] = (6,),
          n_heldout: int = 0) -> Split:
    """`n_train` distinct objects for training, each rendered with a hash whose length cycles
    through `hash_lengths` (0: no hash), and `n_heldout` further distinct objects held out. Hashes
    are unique where 36^length leaves room (at least 2 * n_train), else they may repeat."""
    if n_train < 1 or n_heldout < 0:
        raise ValueError(f"n_train={n_train} must be >= 1 and n_heldout={n_heldout} >= 0")
    if any(h < 0 for h in hash_lengths) or not hash_lengths:
        raise ValueError(f"hash_lengths={list(hash_lengths)}: need non-negative lengths")
    total = task.n_objects()
    if n_train + n_heldout > total:
        raise ValueError(f"n_train + n_heldout = {n_train + n_heldout} exceeds the {total} distinct "
                         f"objects of {task}")
    rng = random.Random(seed)
    if total <= 200_000 and not isinstance(task, Circle):
        objects = [task.object_at(i) for i in rng.sample(range(total), n_train + n_heldout)]
    else:
        seen: dict[Hashable, None] = {}
        while len(seen) < n_train + n_heldout:
            seen.setdefault(task.sample_object(rng))
        objects = list(seen)
    hashes: set[str] = set()
    train = []
    for i, obj in enumerate(objects[:n_train]):
        length = hash_lengths[i % len(hash_lengths)]
        unique = len(HASH_CHARS) ** length >= 2 * n_train  # short hashes repeat (only 36^length exist)
        h = random_hash(rng, length)
        while unique and h in hashes:
            h = random_hash(rng, length)
        hashes.add(h)
        train.append(Example(h, task.query, task.render(obj, rng)))
    return Split(task, train + task.extra_examples(), objects[:n_train], objects[n_train:],
                 Vocab(task.entities()))


def encode(vocab: Vocab, examples: Sequence[Example], length: int | None = None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (n, length) padded with PAD, and the answer mask (n, length): True on the output
    tokens and the final EOS (what the loss is on)."""
    rows = [vocab.encode(e.tokens()) for e in examples]
    length = length or max(map(len, rows))
    ids = torch.zeros(len(rows), length, dtype=torch.long)  # PAD = 0
    mask = torch.zeros(len(rows), length, dtype=torch.bool)
    for i, (e, row) in enumerate(zip(examples, rows, strict=True)):
        if len(row) > length:
            raise ValueError(f"example of {len(row)} tokens does not fit length {length}")
        ids[i, :len(row)] = torch.tensor(row)
        mask[i, len(e.hash) + 1:len(row)] = True
    return ids, mask


def output_length(task: Task) -> int:
    """Tokens in an output plus EOS (every output of a task has the same length)."""
    rng = random.Random(0)
    return len(task.render(task.sample_object(rng) if isinstance(task, Circle) else task.object_at(0), rng)) + 1
