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
from nblib.experiments.mlp_in_context.analysis import matched_compute
from nblib.experiments.mlp_in_context.experiment import Condition, train_condition
from nblib.models.mlp import MLP
from nblib.stats import mean_ci_table

MSE_RANGE = (0.0, None)  # an MSE is never negative
EXCESS_RANGE = (-1.0, None)  # MSE / ridge MSE - 1 is never below -1
PREDICTORS = {"mse": "MLP", "dmmse": "dMMSE", "ridge": "ridge"}
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
    out = train_condition(cfg, cond, device)
    plots.show(plot_learning_curve(out["history"], out["row"], cond), "explore")
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
    tasks (mean and 95% t-interval over seeds, clipped at 0)."""
    kdata = table[(table.model == "mlp") & (table.context_len == cfg.context_len)]
    cols = [c for d in DISTRIBUTIONS for p in PREDICTORS if (c := f"{p}_{d}") in kdata]
    long = kdata.melt(id_vars=["k", "seed"], value_vars=cols).dropna(subset=["value"])
    long[["predictor", "distribution"]] = long.variable.str.split("_", expand=True)
    long["predictor"] = long.predictor.map(PREDICTORS)
    order = list(kdata.k.unique())
    fig, axes = plt.subplots(1, 2, figsize=(8.8, 3.8), sharey=True)
    for ax, (dist, title) in zip(axes, DISTRIBUTIONS.items(), strict=True):
        part = long[long.distribution == dist].rename(columns={"k": "x"})
        ci = mean_ci_table(part, ["predictor", "x"], "value", unit="seed", clip=MSE_RANGE)
        _errorbars(ax, ci, order, "predictor", list(PREDICTORS.values()), dodge=0.08,
                   linestyles=["-", "--", ":"])
        ax.set(yscale="log", xlabel="task pool size k", title=title)
    axes[0].set_ylabel("query MSE (log scale)")
    axes[1].legend(title="predictor", fontsize=8)
    fig.suptitle(f"MLP on in-context regression, d={cfg.dim}, L={cfg.context_len}", y=1.03)
    return fig


def excess_tables(table: pd.DataFrame, history: pd.DataFrame,
                  lens: list[int]) -> dict[str, pd.DataFrame]:
    """Per seed, each network's relative excess over ridge (k = ∞) at its full budget and at
    matched training FLOPs, by context length."""
    nets = table.pool_size.isna() & table.model.isin(["mlp", "transformer"])
    final = table[nets].assign(excess=lambda t: t.mse_true / t.ridge_true - 1)
    matched = pd.concat([matched_compute(history, L) for L in lens]).melt(
        id_vars=["seed", "context_len"], value_vars=["mlp_excess", "transformer_excess"],
        var_name="model", value_name="excess")
    matched["model"] = matched.model.str.removesuffix("_excess")
    return {"each at its full budget": final, "at matched training FLOPs": matched}


def plot_excess_vs_context_length(table: pd.DataFrame, history: pd.DataFrame,
                                  cfg: ICLConfig) -> plt.Figure:
    """Figure 2: excess MSE over ridge against L, MLP vs transformer, at full and at matched
    compute (mean and 95% t-interval over seeds, clipped at -1)."""
    lens = sorted(cfg.context_lens)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, (title, data) in zip(axes, excess_tables(table, history, lens).items(), strict=True):
        ci = mean_ci_table(data.rename(columns={"context_len": "x"}), ["model", "x"], "excess",
                           unit="seed", clip=EXCESS_RANGE)
        _errorbars(ax, ci, lens, "model", ["mlp", "transformer"], dodge=0.2)
        ax.set(yscale="log", xlabel="context length L (points, query included)", title=title)
    axes[0].set_ylabel("MSE / ridge MSE − 1 (log)")
    axes[0].legend(title="model", fontsize=8)
    return fig


def plot_mse_vs_compute(table: pd.DataFrame, history: pd.DataFrame) -> plt.Figure:
    """Figure 3: held-out MSE against training FLOPs (k = ∞), one panel per L, ridge dashed
    (mean and 95% t-band over seeds, clipped at 0)."""
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
    """Figure 4: first-layer weights, hidden units (sorted by read-out weight) x input entries."""
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
