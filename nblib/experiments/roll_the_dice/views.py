"""Notebook 16's figures: creativity and memorization over training, and the coherence–creativity
frontier. Every point is a mean over seeds with its Student-t 95% interval over seeds (the
interval the verdicts use), clipped to [0, 1] (every metric here is a rate)."""

from __future__ import annotations

import matplotlib.pyplot as plt
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
    fig, axes = plt.subplots(len(objectives), len(tasks),
                             figsize=(4.8 * len(tasks), 3.9 * len(objectives)), squeeze=False,
                             sharex=True, sharey=True)
    for i, objective in enumerate(objectives):
        for j, task in enumerate(tasks):
            ax = axes[i][j]
            for name, (keep, knob, tag) in families.items():
                rows = last[keep & (last.task == task) & (last.objective == objective)]
                x, y = (mean_ci_table(rows, [knob], v, unit="seed", clip=RATE).sort_values(knob)
                        for v in ("coherence", "creativity"))
                ax.errorbar(x["mean"], y["mean"], xerr=[x["mean"] - x.low, x.high - x["mean"]],
                            yerr=[y["mean"] - y.low, y.high - y["mean"]], marker="o", ms=4,
                            capsize=2, color=colours[name], label=name)
                for k, xv, yv in zip(x[knob], x["mean"], y["mean"], strict=True):
                    ax.annotate(f"{tag}{k:g}", (xv, yv), fontsize=6, xytext=(3, 3),
                                textcoords="offset points")
            ax.set(xlim=(-0.03, 1.03), title=f"{task} · {objective}",
                   xlabel="coherence" if i == len(objectives) - 1 else "",
                   ylabel="creativity" if j == 0 else "")
    axes[0][-1].legend(fontsize=7)
    return fig


def reanalyse(cfg, metrics: pd.DataFrame) -> dict:
    """What the interactive form's button does: the verdicts again, from the recorded metrics,
    for another comparison point (mid_fraction) or equivalence margin (no retraining)."""
    verdicts = decide(metrics, max(cfg.hash_lengths), cfg.mid_fraction, cfg.match_margin,
                      cfg.main_temperature)
    for name, v in verdicts.items():
        print(f"[{name}] {v}\n")
    return verdicts
