"""Notebook 09's tables, statistics and verdict, all read from `run_all`'s table and history.

Seeds are the unit of replication: every estimate is a mean over seeds with its Student-t
interval, and MLP-vs-transformer differences are paired by seed (same held-out sequences).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from nblib.experiments.mlp_in_context import ICLConfig
from nblib.models.mlp import MLP
from nblib.stats import Estimate, Verdict, mean_ci_any, paired, verdict

HEADLINE = "mlp_near_ridge"  # the verdict's name in the record


def unrestricted(table: pd.DataFrame, model: str, L: int) -> pd.DataFrame:
    """Rows of `model` at context length L trained on unrestricted tasks (k = None), by seed."""
    sel = table[(table.model == model) & (table.context_len == L)]
    return sel[sel.pool_size.isna()].sort_values("seed")


def relative_excess(table: pd.DataFrame, model: str, L: int) -> Estimate:
    """MSE / ridge MSE - 1 on the true distribution, k unrestricted, over seeds."""
    rows = unrestricted(table, model, L)
    return mean_ci_any(rows.mse_true / rows.ridge_true - 1)


def gap_closed(table: pd.DataFrame, model: str, L: int) -> Estimate:
    """Fraction of the gap from the context-free predictor (MSE = E[y^2]) to ridge that is
    closed."""
    rows = unrestricted(table, model, L)
    return mean_ci_any((rows.zero_true - rows.mse_true) / (rows.zero_true - rows.ridge_true))


def icl_score(table: pd.DataFrame, L: int) -> pd.DataFrame:
    """Per finite k and seed, where the MLP sits between memorising and generalising, on fresh
    tasks: 0 = its MSE at the smallest pool (pure in-weights), 1 = its MSE at k = inf (pure
    in-context), measured in log MSE. (A Bayes-anchored score, dMMSE vs ridge, is ill-posed at
    small d: a pool of a few dozen vectors already covers R^d, so dMMSE ~ ridge while the
    finite-compute MLP sits above both.)"""
    mlp = table[(table.model == "mlp") & (table.context_len == L)]
    rows = []
    for seed, grp in mlp.groupby("seed"):
        finite = grp.dropna(subset=["pool_size"]).sort_values("pool_size")
        lo = np.log(finite.mse_true.iloc[0])
        hi = np.log(grp[grp.pool_size.isna()].mse_true.iloc[0])
        for _, r in finite.iterrows():
            rows.append(dict(pool_size=r.pool_size, seed=seed, mse_true=r.mse_true,
                             mse_pool=r.mse_pool, dmmse_true=r.dmmse_true,
                             icl_score=(lo - np.log(r.mse_true)) / (lo - hi)))
    return pd.DataFrame(rows)


def transition_k(scores: pd.DataFrame, midpoint: float = 0.5) -> dict[int, float | None]:
    """Per seed: the pool size where the ICL score first crosses `midpoint` (log-interpolated).

    None when the sweep never crosses it; the smallest k when it starts above.
    """
    out = {}
    for seed, grp in scores.sort_values("pool_size").groupby("seed"):
        k, s = np.log(grp.pool_size.to_numpy(float)), grp.icl_score.to_numpy()
        above = np.nonzero(s >= midpoint)[0]
        if len(above) == 0:
            out[int(seed)] = None
        elif above[0] == 0:
            out[int(seed)] = float(np.exp(k[0]))
        else:
            i = above[0]
            frac = (midpoint - s[i - 1]) / (s[i] - s[i - 1])
            out[int(seed)] = float(np.exp(k[i - 1] + frac * (k[i] - k[i - 1])))
    return out


def geometric_mean_k(k_star: dict[int, float | None]) -> Estimate:
    """Geometric mean over the seeds whose score crossed, with the t-interval taken in log2 k."""
    log_k = mean_ci_any(np.log2([k for k in k_star.values() if k is not None]))
    return Estimate(2**log_k.value, 2**log_k.low, 2**log_k.high, log_k.level, log_k.n)


def matched_compute(history: pd.DataFrame, L: int) -> pd.DataFrame:
    """Per seed, MLP and transformer relative excess over ridge at the same training FLOPs.

    The common budget is the smaller of the two final budgets; each curve is interpolated in
    log(FLOPs) and log(MSE) between its evaluations.
    """
    rows = []
    unrestricted_l = history[(history.context_len == L) & history.pool_size.isna()]
    for seed, grp in unrestricted_l.groupby("seed"):
        curves = {m: g.sort_values("flops") for m, g in grp.groupby("model")
                  if m in ("mlp", "transformer")}
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


def first_layer_structure(model: MLP | torch.Tensor, dim: int, context_len: int) -> dict:
    """How a one-hidden-layer MLP (or its first-layer weights, (H, L*(d+1))) spreads its
    first-layer weights over the input.

    Input layout per row i: [x_i (dim values), y_i]; the last row is the query (its y is always
    0). Returns the share of |W| on context x's, context y's and the query x, and the mean cosine
    similarity, per hidden unit, between the weights of different context rows (1 = the unit
    treats all context points alike, as a permutation-invariant code would).
    """
    W = model.first_layer() if isinstance(model, MLP) else model
    W = W.detach().reshape(-1, context_len, dim + 1)  # (H, L, d+1)
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


def first_layer_table(models: dict, cfg: ICLConfig) -> pd.DataFrame:
    """`first_layer_structure` of every one-hidden-layer MLP, one row per seed."""
    return pd.DataFrame([first_layer_structure(m, cfg.dim, cfg.context_len)
                         for c, m in models.items() if c.model == "small_mlp"])


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds of the final MSEs, ridge, compute and time, per network, k and L."""
    cols = ["mse_true", "mse_pool", "ridge_true", "flops", "train_s"]
    return table.groupby(["model", "k", "context_len"], sort=False)[cols].mean()


