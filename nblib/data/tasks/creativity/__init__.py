"""The four algorithmic-creativity tasks of Nagarajan, Wu, Ding & Raghunathan 2025, "Roll the dice &
look before you leap" (arXiv 2504.15266), reimplemented from their description.

Every task produces token strings `HASH q OUTPUT </a>`: a random hash prefix (one token per
character, unique per training example), a query token, and an output naming one object. An object
is *coherent* when it obeys the task's rule against a hidden structure learned from training data;
`canonical(output)` returns the object (permutations of the same object collapse to one key) or
None when the output is incoherent.

- sibling discovery (`sibling.py`): parents a_i with two sets of children; output `b1 b2 a`.
- triangle discovery (`triangle.py`): a fixed random graph, learned from `edge:` strings; output a
  triangle `u v <sep> v w <sep> w u`.
- circle and line construction (`circle.py`): a cycle (or path) through `cycle_len` of the entity
  tokens, its edges shuffled.

`split(task, ...)` (`datasets.py`) draws distinct objects: training examples (each with a fresh
hash) and held-out objects never trained on. `Vocab` (`strings.py`) maps tokens to ids; `encode`
pads examples into tensors.
"""

from nblib.data.tasks.creativity.circle import Circle, Line
from nblib.data.tasks.creativity.datasets import (
    TASKS,
    Split,
    Task,
    encode,
    make_task,
    output_length,
    split,
)
from nblib.data.tasks.creativity.sibling import Sibling
from nblib.data.tasks.creativity.strings import (
    DUMMY,
    EDGE,
    EOS,
    HASH_CHARS,
    PAD,
    QUERY,
    SEP,
    SPECIALS,
    TRI,
    Example,
    Vocab,
    join_pairs,
    pairs_of,
    random_hash,
)
from nblib.data.tasks.creativity.triangle import Triangle

__all__ = ["DUMMY", "EDGE", "EOS", "HASH_CHARS", "PAD", "QUERY", "SEP", "SPECIALS", "TASKS", "TRI",
           "Circle", "Example", "Line", "Sibling", "Split", "Task", "Triangle", "Vocab", "encode",
           "join_pairs", "make_task", "output_length", "pairs_of", "random_hash", "split"]
