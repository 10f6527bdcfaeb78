"""Notebook 10's tables, statistics and verdicts, read from `run_all`'s results.

Seeds are the unit of replication and every comparison is paired by seed (same data order, same
init of every shared-shape weight). The endpoint of every verdict is the test loss (nats/token)
at the last step. "Matches" is an equivalence test: two one-sided tests at α = 0.05, read off the
90% interval of the paired difference, against `margin`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from nblib.experiments.mla_vs_mha import MLAConfig
from nblib.experiments.mla_vs_mha.experiment import (
    calibration_mla,
    mla_name,
    plan,
    variant_specs,
)
from nblib.stats import (
    LABELS,
    Estimate,
    Verdict,
    above_zero_or_not,
    mean_ci_any,
    mean_ci_table,
    paired_any,
    tost,
    verdict,
    weighted_bootstrap,
)

HEADLINE = "mla_matches_mha"
CALIBRATION = "calibration_factored_mha_vs_mha_heads"
TOST_LEVEL = 0.90  # a (1 − 2α) interval: TOST at α = 0.05
MECHANISMS = {"mha_big_qk": "larger query-key head", "mha_partial_rope": "partial RoPE",
              "mha_mla_heads": "larger head + partial RoPE", "mqa": "KV sharing (MQA)",
              "gqa": "KV sharing (GQA)"}


def losses(table: pd.DataFrame, variant: str) -> pd.Series:
    """Test loss by seed of one variant."""
    return table[table.variant == variant].set_index("seed").test_loss.sort_index()


def paired_difference(table: pd.DataFrame, a: str, b: str, level: float = 0.95) -> Estimate:
    """Mean over seeds of loss(a) − loss(b), paired by seed."""
    la, lb = losses(table, a), losses(table, b)
    seeds = la.index.intersection(lb.index)
    return paired_any(la[seeds].to_numpy(), lb[seeds].to_numpy(), level)


def equivalence(table: pd.DataFrame, a: str, b: str, margin: float, claim: str,
                details: dict | None = None) -> Verdict:
    """TOST of loss(a) − loss(b): SUPPORTED when the 90% interval lies inside ±margin, NOT
    SUPPORTED when it lies wholly beyond one end, INCONCLUSIVE otherwise (also with one seed)."""
    e90 = paired_difference(table, a, b, TOST_LEVEL)
    e95 = paired_difference(table, a, b)
    if np.isfinite(e90.low) and tost(e90, margin):
        label = LABELS[0]
    elif e90.low >= margin or e90.high <= -margin:
        label = LABELS[1]
    else:
        label = LABELS[2]
    better = b if e95.low > 0 else a if e95.high < 0 else "neither"
    return Verdict(label, claim, e90, margin, "within ±",
                   {"ci95": e95, "significantly_better": better, **(details or {}),
                    "rule": "SUPPORTED iff the 90% CI lies within ±margin; NOT SUPPORTED iff it "
                            "lies wholly beyond +margin or −margin"})


def equal_cache_gqa(cfg: MLAConfig) -> tuple[str, str] | None:
    """(MLA variant, grouped variant) with the same KV cache per token, the MLA of the smallest
    such rank; None when no grouped variant's cache equals an MLA's."""
    specs = variant_specs(cfg)
    for r in sorted(cfg.mla_ranks):
        cache = specs[mla_name(r)].cache_per_token()
        for name, spec in specs.items():
            if spec.kind == "grouped" and name != "mha" and spec.cache_per_token() == cache:
                return mla_name(r), name
    return None


def share(table: pd.DataFrame, control: str, mla: str, seed: int = 0) -> Estimate:
    """The share of MLA's difference from MHA a control reproduces: Σ(L_c − L_mha) /
    Σ(L_mla − L_mha) over seeds, percentile bootstrap over seeds (a ratio of paired sums)."""
    mha = losses(table, "mha")
    dc, dm = losses(table, control) - mha, losses(table, mla) - mha
    seeds = dc.dropna().index.intersection(dm.dropna().index)
    dc, dm = dc[seeds].to_numpy(), dm[seeds].to_numpy()
    if len(seeds) < 2:
        value = float(dc.sum() / dm.sum()) if len(seeds) and dm.sum() else float("nan")
        return Estimate(value, float("nan"), float("nan"), 0.95, len(seeds))
    with np.errstate(divide="ignore", invalid="ignore"):  # a resample with Σ = 0 has no share
        return weighted_bootstrap(lambda w: (w @ dc) / (w @ dm), len(seeds), seed=seed)


def mechanism_verdicts(table: pd.DataFrame, cfg: MLAConfig, calibration: str) -> dict:
    """Per control: does it reproduce more than `share_claim` of MLA(headline)'s difference from
    MHA? Decided on the bootstrap interval of the share; INCONCLUSIVE, whatever the share, when
    MLA's own difference from MHA is not distinguishable from 0 (nothing to apportion)."""
    mla = mla_name(cfg.headline_rank)
    gap = paired_difference(table, mla, "mha")
    gap_known = bool(gap.low > 0 or gap.high < 0)
    out = {}
    for control in [c for c in cfg.controls if c in MECHANISMS]:
        est = share(table, control, mla)
        claim = (f"{MECHANISMS[control]} ({control}) reproduces more than "
                 f"{cfg.share_claim:.0%} of {mla}'s test-loss difference from MHA "
                 f"(share = Σ(L_control − L_mha) / Σ(L_mla − L_mha) over seeds)")
        details = {"mla_minus_mha": gap, "control_minus_mha": paired_difference(
            table, control, "mha"), "calibration": calibration}
        if not gap_known:
            out[f"share_{control}"] = Verdict(
                LABELS[2], claim, est, cfg.share_claim, ">",
                {**details, "reason": "MLA's difference from MHA has a 95% CI that includes 0: "
                                      "no difference to apportion"})
        else:
            out[f"share_{control}"] = verdict(claim, est, cfg.share_claim, ">", details)
    return out


