"""Notebook 06's figures and widget. Bands are Student-t 95% intervals over seeds, clipped to the
metric's range (`plots.mean_band`); the compute lives in `experiment`, the forecasts in
`analysis`."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nblib import plots
from nblib.config import ConfigError, param
from nblib.data.tasks.addition import AdditionTask
from nblib.eval.passk import pass_at_k_exact
from nblib.experiments.emergence_passk.analysis import (
    METHOD_NAMES,
    METHODS,
    forecasts,
    per_problem,
    valid,
)
from nblib.stats import mean_ci


def _chance(cfg) -> float:
    return AdditionTask(cfg.digits, cfg.test_problems).chance


def _band(ax, df: pd.DataFrame, y: str, color: str, label: str, **kw) -> None:
    """`plots.mean_band` of `y` against the step in one colour, its line labelled."""
    plots.mean_band(ax, df, "step", y, palette=[color], **kw)
    ax.lines[-1].set_label(label)


def plot_curves(results, cfg, ks=None) -> plt.Figure:
    """Left: greedy exact match, exact pass@1 and exact pass@k for a few k against the step, at
    the headline width, with a blind guess's pass@k (dotted) and the threshold. Right: the
    validation loss with the level at which a homogeneous problem set has pass@1 = threshold."""
    width = cfg.widths[0]
    ks = ks or sorted({cfg.forecast_ks[0], cfg.forecast_ks[len(cfg.forecast_ks) // 2],
                       cfg.forecast_ks[-1]})
    c = results.curves[(results.curves.width == width) & (results.curves.step > 0)]
    p = results.passk[(results.passk.width == width) & (results.passk.step > 0)]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    _band(ax, c, "greedy", "k", "greedy exact match", clip=(0, 1))
    _band(ax, c, "exact", "C3", "exact pass@1", clip=(0, 1))
    for i, k in enumerate(ks):
        color = f"C{i}"
        _band(ax, p[p.k == k], "exact", color, f"exact pass@{k}", clip=(0, 1), marker=".")
        ax.axhline(float(pass_at_k_exact(_chance(cfg), k)), color=color, ls=":", lw=1)
    ax.axhline(cfg.threshold, color="grey", ls="--", lw=1, label=f"threshold {cfg.threshold:g}")
    ax.set(xscale="log", xlabel="optimizer step (log scale)", ylabel="share of test problems",
           ylim=(-0.02, 1.02), title=f"pass@k along training, d_model={width} "
                                     f"({cfg.seeds} seeds, 95% CI; dotted: a blind guess)")
    ax.legend(fontsize=7, loc="upper left")
    _band(bx, c, "val_loss", "C4", "validation loss", clip=(1e-3, None))  # log axis
    bx.axhline(-np.log(cfg.threshold) / (cfg.digits + 2), color="grey", ls="--", lw=1,
               label="loss of pass@1 = threshold (homogeneous problems)")
    bx.set(xscale="log", yscale="log", xlabel="optimizer step (log scale)",
           ylabel="cross-entropy (nats / answer token)", title="validation loss")
    bx.legend(fontsize=7)
    return fig


def plot_forecasts(results, cfg) -> plt.Figure:
    """Each method's absolute forecast error (log step) per seed (dots) with its mean and 95%
    interval over seeds, at the headline width."""
    table = valid(forecasts(results, cfg), cfg.widths[0])
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for i, m in enumerate(METHODS):
        e = table[f"error_{m}"].to_numpy()
        ax.plot(np.full(len(e), i) + np.linspace(-0.1, 0.1, len(e)), e, "o", c=f"C{i}",
                alpha=0.6)
        if len(e) > 1:
            est = mean_ci(e)
            half = (est.value - est.low, est.high - est.value)
            ax.errorbar(i + 0.25, est.value, yerr=[[half[0]], [half[1]]], fmt="D", c=f"C{i}",
                        capsize=4)
    ax.set_xticks(range(len(METHODS)), [METHOD_NAMES[m] for m in METHODS], rotation=15)
    ax.set(ylabel="|forecast − actual| (log step)", ylim=(0, None),
           title=f"forecast error of the {cfg.target} pass@1 = {cfg.threshold:g} crossing "
                 f"({len(table)} seeds, 95% CI)")
    return fig


def plot_emergence_law(results, cfg) -> plt.Figure:
    """Per seed: the step at which exact pass@k crosses the threshold against k, seen in the fit
    window (filled) or extrapolated from it (hollow), the fitted line extrapolated to k = 1, and
    the actual crossing of the target pass@1 (star)."""
    table = forecasts(results, cfg)
    table = table[table.width == cfg.widths[0]]
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, r in enumerate(table.itertuples()):
        if not r.law_points:
            continue
        lk, lt, seen = (np.array(v) for v in zip(*r.law_points, strict=True))
        seen = seen.astype(bool)
        color = f"C{i % 10}"
        ax.plot(np.exp(lk[seen]), np.exp(lt[seen]), "o", c=color, label=f"seed {r.seed}")
        ax.plot(np.exp(lk[~seen]), np.exp(lt[~seen]), "o", mfc="none", c=color)
        slope, intercept = np.polyfit(lk, lt, 1)
        grid = np.linspace(0, lk.max(), 20)
        ax.plot(np.exp(grid), np.exp(intercept + slope * grid), "-", c=color, lw=1)
        if np.isfinite(r.actual):
            ax.plot(1, np.exp(r.actual), "*", c=color, ms=12)
    ax.set(xscale="log", yscale="log", xlabel="k (log scale)",
           ylabel="step of the threshold crossing (log scale)",
           title="emergence law in k to k = 1 (hollow: extrapolated; star: actual)")
    ax.legend(fontsize=7)
    return fig


def plot_per_problem(results, cfg) -> plt.Figure:
    """First seed of the headline width: each problem's exact p at the end of the fit window
    (log scale), split by whether greedy decoding solves it at the crossing."""
    table = forecasts(results, cfg)
    pp = per_problem(results, cfg, table)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    if len(pp):
        r = pp.iloc[0]
        key = (int(r.width), int(r.seed))
        steps = list(results.steps)
        early = results.log_p[key][steps.index(int(r.early_step))] / np.log(10)
        solved = results.greedy[key][steps.index(int(r.later_step))]
        bins = np.linspace(early.min(), max(early.max(), early.min() + 1e-6), 30)
        ax.hist(early[~solved], bins=bins, alpha=0.6, label="not solved later")
        ax.hist(early[solved], bins=bins, alpha=0.6, label="solved later")
        ax.set_title(f"seed {key[1]}: log10 p at step {int(r.early_step)} vs greedy at step "
                     f"{int(r.later_step)} (AUROC {r.auroc:.2f})")
        ax.legend(fontsize=8)
    ax.set(xlabel="log10 exact p of the answer", ylabel="test problems")
    return fig


# ------------------------------------------------------------------ the widget


@dataclass(frozen=True)
class Pick:
    """The widget's choice: a seed and a checkpoint (checked against the run's config)."""

    seed: int = param(0, "a seed of this run")
    step: int = param(0, "a checkpoint step of this run")


def check_pick(cfg, results, seed, step) -> Pick:
    """A Pick, or ConfigError with a one-line message (nothing clamped)."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed not in cfg.seed_list:
        raise ConfigError(f"parameter seed={seed!r}: out of range, allowed "
                          f"[{cfg.seed_list[0]}, {cfg.seed_list[-1]}] (a seed of this run)")
    if step not in results.steps:
        raise ConfigError(f"parameter step={step!r}: not a checkpoint of this run, allowed "
                          f"{list(results.steps)}")
    return Pick(seed, step)


