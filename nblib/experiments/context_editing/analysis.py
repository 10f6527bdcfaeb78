"""Notebook 11's statistics and pre-registered verdicts.

Part A's unit is the needle item (one fixed model; every item is asked under every condition, so
conditions are compared paired by item). Part B's unit is the seed (one answerer and two editors
per seed; every policy is scored on the same evaluation ledgers, so policies are compared paired
by seed). Intervals are 95% (t over units, `stats.paired_any` / `mean_ci_any`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from nblib.experiments.context_editing import POLICIES
from nblib.stats import (
    Verdict,
    above_zero_or_not,
    differs_or_equivalent,
    mean_ci_any,
    mean_ci_table,
    paired_any,
    verdict,
)

HEADLINE = "editor_closes_gap"


# ---- Part A: context rot in the pretrained model, per item ----

def _items(estimate):
    return replace(estimate, unit="items")


def per_item(results, length: int, distractors: int, shuffled: bool = False,
             column: str = "correct") -> np.ndarray:
    """(items,) one condition's score per item, in item order."""
    r = results.rot
    rows = r[(r.length == length) & (r.distractors == distractors) & (r.shuffled == shuffled)]
    return rows.sort_values("item")[column].to_numpy(float)


def length_slopes(results, cfg, column: str = "correct") -> np.ndarray:
    """(items,) per item, the least-squares slope of the score (mean over 0 and rot_distractors
    distractors) against log2 haystack length, coherent haystacks."""
    x = np.log2(np.asarray(cfg.rot_lengths, float))
    y = np.stack([(per_item(results, n, 0, column=column) +
                   per_item(results, n, cfg.rot_distractors, column=column)) / 2
                  for n in cfg.rot_lengths], 1)  # (items, lengths)
    xc = x - x.mean()
    return (y - y.mean(1, keepdims=True)) @ xc / (xc @ xc)


def rot_verdicts(results, cfg) -> dict[str, Verdict]:
    d, longest, m = cfg.rot_distractors, cfg.rot_lengths[-1], cfg.gain_margin
    out = {}
    if len(cfg.rot_lengths) > 1:
        out["rot_with_length"] = above_zero_or_not(
            "Part A: exact-match accuracy falls as the haystack grows (minus the per-item slope "
            "per doubling of its tokens, coherent, mean over 0 and the distractor count)",
            _items(mean_ci_any(-length_slopes(results, cfg))), m)
    clean = np.mean([per_item(results, n, 0) for n in cfg.rot_lengths], 0)
    noisy = np.mean([per_item(results, n, d) for n in cfg.rot_lengths], 0)
    out["rot_with_distractors"] = above_zero_or_not(
        f"Part A: {d} same-surname distractors lower accuracy (0 − {d} distractors, paired by "
        "item, mean over coherent lengths)", _items(paired_any(clean, noisy)), m)
    shuffled = (per_item(results, longest, 0, True) + per_item(results, longest, d, True)) / 2
    coherent = (per_item(results, longest, 0) + per_item(results, longest, d)) / 2
    out["shuffled_differs_from_coherent"] = differs_or_equivalent(
        f"Part A: a shuffled haystack changes accuracy (shuffled − coherent at {longest} tokens, "
        "mean over 0 and the distractor count; Chroma found shuffled better)",
        _items(paired_any(shuffled, coherent)), m)
    out["haystack_deletion_restores"] = differs_or_equivalent(
        f"Part A: deleting the haystack but keeping the {d} distractors (what deleting lines "
        f"without the person's surname leaves) changes accuracy (no haystack − {longest} tokens, "
        f"both with {d} distractors)",
        _items(paired_any(per_item(results, 0, d), per_item(results, longest, d))), m)
    return out


# ---- Part B: the tiny answerer and its editors, per seed ----

def policy(results, name: str, budget, column: str = "accuracy") -> np.ndarray:
    """(seeds,) a policy's accuracy (or its `kept_measure`) at a budget, in seed order."""
    p = results.policies
    rows = p[(p.policy == name) & (p.budget == str(budget))]
    return rows.sort_values("seed")[column].to_numpy(float)


def curve(results, distractors: int) -> np.ndarray:
    c = results.curve
    return c[c.distractors == distractors].sort_values("seed").accuracy.to_numpy(float)


def gap_shares(results, cfg, editor: str = "supervised") -> np.ndarray:
    """(seeds,) (editor − full) / (oracle − full) at the first budget: the share of the oracle
    edit's gain an editor recovers (NaN where the oracle gains nothing)."""
    k = cfg.budgets[0]
    full, oracle = policy(results, "full", "all"), policy(results, "oracle", k)
    gain = oracle - full
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gain > 0, (policy(results, editor, k) - full) / gain, np.nan)


def _finite(x: np.ndarray) -> np.ndarray:
    """The seeds where a share is defined (the oracle gained over the full ledger)."""
    return x[np.isfinite(x)]


