"""Notebook 14's figures and interactive views (the numbers come from `overtraining`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
from IPython.display import display

from nblib.config import ConfigError
from nblib.data.corpora import corpus_split, describe
from nblib.eval.lm_loss import eval_windows
from nblib.experiments import overtraining as ot
from nblib.experiments.overtraining_analysis import noise_deltas, quant_deltas, tuned_rows
from nblib.train.callbacks import LivePlot, ProgressBar


def describe_data(cfg: ot.OvertrainConfig, data: ot.Data) -> pd.DataFrame:
    """Documents, characters and tokens per split, and how many passes the largest budget makes."""
    rows = []
    for corpus in (cfg.corpus, cfg.finetune_corpus):
        info = describe(corpus)
        for split in ("train", "val", "test"):
            rows.append({"corpus": corpus, "split": split, "documents": info["documents"][split],
                         "characters": info["characters"][split]})
    table = pd.DataFrame(rows)
    biggest = ot.plan(cfg).tokens.max()
    print(f"pretraining stream: {len(data.pretrain):,} tokens; the largest budget reads {biggest:,} "
          f"tokens = {biggest / len(data.pretrain):.2f} passes over it")
    return table


def _tpp_axis(ax, ylabel: str) -> None:
    ax.set_xscale("log", base=2)
    ax.set(xlabel="tokens per non-embedding parameter", ylabel=ylabel)


def plot_history(history: pd.DataFrame):
    """Training loss of the stable (un-annealed) trajectory against tokens per parameter."""
    curves = history.dropna(subset=["train_loss"]).assign(tpp=lambda t: t.tokens / t.params)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    sns.lineplot(curves, x="tpp", y="train_loss", hue="d_model", errorbar=("ci", 95), ax=ax,
                 palette="viridis")
    _tpp_axis(ax, "training loss (nats/token)")
    ax.set_title("stable phase of the WSD runs (before any decay branch)")
    return fig


def plot_sensitivity(sens: pd.DataFrame, bits: int):
    """Left: loss rise under relative Gaussian noise, one line per sigma; right: under RTN."""
    noise, quant = noise_deltas(sens), quant_deltas(sens)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    sns.lineplot(noise, x="tpp", y="delta", hue="sigma", style="d_model", markers=True,
                 errorbar=("ci", 95), ax=axes[0], palette="rocket_r")
    _tpp_axis(axes[0], "Δ validation loss (nats/token)")
    axes[0].set_yscale("symlog", linthresh=1e-3)
    axes[0].set_title("Gaussian perturbation N(0, σ²·RMS(W)²)")
    sns.lineplot(quant, x="tpp", y="delta", hue="d_model", marker="o", errorbar=("ci", 95),
                 ax=axes[1], palette="viridis")
    _tpp_axis(axes[1], "Δ validation loss (nats/token)")
    axes[1].set_title(f"{bits}-bit round-to-nearest, per output channel")
    return fig


def plot_finetune(ft: pd.DataFrame):
    """Post-fine-tuning target loss, pretraining-domain loss and forgetting against tpp, one
    line per fine-tuning learning rate (and the per-checkpoint tuned one), a row per size."""
    both = pd.concat([ft.assign(ft_lr=ft.ft_lr.map(lambda v: f"{v:g}")), tuned_rows(ft)])
    long = both.melt(id_vars=["d_model", "seed", "tpp", "ft_lr"],
                     value_vars=["target_test", "pretrain_after", "forgetting"], var_name="metric")
    names = {"target_test": "shifted-domain test loss after FT",
             "pretrain_after": "pretraining-domain loss after FT",
             "forgetting": "forgetting: pretraining-domain loss rise"}
    long["metric"] = long.metric.map(names)
    grid = sns.relplot(long, x="tpp", y="value", hue="ft_lr", row="d_model", col="metric",
                       kind="line", marker="o", errorbar=("ci", 95), height=3.0, aspect=1.25,
                       facet_kws={"sharey": False}, palette="crest")
    for ax in grid.axes.flat:
        _tpp_axis(ax, "nats/token")
    grid.set_titles("d_model={row_name} · {col_name}", size=9)
    return grid.figure


# ------------------------------------------------------------------ interactive


def probe_view(cfg: ot.OvertrainConfig, data: ot.Data, model) -> None:
    """Run the three probes on one model and show their tables."""
    sens, ft = ot.probe_checkpoint(model, cfg, data, seed=0)
    sens = pd.DataFrame(sens)
    display(sens.groupby(["probe", "sigma"], dropna=False)[["loss", "delta"]].mean().round(4))
    display(pd.DataFrame(ft).round(4))


def probe_local(cfg: ot.OvertrainConfig, data: ot.Data, store, ckpt) -> None:
    """The picker's action for a checkpoint of the local store."""
    print(f"probing {ckpt.name} ({ckpt.meta.get('tokens', 0):,} tokens seen)")
    probe_view(cfg, data, store.load(ckpt.step, ckpt.branch))


def data_with_tokenizer(cfg: ot.OvertrainConfig, tokenizer) -> ot.Data:
    """The same splits encoded with another model's tokenizer (for hub checkpoints)."""
    def stream(corpus, split):
        ids = tokenizer("\n\n".join(corpus_split(corpus, split)))["input_ids"]
        return torch.tensor(ids, dtype=torch.long)

    def window(corpus, split):
        return eval_windows(stream(corpus, split), cfg.context, cfg.eval_windows)

    return ot.Data(stream(cfg.corpus, "train"), window(cfg.corpus, "val"),
                   stream(cfg.finetune_corpus, "train"), window(cfg.finetune_corpus, "val"),
                   window(cfg.finetune_corpus, "test"))


def probe_hub(cfg: ot.OvertrainConfig, repo: str, revision: str | None) -> None:
    """The picker's action for a hub revision (e.g. a Pythia `stepN` branch); needs a network."""
    if not revision:
        raise ConfigError(f"no hub revision of {repo!r} is selected (offline, or none listed)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(repo, revision=revision)
    model = AutoModelForCausalLM.from_pretrained(repo, revision=revision, dtype=torch.float32)
    print(f"probing {repo}@{revision} on {cfg.corpus} / {cfg.finetune_corpus} with its own tokenizer")
    probe_view(cfg, data_with_tokenizer(cfg, tokenizer), model)


def pretrain_view(cfg: ot.OvertrainConfig, data: ot.Data, picker) -> None:
    """The form's action: pretrain seed 0 of the first width (fills the store the picker shows)."""
    shape = ot.shapes(cfg)[0]
    live = [ProgressBar(ot.steps_to_train(cfg)[shape.d_model], cfg.interactive, "pretrain seed 0"),
            LivePlot(every=100, title=f"d_model={shape.d_model}, seed 0 (stable run and decay branches)")]
    annealed, _ = ot.pretrain(cfg, shape, seed=0, data=data, callbacks=live)
    print(f"saved {len(annealed)} annealed checkpoints of d_model={shape.d_model} to "
          f"{ot.store_for(cfg, shape.d_model, 0).root}")
    picker.store = ot.store_for(cfg, shape.d_model, 0)
    picker.refresh()
