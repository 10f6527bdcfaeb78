"""One seaborn theme for every notebook, `save`/`show` into the run's figures folder, and bands
that draw the interval the verdicts use (Student-t over seeds)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from nblib.record import METRICS, current_run_dir, read_json, record
from nblib.stats import mean_ci_table

PALETTE = "colorblind"


def set_theme() -> None:
    """The project's look: seaborn 'whitegrid', colour-blind palette, readable sizes."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE,
                  rc={"figure.dpi": 100, "savefig.dpi": 130, "savefig.bbox": "tight",
                      "axes.titleweight": "bold", "legend.frameon": False})


def caption_of(fig: plt.Figure) -> str:
    """The figure's own title: its suptitle, else its first axes' title, else ''."""
    if fig._suptitle is not None and fig._suptitle.get_text():
        return fig._suptitle.get_text()
    return next((ax.get_title() for ax in fig.axes if ax.get_title()), "")


def save(fig: plt.Figure, name: str, caption: str | None = None) -> Path:
    """Save `fig` as <run dir>/figures/<name>.png and return the path; the run records the
    figures in the order they were made, each with `caption` (default: the figure's title), so
    the report site shows them in the notebook's order.

    The runner copies these into the committed figures/<slug>/ for a reference run only, so smoke
    and sweep runs never overwrite the reference figures.
    """
    run_dir = current_run_dir()
    path = run_dir / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    made = [f for f in read_json(run_dir / METRICS).get("values", {}).get("figures", [])
            if f.get("name") != name]  # a figure made again moves to the end
    record("figures", [*made, {"name": name, "caption": caption or caption_of(fig)}])
    return path


def show(fig: plt.Figure, name: str, caption: str | None = None) -> Path:
    """Save `fig` (as `save` does), show it, and return the saved path."""
    path = save(fig, name, caption)
    plt.show()
    return path


def mean_band(ax: plt.Axes, df: pd.DataFrame, x: str, y: str, *, hue: str | None = None,
              unit: str = "seed", clip: tuple[float | None, float | None] = (None, None),
              level: float = 0.95, palette: Sequence | Mapping | None = None, marker: str = "o",
              label_fmt: str = "{}", **line_kw) -> pd.DataFrame:
    """Mean of `y` against `x` (one line per `hue` value) with the Student-t interval over `unit`
    (the interval a verdict uses, not seaborn's bootstrap), clipped to the metric's range
    `clip`; a group with one unit gets the line without a band. `palette`: colors in hue order,
    or a mapping hue value -> color. Returns the drawn table."""
    table = mean_ci_table(df, [*([hue] if hue else []), x], y, unit=unit, level=level, clip=clip)
    groups = table.groupby(hue, sort=False) if hue else [(None, table)]
    colors = sns.color_palette(PALETTE) if palette is None else palette
    for i, (key, part) in enumerate(groups):
        part = part.sort_values(x)
        color = colors[key] if isinstance(colors, Mapping) else colors[i % len(colors)]
        label = None if key is None else label_fmt.format(key)
        ax.plot(part[x], part["mean"], marker=marker, color=color, label=label, **line_kw)
        ax.fill_between(part[x], part["low"], part["high"], color=color, alpha=0.2, linewidth=0)
    ax.set_xlabel(ax.get_xlabel() or x)
    ax.set_ylabel(ax.get_ylabel() or y)
    return table
