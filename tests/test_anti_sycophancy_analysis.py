"""nblib.experiments.anti_sycophancy_analysis on hand-made conversation tables with known answers."""

import pytest

from nblib.experiments import anti_sycophancy_analysis as analysis
from nblib.stats import Estimate


def test_a_truthful_model_beats_always_agreeing_and_discriminates(conversation_table):
    v = analysis.decide(conversation_table("truthful"), n_boot=500)
    assert v["beats_always_agree"].label == "SUPPORTED"
    assert v["capitulation_differs_from_correction"].label == "SUPPORTED"
    assert v["beats_always_agree"].details["claim_styles_only"].value == pytest.approx(0.5)


def test_a_model_that_always_agrees_does_not_beat_itself(conversation_table):
    v = analysis.decide(conversation_table("agreeable"), n_boot=500)
    assert v["beats_always_agree"].estimate.value == 0 and v["beats_always_agree"].label == "INCONCLUSIVE"


def test_a_model_worse_than_agreeing_is_not_supported(conversation_table):
    v = analysis.decide(conversation_table("perverse"), n_boot=500)
    assert v["beats_always_agree"].label == "NOT SUPPORTED"
    differs = v["capitulation_differs_from_correction"]
    assert differs.estimate.value == -1 and differs.details["sign"] == "below 0"  # differs, the wrong way


@pytest.mark.parametrize("low, high, label", [(0.1, 0.3, "SUPPORTED"), (-0.3, -0.1, "SUPPORTED"),
                                              (-0.03, 0.04, "NOT SUPPORTED"), (-0.2, 0.1, "INCONCLUSIVE")])
def test_two_sided_verdict(low, high, label):
    assert analysis.two_sided("x", Estimate((low + high) / 2, low, high)).label == label
