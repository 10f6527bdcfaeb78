"""Notebook 03's figures. Every interval drawn is the Student-t 95% interval over seeds (a size's
runs), losses clipped at 0."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from nblib import scaling
from nblib.stats import mean_ci_table

LOSS_RANGE = (0.0, None)  # a cross-entropy is never negative


def _yerr(t: pd.DataFrame) -> np.ndarray:
    """Error-bar half-lengths (below, above) of a `mean_ci_table`."""
    return np.vstack([t["mean"] - t.low, t.high - t["mean"]])


def _n_colours(points: pd.DataFrame) -> dict:
    sizes = sorted(points.N.unique())
    return dict(zip(sizes, sns.color_palette("viridis", len(sizes)), strict=True))


def plot_loss_curves(points: pd.DataFrame, fit: scaling.Fit, fit_max_tpp: float,
                     test_min_tpp: float):
    """Validation loss against tokens D per model size (mean over seeds, Student-t 95% interval
    over seeds), with the law fitted on the low tokens-per-parameter points drawn over the whole
    range."""
    colours = _n_colours(points)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for n, group in points.groupby("N"):
        stats = mean_ci_table(group, ["D"], "loss", unit="seed", clip=LOSS_RANGE)
        ax.errorbar(stats.D, stats["mean"], yerr=_yerr(stats), fmt="o", color=colours[n], ms=5,
                    capsize=2, label=f"N = {n:,}")
        d = np.geomspace(stats.D.min(), stats.D.max(), 100)
        ax.plot(d, fit.predict(np.full_like(d, n), d), color=colours[n], lw=1.2, ls="--")
        edge = group[group.tpp <= fit_max_tpp].D.max()
        ax.axvline(edge, color=colours[n], lw=0.6, ls=":")
    ax.set(xscale="log", xlabel="training tokens D", ylabel="validation loss (nats/token)",
           title=f"dashed: {fit.form.name} fitted on ≤ {fit_max_tpp:g} tokens/parameter "
                 "(dotted line per size)")
    ax.legend(fontsize=8, title="non-embedding params")
    return fig


def plot_residuals(long: pd.DataFrame, fit_max_tpp: float, test_min_tpp: float):
    """Log residual (log actual − log predicted) against tokens per parameter, per form and size
    (mean over seeds, Student-t 95% interval over seeds); fitted left of the shaded band's start,
    extrapolated inside it. Above 0: loss higher than predicted."""
    colours = _n_colours(long)
    forms = list(dict.fromkeys(long.form))
    fig, axes = plt.subplots(1, len(forms), figsize=(4.6 * len(forms), 4), sharey=True,
                             squeeze=False)
    for ax, form in zip(axes[0], forms, strict=True):
        rows = long[long.form == form]
        for n, group in rows.groupby("N"):
            stats = mean_ci_table(group, ["tpp"], "residual", unit="seed")
            ax.errorbar(stats.tpp, stats["mean"], yerr=_yerr(stats), marker="o", ms=4,
                        capsize=2, color=colours[n], label=f"N = {n:,}")
        ax.axhline(0, color="black", lw=0.8)
        ax.axvspan(test_min_tpp, rows.tpp.max() * 1.3, color="grey", alpha=0.15, lw=0)
        ax.set(xscale="log", title=form, xlabel="tokens per parameter D/N")
    axes[0][0].set(ylabel="log actual − log predicted")
    axes[0][-1].legend(fontsize=8)
    return fig


def plot_predicted_vs_actual(long: pd.DataFrame, test_min_tpp: float):
    """Held-out points: predicted against measured loss per form (the diagonal is a perfect law)."""
    held = long[long.tpp >= test_min_tpp].assign(
        predicted=lambda t: t.loss / np.exp(t.residual))
    fig, ax = plt.subplots(figsize=(5.2, 5))
    sns.scatterplot(held, x="predicted", y="loss", hue="form", style="form", ax=ax)
    both = held[["predicted", "loss"]]
    lims = [both.min().min() * 0.98, both.max().max() * 1.02]
    ax.plot(lims, lims, color="grey", ls="--", lw=1)
    ax.set(xlim=lims, ylim=lims, xlabel="predicted loss (nats/token)",
           ylabel="measured loss (nats/token)",
           title=f"held out: ≥ {test_min_tpp:g} tokens/parameter")
    return fig


def refit(cfg, points: pd.DataFrame) -> dict:
    """What the interactive form's button does: fit the chosen forms on the chosen split of the
    recorded points, print the held-out errors and draw the residuals (no retraining)."""
    from IPython.display import display

    from nblib.experiments.loss_functional_form import analysis

    train, test = analysis.masks(points, cfg.fit_max_tpp, cfg.test_min_tpp)
    fits = analysis.fit_forms(points, train, cfg.forms, cfg.fit_starts or 50)
    boots = analysis.bootstrap(points, train, test, fits, min(cfg.n_boot, 50))
    table = analysis.extrapolation_table(points, test, fits, boots)
    display(pd.DataFrame({name: {k: str(v) for k, v in row.items()}
                          for name, row in table.items()}).T)
    fig = plot_residuals(analysis.with_residuals(points, fits), cfg.fit_max_tpp, cfg.test_min_tpp)
    plt.show()
    plt.close(fig)
    return table


def plot_public_residuals(results: dict, form: str = "chinchilla"):
    """Published data, one panel per source: the log residual (log measured − log predicted) of
    `form` fitted on the low budgets, against tokens per parameter, one line per model size;
    fitted left of the first dotted line, tested right of the second. Above 0: the loss is higher
    than the law predicts. Each point is one published model (no seeds: no interval)."""
    fig, axes = plt.subplots(1, len(results), figsize=(3.6 * len(results), 3.8), sharey=True,
                             squeeze=False)
    for ax, (name, part) in zip(axes[0], results.items(), strict=True):
        points, fit = part["points"], part["fits"][form]
        r = scaling.residuals(fit, points.N, points.D, points.loss)
        colours = _n_colours(points)
        for n, g in points.assign(residual=r).sort_values("tpp").groupby("N"):
            ax.plot(g.tpp, g.residual, "o-" if len(g) > 1 else "o", color=colours[n], ms=3,
                    lw=0.8)
        ax.axvline(points[part["train"]].tpp.max(), color="k", ls=":", lw=0.8)
        ax.axvline(points[part["test"]].tpp.min(), color="k", ls=":", lw=0.8)
        ax.axhline(0, color="k", lw=0.8)
        bias = part["table"][form]["bias"]
        ax.set(xscale="log", xlabel="tokens per parameter",
               title=f"{name}\nheld-out bias {bias.value:+.3f} [{bias.low:+.3f}, {bias.high:+.3f}]")
        ax.title.set_fontsize(9)
    axes[0][0].set_ylabel(f"log residual of {form} (fit on low budgets)")
    fig.suptitle("published data: measured vs predicted loss (colour: model size, dark = small)",
                 fontsize=10)
    fig.tight_layout()
    return fig
