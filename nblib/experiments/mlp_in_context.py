"""Notebook 09: do MLPs learn in context? (Tong & Pehlevan 2024, arXiv 2405.15618)

The config, the conditions, one training step function shared by the cells and the widget, and the
analysis behind the verdict. Task and baselines: nblib.data.tasks.icl_regression.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

import numpy as np
import pandas as pd
import torch

from nblib.config import ConfigError, param
from nblib.data.tasks.icl_regression import RegressionTask, dmmse_predict, ridge_predict
from nblib.models.mlp import MLP
from nblib.models.set_transformer import SequenceTransformer
from nblib.stats import Estimate, mean_ci, paired, verdict

SLUG = "09_mlp_in_context"
MARGIN = 0.25  # the claim: the MLP's MSE is within 25% of ridge's (relative excess < 0.25)
ICL_MIDPOINT = 0.5  # the IWL->ICL transition: the MLP halfway (in log MSE) from its k=1 to its k=inf MSE


@dataclass(frozen=True)
class ICLConfig:
    """Parameters of notebook 09 (one field per line of its parameters cell)."""

    interactive: bool = param(True, "show widgets and live bars (the runner sets False)")
    seeds: int = param(3, "independent seeds per condition", low=1, high=50)
    device: str = param("auto", "torch device", choices=("auto", "cpu", "cuda"))
    dim: int = param(2, "d, dimension of x and of the task vector w", low=1, high=64)
    noise_var: float = param(0.05, "sigma^2, variance of the label noise", low=0.0, high=10.0)
    context_len: int = param(8, "L of the task-diversity sweep, query included", low=2, high=256)
    pool_sizes: list[int | None] = param([1, 4, 16, 64, 256, None],
                                         "task-diversity sweep: pool sizes k (None: unrestricted)",
                                         item_low=1, item_high=2**20)
    context_lens: list[int] = param([4, 8, 16], "context-length sweep, MLP vs transformer",
                                    item_low=2, item_high=256)
    mlp_width: int = param(128, "hidden units per MLP layer", low=1, high=8192)
    mlp_depth: int = param(3, "hidden layers of the MLP", low=1, high=16)
    mlp_steps: int = param(10000, "training steps of each MLP", low=1, high=10**7)
    mlp_lr: float = param(3e-3, "peak learning rate of the MLPs", low=1e-6, high=1.0)
    transformer_d_model: int = param(32, "transformer width", low=4, high=2048)
    transformer_layers: int = param(2, "transformer blocks", low=1, high=24)
    transformer_heads: int = param(2, "attention heads", low=1, high=32)
    transformer_steps: int = param(2000, "training steps of each transformer", low=1, high=10**7)
    transformer_lr: float = param(1e-3, "peak learning rate of the transformers", low=1e-6, high=1.0)
    small_mlp_width: int = param(32, "hidden units of the one-hidden-layer MLP", low=1, high=4096)
    small_mlp_steps: int = param(10000, "training steps of the one-hidden-layer MLP", low=1, high=10**7)
    batch_size: int = param(128, "sequences per training step", low=1, high=65536)
    warmup_frac: float = param(0.05, "fraction of steps of linear warm-up before cosine decay", low=0.0, high=0.5)
    n_eval: int = param(4096, "held-out sequences per evaluation", low=16, high=10**6)
    n_evals: int = param(8, "evaluations along training (log-spaced steps)", low=2, high=100)

    def check(self) -> None:
        if self.transformer_d_model % self.transformer_heads:
            raise ConfigError(f"parameter transformer_d_model={self.transformer_d_model}: must be divisible "
                              f"by transformer_heads={self.transformer_heads}")
        if None not in self.pool_sizes:
            raise ConfigError(f"parameter pool_sizes={self.pool_sizes}: must include None (unrestricted), "
                              "the condition the verdict is about")
        if self.context_len not in self.context_lens:
            raise ConfigError(f"parameter context_lens={self.context_lens}: must include "
                              f"context_len={self.context_len} so both sweeps share that run")


@dataclass(frozen=True)
class Condition:
    """One training run."""

    model: str = param("mlp", "which network", choices=("mlp", "transformer", "small_mlp"))
    pool_size: int | None = param(None, "task pool size k (None: unrestricted)", low=1, high=2**20)
    context_len: int = param(8, "L, points per sequence with the query", low=2, high=256)
    seed: int = param(0, "seed of the initialisation, the data and the pool", low=0, high=10**6)


def conditions(cfg: ICLConfig) -> list[Condition]:
    """The k sweep (MLP), the L sweep (MLP and transformer, k unrestricted) and the small MLP."""
    out: list[Condition] = []
    for seed in range(cfg.seeds):
        out += [Condition("mlp", k, cfg.context_len, seed) for k in cfg.pool_sizes]
        out += [Condition("mlp", None, L, seed) for L in cfg.context_lens if L != cfg.context_len]
        out += [Condition("transformer", None, L, seed) for L in cfg.context_lens]
        out.append(Condition("small_mlp", None, cfg.context_len, seed))
    return out


def build_model(cfg: ICLConfig, cond: Condition) -> torch.nn.Module:
    row = cfg.dim + 1
    if cond.model == "mlp":
        return MLP(cond.context_len * row, cfg.mlp_width, cfg.mlp_depth)
    if cond.model == "small_mlp":
        return MLP(cond.context_len * row, cfg.small_mlp_width, depth=1)
    return SequenceTransformer(row, cfg.transformer_d_model, cfg.transformer_layers, cfg.transformer_heads)


def flops_per_example(model: torch.nn.Module, cond: Condition) -> float:
    if isinstance(model, SequenceTransformer):
        return model.flops_per_example(cond.context_len)
    return model.flops_per_example()


def budget(cfg: ICLConfig, cond: Condition) -> tuple[int, float]:
    """(steps, peak learning rate) of a condition."""
    if cond.model == "transformer":
        return cfg.transformer_steps, cfg.transformer_lr
    return (cfg.mlp_steps if cond.model == "mlp" else cfg.small_mlp_steps), cfg.mlp_lr


def eval_steps(steps: int, n: int) -> list[int]:
    """n log-spaced steps from ~1% of training to the end (unique, ascending)."""
    return sorted({max(1, round(s)) for s in np.geomspace(max(1, steps / 100), steps, n)})


def lr_at(step: int, steps: int, peak: float, warmup_frac: float) -> float:
    """Linear warm-up, then cosine decay to zero."""
    warm = max(1, int(warmup_frac * steps))
    if step < warm:
        return peak * (step + 1) / warm
    return 0.5 * peak * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))


@torch.no_grad()
def mse(model: torch.nn.Module, z: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    out = float(((model(z).squeeze(-1) - y) ** 2).mean())
    model.train()
    return out


def train_condition(cfg: ICLConfig, cond: Condition, device: torch.device | str = "cpu") -> dict:
    """Train one network, evaluate it and the Bayes baselines on the same held-out sequences.

    Returns {"row": final metrics, "history": [metrics along training], "model": the network}.
    MSEs are on the pool distribution ("pool", the pretraining distribution) and on fresh task
    vectors ("true").
    """
    device = torch.device(device)
    steps, peak_lr = budget(cfg, cond)
    task = RegressionTask(cfg.dim, cond.context_len, cfg.noise_var, cond.pool_size,
                          pool_seed=10_000 + 7919 * cond.seed + (cond.pool_size or 0))
    true_task = RegressionTask(cfg.dim, cond.context_len, cfg.noise_var, None)
    pool = task.pool(device)
    g_eval = torch.Generator().manual_seed(1_000_000 + cond.seed)
    z_true, y_true = true_task.sample(cfg.n_eval, g_eval, device=device)
    z_pool, y_pool = task.sample(cfg.n_eval, g_eval, pool, device) if pool is not None else (z_true, y_true)

    torch.manual_seed(cond.seed)
    model = build_model(cfg, cond).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=peak_lr, weight_decay=0.0)
    g_train = torch.Generator().manual_seed(cond.seed)
    flops_step = flops_per_example(model, cond) * cfg.batch_size
    checkpoints, history, t0 = set(eval_steps(steps, cfg.n_evals)), [], time.perf_counter()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, peak_lr, cfg.warmup_frac)
        z, y = task.sample(cfg.batch_size, g_train, pool, device)  # (B, L, d+1), (B,)
        loss = ((model(z).squeeze(-1) - y) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step + 1 in checkpoints:  # evaluate (and check for divergence) only here: no per-step sync
            history.append(dict(step=step + 1, flops=flops_step * (step + 1),
                                mse_true=mse(model, z_true, y_true), mse_pool=mse(model, z_pool, y_pool)))
            if not math.isfinite(history[-1]["mse_true"]):
                raise FloatingPointError(f"{cond}: held-out MSE became {history[-1]['mse_true']} at step {step + 1}")
    with torch.no_grad():
        base = dict(ridge_true=float(((ridge_predict(z_true, cfg.noise_var) - y_true) ** 2).mean()),
                    ridge_pool=float(((ridge_predict(z_pool, cfg.noise_var) - y_pool) ** 2).mean()),
                    zero_true=float((y_true**2).mean()))
        if pool is not None:
            base["dmmse_true"] = float(((dmmse_predict(z_true, pool, cfg.noise_var) - y_true) ** 2).mean())
            base["dmmse_pool"] = float(((dmmse_predict(z_pool, pool, cfg.noise_var) - y_pool) ** 2).mean())
    row = dict(model=cond.model, pool_size=cond.pool_size, context_len=cond.context_len, seed=cond.seed,
               steps=steps, n_params=sum(p.numel() for p in model.parameters()),
               train_s=time.perf_counter() - t0, **history[-1], **base)
    row.pop("step")  # the last evaluation is at the last step; `flops` is the total
    return {"row": row, "history": [dict(row, **h) for h in history], "model": model}


@dataclass
class Results:
    """Everything the figures and statistics read."""

    table: pd.DataFrame  # one row per condition: final MSEs, baselines, compute
    history: pd.DataFrame  # one row per (condition, evaluation step)
    models: dict = field(default_factory=dict)  # Condition -> trained network


def _train_one(args: tuple) -> dict:
    """Worker entry point: one condition on one thread (processes, not threads, share the cores)."""
    cfg, cond, device = args
    torch.set_num_threads(1)
    out = train_condition(cfg, cond, device)
    out["model"] = out["model"].cpu()
    return out


def run_all(cfg: ICLConfig, device: torch.device | str = "cpu", workers: int = 1, bar=None) -> Results:
    """Train every condition of `conditions(cfg)`; `workers` > 1 trains that many at once in
    separate processes (CPU only). `bar` is an optional progress bar, advanced per condition."""
    conds = conditions(cfg)
    jobs = [(cfg, c, str(device)) for c in conds]
    if workers > 1 and torch.device(device).type == "cpu":
        pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
        outputs = pool.map(_train_one, jobs)
    else:
        pool, outputs = None, (train_condition(*job) for job in jobs)
    rows, hist, models = [], [], {}
    try:
        for cond, out in zip(conds, outputs, strict=True):
            rows.append(out["row"])
            hist += out["history"]
            models[cond] = out["model"].cpu()
            if bar is not None:
                bar.set_postfix_str(f"{cond.model} k={cond.pool_size} L={cond.context_len} seed={cond.seed}")
                bar.update(1)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    table = pd.DataFrame(rows)
    table["k"] = table.pool_size.map(lambda k: "∞" if pd.isna(k) else str(int(k)))
    return Results(table, pd.DataFrame(hist), models)


# ---------------------------------------------------------------- analysis


def unrestricted(table: pd.DataFrame, model: str, L: int) -> pd.DataFrame:
    """Rows of `model` at context length L trained on unrestricted tasks (k = None), by seed."""
    sel = table[(table.model == model) & (table.context_len == L)]
    return sel[sel.pool_size.isna()].sort_values("seed")


def relative_excess(table: pd.DataFrame, model: str, L: int) -> Estimate:
    """MSE / ridge MSE - 1 on the true distribution, k unrestricted, over seeds."""
    rows = unrestricted(table, model, L)
    return mean_ci(rows.mse_true / rows.ridge_true - 1)


def gap_closed(table: pd.DataFrame, model: str, L: int) -> Estimate:
    """Fraction of the gap from the context-free predictor (MSE = E[y^2]) to ridge that is closed."""
    rows = unrestricted(table, model, L)
    return mean_ci((rows.zero_true - rows.mse_true) / (rows.zero_true - rows.ridge_true))


def icl_score(table: pd.DataFrame, L: int) -> pd.DataFrame:
    """Per finite k and seed, where the MLP sits between memorising and generalising, on fresh tasks:
    0 = its MSE at the smallest pool (pure in-weights), 1 = its MSE at k = inf (pure in-context),
    measured in log MSE. (A Bayes-anchored score, dMMSE vs ridge, is ill-posed at small d: a pool of a
    few dozen vectors already covers R^d, so dMMSE ~ ridge while the finite-compute MLP sits above both.)"""
    mlp = table[(table.model == "mlp") & (table.context_len == L)]
    rows = []
    for seed, grp in mlp.groupby("seed"):
        finite = grp.dropna(subset=["pool_size"]).sort_values("pool_size")
        lo = np.log(finite.mse_true.iloc[0])
        hi = np.log(grp[grp.pool_size.isna()].mse_true.iloc[0])
        for _, r in finite.iterrows():
            rows.append(dict(pool_size=r.pool_size, seed=seed, mse_true=r.mse_true, mse_pool=r.mse_pool,
                             dmmse_true=r.dmmse_true, icl_score=(lo - np.log(r.mse_true)) / (lo - hi)))
    return pd.DataFrame(rows)


def transition_k(scores: pd.DataFrame) -> dict[int, float | None]:
    """Per seed: the pool size where the ICL score first crosses ICL_MIDPOINT (log-interpolated).

    None when the sweep never crosses it; the smallest k when it starts above.
    """
    out = {}
    for seed, grp in scores.sort_values("pool_size").groupby("seed"):
        k, s = np.log(grp.pool_size.to_numpy(float)), grp.icl_score.to_numpy()
        above = np.nonzero(s >= ICL_MIDPOINT)[0]
        if len(above) == 0:
            out[int(seed)] = None
        elif above[0] == 0:
            out[int(seed)] = float(np.exp(k[0]))
        else:
            i = above[0]
            frac = (ICL_MIDPOINT - s[i - 1]) / (s[i] - s[i - 1])
            out[int(seed)] = float(np.exp(k[i - 1] + frac * (k[i] - k[i - 1])))
    return out


def matched_compute(history: pd.DataFrame, L: int) -> pd.DataFrame:
    """Per seed, MLP and transformer relative excess over ridge at the same training FLOPs.

    The common budget is the smaller of the two final budgets; each curve is interpolated in
    log(FLOPs) and log(MSE) between its evaluations.
    """
    rows = []
    for seed, grp in history[(history.context_len == L) & history.pool_size.isna()].groupby("seed"):
        curves = {m: g.sort_values("flops") for m, g in grp.groupby("model") if m in ("mlp", "transformer")}
        if len(curves) < 2:
            continue
        budget_flops = min(c.flops.max() for c in curves.values())
        row = dict(seed=seed, context_len=L, flops=budget_flops)
        for m, c in curves.items():
            log_mse = np.interp(np.log(budget_flops), np.log(c.flops), np.log(c.mse_true))
            row[f"{m}_excess"] = math.exp(log_mse) / c.ridge_true.iloc[0] - 1
        rows.append(row)
    return pd.DataFrame(rows)


def mlp_vs_transformer(history: pd.DataFrame, lens: list[int]) -> pd.DataFrame:
    """Paired over seeds at each L: MLP minus transformer relative excess at matched FLOPs."""
    out = []
    for L in lens:
        m = matched_compute(history, L)
        if len(m) >= 2:
            est = paired(m.mlp_excess, m.transformer_excess)
            out.append(dict(context_len=L, flops=m.flops.mean(), mlp_excess=m.mlp_excess.mean(),
                            transformer_excess=m.transformer_excess.mean(), diff=est.value,
                            diff_low=est.low, diff_high=est.high, p_value=est.p_value))
    return pd.DataFrame(out)


def first_layer_structure(model: MLP, dim: int, context_len: int) -> dict[str, float]:
    """How a one-hidden-layer MLP spreads its first-layer weights over the input.

    Input layout per row i: [x_i (dim values), y_i]; the last row is the query (its y is always 0).
    Returns the share of |W| on context x's, context y's and the query x, and the mean cosine
    similarity, per hidden unit, between the weights of different context rows (1 = the unit
    treats all context points alike, as a permutation-invariant code would).
    """
    W = model.first_layer().detach().reshape(-1, context_len, dim + 1)  # (H, L, d+1)
    mass = W.abs()
    total = mass.sum()
    ctx = W[:, :-1, :]  # (H, L-1, d+1)
    unit = ctx / ctx.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    cos = torch.einsum("hid,hjd->hij", unit, unit)  # (H, L-1, L-1)
    off_diag = ~torch.eye(context_len - 1, dtype=torch.bool)
    return dict(share_context_x=float(mass[:, :-1, :-1].sum() / total),
                share_context_y=float(mass[:, :-1, -1].sum() / total),
                share_query_x=float(mass[:, -1, :-1].sum() / total),
                share_query_y=float(mass[:, -1, -1].sum() / total),
                context_row_similarity=float(cos[:, off_diag].mean()))


def decide(table: pd.DataFrame, cfg: ICLConfig):
    """The verdict: is the MLP, trained on unrestricted tasks, within MARGIN of ridge's MSE?"""
    excess = relative_excess(table, "mlp", cfg.context_len)
    gap = gap_closed(table, "mlp", cfg.context_len)
    claim = (f"An MLP trained on unrestricted tasks (d={cfg.dim}, L={cfg.context_len}) predicts the query "
             f"within {MARGIN:.0%} of the Bayes-optimal ridge MSE (relative excess < {MARGIN})")
    return verdict(claim, excess, MARGIN, "<", details=dict(
        gap_closed=gap, mse_mlp=float(unrestricted(table, "mlp", cfg.context_len).mse_true.mean()),
        mse_ridge=float(unrestricted(table, "mlp", cfg.context_len).ridge_true.mean())))
