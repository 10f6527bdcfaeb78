"""nblib.stats: intervals and tests checked against hand computations with scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from nblib.stats import (
    LABELS,
    Estimate,
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


def test_lines_per_unit_recovers_each_units_line():
    import pandas as pd

    from nblib.stats import lines_per_unit

    df = pd.DataFrame([{"seed": s, "x": x, "y": 1.0 - s + (0.5 + s) * x}
                       for s in (2, 0, 1) for x in (0.0, 1.0, 3.0)])
    lines = lines_per_unit(df, "x", "y", "seed")
    assert list(lines.columns) == ["seed", "intercept", "slope"] and list(lines.seed) == [0, 1, 2]
    assert np.allclose(lines.intercept, [1.0, 0.0, -1.0])
    assert np.allclose(lines.slope, [0.5, 1.5, 2.5])
    two = lines_per_unit(df.assign(size=7), "x", "y", ["size", "seed"])
    assert list(two.columns) == ["size", "seed", "intercept", "slope"] and len(two) == 3


# --- helpers of the experiment kit ----------------------------------------------------------------


def test_mean_ci_any_tolerates_fewer_than_two_values():
    from nblib.stats import mean_ci_any

    assert mean_ci_any(X) == mean_ci(X)
    one = mean_ci_any([0.7])
    assert (one.value, one.n) == (0.7, 1) and math.isnan(one.low) and math.isnan(one.high)
    none = mean_ci_any([])
    assert none.n == 0 and math.isnan(none.value) and math.isnan(none.low)
    assert mean_ci_any(X, level=0.9) == mean_ci(X, level=0.9)


def test_paired_any_matches_paired_and_tolerates_one_pair():
    from nblib.stats import paired_any

    a, b = [0.9, 0.8, 0.85, 0.7], [0.6, 0.65, 0.7, 0.66]
    assert paired_any(a, b) == paired(a, b)
    one = paired_any([0.9], [0.6])
    assert one.value == pytest.approx(0.3) and one.n == 1 and math.isnan(one.high)
    with pytest.raises(ValueError, match="length"):
        paired_any([0.9], [0.6, 0.7, 0.8])  # never broadcast one value against many


def _grid():
    """y per (size, x, seed), two replicate rows per seed."""
    import pandas as pd

    rng = np.random.default_rng(0)
    return pd.DataFrame([{"size": size, "x": x, "seed": seed, "y": size * x + seed + rng.normal()}
                         for size in (1, 2) for x in (1.0, 2.0, 4.0) for seed in range(3)
                         for _ in range(2)])


def test_mean_ci_table_equals_mean_ci_over_unit_means():
    from nblib.stats import mean_ci_table

    df = _grid()
    table = mean_ci_table(df, ["size", "x"], "y", unit="seed")
    assert list(table.columns) == ["size", "x", "mean", "low", "high", "n"] and len(table) == 6
    for row in table.itertuples():
        part = df[(df["size"] == row.size) & (df.x == row.x)]
        est = mean_ci(part.groupby("seed").y.mean().to_numpy())  # seeds are the units
        assert (row.mean, row.low, row.high, row.n) == pytest.approx(
            (est.value, est.low, est.high, 3))
    rows = mean_ci_table(df, ["size"], "y", unit=None)  # every row a unit
    assert rows.n.tolist() == [18, 18]
    assert rows.low[0] == pytest.approx(mean_ci(df[df["size"] == 1].y).low)
    clipped = mean_ci_table(df, ["size", "x"], "y", clip=(None, 5.0))
    assert clipped.high.max() == 5.0 and (clipped["mean"] == table["mean"]).all()
    assert (clipped.low == table.low.clip(upper=5.0)).all()
    single = mean_ci_table(df[df.seed == 0], ["x"], "y", clip=(0, 1))
    assert (single.low == single["mean"]).all() and (single.n == 1).all()  # no NaN band


def test_slopes_per_unit_and_slope_ci_match_np_polyfit():
    from nblib.stats import slope_ci, slopes_per_unit

    df = _grid().groupby(["size", "x", "seed"], as_index=False).y.mean()
    df = df[df["size"] == 2]
    slopes = slopes_per_unit(df, "x", "y", "seed")
    expected = [np.polyfit(g.x, g.y, 1)[0] for _, g in df.groupby("seed")]
    assert list(slopes.index) == [0, 1, 2] and np.allclose(slopes.to_numpy(), expected)
    curv = slopes_per_unit(df, "x", "y", "seed", degree=2)
    assert np.allclose(curv, [np.polyfit(g.x, g.y, 2)[0] for _, g in df.groupby("seed")])
    est = slope_ci(df, "x", "y", "seed")
    assert est == mean_ci(expected) and est.n == 3
    both = slopes_per_unit(_grid(), "x", "y", ["size", "seed"])
    assert len(both) == 6 and both.loc[(2, 0)] == pytest.approx(
        np.polyfit(*_grid().query("size == 2 and seed == 0")[["x", "y"]].T.to_numpy(), 1)[0])
    assert math.isnan(slope_ci(df[df.seed == 0], "x", "y").low)  # one unit: no interval


@pytest.mark.parametrize("low, high, margin, equivalent", [
    (-0.05, 0.05, 0.1, True), (-0.1, 0.05, 0.1, False), (-0.05, 0.2, 0.1, False),
    (0.01, 0.09, 0.1, True), (float("nan"), float("nan"), 0.1, False)])
def test_tost_needs_the_whole_interval_inside_the_margin(low, high, margin, equivalent):
    from nblib.stats import tost

    from_interval = Estimate(0.0, low, high)
    assert tost(from_interval, margin) is equivalent


def test_tost_rejects_a_nonpositive_margin():
    from nblib.stats import tost

    with pytest.raises(ValueError, match="margin"):
        tost(Estimate(0.0, -0.1, 0.1), 0.0)


@pytest.mark.parametrize("low, high, label, sign", [
    (0.1, 0.3, LABELS[0], "above 0"), (-0.3, -0.1, LABELS[0], "below 0"),
    (-0.02, 0.03, LABELS[1], "not determined"), (-0.02, 0.3, LABELS[2], "not determined"),
    (float("nan"), float("nan"), LABELS[2], "not determined")])
def test_differs_or_equivalent(low, high, label, sign):
    from nblib.stats import differs_or_equivalent

    v = differs_or_equivalent("the gap differs from 0", Estimate(0.0, low, high, n=3), 0.05,
                              {"extra": 1})
    assert v.label == label and v.details == {"equivalence_margin": 0.05, "sign": sign, "extra": 1}
    assert v.threshold == 0.0 and v.claim == "the gap differs from 0"
    with pytest.raises(ValueError, match="margin"):
        differs_or_equivalent("x", Estimate(0.0, 0.1, 0.3), -1.0)


@pytest.mark.parametrize("low, high, label", [
    (0.01, 0.3, LABELS[0]),  # above 0
    (0.01, 0.05, LABELS[0]),  # above 0, though below the margin: the claim is "above 0"
    (-0.3, -0.1, LABELS[1]),  # the wrong sign
    (-0.08, 0.09, LABELS[1]),  # too small to matter: below the margin
    (-0.08, 0.1, LABELS[2]), (-0.02, 0.3, LABELS[2]),  # the margin is exclusive
    (float("nan"), float("nan"), LABELS[2])])
def test_above_zero_or_not(low, high, label):
    from nblib.stats import above_zero_or_not

    v = above_zero_or_not("the gap is positive", Estimate(0.0, low, high, n=3), 0.1, {"x": 1})
    assert v.label == label and v.details == {"margin": 0.1, "x": 1}
    assert (v.threshold, v.direction) == (0.0, ">")
    with pytest.raises(ValueError, match="margin"):
        above_zero_or_not("x", Estimate(0.0, 0.1, 0.3), 0.0)


def test_all_of_holds_only_if_every_part_does():
    from nblib.stats import all_of

    def part(low, high):
        return verdict("x < 0", Estimate((low + high) / 2, low, high, n=3), 0.0, "<")

    yes, no, maybe = part(-2, -1), part(1, 2), part(-1, 1)
    assert (yes.label, no.label, maybe.label) == LABELS
    cases = [({"a": yes, "b": yes}, LABELS[0]), ({"a": yes, "b": no}, LABELS[1]),
             ({"a": yes, "b": maybe}, LABELS[2]), ({"a": maybe, "b": no}, LABELS[1]),
             ({"a": yes}, LABELS[0])]
    for parts, label in cases:
        v = all_of("both hold", parts, headline="a")
        assert v.label == label, parts
        assert v.estimate == parts["a"].estimate and v.direction == "<" and v.threshold == 0.0
        assert v.details["parts"] == parts and v.details["rule"] == "all parts SUPPORTED"
    with pytest.raises(KeyError, match="c"):
        all_of("both hold", {"a": yes}, headline="c")
    with pytest.raises(KeyError):
        all_of("nothing", {}, headline="a")


def test_estimate_unit_defaults_to_seeds_and_prints():
    assert Estimate(1.0, 0.5, 1.5, n=3).unit == "seeds"
    assert "n=3 seeds" in str(Estimate(1.0, 0.5, 1.5, n=3))
    assert "n=40 items" in str(Estimate(1.0, 0.5, 1.5, n=40, unit="items"))


def test_holm_adjusts_step_down_and_keeps_order():
    from nblib.stats import holm

    adj = holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": float("nan")})
    assert adj["a"] == pytest.approx(0.03) and adj["c"] == pytest.approx(0.06)
    assert adj["b"] == pytest.approx(0.06)  # 0.04 x 1, raised to keep the order
    assert np.isnan(adj["d"]) and holm({"x": 0.2}) == {"x": pytest.approx(0.2)}


def test_bootstrap_p_is_two_sided_and_never_zero():
    from nblib.stats import bootstrap_p

    rng = np.random.default_rng(0)
    assert bootstrap_p(rng.normal(5, 1, 999)) == pytest.approx(2 / 1000)
    assert bootstrap_p(rng.normal(0, 1, 999)) > 0.5
    assert bootstrap_p([np.nan, 1.0, 2.0]) == pytest.approx(2 / 3)
