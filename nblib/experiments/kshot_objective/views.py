"""Notebook 04's figures. Every band and error bar is the Student-t 95% interval over seeds (the
interval the verdicts use), clipped to the metric's range: [0, 1] for pass@k, [−1, 1] for a
difference of two pass@k."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from nblib.experiments.kshot_objective.analysis import (
    ALL,
    FAMILIES,
    at_t1,
    mean_curves,
    minimiser_table,
    pareto_boundary,
    points,
    temperature_scaled,
)
from nblib.plots import mean_band
from nblib.stats import mean_ci_any

TITLES = {"modular": "modular addition (one answer, held-out problems)",
          "sibling": "sibling discovery (new valid triplets)"}


def _k_colours(ks) -> dict:
    ks = sorted(ks)
    return dict(zip(ks, sns.color_palette("viridis_r", len(ks)), strict=True))


def _log2_axis(ax, ks) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks)
    ax.set_xticklabels([str(k) for k in ks])


def plot_pass_curves(curves: pd.DataFrame, metric: str = "pass", metric_label: str = "pass@k"):
    """pass@k against k (log x) per task, one curve per training objective: the mean over seeds
    with its Student-t 95% band clipped to [0, 1]; dotted: next-token CE sampled at the extra
    temperatures (means only); dashed black: a blind uniform guess (chance)."""
    tasks = list(dict.fromkeys(curves.task))
    colours = _k_colours(curves.k.unique())
    hot = mean_curves(curves[curves.temperature != 1.0], metric)
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.6 * len(tasks), 4.2), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        rows = at_t1(curves[curves.task == task])
        for k, g in rows.groupby("k"):
            mean_band(ax, g, "pass_k", metric, hue="k", unit="seed", clip=(0.0, 1.0),
                      palette=[colours[k]], label_fmt="k = {}" + (" (CE)" if k == 1 else ""),
                      ms=4, lw=1.8)
        for temp, g in hot[hot.task == task].groupby("temperature"):
            g = g.sort_values("pass_k")
            ax.plot(g.pass_k, g["mean"], lw=1.2, ls=":", color="grey", label=f"CE at T = {temp:g}")
        chance = rows.groupby("pass_k").pass_chance.mean()
        ax.plot(chance.index, chance.to_numpy(), lw=1.4, ls="--", color="black",
                label="uniform guess (chance)")
        _log2_axis(ax, sorted(rows.pass_k.unique()))
        ax.set(ylim=(0, 1.02), xlabel="k (samples per problem)", ylabel=metric_label,
               title=TITLES.get(task, task))
        ax.legend(fontsize=8, title="training loss", title_fontsize=8)
    return fig


def plot_deltas(table: pd.DataFrame):
    """pass@k of each k-shot model minus next-token CE's against k: the mean paired difference
    over seeds with its Student-t 95% interval (the verdict's), clipped to [−1, 1]."""
    tasks = list(dict.fromkeys(table.task))
    colours = _k_colours([1, *table.k.unique()])
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.6 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        rows = table[table.task == task]
        for k, g in rows.groupby("k"):
            g = g.sort_values("pass_k")
            low, high = g.low.clip(-1.0, 1.0), g.high.clip(-1.0, 1.0)
            ax.errorbar(g.pass_k, g.delta, yerr=[g.delta - low, high - g.delta], marker="o",
                        ms=4, capsize=2, color=colours[k], label=f"k = {k}")
        ax.axhline(0, color="black", lw=0.8)
        _log2_axis(ax, sorted(rows.pass_k.unique()))
        ax.set(xlabel="k (samples per problem)", ylabel="pass@k − pass@k of CE",
               title=TITLES.get(task, task))
        ax.legend(fontsize=8, title="training loss", title_fontsize=8)
    return fig


def plot_top1(per_problem: pd.DataFrame):
    """Histogram of the first answer token's top-1 probability on the evaluated problems, per
    training objective (all seeds pooled)."""
    tasks = list(dict.fromkeys(per_problem.task))
    colours = _k_colours(per_problem.k.unique())
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.6 * len(tasks), 3.8), squeeze=False)
    bins = np.linspace(0, 1, 21)
    for ax, task in zip(axes[0], tasks, strict=True):
        rows = per_problem[per_problem.task == task]
        for k, g in rows.groupby("k"):
            ax.hist(g.top1, bins=bins, histtype="step", lw=1.8, density=True, color=colours[k],
                    label=f"k = {k}")
        ax.set(xlabel="top-1 probability of the first answer token", ylabel="density (problems)",
               title=TITLES.get(task, task))
        ax.legend(fontsize=8, title="training loss", title_fontsize=8)
    return fig


