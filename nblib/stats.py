"""Statistics over seeds: confidence intervals, paired comparisons, bootstrap, fits, verdicts.

Everything returns plain numbers (and the interval) so notebooks can print and `record` them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

LABELS = ("SUPPORTED", "NOT SUPPORTED", "INCONCLUSIVE")


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval."""

    value: float  # the point estimate
    low: float  # lower end of the interval
    high: float  # upper end of the interval
    level: float = 0.95  # coverage of the interval
    n: int = 0  # number of independent units (seeds) behind it
    p_value: float | None = None  # of the test that fits the design, when there is one
    unit: str = "seeds"  # the unit of replication n counts (seeds, items, pretraining runs, ...)

    def __str__(self) -> str:
        p = "" if self.p_value is None else f", p={self.p_value:.3g}"
        return (f"{self.value:.4g} [{self.low:.4g}, {self.high:.4g}] "
                f"({self.level:.0%} CI, n={self.n} {self.unit}{p})")


def _clean(x: Sequence[float]) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or len(x) < 2:
        raise ValueError(f"need a 1-D sample of at least 2 values, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"sample contains non-finite values: {x}")
    return x


def mean_ci(x: Sequence[float], level: float = 0.95) -> Estimate:
    """Mean with a Student-t interval (seeds as independent units)."""
    x = _clean(x)
    sem = x.std(ddof=1) / np.sqrt(len(x))
    half = sps.t.ppf(0.5 + level / 2, len(x) - 1) * sem
    return Estimate(float(x.mean()), float(x.mean() - half), float(x.mean() + half), level, len(x))


def mean_ci_any(x: Sequence[float], level: float = 0.95) -> Estimate:
    """`mean_ci`, tolerating fewer than 2 values (a smoke run with one seed): the mean (NaN for
    none) with a NaN interval instead of an error."""
    x = np.asarray(x, dtype=float)
    if len(x) < 2:
        value = float(x.mean()) if len(x) else float("nan")
        return Estimate(value, float("nan"), float("nan"), level, len(x))
    return mean_ci(x, level)


def paired_any(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Estimate:
    """`paired`, tolerating fewer than 2 pairs (the mean difference with a NaN interval)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    if len(a) < 2:
        return mean_ci_any(a - b, level)
    return paired(a, b, level)


def mean_ci_table(df, by: Sequence[str], y: str, unit: str | None = "seed", level: float = 0.95,
                  clip: tuple[float | None, float | None] = (None, None)):
    """Per group `by`: mean of `y` over units with its Student-t interval (a unit's rows are
    averaged first), clipped to the metric's range. Columns: *by, mean, low, high, n."""
    import pandas as pd

    by = list(by)
    per_unit = df.groupby([*by, unit], sort=False)[y].mean().reset_index() if unit else df
    rows = []
    for key, part in per_unit.groupby(by, sort=False):
        est = mean_ci_any(part[y].to_numpy(float), level)
        low, high = np.clip([est.low, est.high], clip[0], clip[1]) if clip != (None, None) else (
            est.low, est.high)
        if not np.isfinite(est.low):
            low = high = est.value
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                     "mean": est.value, "low": float(low), "high": float(high), "n": est.n})
    return pd.DataFrame(rows, columns=[*by, "mean", "low", "high", "n"])


def slopes_per_unit(df, x: str, y: str, unit: Sequence[str] | str = "seed", degree: int = 1):
    """The highest-order least-squares polynomial coefficient of `y` on `x`, one per unit
    (`degree` 1: the slope; 2: the curvature), as a pandas Series indexed by unit."""
    unit = [unit] if isinstance(unit, str) else list(unit)
    return df.groupby(unit).apply(
        lambda g: np.polyfit(g[x].to_numpy(float), g[y].to_numpy(float), degree)[0],
        include_groups=False)


def slope_ci(df, x: str, y: str, unit: Sequence[str] | str = "seed",
             level: float = 0.95) -> Estimate:
    """Mean over units of the per-unit slope of `y` on `x`, with its t-interval (each unit — a
    seed, a pretraining run — gives one slope, so the interval is over units, not points)."""
    return mean_ci_any(slopes_per_unit(df, x, y, unit).to_numpy(), level)


