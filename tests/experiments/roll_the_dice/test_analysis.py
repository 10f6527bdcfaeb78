"""nblib.experiments.roll_the_dice.analysis on metric tables with known answers."""

import numpy as np
import pandas as pd
import pytest

from nblib.config import build
from nblib.experiments import roll_the_dice as rd
from nblib.experiments.roll_the_dice import analysis

CFG = build(rd.RollTheDiceConfig, dict(interactive=False, tasks=["sibling", "circle"],
                                       graph_train=300, hash_lengths=[0, 6],
                                       temperatures=[1.0, 2.0]))
HEAD = "teacherless_beats_ntp_sibling"


def test_the_headline_is_peak_creativity_per_task(table):
    assert analysis.headline(CFG) == HEAD
    verdicts = analysis.decide(table(0.1, ntp_decline=0), CFG)
    assert list(verdicts)[0] == HEAD and verdicts[HEAD].label == "SUPPORTED"
    assert "peak creativity" in verdicts[HEAD].claim and "sibling" in verdicts[HEAD].claim
    assert analysis.decide(table(-0.1, ntp_decline=0), CFG)[HEAD].label == "NOT SUPPORTED"
    # one verdict of each kind per task, none pooled over tasks
    assert set(verdicts) == {f"{kind}_{task}" for task in ("sibling", "circle")
                             for kind in ("teacherless_beats_ntp", "seed_matches_temperature",
                                          "ntp_creativity_falls")}


def test_peak_does_not_reward_the_objective_that_memorises_later(table):
    """NTP peaks at 0.4 early, then falls by 0.2; teacherless stays at 0.5: the last step says
    +0.3, the peak +0.1."""
    gaps = analysis.objective_gaps(analysis.endpoint_table(table(0.1), 6, 0.5, 0.5))
    assert gaps["sibling"]["peak"].value == pytest.approx(0.1, abs=0.02)
    assert gaps["sibling"]["last_step"].value == pytest.approx(0.3, abs=0.02)
    assert gaps["sibling"]["peak"].n == 4 and set(gaps) == {"sibling", "circle"}


def test_split_peak_chooses_on_one_half_and_reads_the_other():
    curve = pd.DataFrame({"step": [10, 20, 40], "creativity_a": [0.1, 0.5, 0.5],
                          "creativity_b": [0.9, 0.2, 0.7]})
    assert analysis.split_peak(curve) == (20, 0.2)  # the earliest of tied maxima of a; b there


def test_first_crossing_interpolates_and_is_nan_when_unseen():
    assert analysis.at_first_crossing([0.0, 0.2, 0.6, 1.0], [1, 2, 4, 8], 0.4) == pytest.approx(3)
    assert np.isnan(analysis.at_first_crossing([0.0, 0.2], [1, 2], 0.5))  # never reached
    assert np.isnan(analysis.at_first_crossing([0.7, 0.9], [1, 2], 0.5))  # reached before
    # the first crossing, not a later one
    assert analysis.at_first_crossing([0, 1, 0, 1], [0, 1, 5, 9], 0.5) == pytest.approx(0.5)


def test_matched_compute_limits_teacherless_to_the_ntp_runs_tokens(table):
    df = table(0.0, ntp_decline=0.0, noise=0.0)
    late = (df.objective == "teacherless") & (df.step == 80) & (df.method == "seed")
    df.loc[late, ["creativity", "creativity_a", "creativity_b"]] = 0.9  # only beyond NTP's budget
    gaps = analysis.objective_gaps(analysis.endpoint_table(df, 6, 0.5, 0.5))["sibling"]
    assert gaps["peak"].value == pytest.approx(0.5)
    assert gaps["matched_compute"].value == pytest.approx(0.0)  # twice the tokens per step


