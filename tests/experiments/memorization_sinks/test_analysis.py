"""nblib.experiments.memorization_sinks.analysis on hand-made tables with known answers."""

import numpy as np
import pandas as pd
import pytest

from nblib.config import build
from nblib.experiments import memorization_sinks as ms
from nblib.experiments.memorization_sinks import analysis as ma

from .conftest import TINY

CFG = build(ms.SinksConfig, {**TINY, "n_sink": 16, "n_active": 4, "n_active_sweep": [1, 4]})


def row(method, seed, gap, val, strength=0, canary=0.0, n_sink=0, n_active=0, **extra):
    return {"method": method, "strength": strength, "seed": seed, "n_sink": n_sink,
            "n_active": n_active, "gap": gap, "canary_gap": gap * 3, "val_loss": val,
            "matched_canary": canary, "matched_heldout_canary": 0.1, **extra}


def table(sinks_gap=0.2, sinks_val=2.82, sinks_canary=0.5, dense_gap=0.9, post_hoc=None,
          seeds=4):
    """Per seed: standard (gap 1.0, val 2.80, 4 canary tokens), dedup, the headline MemSinks
    model 4/16 with the given values, the sparser 1/16 with gap `dense_gap` (named for the
    headline's place as the densest point), and post_hoc (method, strength, gap, val) points."""
    post_hoc = post_hoc or [("pruning", 8, 0.9, 2.85), ("pruning", 32, 0.5, 3.30)]
    rows = []
    for s in range(seeds):
        j = 0.01 * s
        rows += [row("standard", s, 1.0 + j, 2.80, canary=4.0 + j),
                 row("dedup", s, 0.0, 2.90 + j, canary=0.1),
                 row("sinks", s, sinks_gap + j, sinks_val + j, canary=sinks_canary + j,
                     n_sink=16, n_active=4),
                 row("sinks", s, dense_gap - j, sinks_val, canary=sinks_canary, n_sink=16,
                     n_active=1)]
        rows += [row(m, s, g + j, v, strength=k) for m, k, g, v in post_hoc]
    return pd.DataFrame(rows)


def test_a_model_that_isolates_memorisation_gets_supported():
    v = ma.decide(table(), CFG)
    assert list(v)[0] == ma.HEADLINE
    assert v["gap_closed"].label == v["extraction_closed"].label == "SUPPORTED"
    assert v[ma.HEADLINE].label == "SUPPORTED"
    assert v["gap_closed"].estimate.value == pytest.approx(0.8, abs=0.02)
    # extraction: excess 0.5 - 0.1 against 4.0 - 0.1 -> 1 - 0.4 / 3.9
    assert v["extraction_closed"].estimate.value == pytest.approx(1 - 0.4 / 3.9, abs=0.01)
    assert v["gap_closed"].details["g_std_minus_g_sink"].value == pytest.approx(0.8)
    assert v["beats_dedup"].label == "SUPPORTED"
    # pruning needs far more validation loss than 2.82 to reach a gap of 0.2
    assert v["above_frontier"].label == "SUPPORTED"


def test_both_co_primary_endpoints_must_hold():
    v = ma.decide(table(sinks_canary=3.5), CFG)  # the loss gap closes, extraction barely moves
    assert v["gap_closed"].label == "SUPPORTED"
    assert v["extraction_closed"].label == "NOT SUPPORTED"
    assert v[ma.HEADLINE].label == "NOT SUPPORTED"


def test_a_model_that_does_not_isolate_is_not_supported():
    v = ma.decide(table(sinks_gap=0.95, sinks_val=3.0, sinks_canary=4.0), CFG)
    assert v[ma.HEADLINE].label == v["gap_closed"].label == "NOT SUPPORTED"
    assert v["beats_dedup"].label == "NOT SUPPORTED"
    # pruning reaches a gap of 0.9 at 2.85 < 3.0: below the frontier
    assert v["above_frontier"].label == "NOT SUPPORTED"


