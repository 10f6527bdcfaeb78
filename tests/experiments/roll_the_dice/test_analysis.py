"""nblib.experiments.roll_the_dice.analysis on metric tables with known answers."""

import numpy as np
import pytest

from nblib.experiments.roll_the_dice import analysis


def test_teacherless_gain_is_found_and_a_null_is_not(table):
    def head(df):
        return analysis.decide(df, 6, 0.25, 0.02)["teacherless_beats_ntp"].label

    assert head(table(0.1, ntp_decline=0)) == "SUPPORTED"
    assert head(table(-0.1, ntp_decline=0)) == "NOT SUPPORTED"
    gap = analysis.objective_gap(table(0.1), 6)
    # NTP also declined by 0.2 at the end
    assert gap["pooled"].value == pytest.approx(0.1 + 0.2, abs=0.02)
    assert set(gap["per_task"]) == {"sibling", "circle"} and gap["pooled"].n == 4


def test_matched_coherence_interpolates_along_the_temperature_frontier(table):
    df = table(0.0)
    matched = analysis.matched_coherence(df, 6)
    # frontier through (0.9, 0.1) and (0.7, 0.3): at seed-conditioning's coherence 0.8 it is 0.2
    assert matched.temperature_creativity.to_numpy() == pytest.approx(0.2, abs=1e-9)
    assert matched.difference.to_numpy() == pytest.approx(matched.seed_creativity.to_numpy() - 0.2)
    low = table(0.0).assign(creativity=lambda d: np.where(d.method == "seed", 0.0, d.creativity))
    name = "seed_matches_temperature"
    assert analysis.decide(low, 6, 0.25, 0.02)[name].label == "NOT SUPPORTED"
    assert analysis.decide(table(0.0), 6, 0.25, 0.02)[name].label == "SUPPORTED"


def test_memorization_trend_compares_mid_and_last_steps(table):
    trend = analysis.memorization_trend(table(ntp_decline=0.2), 6, 0.25)
    assert trend["mid_step"] == 20 and trend["last_step"] == 80
    assert trend["creativity_change"].value == pytest.approx(-0.2, abs=0.02)
    assert trend["memorization_change"].value == pytest.approx(0.8)
    # the frontier rows do not move
    assert trend["sampled_creativity_change"].value == pytest.approx(0.0)
    name = "ntp_creativity_falls_with_memorization"
    assert analysis.decide(table(ntp_decline=0.2), 6, 0.25, 0.02)[name].label == "SUPPORTED"
    flat = analysis.decide(table(ntp_decline=0.0), 6, 0.25, 0.02)[name]
    assert flat.label in ("INCONCLUSIVE", "NOT SUPPORTED")


def test_a_fall_without_more_memorization_is_inconclusive(table):
    df = table(ntp_decline=0.2)
    df.loc[df.method == "memorization", "memorization"] = 0.5  # memorization flat
    v = analysis.decide(df, 6, 0.25, 0.02)["ntp_creativity_falls_with_memorization"]
    assert v.label == "INCONCLUSIVE" and "did not clearly rise" in v.claim


def test_one_seed_gives_estimates_without_intervals(table):
    gap = analysis.objective_gap(table(seeds=1), 6)
    assert np.isnan(gap["pooled"].low) and np.isfinite(gap["pooled"].value)
    verdicts = analysis.decide(table(seeds=1), 6, 0.25, 0.02)
    assert verdicts["teacherless_beats_ntp"].label == "INCONCLUSIVE"


def test_invariants_hold_on_good_rows_and_name_a_broken_one(metrics):
    import pandas as pd

    losses = pd.DataFrame({"train_loss": [2.0, 1.0]})
    scored = metrics.method != "memorization"
    greedy = scored & (metrics.method == "temperature") & (metrics.temperature == 0)
    fixed = metrics.copy()
    fixed.loc[scored, ["coherence", "diversity", "creativity"]] = [0.8, 0.5, 0.3]
    fixed.loc[greedy, ["diversity", "creativity"]] = [1 / 64, 0.0]
    ok = analysis.invariants(fixed, losses, n_samples=64)
    assert all(ok.values()), ok
    broken = fixed.assign(creativity=fixed.creativity + 2.0)
    bad = analysis.invariants(broken, losses, n_samples=64)
    assert not bad["metrics_in_unit_interval"] and not bad["creativity_le_diversity_le_coherence"]
    assert bad["losses_finite"]
    many = fixed.copy()
    many.loc[greedy, "diversity"] = 0.5  # greedy without a hash gave several objects
    assert not analysis.invariants(many, losses, n_samples=64)["greedy_without_hash_is_one_object"]
    nan_loss = analysis.invariants(fixed, pd.DataFrame({"train_loss": [float("nan")]}), 64)
    assert not nan_loss["losses_finite"]
