"""Notebook 09's tables, statistics and verdicts, all read from `run_all`'s results.

Seeds are the unit of replication: every estimate is a mean over the test seeds with its
Student-t interval; MLP-vs-transformer differences are paired by seed (the same held-out
sequences, so the same ridge MSE). "Matches" is an equivalence test: two one-sided tests at
α = 0.05, read off the 90% interval of the paired difference, against the margin the hypothesis
states (`margin`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from nblib.experiments.mlp_in_context import ICLConfig
from nblib.experiments.mlp_in_context.experiment import COMPARED
from nblib.models.mlp import MLP
from nblib.stats import (
    LABELS,
    Estimate,
    Verdict,
    mean_ci_any,
    mean_ci_table,
    paired_any,
    slopes_per_unit,
    tost,
    verdict,
)

HEADLINE = "compute_fair_equivalence"  # the headline verdict's name in the record
TOST_LEVEL = 0.90  # a (1 − 2α) interval: TOST at α = 0.05


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


# --- the compute-fair comparison ------------------------------------------------------------------
def headline_pairs(table: pd.DataFrame, L: int) -> pd.DataFrame:
    """Per seed at context length L: each network's relative excess over ridge and their
    difference, delta = (MSE_mlp − MSE_transformer) / MSE_ridge."""
    mlp, tf = (unrestricted(table, m, L).set_index("seed") for m in COMPARED)
    seeds = mlp.index.intersection(tf.index)
    out = pd.DataFrame({"mlp_excess": mlp.mse_true[seeds] / mlp.ridge_true[seeds] - 1,
                        "transformer_excess": tf.mse_true[seeds] / tf.ridge_true[seeds] - 1})
    out["delta"] = out.mlp_excess - out.transformer_excess
    return out.reset_index().assign(context_len=L)


def equivalence(table: pd.DataFrame, cfg: ICLConfig, L: int, lrs: dict | None = None) -> Verdict:
    """TOST of delta at L against ±margin: SUPPORTED when the 90% interval lies inside it, NOT
    SUPPORTED when it lies wholly beyond one end (the networks differ by more than the margin),
    INCONCLUSIVE otherwise (also with a single seed)."""
    pairs = headline_pairs(table, L)
    e90 = paired_any(pairs.mlp_excess, pairs.transformer_excess, TOST_LEVEL)
    e95 = paired_any(pairs.mlp_excess, pairs.transformer_excess)
    m = cfg.margin
    if np.isfinite(e90.low) and tost(e90, m):
        label = LABELS[0]
    elif e90.low >= m or e90.high <= -m:
        label = LABELS[1]
    else:
        label = LABELS[2]
    better = ("transformer" if e95.low > 0 else "mlp" if e95.high < 0 else "neither")
    steps = unrestricted(table, "mlp", L).steps.iloc[0], \
        unrestricted(table, "transformer", L).steps.iloc[0]
    claim = (f"At L={L} (d={cfg.dim}) and the same training FLOPs ({cfg.train_flops:.3g}), an "
             f"MLP's MSE is within ±{m:g} ridge MSEs of a transformer's (|MSE_mlp − "
             f"MSE_transformer| / MSE_ridge < {m:g}; TOST, 90% CI over seeds)")
    details = dict(ci95=e95, significantly_better=better,
                   mlp_excess=relative_excess(table, "mlp", L),
                   transformer_excess=relative_excess(table, "transformer", L),
                   steps=dict(mlp=int(steps[0]), transformer=int(steps[1])),
                   rule="SUPPORTED iff the 90% CI lies within ±margin; NOT SUPPORTED iff it "
                        "lies wholly beyond +margin or −margin")
    if lrs:
        details["learning_rates"] = {net: lrs[net, L] for net in COMPARED}
    return Verdict(label, claim, e90, m, "within ±", details)


def excess_long(table: pd.DataFrame, lens: list[int]) -> pd.DataFrame:
    """One row per network, L and seed: relative excess over ridge and log2 L."""
    parts = []
    for L in lens:
        p = headline_pairs(table, L)
        for net in COMPARED:
            parts.append(pd.DataFrame(dict(seed=p.seed, context_len=L, model=net,
                                           excess=p[f"{net}_excess"])))
    out = pd.concat(parts, ignore_index=True)
    return out.assign(log2_L=np.log2(out.context_len))


def excess_slopes(table: pd.DataFrame, lens: list[int]) -> dict[str, Estimate]:
    """Per network, the slope of relative excess on log2 L (one least-squares slope per seed,
    t-interval over seeds), and the MLP's minus the transformer's, paired by seed."""
    long = excess_long(table, lens)
    per = {net: slopes_per_unit(long[long.model == net], "log2_L", "excess").sort_index()
           for net in COMPARED}
    out = {net: mean_ci_any(s.to_numpy()) for net, s in per.items()}
    out["difference"] = paired_any(per["mlp"].to_numpy(), per["transformer"].to_numpy())
    return out


def mlp_vs_transformer(table: pd.DataFrame, lens: list[int]) -> pd.DataFrame:
    """Per L: both networks' mean relative excess and delta with its 90% (TOST) and 95% CI."""
    rows = []
    for L in lens:
        p = headline_pairs(table, L)
        e90 = paired_any(p.mlp_excess, p.transformer_excess, TOST_LEVEL)
        e95 = paired_any(p.mlp_excess, p.transformer_excess)
        rows.append(dict(context_len=L, mlp_excess=p.mlp_excess.mean(),
                         transformer_excess=p.transformer_excess.mean(), delta=e90.value,
                         low90=e90.low, high90=e90.high, low95=e95.low, high95=e95.high,
                         p_value=e95.p_value, n=e95.n))
    return pd.DataFrame(rows)


