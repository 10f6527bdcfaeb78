"""Notebook 12's figures, the interactive evaluation form and the conversation browser.

Every interval drawn is a 95% percentile bootstrap over items (the unit of replication of a
deterministic model; all conversations of an item resampled together), as in the verdicts."""

from __future__ import annotations

import html

import ipywidgets as W
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import display

from nblib.eval import sycophancy
from nblib.experiments.anti_sycophancy import SycophancyConfig
from nblib.experiments.anti_sycophancy import experiment as exp

MARKERS = {"bare": "o", "authority": "s", "evidence": "D"}


def plot_capitulation_vs_correction(table: pd.DataFrame):
    """Correction rate against capitulation rate per model, construction and challenge style, with
    95% percentile bootstrap CIs over items. The diagonal is where pushback is followed regardless
    of whether it is right; up and to the left is better; (1, 1) is a model that always agrees."""
    n = table.construction.nunique()
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.6), sharey=True, squeeze=False)
    models = sorted(table.model.unique())
    palette = dict(zip(models, sns.color_palette(n_colors=len(models)), strict=True))
    for ax, (construction, group) in zip(axes[0], table.groupby("construction"), strict=True):
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="follows pushback blindly")
        ax.plot([1], [1], marker="X", color="black", ms=10, ls="", label="always agrees")
        ax.plot([0], [1], marker="*", color="gold", mec="black", ms=14, ls="", label="ideal")
        for row in group.itertuples():
            xerr = [[row.capitulation - row.capitulation_low],
                    [row.capitulation_high - row.capitulation]]
            yerr = [[row.correction - row.correction_low], [row.correction_high - row.correction]]
            ax.errorbar(row.capitulation, row.correction, fmt=MARKERS.get(row.style, "o"), ms=8,
                        capsize=3, xerr=xerr, yerr=yerr, color=palette[row.model],
                        label=f"{row.model}: {row.style}")
        ax.set(xlim=(-0.05, 1.05), ylim=(-0.05, 1.05), title=f"{construction} first answers",
               xlabel="capitulation  P(final wrong | first right)")
    axes[0][0].set(ylabel="correction  P(final right | first wrong)")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    return fig


def plot_accuracy(table: pd.DataFrame):
    """Accuracy of the first answer and of the answer after each pushback style (controls
    included), per construction, with 95% percentile bootstrap CIs over items."""
    constructions = sorted(table.construction.unique())
    styles = [s for s in sycophancy.STYLES if s in set(table["style"])]
    fig, axes = plt.subplots(1, len(constructions), figsize=(5.5 * len(constructions), 4),
                             sharey=True, squeeze=False)
    colors = sns.color_palette(n_colors=2)
    for ax, construction in zip(axes[0], constructions, strict=True):
        rows = table[table.construction == construction].set_index("style").reindex(styles)
        turns = (("first answer", "accuracy_first"), ("after pushback", "accuracy_final"))
        for k, (turn, col) in enumerate(turns):
            x = [i + (k - 0.5) * 0.38 for i in range(len(styles))]
            err = [rows[col] - rows[f"{col}_low"], rows[f"{col}_high"] - rows[col]]
            ax.bar(x, rows[col], width=0.38, color=colors[k], label=turn)
            ax.errorbar(x, rows[col], yerr=err, fmt="none", color="black", capsize=3)
        ax.set_xticks(range(len(styles)), styles)
        ax.axvline(len(sycophancy.CHALLENGES) - 0.5, color="grey", lw=1, ls=":")
        ax.set(ylim=(0, 1), title=f"{construction} first answers",
               xlabel="pushback style (challenges | controls)")
    axes[0][0].set(ylabel="accuracy (share of scorable answers)")
    axes[0][-1].legend(fontsize=8)
    return fig


def plot_by_domain(table: pd.DataFrame):
    """Balanced score ½(1 − capitulation + correction) per domain and challenge style (both
    constructions pooled); 0.5 is what always agreeing, or never moving, scores."""
    pivot = table.pivot(index="domain", columns="style", values="balanced")
    pivot = pivot[[s for s in sycophancy.CHALLENGES if s in pivot]]
    fig, ax = plt.subplots(figsize=(6, 0.6 * len(pivot) + 1.6))
    sns.heatmap(pivot, annot=True, fmt=".2f", vmin=0, vmax=1, center=0.5, cmap="vlag_r", ax=ax,
                cbar_kws={"label": "balanced score"})
    ax.set(xlabel="challenge style", ylabel="item domain")
    return fig


def conversation_html(row) -> str:
    turns = [("user", row.question), ("assistant", row.first_reply), ("user", row.pushback),
             ("assistant", row.final_reply)]
    body = "".join(f"<p><b>{who}</b>: {html.escape(str(text))}</p>" for who, text in turns)
    return (f"<div style='border:1px solid #ccc;padding:6px'>{body}<p><i>correct answer: "
            f"{html.escape(row.answer)} · first: {row.first_outcome} ({row.first_answer}) · final: "
            f"{row.final_outcome} ({row.final_answer}) · an always-agreeing model: "
            f"{row.agree_outcome}</i></p></div>")


def browse(rows: pd.DataFrame) -> W.VBox:
    """Pick a construction, domain, style and final outcome; step through those conversations."""
    rows = rows[rows["style"].notna()]
    pick = {c: W.Dropdown(options=["(all)", *sorted(rows[c].dropna().unique())], description=c)
            for c in ("construction", "domain", "style", "final_outcome")}
    index = W.BoundedIntText(value=0, min=0, max=0, description="#")
    out = W.HTML()

    def show(_=None):
        chosen = rows
        for column, widget in pick.items():
            if widget.value != "(all)":
                chosen = chosen[chosen[column] == widget.value]
        index.max = max(len(chosen) - 1, 0)
        if len(chosen):
            row = chosen.iloc[min(index.value, index.max)]
            out.value = f"{len(chosen)} conversations<br>" + conversation_html(row)
        else:
            out.value = "no conversation matches"

    for widget in [*pick.values(), index]:
        widget.observe(show, names="value")
    show()
    widgets = list(pick.values())
    return W.VBox([W.HBox(widgets[:2]), W.HBox([*widgets[2:], index]), out])


def evaluate(cfg: SycophancyConfig, device="cpu") -> pd.DataFrame:
    """What the form's button does: one draw of items under the chosen model, styles and
    domains; prints the metrics and shows the conversations. The backend is loaded once per
    model (`experiment.make_backend` keeps it)."""
    rows = exp.run_seed(cfg, exp.make_backend(cfg, device), seed=cfg.first_seed)
    table = exp.metric_table(exp.challenged(rows), ["construction"], n_boot=500)
    display(table[["construction", "capitulation", "correction", "balanced", "items"]].round(2))
    display(browse(rows))
    return rows
