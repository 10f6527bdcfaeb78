"""Compare the recorded values of two runs of one notebook (e.g. smoke before and after a refactor).

    python benchmarks/compare_metrics.py OLD_RUN_DIR NEW_RUN_DIR

Prints every recorded value that differs (timings, runtime estimates and env aside) and exits 1
if any does: a refactor that changes a number is a bug or a decision to state.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from nblib.record import differences


def main(old_dir: str, new_dir: str) -> int:
    old, new = (json.loads((Path(d) / "metrics.json").read_text()) for d in (old_dir, new_dir))
    found = differences(old, new)
    print("\n".join(found) if found else "identical recorded values (timings aside)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
