"""Notebook 05's statistics and pre-registered verdicts.

The rise of a validation loss is cross-fitted, so picking the minimum does not bias it: the new
people are split in two halves (even and odd index); the checkpoint of the minimum is chosen on
one half and the rise (final loss − loss at that checkpoint) read on the other, then the two are
averaged. A loss that only falls has a rise of about 0 (noise either way), not a positive one.
The onset of a job is the geometric mean of the two halves' minimum steps; it is censored when
either half's minimum is the last checkpoint (no rise seen: the onset is at least the budget).
Seeds are the unit; comparisons between conditions are paired by seed.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd

from nblib.experiments.latent_overfitting.experiment import KINDS
from nblib.stats import (
    Verdict,
    above_zero_or_not,
    all_of,
    mean_ci_any,
    paired_any,
    slope_ci,
    verdict,
)

HEADLINE = "rephrasing_overfits_without_repetition"
METERED = ("documents", "sentences", "ngrams", "fact_ngrams")


def cross_fit(steps: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict:
    """The cross-fitted rise and onset of one curve measured on two halves `a` and `b` (C,)."""
    ia, ib = int(np.argmin(a)), int(np.argmin(b))
    rise = 0.5 * ((b[-1] - b[ia]) + (a[-1] - a[ib]))
    onset = float(np.exp(0.5 * (np.log(max(steps[ia], 1)) + np.log(max(steps[ib], 1)))))
    return {"rise": float(rise), "onset": onset, "censored": bool(max(ia, ib) == len(a) - 1)}


def rises(results, kind: str = "all") -> pd.DataFrame:
    """One row per job: the cross-fitted rise of the new people's loss on tokens of `kind`, its
    onset step and whether the onset is censored; the minimum and final loss of the whole set."""
    rows = []
    c = results.curves[results.curves.step > 0]
    for (cond, people, seed), g in c.groupby(["condition", "people", "seed"], sort=True):
        g = g.sort_values("step")
        steps = g.step.to_numpy()
        fit = cross_fit(steps, g[f"new_{kind}_a"].to_numpy(), g[f"new_{kind}_b"].to_numpy())
        whole = g[f"new_{kind}"].to_numpy()
        rows.append({"condition": cond, "people": people, "seed": seed, "kind": kind, **fit,
                     "min_loss": float(whole.min()), "final_loss": float(whole[-1])})
    return pd.DataFrame(rows)


def _one(table: pd.DataFrame, condition: str, people: int) -> pd.DataFrame:
    return table[(table.condition == condition) & (table.people == people)].sort_values("seed")


def _paired(table: pd.DataFrame, col: str, first: tuple, second: tuple):
    a, b = _one(table, *first), _one(table, *second)
    seeds = sorted(set(a.seed) & set(b.seed))
    a, b = a[a.seed.isin(seeds)], b[b.seed.isin(seeds)]
    return paired_any(a[col].to_numpy(), b[col].to_numpy())


def final(results) -> pd.DataFrame:
    """One row per job: every loss at the last checkpoint."""
    c = results.curves
    return c[c.step == c.step.max()].sort_values(["condition", "people", "seed"])


def probe_gaps(results) -> pd.DataFrame:
    """One row per job, at the last checkpoint: the held-out-wording gap (new people's value loss
    in the held-out frames − the seen people's: how much better a seen fact is predicted in a
    wording never trained on) and the seen people's value loss in the training frames."""
    f = final(results)
    return pd.DataFrame({"condition": f.condition, "people": f.people, "seed": f.seed,
                         "held_out_gap": f.new_held_out_value - f.seen_held_out_value,
                         "seen_value": f.seen_value, "seen_held_out_value": f.seen_held_out_value,
                         "new_held_out_value": f.new_held_out_value, "new_value": f.new_value})


def meter_excess(results, cfg) -> pd.DataFrame:
    """Per job, each metered share minus the fresh stream's of the same seed (what the condition
    repeats beyond a stream of new people written by the same templates)."""
    s = results.streams
    fresh = s[s.condition == "fresh"].set_index("seed")
    out = s[["condition", "people", "seed", "exposures_per_person", *METERED]].copy()
    for m in METERED:
        out[f"excess_{m}"] = out[m].to_numpy() - fresh.loc[out.seed, m].to_numpy()
    return out


