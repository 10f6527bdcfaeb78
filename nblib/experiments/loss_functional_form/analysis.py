"""Notebook 03's statistics: fit each functional form on low tokens-per-parameter points,
extrapolate to high ones, and compare. Runs (one size and seed) are the units: every interval is a
bootstrap that resamples seeds within each model size, refits every form on the resampled runs'
training points (warm-started at the full fit) and scores it on their held-out points, so the
comparison between forms is paired."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nblib import scaling
from nblib.stats import (
    LABELS,
    Estimate,
    Verdict,
    bootstrap_p,
    holm,
    verdict,
)


def masks(points: pd.DataFrame, fit_max_tpp: float, test_min_tpp: float
          ) -> tuple[np.ndarray, np.ndarray]:
    """(fit on, test on): budgets up to fit_max_tpp, and from test_min_tpp."""
    return (points.tpp <= fit_max_tpp).to_numpy(), (points.tpp >= test_min_tpp).to_numpy()


def fit_forms(points: pd.DataFrame, train: np.ndarray, forms: list[str],
              starts: int | None = None) -> dict[str, scaling.Fit]:
    """Each form fitted (Huber on log loss, L-BFGS from a grid of starts) on the training points."""
    p = points[train]
    return {name: scaling.fit(name, p.N, p.D, p.loss, starts=starts) for name in forms}


def in_sample(points: pd.DataFrame, test: np.ndarray, forms: list[str],
              starts: int | None = 50) -> dict[str, dict]:
    """Each form fitted on every point: can the form describe the whole range at all? Returns its
    parameters and its mean |log residual| on the high-ratio points it was now fitted on."""
    out = {}
    for name in forms:
        f = scaling.fit(name, points.N, points.D, points.loss, starts=starts)
        held = points[test]
        residuals = scaling.residuals(f, held.N, held.D, held.loss)
        out[name] = {"params": f.params, "high_ratio_mae": float(np.abs(residuals).mean())}
    return out


def with_residuals(points: pd.DataFrame, fits: dict[str, scaling.Fit]) -> pd.DataFrame:
    """Long table: every point's log residual (log actual − log predicted) under every form."""
    return pd.concat([points.assign(form=name, residual=scaling.residuals(
        f, points.N, points.D, points.loss)) for name, f in fits.items()], ignore_index=True)


