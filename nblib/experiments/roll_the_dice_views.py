"""Notebook 16's figures: creativity and memorization over training, and the coherence–creativity
frontier. Every point is a mean over seeds with a 95% t-interval (1.96 · standard error)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from nblib.experiments.roll_the_dice_analysis import at_step, main_curves


def _band(ax, df: pd.DataFrame, x: str, y: str, label: str, colour, **style) -> None:
    stats = df.groupby(x)[y].agg(["mean", "sem"]).reset_index().sort_values(x)
    half = 1.96 * stats["sem"].fillna(0)
    ax.plot(stats[x], stats["mean"], color=colour, label=label, **style)
    ax.fill_between(stats[x], stats["mean"] - half, stats["mean"] + half, color=colour, alpha=0.2, lw=0)


def plot_over_training(metrics: pd.DataFrame, value: str, hash_len: int, temperature: float):
    """`value` (creativity, coherence, ...) against training step: one panel per task, one line per
    objective and decoding."""
    curves = main_curves(metrics, hash_len, temperature)
    tasks = sorted(curves.task.unique())
    conditions = sorted(curves.condition.unique())
    methods = ("temperature", "seed", "both")
    colours = {c: dict(zip(methods, sns.color_palette("colorblind", 3), strict=True))[c.split(" · ")[1]]
               for c in conditions}  # colour: decoding; dashed: NTP
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks), 3.8), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks, strict=True):
        for cond in conditions:
            rows = curves[(curves.task == task) & (curves.condition == cond)]
            dashed = cond.startswith("ntp")
            _band(ax, rows, "step", value, cond, colours[cond], ls="--" if dashed else "-", marker="o", ms=3)
        ax.set(xscale="log", title=task, xlabel="training step")
    axes[0][0].set(ylabel=value)
    axes[0][-1].legend(fontsize=7, title=f"hash length {hash_len}, T = {temperature:g}", title_fontsize=7,
                       loc="upper left", bbox_to_anchor=(1.02, 1.0), handlelength=3)  # outside: curves cross
    return fig


def plot_memorization(metrics: pd.DataFrame):
    """Memorization (training object recalled from its own hash, greedy) against training step."""
    mem = metrics[metrics.method == "memorization"]
    tasks = sorted(mem.task.unique())
    colours = dict(zip(("ntp", "teacherless"), sns.color_palette("colorblind", 2), strict=True))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks), 3.6), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks, strict=True):
        for objective, colour in colours.items():
            _band(ax, mem[(mem.task == task) & (mem.objective == objective)], "step", "memorization", objective,
                  colour, marker="o", ms=3)
        ax.set(xscale="log", title=task, xlabel="training step")
    axes[0][0].set(ylabel="memorization (share of training hashes recalled)")
    axes[0][-1].legend(fontsize=8)
    return fig


def plot_frontier(metrics: pd.DataFrame, hash_len: int):
    """Coherence against creativity at the last step, per task (columns) and objective (rows):
    temperature sampling as T varies, seed-conditioning as the hash length varies, and both
    (longest hash, T varies); each point labelled with its T or hash length."""
    last = at_step(metrics)
    tasks, objectives = sorted(last.task.unique()), sorted(last.objective.unique())
    families = {"temperature (no hash)": (last.method == "temperature", "temperature", "T="),
                "seed-conditioning (greedy)": (last.method == "seed", "hash_len", "h="),
                f"both (hash {hash_len} + T)": (last.method == "both", "temperature", "T=")}
    colours = dict(zip(families, sns.color_palette("colorblind", 3), strict=True))
    fig, axes = plt.subplots(len(objectives), len(tasks), figsize=(4.8 * len(tasks), 3.9 * len(objectives)),
                             squeeze=False, sharex=True, sharey=True)
    for i, objective in enumerate(objectives):
        for j, task in enumerate(tasks):
            ax = axes[i][j]
            for name, (keep, knob, tag) in families.items():
                rows = last[keep & (last.task == task) & (last.objective == objective)]
                stats = rows.groupby(knob)[["coherence", "creativity"]].agg(["mean", "sem"]).sort_index()
                x, y = stats["coherence"]["mean"], stats["creativity"]["mean"]
                ax.errorbar(x, y, xerr=1.96 * stats["coherence"]["sem"].fillna(0),
                            yerr=1.96 * stats["creativity"]["sem"].fillna(0), marker="o", ms=4, capsize=2,
                            color=colours[name], label=name)
                for k, xv, yv in zip(stats.index, x, y, strict=True):
                    ax.annotate(f"{tag}{k:g}", (xv, yv), fontsize=6, xytext=(3, 3), textcoords="offset points")
            ax.set(xlim=(-0.03, 1.03), title=f"{task} · {objective}", xlabel="coherence" if i == len(objectives) - 1 else "",
                   ylabel="creativity" if j == 0 else "")
    axes[0][-1].legend(fontsize=7)
    return fig


def reanalyse(cfg, metrics: pd.DataFrame) -> dict:
    """What the interactive form's button does: the verdicts again, from the recorded metrics, for
    another comparison point (mid_fraction) or equivalence margin (no retraining)."""
    from nblib.experiments.roll_the_dice_analysis import decide

    verdicts = decide(metrics, max(cfg.hash_lengths), cfg.mid_fraction, cfg.match_margin, cfg.main_temperature)
    for name, v in verdicts.items():
        print(f"[{name}] {v}\n")
    return verdicts
