"""Creativity metrics of Nagarajan et al. 2025 over decoded objects.

Each sample is reduced to its object with the task's `canonical` (None when incoherent; the
permutations of one object collapse to one key). Over n samples:

- coherence: share of samples that are coherent;
- originality: share of the coherent samples whose object is not in the training set;
- creativity: |unique coherent original objects| / n  (the paper's cr_n);
- diversity: |unique coherent objects| / n  (originality ignored);
- memorization: share of training prompts (their own hash) whose output is their training object.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import torch

Canonical = Callable[[Sequence[str]], Hashable | None]


def to_objects(rows: torch.Tensor, decode: Callable[[Sequence[int]], list[str]],
               canonical: Canonical,
               stop: str) -> list[Hashable | None]:
    """Generated ids (n, steps) -> one object or None per row; a row must end with `stop`."""
    objects = []
    for row in rows.tolist():
        tokens = decode(row)
        objects.append(canonical(tokens[:tokens.index(stop)]) if stop in tokens else None)
    return objects


def creativity_scores(objects: Sequence[Hashable | None], train_set: set) -> dict[str, float]:
    """coherence, originality, creativity and diversity of a list of decoded objects."""
    n = len(objects)
    if n == 0:
        raise ValueError("no samples to score")
    coherent = [o for o in objects if o is not None]
    original = [o for o in coherent if o not in train_set]
    return {"coherence": len(coherent) / n,
            "originality": len(original) / len(coherent) if coherent else float("nan"),
            "creativity": len(set(original)) / n,
            "diversity": len(set(coherent)) / n}


def memorization(objects: Sequence[Hashable | None], targets: Sequence[Hashable]) -> float:
    """Share of training prompts whose decoded object is exactly their training object."""
    if len(objects) != len(targets) or not targets:
        raise ValueError("need one decoded object per target, "
                         f"got {len(objects)} and {len(targets)}")
    return sum(o == t for o, t in zip(objects, targets, strict=True)) / len(targets)