def plot_minimisers(found: dict, table: pd.DataFrame, exponent: float):
    """Left: the minimiser p* of the expected k-shot loss against the class rank, for the Zipf
    target q with `exponent` (black), per k; dashed, the temperature scaling of q that does best on
    the same objective. Right: that best temperature against the target's Zipf exponent: no single
    temperature serves every target."""
    ks = sorted(k for (e, k) in found if e == exponent)
    colours = _k_colours(ks)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    q = found[(exponent, ks[0])][0]
    rank = np.arange(1, len(q) + 1)
    left.plot(rank, q, color="black", lw=2.2, marker="o", ms=4, label="target q")
    for k in ks:
        p = found[(exponent, k)][1]
        if k > 1:
            left.plot(rank, p, color=colours[k], lw=1.8, marker="o", ms=3, label=f"p* (k = {k})")
            t = table[(table.zipf == exponent) & (table.k == k)].best_temperature.iloc[0]
            left.plot(rank, temperature_scaled(q, t), color=colours[k], lw=1, ls="--")
    left.set(xscale="log", yscale="log", xlabel="class rank", ylabel="probability",
             title=f"minimiser of E_q[−log(1 − (1 − p_y)^k)], q ∝ rank^−{exponent:g}")
    left.legend(fontsize=8)
    for k, g in table[table.k > 1].sort_values("zipf").groupby("k"):
        right.plot(g.zipf, g.best_temperature, marker="o", color=colours[k], label=f"k = {k}")
    right.set(yscale="log", xlabel="Zipf exponent of the target q (higher: more peaked)",
              ylabel="best temperature T for q^(1/T)",
              title="the temperature that mimics p* depends on q")
    right.legend(fontsize=8)
    return fig


def explore_theory(cfg) -> pd.DataFrame:
    """What the interactive form's button does: the minimiser table and figure for the chosen
    targets and k values (no training)."""
    from IPython.display import display

    table, found = minimiser_table(cfg.theory_classes, cfg.theory_zipf, cfg.theory_ks)
    display(table.round(4))
    fig = plot_minimisers(found, table, cfg.theory_zipf[0])
    plt.show()
    plt.close(fig)
    return table


FAMILY_STYLE = {FAMILIES[0]: dict(color="tab:blue", ls="-", lw=1.4),
                FAMILIES[1]: dict(color="tab:orange", ls="-", lw=1.4),
                FAMILIES[2]: dict(color="tab:green", marker="s", ms=4, ls=":", lw=1),
                FAMILIES[3]: dict(color="tab:purple", marker="D", ms=4, ls="none")}


