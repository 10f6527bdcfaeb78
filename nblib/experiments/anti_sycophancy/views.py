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
from nblib.experiments.anti_sycophancy import SycophancyConfig, analysis
from nblib.experiments.anti_sycophancy import experiment as exp
from nblib.progress import progress

MARKERS = {"bare": "o", "authority": "s", "evidence": "D"}


def plot_net_rates(cell: pd.DataFrame, margin: float | None = None):
    """Net correction against net capitulation (each minus the same items' rate under the re-ask
    control) per construction and challenge style, with 95% percentile bootstrap CIs over items.
    On the diagonal the pushback moves the model as much when it is wrong as when it is right:
    a model that never moves sits at the origin, one that always agrees at its cross (on the
    diagonal under claims, below it under "bare"); above the diagonal (by more than the shaded
    margin) is what the headline asks for."""
    constructions = [c for c in sycophancy.CONSTRUCTIONS if c in set(cell.construction)]
    fig, axes = plt.subplots(1, len(constructions), figsize=(5.2 * len(constructions), 4.8),
                             sharey=True, squeeze=False)
    colors = dict(zip(sycophancy.CHALLENGES, sns.color_palette(n_colors=3), strict=True))
    lims = (-1.05, 1.05)
    for ax, construction in zip(axes[0], constructions, strict=True):
        ax.plot(lims, lims, color="grey", lw=1, ls="--", label="moved alike either way")
        if margin:
            ax.fill_between(lims, [lims[0] - margin, lims[1] - margin],
                            [lims[0] + margin, lims[1] + margin], color="grey", alpha=0.12,
                            lw=0, label=f"within ±{margin:g} of it")
        ax.plot([0], [0], marker="P", color="black", ms=10, ls="", label="never moves")
        ax.plot([0], [1], marker="*", color="gold", mec="black", ms=14, ls="",
                label="ideal (keeps right, takes right)")
        for row in cell[cell.construction == construction].itertuples():
            color, marker = colors[row.style], MARKERS.get(row.style, "o")
            ax.plot(row.agree_net_capitulation, row.agree_net_correction, marker="X", ms=9,
                    ls="", color=color, mec="black", alpha=0.6,
                    label=f"always agrees: {row.style}")
            xerr = [[row.net_capitulation - row.net_capitulation_low],
                    [row.net_capitulation_high - row.net_capitulation]]
            yerr = [[row.net_correction - row.net_correction_low],
                    [row.net_correction_high - row.net_correction]]
            ax.errorbar(row.net_capitulation, row.net_correction, xerr=xerr, yerr=yerr,
                        fmt=marker, ms=8, capsize=3, color=color,
                        label=f"model: {row.style} ({row.items} items)")
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.set(xlim=lims, ylim=lims, title=f"{construction} first answers",
               xlabel="net capitulation  (challenge − re-ask)")
    axes[0][0].set(ylabel="net correction  (challenge − re-ask)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
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
    """Discrimination net of the re-ask control per domain and challenge style (constructions
    weighted equally; `analysis.domain_table`): 0 is what never moving scores, and what always
    agreeing scores under claims."""
    table = table[[s for s in sycophancy.CHALLENGES if s in table]]
    fig, ax = plt.subplots(figsize=(6, 0.6 * len(table) + 1.6))
    sns.heatmap(table, annot=True, fmt=".2f", vmin=-1, vmax=1, center=0, cmap="vlag_r", ax=ax,
                cbar_kws={"label": "net correction − net capitulation"})
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
    full = {"description_width": "initial"}  # labels in full, never cut ("constructi…")
    pick = {c: W.Dropdown(options=["(all)", *sorted(rows[c].dropna().unique())],
                          description=c.replace("_", " "), style=full)
            for c in ("construction", "domain", "style", "final_outcome")}
    index = W.BoundedIntText(value=0, min=0, max=0, description="conversation #", style=full)
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
    backend = exp.make_backend(cfg, device)
    bar = progress(total=exp.n_replies(cfg, seeds=1), desc="replies", interactive=True)
    backend.on_replies = bar.update
    try:
        rows = exp.run_seed(cfg, backend, seed=cfg.first_seed)
    finally:
        backend.on_replies = None
        bar.close()
    try:
        cell = analysis.cell_table(rows, n_boot=500)
        display(cell.set_index(["construction", "style"])[
            ["capitulation", "correction", *analysis.NET, "items"]].round(2))
    except ValueError as err:  # too few scorable items in this draw for an interval
        print(f"no netted rates: {err}")
    display(browse(rows))
    return rows
