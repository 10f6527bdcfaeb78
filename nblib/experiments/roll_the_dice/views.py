"""Notebook 16's figures: creativity and memorization over training, the coherence–creativity
frontier, and the teacherless − NTP gap per endpoint. Every point is a mean over seeds with its
Student-t 95% interval over seeds (the interval the verdicts use), clipped to [0, 1] (every metric
here is a rate)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from nblib.experiments.roll_the_dice.analysis import at_step, decide, main_curves
from nblib.plots import mean_band
from nblib.stats import mean_ci_table

RATE = (0.0, 1.0)  # the range of every metric drawn here


def _band(ax, df: pd.DataFrame, x: str, y: str, hue: str, colour, **style) -> None:
    """One line (the single value of `hue` in `df`) with its t-band over seeds."""
    mean_band(ax, df, x, y, hue=hue, unit="seed", clip=RATE, palette=[colour], **style)


def plot_over_training(metrics: pd.DataFrame, value: str, hash_len: int, temperature: float):
    """`value` (creativity, coherence, ...) against training step: one panel per task, one line per
    objective and decoding."""
    curves = main_curves(metrics, hash_len, temperature)
    tasks = sorted(curves.task.unique())
    conditions = sorted(curves.condition.unique())
    methods = ("temperature", "seed", "both")
    by_method = dict(zip(methods, sns.color_palette("colorblind", 3), strict=True))
    colours = {c: by_method[c.split(" · ")[1]] for c in conditions}  # colour: decoding; --: NTP
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks), 3.8), squeeze=False,
                             sharey=True)
    for ax, task in zip(axes[0], tasks, strict=True):
        for cond in conditions:
            rows = curves[(curves.task == task) & (curves.condition == cond)]
            dashed = cond.startswith("ntp")
            _band(ax, rows, "step", value, "condition", colours[cond], ls="--" if dashed else "-",
                  ms=3)
        ax.set(xscale="log", title=task, xlabel="training step")
    axes[0][0].set(ylabel=value)
    for ax in axes[0][1:]:
        ax.set(ylabel="")
    # outside the axes: the curves cross
    axes[0][-1].legend(fontsize=7, title=f"hash length {hash_len}, T = {temperature:g}",
                       title_fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                       handlelength=3)
    return fig


def plot_memorization(metrics: pd.DataFrame):
    """Memorization (training object recalled from its own hash, greedy) against training step."""
    mem = metrics[metrics.method == "memorization"]
    tasks = sorted(mem.task.unique())
    colours = dict(zip(("ntp", "teacherless"), sns.color_palette("colorblind", 2), strict=True))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks), 3.6), squeeze=False,
                             sharey=True)
    for ax, task in zip(axes[0], tasks, strict=True):
        for objective, colour in colours.items():
            rows = mem[(mem.task == task) & (mem.objective == objective)]
            _band(ax, rows, "step", "memorization", "objective", colour, ms=3)
        ax.set(xscale="log", title=task, xlabel="training step", ylabel="")
    axes[0][0].set(ylabel="memorization (share of training hashes recalled)")
    axes[0][-1].legend(fontsize=8)
    return fig


def merge_labels(xs, ys, values, tag: str, gap: float = 0.06) -> list[tuple[float, float, str]]:
    """Labels of a line's points, (x, y, text), with runs of consecutive points closer than `gap`
    (data units, both axes in [0, 1]) to the run's first point merged into one label at their
    mean ("T=0.5/1/1.5"), so points piled up near one spot do not write over each other."""
    groups: list[list[int]] = []
    for i in range(len(xs)):
        if groups and np.hypot(xs[i] - xs[groups[-1][0]], ys[i] - ys[groups[-1][0]]) < gap:
            groups[-1].append(i)
        else:
            groups.append([i])
    return [(float(np.mean([xs[i] for i in g])), float(np.mean([ys[i] for i in g])),
             tag + "/".join(f"{values[i]:g}" for i in g)) for g in groups]


# where each family writes its labels (points offset, alignment): apart from the other families
LABEL_PLACES = ({"xytext": (4, 4), "ha": "left"}, {"xytext": (4, -9), "ha": "left"},
                {"xytext": (-4, 4), "ha": "right"})


def plot_frontier(metrics: pd.DataFrame, hash_len: int):
    """Coherence against creativity at the last step, per task (columns) and objective (rows):
    temperature sampling as T varies, seed-conditioning as the hash length varies, and both
    (longest hash, T varies); points labelled with their T or hash length, nearby labels of one
    family merged (`merge_labels`) and each family's labels on its own side."""
    last = at_step(metrics)
    tasks, objectives = sorted(last.task.unique()), sorted(last.objective.unique())
    families = {"temperature (no hash)": (last.method == "temperature", "temperature", "T="),
                "seed-conditioning (greedy)": (last.method == "seed", "hash_len", "h="),
                f"both (hash {hash_len} + T)": (last.method == "both", "temperature", "T=")}
    colours = dict(zip(families, sns.color_palette("colorblind", 3), strict=True))
    fig, axes = plt.subplots(len(objectives), len(tasks),
                             figsize=(4.8 * len(tasks), 3.9 * len(objectives)), squeeze=False,
                             sharex=True, sharey=True)
    for i, objective in enumerate(objectives):
        for j, task in enumerate(tasks):
            ax = axes[i][j]
            for place, (name, (keep, knob, tag)) in zip(LABEL_PLACES, families.items(),
                                                        strict=True):
                rows = last[keep & (last.task == task) & (last.objective == objective)]
                x, y = (mean_ci_table(rows, [knob], v, unit="seed", clip=RATE).sort_values(knob)
                        for v in ("coherence", "creativity"))
                ax.errorbar(x["mean"], y["mean"], xerr=[x["mean"] - x.low, x.high - x["mean"]],
                            yerr=[y["mean"] - y.low, y.high - y["mean"]], marker="o", ms=4,
                            capsize=2, color=colours[name], label=name)
                for xv, yv, text in merge_labels(x["mean"].to_numpy(), y["mean"].to_numpy(),
                                                 x[knob].to_numpy(), tag):
                    ax.annotate(text, (xv, yv), fontsize=6, textcoords="offset points",
                                color=colours[name], **place)
            ax.set(xlim=(-0.03, 1.03), title=f"{task} · {objective}",
                   xlabel="coherence" if i == len(objectives) - 1 else "",
                   ylabel="creativity" if j == 0 else "")
    axes[0][-1].legend(fontsize=7)
    return fig


