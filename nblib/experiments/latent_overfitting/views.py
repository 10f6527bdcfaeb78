"""Notebook 05's figures and widget. Bands are Student-t 95% intervals over seeds
(`plots.mean_band`); the compute lives in `experiment`, the statistics in `analysis`."""

from __future__ import annotations

import random

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nblib import plots
from nblib.config import ConfigError
from nblib.data.repetition import meter
from nblib.data.tasks import bios
from nblib.experiments.latent_overfitting.analysis import METERED, decomposition, rises
from nblib.experiments.latent_overfitting.experiment import WORLD, training_people

COLORS = {"fresh": "k", "rephrased": "C0", "shuffled": "C2", "repeated": "C3"}


def _label(condition: str, people: int) -> str:
    return "fresh (a new person per document)" if condition == "fresh" else \
        f"{condition}, {people} people"


def _at_people(curves: pd.DataFrame, cfg) -> pd.DataFrame:
    return curves[(curves.condition == "fresh") | (curves.people == cfg.people)]


def _bands(ax, df: pd.DataFrame, y: str, cfg) -> None:
    for cond in ("fresh", "rephrased", "shuffled", "repeated"):
        part = df[df.condition == cond]
        if len(part):
            plots.mean_band(ax, part, "step", y, palette=[COLORS[cond]], marker=".")
            ax.lines[-1].set_label(_label(cond, cfg.people))


def plot_curves(results, cfg) -> plt.Figure:
    """Left: the new people's validation loss (all tokens) against the step per condition.
    Right: value-token losses, the two probes: new people (unseen facts in seen templates) and
    seen people in held-out frames (seen facts in wordings never trained on)."""
    c = _at_people(results.curves[results.curves.step > 0], cfg)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.3))
    _bands(ax, c, "new_all", cfg)
    ax.set(xlabel="optimizer step", ylabel="nats / token", ylim=(None, None),
           title=f"validation loss on {cfg.test_people} new people ({cfg.seeds} seeds, 95% CI)")
    ax.legend(fontsize=8)
    for cond, ls in (("rephrased", "-"), ("repeated", "--")):
        part = c[c.condition == cond]
        if not len(part):
            continue
        plots.mean_band(bx, part, "step", "new_value", palette=["C1"], marker="", ls=ls)
        bx.lines[-1].set_label(f"(ii) new people, {cond}")
        plots.mean_band(bx, part, "step", "seen_held_out_value", palette=["C4"], marker="",
                        ls=ls)
        bx.lines[-1].set_label(f"(i) seen people, held-out frames, {cond}")
    bx.set(xlabel="optimizer step", ylabel="nats / value token",
           title=f"the facts' tokens, {cfg.people} people")
    bx.legend(fontsize=7)
    return fig


def plot_diversity(results, cfg) -> plt.Figure:
    """Left: the validation loss of rephrasing at each people count, with the fresh baseline.
    Right: the cross-fitted rise against the people count (seeds as dots, mean with 95%
    interval), and the onset step in exposures per person on a second axis."""
    c = results.curves[results.curves.step > 0]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.3))
    ns = sorted(cfg.diversity)
    palette = plt.cm.viridis(np.linspace(0.1, 0.85, len(ns)))
    for n, color in zip(ns, palette, strict=True):
        plots.mean_band(ax, c[(c.condition == "rephrased") & (c.people == n)], "step",
                        "new_all", palette=[color], marker=".")
        ax.lines[-1].set_label(f"rephrased, {n} people")
    plots.mean_band(ax, c[c.condition == "fresh"], "step", "new_all", palette=["k"], marker=".")
    ax.lines[-1].set_label("fresh")
    ax.set(xlabel="optimizer step", ylabel="nats / token",
           title="validation loss on new people, by the number of people")
    ax.legend(fontsize=8)
    t = rises(results)
    t = t[t.condition == "rephrased"]
    for i, n in enumerate(ns):
        r = t[t.people == n].rise.to_numpy()
        bx.plot(np.full(len(r), i) + np.linspace(-0.08, 0.08, len(r)), r, "o", color=palette[i],
                alpha=0.6)
        bx.errorbar(i + 0.2, r.mean(), yerr=_half(r), fmt="D", color=palette[i], capsize=4)
    bx.axhline(0, color="grey", lw=1)
    bx.set(xticks=range(len(ns)), xticklabels=[str(n) for n in ns], xlabel="people",
           ylabel="cross-fitted rise (nats / token)", title="how much, and when, it rises")
    cx = bx.twinx()
    s = results.streams
    onset = [np.exp(np.log(t[t.people == n].onset).mean()) for n in ns]
    per_step = [s[(s.condition == "rephrased") & (s.people == n)].n_documents.mean() / cfg.steps
                / n for n in ns]  # exposures per person per step
    cx.plot(range(len(ns)), [o * p for o, p in zip(onset, per_step, strict=True)], "s--",
            color="grey", label="onset, exposures per person")
    cx.set_ylabel("onset (exposures per person)", color="grey")
    cx.legend(fontsize=8, loc="upper right")
    return fig


