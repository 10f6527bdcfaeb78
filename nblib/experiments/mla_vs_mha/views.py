"""Notebook 10's figures and widget. Intervals are Student-t over seeds (`stats.mean_ci_table`,
`plots.mean_band`); the compute lives in `experiment`, the statistics in `analysis`."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nblib import plots
from nblib.config import ConfigError, param
from nblib.experiments.mla_vs_mha import MLAConfig
from nblib.experiments.mla_vs_mha.analysis import (
    TOST_LEVEL,
    decomposition,
    paired_difference,
    summary_table,
    truncation_table,
)
from nblib.experiments.mla_vs_mha.experiment import plan
from nblib.stats import mean_ci_table

KIND_COLORS = {"grouped": "C0", "latent": "C3"}


def plot_loss_vs_cache(table: pd.DataFrame, cfg: MLAConfig) -> plt.Figure:
    """The Pareto figure: test loss (mean, 95% t-interval over seeds) against KV-cache elements
    per token per layer, every variant at matched parameters."""
    s = summary_table(table, cfg)
    kinds = plan(cfg).set_index("variant").kind
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for r in s.itertuples():
        c = KIND_COLORS[kinds[r.variant]]
        ax.errorbar(r.cache_per_token, r.test_loss, yerr=[[r.test_loss - r.low],
                                                           [r.high - r.test_loss]],
                    fmt="o", c=c, capsize=3)
        ax.annotate(r.variant, (r.cache_per_token, r.test_loss), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    for kind, c in KIND_COLORS.items():
        ax.plot([], [], "o", c=c, label={"grouped": "MHA / GQA / MQA and controls",
                                         "latent": "MLA"}[kind])
    ax.set(xscale="log", xlabel="KV cache, elements per token per layer (log scale)",
           ylabel="test loss (nats/token)",
           title=f"loss vs KV cache at matched parameters ({cfg.seeds} seeds, 95% CI)")
    ax.legend(fontsize=8)
    return fig


def plot_differences(table: pd.DataFrame, cfg: MLAConfig) -> plt.Figure:
    """Each variant minus MHA, paired by seed: 95% CI (thin, with caps) and 90% CI (thick, the
    equivalence test's), with the ±margin equivalence band."""
    s = summary_table(table, cfg)
    s = s[s.variant != "mha"].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    ax.axhspan(-cfg.margin, cfg.margin, color="C2", alpha=0.15,
               label=f"equivalence margin ±{cfg.margin:g}")
    low, high = s.minus_mha_low.fillna(s.minus_mha), s.minus_mha_high.fillna(s.minus_mha)
    ax.errorbar(range(len(s)), s.minus_mha, yerr=[s.minus_mha - low, high - s.minus_mha],
                fmt="o", c="k", capsize=3, lw=0.8, label="variant − MHA (95% CI, paired seeds)")
    e90 = [paired_difference(table, v, "mha", TOST_LEVEL) for v in s.variant]
    lo90 = [e.low if np.isfinite(e.low) else e.value for e in e90]
    hi90 = [e.high if np.isfinite(e.high) else e.value for e in e90]
    ax.vlines(range(len(s)), lo90, hi90, colors="k", lw=3, label="90% CI (the TOST's)")
    ax.axhline(0, c="k", lw=0.8)
    ax.set_xticks(range(len(s)), s.variant, rotation=30, ha="right")
    ax.set(ylabel="Δ test loss vs MHA (nats/token)", title="paired differences to MHA")
    ax.legend(fontsize=8)
    return fig


def plot_decomposition(table: pd.DataFrame, cfg: MLAConfig) -> plt.Figure:
    """From MHA to the headline MLA one design choice at a time: each step's paired difference
    (mean, 95% CI over seeds), the running total, and the ±margin band. The steps add up to
    L_mla − L_mha exactly."""
    d = decomposition(table, cfg)
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(d) + 1.6))
    y = np.arange(len(d))[::-1]
    ax.axvspan(-cfg.margin, cfg.margin, color="C2", alpha=0.15,
               label=f"equivalence margin ±{cfg.margin:g}")
    low, high = d.low.fillna(d.value), d.high.fillna(d.value)
    ax.errorbar(d.value, y, xerr=[d.value - low, high - d.value], fmt="o", c="k", capsize=3,
                label="this step (95% CI, paired seeds)")
    ax.plot(d.value.cumsum(), y, "x--", c="C3", label="running total from MHA")
    ax.axvline(0, c="k", lw=0.8)
    ax.set_yticks(y, [f"{r.step}\n({r.source} → {r.target})" for r in d.itertuples()],
                  fontsize=7)
    ax.set(xlabel="Δ test loss (nats/token)",
           title=f"MHA → {d.target.iloc[-1]}, one change at a time")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def plot_learning_curves(history: pd.DataFrame, unigram: float) -> plt.Figure:
    """Validation loss along training per variant (mean and 95% band over seeds), the unigram
    baseline dashed."""
    val = history.dropna(subset=["val_loss"])
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    plots.mean_band(ax, val, "step", "val_loss", hue="variant", unit="seed", marker=".")
    ax.axhline(unigram, ls="--", c="k", lw=1, label="unigram (trivial baseline)")
    ax.set(xlabel="optimizer step", ylabel="validation loss (nats/token)", yscale="log",
           title="learning curves")
    ax.legend(fontsize=7, ncol=2)
    return fig


