"""One seaborn theme for every notebook, and `save(fig, name)` into the run's figures folder."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns

from nblib.record import current_run_dir

PALETTE = "colorblind"


def set_theme() -> None:
    """The project's look: seaborn 'whitegrid', colour-blind palette, readable sizes."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE,
                  rc={"figure.dpi": 100, "savefig.dpi": 130, "savefig.bbox": "tight",
                      "axes.titleweight": "bold", "legend.frameon": False})


def save(fig: plt.Figure, name: str) -> Path:
    """Save `fig` as <run dir>/figures/<name>.png and return the path.

    The runner copies these into the committed figures/<slug>/ for a reference run only, so smoke
    and sweep runs never overwrite the reference figures.
    """
    path = current_run_dir() / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
