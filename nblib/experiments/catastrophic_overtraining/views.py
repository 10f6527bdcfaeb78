"""Notebook 14's figures and interactive views (the numbers come from `experiment`). Every band
is the mean with a 95% Student-t interval over seeds (the pretraining runs of one size), the
interval the verdicts use, clipped to the metric's range (losses are >= 0)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
from IPython.display import display

from nblib import plots
from nblib.config import ConfigError
from nblib.data.corpora import corpus_split, describe
from nblib.eval.lm_loss import eval_windows
from nblib.experiments.catastrophic_overtraining import OvertrainConfig
from nblib.experiments.catastrophic_overtraining import experiment as ot
from nblib.experiments.catastrophic_overtraining.analysis import (
    noise_deltas,
    quant_deltas,
    tuned_rows,
)
from nblib.train.callbacks import LivePlot, ProgressBar

MARKERS = ("o", "s", "D", "^")  # one per model size
STYLES = ("-", "--", ":", "-.")  # one per model size


def describe_data(cfg: OvertrainConfig, data: ot.Data) -> pd.DataFrame:
    """Documents, characters and tokens per split, and how many passes the largest budget makes."""
    rows = []
    for corpus in (cfg.corpus, cfg.finetune_corpus):
        info = describe(corpus)
        for split in ("train", "val", "test"):
            rows.append({"corpus": corpus, "split": split, "documents": info["documents"][split],
                         "characters": info["characters"][split]})
    table = pd.DataFrame(rows)
    biggest = ot.plan(cfg).tokens.max()
    print(f"pretraining stream: {len(data.pretrain):,} tokens; the largest budget reads "
          f"{biggest:,} tokens = {biggest / len(data.pretrain):.2f} passes over it")
    return table


def _tpp_axis(ax, ylabel: str) -> None:
    ax.set_xscale("log", base=2)
    ax.set(xlabel="tokens per non-embedding parameter", ylabel=ylabel)


def plot_history(history: pd.DataFrame):
    """Training loss of the stable (un-annealed) trajectory against tokens per parameter: mean
    and 95% Student-t band over the seeds of each size."""
    curves = history.dropna(subset=["train_loss"]).assign(tpp=lambda t: t.tokens / t.params)
    widths = sorted(curves.d_model.unique())
    fig, ax = plt.subplots(figsize=(6, 3.6))
    plots.mean_band(ax, curves, "tpp", "train_loss", hue="d_model", unit="seed", clip=(0, None),
                    palette=sns.color_palette("viridis", len(widths)), marker="",
                    label_fmt="d_model={}")
    _tpp_axis(ax, "training loss (nats/token)")
    ax.set_title("stable phase of the WSD runs (before any decay branch)")
    ax.legend(fontsize=8)
    return fig


def plot_sensitivity(sens: pd.DataFrame, bits: int):
    """Left: loss rise under relative Gaussian noise, one colour per sigma and one line style per
    size; right: under RTN. Mean and 95% Student-t band over the seeds of each size."""
    noise, quant = noise_deltas(sens), quant_deltas(sens)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    colors = sns.color_palette("rocket_r", noise.sigma.nunique())
    for k, width in enumerate(sorted(noise.d_model.unique())):
        plots.mean_band(axes[0], noise[noise.d_model == width], "tpp", "delta", hue="sigma",
                        unit="seed", palette=colors, marker=MARKERS[k % len(MARKERS)],
                        linestyle=STYLES[k % len(STYLES)], label_fmt=f"σ={{}}, d_model={width}")
    _tpp_axis(axes[0], "Δ validation loss (nats/token)")
    axes[0].set_yscale("symlog", linthresh=1e-3)
    axes[0].set_title("Gaussian perturbation N(0, σ²·RMS(W)²)")
    axes[0].legend(fontsize=7)
    plots.mean_band(axes[1], quant, "tpp", "delta", hue="d_model", unit="seed",
                    palette=sns.color_palette("viridis", quant.d_model.nunique()),
                    label_fmt="d_model={}")
    _tpp_axis(axes[1], "Δ validation loss (nats/token)")
    axes[1].set_title(f"{bits}-bit round-to-nearest, per output channel")
    axes[1].legend(fontsize=8)
    return fig


FT_METRICS = {"target_test": ("shifted-domain test loss after FT", (0, None)),
              "pretrain_after": ("pretraining-domain loss after FT", (0, None)),
              "forgetting": ("forgetting: pretraining-domain loss rise", (None, None))}


def plot_finetune(ft: pd.DataFrame):
    """Post-fine-tuning target loss, pretraining-domain loss and forgetting against tpp, one
    line per fine-tuning learning rate (and the per-checkpoint tuned one), a row per size: mean
    and 95% Student-t band over seeds."""
    both = pd.concat([ft.assign(ft_lr=ft.ft_lr.map(lambda v: f"{v:g}")), tuned_rows(ft)])
    widths = sorted(both.d_model.unique())
    colors = sns.color_palette("crest", both.ft_lr.nunique())
    fig, axes = plt.subplots(len(widths), len(FT_METRICS), figsize=(11.5, 3.0 * len(widths)),
                             squeeze=False)
    for row, width in zip(axes, widths, strict=True):
        part = both[both.d_model == width]
        for ax, (metric, (name, clip)) in zip(row, FT_METRICS.items(), strict=True):
            plots.mean_band(ax, part, "tpp", metric, hue="ft_lr", unit="seed", clip=clip,
                            palette=colors, label_fmt="ft_lr={}")
            _tpp_axis(ax, "nats/token")
            ax.set_title(f"d_model={width} · {name}", fontsize=9)
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ interactive


def probe_view(cfg: OvertrainConfig, data: ot.Data, model) -> None:
    """Run the three probes on one model and show their tables."""
    sens, ft = ot.probe_checkpoint(model, cfg, data, seed=0)
    sens = pd.DataFrame(sens)
    display(sens.groupby(["probe", "sigma"], dropna=False)[["loss", "delta"]].mean().round(4))
    display(pd.DataFrame(ft).round(4))


def probe_local(cfg: OvertrainConfig, data: ot.Data, store, ckpt) -> None:
    """The picker's action for a checkpoint of the local store."""
    print(f"probing {ckpt.name} ({ckpt.meta.get('tokens', 0):,} tokens seen)")
    probe_view(cfg, data, store.load(ckpt.step, ckpt.branch))


