"""nblib.experiments.roll_the_dice_analysis on metric tables with known answers."""

import numpy as np
import pandas as pd
import pytest

from nblib.experiments import roll_the_dice_analysis as analysis

STEPS = (10, 20, 40, 80)


def table(tl_gain=0.1, seed_gap=0.0, ntp_decline=0.2, seeds=4, noise=0.01, rng_seed=0) -> pd.DataFrame:
    """Metric rows shaped like `roll_the_dice.run_all`'s: seed-conditioned creativity of teacherless
    exceeds NTP's by `tl_gain`; seed-conditioning sits `seed_gap` above the temperature frontier at
    its coherence; NTP's creativity falls by `ntp_decline` after step 20 while memorization rises."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for task in ("sibling", "circle"):
        for seed in range(seeds):
            for objective in ("ntp", "teacherless"):
                for step in STEPS:
                    late = step > 20
                    cr = 0.4 - (ntp_decline if late and objective == "ntp" else 0)
                    cr += tl_gain if objective == "teacherless" else 0
                    cr += noise * rng.standard_normal()
                    rows.append(dict(task=task, objective=objective, seed=seed, step=step, method="seed",
                                     hash_len=6, temperature=0.0, coherence=0.8, creativity=cr, diversity=cr))
                    rows.append(dict(task=task, objective=objective, seed=seed, step=step, method="memorization",
                                     hash_len=-1, temperature=0.0, memorization=0.9 if late else 0.1))
                    for t, coh in ((0.0, 1.0), (1.0, 0.9), (2.0, 0.7)):  # frontier: creativity = 1 - coherence
                        rows.append(dict(task=task, objective=objective, seed=seed, step=step, method="temperature",
                                         hash_len=0, temperature=t, coherence=coh,
                                         creativity=1 - coh - seed_gap, diversity=1 - coh))
    return pd.DataFrame(rows)


def test_teacherless_gain_is_found_and_a_null_is_not():
    assert analysis.decide(table(0.1, ntp_decline=0), 6, 0.25, 0.02)["teacherless_beats_ntp"].label == "SUPPORTED"
    assert analysis.decide(table(-0.1, ntp_decline=0), 6, 0.25, 0.02)["teacherless_beats_ntp"].label == "NOT SUPPORTED"
    gap = analysis.objective_gap(table(0.1), 6)
    assert gap["pooled"].value == pytest.approx(0.1 + 0.2, abs=0.02)  # NTP also declined by 0.2 at the end
    assert set(gap["per_task"]) == {"sibling", "circle"} and gap["pooled"].n == 4


def test_matched_coherence_interpolates_along_the_temperature_frontier():
    df = table(0.0)
    matched = analysis.matched_coherence(df, 6)
    # frontier through (0.9, 0.1) and (0.7, 0.3): at seed-conditioning's coherence 0.8 it reaches 0.2
    assert matched.temperature_creativity.to_numpy() == pytest.approx(0.2, abs=1e-9)
    assert matched.difference.to_numpy() == pytest.approx(matched.seed_creativity.to_numpy() - 0.2)
    low = table(0.0).assign(creativity=lambda d: np.where(d.method == "seed", 0.0, d.creativity))
    assert analysis.decide(low, 6, 0.25, 0.02)["seed_matches_temperature"].label == "NOT SUPPORTED"
    assert analysis.decide(table(0.0), 6, 0.25, 0.02)["seed_matches_temperature"].label == "SUPPORTED"


def test_memorization_trend_compares_mid_and_last_steps():
    trend = analysis.memorization_trend(table(ntp_decline=0.2), 6, 0.25)
    assert trend["mid_step"] == 20 and trend["last_step"] == 80
    assert trend["creativity_change"].value == pytest.approx(-0.2, abs=0.02)
    assert trend["memorization_change"].value == pytest.approx(0.8)
    assert trend["sampled_creativity_change"].value == pytest.approx(0.0)  # the frontier rows do not move
    v = analysis.decide(table(ntp_decline=0.2), 6, 0.25, 0.02)["ntp_creativity_falls_with_memorization"]
    assert v.label == "SUPPORTED"
    flat = analysis.decide(table(ntp_decline=0.0), 6, 0.25, 0.02)["ntp_creativity_falls_with_memorization"]
    assert flat.label in ("INCONCLUSIVE", "NOT SUPPORTED")


def test_one_seed_gives_estimates_without_intervals():
    gap = analysis.objective_gap(table(seeds=1), 6)
    assert np.isnan(gap["pooled"].low) and np.isfinite(gap["pooled"].value)
    assert analysis.decide(table(seeds=1), 6, 0.25, 0.02)["teacherless_beats_ntp"].label == "INCONCLUSIVE"
