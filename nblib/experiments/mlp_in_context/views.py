"""Notebook 09's views: an example of the task, the widget's action, and the figures. Intervals
are Student-t over seeds (`stats.mean_ci_table`, `plots.mean_band`), clipped to each metric's
range; the compute lives in `experiment`, the statistics in `analysis`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from nblib import plots
from nblib.data.tasks.icl_regression import RegressionTask, dmmse_predict, ridge_predict
from nblib.experiments.mlp_in_context import ICLConfig
from nblib.experiments.mlp_in_context.analysis import excess_long, mlp_vs_transformer
from nblib.experiments.mlp_in_context.experiment import Condition, steps_for, train_condition
from nblib.models.mlp import MLP
from nblib.progress import progress
from nblib.stats import mean_ci_table

MSE_RANGE = (0.0, None)  # an MSE is never negative
EXCESS_RANGE = (-1.0, None)  # MSE / ridge MSE - 1 is never below -1
PREDICTORS = {"mse": "MLP", "dmmse": "dMMSE", "ridge": "ridge", "zero": "context-free (0)"}
DISTRIBUTIONS = {"pool": "pretraining pool", "true": "fresh tasks (true distribution)"}


def describe_task(cfg: ICLConfig, pool_size: int | None = 16, n: int = 4096,
                  seed: int = 0) -> dict:
    """One sequence as a table, and the baselines' MSEs on n held-out sequences of that task."""
    task = RegressionTask(cfg.dim, cfg.context_len, cfg.noise_var, pool_size, pool_seed=seed)
    g = torch.Generator().manual_seed(seed)
    pool = task.pool()
    z, y = task.sample(n, g, pool)  # (n, L, d+1), (n,)
    cols = [f"x{j + 1}" for j in range(cfg.dim)] + ["y"]
    seq = pd.DataFrame(z[0].numpy(), columns=cols,
                       index=[f"point {i + 1}" for i in range(cfg.context_len - 1)] + ["query"])
    seq["target"] = [""] * (cfg.context_len - 1) + [f"{y[0]:.3f}"]
    base = {"context-free (0)": float((y**2).mean()),
            "ridge": float(((ridge_predict(z, cfg.noise_var) - y) ** 2).mean())}
    if pool is not None:
        dmmse = dmmse_predict(z, pool, cfg.noise_var)
        base[f"dMMSE (k={pool_size})"] = float(((dmmse - y) ** 2).mean())
    return {"sequence": seq, "baselines": pd.Series(base, name=f"MSE on the k={pool_size} pool")}


def explore(cfg: ICLConfig, cond: Condition, device: torch.device | str = "cpu") -> dict:
    """The widget's action: train one condition with the sweep's own `train_condition` and show
    its learning curve against the baselines (saved as figure 'explore')."""
    bar = progress(total=steps_for(cfg, cond.model, cond.context_len), desc=f"{cond.model} steps",
                   interactive=True)
    try:
        out = train_condition(cfg, cond, device, on_step=lambda step, _: bar.update(step - bar.n))
    finally:
        bar.close()
    row = out["row"]
    print(f"{cond.model}, L={cond.context_len}, k={cond.pool_size or '∞'}, lr={cond.lr:g}, "
          f"seed {cond.seed}: query MSE {row['mse_true']:.4g} on fresh tasks after "
          f"{row['steps']:,} steps (ridge {row['ridge_true']:.4g})")
    plots.show(plot_learning_curve(out["history"], row, cond), "explore")
    return out


def plot_learning_curve(history: list[dict], row: dict, cond: Condition) -> plt.Figure:
    """One run's held-out MSE along training, with ridge (and dMMSE for a finite pool)."""
    hist = pd.DataFrame(history)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(hist.step, hist.mse_true, "o-", label="network, fresh tasks")
    if cond.pool_size is not None:
        ax.plot(hist.step, hist.mse_pool, "s-", label="network, pretraining pool")
        ax.axhline(row["dmmse_true"], ls=":", c="C2", label="dMMSE, fresh tasks")
    ax.axhline(row["ridge_true"], ls="--", c="k", label="ridge, fresh tasks")
    ax.set(xscale="log", yscale="log", xlabel="training step", ylabel="query MSE",
           title=f"{cond.model}, k={cond.pool_size or '∞'}, L={cond.context_len}, "
                 f"seed {cond.seed}")
    ax.legend(fontsize=8)
    return fig


