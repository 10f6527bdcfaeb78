"""Notebook 14's statistics: slopes of sensitivity against log tokens-per-parameter, quadratic
(U-curve) fits of post-fine-tuning loss, the invariants and the verdicts.

The unit of replication is one pretraining run (a model size and a seed): every estimate is a
statistic per run (`stats.slopes_per_unit`), then a mean with a t-interval (or a bootstrap) over
runs.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from nblib.stats import Estimate, Verdict, mean_ci_any, slope_ci, slopes_per_unit, verdict

UNIT = ["d_model", "seed"]  # one pretraining run
UNIT_NAME = "pretraining runs"  # what n counts in every estimate here


def log_tpp(table: pd.DataFrame) -> np.ndarray:
    return np.log2(table.tpp.to_numpy(float))


def _with_log_tpp(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(log2_tpp=log_tpp(table))


def noise_deltas(sens: pd.DataFrame) -> pd.DataFrame:
    """Mean loss rise over noise draws per run, budget and sigma."""
    noise = sens[sens.probe == "noise"]
    return noise.groupby([*UNIT, "params", "tpp", "sigma"], as_index=False).delta.mean()


def normalised_deltas(sens: pd.DataFrame, sigma: float, vocab_size: int) -> pd.DataFrame:
    """The noise loss rise at `sigma` over what pretraining gained, Δ / (ln V − L_base), per run
    and budget: a barely trained model has little to lose, so part of an absolute rise growing
    with the budget is mechanical; this ratio is not."""
    noise = noise_deltas(sens)
    noise = noise[noise.sigma == sigma]
    base = sens[sens.probe == "none"][[*UNIT, "tpp", "loss"]].rename(columns={"loss": "base"})
    out = noise.merge(base, on=[*UNIT, "tpp"], how="left", validate="one_to_one")
    return out.assign(delta=out.delta / (np.log(vocab_size) - out.base))


def quant_deltas(sens: pd.DataFrame) -> pd.DataFrame:
    return sens[sens.probe.str.startswith("rtn")][[*UNIT, "params", "tpp", "delta"]]


def slope_per_run(table: pd.DataFrame, y: str) -> pd.Series:
    """Least-squares slope of `y` per doubling of tokens-per-parameter, one per run."""
    return slopes_per_unit(_with_log_tpp(table), "log2_tpp", y, UNIT)


def slope(table: pd.DataFrame, y: str) -> Estimate:
    """Mean over runs of the per-run slope of `y` against log2(tpp), with a 95% t-interval."""
    return replace(slope_ci(_with_log_tpp(table), "log2_tpp", y, UNIT), unit=UNIT_NAME)


def tuned_rows(ft: pd.DataFrame) -> pd.DataFrame:
    """Per checkpoint, the fine-tuning run whose learning rate gave the lowest shifted-domain
    validation loss (the reported losses are on other windows: test and pretraining-domain)."""
    best = ft.loc[ft.groupby([*UNIT, "tpp"]).target_val.idxmin()]
    return best.assign(chosen_lr=best.ft_lr, ft_lr="tuned")


def _centred(table: pd.DataFrame, y: str) -> pd.DataFrame:
    """Per run, y minus that run's mean over budgets (sizes differ in level, not necessarily
    shape)."""
    out = table[[*UNIT, "tpp", y]].copy()
    out[y] = out[y] - out.groupby(UNIT)[y].transform("mean")
    return out


def _vertex(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(curvature c, vertex -b/2c) of the least-squares quadratic a + b x + c x^2."""
    c, b, _ = np.polyfit(x, y, 2)
    return c, (-b / (2 * c) if c != 0 else np.nan)


