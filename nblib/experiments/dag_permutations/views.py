"""Notebook 07's figures and widget. Bands are Student-t 95% intervals over seeds
(`plots.mean_band`); the compute lives in `experiment`, the statistics in `analysis`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from nblib import plots
from nblib.config import ConfigError
from nblib.data.toposort import LinearExtensions, respects
from nblib.experiments.dag_permutations.analysis import dag_table
from nblib.experiments.dag_permutations.experiment import (
    TRUE_EDGES,
    attention_edges,
    bios_seed,
    load_dags,
)

COLORS = {"repeated": "C3", "uniform": "C0", "attention": "C2", "true": "k"}


def _bands(ax, c, y: str, cfg) -> None:
    for cond in cfg.conditions:
        part = c[c.condition == cond]
        if len(part):
            plots.mean_band(ax, part, "step", y, palette=[COLORS[cond]], marker=".")
            ax.lines[-1].set_label(cond)


def plot_curves(results, cfg) -> plt.Figure:
    """The validation loss (held-out text in natural order) against the step per condition, one
    panel per corpus."""
    c = results.curves[results.curves.step > 0]
    fig, axes = plt.subplots(1, len(cfg.corpora), figsize=(6 * len(cfg.corpora), 4.2),
                             squeeze=False)
    names = {"bios": f"bios, {cfg.test_people} new people",
             "sotu": f"sotu, {cfg.val_windows} held-out windows"}
    for ax, corpus in zip(axes[0], cfg.corpora, strict=True):
        _bands(ax, c[c.corpus == corpus], "val_all", cfg)
        ax.set(xlabel="optimizer step", ylabel="nats / token",
               title=f"{names[corpus]}\n(validation loss, {cfg.seeds} seeds, 95% CI)")
        ax.legend(fontsize=8)
    return fig


def plot_downstream(results, cfg) -> plt.Figure:
    """bios: the held-out half's QA answer loss and the loss on new people's documents in a
    reordered (true-DAG) order, against the step per condition."""
    c = results.curves[(results.curves.step > 0) & (results.curves.corpus == "bios")]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.2))
    _bands(ax, c, "qa_value_loss", cfg)
    ax.set(xlabel="optimizer step", ylabel="nats / answer token",
           title="QA of facts never seen as QA (held-out half)")
    ax.legend(fontsize=8)
    _bands(bx, c, "val_reordered_all", cfg)
    bx.set(xlabel="optimizer step", ylabel="nats / token",
           title="new people, sentences reordered (a true-DAG order)")
    return fig


def plot_dags(results, cfg) -> plt.Figure:
    """Left: per threshold, log10 of the topological sorts per seed document (bios and sotu)
    and, for bios, the share of them that respect the true DAG (95% interval over documents;
    dotted: a uniform permutation's 60/720). Right: one biography's relative lift matrix."""
    t = dag_table(cfg)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.2))
    for corpus, color in (("bios", "C0"), ("sotu", "C1")):
        part = t[t.corpus == corpus]
        if len(part):
            ax.plot(part.threshold, part.log10_sorts, "o-", color=color,
                    label=f"{corpus}: log10 sorts per document")
    ax.axvline(cfg.threshold, color="grey", ls="--", lw=1, label=f"threshold {cfg.threshold:g}")
    ax.set(xlabel="relative lift threshold", ylabel="log10 topological sorts",
           title="the threshold as the diversity knob")
    bios = t[t.corpus == "bios"]
    if len(bios):
        cx = ax.twinx()
        cx.errorbar(bios.threshold, bios.share_true, yerr=[bios.share_true - bios.share_low,
                                                           bios.share_high - bios.share_true],
                    fmt="s-", color="C2", capsize=3, label="bios: share respecting the true DAG")
        cx.axhline(bios.share_uniform.iloc[0], color="C2", ls=":")
        cx.set(ylim=(0, 1), ylabel="share of sorts respecting the true DAG")
        cx.legend(fontsize=7, loc="lower right")
    ax.legend(fontsize=7, loc="upper left")
    if "bios" in cfg.corpora:
        from nblib.eval.attention_dag import relative_to_document

        lift = np.asarray(load_dags(cfg)["bios"][0], float)
        rel = relative_to_document(np.where(lift < 0, np.nan, lift))
        im = bx.imshow(np.where(np.tril(np.ones_like(rel), -1) > 0, rel, np.nan),
                       cmap="viridis")
        fig.colorbar(im, ax=bx, label="relative lift")
        for j, i in TRUE_EDGES:
            bx.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="w", lw=1.5))
        bx.set(xlabel="earlier sentence j", ylabel="sentence i",
               title="biography 0: relative lift (white: true edges)")
    return fig


def plot_meter(results, cfg) -> plt.Figure:
    """The repetition meter of each stream (mean over seeds): documents, sentences and 8-grams
    already seen earlier in it."""
    s = results.streams.groupby(["corpus", "condition"], sort=False)[
        ["documents", "sentences", "ngrams"]].mean()
    fig, ax = plt.subplots(figsize=(10, 3.6))
    for i, m in enumerate(s.columns):
        ax.bar(np.arange(len(s)) + 0.27 * i, s[m], 0.27, label=m)
    ax.set(xticks=np.arange(len(s)) + 0.27, xticklabels=[f"{a}\n{b}" for a, b in s.index],
           ylim=(0, 1.02), ylabel="share already seen in the stream",
           title=f"the repetition meter (n = {cfg.ngram})")
    ax.legend(fontsize=8)
    return fig


# ------------------------------------------------------------------ the widget


def describe_document(cfg, corpus: str, index: int, threshold: float, samples: int = 3) -> dict:
    """The widget's action: one seed document's sentences, its attention DAG at `threshold`, the
    number of topological sorts and `samples` of them (for bios: whether each respects the true
    DAG)."""
    from nblib.eval.attention_dag import check_threshold

    if corpus not in cfg.corpora:
        raise ConfigError(f"parameter corpus={corpus!r}: must be one of {cfg.corpora}")
    lifts = load_dags(cfg)[corpus]
    if not isinstance(index, int) or not 0 <= index < len(lifts):
        raise ConfigError(f"parameter index={index!r}: out of range, allowed "
                          f"[0, {len(lifts) - 1}] (a seed document)")
    try:
        threshold = check_threshold(threshold)
    except ValueError as err:
        raise ConfigError(f"parameter threshold={threshold!r}: {err}") from None
    if threshold < 1:
        raise ConfigError(f"parameter threshold={threshold!r}: out of range, allowed [1, 100]")
    sentences = (bios_seed(cfg)[index].text if corpus == "bios"
                 else load_dags(cfg)["sotu_text"][index])
    edges = attention_edges(lifts[index], threshold)
    sorts = LinearExtensions(len(sentences), edges)
    rng = np.random.default_rng(index)
    for k, s in enumerate(sentences):
        print(f"[{k}] {s}")
    for n in range(samples):
        order = sorts.sample(rng)
        note = (f" (respects the true DAG: {respects(order, TRUE_EDGES)})"
                if corpus == "bios" else "")
        print(f"\nsort {n + 1}: {order}{note}\n" + " ".join(sentences[k] for k in order))
    return {"corpus": corpus, "document": index, "sentences": len(sentences),
            "edges": len(edges), "edge list": str(list(edges)),
            "topological sorts": sorts.count}


def explorer(cfg):
    """A corpus, a document and a threshold, and a Show button; values out of range are refused
    with the config's message, never clamped."""
    import ipywidgets as W

    from nblib.widgets import show_panel

    corpus = W.Dropdown(options=list(cfg.corpora), value=cfg.corpora[0], description="corpus")
    index = W.IntText(value=0, description="document")
    threshold = W.FloatText(value=cfg.threshold, description="threshold")
    return show_panel([corpus, index, threshold],
                      lambda c, i, t: describe_document(cfg, c, i, t))
