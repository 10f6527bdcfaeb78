"""Notebook 15's figures and the interactive document explorer. Every band and error bar is
the mean over seeds with its 95% Student-t interval (the interval the verdicts use)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import display

from nblib import plots
from nblib.data.tokenizer import load_tokenizer
from nblib.eval.extraction import greedy_continue, sequence_losses
from nblib.experiments.memorization_sinks import SinksConfig
from nblib.experiments.memorization_sinks.experiment import Data
from nblib.models.sinks import document_id, set_sink_masks, sink_masks
from nblib.stats import mean_ci_table

NAMES = {"standard": "standard", "dedup": "deduplicated", "sinks": "MemSinks (sinks dropped)"}
GAPS = {"gap": "natural repeated passages", "canary_gap": "random canaries"}
GAP_LABEL = "held-out − repeated loss (nats/token)"


def plot_history(history: pd.DataFrame):
    """Memorisation gaps against training step, per condition (natural text and canaries):
    mean over seeds with the t-interval."""
    rows = history.assign(condition=history.condition.map(NAMES))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    for ax, (gap, title) in zip(axes, GAPS.items(), strict=True):
        ax.set(xlabel="training step", ylabel=GAP_LABEL, title=title)
        plots.mean_band(ax, rows, "step", gap, hue="condition", unit="seed")
    axes[1].legend(fontsize=8)
    return fig


def _errors(table: pd.DataFrame) -> np.ndarray:
    """Asymmetric error-bar lengths (2, n) from a mean_ci_table."""
    return np.stack([table["mean"] - table["low"], table["high"] - table["mean"]])


def plot_frontier(final: pd.DataFrame):
    """Validation loss against the memorisation gap (natural text, left; canaries, right):
    post-hoc unlearning of the standard model at increasing strength (lines of means, from the
    standard model itself), and the three trained conditions (points, 95% t-intervals over
    seeds in both directions)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    standard = final[final.method == "standard"]
    colors = sns.color_palette(plots.PALETTE)
    for ax, (gap, title) in zip(axes, GAPS.items(), strict=True):
        for method, marker in (("gradient ascent", "v"), ("pruning", "s")):
            rows = pd.concat([standard, final[final.method == method]])
            curve = rows.groupby("strength")[[gap, "val_loss"]].mean().sort_index()
            ax.plot(curve[gap], curve.val_loss, marker=marker, label=f"standard + {method}")
        for i, (method, marker) in enumerate((("standard", "o"), ("dedup", "D"), ("sinks", "*"))):
            rows = final[final.method == method]
            x, y = (mean_ci_table(rows, ["method"], col, unit="seed") for col in (gap, "val_loss"))
            ax.errorbar(x["mean"], y["mean"], xerr=_errors(x), yerr=_errors(y), fmt=marker, ms=10,
                        capsize=3, color=colors[(i + 2) % len(colors)], label=NAMES[method])
        ax.set(xlabel=GAP_LABEL, title=f"memorisation gap: {title}")
    axes[0].set(ylabel="validation loss (nats/token)")
    axes[0].set_ylim(top=min(axes[0].get_ylim()[1], standard.val_loss.mean() + 1.5))
    axes[1].legend(fontsize=8)
    return fig


def plot_extraction(final: pd.DataFrame, max_tokens: int):
    """Tokens reproduced verbatim by greedy continuation before the first error, per condition:
    bars of means over seeds with t-intervals clipped to [0, max_tokens]."""
    sets = {"matched_natural": "repeated passages", "matched_canary": "repeated canaries",
            "matched_heldout": "held-out passages"}
    rows = final[final.strength == 0].melt(id_vars=["method", "seed"], value_vars=list(sets))
    table = mean_ci_table(rows, ["variable", "method"], "value", unit="seed",
                          clip=(0, max_tokens))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    methods = [m for m in NAMES if m in set(table.method)]
    width = 0.8 / len(methods)
    for i, method in enumerate(methods):
        part = table[table.method == method].set_index("variable").loc[list(sets)]
        ax.bar(np.arange(len(sets)) + (i - (len(methods) - 1) / 2) * width, part["mean"], width,
               yerr=_errors(part), capsize=3, label=NAMES[method])
    ax.set_xticks(np.arange(len(sets)), list(sets.values()))
    ax.set(xlabel="", ylabel="tokens reproduced before the first error")
    ax.legend(fontsize=8)
    return fig


def explore_document(cfg: SinksConfig, data: Data, model, kind: str, index: int) -> None:
    """One passage: its loss and greedy continuation with the sinks dropped and with its own
    sinks on."""
    tokenizer = load_tokenizer(cfg.corpus, cfg.vocab_size)
    seq = getattr(data, kind)[index:index + 1]  # (1, context + 1)
    prefix = seq[:, :cfg.extract_prefix]
    own = sink_masks([document_id(seq[0])], cfg.n_sink, cfg.n_active)
    rows = []
    for label, masks in (("sinks dropped", None), ("its own sinks on", own)):
        set_sink_masks(model, masks)
        loss = sequence_losses(model, seq).item()
        continuation = greedy_continue(model, prefix, cfg.extract_tokens)[0]
        rows.append({"sinks": label, "loss": round(loss, 3),
                     "continuation": tokenizer.decode(continuation)})
    set_sink_masks(model, None)
    truth = seq[0, cfg.extract_prefix:cfg.extract_prefix + cfg.extract_tokens]
    print("prefix:", repr(tokenizer.decode(prefix[0])))
    print("truth: ", repr(tokenizer.decode(truth)))
    display(pd.DataFrame(rows))
