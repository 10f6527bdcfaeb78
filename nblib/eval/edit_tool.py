"""The context-editing tool of notebook 11: an edit call that deletes lines of the context,
`<edit>delete 3-7, 9</edit>` (1-based, inclusive ranges, in increasing order, not overlapping),
read into a keep mask and written back from one.

`<edit>delete none</edit>` keeps every line. A call that names a line outside the context, a
range written backwards, overlapping or unordered ranges, or any other text raises `EditError`
before anything is run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

CALL = re.compile(r"^\s*<edit>\s*delete\s+(?P<body>.*?)\s*</edit>\s*$", re.S)
RANGE = re.compile(r"^(?P<a>\d+)(?:\s*-\s*(?P<b>\d+))?$")


class EditError(ValueError):
    """An edit call the tool cannot apply to this context."""


def parse_edit(text: str, n_lines: int) -> list[bool]:
    """The keep mask (one entry per line) an edit call leaves of an `n_lines`-line context."""
    if n_lines < 1:
        raise EditError(f"a context of {n_lines} lines: nothing to edit")
    match = CALL.match(text)
    if match is None:
        raise EditError(f"not an edit call: {text!r} (expected '<edit>delete 3-7, 9</edit>' or "
                        "'<edit>delete none</edit>')")
    body, keep, last = match["body"], [True] * n_lines, 0
    if body == "none":
        return keep
    for part in body.split(","):
        r = RANGE.match(part.strip())
        if r is None:
            raise EditError(f"{part.strip()!r} in {text!r}: a range is 'a-b' or 'a'")
        a = int(r["a"])
        b = int(r["b"]) if r["b"] is not None else a
        if not 1 <= a <= b <= n_lines:
            raise EditError(f"lines {a}-{b} in {text!r}: outside the context's lines 1-{n_lines} "
                            "or written backwards")
        if a <= last:
            raise EditError(f"lines {a}-{b} in {text!r}: ranges must increase and not overlap")
        keep[a - 1:b] = [False] * (b - a + 1)
        last = b
    return keep


def format_edit(keep: Sequence[bool]) -> str:
    """The shortest edit call that leaves `keep`: maximal runs of deleted lines as ranges."""
    ranges, k, n = [], 0, len(keep)
    while k < n:
        if keep[k]:
            k += 1
            continue
        j = k
        while j + 1 < n and not keep[j + 1]:
            j += 1
        ranges.append(f"{k + 1}" if j == k else f"{k + 1}-{j + 1}")
        k = j + 1
    return f"<edit>delete {', '.join(ranges) if ranges else 'none'}</edit>"
