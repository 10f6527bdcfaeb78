"""Notebook 08's figures and widget. Bands are Student-t 95% intervals over seeds, clipped to the
metric's range (`plots.mean_band`); the compute lives in `experiment`, the fits in `analysis`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from nblib import plots
from nblib.config import ConfigError
from nblib.data.tasks.modexp import ALGORITHMS, TAGS, check_algorithm
from nblib.eval.decoding import generate
from nblib.experiments.more_is_different.analysis import at, final_step, share_by_b, signatures
from nblib.experiments.more_is_different.experiment import baselines, store_for
from nblib.stats import mean_ci_any

COLORS = {"linear": "C0", "binary": "C3", "other": "C7"}


def _panels(cfg, height: float = 3.4):
    fig, axes = plt.subplots(1, len(cfg.widths), figsize=(3.8 * len(cfg.widths), height),
                             sharey=True, squeeze=False)
    return fig, axes[0]


def plot_shares(results, cfg) -> plt.Figure:
    """Per width: the share of training-range completions (T 1) of each algorithm against the
    RL step (0: the pretrained model), mean and 95% interval over seeds."""
    fig, axes = _panels(cfg)
    c = results.curves[results.curves.split == "train"]
    for ax, w in zip(axes, cfg.widths, strict=True):
        part = c[c.width == w]
        for alg, color in COLORS.items():
            plots.mean_band(ax, part, "step", f"share_{alg}", palette=[color], clip=(0, 1))
            ax.lines[-1].set_label(alg)
        ax.set(title=f"d_model={w} ({results.params[w]:,} params)", xlabel="GRPO step",
               ylabel="share of completions", ylim=(-0.02, 1.02))
    axes[0].legend(fontsize=8)
    fig.suptitle(f"algorithm written, training range b in {cfg.train_b} ({cfg.seeds} seeds, "
                 "95% CI)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_accuracy(results, cfg) -> plt.Figure:
    """Per width: accuracy (T 1) and greedy accuracy against the RL step on both ranges, with a
    blind guess and the best constant answer (dotted)."""
    fig, axes = _panels(cfg)
    base = baselines(cfg)
    for ax, w in zip(axes, cfg.widths, strict=True):
        for split, ls in (("train", "-"), ("test", "--")):
            part = results.curves[(results.curves.width == w) & (results.curves.split == split)]
            plots.mean_band(ax, part, "step", "accuracy", palette=["C2"], clip=(0, 1), ls=ls)
            ax.lines[-1].set_label(f"T 1, {split} b")
            plots.mean_band(ax, part, "step", "greedy", palette=["k"], clip=(0, 1), ls=ls,
                            marker=".")
            ax.lines[-1].set_label(f"greedy, {split} b")
        trivial = max(base["chance_train"], base["constant_train"])
        ax.axhline(trivial, color="grey", ls=":", label="best constant answer")
        ax.set(title=f"d_model={w}", xlabel="GRPO step", ylabel="accuracy", ylim=(-0.02, 1.02))
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_accuracy_by_b(results, cfg) -> plt.Figure:
    """Per width: accuracy (T 1) against b before and after RL (mean and 95% interval over
    seeds), the held-out range right of the dashed line, and the two decay shapes fitted on the
    training range after RL (mean parameters over seeds)."""
    fig, axes = _panels(cfg, 3.6)
    p = results.per_problem.assign(acc=lambda t: t.correct / cfg.eval_samples)
    sig = signatures(results, cfg)
    last = final_step(results)
    bs = np.arange(cfg.train_b[0], cfg.test_b[1] + 1)
    steps = {"linear": bs, "binary": np.array([int(b).bit_length() + int(b).bit_count()
                                                for b in bs])}
    floor = float(np.mean(1.0 / np.asarray(cfg.moduli)))
    for ax, w in zip(axes, cfg.widths, strict=True):
        for step, color, name in ((0, "grey", "pretrained"), (last, "C2", f"after {last} steps")):
            part = p[(p.width == w) & (p.step == step)].groupby(["seed", "b"]).acc.mean() \
                .reset_index()
            plots.mean_band(ax, part, "b", "acc", palette=[color], clip=(0, 1), marker=".")
            ax.lines[-1].set_label(name)
        s = sig[(sig.width == w) & (sig.step == last)]
        for shape in ("linear", "binary"):
            a, e = s[f"alpha_{shape}"].mean(), s[f"epsilon_{shape}"].mean()
            curve = floor + (1 - floor) * a * (1 - e) ** steps[shape]
            ax.plot(bs, curve, color=COLORS[shape], lw=1, label=f"{shape} shape (fit)")
        ax.axvline(cfg.train_b[1] + 0.5, color="k", ls="--", lw=1)
        ax.axhline(floor, color="grey", ls=":", lw=1)
        ax.set(title=f"d_model={w}", xlabel="exponent b (right of dashed: held out)",
               ylabel="accuracy (T 1)", ylim=(-0.02, 1.02))
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_share_by_b(results, cfg) -> plt.Figure:
    """After RL: the binary share of completions against b, one line per width (mean over
    seeds): where along b each size switches algorithm."""
    t = share_by_b(results)
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for i, w in enumerate(cfg.widths):
        part = t[t.width == w]
        ax.plot(part.b, part.share_binary, "o-", color=f"C{i}", label=f"d_model={w}")
    ax.axvline(cfg.train_b[1] + 0.5, color="k", ls="--", lw=1)
    ax.set(xlabel="exponent b (right of dashed: held out)", ylabel="binary share (T 1)",
           ylim=(-0.02, 1.02), title=f"after {final_step(results)} GRPO steps (mean over seeds)")
    ax.legend(fontsize=8)
    return fig


def plot_headline(results, cfg) -> plt.Figure:
    """Share of `algorithm` per width before and after RL: seeds (dots, a seed's widths joined)
    and mean with the 95% interval over seeds (clipped to [0, 1])."""
    col, fig, ax = f"share_{cfg.algorithm}", *plt.subplots(figsize=(6.5, 3.8))
    x = np.arange(len(cfg.widths))
    for step, color, dx in ((0, "grey", -0.12), (final_step(results), "C3", 0.12)):
        c = results.curves[(results.curves.split == "train") & (results.curves.step == step)]
        for _, g in c.groupby("seed"):
            ax.plot(x + dx, g.sort_values("width")[col], "-", color=color, alpha=0.25, lw=1)
        for i, w in enumerate(cfg.widths):
            est = mean_ci_any(c[c.width == w][col].to_numpy())
            lo, hi = (np.clip([est.low, est.high], 0, 1) if np.isfinite(est.low)
                      else (est.value, est.value))
            ax.errorbar(i + dx, est.value, yerr=[[est.value - lo], [hi - est.value]], fmt="o",
                        color=color, capsize=4,
                        label=("pretrained" if step == 0 else "after RL") if i == 0 else None)
    ax.set_xticks(x, [f"d={w}\n{results.params[w]:,}" for w in cfg.widths])
    ax.set(ylabel=f"{cfg.algorithm} share (T 1, training b)", ylim=(-0.02, 1.02),
           title=f"headline: {cfg.algorithm} share by size ({cfg.seeds} seeds, 95% CI)")
    ax.legend(fontsize=8)
    return fig


def plot_follows_execution(results, cfg) -> plt.Figure:
    """H5: per seed and width, the pretrained model's forced-tag greedy accuracy gap (binary −
    linear, RL step 0) against the change of the binary share over RL; a point in the upper right
    or lower left quadrant is RL moving towards the algorithm that model executes better."""
    start, end = at(results, 0), at(results, final_step(results))
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, w in enumerate(cfg.widths):
        s, e = start[start.width == w], end[end.width == w]
        gap = s.forced_binary.to_numpy() - s.forced_linear.to_numpy()
        shift = e.share_binary.to_numpy() - s.share_binary.to_numpy()
        ax.plot(gap, shift, "o", color=f"C{i}", alpha=0.8, label=f"d_model={w}")
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set(xlabel="forced greedy accuracy, binary − linear (pretrained)",
           ylabel="change of the binary share over RL",
           title=f"does RL follow execution? (one point per seed, {cfg.seeds} seeds)")
    ax.legend(fontsize=8)
    return fig


# ------------------------------------------------------------------ the widget


def check_pick(cfg, results, width, seed, step, a, b, algorithm="auto") -> None:
    """ConfigError with a one-line message for any choice outside the run (nothing clamped)."""
    def whole(x):
        return isinstance(x, int) and not isinstance(x, bool)

    if width not in cfg.widths:
        raise ConfigError(f"parameter width={width!r}: not a width of this run, allowed "
                          f"{list(cfg.widths)}")
    if not whole(seed) or seed not in cfg.seed_list:
        raise ConfigError(f"parameter seed={seed!r}: out of range, allowed "
                          f"[{cfg.seed_list[0]}, {cfg.seed_list[-1]}] (a seed of this run)")
    if step not in results.steps:
        raise ConfigError(f"parameter step={step!r}: not a checkpoint of this run, allowed "
                          f"{list(results.steps)}")
    c = cfg.moduli[0]
    if not whole(a) or not 1 <= a < c:
        raise ConfigError(f"parameter a={a!r}: must be an integer in [1, {c - 1}] (c = {c})")
    if not whole(b) or not 0 <= b <= cfg.test_b[1]:
        raise ConfigError(f"parameter b={b!r}: must be an integer in [0, {cfg.test_b[1]}] "
                          f"(training {cfg.train_b}, held out {cfg.test_b})")
    if algorithm != "auto":
        check_algorithm(algorithm)


def show_trace(results, cfg, width, seed, step, a, b, algorithm="auto") -> dict:
    """The widget's action: load the checkpoint, decode a^b mod c greedily (the tag chosen by
    the model, or forced to `algorithm`) and grade the trace."""
    check_pick(cfg, results, width, seed, step, a, b, algorithm)
    task, c = cfg.task(), cfg.moduli[0]
    model = store_for(cfg, width, seed).load(step)  # ConfigError if the store lacks it
    prompt = torch.tensor([task.prompt((a, b, c))])  # (1, Tp)
    lead = [] if algorithm == "auto" else [TAGS[algorithm]]
    rows = torch.cat([prompt, torch.tensor([lead], dtype=torch.long)], 1) if lead else prompt
    with torch.no_grad():
        p_binary = float(torch.softmax(model(input_ids=prompt).logits[0, -1], -1)[TAGS["binary"]])
    done = lead + generate(model, rows, task.max_completion_len("test") - len(lead),
                           stop_id=task.vocab.stop_id, pad_id=task.vocab.pad_id,
                           cached=True)[0].tolist()
    parsed = task.parse(done)
    return {"trace": task.show((a, b, c), done), "algorithm": task.classify(done),
            "correct": task.reward((a, b, c), parsed) == 1.0, "answer": pow(a, b, c),
            "step_accuracy": round(task.step_accuracy((a, b, c), parsed), 3),
            "p_binary_tag": round(p_binary, 3),
            "range": "training" if cfg.train_b[0] <= b <= cfg.train_b[1] else "held out"}


def explorer(results, cfg):
    """Width, seed, checkpoint, a, b and algorithm controls and a Show button; a choice outside
    the run is refused with the config's message, never clamped."""
    import ipywidgets as W

    from nblib.widgets import show_panel

    width = W.Dropdown(options=list(cfg.widths), value=cfg.widths[-1], description="width")
    seed = W.IntText(value=cfg.first_seed, description="seed")
    step = W.Dropdown(options=list(results.steps), value=results.steps[-1], description="step")
    a = W.IntText(value=3, description="a")
    b = W.IntText(value=cfg.train_b[1], description="b")
    alg = W.Dropdown(options=["auto", *ALGORITHMS], value="auto", description="algorithm")
    return show_panel([width, seed, step, a, b, alg],
                      lambda *v: show_trace(results, cfg, *v))