def lines_per_unit(df, x: str, y: str, unit: Sequence[str] | str = "seed"):
    """Per unit, the least-squares line `y = intercept + slope * x` (np.polyfit): a DataFrame with
    the unit's key(s), intercept and slope, one row per unit in sorted order (e.g. to find
    where each seed's line crosses a threshold, -intercept / slope for 0)."""
    import pandas as pd

    unit = [unit] if isinstance(unit, str) else list(unit)
    rows = []
    for key, g in df.groupby(unit):
        slope, intercept = np.polyfit(g[x].to_numpy(float), g[y].to_numpy(float), 1)
        keys = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(unit, keys, strict=True)), "intercept": float(intercept),
                     "slope": float(slope)})
    return pd.DataFrame(rows, columns=[*unit, "intercept", "slope"])


def tost(estimate: Estimate, margin: float) -> bool:
    """Equivalence (two one-sided tests at the interval's level, read off a (1 − 2α) interval):
    True when the whole interval lies inside (−margin, +margin). Pass the 90% interval for
    the conventional α = 0.05 TOST."""
    if margin <= 0:
        raise ValueError(f"equivalence margin must be > 0, got {margin}")
    return bool(-margin < estimate.low and estimate.high < margin)


def paired(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Estimate:
    """Mean of a - b over matched seeds, t interval, and the paired t-test's two-sided p-value."""
    a, b = _clean(a), _clean(b)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    diff = a - b
    est = mean_ci(diff, level)
    if diff.std() > 0:
        p = float(sps.ttest_1samp(diff, 0.0).pvalue)
    else:
        p = 0.0 if diff.mean() else 1.0
    return Estimate(est.value, est.low, est.high, level, len(diff), p)




def weighted_bootstrap(statistic: Callable[[np.ndarray], np.ndarray], n_units: int,
                       level: float = 0.95, n_boot: int = 4000, seed: int = 0) -> Estimate:
    """Percentile bootstrap over `n_units` independent units (e.g. eval items, each with several
    rows) for statistics written as functions of per-unit weights: `statistic(w)` takes a
    (B, n_units) matrix of resampling counts and returns (B,) values; w = ones gives the estimate.
    Ratios of sums, and paired differences of them, are then exact and vectorised."""
    if n_units < 2:
        raise ValueError(f"need at least 2 units to bootstrap, got {n_units}")
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n_units, np.full(n_units, 1 / n_units), size=n_boot).astype(float)
    boots = np.asarray(statistic(weights), float)
    boots = boots[np.isfinite(boots)]  # a resample with an empty denominator has no value
    value = float(np.asarray(statistic(np.ones((1, n_units))), float)[0])
    if len(boots) < n_boot / 2 or not np.isfinite(value):
        nan = float("nan")
        return Estimate(value, nan, nan, level, n_units)
    lo, hi = np.quantile(boots, [0.5 - level / 2, 0.5 + level / 2])
    return Estimate(value, float(lo), float(hi), level, n_units)






@dataclass(frozen=True)
class Verdict:
    """The computed answer to a notebook's hypothesis."""

    label: str  # SUPPORTED, NOT SUPPORTED or INCONCLUSIVE
    claim: str  # the hypothesis, as a sentence about the estimated quantity
    estimate: Estimate  # the quantity the decision is made on
    threshold: float  # the boundary the claim is about
    direction: str  # "<" (claim: quantity below threshold) or ">"
    details: dict = field(default_factory=dict)  # further numbers behind the decision

    def __str__(self) -> str:
        return (f"{self.label}: {self.claim}\n  estimate {self.estimate}; "
                f"claim holds if the whole interval is {self.direction} {self.threshold:.4g}")