def decide(table: pd.DataFrame, cfg: MLAConfig) -> dict[str, Verdict]:
    """The calibration, then the pre-registered verdicts: (1) MLA(headline) matches MHA; (2) MLA
    beats GQA at equal KV cache; (3) the share each mechanism control reproduces."""
    cal = equivalence(table, calibration_mla(cfg), "mha_mla_heads", cfg.margin,
                      f"Calibration: the MLA code path with MHA's function class (full-width "
                      f"latent {cfg.d_model}, a rope key per head, no latent norm: "
                      f"{calibration_mla(cfg)}) matches MHA with the same head layout "
                      f"(mha_mla_heads) within ±{cfg.margin:g} nats (TOST, 90% CI over seeds)")
    mla = mla_name(cfg.headline_rank)
    out = {CALIBRATION: cal}
    out[HEADLINE] = equivalence(
        table, mla, "mha", cfg.margin,
        f"MLA (kv_lora_rank {cfg.headline_rank}) matches MHA at matched parameters: test loss "
        f"within ±{cfg.margin:g} nats/token (TOST, 90% CI over paired seeds)",
        {"calibration": cal.label})
    pair = equal_cache_gqa(cfg)
    if pair is not None:
        m, g = pair
        out["mla_beats_gqa_at_equal_cache"] = above_zero_or_not(
            f"MLA ({m}) beats {g} at the same KV cache per token: L_{g} − L_{m} > 0 (95% CI "
            f"over paired seeds; NOT SUPPORTED when the interval lies below +{cfg.margin:g})",
            paired_difference(table, g, m), cfg.margin,
            {"cache_per_token": variant_specs(cfg)[m].cache_per_token(),
             "calibration": cal.label})
    out.update(mechanism_verdicts(table, cfg, cal.label))
    return out


# ------------------------------------------------------------------ tables and statistics


def decomposition_path(cfg: MLAConfig) -> list[tuple[str, str, str]]:
    """(what changes, from, to) from MHA to the headline MLA, one design choice per step; the
    steps' paired differences add up to L_mla − L_mha exactly, seed by seed."""
    d, ablations = cfg.d_model, cfg.mla_ablations
    plain, full = calibration_mla(cfg), mla_name(d)
    path = [("head layout: qk head + rope_dim, partial RoPE", "mha", "mha_mla_heads"),
            ("W_K, W_V factored through a full-width latent (the calibration)",
             "mha_mla_heads", plain)]
    if "headrope" in ablations:
        middle = mla_name(d, ablation="headrope")
        path += [("RMSNorm on the latent", plain, middle),
                 ("one rope key shared by every head", middle, full)]
    elif "nonorm" in ablations:
        middle = mla_name(d, ablation="nonorm")
        path += [("one rope key shared by every head", plain, middle),
                 ("RMSNorm on the latent", middle, full)]
    else:
        path.append(("shared rope key and latent norm (DeepSeek's MLA)", plain, full))
    if cfg.headline_rank != d:
        path.append((f"latent bottleneck {d} → {cfg.headline_rank}", full,
                     mla_name(cfg.headline_rank)))
    return path