def lr_table(tuning: pd.DataFrame) -> pd.DataFrame:
    """The learning-rate sweep: tuning-seed held-out MSE per network, L and rate, the chosen one
    marked, and whether it sits at an end of the swept range (then a wider sweep is due)."""
    t = tuning[["model", "context_len", "lr", "steps", "mse_true", "selected"]].copy()
    ends = t.groupby(["model", "context_len"]).lr.agg(["min", "max"])
    t["at_edge"] = [bool(s and lr in tuple(ends.loc[(m, L)])) for m, L, lr, s in
                    zip(t.model, t.context_len, t.lr, t.selected, strict=True)]
    return t.sort_values(["model", "context_len", "lr"]).reset_index(drop=True)


# --- the task-diversity sweep ---------------------------------------------------------------------
def icl_score(table: pd.DataFrame, L: int) -> pd.DataFrame:
    """Per finite k and seed: where the MLP sits between its own memorising and generalising
    ends on fresh tasks (0 = its MSE at the smallest pool, 1 = at k = ∞, in log MSE; descriptive),
    and log(MSE_mlp / MSE_dMMSE) on fresh tasks (below 0: better than the Bayes-optimal predictor
    for its pretraining pool, i.e. not explained by memorising the pool)."""
    mlp = table[(table.model == "mlp") & (table.context_len == L)]
    rows = []
    for seed, grp in mlp.groupby("seed"):
        finite = grp.dropna(subset=["pool_size"]).sort_values("pool_size")
        lo = np.log(finite.mse_true.iloc[0])
        hi = np.log(grp[grp.pool_size.isna()].mse_true.iloc[0])
        for _, r in finite.iterrows():
            rows.append(dict(pool_size=r.pool_size, seed=seed, mse_true=r.mse_true,
                             mse_pool=r.mse_pool, dmmse_true=r.dmmse_true,
                             ridge_true=r.ridge_true,
                             icl_score=(lo - np.log(r.mse_true)) / (lo - hi),
                             log_vs_dmmse=np.log(r.mse_true / r.dmmse_true),
                             separation=r.dmmse_true / r.ridge_true))
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


def separated_k(scores: pd.DataFrame, ratio: float) -> float | None:
    """The largest finite k whose dMMSE MSE on fresh tasks is at least `ratio` × ridge's (mean
    over seeds): the largest pool at which memorising and in-context learning can be told apart.
    A property of the task, fixed before any network trains. None when no k separates."""
    sep = scores.groupby("pool_size").separation.mean()
    ok = sep[sep >= ratio]
    return float(ok.index.max()) if len(ok) else None


def transition_verdict(table: pd.DataFrame, cfg: ICLConfig) -> Verdict:
    """At the largest k where the baselines separate, is the MLP better on fresh tasks than the
    pool's Bayes-optimal predictor (log(MSE_mlp / MSE_dMMSE) < 0, 95% CI over seeds)?"""
    scores = icl_score(table, cfg.context_len)
    k = separated_k(scores, cfg.separation)
    if k is None:
        nan = float("nan")
        return Verdict(LABELS[2], f"d={cfg.dim}: no pool size of the sweep separates dMMSE from "
                       f"ridge by {cfg.separation}×, so memorising and in-context learning "
                       "cannot be told apart here", Estimate(nan, nan, nan), 0.0, "<",
                       {"separated_k": None})
    at = scores[scores.pool_size == k]
    claim = (f"Trained on a pool of k={int(k)} tasks (d={cfg.dim}, L={cfg.context_len}, the "
             f"largest pool whose dMMSE is still ≥ {cfg.separation}× ridge on fresh tasks), the "
             "MLP predicts fresh tasks better than the Bayes-optimal predictor for that pool "
             "(log(MSE_mlp / MSE_dMMSE) < 0): it learns in context, beyond memorising the pool")
    return verdict(claim, mean_ci_any(at.log_vs_dmmse), 0.0, "<", dict(
        separated_k=int(k), dmmse_over_ridge=float(at.separation.mean()),
        mse_mlp=float(at.mse_true.mean()), mse_dmmse=float(at.dmmse_true.mean()),
        mse_ridge=float(at.ridge_true.mean())))


