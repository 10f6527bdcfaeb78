"""Notebook 15's figures and the interactive document explorer."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import display

from nblib.data.tokenizer import load_tokenizer
from nblib.eval.extraction import greedy_continue, sequence_losses
from nblib.experiments import memsinks as ms
from nblib.models.sinks import document_id, set_sink_masks, sink_masks

NAMES = {"standard": "standard", "dedup": "deduplicated", "sinks": "MemSinks (sinks dropped)"}


def plot_history(history: pd.DataFrame):
    """Memorisation gaps against training step, per condition (natural text and canaries)."""
    long = history.melt(id_vars=["condition", "seed", "step"], value_vars=["gap", "canary_gap"])
    long["variable"] = long.variable.map({"gap": "natural repeated passages", "canary_gap": "random canaries"})
    long["condition"] = long.condition.map(NAMES)
    grid = sns.relplot(long, x="step", y="value", hue="condition", col="variable", kind="line",
                       errorbar=("ci", 95), marker="o", height=3.4, aspect=1.2,
                       facet_kws={"sharey": False})
    grid.set(xlabel="training step", ylabel="held-out − repeated loss (nats/token)")
    grid.set_titles("{col_name}")
    return grid.figure


def plot_frontier(final: pd.DataFrame):
    """Validation loss against the memorisation gap (natural text, left; canaries, right):
    post-hoc unlearning of the standard model at increasing strength (lines, from the standard
    model itself), and the three trained conditions (points, 95% CI over seeds)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    standard = final[final.method == "standard"]
    for ax, gap, title in ((axes[0], "gap", "natural repeated passages"), (axes[1], "canary_gap", "random canaries")):
        for method, marker in (("gradient ascent", "v"), ("pruning", "s")):
            rows = pd.concat([standard, final[final.method == method]])
            curve = rows.groupby("strength")[[gap, "val_loss"]].mean().sort_index()
            ax.plot(curve[gap], curve.val_loss, marker=marker, label=f"standard + {method}")
        for method, marker in (("standard", "o"), ("dedup", "D"), ("sinks", "*")):
            rows = final[final.method == method]
            ax.errorbar(rows[gap].mean(), rows.val_loss.mean(), xerr=1.96 * rows[gap].sem(),
                        yerr=1.96 * rows.val_loss.sem(), fmt=marker, ms=10, capsize=3, label=NAMES[method])
        ax.set(xlabel="held-out − repeated loss (nats/token)", title=f"memorisation gap: {title}")
    axes[0].set(ylabel="validation loss (nats/token)")
    axes[0].set_ylim(top=min(axes[0].get_ylim()[1], standard.val_loss.mean() + 1.5))
    axes[1].legend(fontsize=8)
    return fig


def plot_extraction(final: pd.DataFrame):
    """Tokens reproduced verbatim by greedy continuation before the first error, per condition."""
    rows = final[final.strength == 0].melt(id_vars=["method", "seed"],
                                          value_vars=["matched_natural", "matched_canary", "matched_heldout"])
    rows["variable"] = rows.variable.map({"matched_natural": "repeated passages",
                                          "matched_canary": "repeated canaries",
                                          "matched_heldout": "held-out passages"})
    rows["method"] = rows.method.map(NAMES)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    sns.barplot(rows, x="variable", y="value", hue="method", errorbar=("ci", 95), ax=ax)
    ax.set(xlabel="", ylabel="tokens reproduced before the first error")
    return fig


def explore_document(cfg: ms.SinksConfig, data: ms.Data, model, kind: str, index: int) -> None:
    """One passage: its loss and greedy continuation with the sinks dropped and with its own sinks on."""
    tokenizer = load_tokenizer(cfg.corpus, cfg.vocab_size)
    seq = getattr(data, kind)[index:index + 1]  # (1, context + 1)
    prefix = seq[:, :cfg.extract_prefix]
    rows = []
    for label, masks in (("sinks dropped", None),
                         ("its own sinks on", sink_masks([document_id(seq[0])], cfg.n_sink, cfg.n_active))):
        set_sink_masks(model, masks)
        loss = sequence_losses(model, seq).item()
        continuation = greedy_continue(model, prefix, cfg.extract_tokens)[0]
        rows.append({"sinks": label, "loss": round(loss, 3), "continuation": tokenizer.decode(continuation)})
    set_sink_masks(model, None)
    print("prefix:", repr(tokenizer.decode(prefix[0])))
    print("truth: ", repr(tokenizer.decode(seq[0, cfg.extract_prefix:cfg.extract_prefix + cfg.extract_tokens])))
    display(pd.DataFrame(rows))

