"""Notebook 11's figures and widget. Intervals are Student-t, 95%, over items (Part A) or seeds
(Part B), clipped to [0, 1]; the compute lives in `rot`, `editors` and `experiment`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from nblib.config import ConfigError
from nblib.data.tasks.ledger import LedgerTask, decode
from nblib.eval.edit_tool import format_edit, parse_edit
from nblib.experiments.context_editing import POLICIES
from nblib.experiments.context_editing import editors as ed
from nblib.experiments.context_editing.analysis import policy
from nblib.experiments.context_editing.experiment import constant_baseline, load_models
from nblib.stats import mean_ci_any, mean_ci_table

COLORS = {"full": "k", "oracle": "tab:green", "lexical": "tab:olive", "random": "tab:grey",
          "supervised": "tab:blue", "rl": "tab:red"}
LABELS = {"full": "full ledger", "oracle": "oracle (question's entity and tag)",
          "lexical": "lexical (question's entity)", "random": "random lines",
          "supervised": "editor, supervised from random edits", "rl": "editor, RL"}


def plot_rot(results, cfg) -> plt.Figure:
    """Part A: exact match and log p(code) against haystack length, coherent with 0 and with the
    distractors, the shuffled haystack and the distractors alone as points; mean and 95% interval
    over items."""
    r = results.rot.assign(correct=results.rot.correct.astype(float))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, column, label in ((axes[0], "correct", "exact match"),
                              (axes[1], "logp", "log p(code) (nats)")):
        clip = (0, 1) if column == "correct" else (None, None)
        t = mean_ci_table(r, ["length", "distractors", "shuffled"], column, unit="item",
                          clip=clip)
        for d, color in ((0, "tab:blue"), (cfg.rot_distractors, "tab:red")):
            g = t[(t.distractors == d) & ~t.shuffled & (t.length > 0)].sort_values("length")
            ax.plot(g.length, g["mean"], "o-", color=color, label=f"coherent, {d} distractors")
            ax.fill_between(g.length, g.low, g.high, color=color, alpha=0.15)
            s = t[(t.distractors == d) & t.shuffled]
            ax.errorbar(s.length * 1.08, s["mean"], yerr=[s["mean"] - s.low, s.high - s["mean"]],
                        fmt="s", color=color, mfc="white", capsize=3,
                        label=f"shuffled, {d} distractors")
        z = t[t.length == 0]
        ax.errorbar(np.full(len(z), cfg.rot_lengths[0] / 2), z["mean"],
                    yerr=[z["mean"] - z.low, z.high - z["mean"]], fmt="D", color="tab:purple",
                    capsize=3, label=f"no haystack, {cfg.rot_distractors} distractors")
        ticks = [cfg.rot_lengths[0] / 2, *cfg.rot_lengths]
        ax.set(xscale="log", xlabel="haystack tokens (log scale)", ylabel=label)
        ax.set_xticks(ticks, ["none", *map(str, cfg.rot_lengths)])
        ax.minorticks_off()
    axes[0].set_ylim(-0.03, 1.03)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Part A: {cfg.rot_model}, {cfg.rot_items} needles (mean, 95% CI over items)")
    fig.tight_layout()
    return fig


def plot_editing(results, cfg) -> plt.Figure:
    """Part B: the answerer's accuracy against distractors (full ledger), and against the lines
    kept for each policy; mean and 95% interval over seeds, seeds as faint lines; the best
    constant answer dashed."""
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.9))
    c = results.curve
    t = mean_ci_table(c, ["distractors"], "accuracy", clip=(0, 1))
    for _, g in c.groupby("seed"):
        axes[0].plot(g.distractors, g.accuracy, color="k", alpha=0.15, lw=0.8)
    axes[0].plot(t.distractors, t["mean"], "o-", color="k")
    axes[0].fill_between(t.distractors, t.low, t.high, color="k", alpha=0.15)
    axes[0].set(xlabel="distractor lines (2 relevant lines)", ylabel="answerer accuracy",
                ylim=(-0.03, 1.03), title="the answerer's context rot (full ledger)")
    constant = constant_baseline(cfg)
    for a in axes:
        a.axhline(constant, color="grey", ls="--", lw=0.8,
                  label=f"best constant answer ({constant:.2f})")
    axes[0].legend(fontsize=7)
    ax = axes[1]
    full = mean_ci_any(policy(results, "full", "all"))
    ax.axhspan(full.low, full.high, color="k", alpha=0.12)
    ax.axhline(full.value, color="k", label=LABELS["full"])
    for name in POLICIES[1:]:
        est = [mean_ci_any(policy(results, name, k)) for k in cfg.budgets]
        x = np.asarray(cfg.budgets) + (POLICIES.index(name) - 3) * 0.06
        ax.errorbar(x, [e.value for e in est],
                    yerr=[[e.value - max(0, e.low) for e in est],
                          [min(1, e.high) - e.value for e in est]],
                    fmt="o-", color=COLORS[name], capsize=3, label=LABELS[name])
    ax.set(xlabel=f"lines kept of {cfg.task().max_lines}", ylabel="answerer accuracy",
           ylim=(-0.03, 1.03), xticks=cfg.budgets,
           title=f"editing at equal kept length ({cfg.seeds} seeds)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_training(results, cfg) -> plt.Figure:
    """The answerer's training loss and each editor's training signal, per seed."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.3))
    for seed, g in results.loss.groupby("seed"):
        axes[0].plot(g.step, g.loss, alpha=0.7, label=f"seed {seed}")
    axes[0].set(xlabel="step", ylabel="loss (nats/token)", yscale="log",
                title=f"answerer ({results.params['answerer']:,} parameters)")
    for ax, method, ylabel in ((axes[1], "supervised", "squared error to line credit"),
                               (axes[2], "rl", "mean reward")):
        for _seed, g in results.traces[results.traces.method == method].groupby("seed"):
            ax.plot(g["update"], g["value"].rolling(10, min_periods=1).mean(), alpha=0.7)
        ax.set(xlabel="editor update", ylabel=ylabel, title=f"editor: {method} (10-update mean)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def edit_ledger(cfg, results, seed: int, distractors: int, hard_share: float, ledger: int,
                method: str, call: str = "") -> dict:
    """One fresh ledger (drawn from `ledger` as a seed), the editor's keep scores and its edit
    call at the first budget, and the answerer's answer from the full, the edited and (when
    `call` is given) a hand-written edit. ConfigError before any compute on bad input."""
    if seed not in cfg.seed_list:
        raise ConfigError(f"seed={seed}: this run trained seeds {cfg.seed_list}")
    if method not in ("supervised", "rl"):
        raise ConfigError(f"editor={method!r}: 'supervised' or 'rl'")
    task = LedgerTask(cfg.max_distractors, hard_share)
    problem = task.problem(distractors, np.random.default_rng(ledger))
    n = len(problem.lines)
    hand = parse_edit(call, n) if call.strip() else None  # EditError on a bad call
    models = load_models(cfg, results, seed)
    scores = ed.keep_scores(models[method], [problem])[0]
    keep = ed.top_k(scores, cfg.budgets[0], np.random.default_rng(0))
    variants = {"full": problem, "editor": problem.kept(keep)}
    if hand is not None:
        variants["hand"] = problem.kept(hand)
    _, right = ed.answer_scores(models["answerer"], list(variants.values()),
                                [problem.answer] * len(variants))
    lines = [f"{k + 1:>2}  {decode(problem.context_ids()[4 * k:4 * k + 4])}"
             f"   score {s:+.2f}{'  relevant' if r else ''}"
             for k, (s, r) in enumerate(zip(scores, problem.relevant(), strict=True))]
    return {"question": decode(problem.question_ids()), "answer": problem.answer,
            "lines": "\n".join(lines), "editor's call": format_edit(keep),
            **{f"right from {name}": bool(ok) for name, ok in zip(variants, right, strict=True)}}