def decide(results, cfg) -> dict[str, Verdict]:
    """The pre-registered verdicts at `people`: the headline (rephrasing raises the validation
    loss beyond the fresh baseline while the stream repeats no more documents or sentences than
    it), whether its fact n-grams repeat no more either, whether the rise is in the facts' tokens
    too, repetition against rephrasing, the onset against diversity, and the held-out-wording
    probes."""
    n, m = cfg.people, cfg.margin
    table = rises(results)
    rise = above_zero_or_not(
        f"with {n} people rephrased afresh in every document, the new people's validation loss "
        "rises during training by more than with a new person in every document (cross-fitted "
        "rise, rephrased − fresh, nats/token, paired over seeds)",
        _paired(table, "rise", ("rephrased", n), ("fresh", 0)), m,
        {"rise_rephrased": float(_one(table, "rephrased", n).rise.mean()),
         "rise_fresh": float(_one(table, "fresh", 0).rise.mean())})
    excess = meter_excess(results, cfg)
    reph = excess[(excess.condition == "rephrased") & (excess.people == n)]
    meters = {unit: verdict(
        f"the rephrased stream repeats at most {cfg.near_zero:g} of its {unit.replace('_', ' ')} "
        "beyond what the fresh stream repeats (share, over seeds)",
        mean_ci_any(reph[f"excess_{unit}"].to_numpy()), cfg.near_zero, "<",
        {"share_rephrased": float(reph[unit].mean())})
        for unit in ("documents", "sentences", "fact_ngrams")}
    verdicts = {HEADLINE: all_of(
        f"with {n} people rephrased afresh, validation loss on new people rises beyond the "
        "non-repeating baseline while the stream repeats no more documents or sentences than it",
        {"rise": rise, "meter_documents": meters["documents"],
         "meter_sentences": meters["sentences"]}, "rise")}
    verdicts["fact_ngrams_repeat_near_fresh"] = meters["fact_ngrams"]
    value = rises(results, "value")
    verdicts["facts_rise_not_only_names"] = above_zero_or_not(
        f"with {n} people rephrased, the rise is in the facts too: the new people's value-token "
        "loss rises more than with a new person in every document (cross-fitted, paired over "
        "seeds)", _paired(value, "rise", ("rephrased", n), ("fresh", 0)), m)
    if "repeated" in cfg.conditions:
        verdicts["repetition_overfits_more"] = above_zero_or_not(
            f"with {n} people, one text each repeated raises the validation loss more than "
            "rephrasing (cross-fitted rise, repeated − rephrased, paired over seeds)",
            _paired(table, "rise", ("repeated", n), ("rephrased", n)), m)
    reph_all = table[table.condition == "rephrased"].assign(
        log_onset=lambda t: np.log(t.onset), log_people=lambda t: np.log(t.people))
    verdicts["onset_grows_with_diversity"] = above_zero_or_not(
        f"the rise starts later with more people: slope of log(onset step) on log(people) over "
        f"{sorted(cfg.diversity)} (per seed, then over seeds)",
        slope_ci(reph_all, "log_people", "log_onset"), cfg.onset_margin,
        {"censored_onsets": int(reph_all.censored.sum()), "jobs": int(len(reph_all))})
    gaps = probe_gaps(results)
    verdicts["seen_facts_known_in_new_wording"] = above_zero_or_not(
        f"with {n} people rephrased, a seen person's facts are predicted better than a new "
        "person's in frames never trained on (held-out gap, value tokens, at the end)",
        mean_ci_any(_one(gaps, "rephrased", n).held_out_gap.to_numpy()), m)
    if "repeated" in cfg.conditions:
        verdicts["rephrasing_transfers_more_than_repetition"] = above_zero_or_not(
            f"with {n} people, the held-out-wording gap is larger after rephrasing than after "
            "one repeated text (Allen-Zhu & Li: augmentation makes knowledge extractable; "
            "rephrased − repeated, paired over seeds)",
            _paired(gaps, "held_out_gap", ("rephrased", n), ("repeated", n)), m)
    return verdicts


def decomposition(results, cfg) -> pd.DataFrame:
    """Which tokens the rise is made of: per condition and kind (text, name, value), the
    cross-fitted rise of that kind's loss, mean with its 95% interval over seeds, and the kind's
    share of the new people's tokens (the all-token rise is close to the share-weighted sum)."""
    rows = []
    for kind in KINDS:
        for (cond, people), g in rises(results, kind).groupby(["condition", "people"]):
            est = mean_ci_any(g.rise.to_numpy())
            rows.append({"condition": cond, "people": people, "kind": kind, "rise": est.value,
                         "low": est.low, "high": est.high, "seeds": est.n,
                         "token_share": results.token_shares.get(kind, 1.0)})
    return pd.DataFrame(rows)