def plot_endpoints(gaps: pd.DataFrame):
    """Teacherless − NTP creativity per endpoint (rows) and task (panels), with the 95%
    t-interval over seeds each verdict is decided on and the seeds behind it; the headline
    filled, the others open; an endpoint no pair of runs reached is marked as such."""
    tasks = list(dict.fromkeys(gaps.task))
    endpoints = list(dict.fromkeys(gaps.endpoint))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 0.5 * len(endpoints) + 1.6),
                             squeeze=False, sharey=True)
    ypos = np.arange(len(endpoints))
    for ax, task in zip(axes[0], tasks, strict=True):
        g = gaps[gaps.task == task].set_index("endpoint").reindex(endpoints)
        for y, (_, r) in zip(ypos, g.iterrows(), strict=True):
            if not np.isfinite(r.value):
                ax.annotate("not reached", (0, y), fontsize=7, ha="center", va="center",
                            color="grey")
                continue
            low, high = (r.low, r.high) if np.isfinite(r.low) else (r.value, r.value)
            ax.errorbar(r.value, y, xerr=[[r.value - low], [high - r.value]], marker="o",
                        ms=6, capsize=3, color="k", mfc="k" if r.headline else "white")
            ax.annotate(f"n={int(r.n)}", (high, y), xytext=(4, 0), textcoords="offset points",
                        fontsize=6, va="center")
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        ax.set(yticks=ypos, yticklabels=[e.replace("_", " ") for e in endpoints], title=task,
               xlabel="creativity, teacherless − NTP")
    axes[0][0].invert_yaxis()  # the axes share y: inverting one inverts all
    return fig


def reanalyse(cfg, metrics: pd.DataFrame) -> dict:
    """What the interactive form's button does: the verdicts again, from the recorded metrics,
    for other analysis settings (comparison point, margin, matching levels; no retraining)."""
    verdicts = decide(metrics, cfg)
    for name, v in verdicts.items():
        print(f"[{name}] {v}\n")
    return verdicts