def vs_dmmse_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Per finite k: log(MSE_mlp / MSE_dMMSE) on fresh tasks, mean and 95% t-interval over
    seeds, with dMMSE / ridge (how far the baselines are apart there)."""
    ci = mean_ci_table(scores, ["pool_size"], "log_vs_dmmse", unit="seed")
    sep = scores.groupby("pool_size").separation.mean().rename("dmmse_over_ridge")
    return ci.merge(sep.reset_index(), on="pool_size")


# --- the one-hidden-layer MLP ---------------------------------------------------------------------
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
    return pd.DataFrame([dict(seed=c.seed, **first_layer_structure(m, cfg.dim, cfg.context_len))
                         for c, m in sorted(models.items(), key=lambda cm: cm[0].seed)
                         if c.model == "small_mlp"])


def structure_estimates(structure: pd.DataFrame, cfg: ICLConfig) -> dict[str, Estimate]:
    """Each first-layer number as a mean over seeds with its 95% t-interval, and the share of
    |W| the query's x carries per input entry relative to an even spread (1 = no preference)."""
    out = {c: mean_ci_any(structure[c]) for c in structure.columns if c != "seed"}
    even = cfg.dim / (cfg.context_len * (cfg.dim + 1))  # query-x entries / all entries
    out["query_x_share_over_even"] = mean_ci_any(structure.share_query_x / even)
    return out


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds of the final MSEs, ridge, compute and time, per network, k and L."""
    cols = ["lr", "steps", "mse_true", "mse_pool", "ridge_true", "flops", "train_s"]
    return table.groupby(["model", "k", "context_len"], sort=False)[cols].mean()


def score_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """The ICL scores and the MSEs per finite k: mean and standard deviation over seeds."""
    cols = ["icl_score", "log_vs_dmmse", "mse_true", "mse_pool", "dmmse_true"]
    return scores.groupby("pool_size")[cols].agg(["mean", "std"]).round(3)


def statistics(table: pd.DataFrame, cfg: ICLConfig, models: dict) -> dict:
    """Every number the notebook records besides the verdicts, by record key."""
    lens = sorted(cfg.context_lens)
    scores = icl_score(table, cfg.context_len)
    k_star = transition_k(scores, cfg.icl_midpoint)
    excess = {f"{net}_L{L}": relative_excess(table, net, L) for net in COMPARED for L in lens}
    return dict(relative_excess=excess,
                excess_slope_per_doubling=excess_slopes(table, lens),
                mlp_gap_closed=gap_closed(table, "mlp", cfg.context_len),
                transformer_gap_closed=gap_closed(table, "transformer", cfg.context_len),
                small_mlp_gap_closed=gap_closed(table, "small_mlp", cfg.context_len),
                small_mlp_structure=structure_estimates(first_layer_table(models, cfg), cfg),
                transition_k_per_seed=k_star,
                transition_k_geometric_mean=geometric_mean_k(k_star),
                vs_dmmse_by_k=vs_dmmse_table(scores).to_dict("records"),
                mlp_vs_transformer=mlp_vs_transformer(table, lens).to_dict("records"))


def statistics_text(numbers: dict, cfg: ICLConfig) -> str:
    """The statistics as the lines the notebook prints."""
    slopes, s = numbers["excess_slope_per_doubling"], numbers["small_mlp_structure"]
    k_mean = numbers["transition_k_geometric_mean"]
    lines = [f"relative excess over ridge, {key}: {est}"
             for key, est in numbers["relative_excess"].items()]
    lines += [f"slope of relative excess per doubling of L, {net}: {est}"
              for net, est in slopes.items()]
    lines += [f"MLP (k=∞, L={cfg.context_len}), share of the context-free→ridge gap closed: "
              f"{numbers['mlp_gap_closed']}",
              f"{cfg.small_mlp_width}-unit one-hidden-layer MLP, gap closed: "
              f"{numbers['small_mlp_gap_closed']}",
              f"  its |W| share on the query's x: {s['share_query_x']} "
              f"({s['query_x_share_over_even']} × an even spread)",
              f"  on context x's: {s['share_context_x']}; on context y's: "
              f"{s['share_context_y']}",
              f"  cosine between a unit's weights on two context points: "
              f"{s['context_row_similarity']}",
              f"descriptive IWL→ICL k* (own-endpoint score crosses {cfg.icl_midpoint}) per seed: "
              f"{numbers['transition_k_per_seed']}"]
    if k_mean.n >= 2:
        lines.append(f"  geometric mean k* = {k_mean.value:.1f} [{k_mean.low:.1f}, "
                     f"{k_mean.high:.1f}] (95% CI over seeds)")
    return "\n".join(lines)


def invariants(table: pd.DataFrame, tuning: pd.DataFrame, cfg: ICLConfig) -> dict[str, bool]:
    """What must hold at any scale: finite positive MSEs; ridge beats the context-free
    predictor; dMMSE is no worse than ridge on the smallest pool (Bayes-optimal there); both
    compared networks use the context (beat the context-free predictor on fresh tasks, every
    seed); the two spent the same FLOPs within one step of either at every L; every test run's
    rate is its network's selected one; and the tuning seed is none of the test seeds."""
    mse_cols = [c for c in table.columns if c.startswith(("mse_", "ridge_", "dmmse_", "zero_"))]
    values = table[mse_cols].apply(pd.to_numeric, errors="coerce").fillna(1.0)
    smallest = min(k for k in cfg.pool_sizes if k is not None)
    k_min = table[(table.model == "mlp") & (table.pool_size == smallest)]
    nets = {net: pd.concat([unrestricted(table, net, L) for L in cfg.context_lens])
            for net in COMPARED}
    same_flops = True
    for L in cfg.context_lens:
        a, b = (unrestricted(table, net, L) for net in COMPARED)
        one_step = max(a.flops.max() / a.steps.max(), b.flops.max() / b.steps.max())
        same_flops &= bool(abs(a.flops.mean() - b.flops.mean()) <= one_step)
    chosen = tuning[tuning.selected].set_index(["model", "context_len"]).lr
    test_lrs = pd.concat(nets.values()).set_index(["model", "context_len"]).lr
    return {
        "all_mse_finite_positive": bool(np.isfinite(values).all().all()
                                        and (values > 0).all().all()),
        "ridge_beats_context_free": bool((table.ridge_true < table.zero_true).all()),
        "dmmse_beats_ridge_on_smallest_pool": bool((k_min.dmmse_pool
                                                    <= k_min.ridge_pool * 1.001).all()),
        "both_networks_beat_context_free": bool(all((n.mse_true < n.zero_true).all()
                                                    for n in nets.values())),
        "same_training_flops_within_a_step": same_flops,
        "test_runs_use_the_selected_rates": bool((test_lrs == chosen.reindex(test_lrs.index))
                                                 .all()),
        "tuning_seed_is_not_a_test_seed": cfg.tune_seed not in set(table.seed),
    }


