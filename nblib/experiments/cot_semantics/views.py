"""Notebook 13's figures and widget. Intervals are Student-t over seeds (95%, clipped to [0, 1];
the equivalence figure 90%, the interval TOST reads); the compute lives in `experiment`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from nblib import plots
from nblib.config import ConfigError
from nblib.data.tasks.digit_sum import TRACES, encode, implied_answer
from nblib.experiments.cot_semantics.analysis import TOST_LEVEL, accuracies
from nblib.experiments.cot_semantics.experiment import baselines, family_formats, load_model
from nblib.stats import mean_ci_any, paired_any

CONDITIONS = ("direct", "own", "true", "other", "other_family", "paraphrase", "corrupt")
LABELS = {"direct": "no trace", "own": "own trace", "true": "correct trace",
          "other": "next seed's trace", "other_family": "filler model's trace",
          "paraphrase": "own, paraphrased", "corrupt": "own, one step shifted",
          "filler": "filler"}


def _interval(ax, x: float, values: np.ndarray, color, level: float = 0.95,
              clip=(0.0, 1.0)) -> None:
    """One condition: seeds as dots, the mean and its Student-t interval as a bar."""
    est = mean_ci_any(values, level)
    low, high = np.clip([est.low, est.high], *clip) if clip else (est.low, est.high)
    ax.scatter(np.full(len(values), x) + np.linspace(-0.12, 0.12, len(values)), values, s=10,
               color=color, alpha=0.5, zorder=2)
    ax.errorbar(x, est.value, yerr=[[est.value - low], [high - est.value]], fmt="o",
                color="k", capsize=4, zorder=3)


def _trivial(ax, cfg) -> None:
    base = baselines(cfg)
    ax.axhline(base["chance"], color="grey", ls=":", label="blind guess (1/10)")
    ax.axhline(base["constant"], color="grey", ls="--", lw=0.8, label="best constant answer")


def plot_conditions(results, cfg, step: int | None = None) -> plt.Figure:
    """Per format: the base models' accuracy under each condition (and the filler family's with
    and without filler) at checkpoint `step` (default the end of training), seeds as dots, mean
    and 95% interval over seeds."""
    step = results.steps[-1] if step is None else step
    panels = [*TRACES, *(["filler"] if cfg.filler_family else [])]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), sharey=True,
                             squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "filler":
            names = [("direct", "none"), ("filler", "none")]
            family, title = "filler", "filler family: no trace vs filler"
        else:
            names = [("direct", "none")] + [(c, panel) for c in CONDITIONS[1:]
                                            if c != "other_family" or cfg.filler_family]
            family, title = "base", f"{panel} format (base family)"
        for x, (condition, fmt) in enumerate(names):
            _interval(ax, x, accuracies(results, family, condition, fmt, step=step), f"C{x}")
        ax.set_xticks(range(len(names)), [LABELS[c] for c, _ in names], rotation=35,
                      ha="right", fontsize=8)
        _trivial(ax, cfg)
        ax.set(title=title, ylabel="accuracy", ylim=(-0.02, 1.02))
    axes[0][0].legend(fontsize=7, loc="center left")
    fig.suptitle(f"answer accuracy by what precedes it, step {step} of {cfg.steps} "
                 f"({cfg.n_digits} digits, {cfg.seeds} seeds, 95% CI)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_equivalence(results, cfg) -> plt.Figure:
    """The equivalence verdicts' paired differences with the own trace, per format: accuracy
    from another model's trace − own, the same for the paraphrase, and P(answer = what the trace
    implies) for another model's trace − own; seeds as dots, mean and the 90% interval TOST
    reads, the ±margin band shaded."""
    fig, ax = plt.subplots(figsize=(9.0, 3.8))
    m = cfg.equivalence_margin
    ax.axhspan(-m, m, color="C2", alpha=0.12, label=f"equivalent (±{m:g})")
    ax.axhline(0, color="k", lw=0.6)
    ticks = []
    first = results.steps[0]
    for f in TRACES:
        for name, column, step, label in (
                ("other", "correct", None, "accuracy\nother − own"),
                ("paraphrase", "correct", None, "accuracy\npara. − own"),
                ("other", "matches_trace", None, "as written\nother − own"),
                ("other", "matches_trace", first, f"as written\nstep {first}")
        )[:3 + (len(results.steps) > 1)]:
            own = accuracies(results, "base", "own", f, column=column, step=step)
            diff = accuracies(results, "base", name, f, column=column, step=step) - own
            x = len(ticks)
            est = paired_any(diff, np.zeros_like(diff), TOST_LEVEL)
            ax.scatter(np.full(len(diff), x) + np.linspace(-0.1, 0.1, len(diff)), diff, s=10,
                       color=f"C{TRACES.index(f)}", alpha=0.6)
            ax.errorbar(x, est.value, yerr=[[est.value - est.low], [est.high - est.value]],
                        fmt="o", color="k", capsize=4)
            ticks.append(f"{f}\n{label}")
    ax.set_xticks(range(len(ticks)), ticks, fontsize=7)
    ax.set(ylabel="paired difference", title="does the gain survive another writer? "
           f"(90% CI over {cfg.seeds} seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_early(results, cfg) -> plt.Figure:
    """Early answering: accuracy against the share of the own trace kept before '=' is forced,
    per format (base family), mean and 95% band over seeds, with no trace and a blind guess."""
    fig, ax = plt.subplots(figsize=(5.4, 3.6))
    a = results.accuracy
    for i, f in enumerate(TRACES):
        part = a[(a.family == "base") & (a.condition == "early") & (a.format == f)
                 & (a.step == results.steps[-1])]
        plots.mean_band(ax, part, "fraction", "correct", palette=[f"C{i}"], clip=(0, 1))
        ax.lines[-1].set_label(f"{f} trace")
    ax.axhline(accuracies(results, "base", "direct").mean(), color="k", ls="-.", lw=0.8,
               label="no trace (mean)")
    _trivial(ax, cfg)
    ax.set(xlabel="share of the own trace kept", ylabel="accuracy", ylim=(-0.02, 1.02),
           title="early answering (95% CI over seeds)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_corruption(results, cfg) -> plt.Figure:
    """After one step of the own trace is shifted by δ and the model writes the rest: the share
    of answers that shift by δ (follow the error), stay the uncorrupted answer, or agree with
    the corrupted trace's own implied answer; per format, 95% interval over seeds."""
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    columns = (("follows", "shifted\nby δ"), ("keeps", "unchanged"),
               ("matches_trace", "= its trace's\nanswer"))
    for i, f in enumerate(TRACES):
        for j, (col, _) in enumerate(columns):
            _interval(ax, i * 4 + j, accuracies(results, "base", "corrupt", f, column=col),
                      f"C{j}")
    ax.set_xticks([i * 4 + j for i in range(len(TRACES)) for j in range(len(columns))],
                  [f"{f}\n{label}" for f in TRACES for _, label in columns], fontsize=7)
    ax.axhline(0.1, color="grey", ls=":", label="blind guess (1/10)")
    ax.set(ylabel="share of answers", ylim=(-0.02, 1.02),
           title="one corrupted step (95% CI over seeds)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_loss(results, cfg) -> plt.Figure:
    """Training loss (nats per completion token) against the step, per family, 95% band."""
    fig, ax = plt.subplots(figsize=(5.4, 3.4))
    plots.mean_band(ax, results.loss, "step", "loss", hue="family", marker="")
    ax.set(xlabel="optimizer step", ylabel="training loss (nats/token)", yscale="log",
           title=f"training ({results.params:,} parameters per model)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def answer_given(cfg, seed: int, family: str, step: int, digits: str, fmt: str, steps: str,
                 device="cpu") -> dict:
    """What one trained model (at checkpoint `step`) answers after `digits` and a hand-written
    trace of `fmt`: the probability of each answer digit, the most probable one, the true sum and
    the answer the trace implies. ConfigError (before any compute) on a seed or checkpoint
    outside the run, a format the family was not trained on, or digits and steps of the wrong
    length."""
    task = cfg.task()
    if seed not in cfg.seed_list:
        raise ConfigError(f"seed={seed}: this run trained seeds {cfg.seed_list}")
    if step not in cfg.eval_steps:
        raise ConfigError(f"step={step}: not a checkpoint of this run, allowed {cfg.eval_steps}")
    if family not in cfg.families:
        raise ConfigError(f"family={family!r}: this run trained {list(cfg.families)}")
    if fmt not in family_formats(family):
        raise ConfigError(f"format={fmt!r}: the {family} family was trained on "
                          f"{family_formats(family)} only (a format it never saw measures "
                          "literacy, not computation)")
    problem = [int(ch) for ch in digits if ch.isdigit()]
    if len(problem) != task.n_digits or len(problem) != len(digits.replace(" ", "")):
        raise ConfigError(f"digits={digits!r}: must be {task.n_digits} digits")
    written = encode(steps) if steps.strip() else []
    if fmt in TRACES and (len(written) != task.trace_len(fmt) or max(written, default=0) > 9):
        raise ConfigError(f"trace={steps!r}: a {fmt} trace is {task.trace_len(fmt)} digits "
                          "separated by spaces")
    if fmt in ("direct", "filler") and written:
        raise ConfigError(f"trace={steps!r}: the {fmt} format takes no trace (leave it empty)")
    model = load_model(cfg, family, seed, step, device)
    problems = torch.tensor([problem])
    steps_t = torch.tensor([written], dtype=torch.long).reshape(1, -1) if fmt in TRACES else None
    prefix = task.prefix(problems, fmt, steps_t)
    with torch.no_grad():
        probs = torch.softmax(model(input_ids=prefix.to(device)).logits[0, -1, :10], -1)
    return {"answer": int(probs.argmax()), "true sum mod 10": int(sum(problem) % 10),
            "the trace implies": implied_answer(written, fmt) if fmt in TRACES else "-",
            **{f"P({d})": round(float(p), 3) for d, p in enumerate(probs)}}


def explorer(results, cfg):
    """Type digits and a trace (or edit the model's own one) and see the answer move."""
    import ipywidgets as W

    from nblib.widgets import show_panel

    first = results.problems[0]
    own = results.traces[("base", cfg.seed_list[0], results.steps[-1])]["trace_running"][0]
    controls = [
        W.Dropdown(options=list(cfg.seed_list), description="seed"),
        W.Dropdown(options=list(cfg.families), description="family"),
        W.Dropdown(options=list(results.steps), value=results.steps[-1], description="step"),
        W.Text(value="".join(map(str, first)), description="digits"),
        W.Dropdown(options=["running", "pairs", "direct", "filler"], description="format"),
        W.Text(value=" ".join(map(str, own)), description="trace"),
    ]
    return show_panel(controls, lambda *v: answer_given(cfg, *v))