def edit_verdicts(results, cfg) -> dict[str, Verdict]:
    k, m = cfg.budgets[0], cfg.gain_margin
    lo, hi = cfg.rot_curve[0], cfg.rot_curve[-1]
    sup, rl = policy(results, "supervised", k), policy(results, "rl", k)
    return {
        "answerer_rots": above_zero_or_not(
            f"Part B premise: distractors hurt the tiny answerer (accuracy with {lo} − with {hi} "
            "distractors, full ledger)", paired_any(curve(results, lo), curve(results, hi)), m),
        "lexical_falls_short_of_oracle": above_zero_or_not(
            f"Part B: deleting by the question's entity alone (lexical) falls short of the oracle "
            f"at {k} kept lines (oracle − lexical): the task does not make forgetting trivial",
            paired_any(policy(results, "oracle", k), policy(results, "lexical", k)), m),
        "editor_beats_random": above_zero_or_not(
            f"Part B: the supervised editor beats random deletion at {k} kept lines (editor − "
            "random)", paired_any(sup, policy(results, "random", k)), m),
        HEADLINE: verdict(
            f"Part B headline: the editor learned from random edits closes more than "
            f"{cfg.gap_share:.0%} of the gap between the full ledger and the oracle edit at "
            f"{k} kept lines ((editor − full) / (oracle − full), per seed where the oracle "
            "gains)",
            mean_ci_any(_finite(gap_shares(results, cfg))), cfg.gap_share, ">"),
        "rl_differs_from_supervised": differs_or_equivalent(
            f"Part B: the RL editor's accuracy differs from the supervised editor's at {k} kept "
            "lines (RL − supervised; the same answerer queries and updates)",
            paired_any(rl, sup), cfg.equivalence_margin),
    }


def decide(results, cfg) -> dict[str, Verdict]:
    """Every verdict, Part A's only when it ran."""
    out = rot_verdicts(results, cfg) if len(results.rot) else {}
    return {**out, **edit_verdicts(results, cfg)}


def statistics(results, cfg) -> dict:
    """The numbers the notebook prints and records."""
    from nblib.experiments.context_editing.experiment import constant_baseline

    out = {"parameters": results.params, "answerer_queries": results.queries,
           "constant_baseline": constant_baseline(cfg)}
    if len(results.rot):
        r = results.rot.assign(correct=results.rot.correct.astype(float))
        out["rot_accuracy"] = mean_ci_table(r, ["length", "distractors", "shuffled"], "correct",
                                            unit="item", clip=(0, 1)).to_dict("records")
        out["rot_logp"] = mean_ci_table(r, ["length", "distractors", "shuffled"], "logp",
                                        unit="item").to_dict("records")
        out["rot_length_slope_logp"] = mean_ci_any(length_slopes(results, cfg, "logp")).value
    out["answerer_curve"] = mean_ci_table(results.curve, ["distractors"], "accuracy",
                                          clip=(0, 1)).to_dict("records")
    out["policies"] = mean_ci_table(results.policies, ["policy", "budget"], "accuracy",
                                    clip=(0, 1)).to_dict("records")
    out["relevant_kept"] = mean_ci_table(results.policies[results.policies.budget != "own"],
                                         ["policy", "budget"], "kept_measure",
                                         clip=(0, 1)).to_dict("records")
    out["own_length_share"] = {e: float(policy(results, e, "own", "kept_measure").mean())
                               for e in ("supervised", "rl")}
    out["gap_share_rl"] = mean_ci_any(_finite(gap_shares(results, cfg, "rl"))).value
    out["per_seed_at_first_budget"] = {
        name: dict(zip(map(str, sorted(set(results.policies.seed))),
                       policy(results, name, "all" if name == "full" else cfg.budgets[0])
                       .round(4).tolist(), strict=True)) for name in POLICIES}
    return out


def invariants(results, cfg) -> dict[str, bool]:
    """What must hold at any scale."""
    from nblib.experiments.context_editing.rot import conditions

    p, k = results.policies, cfg.budgets[0]
    loss = results.loss.sort_values("step").groupby("seed").loss
    out = {
        "accuracies_within_0_and_1": bool(p.accuracy.between(0, 1).all()
                                          and results.curve.accuracy.between(0, 1).all()),
        "losses_finite": bool(np.isfinite(results.loss.loss).all()),
        "training_lowers_the_loss": bool((loss.last() < loss.first()).all()),
        "the_oracle_keeps_every_relevant_line": bool(np.allclose(
            policy(results, "oracle", k, "kept_measure"), 1.0)),
        "lexical_keeps_more_relevant_lines_than_random": bool(
            (policy(results, "lexical", cfg.budgets[-1], "kept_measure") >=
             policy(results, "random", cfg.budgets[-1], "kept_measure")).all()),
        "both_editors_queried_the_answerer_equally": len(set(results.queries.values())) == 1,
    }
    if len(results.rot):
        r = results.rot
        counts = r.groupby("item").size()
        tokens = r[~r.shuffled & (r.distractors == 0)].groupby("length").tokens.mean()
        out["every_item_was_asked_every_condition"] = bool(
            (counts == len(conditions(cfg))).all() and len(counts) == cfg.rot_items)
        out["prompts_grow_with_the_haystack"] = bool(tokens.is_monotonic_increasing)
        out["code_logprobs_at_most_0"] = bool((r.logp <= 1e-6).all())
    return out


def closing_line(verdicts: dict[str, Verdict]) -> str:
    e = verdicts[HEADLINE].estimate
    labels = "; ".join(f"{name}: {v.label}" for name, v in verdicts.items())
    return (f"share of the oracle's gain closed by the supervised editor = {e.value:.3f} "
            f"[{e.low:.3f}, {e.high:.3f}] ({e.level:.0%} CI, n={e.n} seeds). {labels}")