def decide(table: pd.DataFrame, cfg: ICLConfig, lrs: dict | None = None) -> dict[str, Verdict]:
    """Every verdict, the headline (`HEADLINE`: equivalence at `context_len`) first: the
    equivalence at each other L, the growth of the MLP's excess with L and its difference from
    the transformer's, the transition where the baselines separate, and the small MLP."""
    lens = sorted(cfg.context_lens)
    out = {HEADLINE: equivalence(table, cfg, cfg.context_len, lrs)}
    for L in lens:
        if L != cfg.context_len:
            out[f"equivalent_at_L{L}"] = equivalence(table, cfg, L, lrs)
    slopes = excess_slopes(table, lens)
    out["mlp_excess_grows_with_L"] = verdict(
        f"At the fixed budget, the MLP's relative excess over ridge grows with L (slope per "
        f"doubling of L > 0, over L = {lens})", slopes["mlp"], 0.0, ">")
    out["mlp_excess_grows_faster"] = verdict(
        "At the fixed budget, the MLP's relative excess grows faster with L than the "
        "transformer's (difference of slopes per doubling of L, paired by seed, > 0): the MLP "
        "needs more compute as L grows", slopes["difference"], 0.0, ">",
        {"mlp_slope": slopes["mlp"], "transformer_slope": slopes["transformer"]})
    out["icl_beyond_pool"] = transition_verdict(table, cfg)
    out["small_mlp_learns_in_context"] = verdict(
        f"A one-hidden-layer MLP of {cfg.small_mlp_width} ReLUs (k=∞, L={cfg.context_len}) "
        f"closes more than {cfg.small_mlp_gap:.0%} of the gap from the context-free predictor "
        "to ridge", gap_closed(table, "small_mlp", cfg.context_len), cfg.small_mlp_gap, ">")
    return out


def closing_line(verdicts: dict[str, Verdict]) -> str:
    """The sentence under the verdicts: each label, and the headline's interval."""
    head = verdicts[HEADLINE]
    e = head.estimate
    labels = "; ".join(f"{name}: {v.label}" for name, v in verdicts.items())
    return (f"headline delta (MSE_mlp − MSE_transformer) / MSE_ridge = {e.value:+.3f} "
            f"[{e.low:+.3f}, {e.high:+.3f}] (90% CI) against ±{head.threshold:g}. {labels}")