def score_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """The ICL score and the MSEs per finite k: mean and standard deviation over seeds."""
    cols = ["icl_score", "mse_true", "mse_pool", "dmmse_true"]
    return scores.groupby("pool_size")[cols].agg(["mean", "std"]).round(3)


def statistics(table: pd.DataFrame, history: pd.DataFrame, cfg: ICLConfig) -> dict:
    """Every number the notebook records besides the verdict, by record key."""
    scores = icl_score(table, cfg.context_len)
    k_star = transition_k(scores, cfg.icl_midpoint)
    return dict(mlp_relative_excess=relative_excess(table, "mlp", cfg.context_len),
                mlp_gap_closed=gap_closed(table, "mlp", cfg.context_len),
                small_mlp_gap_closed=gap_closed(table, "small_mlp", cfg.context_len),
                transition_k_per_seed=k_star,
                transition_k_geometric_mean=geometric_mean_k(k_star),
                icl_score_by_k=scores.groupby("pool_size").icl_score.mean().to_dict(),
                mlp_vs_transformer=mlp_vs_transformer(history, sorted(cfg.context_lens))
                .to_dict("records"))


def statistics_text(numbers: dict, cfg: ICLConfig) -> str:
    """The statistics as the lines the notebook prints."""
    k_mean = numbers["transition_k_geometric_mean"]
    lines = [f"MLP, k=∞, L={cfg.context_len}: relative excess over ridge "
             f"{numbers['mlp_relative_excess']}",
             f"MLP, fraction of the context-free→ridge gap closed: {numbers['mlp_gap_closed']}",
             f"{cfg.small_mlp_width}-unit one-hidden-layer MLP, gap closed: "
             f"{numbers['small_mlp_gap_closed']}",
             f"IWL→ICL transition k* (score crosses {cfg.icl_midpoint}) per seed: "
             f"{numbers['transition_k_per_seed']}"]
    if k_mean.n >= 2:
        lines.append(f"  geometric mean k* = {k_mean.value:.1f} [{k_mean.low:.1f}, "
                     f"{k_mean.high:.1f}] (95% CI over seeds)")
    return "\n".join(lines)


def invariants(table: pd.DataFrame, cfg: ICLConfig) -> dict[str, bool]:
    """What must hold at any scale: finite positive MSEs, ridge beats the context-free
    predictor, dMMSE is no worse than ridge on the smallest pool (Bayes-optimal there), and the
    MLP uses the context (beats the context-free predictor on fresh tasks for every seed)."""
    mse_cols = [c for c in table.columns if c.startswith(("mse_", "ridge_", "dmmse_", "zero_"))]
    values = table[mse_cols].fillna(1.0)
    smallest = min(k for k in cfg.pool_sizes if k is not None)
    k_min = table[(table.model == "mlp") & (table.pool_size == smallest)]
    mlp = unrestricted(table, "mlp", cfg.context_len)
    return {
        "all_mse_finite_positive": bool(np.isfinite(values).all().all()
                                        and (values > 0).all().all()),
        "ridge_beats_context_free": bool((table.ridge_true < table.zero_true).all()),
        "dmmse_beats_ridge_on_smallest_pool": bool((k_min.dmmse_pool
                                                    <= k_min.ridge_pool * 1.001).all()),
        "mlp_beats_context_free": bool((mlp.mse_true < mlp.zero_true).all()),
    }


def decide(table: pd.DataFrame, cfg: ICLConfig) -> Verdict:
    """The verdict: is the MLP, trained on unrestricted tasks, within `margin` of ridge's MSE?"""
    excess = relative_excess(table, "mlp", cfg.context_len)
    gap = gap_closed(table, "mlp", cfg.context_len)
    rows = unrestricted(table, "mlp", cfg.context_len)
    claim = (f"An MLP trained on unrestricted tasks (d={cfg.dim}, L={cfg.context_len}) predicts "
             f"the query within {cfg.margin:.0%} of the Bayes-optimal ridge MSE (relative "
             f"excess < {cfg.margin})")
    return verdict(claim, excess, cfg.margin, "<", details=dict(
        gap_closed=gap, mse_mlp=float(rows.mse_true.mean()),
        mse_ridge=float(rows.ridge_true.mean())))


def closing_line(numbers: dict) -> str:
    """The sentence under the verdict: the gap closed and the transition per seed."""
    gap = numbers["mlp_gap_closed"]
    return (f"the MLP closes {gap.value:.1%} [{gap.low:.1%}, {gap.high:.1%}] of the gap from "
            f"the context-free predictor to ridge; transition k* per seed: "
            f"{numbers['transition_k_per_seed']}")
