"""Notebook 01's figures and its interactive step. Every interval drawn is the Student-t 95%
interval over seeds (the verdicts' interval), losses clipped at 0."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

from nblib import plots
from nblib.experiments.warm_start_distillation.analysis import SCRATCH, deltas, per_budget
from nblib.stats import mean_ci_table

LOSS_RANGE = (0.0, None)  # a cross-entropy is never negative


def _log_x(ax) -> None:
    """Log x axis labelled at 1 and 3 times powers of ten (all minor labels collide over a
    narrow range)."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 3.0)))
    ax.xaxis.set_major_formatter(LogFormatterSciNotation(labelOnlyBase=False))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _colours(conditions) -> dict:
    kd = [c for c in dict.fromkeys(conditions) if c != SCRATCH]
    return {SCRATCH: "black", **dict(zip(kd, sns.color_palette("tab10", len(kd)), strict=True))}


def plot_loss_vs_compute(final: pd.DataFrame, teacher_loss: float):
    """Held-out loss against compute per condition (mean over seeds, Student-t 95% interval over
    seeds), against the student's FLOPs and against total FLOPs (teacher forward passes
    included); the teacher's loss dashed."""
    colours = _colours(final.condition)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    for ax, x, label in ((axes[0], "student_flops", "student training FLOPs"),
                         (axes[1], "total_flops", "total FLOPs (student + teacher forward)")):
        for condition, g in final.groupby("condition", sort=False):
            t = mean_ci_table(g, ["tpp"], "loss", unit="seed", clip=LOSS_RANGE).merge(
                g.groupby("tpp", as_index=False)[x].mean(), on="tpp")
            ax.errorbar(t[x], t["mean"], yerr=np.vstack([t["mean"] - t.low, t.high - t["mean"]]),
                        marker="o", ms=4, capsize=2, color=colours[condition],
                        lw=1.8 if condition == SCRATCH else 1.2, label=condition)
        ax.axhline(teacher_loss, color="grey", ls="--", lw=1, label="teacher (mean over seeds)")
        _log_x(ax)
        ax.set(xlabel=label)
    axes[0].set(ylabel="held-out loss (nats/token)")
    axes[1].legend(fontsize=8, title="condition")
    return fig


def plot_delta_vs_compute(final: pd.DataFrame, reach_teacher: float):
    """Distilled minus scratch loss at matched compute per condition (mean over seeds, Student-t
    95% interval over seeds), for both matchings; below 0 distillation wins. Dotted: the compute
    at which scratch reaches the teacher's loss."""
    colours = _colours(final.condition)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), sharey=True)
    for ax, matching in zip(axes, ("student", "total"), strict=True):
        table = per_budget(deltas(final, matching))
        groups = list(table.groupby("condition", sort=False))
        for i, (condition, g) in enumerate(groups):
            yerr = np.vstack([g.delta - g.low, g.high - g.delta])
            dodge = 1.04 ** (i - (len(groups) - 1) / 2)  # conditions side by side per budget
            ax.errorbar(g.compute * dodge, g.delta, yerr=np.nan_to_num(yerr), marker="o", ms=4,
                        capsize=2, color=colours[condition], label=condition)
        ax.axhline(0, color="black", lw=0.8)
        if np.isfinite(reach_teacher):
            ax.axvline(reach_teacher, color="grey", ls=":", lw=1.2,
                       label="scratch reaches the teacher's loss")
        _log_x(ax)
        ax.set(xlabel=f"{matching} FLOPs", title=f"matched on {matching} FLOPs")
    axes[0].set(ylabel="Δ loss: distilled − scratch (nats/token)")
    axes[1].legend(fontsize=8)
    return fig


def plot_curves(curves: pd.DataFrame, kd_end: dict[str, float], teacher_loss: float):
    """Held-out loss along the largest-budget run of each condition (mean over seeds, Student-t
    95% band over seeds); a dotted line in the condition's colour where its distillation phase
    ends."""
    colours = _colours(curves.condition)
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    plots.mean_band(ax, curves, "tokens", "loss", hue="condition", unit="seed", clip=LOSS_RANGE,
                    palette=[colours[c] for c in dict.fromkeys(curves.condition)], marker="")
    for condition, tokens in kd_end.items():
        if np.isfinite(tokens):
            ax.axvline(tokens, color=colours[condition], ls=":", lw=1.2)
    ax.axhline(teacher_loss, color="grey", ls="--", lw=1, label="teacher")
    _log_x(ax)
    ax.set(xlabel="training tokens", ylabel="held-out loss (nats/token)",
           title="largest budget: dotted lines mark where each KD phase ends")
    ax.legend(fontsize=8)
    return fig


def explore(cfg, device="cpu") -> pd.DataFrame:
    """What the interactive form's button does: train the chosen conditions and budgets for the
    first seed (runs already recorded are loaded) and show each one's loss against scratch's."""
    from IPython.display import display

    from nblib.config import replace
    from nblib.experiments.warm_start_distillation import experiment
    from nblib.progress import progress

    cfg = replace(cfg, seeds=1)
    teachers = experiment.run_teachers(cfg, device)
    bar = progress(total=len(experiment.student_jobs(cfg)), desc="student runs", interactive=True)
    final, _ = experiment.run_students(cfg, device, bar=bar)
    bar.close()
    table = per_budget(deltas(final, "total"))[["condition", "tpp", "compute", "delta"]]
    print(f"teacher loss {teachers.loss.iloc[0]:.3f}; Δ = distilled − scratch at matched total "
          f"FLOPs (seed {cfg.first_seed}):")
    display(table.pivot(index="tpp", columns="condition", values="delta").round(4))
    fig = plot_loss_vs_compute(final, teachers.loss.mean())
    plt.show()
    plt.close(fig)
    return table
