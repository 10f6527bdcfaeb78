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
from nblib.experiments.memorization_sinks.analysis import sweep_table
from nblib.experiments.memorization_sinks.experiment import Data
from nblib.models.sinks import document_id, set_sink_masks, sink_masks
from nblib.stats import mean_ci_table
from nblib.train.unlearning import METHODS

GAPS = {"gap": "natural repeated passages", "canary_gap": "random canaries"}
GAP_LABEL = "held-out − repeated loss (nats/token)"
POST_HOC = {**dict(zip(METHODS, ("v", "^", "<", ">"), strict=True)), "pruning": "s"}


def name(method: str, n_sink=0, n_active=0) -> str:
    """A trained model's legend label (MemSinks: its n_active / n_sink, sinks dropped)."""
    if method == "sinks":
        return f"MemSinks {int(n_active)}/{int(n_sink)} (sinks dropped)"
    return {"standard": "standard", "dedup": "deduplicated"}.get(method, method)


def _named(rows: pd.DataFrame, column: str = "method") -> pd.DataFrame:
    return rows.assign(model=[name(m, s, a) for m, s, a in
                              zip(rows[column], rows.n_sink, rows.n_active, strict=True)])


def plot_history(history: pd.DataFrame):
    """Memorisation gaps against training step, per trained model (natural text and canaries):
    mean over seeds with the t-interval."""
    rows = _named(history, "condition")
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    for ax, (gap, title) in zip(axes, GAPS.items(), strict=True):
        ax.set(xlabel="training step", ylabel=GAP_LABEL, title=title)
        plots.mean_band(ax, rows, "step", gap, hue="model", unit="seed")
    axes[1].legend(fontsize=7)
    return fig


def plot_sweep(final: pd.DataFrame, headline: tuple[int, int], threshold: float):
    """Where isolation starts to work: against the share of sinks a document activates
    (n_active / n_sink), the shares of standard training's natural-text gap, canary gap and
    excess canary extraction that dropping the sinks closes (left), and the validation-loss
    cost against standard training (right); means over seeds with 95% t-intervals (points of the
    n_sink sweep, at the headline ratio, are hollow)."""
    table = sweep_table(final)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    ends = {"gap_closed": "natural-text loss gap", "canary_gap_closed": "canary loss gap",
            "extraction_closed": "excess canary extraction"}
    main = table.n_sink == headline[0]
    for i, (endpoint, title) in enumerate(ends.items()):
        rows = table[(table.endpoint == endpoint) & main].sort_values("ratio")
        offset = 1.0 + 0.04 * (i - 1)  # side by side on the log axis
        axes[0].errorbar(rows.ratio * offset, rows["mean"], yerr=_errors(rows), marker="o",
                         capsize=3, label=title)
        extra = table[(table.endpoint == endpoint) & ~main]
        if len(extra):
            axes[0].errorbar(extra.ratio * offset, extra["mean"], yerr=_errors(extra),
                             marker="o", mfc="none", ls="none", capsize=3,
                             color=axes[0].lines[-1].get_color())
    axes[0].axhline(threshold, color="0.3", ls="--", lw=1, label=f"threshold {threshold:g}")
    axes[0].axhline(0, color="0.6", lw=0.8)
    axes[0].axvline(headline[1] / headline[0], color="0.6", ls=":", lw=1,
                    label=f"headline {headline[1]}/{headline[0]}")
    axes[0].set(xscale="log", xlabel="sinks active per document / sinks (n_active / n_sink)",
                ylabel="share closed by dropping the sinks", title="isolation")
    axes[0].legend(fontsize=7)
    cost = table[table.endpoint == "val_cost"].sort_values("ratio")
    axes[1].errorbar(cost.ratio, cost["mean"], yerr=_errors(cost), marker="o", ls="none",
                     capsize=3)
    axes[1].axhline(0, color="0.6", lw=0.8)
    axes[1].set(xscale="log", xlabel="n_active / n_sink",
                ylabel="validation loss − standard (nats/token)", title="cost")
    return fig


def _errors(table: pd.DataFrame) -> np.ndarray:
    """Asymmetric error-bar lengths (2, n) from a mean_ci_table."""
    return np.stack([table["mean"] - table["low"], table["high"] - table["mean"]])


def plot_frontier(final: pd.DataFrame):
    """Validation loss against the memorisation gap (natural text, left; canaries, right):
    post-hoc unlearning of the standard model at increasing strength (lines of means, from the
    standard model itself), and the trained models (points, 95% t-intervals over seeds in both
    directions)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    standard = final[final.method == "standard"]
    trained = _named(final[final.method.isin(("standard", "dedup", "sinks"))])
    models = list(dict.fromkeys(trained.sort_values(["method", "n_active"]).model))
    colors = sns.color_palette("dark", len(models))
    for ax, (gap, title) in zip(axes, GAPS.items(), strict=True):
        for method, marker in POST_HOC.items():
            if not (final.method == method).any():
                continue
            rows = pd.concat([standard, final[final.method == method]])
            curve = rows.groupby("strength")[[gap, "val_loss"]].mean().sort_index()
            ax.plot(curve[gap], curve.val_loss, marker=marker, ms=4, lw=1, alpha=0.8,
                    label=f"standard + {method}")
        for i, model in enumerate(models):
            rows = trained[trained.model == model]
            x, y = (mean_ci_table(rows, ["model"], col, unit="seed") for col in (gap, "val_loss"))
            marker = "*" if "MemSinks" in model else "o" if model == "standard" else "D"
            ax.errorbar(x["mean"], y["mean"], xerr=_errors(x), yerr=_errors(y), fmt=marker,
                        ms=8, capsize=3, color=colors[i], label=model)
        ax.set(xlabel=GAP_LABEL, title=f"memorisation gap: {title}")
    axes[0].set(ylabel="validation loss (nats/token)")
    axes[0].set_ylim(top=min(axes[0].get_ylim()[1], standard.val_loss.mean() + 1.0))
    axes[1].legend(fontsize=7, loc="upper right")
    return fig


def plot_extraction(final: pd.DataFrame, max_tokens: int):
    """Tokens reproduced verbatim by greedy continuation before the first error, per trained
    model: bars of means over seeds with t-intervals clipped to [0, max_tokens]."""
    sets = {"matched_natural": "repeated passages", "matched_heldout": "held-out passages",
            "matched_canary": "repeated canaries", "matched_heldout_canary": "held-out canaries"}
    trained = _named(final[(final.strength == 0)
                           & final.method.isin(("standard", "dedup", "sinks"))])
    rows = trained.melt(id_vars=["model", "seed"], value_vars=list(sets))
    table = mean_ci_table(rows, ["variable", "model"], "value", unit="seed",
                          clip=(0, max_tokens))
    fig, ax = plt.subplots(figsize=(10, 3.8))
    models = list(dict.fromkeys(trained.sort_values(["method", "n_active"],
                                                    ascending=[False, True]).model))
    width = 0.8 / len(models)
    for i, model in enumerate(models):
        part = table[table.model == model].set_index("variable").loc[list(sets)]
        ax.bar(np.arange(len(sets)) + (i - (len(models) - 1) / 2) * width, part["mean"], width,
               yerr=_errors(part), capsize=2, label=model)
    ax.set_xticks(np.arange(len(sets)), list(sets.values()))
    ax.set(xlabel="", ylabel="tokens reproduced before the first error")
    ax.legend(fontsize=7)
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
