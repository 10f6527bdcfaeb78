"""Notebook 13's statistics and pre-registered verdicts.

Seeds are the unit: each seed is one trained model per family, and every model answers the same
evaluation problems, so conditions are compared paired by seed (accuracy over the problems of
one model is one number). The base family carries the semantic tests; the filler family the
filler test. "Keeps the gain" is an equivalence: the paired difference with the model's own trace
lies within ±`equivalence_margin` (TOST, two one-sided tests at α = 0.05, read off the 90%
interval); the "compute" reading is the one-sided alternative that it is smaller (the same
interval wholly below 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nblib.data.tasks.digit_sum import TRACES, implied_answer, other_format, paraphrase, trace
from nblib.stats import (
    LABELS,
    Estimate,
    Verdict,
    above_zero_or_not,
    mean_ci_table,
    paired_any,
    tost,
)

HEADLINE = "other_keeps_gain"
TOST_LEVEL = 0.90  # the interval two one-sided tests at α = 0.05 read


def accuracies(results, family: str, condition: str, fmt: str = "none",
               fraction: float | None = None, column: str = "correct",
               step: int | None = None) -> np.ndarray:
    """(seeds,) one model's accuracy (or another per-problem rate) per seed, in seed order, at
    checkpoint `step` (default: the end of training)."""
    a, step = results.accuracy, results.steps[-1] if step is None else step
    rows = a[(a.family == family) & (a.condition == condition) & (a.format == fmt)
             & (a.step == step)]
    rows = rows[rows.fraction.isna()] if fraction is None else \
        rows[np.isclose(rows.fraction, fraction)]
    return rows.sort_values("seed")[column].to_numpy(float)


def keeps_or_loses(claim: str, estimate: Estimate, margin: float, gain: Verdict,
                   differing: float, min_differing: float,
                   details: dict | None = None) -> Verdict:
    """SUPPORTED if the (90%) interval of the difference lies within ±margin (equivalent: the gain
    is kept), NOT SUPPORTED if it lies wholly below 0 (significantly smaller), else INCONCLUSIVE;
    INCONCLUSIVE whatever the interval unless the own trace's `gain` is SUPPORTED (with no gain
    there is nothing to keep) and the compared traces differ on a share `differing` of problems
    (mean over seeds) of at least `min_differing` (identical tokens give identical answers: an
    equivalence between them tests nothing)."""
    label = (LABELS[0] if tost(estimate, margin) else LABELS[1] if estimate.high < 0
             else LABELS[2])
    if gain.label != LABELS[0] or not differing >= min_differing:
        label = LABELS[2]
    return Verdict(label, claim, estimate, margin, "within ±",
                   {"equivalence_margin": margin, "own_trace_gain": gain.label,
                    "traces_differ_on": differing, "min_differing": min_differing,
                    "rule": "SUPPORTED if the own trace's gain is SUPPORTED, the compared traces "
                    "differ on at least min_differing of problems and the 90% interval lies "
                    "within ±margin; NOT SUPPORTED under the same two conditions if the interval "
                    "lies below 0", **(details or {})})


def differing_share(results, kind: str, fmt: str, step: int | None = None) -> float:
    """Mean over base seeds of the share of problems on which the trace a condition gives the
    model ("other": the next seed's; "paraphrase": the own trace of the other format rewritten)
    differs from the model's own trace of `fmt`, at checkpoint `step` (default the end)."""
    step = results.steps[-1] if step is None else step
    shares = []
    for (family, _, at), t in sorted(results.traces.items()):
        if family != "base" or at != step:
            continue
        own = t[f"trace_{fmt}"]
        if kind == "other":
            given = t[f"other_trace_{fmt}"]
        else:
            source = other_format(fmt)
            given = np.array([paraphrase(p, s, source, fmt) for p, s in
                              zip(results.problems, t[f"trace_{source}"], strict=True)])
        shares.append(float((given != own).any(1).mean()))
    return float(np.mean(shares)) if shares else float("nan")


def decide(results, cfg) -> dict[str, Verdict]:
    """The pre-registered verdicts (base family unless said otherwise; paired over seeds)."""
    verdicts: dict[str, Verdict] = {}
    direct = accuracies(results, "base", "direct")
    for f in TRACES:
        own = accuracies(results, "base", "own", f)
        verdicts[f"cot_gain_{f}"] = above_zero_or_not(
            f"a model's own {f} trace raises its accuracy over answering directly (own − direct)",
            paired_any(own, direct), cfg.gain_margin,
            {"own": float(own.mean()), "direct": float(direct.mean())})
    formats = [cfg.headline_format, *[f for f in TRACES if f != cfg.headline_format]]
    for f in formats:
        own = accuracies(results, "base", "own", f)
        other = accuracies(results, "base", "other", f)
        name = HEADLINE if f == cfg.headline_format else f"{HEADLINE}_{f}"
        verdicts[name] = keeps_or_loses(
            f"{f} format: another model's trace (the next seed's) keeps the gain of the model's "
            f"own trace (other − own within ±{cfg.equivalence_margin:g}; below 0 is the "
            "'compute' reading)", paired_any(other, own, TOST_LEVEL), cfg.equivalence_margin,
            verdicts[f"cot_gain_{f}"], differing_share(results, "other", f),
            cfg.min_differing, {"other": float(other.mean()), "own": float(own.mean())})
    first = [("_first_checkpoint", results.steps[0])] if len(results.steps) > 1 else []
    for suffix, step in [("", None), *first]:
        for f in formats:
            own = accuracies(results, "base", "own", f, column="matches_trace", step=step)
            other = accuracies(results, "base", "other", f, column="matches_trace", step=step)
            when = "at the end of training" if step is None else f"at step {step}"
            verdicts[f"other_read_like_own_{f}{suffix}"] = keeps_or_loses(
                f"{f} format, {when}: the model answers what another model's trace implies as "
                "often as what its own implies (P(answer = the trace's answer), other − own "
                f"within ±{cfg.equivalence_margin:g}; below 0: it reads its own steps in a way "
                "it does not read another's)", paired_any(other, own, TOST_LEVEL),
                cfg.equivalence_margin, verdicts[f"cot_gain_{f}"],
                differing_share(results, "other", f, step), cfg.min_differing,
                {"other": float(other.mean()), "own": float(own.mean()),
                 "step": results.steps[-1] if step is None else step})
    for f in formats:
        own = accuracies(results, "base", "own", f)
        para = accuracies(results, "base", "paraphrase", f)
        verdicts[f"paraphrase_keeps_gain_{f}"] = keeps_or_loses(
            f"{f} format: the model's own {other_format(f)} trace paraphrased into {f} keeps the "
            f"gain of its own {f} trace (paraphrase − own within ±{cfg.equivalence_margin:g})",
            paired_any(para, own, TOST_LEVEL), cfg.equivalence_margin,
            verdicts[f"cot_gain_{f}"], differing_share(results, "paraphrase", f),
            cfg.min_differing, {"paraphrase": float(para.mean()), "own": float(own.mean())})
    if cfg.filler_family:
        filler = accuracies(results, "filler", "filler")
        f_direct = accuracies(results, "filler", "direct")
        verdicts["filler_helps_when_trained"] = above_zero_or_not(
            "filler family: equal-length filler tokens raise accuracy over answering directly "
            "(filler − direct, the model trained on both)", paired_any(filler, f_direct),
            cfg.gain_margin, {"filler": float(filler.mean()), "direct": float(f_direct.mean())})
    for f in formats:
        follows = accuracies(results, "base", "corrupt", f, column="follows")
        keeps = accuracies(results, "base", "corrupt", f, column="keeps")
        verdicts[f"answer_follows_corrupted_step_{f}"] = above_zero_or_not(
            f"{f} format: after one step of its own trace is shifted by δ (and the model writes "
            "the rest), the answer shifts by δ more often than it stays the uncorrupted trace's "
            "(follows − keeps)", paired_any(follows, keeps), cfg.gain_margin,
            {"follows": float(follows.mean()), "keeps": float(keeps.mean()),
             "matches_its_trace": float(accuracies(results, "base", "corrupt", f,
                                                   column="matches_trace").mean())})
    return verdicts


def summary(results) -> pd.DataFrame:
    """Per (step, family, condition, format, fraction): accuracy's mean and 95% interval over
    seeds."""
    a = results.accuracy.assign(fraction=results.accuracy.fraction.fillna(-1))
    t = mean_ci_table(a, ["step", "family", "condition", "format", "fraction"], "correct",
                      clip=(0, 1))
    return t.assign(fraction=t.fraction.where(t.fraction >= 0))


def trace_agreement(results) -> pd.DataFrame:
    """Per checkpoint, base seed and format: the share of own traces equal to the correct one,
    the share of problems where the next seed's trace differs from the own one, and on those
    problems the accuracy from each (where "other" and "own" can differ at all)."""
    rows, truth = [], results.truth
    answers = results.answers[results.answers.family == "base"]
    for (family, seed, step), t in results.traces.items():
        if family != "base":
            continue
        for f in TRACES:
            own, other = t[f"trace_{f}"], t[f"other_trace_{f}"]
            gold = np.array([trace(p, f) for p in results.problems])
            differ = (own != other).any(1)

            def acc(condition, _seed=seed, _f=f, _differ=differ, _step=step):
                g = answers[(answers.seed == _seed) & (answers.condition == condition)
                            & (answers.format == _f) & (answers.step == _step)] \
                    .sort_values("problem")
                return float((g.answer.to_numpy() == truth)[_differ].mean()) \
                    if _differ.any() else float("nan")

            rows.append({"step": step, "seed": seed, "format": f, "own_trace_correct": float(
                (own == gold).all(1).mean()), "differs_from_other": float(differ.mean()),
                "own_where_differ": acc("own"), "other_where_differ": acc("other")})
    return pd.DataFrame(rows)


def statistics(results, cfg) -> dict:
    """The numbers the notebook prints and records."""
    agree = trace_agreement(results)
    per_format = []
    for (step, f), g in agree.groupby(["step", "format"]):
        per_format.append({"step": int(step), "format": f, **{c: float(g[c].mean()) for c in
                                           ("own_trace_correct", "differs_from_other",
                                            "own_where_differ", "other_where_differ")}})
    return {"summary": summary(results).to_dict("records"),
            "trace_agreement": agree.to_dict("records"), "trace_agreement_mean": per_format,
            "parameters": results.params}


def invariants(results, cfg) -> dict[str, bool]:
    """What must hold at any scale."""
    from nblib.experiments.cot_semantics.experiment import baselines, jobs

    a, problems, truth = results.accuracy, results.problems, results.truth
    rates = a[["correct", "follows", "keeps", "matches_trace"]].to_numpy(float).ravel()
    rates = pd.Series(rates[~np.isnan(rates)])  # follows, keeps, matches_trace: corrupt only
    gold_ok = all(implied_answer(trace(p, f), f) == y for p, y in zip(problems, truth, strict=True)
                  for f in TRACES)
    para_ok = all(implied_answer(paraphrase(p, s, f, other_format(f)), other_format(f)) ==
                  implied_answer(s, f)
                  for t in results.traces.values() for f in TRACES
                  for p, s in zip(problems, t[f"trace_{f}"], strict=True))
    loss = results.loss.sort_values("step").groupby(["family", "seed"]).loss
    strongest = max(baselines(cfg).values())
    asked = {(j["family"], j["seed"], s): set() for j in jobs(cfg) for s in cfg.eval_steps}
    for (family, seed, step, condition, fmt), _ in a.groupby(["family", "seed", "step",
                                                              "condition", "format"]):
        asked[(family, seed, step)].add((condition, fmt))
    wanted = {("direct", "none"), *[(c, f) for c in ("own", "true", "paraphrase", "corrupt",
                                                      "early") for f in TRACES]}
    return {
        "rates_within_0_and_1": bool(rates.between(0, 1).all()),
        "losses_finite": bool(np.isfinite(results.loss.loss).all()),
        "training_lowers_the_loss": bool((loss.last() < loss.first()).all()),
        "correct_traces_imply_the_answer": bool(gold_ok),
        "paraphrases_keep_the_implied_answer": bool(para_ok),
        "reading_the_correct_running_trace_beats_the_strongest_trivial_baseline": bool(
            (accuracies(results, "base", "true", "running") > strongest).all()),
        "every_checkpoint_was_asked_every_condition": all(wanted <= got
                                                          for got in asked.values()),
    }


def closing_line(verdicts: dict[str, Verdict]) -> str:
    e = verdicts[HEADLINE].estimate
    labels = "; ".join(f"{name}: {v.label}" for name, v in verdicts.items())
    return (f"other − own accuracy = {e.value:+.3f} [{e.low:+.3f}, {e.high:+.3f}] "
            f"({e.level:.0%} CI, n={e.n} seeds). {labels}")