def data_with_tokenizer(cfg: OvertrainConfig, tokenizer) -> ot.Data:
    """The same splits encoded with another model's tokenizer (for hub checkpoints)."""
    def stream(corpus, split):
        ids = tokenizer("\n\n".join(corpus_split(corpus, split)))["input_ids"]
        return torch.tensor(ids, dtype=torch.long)

    def window(corpus, split):
        return eval_windows(stream(corpus, split), cfg.context, cfg.eval_windows)

    return ot.Data(stream(cfg.corpus, "train"), window(cfg.corpus, "val"),
                   stream(cfg.finetune_corpus, "train"), window(cfg.finetune_corpus, "val"),
                   window(cfg.finetune_corpus, "test"))


def probe_hub(cfg: OvertrainConfig, repo: str, revision: str | None) -> None:
    """The picker's action for a hub revision (e.g. a Pythia `stepN` branch); needs a network."""
    if not revision:
        raise ConfigError(f"no hub revision of {repo!r} is selected (offline, or none listed)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(repo, revision=revision)
    model = AutoModelForCausalLM.from_pretrained(repo, revision=revision, dtype=torch.float32)
    print(f"probing {repo}@{revision} on {cfg.corpus} / {cfg.finetune_corpus} with its own "
          "tokenizer")
    probe_view(cfg, data_with_tokenizer(cfg, tokenizer), model)


def pretrain_view(cfg: OvertrainConfig, data: ot.Data, picker) -> None:
    """The form's action: pretrain the first seed of the first width (fills the store the
    picker shows)."""
    shape, seed = ot.shapes(cfg)[0], cfg.first_seed
    title = f"d_model={shape.d_model}, seed {seed} (stable run and decay branches)"
    live = [ProgressBar(ot.steps_to_train(cfg)[shape.d_model], cfg.interactive,
                        f"pretrain seed {seed}"), LivePlot(every=100, title=title)]
    annealed, _ = ot.pretrain(cfg, shape, seed=seed, data=data, callbacks=live)
    store = ot.store_for(cfg, shape.d_model, seed)
    print(f"saved {len(annealed)} annealed checkpoints of d_model={shape.d_model} to "
          f"{store.root}")
    picker.store = store
    picker.refresh()
