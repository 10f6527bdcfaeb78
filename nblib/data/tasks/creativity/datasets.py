"""The tasks by name, and the train/held-out split: distinct objects, each training object rendered
once with a fresh hash; `encode` pads examples into tensors."""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import torch

from nblib.data.tasks.creativity.circle import Circle, Line
from nblib.data.tasks.creativity.sibling import Sibling
from nblib.data.tasks.creativity.strings import HASH_CHARS, Example, Vocab, random_hash
from nblib.data.tasks.creativity.triangle import Triangle

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
        raise ValueError(f"n_train + n_heldout = {n_train + n_heldout} exceeds the {total} "
                         f"distinct objects of {task}")
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
        # short hashes repeat (only 36^length exist)
        unique = len(HASH_CHARS) ** length >= 2 * n_train
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
    obj = task.sample_object(rng) if isinstance(task, Circle) else task.object_at(0)
    return len(task.render(obj, rng)) + 1
