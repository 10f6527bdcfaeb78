"""nblib.experiments.loss_functional_form.analysis on synthetic grids with known answers: data
that follow the Chinchilla form give no extrapolation bias; data whose loss stops falling at high
D/N do."""

import numpy as np
import pytest

from nblib.experiments.loss_functional_form import analysis


def analyse(points):
    train, test = analysis.masks(points, 64, 128)
    fits = analysis.fit_forms(points, train, ["chinchilla", "kaplan"], starts=20)
    boots = analysis.bootstrap(points, train, test, fits, n_boot=40)
    table = analysis.extrapolation_table(points, test, fits, boots)
    return fits, boots, table, analysis.decide(table, fits, boots, 64, 128)


def test_masks_split_by_tokens_per_parameter(scaling_grid):
    train, test = analysis.masks(scaling_grid(seeds=1), 32, 128)
    assert train.sum() == 4 * 3 and test.sum() == 4 * 2


def test_chinchilla_data_extrapolate_without_bias(scaling_grid):
    fits, boots, table, verdicts = analyse(scaling_grid())
    assert fits["chinchilla"].params["beta"] == pytest.approx(0.37, abs=0.1)
    bias = table["chinchilla"]["bias"]
    assert bias.unit == "runs" and bias.n == 4 * 3  # a size's seeds are its runs
    assert bias.low < 0 < bias.high and abs(bias.value) < 0.01
    assert verdicts["chinchilla_underpredicts"].label == "INCONCLUSIVE"
    assert set(boots.form) == {"chinchilla", "kaplan"} and len(boots) == 2 * 40


def test_loss_that_flattens_at_high_ratios_is_underpredicted(scaling_grid):
    _, _, table, verdicts = analyse(scaling_grid(flatten=0.2))  # +0.2 nats at 128, +0.4 at 256
    assert table["chinchilla"]["bias"].value > 0.02
    assert verdicts["chinchilla_underpredicts"].label == "SUPPORTED"
    assert "mae_minus_chinchilla" in table["kaplan"]
    kaplan = verdicts["kaplan_extrapolates_better"]
    assert kaplan.details["family"] == ["kaplan_extrapolates_better"]
    assert kaplan.estimate.p_value == pytest.approx(kaplan.details["p_holm"])


def test_holm_verdicts_decide_on_adjusted_p_and_sign():
    rng = np.random.default_rng(0)
    tests = {"clear": ("c", -0.1, rng.normal(-0.1, 0.02, 400), 10),
             "borderline": ("b", -0.04, rng.normal(-0.04, 0.02, 400), 10),
             "worse": ("w", 0.1, rng.normal(0.1, 0.02, 400), 10)}
    out = analysis.holm_verdicts(tests)
    assert out["clear"].label == "SUPPORTED" and out["worse"].label == "NOT SUPPORTED"
    raw, adj = out["borderline"].details["p_raw"], out["borderline"].details["p_holm"]
    assert raw <= adj <= min(1.0, 3 * raw)
    alone = analysis.holm_verdicts({"borderline": tests["borderline"]})["borderline"]
    assert alone.details["p_holm"] == pytest.approx(alone.details["p_raw"])


def test_residual_trend_sees_a_form_that_misses_the_high_ratios(scaling_grid):
    flat, _ = analysis.residual_trend(scaling_grid(), 64, n_boot=30, starts=20)
    bent, _ = analysis.residual_trend(scaling_grid(flatten=0.2), 64, n_boot=30, starts=20)
    # the fit's own noise leaves a trend of ~0.001 on data that follow the law: the verdict's
    # margin (0.005 per e-fold) is above it, and a loss that flattens clears it
    assert flat.high < 0.005 and bent.low > 0.005 and bent.unit == "runs"
    assert analysis.trend_verdict(flat, 64, 0.005, "own grid").label == "NOT SUPPORTED"
    assert analysis.trend_verdict(bent, 64, 0.005, "own grid").label == "SUPPORTED"


def test_resampling_keeps_every_size(scaling_grid):
    points = scaling_grid()
    rng = np.random.default_rng(1)
    for _ in range(20):
        idx = analysis._resampled_runs(points, rng)
        assert set(points.loc[idx, "N"]) == set(points.N) and len(idx) == len(points)