def _resampled_runs(points: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Row indices of a resample of runs: seeds drawn with replacement within each model size."""
    rows = []
    for _, group in points.groupby("N"):
        runs = group.seed.unique()
        for seed in rng.choice(runs, size=len(runs)):
            rows.append(group.index[group.seed == seed].to_numpy())
    return np.concatenate(rows)


def bootstrap(points: pd.DataFrame, train: np.ndarray, test: np.ndarray,
              fits: dict[str, scaling.Fit], n_boot: int, seed: int = 0) -> pd.DataFrame:
    """Per resample and form: held-out mean log residual (bias) and mean |log residual| (mae)."""
    points = points.reset_index(drop=True)
    rng, rows = np.random.default_rng(seed), []
    for b in range(n_boot):
        idx = _resampled_runs(points, rng)
        tr, te = points.loc[idx[train[idx]]], points.loc[idx[test[idx]]]
        for name, full in fits.items():
            refit = scaling.fit(name, tr.N, tr.D, tr.loss, starts=full.theta[None],
                                N_ref=full.params.get("N_ref"))
            r = scaling.residuals(refit, te.N, te.D, te.loss)
            empty = len(r) == 0  # a resample can miss every held-out model: no score
            rows.append({"boot": b, "form": name, "bias": np.nan if empty else r.mean(),
                         "mae": np.nan if empty else np.abs(r).mean()})
    return pd.DataFrame(rows)


def _estimate(value: float, samples: np.ndarray, n: int, unit: str = "runs",
              p_value: float | None = None) -> Estimate:
    """`value` with the 95% percentile interval of its finite bootstrap `samples` (a resample
    that missed every held-out point has none; NaN without any); n counts `unit`."""
    samples = np.asarray(samples, float)
    samples = samples[np.isfinite(samples)]
    lo, hi = np.quantile(samples, [0.025, 0.975]) if len(samples) else (np.nan, np.nan)
    return Estimate(float(value), float(lo), float(hi), 0.95, n, p_value, unit=unit)


def extrapolation_table(points: pd.DataFrame, test: np.ndarray, fits: dict[str, scaling.Fit],
                        boots: pd.DataFrame, unit: str = "runs"
                        ) -> dict[str, dict[str, Estimate]]:
    """Per form: held-out bias and mae, and mae minus chinchilla's (paired over resamples)."""
    held = points[test]
    n_runs = points.groupby(["N", "seed"]).ngroups
    base = boots[boots.form == "chinchilla"].set_index("boot").mae
    base_mae = np.abs(scaling.residuals(fits["chinchilla"], held.N, held.D, held.loss)).mean()
    out = {}
    for name, f in fits.items():
        r = scaling.residuals(f, held.N, held.D, held.loss)
        b = boots[boots.form == name].set_index("boot")
        out[name] = {"bias": _estimate(r.mean(), b.bias.to_numpy(), n_runs, unit),
                     "mae": _estimate(np.abs(r).mean(), b.mae.to_numpy(), n_runs, unit)}
        if name != "chinchilla":
            d = (b.mae - base).to_numpy()
            out[name]["mae_minus_chinchilla"] = _estimate(np.abs(r).mean() - base_mae, d, n_runs,
                                                          unit, bootstrap_p(d))
    return out


def holm_verdicts(tests: dict[str, tuple[str, float, np.ndarray, int]], alpha: float = 0.05,
                  unit: str = "models") -> dict[str, Verdict]:
    """A family of claims "this difference is below 0", each (claim, value, bootstrap samples,
    n), decided together: two-sided bootstrap p-values, Holm-adjusted over the family. SUPPORTED
    if the adjusted p < alpha and the value is below 0, NOT SUPPORTED if adjusted p < alpha and it
    is above, INCONCLUSIVE otherwise. The Estimates carry the adjusted p and 95% intervals."""
    raw = {name: bootstrap_p(s) for name, (_, _, s, _) in tests.items()}
    adjusted = holm(raw)
    out = {}
    for name, (claim, value, samples, n) in tests.items():
        p = adjusted[name]
        label = (LABELS[2] if not p < alpha else LABELS[0] if value < 0 else LABELS[1])
        v = verdict(claim, _estimate(value, samples, n, unit, p), 0.0, "<",
                    {"p_raw": raw[name], "p_holm": p, "alpha": alpha, "family": list(tests),
                     "rule": "Holm-adjusted two-sided bootstrap p < alpha, sign of the estimate"})
        out[name] = Verdict(label, v.claim, v.estimate, 0.0, "<", v.details)
    return out


def _trend(points: pd.DataFrame, fit: scaling.Fit, from_tpp: float) -> float:
    """Mean over model sizes of the slope of the log residual on log tpp over the budgets from
    `from_tpp` up (sizes with at least 3 of them)."""
    r = pd.Series(scaling.residuals(fit, points.N, points.D, points.loss), index=points.index)
    high = points[points.tpp >= from_tpp]
    slopes = [np.polyfit(np.log(g.tpp), r[g.index], 1)[0]
              for _, g in high.groupby("N") if g.tpp.nunique() >= 3]
    return float(np.mean(slopes)) if slopes else float("nan")


def residual_trend(points: pd.DataFrame, from_tpp: float, n_boot: int, starts: int = 50,
                   seed: int = 0) -> tuple[Estimate, np.ndarray]:
    """Is it the form or the extrapolation? Chinchilla fitted on *every* point; the slope of its
    log residual on log tokens/parameter within each size over the budgets from `from_tpp` up
    (the high end), averaged over sizes. A form that can follow the data leaves no trend there;
    one that cannot bend with them leaves a rising residual even in sample. Bootstrap over runs
    within model sizes (refits warm-started): (Estimate, the bootstrap samples)."""
    points = points.reset_index(drop=True)
    full = scaling.fit("chinchilla", points.N, points.D, points.loss, starts=starts)
    value = _trend(points, full, from_tpp)
    rng, samples = np.random.default_rng(seed), []
    for _ in range(n_boot):
        p = points.loc[_resampled_runs(points, rng)].reset_index(drop=True)
        refit = scaling.fit("chinchilla", p.N, p.D, p.loss, starts=full.theta[None])
        samples.append(_trend(p, refit, from_tpp))
    samples = np.asarray(samples)
    n = points.groupby(["N", "seed"]).ngroups
    return _estimate(value, samples, n), samples  # _estimate drops non-finite samples


def decide(table: dict[str, dict[str, Estimate]], fits: dict[str, scaling.Fit],
           boots: pd.DataFrame, fit_max_tpp: float, test_min_tpp: float) -> dict[str, Verdict]:
    """On the notebook's own grid: Chinchilla under-predicts loss at high tokens per parameter,
    and each alternative form against it (Holm over the alternatives)."""
    out = {"chinchilla_underpredicts": verdict(
        f"fitted on budgets up to {fit_max_tpp:g} tokens/parameter, the Chinchilla form "
        f"predicts a lower loss than measured at {test_min_tpp:g}+ tokens/parameter (held-out "
        "mean log residual > 0)", table["chinchilla"]["bias"], 0.0, ">",
        details={"chinchilla_fit": fits["chinchilla"].params,
                 "held_out_mae": table["chinchilla"]["mae"]})}
    out.update(alternatives_verdicts(table, boots))
    return out


def alternatives_verdicts(table: dict[str, dict[str, Estimate]], boots: pd.DataFrame,
                          prefix: str = "") -> dict[str, Verdict]:
    """Every alternative form against Chinchilla (held-out mean |log residual| lower), named in
    advance and Holm-corrected over the alternatives (not the better one picked afterwards)."""
    base = boots[boots.form == "chinchilla"].set_index("boot").mae
    tests = {}
    for name in [f for f in table if f != "chinchilla"]:
        d = (boots[boots.form == name].set_index("boot").mae - base).to_numpy()
        e = table[name]["mae_minus_chinchilla"]
        tests[f"{prefix}{name}_extrapolates_better"] = (
            f"the {name} form has a smaller held-out mean |log residual| than Chinchilla's "
            f"(Holm over {len(table) - 1} alternative forms)", e.value, d, e.n)
    return holm_verdicts(tests, unit=next(iter(table.values()))["bias"].unit)


def trend_verdict(estimate: Estimate, from_tpp: float, margin: float, where: str) -> Verdict:
    """The in-sample question's verdict on a `residual_trend` (or a mean of them): SUPPORTED if
    the slope's interval lies above `margin`, NOT SUPPORTED if below it, INCONCLUSIVE otherwise.
    The margin is the smallest trend that matters: on data that follow the law exactly the fit's
    own noise leaves a small but nonzero one (~0.001 per e-fold in the tests' grid)."""
    return verdict(
        f"{where}: Chinchilla fitted on every budget leaves a log residual that rises with log "
        f"tokens/parameter from {from_tpp:g} up, within model sizes, by more than {margin:g} per "
        "e-fold (the form itself misses the high end)", estimate, margin, ">")