def _errorbars(ax: plt.Axes, table: pd.DataFrame, order: list, hue: str, hue_order: list,
               dodge: float = 0.0, linestyles: list[str] | None = None) -> None:
    """Means at categorical x positions `order`, one line per `hue`, with their intervals."""
    colors = sns.color_palette(plots.PALETTE)
    for i, name in enumerate(hue_order):
        part = table[table[hue] == name].set_index("x").reindex(order).dropna(subset=["mean"])
        shift = dodge * (i - (len(hue_order) - 1) / 2)
        pos = np.array([order.index(x) for x in part.index]) + shift
        err = [part["mean"] - part["low"], part["high"] - part["mean"]]
        ax.errorbar(pos, part["mean"], yerr=err, color=colors[i % len(colors)], marker="o",
                    capsize=3, ls=(linestyles or ["-"] * len(hue_order))[i], label=name)
    ax.set_xticks(range(len(order)), [str(x) for x in order])


def plot_mse_vs_k(table: pd.DataFrame, cfg: ICLConfig) -> plt.Figure:
    """Figure 1: MLP, dMMSE and ridge MSE against the pool size k, on the pool and on fresh
    tasks, and the context-free predictor on fresh tasks (mean and 95% t-interval over seeds,
    clipped at 0). The MLP at k = ∞ is the headline's MLP run at L = `context_len`."""
    kdata = table[(table.model == "mlp") & (table.context_len == cfg.context_len)]
    cols = [c for d in DISTRIBUTIONS for p in PREDICTORS if (c := f"{p}_{d}") in kdata]
    long = kdata.melt(id_vars=["k", "seed"], value_vars=cols).dropna(subset=["value"])
    long[["predictor", "distribution"]] = long.variable.str.split("_", expand=True)
    long["predictor"] = long.predictor.map(PREDICTORS)
    ks = kdata.drop_duplicates("k").assign(rank=lambda t: t.pool_size.fillna(float("inf")))
    order = list(ks.sort_values("rank").k)  # finite pools ascending, then ∞
    fig, axes = plt.subplots(1, 2, figsize=(8.8, 3.8), sharey=True)
    for ax, (dist, title) in zip(axes, DISTRIBUTIONS.items(), strict=True):
        part = long[long.distribution == dist].rename(columns={"k": "x"})
        ci = mean_ci_table(part, ["predictor", "x"], "value", unit="seed", clip=MSE_RANGE)
        _errorbars(ax, ci, order, "predictor", list(PREDICTORS.values()), dodge=0.08,
                   linestyles=["-", "--", ":", "-."])
        ax.set(yscale="log", xlabel="task pool size k", title=title)
    axes[0].set_ylabel("query MSE (log scale)")
    axes[1].legend(title="predictor", fontsize=8)
    fig.suptitle(f"MLP on in-context regression, d={cfg.dim}, L={cfg.context_len}", y=1.03)
    return fig


def plot_excess_vs_context_length(table: pd.DataFrame, cfg: ICLConfig) -> plt.Figure:
    """Figure 2, the headline: at the same training FLOPs, each network on its own schedule and
    selected rate. Left: relative excess over ridge against L (mean and 95% t-interval over
    seeds, clipped at −1). Right: the paired difference delta = (MSE_mlp − MSE_transformer) /
    MSE_ridge with its 90% interval (the TOST's) and the ±margin equivalence band."""
    lens = sorted(cfg.context_lens)
    long = excess_long(table, lens).rename(columns={"context_len": "x"})
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    ci = mean_ci_table(long, ["model", "x"], "excess", unit="seed", clip=EXCESS_RANGE)
    _errorbars(left, ci, lens, "model", ["mlp", "transformer"], dodge=0.1)
    left.set(xlabel="context length L (points, query included)",
             ylabel="MSE / ridge MSE − 1", title="excess over ridge, same FLOPs")
    left.axhline(0, c="k", lw=0.8, ls="--")
    left.legend(title="network", fontsize=8)
    d = mlp_vs_transformer(table, lens)
    pos = [lens.index(L) for L in d.context_len]
    low, high = d.low90.fillna(d.delta), d.high90.fillna(d.delta)
    right.axhspan(-cfg.margin, cfg.margin, color="C2", alpha=0.15,
                  label=f"equivalence margin ±{cfg.margin:g}")
    right.errorbar(pos, d.delta, yerr=[d.delta - low, high - d.delta], fmt="o", c="k",
                   capsize=3, label="MLP − transformer (90% CI)")
    right.axhline(0, c="k", lw=0.8)
    if cfg.context_len in lens:
        right.axvline(lens.index(cfg.context_len), c="C3", lw=0.8, ls=":", label="headline L")
    right.set_xticks(range(len(lens)), [str(L) for L in lens])
    right.set(xlabel="context length L", ylabel="(MSE_mlp − MSE_tf) / MSE_ridge",
              title="paired difference, TOST")
    right.legend(fontsize=8)
    fig.suptitle(f"MLP vs transformer at {cfg.train_flops:.3g} training FLOPs, d={cfg.dim}",
                 y=1.03)
    return fig