def _mean_points(pts: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return pts.groupby(by, sort=True)[["pass1", "passK"]].mean().reset_index()


def plot_pareto(trajectory: pd.DataFrame, task: str, pass_k: int):
    """pass@pass_k against pass@1 (exact, mean over seeds): the CE model's temperature curve and
    its mixture with a uniform guess (ε from 0 at CE to 1 at chance), the CE model's earlier
    checkpoints and the label-smoothed models at T = 1; the frontier of all baselines (black,
    from the seed means); each k-shot model at its last step with Student-t 95% intervals over
    seeds on both axes (clipped to [0, 1]), and its path over training (thin)."""
    pts = points(trajectory[trajectory.task == task], pass_k)
    base, mine = pts[pts.kind != "kshot"], pts[pts.kind == "kshot"]
    t1 = np.isclose(pts.setting, 1.0) & (pts.sampling == "temperature")
    fig, ax = plt.subplots(figsize=(7.2, 5.2))
    curve = _mean_points(base[base.kind == FAMILIES[0]], ["setting"])
    ax.plot(curve.pass1, curve.passK, label="CE, sampling temperature T",
            **FAMILY_STYLE[FAMILIES[0]])
    for t in (0.5, 2.0, 4.0):
        row = curve[np.isclose(curve.setting, t)]
        if len(row):
            ax.annotate(f"T={t:g}", (row.pass1.iloc[0], row.passK.iloc[0]), fontsize=7,
                        xytext=(4, -8), textcoords="offset points", color="tab:blue")
    curve = _mean_points(base[base.kind == FAMILIES[1]], ["setting"])
    ax.plot(curve.pass1, curve.passK, label="CE mixed with a uniform guess (ε)",
            **FAMILY_STYLE[FAMILIES[1]])
    for eps in (0.5, 0.9):
        row = curve[np.isclose(curve.setting, eps)]
        if len(row):
            ax.annotate(f"ε={eps:g}", (row.pass1.iloc[0], row.passK.iloc[0]), fontsize=7,
                        xytext=(4, 4), textcoords="offset points", color="tab:orange")
    chance = curve[np.isclose(curve.setting, 1.0)]
    ax.plot(chance.pass1, chance.passK, marker="*", ms=12, color="black", ls="none",
            label="uniform guess (chance, ε = 1)", zorder=6)
    early = _mean_points(base[(base.kind == FAMILIES[2]) & t1[base.index]], ["step"])
    ax.plot(early.pass1, early.passK, label="CE, earlier checkpoints (T = 1)",
            **FAMILY_STYLE[FAMILIES[2]])
    smooth = _mean_points(base[(base.kind == FAMILIES[3]) & t1[base.index] & base["last"]],
                          ["smoothing"])
    ax.plot(smooth.pass1, smooth.passK, label="label-smoothed CE (T = 1)",
            **FAMILY_STYLE[FAMILIES[3]])
    for _, row in smooth.iterrows():
        ax.annotate(f"α={row.smoothing:g}", (row.pass1, row.passK), fontsize=7, xytext=(4, 4),
                    textcoords="offset points", color="tab:purple")
    every = _mean_points(base, ["model", "step", "sampling", "setting"])
    xs, ys = pareto_boundary(every.pass1, every.passK)
    ax.plot(np.r_[0, xs, xs[-1]], np.r_[ys[0], ys, 0], color="black", lw=1, ls="--",
            label=f"frontier of {ALL} (seed means)")
    colours = _k_colours([1, *mine.k.unique()])
    for k, g in mine.groupby("k"):
        g = g[t1[g.index]]
        path = _mean_points(g, ["step"])
        ax.plot(path.pass1, path.passK, color=colours[k], lw=0.8, alpha=0.6)
        last = g[g["last"]]
        x, y = mean_ci_any(last.pass1), mean_ci_any(last.passK)
        (xl, xh), (yl, yh) = np.clip([x.low, x.high], 0, 1), np.clip([y.low, y.high], 0, 1)
        ax.errorbar([x.value], [y.value], xerr=[[x.value - xl], [xh - x.value]],
                    yerr=[[y.value - yl], [yh - y.value]], marker="o", ms=7, capsize=3,
                    color=colours[k], label=f"k-shot loss, k = {k}", zorder=5)
    ax.set_xlim(left=0)
    ax.set(ylim=(0, 1.02), xlabel="pass@1 (exact)",
           ylabel=f"pass@{pass_k} (exact)",
           title=f"{TITLES.get(task, task)}: pass@1 against pass@{pass_k}")
    ax.legend(fontsize=7, loc="lower right")
    return fig