def _half(x: np.ndarray):
    from nblib.stats import mean_ci_any

    est = mean_ci_any(x)
    if not np.isfinite(est.low):
        return None
    return [[est.value - est.low], [est.high - est.value]]


def plot_meter(results, cfg) -> plt.Figure:
    """The repetition meter of every condition's training stream: shares of documents,
    sentences, 8-grams and fact 8-grams already seen earlier in the stream (mean over seeds)."""
    s = results.streams.groupby(["condition", "people"], sort=False)[list(METERED)].mean()
    fig, ax = plt.subplots(figsize=(10, 3.8))
    width = 0.8 / len(METERED)
    for i, m in enumerate(METERED):
        ax.bar(np.arange(len(s)) + i * width, s[m], width, label=m.replace("_", " "))
    ax.set(xticks=np.arange(len(s)) + 0.4 - width / 2,
           xticklabels=[_label(c, n).split(" (")[0].replace(", ", "\n") for c, n in s.index],
           ylim=(0, 1.02),
           ylabel="share already seen in the stream",
           title=f"the repetition meter (n = {cfg.ngram}; fact n-grams hold a name or value token)")
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=8)
    return fig


def plot_decomposition(results, cfg) -> plt.Figure:
    """The cross-fitted rise of each token kind's loss per condition at `people` (and fresh),
    mean with its 95% interval over seeds."""
    d = decomposition(results, cfg)
    d = d[((d.condition == "fresh") | (d.people == cfg.people)) & (d.kind != "all")]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    conds = [c for c in ("fresh", "rephrased", "shuffled", "repeated") if c in set(d.condition)]
    for j, kind in enumerate(("text", "name", "value")):
        part = d[d.kind == kind].set_index("condition").loc[conds]
        err = [part.rise - part.low, part.high - part.rise]
        ax.bar(np.arange(len(conds)) + 0.27 * j, part.rise, 0.27, yerr=err, capsize=3,
               label=f"{kind} tokens ({part.token_share.iloc[0]:.0%} of tokens)")
    ax.axhline(0, color="grey", lw=1)
    ax.set(xticks=np.arange(len(conds)) + 0.27, xticklabels=conds,
           ylabel="cross-fitted rise (nats / token)",
           title=f"what rises: the new people's loss by token kind, {cfg.people} people")
    ax.legend(fontsize=8)
    return fig


# ------------------------------------------------------------------ the widget


def describe_person(cfg, person: int, renderings: int, seed: int | None = None) -> dict:
    """The widget's action: one training person of the small set (seed `seed`, default the
    first), written `renderings` times as the rephrased stream would, once shuffled, and as the
    repeated condition's single text; with the meter over those renderings."""
    seed = cfg.first_seed if seed is None else seed
    if not isinstance(person, int) or not 0 <= person < cfg.people:
        raise ConfigError(f"parameter person={person!r}: out of range, allowed "
                          f"[0, {cfg.people - 1}] (a person of the small set)")
    if not isinstance(renderings, int) or not 1 <= renderings <= 1000:
        raise ConfigError(f"parameter renderings={renderings!r}: out of range, allowed [1, 1000]")
    p = training_people(cfg.people, seed)[person]
    rng = random.Random(f"explore-{seed}-{person}")
    docs = [bios.render(p, WORLD, rng) for _ in range(renderings)]
    shuffled = bios.render(p, WORLD, rng, order="shuffled")
    text = lambda d: " ".join(w for s in d for w, _ in s)  # noqa: E731
    for i, d in enumerate(docs[:3]):
        print(f"rephrasing {i + 1}: {text(d)}\n")
    print(f"shuffled: {text(shuffled)}\n")
    rep = meter([[tuple(w for w, _ in s) for s in d] for d in docs], cfg.ngram,
                facts=[[[k != bios.TEXT for _, k in s] for s in d] for d in docs])
    return {"person": " ".join(p.name), "born": f"{p.month} {p.day}, {p.year} in {p.birth_city}",
            "studied": f"{' '.join(p.major)} at {' '.join(p.university)}",
            "works for": f"{' '.join(p.employer)} ({WORLD.hq[p.employer]})",
            "renderings metered": renderings,
            **{f"repeated {m.replace('_', ' ')}": round(getattr(rep, m), 4) for m in METERED}}


def explorer(cfg):
    """A person box, a renderings box and a Show button; a value out of range is refused with
    the config's message, never clamped."""
    import ipywidgets as W

    from nblib.widgets import show_panel

    person = W.IntText(value=0, description="person")
    renderings = W.IntText(value=50, description="renderings")
    return show_panel([person, renderings], lambda p, n: describe_person(cfg, p, n))