def plot_lr_sweep(tuning: pd.DataFrame) -> plt.Figure:
    """Figure 3: the learning-rate sweep on the tuning seed, held-out MSE against the peak rate,
    one line per L, the selected rate circled (one seed: no interval; it only picks the rate)."""
    nets = [m for m in ("mlp", "transformer") if m in set(tuning.model)]
    fig, axes = plt.subplots(1, len(nets), figsize=(4.6 * len(nets), 3.4), sharey=True,
                             squeeze=False)
    for ax, net in zip(axes[0], nets, strict=True):
        part = tuning[tuning.model == net]
        for i, (L, g) in enumerate(part.groupby("context_len")):
            g = g.sort_values("lr")
            ax.plot(g.lr, g.mse_true, "o-", c=f"C{i}", label=f"L = {L}")
            sel = g[g.selected]
            ax.plot(sel.lr, sel.mse_true, "o", ms=12, mfc="none", c=f"C{i}")
        ax.set(xscale="log", yscale="log", xlabel="peak learning rate", title=net)
    axes[0][0].set_ylabel("held-out MSE, tuning seed")
    axes[0][-1].legend(fontsize=8)
    return fig


def plot_mse_vs_compute(table: pd.DataFrame, history: pd.DataFrame) -> plt.Figure:
    """Figure 4: held-out MSE against training FLOPs (k = ∞, the test runs), one panel per L,
    ridge dashed (mean and 95% t-band over seeds, clipped at 0). Both curves end at the same
    budget; points along a curve are mid-schedule (its rate not yet decayed)."""
    curves = history[history.pool_size.isna() & history.model.isin(["mlp", "transformer"])]
    lens = sorted(curves.context_len.unique())
    fig, axes = plt.subplots(1, len(lens), figsize=(3.8 * len(lens), 3.4), sharey=True,
                             squeeze=False)
    for ax, L in zip(axes[0], lens, strict=True):
        plots.mean_band(ax, curves[curves.context_len == L], "flops", "mse_true", hue="model",
                        unit="seed", clip=MSE_RANGE)
        ridge = table[(table.context_len == L) & table.pool_size.isna()].ridge_true.mean()
        ax.axhline(ridge, ls="--", c="k", lw=1, label="ridge")
        ax.set(xscale="log", yscale="log", xlabel="training FLOPs", ylabel="", title=f"L = {L}")
    axes[0][0].set_ylabel("query MSE, fresh tasks")
    axes[0][-1].legend(fontsize=8)
    return fig


def plot_first_layer(model: MLP, dim: int, context_len: int) -> plt.Figure:
    """Figure 5: first-layer weights, hidden units (sorted by read-out weight) x input entries."""
    W = model.first_layer().detach().numpy()  # (H, L*(d+1))
    readout = model.net[-1].weight.detach().numpy()[0]  # (H,)
    order = np.argsort(readout)
    names = [f"x{j + 1}" for j in range(dim)] + ["y"]
    cols = [f"{'q' if i == context_len - 1 else i + 1}:{n}" for i in range(context_len)
            for n in names]
    fig, ax = plt.subplots(figsize=(10, 5.5))
    lim = np.abs(W).max()
    sns.heatmap(pd.DataFrame(W[order], columns=cols, index=[f"{r:+.2f}" for r in readout[order]]),
                cmap="RdBu_r", vmin=-lim, vmax=lim, ax=ax, cbar_kws={"label": "weight"})
    for i in range(1, context_len):
        ax.axvline(i * (dim + 1), c="k", lw=0.5)
    ax.set(xlabel="input entry (context point : feature; q = query)",
           ylabel="hidden unit (label: its read-out weight)",
           title="one-hidden-layer MLP, first-layer weights")
    return fig