def differs_or_equivalent(claim: str, estimate: Estimate, margin: float,
                          details: dict | None = None) -> Verdict:
    """A two-sided claim "the quantity differs from 0": SUPPORTED if the interval excludes 0, NOT
    SUPPORTED if it lies within ±`margin` (equivalent to 0, the margin stated in advance),
    INCONCLUSIVE otherwise."""
    if margin <= 0:
        raise ValueError(f"equivalence margin must be > 0, got {margin}")
    if estimate.low > 0 or estimate.high < 0:
        label = LABELS[0]
    elif tost(estimate, margin):
        label = LABELS[1]
    else:
        label = LABELS[2]
    sign = "above 0" if estimate.low > 0 else "below 0" if estimate.high < 0 else "not determined"
    return Verdict(label, claim, estimate, 0.0, "≠",
                   {"equivalence_margin": margin, "sign": sign, **(details or {})})


def above_zero_or_not(claim: str, estimate: Estimate, margin: float,
                      details: dict | None = None) -> Verdict:
    """A one-sided claim "the quantity is above 0": SUPPORTED if the interval lies above 0, NOT
    SUPPORTED if it lies below +`margin` (negative, or too small to matter: the smallest effect
    worth the name, stated in advance), INCONCLUSIVE otherwise. Both failing labels need an
    interval narrower than `margin` when the truth is 0: size the experiment so."""
    if margin <= 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    label = (LABELS[0] if estimate.low > 0 else LABELS[1] if estimate.high < margin
             else LABELS[2])
    return Verdict(label, claim, estimate, 0.0, ">", {"margin": margin, **(details or {})})


def all_of(claim: str, parts: dict[str, Verdict], headline: str,
           details: dict | None = None) -> Verdict:
    """A compound claim that holds only if every part does: SUPPORTED if all parts are, NOT
    SUPPORTED if any part is, else INCONCLUSIVE; reported on the estimate of part `headline`."""
    if headline not in parts:
        raise KeyError(f"headline part {headline!r} is not one of the parts {list(parts)}")
    labels = {name: v.label for name, v in parts.items()}
    label = (LABELS[1] if LABELS[1] in labels.values()
             else LABELS[0] if all(lab == LABELS[0] for lab in labels.values()) else LABELS[2])
    head = parts[headline]
    return Verdict(label, claim, head.estimate, head.threshold, head.direction,
                   {"parts": parts, "rule": "all parts SUPPORTED", **(details or {})})


def verdict(claim: str, estimate: Estimate, threshold: float, direction: str = "<",
            details: dict | None = None) -> Verdict:
    """SUPPORTED if the interval lies wholly on the claimed side of `threshold`, NOT SUPPORTED if
    wholly on the other side, INCONCLUSIVE if it straddles it."""
    if direction not in ("<", ">"):
        raise ValueError(f"direction={direction!r}: must be '<' or '>'")
    below, above = estimate.high < threshold, estimate.low > threshold
    holds, fails = (below, above) if direction == "<" else (above, below)
    label = LABELS[0] if holds else LABELS[1] if fails else LABELS[2]
    return Verdict(label, claim, estimate, threshold, direction, dict(details or {}))


def bootstrap_p(samples: Sequence[float], null: float = 0.0) -> float:
    """Two-sided bootstrap p-value of "the statistic differs from `null`": twice the smaller share
    of resampled statistics on either side of it, (k + 1) / (B + 1) so that it is never 0.
    Non-finite samples (a resample with nothing to score) are left out."""
    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    if len(s) == 0:
        return float("nan")
    below, above = (s <= null).sum(), (s >= null).sum()
    return float(min(1.0, 2 * (min(below, above) + 1) / (len(s) + 1)))


def holm(p_values: dict[str, float]) -> dict[str, float]:
    """Holm's step-down adjustment of a family of p-values (family-wise error rate): the k-th
    smallest of m is multiplied by m − k + 1, then made monotone; NaN stays NaN."""
    finite = sorted((p, name) for name, p in p_values.items() if np.isfinite(p))
    m, running, out = len(finite), 0.0, {name: float("nan") for name in p_values}
    for k, (p, name) in enumerate(finite):
        running = max(running, min(1.0, (m - k) * p))
        out[name] = running
    return out