def plot_rank_probes(results, cfg: MLAConfig) -> plt.Figure:
    """Left: singular values of the trained MHA's [W_K; W_V] per layer (over the largest, first
    seed). Right: test loss above the trained MHA when its [W_K; W_V] is truncated to rank r (no
    fine-tuning) and of MLA trained from scratch at latent rank r (mean, 95% CI over seeds)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    spec = results.spectrum[results.spectrum.seed == results.spectrum.seed.min()]
    for layer, g in spec.groupby("layer"):
        left.plot(g["index"] + 1, g.singular_value / g.singular_value.max(), ".-",
                  label=f"layer {layer}")
    left.set(yscale="log", xlabel="index", ylabel="σ_i / σ_1",
             title="trained MHA: spectrum of [W_K; W_V]")
    left.legend(fontsize=8)
    t = truncation_table(results.truncation, results.table, cfg)
    right.errorbar(t["rank"], t.truncated_mha, yerr=[t.truncated_mha - t.truncated_low.fillna(
        t.truncated_mha), t.truncated_high.fillna(t.truncated_mha) - t.truncated_mha], fmt="o-",
        capsize=3, label="MHA truncated to rank r (no fine-tuning)")
    if "mla_trained" in t:
        m = t.dropna(subset=["mla_trained"])
        right.errorbar(m["rank"], m.mla_trained, yerr=[m.mla_trained - m.mla_low.fillna(
            m.mla_trained), m.mla_high.fillna(m.mla_trained) - m.mla_trained], fmt="s",
            c="C3", capsize=3, label="MLA trained at latent rank r")
    right.axhline(0, c="k", lw=0.8)
    right.set(xscale="log", xlabel="rank r of the keys' and values' source",
              ylabel="test loss − trained MHA's (nats)", title="what a rank-r bottleneck costs")
    right.legend(fontsize=8)
    return fig


def plot_entropy(entropy: pd.DataFrame) -> plt.Figure:
    """Attention entropy over its maximum (1 = uniform over the prefix), per variant and layer,
    heads pooled within a seed (mean, 95% CI over seeds)."""
    ci = mean_ci_table(entropy, ["variant", "layer"], "entropy_ratio", unit="seed",
                       clip=(0.0, 1.0))
    variants = list(dict.fromkeys(entropy.variant))
    layers = sorted(ci.layer.unique())
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / len(layers)
    for i, layer in enumerate(layers):
        part = ci[ci.layer == layer].set_index("variant").reindex(variants)
        pos = np.arange(len(variants)) + (i - (len(layers) - 1) / 2) * width
        ax.bar(pos, part["mean"], width, yerr=[part["mean"] - part.low, part.high - part["mean"]],
               capsize=2, label=f"layer {layer}")
    ax.set_xticks(range(len(variants)), variants, rotation=30, ha="right")
    ax.set(ylabel="entropy / log(prefix length)", ylim=(0, 1), title="attention entropy")
    ax.legend(fontsize=8)
    return fig


# ------------------------------------------------------------------ the widget


@dataclass(frozen=True)
class Pick:
    """The widget's choice: a variant and a test seed (checked against the run's config)."""

    variant: str = param("mha", "the attention variant to show")
    seed: int = param(0, "a test seed of this run")


def check_pick(cfg: MLAConfig, variants: list[str], variant, seed) -> Pick:
    """A Pick, or ConfigError with the config's one-line message (nothing clamped)."""
    if variant not in variants:
        raise ConfigError(f"parameter variant={variant!r}: must be one of {variants}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed not in cfg.seed_list:
        raise ConfigError(f"parameter seed={seed!r}: out of range, allowed "
                          f"[{cfg.seed_list[0]}, {cfg.seed_list[-1]}] (a test seed of this run)")
    return Pick(variant, seed)


def describe_variant(results, cfg: MLAConfig, variant, seed) -> dict:
    """The widget's action: the variant's cache and parameter counts, and its learning curve at
    `seed` against MHA's (figure 'explore')."""
    p = plan(cfg).set_index("variant")
    pick = check_pick(cfg, list(p.index), variant, seed)
    row = p.loc[pick.variant]
    info = {"variant": pick.variant, "cache_per_token": int(row.cache_per_token),
            "cache_vs_mha": float(row.cache_vs_mha),
            "params_non_embedding": int(row.params_non_embedding),
            "params_total": int(row.params_total), "d_mlp": int(row.d_mlp)}
    h = results.history.dropna(subset=["val_loss"])
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for v, c in ((pick.variant, "C3"), ("mha", "C0")):
        g = h[(h.variant == v) & (h.seed == pick.seed)]
        ax.plot(g.step, g.val_loss, "o-", c=c, label=f"{v}, seed {pick.seed}")
    ax.set(xlabel="optimizer step", ylabel="validation loss (nats/token)", yscale="log",
           title=f"{pick.variant}: {info['cache_per_token']} cached elements/token/layer, "
                 f"{info['params_non_embedding']:,} params")
    ax.legend(fontsize=8)
    plots.show(fig, "explore")
    return info


def explorer(results, cfg: MLAConfig):
    """A variant dropdown, a seed box and a Show button; an out-of-range seed is refused with
    the config's message, never clamped."""
    import ipywidgets as W

    from nblib.widgets import show_panel

    pick = W.Dropdown(options=list(plan(cfg).variant), value="mha", description="variant")
    seed = W.IntText(value=cfg.first_seed, description="seed")
    return show_panel([pick, seed], lambda v, s: describe_variant(results, cfg, v, s))