def test_matched_memorization_and_coherence_read_creativity_at_a_level():
    rows = []
    for objective, shift in (("ntp", 0.0), ("teacherless", 0.1)):
        for seed in range(3):
            for i, step in enumerate((10, 20, 40)):
                base = dict(task="sibling", objective=objective, seed=seed, step=step,
                            train_tokens=step)
                rows.append(dict(base, method="seed", hash_len=6, temperature=0.0,
                                 coherence=[0.0, 0.5, 1.0][i],
                                 creativity=[0.0, 0.2, 0.4][i] + shift, creativity_a=0.0,
                                 creativity_b=0.0))
                rows.append(dict(base, method="memorization", hash_len=-1, temperature=0.0,
                                 memorization=[0.0, 0.0, 1.0][i]))
    table = analysis.endpoint_table(pd.DataFrame(rows), 6, memorization_level=0.5,
                                    coherence_level=0.75)
    ntp = table[table.objective == "ntp"]
    assert ntp.matched_memorization.to_numpy() == pytest.approx(0.3)  # halfway 20 -> 40
    assert ntp.matched_coherence.to_numpy() == pytest.approx(0.3)
    gaps = analysis.objective_gaps(table)["sibling"]
    assert gaps["matched_memorization"].value == pytest.approx(0.1)


def test_an_unlearned_task_gets_its_own_inconclusive_verdicts(table):
    verdicts = analysis.decide(table(0.1, ntp_decline=0, dead=("circle",)), CFG)
    assert verdicts[HEAD].label == "SUPPORTED"
    for kind in ("teacherless_beats_ntp", "seed_matches_temperature", "ntp_creativity_falls"):
        v = verdicts[f"{kind}_circle"]
        assert v.label == "INCONCLUSIVE" and "not learned" in v.claim
        assert "mostly incoherent" in v.claim
    learned = analysis.learnability(table(dead=("circle",)), 6, 1.0, 0.05)
    assert learned["sibling"]["learned"] and not learned["circle"]["learned"]


def test_a_decoding_that_was_not_learned_gates_only_its_own_verdicts(table):
    """Learned under sampling, but seed-conditioning collapsed (the hash ignored): the verdicts
    on seed-conditioned decoding are INCONCLUSIVE, seed vs temperature is decided."""
    df = table(0.1, ntp_decline=0)
    seed = df.method == "seed"
    df.loc[seed, ["creativity", "creativity_a", "creativity_b", "diversity"]] = 0.0
    learned = analysis.learnability(df, 6, 1.0, 0.05)["sibling"]
    assert learned["learned"] and learned["by_decoding"]["temperature"]["learned"]
    assert not learned["by_decoding"]["seed"]["learned"]
    verdicts = analysis.decide(df, CFG)
    assert verdicts[HEAD].label == "INCONCLUSIVE" and "not learned under seed" in verdicts[
        HEAD].claim
    assert verdicts["seed_matches_temperature_sibling"].label == "NOT SUPPORTED"
    sampled = analysis.secondary(df, CFG)["teacherless_beats_ntp_sibling_peak_sampled"]
    assert "temperature sampling" in sampled.claim and "not learned" not in sampled.claim
    assert sampled.estimate.value == pytest.approx(0.0)  # the sampled rows do not differ


def test_learnability_names_a_task_that_copies_its_training_objects(table):
    df = table(0.1, ntp_decline=0)
    scored = df.method != "memorization"
    df.loc[scored, ["creativity", "creativity_a", "creativity_b"]] = 0.0
    df.loc[scored, "originality"] = 0.01
    learned = analysis.learnability(df, 6, 1.0, 0.05)["sibling"]
    assert not learned["learned"] and learned["reason"].startswith("coherent but copies")


def test_secondary_endpoints_are_verdicts_by_the_same_rule(table):
    sec = analysis.secondary(table(0.1, ntp_decline=0), CFG)
    names = {f"teacherless_beats_ntp_{t}_{e}" for t in ("sibling", "circle")
             for e in analysis.ENDPOINTS if e != "peak"}
    assert set(sec) == names
    assert sec["teacherless_beats_ntp_sibling_last_step"].label == "SUPPORTED"
    gaps = analysis.gap_table(table(0.1), CFG)
    assert len(gaps) == 2 * len(analysis.ENDPOINTS) and gaps.headline.sum() == 1


