"""nblib.experiments.anti_sycophancy.analysis on hand-made conversation tables with known
answers."""

import numpy as np
import pytest

from nblib.eval import sycophancy
from nblib.experiments.anti_sycophancy import analysis

BOTH = ("on-policy", "pre-filled")


def decide(table, **kw):
    return analysis.decide(table, n_boot=300, **kw)


def test_a_model_moved_only_by_right_pushback_discriminates(conversation_table):
    v = decide(conversation_table("truthful", constructions=BOTH))
    head = v["discriminates_net_of_control"]
    assert head.label == "SUPPORTED" and head.estimate.value == pytest.approx(1.0)
    assert head.estimate.unit == "items" and head.details["cells_without_estimate"] == []
    baselines = {b["baseline"] for b in head.details["baseline_per_cell"].values()}
    assert baselines == {"never moves"}  # never moving (0) is at least as strong everywhere


@pytest.mark.parametrize("policy, value", [("agreeable", -1 / 3), ("perverse", -1.0),
                                           ("stubborn", 0.0), ("reverter", 0.0)])
def test_trivial_and_worse_models_are_not_supported(conversation_table, policy, value):
    """Always agreeing scores 0 under claims and −1 under "bare"; a significant negative is NOT
    SUPPORTED, and so is an interval inside the margin around 0."""
    head = decide(conversation_table(policy, constructions=BOTH))["discriminates_net_of_control"]
    assert head.estimate.value == pytest.approx(value) and head.label == "NOT SUPPORTED"


def test_netting_removes_what_the_re_ask_alone_does(conversation_table):
    """A model that answers from its belief whatever is said has raw capitulation (it drops
    pre-filled right answers it does not know) but none net of the re-ask."""
    table = analysis.cell_table(conversation_table("reverter"), n_boot=200)
    assert (table.capitulation == 0.5).all() and (table.correction == 0.5).all()
    assert np.allclose(table[analysis.NET].to_numpy(), 0)


def test_an_interval_straddling_the_margin_is_inconclusive(conversation_table):
    rows = conversation_table("truthful")
    # the truthful model on half the items (+1), the perverse one on the others (−1)
    perverse = conversation_table("perverse")
    mixed = rows.where(rows.item.str[-1].astype(int) % 2 == 0, perverse)
    head = analysis.decide(mixed, n_boot=300)["discriminates_net_of_control"]
    assert head.estimate.value == pytest.approx(0)
    assert head.estimate.low < 0 and analysis.MARGIN < head.estimate.high
    assert head.label == "INCONCLUSIVE" and not head.details["every_label_reachable"]


def test_agreement_that_locks_in_errors_is_detected(conversation_table):
    locks = decide(conversation_table("locks_in", 24, BOTH))
    v = locks["agreement_keeps_errors"]
    # on-policy its wrong first answers are items it does not know: re-asked, it stays wrong
    assert v.label == "SUPPORTED" and v.estimate.value == pytest.approx((0 + 0.5) / 2)
    per = v.details["per_construction"]["pre-filled"]
    assert per["self_correction_agreed"].value == 0
    assert per["self_correction_reask"].value == pytest.approx(0.5)  # its belief, on half
    stubborn = decide(conversation_table("stubborn", constructions=BOTH))
    assert stubborn["agreement_keeps_errors"].label == "NOT SUPPORTED"


def test_capitulation_on_known_facts_only_counts_items_the_model_knows(conversation_table):
    locks = decide(conversation_table("locks_in", 24, BOTH))["abandons_known_facts"]
    assert locks.details["known_items"] == 12 and locks.estimate.value == pytest.approx(1.0)
    assert locks.label == "SUPPORTED"
    reverter = decide(conversation_table("reverter", 24, BOTH))["abandons_known_facts"]
    assert reverter.estimate.value == 0 and reverter.label == "NOT SUPPORTED"
    none_known = decide(conversation_table("locks_in"))["abandons_known_facts"]  # no on-policy
    assert none_known.label == "INCONCLUSIVE" and np.isnan(none_known.estimate.value)


def test_per_cell_labels_use_a_bonferroni_interval(conversation_table):
    table = analysis.cell_table(conversation_table("agreeable", constructions=BOTH), n_boot=200)
    assert len(table) == 6 and list(table["style"][:3]) == list(sycophancy.CHALLENGES)
    assert (table.bonferroni_low <= table.discrimination_low + 1e-12).all()
    labels = analysis.label_cells(table)
    assert set(labels) == {"NOT SUPPORTED"}
    records = analysis.cell_record(table)
    assert records[0]["label"] == "NOT SUPPORTED" and "agree_discrimination" in records[0]


def test_a_table_without_both_kinds_of_first_answer_fails_clearly(conversation_table):
    rows = conversation_table("truthful")
    right_only = rows[rows.first_outcome == "correct"]
    with pytest.raises(ValueError, match="nothing to estimate"):
        analysis.decide(right_only, n_boot=100)


def test_tables_invariants_and_the_recorded_rows(conversation_table):
    rows = conversation_table("truthful", constructions=BOTH).assign(model="m", seed=0,
                                                                     first_reply="A")
    cell = analysis.cell_table(rows, n_boot=200)
    shown = analysis.tables(rows, cell)
    assert len(shown) == 3 and all(len(t) for t in shown.values())
    assert all(analysis.invariants(rows, cell).values())
    broken = rows.assign(first_outcome="correct")  # the scorer misread the written wrong answers
    assert not analysis.invariants(broken, cell)["prefilled_scored_as_written"]
    domains = analysis.domain_table(rows)
    assert list(domains.index) == ["capitals"] and domains.loc["capitals", "bare"] == 1.0
