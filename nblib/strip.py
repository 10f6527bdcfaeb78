"""Notebooks as committed: what a session in JupyterLab adds is stripped before git stores it.

Outputs, execution counts, widget state, papermill's and JupyterLab's per-cell metadata go; cell
tags stay; kernelspec and language_info are written as the project commits them. Git runs this as
the clean filter of every notebook (`make setup` configures it; `.gitattributes` names it):

    git config filter.nblib-strip.clean ".venv/bin/python -m nblib.strip"

so a notebook run and saved in JupyterLab leaves `git diff` clean after `git add`.
"""

from __future__ import annotations

import json
import sys

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}
NOTEBOOK_KEYS = ("nblib",)  # notebook metadata kept besides kernelspec and language_info
CELL_KEYS = ("tags",)  # cell metadata kept


def strip(nb: dict) -> dict:
    """The notebook as committed (a new dict; `nb` is the parsed .ipynb JSON)."""
    meta = nb.get("metadata", {})
    out = {**nb, "metadata": {"kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO,
                              **{k: meta[k] for k in NOTEBOOK_KEYS if k in meta}}}
    cells = []
    for cell in nb.get("cells", []):
        kept = {k: v for k, v in cell.get("metadata", {}).items() if k in CELL_KEYS}
        cell = {**cell, "metadata": kept}
        if cell.get("cell_type") == "code":
            cell.update(outputs=[], execution_count=None)
        cells.append(cell)
    out["cells"] = cells
    return out


def dumps(nb: dict) -> str:
    """JSON the way the project's notebooks are written (and JupyterLab writes them)."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    """stdin -> stdout, as git's clean filter calls it; text that is not JSON passes unchanged."""
    text = sys.stdin.read()
    try:
        nb = json.loads(text)
    except json.JSONDecodeError:
        sys.stdout.write(text)
        return 0
    sys.stdout.write(dumps(strip(nb)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
