"""Notebook 09's views: an example of the task, a runtime estimate, the widget's action and the
first-layer heatmap. The experiment itself lives in nblib.experiments.mlp_in_context."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from nblib.config import replace
from nblib.data.tasks.icl_regression import RegressionTask, dmmse_predict, ridge_predict
from nblib.experiments.mlp_in_context import (
    Condition,
    ICLConfig,
    budget,
    conditions,
    train_condition,
)
from nblib.models.mlp import MLP


def describe_task(cfg: ICLConfig, pool_size: int | None = 16, n: int = 4096, seed: int = 0) -> dict:
    """One sequence as a table, and the baselines' MSEs on n held-out sequences of that task."""
    task = RegressionTask(cfg.dim, cfg.context_len, cfg.noise_var, pool_size, pool_seed=seed)
    g = torch.Generator().manual_seed(seed)
    pool = task.pool()
    z, y = task.sample(n, g, pool)
    cols = [f"x{j + 1}" for j in range(cfg.dim)] + ["y"]
    seq = pd.DataFrame(z[0].numpy(), columns=cols,
                       index=[f"point {i + 1}" for i in range(cfg.context_len - 1)] + ["query"])
    seq["target"] = [""] * (cfg.context_len - 1) + [f"{y[0]:.3f}"]
    base = {"context-free (0)": float((y**2).mean()),
            "ridge": float(((ridge_predict(z, cfg.noise_var) - y) ** 2).mean())}
    if pool is not None:
        base[f"dMMSE (k={pool_size})"] = float(((dmmse_predict(z, pool, cfg.noise_var) - y) ** 2).mean())
    return {"sequence": seq, "baselines": pd.Series(base, name=f"MSE on the k={pool_size} pool")}


def estimate_seconds(cfg: ICLConfig, workers: int = 1, probe_steps: int = 40) -> float:
    """Wall-clock estimate of `run_all`: per-step cost of each network timed on this machine as
    the difference between a 2*probe_steps and a probe_steps run (set-up and evaluation cancel)."""
    def timed(cond: Condition, steps: int) -> float:
        probe = replace(cfg, mlp_steps=steps, transformer_steps=steps, small_mlp_steps=steps,
                        n_evals=2, n_eval=64)
        return train_condition(probe, cond)["row"]["train_s"]

    per_step: dict[tuple, float] = {}
    total = 0.0
    for cond in conditions(cfg):
        key = (cond.model, cond.context_len)
        if key not in per_step:
            probe_cond = Condition(cond.model, None, cond.context_len, 0)
            per_step[key] = max(0.0, timed(probe_cond, 2 * probe_steps) - timed(probe_cond, probe_steps)) / probe_steps
        total += per_step[key] * budget(cfg, cond)[0]
    return total / max(1, workers)


def explore(cfg: ICLConfig, cond: Condition, device: torch.device | str = "cpu") -> dict:
    """Train one condition (the widget's action) and plot its learning curve against the baselines."""
    import matplotlib.pyplot as plt

    out = train_condition(cfg, cond, device)
    hist, row = pd.DataFrame(out["history"]), out["row"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(hist.step, hist.mse_true, "o-", label="network, fresh tasks")
    if cond.pool_size is not None:
        ax.plot(hist.step, hist.mse_pool, "s-", label="network, pretraining pool")
        ax.axhline(row["dmmse_true"], ls=":", c="C2", label="dMMSE, fresh tasks")
    ax.axhline(row["ridge_true"], ls="--", c="k", label="ridge, fresh tasks")
    ax.set(xscale="log", yscale="log", xlabel="training step", ylabel="query MSE",
           title=f"{cond.model}, k={cond.pool_size or '∞'}, L={cond.context_len}, seed {cond.seed}")
    ax.legend(fontsize=8)
    plt.show()
    return out


def plot_first_layer(model: MLP, dim: int, context_len: int):
    """Heatmap of first-layer weights: hidden units (sorted by read-out weight) x input entries."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    W = model.first_layer().detach().numpy()  # (H, L*(d+1))
    readout = model.net[-1].weight.detach().numpy()[0]  # (H,)
    order = np.argsort(readout)
    names = [f"x{j + 1}" for j in range(dim)] + ["y"]
    cols = [f"{'q' if i == context_len - 1 else i + 1}:{n}" for i in range(context_len) for n in names]
    fig, ax = plt.subplots(figsize=(10, 5.5))
    lim = np.abs(W).max()
    sns.heatmap(pd.DataFrame(W[order], columns=cols, index=[f"{r:+.2f}" for r in readout[order]]),
                cmap="RdBu_r", vmin=-lim, vmax=lim, ax=ax, cbar_kws={"label": "weight"})
    for i in range(1, context_len):
        ax.axvline(i * (dim + 1), c="k", lw=0.5)
    ax.set(xlabel="input entry (context point : feature; q = query)",
           ylabel="hidden unit (label: its read-out weight)", title="one-hidden-layer MLP, first-layer weights")
    return fig
