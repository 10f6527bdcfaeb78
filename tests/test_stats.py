"""nblib.stats: intervals and tests checked against hand computations with scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from nblib.stats import (
    LABELS,
    Estimate,
    bootstrap_ci,
    fit_curve,
    linear_fit,
    mean_ci,
    paired,
    verdict,
    weighted_bootstrap,
)

X = [0.61, 0.74, 0.58, 0.69, 0.80]


def test_mean_ci_by_hand():
    n, mean = len(X), sum(X) / len(X)
    sd = math.sqrt(sum((x - mean) ** 2 for x in X) / (n - 1))
    half = sps.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    est = mean_ci(X)
    assert est.value == pytest.approx(mean, rel=1e-12)
    assert est.low == pytest.approx(mean - half, rel=1e-12)
    assert est.high == pytest.approx(mean + half, rel=1e-12)
    assert (est.level, est.n, est.p_value) == (0.95, 5, None)
    half90 = sps.t.ppf(0.95, n - 1) * sd / math.sqrt(n)
    assert mean_ci(X, level=0.9).high == pytest.approx(mean + half90, rel=1e-12)
    assert "95% CI, n=5" in str(est)


@pytest.mark.parametrize("bad, match", [([1.0], "at least 2"), ([[1.0, 2.0]], "1-D"),
                                        ([1.0, float("nan")], "non-finite")])
def test_mean_ci_rejects_bad_samples(bad, match):
    with pytest.raises(ValueError, match=match):
        mean_ci(bad)


def test_paired_matches_scipy_ttest_rel():
    a = [0.9, 1.2, 1.1, 0.8, 1.3, 1.0]
    b = [0.7, 1.1, 0.8, 0.9, 1.0, 0.8]
    est = paired(a, b)
    ref = sps.ttest_rel(a, b)
    assert est.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    d = np.subtract(a, b)
    assert est.value == pytest.approx(d.mean())
    ci = ref.confidence_interval(0.95)
    assert (est.low, est.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert est.n == 6


def test_paired_degenerate_and_mismatched():
    assert paired([1.0, 2.0, 3.0], [0.5, 1.5, 2.5]).p_value == 0.0  # constant nonzero difference
    assert paired([1.0, 2.0], [1.0, 2.0]).p_value == 1.0  # no difference at all
    with pytest.raises(ValueError, match="differ in length: 3 vs 2"):
        paired([1.0, 2.0, 3.0], [1.0, 2.0])


def test_bootstrap_ci_covers_the_mean_and_is_reproducible():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 1.0, size=40)
    est = bootstrap_ci(x, n_boot=2000, seed=1)
    assert est.value == pytest.approx(x.mean())
    assert est.low < 5.0 < est.high  # covers the true mean of this sample's population
    assert est.low < x.mean() < est.high
    assert 0.3 < est.high - est.low < 1.2  # about 2 * 1.96 / sqrt(40) = 0.62 wide
    assert bootstrap_ci(x, n_boot=2000, seed=1) == est
    med = bootstrap_ci(x, statistic=np.median, n_boot=500)
    assert med.value == pytest.approx(np.median(x)) and med.low <= med.value <= med.high


def test_linear_fit_slope_ci_by_hand():
    rng = np.random.default_rng(2)
    x = np.linspace(0, 10, 12)
    y = 1.5 + 0.7 * x + rng.normal(0, 0.3, size=x.size)
    fit = linear_fit(x, y)
    ref = sps.linregress(x, y)
    half = sps.t.ppf(0.975, len(x) - 2) * ref.stderr
    assert fit["slope"].value == pytest.approx(ref.slope)
    assert fit["slope"].low == pytest.approx(ref.slope - half)
    assert fit["slope"].high == pytest.approx(ref.slope + half)
    assert fit["slope"].p_value == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-300)
    assert fit["intercept"].value == pytest.approx(ref.intercept)
    assert fit["slope"].low < 0.7 < fit["slope"].high and fit["intercept"].low < 1.5 < fit["intercept"].high


def test_fit_curve_recovers_exponential_parameters():
    def f(x, a, b, c):
        return a * np.exp(-b * x) + c

    rng = np.random.default_rng(3)
    x = np.linspace(0, 5, 30)
    y = f(x, 2.0, 1.3, 0.5) + rng.normal(0, 0.02, size=x.size)
    fit = fit_curve(f, x, y, p0=[1.0, 1.0, 0.0], names=["a", "b", "c"])
    for name, true in (("a", 2.0), ("b", 1.3), ("c", 0.5)):
        est = fit[name]
        assert est.low < true < est.high, (name, est)
        assert est.high - est.low < 0.2 * true, (name, est)  # informative, not vacuous
        assert est.n == 30
    with pytest.raises(ValueError):  # names must match the parameters
        fit_curve(f, x, y, p0=[1.0, 1.0, 0.0], names=["a", "b"])


def _est(low, high):
    return Estimate((low + high) / 2, low, high, n=5)


@pytest.mark.parametrize("low, high, direction, label", [
    (-0.3, -0.1, "<", "SUPPORTED"),
    (0.1, 0.3, "<", "NOT SUPPORTED"),
    (-0.1, 0.1, "<", "INCONCLUSIVE"),
    (0.1, 0.3, ">", "SUPPORTED"),
    (-0.3, -0.1, ">", "NOT SUPPORTED"),
    (-0.1, 0.1, ">", "INCONCLUSIVE"),
    (0.0, 0.2, ">", "INCONCLUSIVE"),  # touching the threshold is not wholly above it
])
def test_verdict_labels(low, high, direction, label):
    v = verdict("the effect is on the claimed side of 0", _est(low, high), 0.0, direction, {"k": 1})
    assert v.label == label and v.label in LABELS
    assert v.details == {"k": 1} and v.threshold == 0.0
    assert str(v).startswith(f"{label}: the effect") and f"interval is {direction} 0" in str(v)


def test_verdict_from_real_estimates_and_bad_direction():
    better = paired([1.0, 1.1, 1.2, 0.9], [0.5, 0.6, 0.55, 0.5])
    assert verdict("a beats b", better, 0.0, ">").label == "SUPPORTED"
    with pytest.raises(ValueError, match="direction='>='"):
        verdict("x", better, 0.0, ">=")


def test_weighted_bootstrap_of_a_ratio_of_sums():
    num, den = np.array([1.0, 0, 1, 1, 0, 1, 1, 1]), np.array([1.0, 1, 1, 2, 1, 1, 2, 1])
    est = weighted_bootstrap(lambda w: (w @ num) / (w @ den), len(num), n_boot=2000)
    assert est.value == pytest.approx(6 / 10) and est.low < 0.6 < est.high and est.n == 8
    same = weighted_bootstrap(lambda w: (w @ den) / (w @ den), len(den), n_boot=200)
    assert same.low == same.high == 1
    with pytest.raises(ValueError, match="at least 2"):
        weighted_bootstrap(lambda w: w[:, 0], 1)