def test_the_frontier_can_fail_when_the_headline_passes():
    """A retain-regularised method that reaches the MemSinks gap at less validation loss: the
    headline holds, the frontier verdict does not (it does not restate the headline)."""
    cheap = [("GradDiff", 5, 0.6, 2.805), ("GradDiff", 20, 0.1, 2.81)]
    v = ma.decide(table(post_hoc=cheap), CFG)
    assert v[ma.HEADLINE].label == "SUPPORTED"
    assert v["above_frontier"].label == "NOT SUPPORTED"
    assert v["above_frontier"].details["per_method"]["GradDiff"].value < 0


def test_the_unmodified_model_cannot_carry_the_frontier_verdict():
    """MemSinks with the standard model's gap and more validation loss sits below the frontier
    even when every post-hoc point is costly: the start point counts against it, not for it."""
    v = ma.decide(table(sinks_gap=1.0, sinks_val=2.9), CFG)
    assert v["above_frontier"].label == "NOT SUPPORTED"


def test_frontier_interpolates_between_pareto_points_and_flags_the_unreached():
    points = np.array([[1.0, 2.8], [0.9, 2.9], [0.95, 3.5], [0.5, 3.3]])  # (0.95, 3.5) dominated
    assert ma.pareto(points).tolist() == [[0.5, 3.3], [0.9, 2.9], [1.0, 2.8]]
    assert ma.frontier_val(points, 0.7) == (pytest.approx(3.1), True)
    assert ma.frontier_val(points, 2.0) == (pytest.approx(2.8), True)
    assert ma.frontier_val(points, 0.1) == (pytest.approx(3.3), False)  # never reached


def test_seeds_beyond_the_frontier_are_reported():
    v = ma.decide(table(sinks_gap=0.1), CFG)  # pruning's smallest gap is 0.5
    assert v["above_frontier"].details["seeds_beyond_the_frontier"] == [0, 1, 2, 3]


def test_parity_is_an_equivalence_test():
    assert ma.decide(table(sinks_val=2.81), CFG)["val_parity"].label == "SUPPORTED"
    assert ma.decide(table(sinks_val=3.0), CFG)["val_parity"].label == "NOT SUPPORTED"
    noisy = table(sinks_val=2.84)
    noisy.loc[(noisy.method == "sinks") & (noisy.seed == 0), "val_loss"] = 2.60
    assert ma.decide(noisy, CFG)["val_parity"].label == "INCONCLUSIVE"


def test_sparsity_verdict_compares_the_sparsest_and_densest_points():
    v = ma.decide(table(sinks_gap=0.2, dense_gap=0.9), CFG)
    # sparsest is 1/16 (gap 0.9 - j), densest 4/16 (gap 0.2 + j): the sparse one closes less
    assert v["sparsity_helps"].label == "NOT SUPPORTED"
    assert "1 of 16" in v["sparsity_helps"].claim
    v = ma.decide(table(sinks_gap=0.9, dense_gap=0.2), CFG)
    assert v["sparsity_helps"].label == "SUPPORTED"


def test_no_positive_gap_to_close_gives_no_verdict():
    t = table()
    t.loc[t.method == "standard", "matched_canary"] = 0.0  # standard never reproduces canaries
    v = ma.decide(t, CFG)
    assert np.isnan(v["extraction_closed"].estimate.value)
    assert v["extraction_closed"].label == v[ma.HEADLINE].label == "INCONCLUSIVE"


def test_sweep_table_and_summary_cover_every_model():
    t = table()
    sweep = ma.sweep_table(t)
    assert set(zip(sweep.n_sink, sweep.n_active, strict=True)) == {(16, 1), (16, 4)}
    assert set(sweep.endpoint) == {"gap_closed", "canary_gap_closed", "extraction_closed",
                                   "val_cost"}
    assert (sweep.low <= sweep["mean"]).all() and (sweep["mean"] <= sweep.high).all()
    models = list(ma.summary(t).index.get_level_values("model").unique())
    assert models == ["dedup", "pruning", "sinks 1/16", "sinks 4/16", "standard"]