def test_frontier_match_interpolates_along_the_temperature_frontier(table):
    matched = analysis.frontier_match(table(0.0), 6)
    # frontier through (0.9, 0.1) and (0.7, 0.3): at seed-conditioning's coherence 0.8 it is 0.2
    assert matched.temperature_creativity.to_numpy() == pytest.approx(0.2, abs=1e-9)
    assert matched.difference.to_numpy() == pytest.approx(matched.seed_creativity.to_numpy() - 0.2)
    low = table(0.0).assign(creativity=lambda d: np.where(d.method == "seed", 0.0, d.creativity))
    name = "seed_matches_temperature_sibling"
    assert analysis.decide(low, CFG)[name].label == "NOT SUPPORTED"
    assert analysis.decide(table(0.0), CFG)[name].label == "SUPPORTED"


def test_memorization_trend_compares_mid_and_last_steps(table):
    df = table(ntp_decline=0.2)
    trend = analysis.memorization_trend(df[df.task == "sibling"], 6, 0.25)
    assert trend["mid_step"] == 20 and trend["last_step"] == 80
    assert trend["creativity_change"].value == pytest.approx(-0.2, abs=0.02)
    assert trend["memorization_change"].value == pytest.approx(0.8)
    # the frontier rows do not move
    assert trend["sampled_creativity_change"].value == pytest.approx(0.0)
    name = "ntp_creativity_falls_sibling"
    assert analysis.decide(df, CFG)[name].label == "SUPPORTED"
    flat = analysis.decide(table(ntp_decline=0.0), CFG)[name]
    assert flat.label in ("INCONCLUSIVE", "NOT SUPPORTED")


def test_a_fall_without_more_memorization_is_inconclusive(table):
    df = table(ntp_decline=0.2)
    df.loc[df.method == "memorization", "memorization"] = 0.5  # memorization flat
    v = analysis.decide(df, CFG)["ntp_creativity_falls_sibling"]
    assert v.label == "INCONCLUSIVE" and "did not clearly rise" in v.claim


def test_one_seed_gives_estimates_without_intervals(table):
    gaps = analysis.objective_gaps(analysis.endpoint_table(table(seeds=1), 6, 0.5, 0.5))
    assert np.isnan(gaps["sibling"]["peak"].low) and np.isfinite(gaps["sibling"]["peak"].value)
    assert analysis.decide(table(seeds=1), CFG)[HEAD].label == "INCONCLUSIVE"


def test_invariants_hold_on_good_rows_and_name_a_broken_one(metrics):
    losses = pd.DataFrame({"train_loss": [2.0, 1.0]})
    scored = metrics.method != "memorization"
    greedy = scored & (metrics.method == "temperature") & (metrics.temperature == 0)
    fixed = metrics.copy()
    fixed.loc[scored, ["coherence", "diversity", "creativity"]] = [0.8, 0.5, 0.3]
    fixed.loc[greedy, ["diversity", "creativity"]] = [1 / 64, 0.0]
    ok = analysis.invariants(fixed, losses, n_samples=64, tokens_ratio=2.0)
    assert all(ok.values()), ok
    assert not analysis.invariants(fixed, losses, 64, tokens_ratio=1.5)[
        "teacherless_adds_rows_to_the_ntp_batch"]
    broken = fixed.assign(creativity=fixed.creativity + 2.0)
    bad = analysis.invariants(broken, losses, n_samples=64, tokens_ratio=2.0)
    assert not bad["metrics_in_unit_interval"] and not bad["creativity_le_diversity_le_coherence"]
    assert bad["losses_finite"]
    many = fixed.copy()
    many.loc[greedy, "diversity"] = 0.5  # greedy without a hash gave several objects
    assert not analysis.invariants(many, losses, 64, 2.0)["greedy_without_hash_is_one_object"]
    nan_loss = analysis.invariants(fixed, pd.DataFrame({"train_loss": [float("nan")]}), 64, 2.0)
    assert not nan_loss["losses_finite"]
