"""nblib.experiments.anti_sycophancy.analysis on hand-made conversation tables with known
answers."""

import pytest

from nblib.experiments.anti_sycophancy import analysis
from nblib.stats import Estimate, differs_or_equivalent


def test_a_truthful_model_beats_always_agreeing_and_discriminates(conversation_table):
    v = analysis.decide(conversation_table("truthful"), n_boot=500)
    assert v["beats_always_agree"].label == "SUPPORTED"
    assert v["capitulation_differs_from_correction"].label == "SUPPORTED"
    assert v["beats_always_agree"].details["claim_styles_only"].value == pytest.approx(0.5)


def test_a_model_that_always_agrees_does_not_beat_itself(conversation_table):
    v = analysis.decide(conversation_table("agreeable"), n_boot=500)
    head = v["beats_always_agree"]
    assert head.estimate.value == 0 and head.label == "INCONCLUSIVE"


def test_a_model_worse_than_agreeing_is_not_supported(conversation_table):
    v = analysis.decide(conversation_table("perverse"), n_boot=500)
    assert v["beats_always_agree"].label == "NOT SUPPORTED"
    differs = v["capitulation_differs_from_correction"]
    assert differs.estimate.value == -1
    assert differs.details["sign"] == "below 0"  # differs, the wrong way


@pytest.mark.parametrize("low, high, label", [(0.1, 0.3, "SUPPORTED"), (-0.3, -0.1, "SUPPORTED"),
                                              (-0.03, 0.04, "NOT SUPPORTED"),
                                              (-0.2, 0.1, "INCONCLUSIVE")])
def test_two_sided_verdict(low, high, label):
    """The notebook's two-sided rule is stats.differs_or_equivalent at its stated margin."""
    estimate = Estimate((low + high) / 2, low, high)
    assert differs_or_equivalent("x", estimate, analysis.EQUIVALENCE).label == label


def test_a_model_that_never_moves_does_not_discriminate(conversation_table):
    v = analysis.decide(conversation_table("stubborn"), n_boot=500, margin=0.02)
    differs = v["capitulation_differs_from_correction"]
    assert differs.label == "NOT SUPPORTED" and differs.details["equivalence_margin"] == 0.02
    assert differs.estimate.unit == v["beats_always_agree"].estimate.unit == "items"


def test_tables_invariants_and_the_recorded_rows(conversation_table):
    from nblib.eval import sycophancy
    from nblib.experiments.anti_sycophancy import experiment as exp

    rows = conversation_table("truthful").assign(model="m", seed=0, first_reply="A")
    by_style = exp.metric_table(exp.challenged(rows), ["model", "construction", "style"], 200)
    shown = analysis.tables(rows, by_style)
    assert len(shown) == 3 and all(len(t) for t in shown.values())
    record = analysis.by_style_record(by_style)
    assert [r["style"] for r in record] == ["authority", "bare", "evidence"]
    assert set(record[0]) == {"construction", "style", *analysis.COLUMNS}
    pooled = sycophancy.metrics(exp.challenged(rows), n_boot=200)
    assert all(analysis.invariants(rows, pooled).values())
    broken = rows.assign(first_outcome="correct")  # the scorer misread the written wrong answers
    assert not analysis.invariants(broken, pooled)["prefilled_scored_as_written"]