def decomposition(table: pd.DataFrame, cfg: MLAConfig) -> pd.DataFrame:
    """Per step of `decomposition_path`: L_to − L_from, mean and 95% CI over paired seeds."""
    rows = []
    for what, a, b in decomposition_path(cfg):
        e = paired_difference(table, b, a)
        rows.append(dict(step=what, source=a, target=b, value=e.value, low=e.low, high=e.high,
                         n=e.n))
    return pd.DataFrame(rows)


def summary_table(table: pd.DataFrame, cfg: MLAConfig) -> pd.DataFrame:
    """Per variant: cache, parameters, selected rate, test loss (mean, 95% CI over seeds) and the
    paired difference to MHA."""
    p = plan(cfg).set_index("variant")
    ci = mean_ci_table(table, ["variant"], "test_loss", unit="seed").set_index("variant")
    rows = []
    for v in p.index:
        d = paired_difference(table, v, "mha") if v != "mha" else None
        rows.append(dict(variant=v, cache_per_token=int(p.loc[v, "cache_per_token"]),
                         params_non_embedding=int(p.loc[v, "params_non_embedding"]),
                         lr=float(table[table.variant == v].lr.iloc[0]),
                         test_loss=ci.loc[v, "mean"], low=ci.loc[v, "low"],
                         high=ci.loc[v, "high"],
                         minus_mha=d.value if d else 0.0, minus_mha_low=d.low if d else 0.0,
                         minus_mha_high=d.high if d else 0.0))
    return pd.DataFrame(rows)


def lr_table(tuning: pd.DataFrame) -> pd.DataFrame:
    """The sweep: tuning-seed validation loss per variant and rate, the chosen rate marked, and
    whether it sits at an end of the swept range (then a wider sweep is due)."""
    t = tuning[["variant", "lr", "val_loss", "selected"]].copy()
    ends = t.groupby("variant").lr.agg(["min", "max"])
    t["at_edge"] = [bool(sel and len(set(ends.loc[v])) > 1 and lr in tuple(ends.loc[v]))
                    for v, lr, sel in zip(t.variant, t.lr, t.selected, strict=True)]
    return t.sort_values(["variant", "lr"]).reset_index(drop=True)


def ranking_stability(history: pd.DataFrame) -> dict:
    """Kendall's tau between the variants' ranking by validation loss halfway through training
    (the evaluation nearest the middle step) and at the end: on the means over seeds, and per
    seed then averaged. Near 1: the order was settled by half-time (out of the transients);
    low: the endpoint ranks variants by how fast they escaped early transients."""
    val = history.dropna(subset=["val_loss"]) if "val_loss" in history else history.iloc[:0]
    steps = sorted(val.step.unique())
    if len(steps) < 2:
        return {"steps": [int(s) for s in steps], "tau_mean": float("nan"),
                "tau_per_seed": float("nan")}
    last = steps[-1]
    mid = min(steps[:-1], key=lambda s: abs(s - last / 2))
    a, b = val[val.step == mid], val[val.step == last]

    def tau(x, y):
        m = x.groupby("variant").val_loss.mean().align(y.groupby("variant").val_loss.mean())
        return float(sps.kendalltau(*m).statistic)

    per_seed = [tau(a[a.seed == s], b[b.seed == s]) for s in sorted(a.seed.unique())]
    return {"steps": [int(mid), int(last)], "tau_mean": tau(a, b),
            "tau_per_seed": float(np.nanmean(per_seed))}


def seed_spread(table: pd.DataFrame) -> dict:
    """Standard deviation over seeds of the test loss (per variant, averaged) and of the paired
    difference to MHA: how much the pairing removes."""
    sd = table.groupby("variant").test_loss.std().mean()
    mha = losses(table, "mha")
    paired = [(losses(table, v) - mha).std() for v in table.variant.unique() if v != "mha"]
    return {"unpaired_sd": float(sd), "paired_difference_sd": float(np.nanmean(paired))}


