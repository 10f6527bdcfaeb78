"""Notebook 03's statistics: fit each functional form on low tokens-per-parameter points,
extrapolate to high ones, and compare. Runs (one size and seed) are the units: every interval is a
bootstrap that resamples seeds within each model size, refits every form on the resampled runs'
training points (warm-started at the full fit) and scores it on their held-out points, so the
comparison between forms is paired."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nblib import scaling
from nblib.stats import Estimate, Verdict, verdict


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
            rows.append({"boot": b, "form": name, "bias": r.mean(), "mae": np.abs(r).mean()})
    return pd.DataFrame(rows)


def _estimate(value: float, samples: np.ndarray, n: int) -> Estimate:
    """`value` with the 95% percentile interval of its bootstrap `samples`; n counts runs."""
    lo, hi = np.quantile(samples, [0.025, 0.975])
    return Estimate(float(value), float(lo), float(hi), 0.95, n, unit="runs")


def extrapolation_table(points: pd.DataFrame, test: np.ndarray, fits: dict[str, scaling.Fit],
                        boots: pd.DataFrame) -> dict[str, dict[str, Estimate]]:
    """Per form: held-out bias and mae, and mae minus chinchilla's (paired over resamples)."""
    held = points[test]
    n_runs = points.groupby(["N", "seed"]).ngroups
    base = boots[boots.form == "chinchilla"].set_index("boot").mae
    base_mae = np.abs(scaling.residuals(fits["chinchilla"], held.N, held.D, held.loss)).mean()
    out = {}
    for name, f in fits.items():
        r = scaling.residuals(f, held.N, held.D, held.loss)
        b = boots[boots.form == name].set_index("boot")
        out[name] = {"bias": _estimate(r.mean(), b.bias.to_numpy(), n_runs),
                     "mae": _estimate(np.abs(r).mean(), b.mae.to_numpy(), n_runs)}
        if name != "chinchilla":
            out[name]["mae_minus_chinchilla"] = _estimate(np.abs(r).mean() - base_mae,
                                                          (b.mae - base).to_numpy(), n_runs)
    return out


def decide(table: dict[str, dict[str, Estimate]], fits: dict[str, scaling.Fit],
           fit_max_tpp: float, test_min_tpp: float) -> dict[str, Verdict]:
    """The headline (Chinchilla under-predicts loss at high tokens per parameter) and whether the
    best alternative form extrapolates better."""
    out = {"chinchilla_underpredicts": verdict(
        f"fitted on budgets up to {fit_max_tpp:g} tokens/parameter, the Chinchilla form "
        f"predicts a lower loss than measured at {test_min_tpp:g}+ tokens/parameter (held-out "
        "mean log residual > 0)", table["chinchilla"]["bias"], 0.0, ">",
        details={"chinchilla_fit": fits["chinchilla"].params,
                 "held_out_mae": table["chinchilla"]["mae"]})}
    alternatives = [name for name in table if name != "chinchilla"]
    if alternatives:
        best = min(alternatives, key=lambda name: table[name]["mae"].value)
        out["alternative_extrapolates_better"] = verdict(
            f"the best alternative form ({best}) has a smaller held-out mean |log residual| "
            "than Chinchilla's",
            table[best]["mae_minus_chinchilla"], 0.0, "<",
            details={"form": best, "fit": fits[best].params,
                     "all": {name: table[name]["mae_minus_chinchilla"] for name in alternatives}})
    return out