def u_curve(table: pd.DataFrame, y: str, n_boot: int = 2000, seed: int = 0, tail: int = 3) -> dict:
    """Is `y` against log2(tpp) U-shaped? Curvature per run (mean, t-interval); the vertex of the
    run-averaged curve; from a bootstrap over runs, the share of resampled curves that have their
    minimum inside the budget range (convex, vertex between the smallest and largest tpp); and the
    slope over the `tail` largest budgets per run (a U must actually turn up at the end: a
    saturating, still-falling curve also fits a convex quadratic with a vertex near its end)."""
    x_all = log_tpp(table)
    lo, hi = x_all.min(), x_all.max()
    curvature = slopes_per_unit(_with_log_tpp(table), "log2_tpp", y, UNIT, degree=2)
    curves = _centred(table, y).pivot_table(index=UNIT, columns="tpp", values=y)  # (runs, budgets)
    x = np.log2(curves.columns.to_numpy(float))
    rng = np.random.default_rng(seed)
    c_mean, vertex = _vertex(x, curves.mean().to_numpy())
    vertex = vertex if c_mean > 0 else np.nan  # the mean curve is concave: it has no minimum
    vertices, inside = [], 0
    for _ in range(n_boot):
        c, v = _vertex(x, curves.iloc[rng.integers(0, len(curves), len(curves))].mean().to_numpy())
        if c > 0:  # a concave resample has no minimum
            vertices.append(v)
            inside += lo < v < hi
    low, high = np.percentile(vertices, [2.5, 97.5]) if vertices else (np.nan, np.nan)
    def tpp(v):  # log2 tpp back to tpp; a near-flat fit can put the vertex astronomically far
        return float(2.0 ** np.clip(v, -1000, 1000))

    largest = sorted(table.tpp.unique())[-tail:]
    end_slope = slope(table[table.tpp.isin(largest)], y)
    return {"curvature": replace(mean_ci_any(curvature.to_numpy()), unit=UNIT_NAME),
            "end_slope": end_slope, "vertex_tpp": tpp(vertex),
            "vertex_tpp_ci": (tpp(low), tpp(high)), "share_minimum_inside": inside / n_boot,
            "range_tpp": (float(2 ** lo), float(2 ** hi))}


def u_verdict(claim: str, fit: dict, level: float = 0.95) -> Verdict:
    """SUPPORTED: curvature > 0 and the end slope > 0 (whole intervals) and at least `level` of the
    bootstrap curves have their minimum inside the range. NOT SUPPORTED: curvature < 0 or end
    slope < 0 (whole intervals: no upturn within the range), or at most 1 - `level` of the
    bootstrap curves have an interior minimum. Otherwise INCONCLUSIVE."""
    details = {k: v for k, v in fit.items() if k != "curvature"}
    base = verdict(claim, fit["curvature"], 0.0, ">", details=details)
    share, end = fit["share_minimum_inside"], fit["end_slope"]
    if base.label == "NOT SUPPORTED" or end.high < 0 or share <= 1 - level:
        label = "NOT SUPPORTED"
    elif base.label == "SUPPORTED" and end.low > 0 and share >= level:
        label = "SUPPORTED"
    else:
        label = "INCONCLUSIVE"
    return Verdict(label, claim, base.estimate, 0.0, ">", base.details)


def decide(sens: pd.DataFrame, ft: pd.DataFrame, sigma: float, fixed_lr: float,
           vocab_size: int) -> dict[str, Verdict]:
    """The notebook's verdicts, each computed from the tables."""
    noise = noise_deltas(sens)
    out = {
        "sensitivity": verdict(
            f"Gaussian sensitivity (sigma={sigma}) grows with tokens per parameter: the loss rise "
            "per doubling of TPP is > 0", slope(noise[noise.sigma == sigma], "delta"), 0.0, ">"),
        "quantization": verdict(
            "4-bit RTN quantization hurts more with more tokens per parameter: the loss rise per "
            "doubling of TPP is > 0", slope(quant_deltas(sens), "delta"), 0.0, ">"),
        "sensitivity_normalised": verdict(
            f"Gaussian sensitivity (sigma={sigma}) over what pretraining gained, Δ / (ln V − "
            "L_base), grows with tokens per parameter: its rise per doubling of TPP is > 0",
            slope(normalised_deltas(sens, sigma, vocab_size), "delta"), 0.0, ">"),
    }
    fixed = u_curve(ft[ft.ft_lr == fixed_lr], "pretrain_after")
    out["u_curve"] = u_verdict(
        f"at a fixed fine-tuning LR ({fixed_lr:g}), pretraining-domain loss after fine-tuning is "
        "U-shaped in log TPP (curvature > 0, minimum inside the range, rising over the largest "
        "budgets)", fixed)
    out["target_u_curve"] = u_verdict(
        f"at a fixed fine-tuning LR ({fixed_lr:g}), the fine-tuned model's target-domain test "
        "loss is U-shaped in log TPP (curvature > 0, minimum inside the range, rising over the "
        "largest budgets)", u_curve(ft[ft.ft_lr == fixed_lr], "target_test"))
    tuned = u_verdict("with the LR tuned per checkpoint, the same U-shape remains",
                      u_curve(tuned_rows(ft), "pretrain_after"))
    if out["u_curve"].label != "SUPPORTED":
        label = "INCONCLUSIVE"  # no U at a fixed LR: nothing for tuning to remove
    else:
        label = "SUPPORTED" if tuned.label != "SUPPORTED" else "NOT SUPPORTED"
    out["tuning_removes"] = Verdict(
        label, "tuning the fine-tuning LR per checkpoint removes the U-curve", tuned.estimate, 0.0,
        "<", {"tuned_u_curve": tuned.label, **tuned.details})
    return out