_SCORERS: dict = {}  # model name -> rot.Scorer, loaded once per kernel


def needle_prompt(cfg, item: int, length: int, distractors: int, shuffled: bool,
                  call: str = "") -> dict:
    """Part A by hand: one needle item's context at a haystack length, numbered sentence by
    sentence; with an edit call, those sentences deleted first. What the model writes for the
    code (greedy), log p(code), and which sentences the oracle (the asked person's) and lexical
    (the surname's) edits would keep. ConfigError or EditError before the model runs."""
    from nblib.data.tasks.needle import Condition, context_sentences
    from nblib.experiments.context_editing import rot

    items = rot.items(cfg)
    if not 0 <= item < len(items):
        raise ConfigError(f"item={item}: this run has items 0..{len(items) - 1}")
    if not 0 <= distractors <= cfg.rot_distractors:
        raise ConfigError(f"distractors={distractors}: the items have {cfg.rot_distractors}")
    if not 0 <= length <= 4096:
        raise ConfigError(f"length={length}: a haystack of 0..4096 tokens")
    if call.strip():
        parse_edit(call, 10**6)  # its form, before anything is loaded; its lines below
    it = items[item]
    if cfg.rot_model not in _SCORERS:
        _SCORERS[cfg.rot_model] = rot.Scorer(cfg.rot_model)
    scorer = _SCORERS[cfg.rot_model]
    sentences = context_sentences(it, Condition(length, distractors, shuffled),
                                  rot.speech_sentences(it.speech), scorer.n_tokens)
    keep = parse_edit(call, len(sentences)) if call.strip() else [True] * len(sentences)
    kept = [t for t, k in zip(sentences, keep, strict=True) if k]
    score = scorer.score(it, kept)
    surname = it.name.split()[1]
    oracle = [("access code of" not in t) or it.name in t for t in sentences]
    lexical = [surname in t for t in sentences]
    shown = [f"{k + 1:>3} {'  ' if keep[k] else '✂ '}{t[:110]}" for k, t in enumerate(sentences)]
    return {"asked": it.name, "code": it.code, "right": score["correct"],
            "log p(code)": round(score["logp"], 3), "prompt tokens": score["tokens"],
            "sentences (✂ deleted)": "\n".join(shown),
            "oracle edit": format_edit(oracle), "lexical edit (surname)": format_edit(lexical)}


