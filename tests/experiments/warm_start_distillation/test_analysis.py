"""nblib.experiments.warm_start_distillation.analysis on constructed results whose answers are
known (the `kd_results` fixture: scratch log-linear in compute, one KD condition at a known
gap)."""

import numpy as np
import pytest

from nblib.experiments.warm_start_distillation import analysis as wa


def test_deltas_recover_the_constructed_gap_under_both_matchings(kd_results):
    final = kd_results(gain_at=-0.2, slope=0.05)
    total = wa.deltas(final, "total")
    expected = -0.2 + 0.05 * np.log2(total.compute / 1e9)
    assert np.allclose(total.delta, expected, atol=1e-9)
    student = wa.deltas(final, "student")  # same tokens: the teacher's forward passes are free
    # read off at the student's FLOPs (5% less), scratch's loss is 0.5·log2(1.05) higher: Δ that
    # much lower
    assert np.allclose(student.delta, total.delta - 0.5 * np.log2(1.05), atol=1e-9)


def test_matching_outside_scratchs_range_is_refused(kd_results):
    final = kd_results(-0.1, 0.0)
    final = final[~((final.condition == "scratch") & (final.student_flops == 32e9))]
    with pytest.raises(ValueError, match="outside scratch's measured range"):
        wa.deltas(final, "total")


def test_a_gain_that_shrinks_gives_the_slope_and_crossover(kd_results):
    final = kd_results(gain_at=-0.2, slope=0.05, noise=0.01)
    v = wa.decide(final, "kd")
    c = wa.crossings(final, "kd", teacher_loss=4.0)
    assert set(v) == {"wins_at_low_compute", "gain_shrinks_with_compute"}
    assert v["wins_at_low_compute"].label == "SUPPORTED"
    assert v["gain_shrinks_with_compute"].label == "SUPPORTED"
    assert v["gain_shrinks_with_compute"].estimate.value == pytest.approx(0.05, abs=0.01)
    # −0.2 + 0.05·log2(C/1e9) = 0
    assert c["crossover_flops"].value == pytest.approx(2**4 * 1e9, rel=0.3)
    offset = final[(final.condition == "scratch") & (final.student_flops == 1e9)].loss.mean() - 6
    # the mean scratch curve 6 + offset − 0.5·log2(C/1e9) is exactly log-linear: it reaches 4 at
    assert c["scratch_reaches_teacher_flops"] == pytest.approx(1e9 * 2 ** ((2 + offset) / 0.5),
                                                               rel=1e-6)


def test_no_gain_and_no_trend_is_not_called_a_win(kd_results):
    final = kd_results(gain_at=0.0, slope=0.0, noise=0.02)
    v = wa.decide(final, "kd")
    assert v["wins_at_low_compute"].label != "SUPPORTED"
    assert v["gain_shrinks_with_compute"].label == "INCONCLUSIVE"


def test_a_loss_that_grows_worse_has_no_crossover(kd_results):
    final = kd_results(gain_at=0.1, slope=0.02, noise=0.005)
    v = wa.decide(final, "kd")
    assert v["wins_at_low_compute"].label == "NOT SUPPORTED"
    # the line is above 0 and rising: it never crosses
    assert np.isnan(wa.crossings(final, "kd", 4.0)["crossover_flops"].value)


def test_per_budget_has_an_interval_per_condition_and_budget(kd_results):
    out = wa.per_budget(wa.deltas(kd_results(-0.2, 0.05, noise=0.01)))
    assert len(out) == 5 and (out.n == 3).all()
    assert (out.low < out.delta).all() and (out.delta < out.high).all()


def test_one_seed_gives_estimates_without_intervals(kd_results):
    """A one-seed run (the interactive step) gets means with NaN intervals, not an error."""
    final = kd_results(gain_at=-0.2, slope=0.05, seeds=1)
    out = wa.per_budget(wa.deltas(final))
    assert out.delta.notna().all() and out.low.isna().all() and (out.n == 1).all()
    v = wa.decide(final, "kd")
    assert v["wins_at_low_compute"].label == "INCONCLUSIVE"
    assert v["gain_shrinks_with_compute"].estimate.value == pytest.approx(0.05)


def test_slopes_are_the_per_seed_lines_and_their_zero(kd_results):
    lines = wa.slopes(wa.deltas(kd_results(gain_at=-0.2, slope=0.05)), "kd")
    assert list(lines.columns) == ["seed", "intercept", "slope", "log2_crossover"]
    assert np.allclose(lines.slope, 0.05)
    assert np.allclose(lines.intercept, -0.2 - 0.05 * np.log2(1e9))  # Δ against log2(FLOPs)
    assert np.allclose(lines.log2_crossover, -lines.intercept / lines.slope)