def describe_checkpoint(results, cfg, seed, step) -> dict:
    """The widget's action: at one checkpoint of the headline width, the pass@1 numbers and the
    histogram of the problems' exact log10 p (figure 'explore')."""
    pick = check_pick(cfg, results, seed, step)
    key = (cfg.widths[0], pick.seed)
    row = list(results.steps).index(pick.step)
    lp, gr = results.log_p[key][row], results.greedy[key][row]
    info = {"seed": pick.seed, "step": pick.step, "greedy": float(gr.mean()),
            "exact_pass1": float(np.exp(lp).mean()),
            "median_log10_p": float(np.median(lp) / np.log(10)),
            **{f"exact_pass{k}": float(pass_at_k_exact(np.exp(lp), k).mean())
               for k in cfg.forecast_ks}}
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.hist(lp / np.log(10), bins=30, color="C0")
    ax.axvline(np.log10(_chance(cfg)), color="grey", ls=":", label="a blind guess")
    ax.set(xlabel="log10 exact p of the answer", ylabel="test problems",
           title=f"seed {pick.seed}, step {pick.step}: greedy {info['greedy']:.2f}")
    ax.legend(fontsize=8)
    plots.show(fig, "explore")
    return info


def explorer(results, cfg):
    """A seed box, a checkpoint dropdown and a Show button; a seed outside the run is refused
    with the config's message, never clamped."""
    import ipywidgets as W

    from nblib.widgets import show_panel

    seed = W.IntText(value=cfg.first_seed, description="seed")
    step = W.Dropdown(options=list(results.steps), value=results.steps[-1], description="step")
    return show_panel([seed, step], lambda s, t: describe_checkpoint(results, cfg, s, t))