def explorer(results, cfg):
    """Draw a ledger, watch the editor choose lines, and try an edit call of your own."""
    import ipywidgets as W

    from nblib.widgets import show_panel

    controls = [
        W.Dropdown(options=list(cfg.seed_list), description="seed"),
        W.IntSlider(value=cfg.max_distractors, min=0, max=cfg.max_distractors,
                    description="distractors"),
        W.FloatSlider(value=cfg.hard_share, min=0.0, max=1.0, step=0.1, description="hard share"),
        W.IntText(value=0, description="ledger #"),
        W.Dropdown(options=["supervised", "rl"], description="editor"),
        W.Text(value="", description="your edit", placeholder="<edit>delete 1-3, 7</edit>"),
    ]
    return show_panel(controls, lambda *v: edit_ledger(cfg, results, *v))


def haystack_explorer(cfg):
    """Build a needle prompt, delete sentences with an edit call, and see what the model writes."""
    import ipywidgets as W

    from nblib.widgets import show_panel

    controls = [
        W.IntText(value=0, description="item"),
        W.IntSlider(value=cfg.rot_lengths[-1], min=0, max=2 * cfg.rot_lengths[-1], step=16,
                    description="tokens"),
        W.IntSlider(value=cfg.rot_distractors, min=0, max=cfg.rot_distractors,
                    description="distractors"),
        W.Checkbox(value=False, description="shuffled"),
        W.Text(value="", description="your edit", placeholder="<edit>delete 2, 5-6</edit>"),
    ]
    return show_panel(controls, lambda *v: needle_prompt(cfg, *v))
