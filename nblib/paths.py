"""Where things live: the repository root, figures, runs, caches and checkpoints.

Works the same from JupyterLab, papermill and pytest: the root is found from the installed
package (an editable install sits in the repository), then from the working directory.
Environment overrides: NBLIB_ROOT (repository root), NBLIB_RUNS (run records), NBLIB_CACHE,
NBLIB_CHECKPOINTS (checkpoints and recorded training runs).
"""

from __future__ import annotations

import os
from pathlib import Path

_MARKER = "pyproject.toml"


def _is_root(path: Path) -> bool:
    return (path / _MARKER).is_file() and (path / "nblib").is_dir()


def repo_root() -> Path:
    """The repository root (the folder holding pyproject.toml and nblib/)."""
    if os.environ.get("NBLIB_ROOT"):
        return Path(os.environ["NBLIB_ROOT"]).resolve()
    package_parent = Path(__file__).resolve().parent.parent
    if _is_root(package_parent):
        return package_parent
    for path in [Path.cwd(), *Path.cwd().parents]:
        if _is_root(path):
            return path
    raise FileNotFoundError("cannot find the nblib repository root; set NBLIB_ROOT")


def notebooks_dir() -> Path:
    return repo_root() / "notebooks"


def profiles_dir(slug: str) -> Path:
    """notebooks/profiles/<slug>/ holding <profile>.yaml overlays."""
    return notebooks_dir() / "profiles" / slug


def runs_dir() -> Path:
    """Root of the run records (papermill_runs/ unless NBLIB_RUNS says otherwise)."""
    return Path(os.environ.get("NBLIB_RUNS") or repo_root() / "papermill_runs")


def figures_dir(slug: str) -> Path:
    """figures/<slug>/: the committed figures of a notebook's reference run."""
    return repo_root() / "figures" / slug


def cache_dir(*parts: str) -> Path:
    """A cache folder (tokenizers, converted models, token streams), created on demand."""
    path = Path(os.environ.get("NBLIB_CACHE") or repo_root() / ".cache").joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def checkpoints_dir(*parts: str) -> Path:
    """checkpoints/<parts>/ (or $NBLIB_CHECKPOINTS/<parts>/), created on demand (git-ignored)."""
    path = Path(os.environ.get("NBLIB_CHECKPOINTS") or repo_root() / "checkpoints").joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