def rank_summary(ranks: pd.DataFrame) -> pd.DataFrame:
    """Per variant and layer: width and effective rank of the key-value source (mean, 95% CI)."""
    ci = mean_ci_table(ranks, ["variant", "layer"], "effective_rank", unit="seed")
    width = ranks.groupby(["variant", "layer"]).width.first().reset_index()
    r90 = ranks.groupby(["variant", "layer"]).rank90.mean().reset_index()
    return ci.merge(width, on=["variant", "layer"]).merge(r90, on=["variant", "layer"])


def truncation_table(truncation: pd.DataFrame, table: pd.DataFrame,
                     cfg: MLAConfig) -> pd.DataFrame:
    """Per rank r: the trained MHA truncated to r (no fine-tuning) and, where trained, MLA at
    latent rank r from scratch, each minus the trained MHA's loss (mean and 95% CI over seeds)."""
    mha = losses(table, "mha")
    t = truncation.assign(excess=truncation.test_loss - truncation.seed.map(mha))
    rows = []
    for r, g in t.groupby("rank"):
        e = mean_ci_any(g.excess.to_numpy())
        row = dict(rank=int(r), truncated_mha=e.value, truncated_low=e.low, truncated_high=e.high)
        if mla_name(int(r)) in set(table.variant):
            m = paired_difference(table, mla_name(int(r)), "mha")
            row.update(mla_trained=m.value, mla_low=m.low, mla_high=m.high)
        rows.append(row)
    return pd.DataFrame(rows)


def statistics(results, cfg: MLAConfig, unigram: float) -> dict:
    """Every number the notebook records besides the verdicts, by record key."""
    table = results.table
    return {"summary": summary_table(table, cfg).to_dict("records"),
            "decomposition": decomposition(table, cfg).to_dict("records"),
            "ranking_stability": ranking_stability(results.history),
            "seed_spread": seed_spread(table),
            "unigram_test_loss": unigram,
            "effective_ranks": rank_summary(results.ranks).to_dict("records"),
            "truncation": truncation_table(results.truncation, table, cfg).to_dict("records"),
            "entropy": mean_ci_table(results.entropy, ["variant"], "entropy_ratio",
                                     unit="seed").to_dict("records")}


def invariants(results, cfg: MLAConfig, unigram: float) -> dict[str, bool]:
    """What must hold at any scale."""
    table, p = results.table, plan(cfg)
    t = results.truncation
    full = t[t["rank"] >= cfg.d_model]
    mha = losses(table, "mha")
    lat = p[p.kind == "latent"]
    return {
        "all_test_losses_finite": bool(np.isfinite(table.test_loss).all()),
        "every_variant_beats_the_unigram": bool((table.test_loss < unigram).all()),
        "unigram_beats_uniform": bool(unigram < np.log(cfg.vocab_size)),
        "parameters_matched_within_tolerance": bool(
            (p.param_mismatch.abs() <= cfg.param_tolerance).all()),
        "mla_caches_less_than_mha_below_full_width": bool(
            (lat[lat.kv_lora_rank < cfg.d_model].cache_vs_mha < 1).all()),
        "full_rank_truncation_is_the_trained_mha": bool(
            len(full) > 0 and np.allclose(full.test_loss.to_numpy(),
                                          full.seed.map(mha).to_numpy(), atol=1e-4)),
        "every_variant_has_every_seed": bool(
            (table.groupby("variant").seed.nunique() == cfg.seeds).all()),
        "tuning_seed_is_not_a_test_seed": cfg.tune_seed not in set(table.seed),
        "decomposition_adds_up_to_the_headline": bool(np.isclose(
            decomposition(table, cfg).value.sum(),
            paired_difference(table, mla_name(cfg.headline_rank), "mha").value, atol=1e-9)),
        "attention_rows_are_distributions": bool(
            ((results.entropy.entropy_ratio >= -1e-6)
             & (results.entropy.entropy_ratio <= 1 + 1e-6)).all()),
    }


def closing_line(verdicts: dict[str, Verdict]) -> str:
    head = verdicts[HEADLINE]
    e = head.estimate
    labels = "; ".join(f"{name}: {v.label}" for name, v in verdicts.items())
    return (f"L_mla − L_mha = {e.value:+.4f} [{e.low:+.4f}, {e.high:+.4f}] nats (90% CI) against "
            f"±{head.threshold:g}. {labels}")