def summary(results, cfg) -> pd.DataFrame:
    """Per condition and people count, mean over seeds (95% interval): the cross-fitted rise,
    the onset step (and how many seeds are censored), the minimum and final validation loss, the
    held-out-wording gap, exposures per person and the metered shares."""
    t = rises(results).merge(probe_gaps(results), on=["condition", "people", "seed"])
    t = t.merge(results.streams[["condition", "people", "seed", "exposures_per_person",
                                 *METERED]], on=["condition", "people", "seed"])
    rows = []
    for (cond, people), g in t.groupby(["condition", "people"], sort=False):
        rise = mean_ci_any(g.rise.to_numpy())
        gap = mean_ci_any(g.held_out_gap.to_numpy())
        rows.append({"condition": cond, "people": people, "rise": rise.value,
                     "rise_low": rise.low, "rise_high": rise.high,
                     "onset_step": float(np.exp(np.log(g.onset).mean())),
                     "censored": int(g.censored.sum()), "min_loss": g.min_loss.mean(),
                     "final_loss": g.final_loss.mean(), "held_out_gap": gap.value,
                     "gap_low": gap.low, "gap_high": gap.high,
                     "exposures_per_person": g.exposures_per_person.mean(),
                     **{f"repeated_{m}": g[m].mean() for m in METERED}, "seeds": len(g)})
    order = {c: i for i, c in enumerate(("fresh", "rephrased", "shuffled", "repeated"))}
    return pd.DataFrame(rows).sort_values(["condition", "people"],
                                          key=lambda s: s.map(order) if s.name == "condition"
                                          else s).reset_index(drop=True)


def shuffle_effect(results, cfg) -> dict:
    """Sentence shuffling against rephrasing in canonical order at `people` (paired over seeds,
    two-sided, a statistic): the difference in rise and in the held-out-wording gap."""
    if "shuffled" not in cfg.conditions:
        return {}
    n = cfg.people
    rise = _paired(rises(results), "rise", ("shuffled", n), ("rephrased", n))
    gap = _paired(probe_gaps(results), "held_out_gap", ("shuffled", n), ("rephrased", n))
    return {"rise_shuffled_minus_rephrased": asdict(rise),
            "gap_shuffled_minus_rephrased": asdict(gap)}


def statistics(results, cfg) -> dict:
    """The numbers the notebook prints and records."""
    return {"summary": summary(results, cfg).to_dict("records"),
            "rises": rises(results).to_dict("records"),
            "decomposition": decomposition(results, cfg).to_dict("records"),
            "meter": meter_excess(results, cfg).to_dict("records"),
            "probe_gaps": probe_gaps(results).to_dict("records"),
            "shuffle_effect": shuffle_effect(results, cfg),
            "parameters": int(results.params)}


def invariants(results, cfg) -> dict[str, bool]:
    """What must hold at any scale."""
    from nblib.data.tasks import bios
    from nblib.experiments.latent_overfitting.experiment import WORLD, training_people

    c, s = results.curves, results.streams
    loss_cols = [col for col in c.columns if col.split("_")[0] in ("new", "seen")]
    budget = cfg.steps * cfg.batch_size * cfg.context
    small = s[s.condition != "fresh"]
    test_names = {p.name for p in WORLD.people(cfg.test_people, 0, "test")}
    train_names = {p.name for n in sorted(set(small.people)) for seed in cfg.seed_list
                   for p in training_people(int(n), seed)}
    first, last = c[c.step == 0].set_index(["condition", "people", "seed"]), \
        c[c.step == c.step.max()].set_index(["condition", "people", "seed"])
    best = c[c.step > 0].groupby(["condition", "people", "seed"]).new_all.min()
    return {
        "losses_finite_and_positive": bool(np.isfinite(c[loss_cols]).all().all()
                                           and (c[loss_cols] > 0).all().all()),
        "every_job_trains_on_the_same_token_budget": bool((s.tokens == budget).all()),
        "no_document_repeats_except_in_the_repeated_condition": bool(
            (s[s.condition != "repeated"].documents == 0).all()),
        "the_repeated_stream_repeats_all_but_the_first_copy": bool(np.allclose(
            s[s.condition == "repeated"].documents,
            1 - s[s.condition == "repeated"].people / s[s.condition == "repeated"].n_documents)),
        "the_fresh_stream_has_a_new_person_every_document": bool(
            (s[s.condition == "fresh"].distinct_people == s[s.condition == "fresh"]
             .n_documents).all()),
        "every_small_set_person_is_trained_on": bool(
            (small.distinct_people == small.people).all()),
        "new_people_are_never_training_people": not (test_names & train_names)
        and all(bios.name_split(n) == "test" for n in test_names),
        "training_lowers_the_validation_loss": bool((best < first.new_all.loc[best.index]).all()),
        "every_job_has_every_checkpoint": bool(
            (c.groupby(["condition", "people", "seed"]).step.nunique()
             == len(results.steps)).all()),
        "final_checkpoint_is_the_budget": bool((last.index.size == len(s))
                                               and c.step.max() == cfg.steps),
    }


def closing_line(verdicts: dict[str, Verdict]) -> str:
    e = verdicts[HEADLINE].estimate
    labels = "; ".join(f"{name}: {v.label}" for name, v in verdicts.items())
    return (f"rise rephrased − fresh = {e.value:+.3f} [{e.low:+.3f}, {e.high:+.3f}] nats/token "
            f"(95% CI, n={e.n} seeds). {labels}")