def u_table(fits: dict[str, dict]) -> pd.DataFrame:
    """One row per fitted curve: curvature and end slope with CIs, the vertex with its CI, and the
    bootstrap share of curves with an interior minimum."""
    return pd.DataFrame([{"curve": name, "curvature": f["curvature"].value,
                          "curvature_low": f["curvature"].low,
                          "curvature_high": f["curvature"].high,
                          "end_slope": f["end_slope"].value, "end_slope_low": f["end_slope"].low,
                          "end_slope_high": f["end_slope"].high,
                          "vertex_tpp": f["vertex_tpp"], "vertex_low": f["vertex_tpp_ci"][0],
                          "vertex_high": f["vertex_tpp_ci"][1],
                          "share_minimum_inside": f["share_minimum_inside"]}
                         for name, f in fits.items()]).set_index("curve")


def summary_table(ft: pd.DataFrame) -> pd.DataFrame:
    """Post-fine-tuning losses per LR (and tuned) and budget: mean over runs, by size."""
    both = pd.concat([ft.assign(ft_lr=ft.ft_lr.map(lambda v: f"{v:g}")), tuned_rows(ft)])
    cols = ["target_test", "pretrain_after", "forgetting"]
    return both.groupby(["d_model", "ft_lr", "tpp"])[cols].mean().round(4)


def per_size(sens: pd.DataFrame, ft: pd.DataFrame, sigma: float, fixed_lr: float,
             vocab_size: int) -> pd.DataFrame:
    """Sizes are not seeds: per model size, the slopes per doubling of TPP (mean over its seeds,
    95% t-interval) of the noise sensitivity, absolute and normalised, and of forgetting and the
    target-domain loss after fine-tuning at the fixed LR."""
    tables = {"sensitivity": (noise_deltas(sens).query("sigma == @sigma"), "delta"),
              "sensitivity_normalised": (normalised_deltas(sens, sigma, vocab_size), "delta"),
              "forgetting": (ft[ft.ft_lr == fixed_lr], "forgetting"),
              "target_test": (ft[ft.ft_lr == fixed_lr], "target_test")}
    rows = []
    for d_model in sorted(sens.d_model.unique()):
        for name, (table, y) in tables.items():
            e = slope(table[table.d_model == d_model], y)
            rows.append(dict(d_model=int(d_model), quantity=name, slope=e.value, low=e.low,
                             high=e.high, seeds=e.n))
    return pd.DataFrame(rows)


def statistics(sens: pd.DataFrame, ft: pd.DataFrame, sigmas: list[float], quant_bits: int,
               ft_lrs: list[float]) -> dict[str, dict]:
    """Every estimate the notebook records: the sensitivity slopes (per sigma, and RTN), the
    forgetting slope per fine-tuning LR, and the U-curve fits of the pretraining-domain loss
    (per LR and tuned) and of the shifted-domain test loss (per LR) after fine-tuning."""
    noise = noise_deltas(sens)
    slopes = {f"noise_sigma_{s:g}": slope(noise[noise.sigma == s], "delta") for s in sigmas}
    slopes[f"rtn{quant_bits}"] = slope(quant_deltas(sens), "delta")
    curves = {f"lr={lr:g}": u_curve(ft[ft.ft_lr == lr], "pretrain_after") for lr in ft_lrs}
    curves["tuned"] = u_curve(tuned_rows(ft), "pretrain_after")
    return {
        "sensitivity_slopes": slopes,
        "forgetting_slopes": {f"lr={lr:g}": slope(ft[ft.ft_lr == lr], "forgetting")
                              for lr in ft_lrs},
        "u_curves_pretrain_after": curves,
        "u_curves_target": {f"lr={lr:g}": u_curve(ft[ft.ft_lr == lr], "target_test")
                            for lr in ft_lrs},
    }


def invariants(sens: pd.DataFrame, ft: pd.DataFrame, vocab_size: int) -> dict[str, bool]:
    """What must hold at any scale: finite losses, every annealed checkpoint below the uniform
    predictor's ln V, the annealed loss falling from the smallest to the largest budget in every
    run, and fine-tuning lowering the shifted-domain loss everywhere."""
    base = sens[sens.probe == "none"].sort_values("tpp")
    by_run = base.groupby(UNIT).loss
    after = ft[["target_test", "pretrain_after"]]
    return {
        "losses_finite": bool(np.isfinite(sens.loss).all() and np.isfinite(after).all().all()),
        "beats_uniform_predictor": bool((base.loss < np.log(vocab_size)).all()),
        "annealed_loss_falls_with_budget": bool((by_run.last() < by_run.first()).all()),
        "finetuning_lowers_target_loss": bool((ft.target_test < ft.target_before).all()),
    }
