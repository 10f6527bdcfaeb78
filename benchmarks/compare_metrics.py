"""Compare the recorded values of two runs of one notebook (e.g. smoke before and after a refactor).

    python benchmarks/compare_metrics.py OLD_RUN_DIR NEW_RUN_DIR

Prints every recorded value that differs (timings, runtime estimates and env aside) and exits 1
if any does: a refactor that changes a number is a bug or a decision to state.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

IGNORED = ("seconds", "runtime", "duration", "timing", "elapsed", "env")


def _ignored(key: str) -> bool:
    return any(word in key.lower() for word in IGNORED)


def diff(old, new, path: str = "") -> list[str]:
    """Paths (a.b[3].c) where two JSON values differ, ignoring timing keys."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            if _ignored(str(key)):
                continue
            if key not in old or key not in new:
                out.append(f"{path}.{key}: only in {'new' if key not in old else 'old'}")
            else:
                out += diff(old[key], new[key], f"{path}.{key}")
        return out
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{path}: length {len(old)} -> {len(new)}"]
        return [
            d
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for d in diff(a, b, f"{path}[{i}]")
        ]
    if (
        isinstance(old, float)
        and isinstance(new, float)
        and math.isclose(old, new, rel_tol=0, abs_tol=0)
    ):
        return []
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


def main(old_dir: str, new_dir: str) -> int:
    old, new = (json.loads((Path(d) / "metrics.json").read_text()) for d in (old_dir, new_dir))
    differences = diff(old.get("values", {}), new.get("values", {}), "values")
    differences += diff(old.get("verdict"), new.get("verdict"), "verdict")
    print("\n".join(differences) if differences else "identical recorded values (timings aside)")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
