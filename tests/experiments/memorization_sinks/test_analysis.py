"""nblib.experiments.memorization_sinks.analysis on hand-made tables with known answers."""

import pandas as pd
import pytest

from nblib.experiments.memorization_sinks import analysis as ma


def table(sinks_gap, sinks_val, dedup_val=2.9, seeds=3):
    rows = []
    for s in range(seeds):
        jitter = 0.01 * s
        rows += [
            {"method": "standard", "strength": 0, "seed": s, "gap": 1.0 + jitter,
             "canary_gap": 3.0, "val_loss": 2.80},
            {"method": "dedup", "strength": 0, "seed": s, "gap": 0.0, "canary_gap": 0.1,
             "val_loss": dedup_val + jitter},
            {"method": "sinks", "strength": 0, "seed": s, "gap": sinks_gap + jitter,
             "canary_gap": 1.0, "val_loss": sinks_val + jitter},
            {"method": "pruning", "strength": 8, "seed": s, "gap": 0.9, "canary_gap": 2.5,
             "val_loss": 2.85},
            {"method": "pruning", "strength": 32, "seed": s, "gap": 0.5, "canary_gap": 1.5,
             "val_loss": 3.30},
        ]
    return pd.DataFrame(rows)


def test_a_model_that_isolates_memorisation_gets_supported():
    v = ma.decide(table(sinks_gap=0.2, sinks_val=2.82))
    assert v["gap_closed"].label == "SUPPORTED"
    assert v["gap_closed"].estimate.value == pytest.approx(0.8, abs=0.02)
    assert v["beats_dedup"].label == "SUPPORTED"
    # pruning at <= 2.82 val loss: only strength 0
    assert v["dominates_pruning"].label == "SUPPORTED"


def test_a_model_that_does_not_isolate_is_not_supported():
    v = ma.decide(table(sinks_gap=0.95, sinks_val=3.0))
    assert v["gap_closed"].label == "NOT SUPPORTED"
    assert v["beats_dedup"].label == "NOT SUPPORTED"
    # pruning reaches 0.9 < 0.95 at 2.85 < 3.0
    assert v["dominates_pruning"].label == "NOT SUPPORTED"


def test_a_tie_with_the_post_hoc_frontier_is_inconclusive():
    v = ma.decide(table(sinks_gap=0.9, sinks_val=3.0))  # pruning reaches the same 0.9 gap
    assert v["dominates_pruning"].label == "INCONCLUSIVE"


def test_best_gap_falls_back_to_the_lowest_loss_setting():
    t = table(0.5, 2.5)  # better validation loss than any post-hoc point
    # the standard model itself
    assert ma.best_gap_at_cost(t, "pruning", 0, 2.5) == pytest.approx(1.0)
    methods = list(ma.summary(t).index.get_level_values("method").unique())
    assert methods == ["dedup", "pruning", "sinks", "standard"]
