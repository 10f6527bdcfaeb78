"""Documents as model inputs: packed into one stream of fixed windows (training at an exact token
budget), or one padded row each (evaluation that reads a loss per document and per token kind)."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

import torch


def pack(documents: Iterable[Sequence[int]], context: int, n_rows: int,
         start_id: int) -> torch.Tensor:
    """The first `n_rows` windows of context + 1 tokens of the stream `start_id, doc₀, start_id,
    doc₁, ...` (consecutive windows overlap by one token, so each token is a target once):
    (n_rows, context + 1). Draws documents only until the stream is long enough (an endless
    iterable is fine); ValueError if the iterable runs dry first."""
    need, stream = n_rows * context + 1, array("q")
    for doc in documents:
        stream.append(start_id)
        stream.extend(doc)
        if len(stream) >= need:
            break
    if len(stream) < need:
        raise ValueError(f"the documents hold {len(stream)} tokens; {n_rows} windows of context "
                         f"{context} need {need}")
    flat = torch.frombuffer(stream, dtype=torch.int64)[:need].clone()  # (n_rows · context + 1,)
    starts = torch.arange(n_rows) * context  # (n_rows,)
    return flat[starts[:, None] + torch.arange(context + 1)]  # (n_rows, context + 1)


def pad_rows(documents: Sequence[Sequence[int]], start_id: int, pad_id: int,
             labels: Sequence[Sequence[int]] | None = None, fill: int = -1):
    """One row per document, `start_id` first, padded to the longest: ids (n, L + 1) and, given
    per-token `labels` (e.g. token kinds), labels aligned with the targets ids[:, 1:] (n, L),
    `fill` at padding."""
    width = max(len(d) for d in documents) + 1
    ids = torch.full((len(documents), width), pad_id, dtype=torch.long)  # (n, L + 1)
    out = torch.full((len(documents), width - 1), fill, dtype=torch.long)  # (n, L)
    for i, doc in enumerate(documents):
        ids[i, 0] = start_id
        ids[i, 1:len(doc) + 1] = torch.tensor(doc)
        if labels is not None:
            out[i, :len(doc)] = torch.tensor(labels[i])
    return (ids, out) if labels is not None else ids
