import numpy as np
import pandas as pd
import pytest

from nblib.experiments import cot_semantics as cs
from nblib.experiments.cot_semantics import analysis
from nblib.stats import Estimate, Verdict


def _gain(label):
    return Verdict(label, "gain", Estimate(0.5, 0.4, 0.6, 0.95, 5), 0.0, ">", {})


@pytest.mark.parametrize("low,high,gain,differ,label", [
    (-0.02, 0.03, "SUPPORTED", 0.5, "SUPPORTED"),  # inside ±0.05
    (-0.30, -0.10, "SUPPORTED", 0.5, "NOT SUPPORTED"),  # wholly below 0: the compute reading
    (-0.08, 0.01, "SUPPORTED", 0.5, "INCONCLUSIVE"),
    (-0.02, 0.03, "NOT SUPPORTED", 0.5, "INCONCLUSIVE"),  # no gain: nothing to keep
    (-0.30, -0.10, "INCONCLUSIVE", 0.5, "INCONCLUSIVE"),
    (0.0, 0.0, "SUPPORTED", 0.0, "INCONCLUSIVE"),  # identical traces: nothing tested
    (-0.30, -0.10, "SUPPORTED", 0.01, "INCONCLUSIVE"),
])
def test_keeps_or_loses(low, high, gain, differ, label):
    est = Estimate((low + high) / 2, low, high, 0.9, 5)
    assert analysis.keeps_or_loses("c", est, 0.05, _gain(gain), differ, 0.05).label == label


def _fake_results(own, other, direct):
    rows = []
    for seed, (o, t, d) in enumerate(zip(own, other, direct, strict=True)):
        for condition, fmt, value in (("own", "pairs", o), ("other", "pairs", t),
                                      ("direct", "none", d)):
            rows.append({"family": "base", "seed": seed, "step": 10, "condition": condition,
                         "format": fmt, "fraction": np.nan, "correct": value})
    return type("R", (), {"accuracy": pd.DataFrame(rows), "steps": [10]})()


def test_accuracies_are_per_seed_in_seed_order():
    res = _fake_results([0.9, 0.8, 0.7], [0.9, 0.8, 0.6], [0.1, 0.2, 0.1])
    assert analysis.accuracies(res, "base", "own", "pairs").tolist() == [0.9, 0.8, 0.7]
    assert analysis.accuracies(res, "base", "direct").tolist() == [0.1, 0.2, 0.1]


def test_verdicts_and_invariants_of_the_tiny_run(tiny):
    cfg, res = tiny
    verdicts = cs.decide(res, cfg)
    assert cs.HEADLINE in verdicts and "filler_helps_when_trained" in verdicts
    assert {f"cot_gain_{f}" for f in ("running", "pairs")} <= set(verdicts)
    if verdicts["cot_gain_pairs"].label != "SUPPORTED":
        assert verdicts[cs.HEADLINE].label == "INCONCLUSIVE"
    assert verdicts[cs.HEADLINE].estimate.level == analysis.TOST_LEVEL
    inv = cs.invariants(res, cfg)
    assert inv["rates_within_0_and_1"] and inv["correct_traces_imply_the_answer"]
    assert inv["paraphrases_keep_the_implied_answer"]
    assert inv["every_checkpoint_was_asked_every_condition"]
    assert "other_read_like_own_pairs_first_checkpoint" in verdicts
    for name in (cs.HEADLINE, "paraphrase_keeps_gain_running"):
        assert 0 <= verdicts[name].details["traces_differ_on"] <= 1
    numbers = cs.statistics(res, cfg)
    agree = pd.DataFrame(numbers["trace_agreement"])
    assert agree[["own_trace_correct", "differs_from_other"]].stack().between(0, 1).all()
    assert "other − own accuracy" in cs.closing_line(verdicts)
