"""Notebook 06's forecasts, statistics and pre-registered verdicts.

The target: log of the step at which the target pass@1 (greedy exact match, or exact pass@1 =
mean p) first reaches `threshold`, interpolated linearly in log step between checkpoints. Every
forecast sees only the fit window: the checkpoints (step ≥ 1) up to the last one at which the
target pass@1 is still at or below `fit_below` (a rule a forecaster can apply as training runs).
Forecasts of log(step), each capped to [0, log(horizon · steps)]:

- naive: a line in logit(pass@1) against log(step) through the window, solved for the threshold;
- pass@k (an emergence law in k, after Snell et al.'s in fine-tuning data): for each k of
  `forecast_ks` the step at which exact pass@k crosses the threshold (seen in the window, else
  from the same logit line through its window values); a line of log(step) against log(k)
  through them, extrapolated to k = 1;
- validation loss: a power law in the per-token loss through the window, solved for the loss
  −log(threshold) / (d + 2) at which a homogeneous problem set has pass@1 = threshold;
- trivial: one doubling after the window ends.

Errors are |forecast − actual| in log(step); seeds are the unit, paired by seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy.special import logit

from nblib.stats import (
    Verdict,
    above_zero_or_not,
    mean_ci_any,
    paired_any,
)

HEADLINE = "passk_forecast_beats_naive"
METHODS = ("naive", "passk", "loss", "trivial")
METHOD_NAMES = {"naive": "naive (pass@1 itself)", "passk": "pass@k emergence law",
                "loss": "validation loss", "trivial": "one doubling later"}


def crossing(log_steps: np.ndarray, values: np.ndarray, level: float) -> float:
    """The log step at which `values` first reaches `level`, linear in log step between the
    bracketing checkpoints; NaN when it never does (or at the first checkpoint already)."""
    above = np.flatnonzero(np.asarray(values) >= level)
    if len(above) == 0 or above[0] == 0:
        return float("nan") if len(above) == 0 else float(log_steps[0])
    i = above[0]
    x0, x1, y0, y1 = log_steps[i - 1], log_steps[i], values[i - 1], values[i]
    return float(x0 + (level - y0) / (y1 - y0) * (x1 - x0))


def _logit(y: np.ndarray, n: int) -> np.ndarray:
    return logit((np.asarray(y) * n + 0.5) / (n + 1))  # smoothed: 0 and 1 stay finite


def _solve_line(x: np.ndarray, y: np.ndarray, level: float, cap: float) -> float:
    """x where the least-squares line of y on x reaches `level`, in [0, cap]; cap if it never
    does going forward (slope ≤ 0)."""
    slope, intercept = np.polyfit(x, y, 1)
    if slope <= 0:
        return cap
    return float(np.clip((level - intercept) / slope, 0.0, cap))


def fit_window(target: np.ndarray, fit_below: float) -> int:
    """How many leading checkpoints (step ≥ 1) the forecasts see: those before the target
    pass@1 first exceeds `fit_below`."""
    over = np.flatnonzero(np.asarray(target) > fit_below)
    return int(over[0]) if len(over) else len(target)


def forecast_one(cfg, steps, curves: pd.DataFrame, passk: pd.DataFrame, target: str) -> dict:
    """Every forecast for one (width, seed): curves (one row per checkpoint, step ≥ 1, sorted),
    passk (its exact pass@k rows)."""
    x = np.log(np.asarray(steps, float))  # (C,) log steps ≥ 1
    y = curves[target].to_numpy()  # (C,)
    cap = float(np.log(cfg.horizon * cfg.steps))
    n = cfg.test_problems
    w = fit_window(y, cfg.fit_below)
    out = {"actual": crossing(x, y, cfg.threshold), "window": w,
           "window_end": float(steps[w - 1]) if w else float("nan")}
    if w < cfg.min_fit_points:
        return {**out, **{m: float("nan") for m in METHODS}, "law_slope": float("nan"),
                "law_points": []}
    level = float(logit(cfg.threshold))
    out["naive"] = _solve_line(x[:w], _logit(y[:w], n), level, cap)
    points = []
    for k in cfg.forecast_ks:
        pk = passk[passk.k == k].sort_values("step").exact.to_numpy()[:w]  # (w,)
        seen = crossing(x[:w], pk, cfg.threshold)
        t_k = seen if np.isfinite(seen) else _solve_line(x[:w], _logit(pk, n), level, cap)
        points.append((float(np.log(k)), float(t_k), bool(np.isfinite(seen))))
    lk, lt = np.array([pt[:2] for pt in points]).T
    slope, intercept = np.polyfit(lk, lt, 1)
    out["passk"] = float(np.clip(intercept, 0.0, cap))
    out["law_slope"], out["law_points"] = float(slope), points
    loss = curves.val_loss.to_numpy()[:w]
    loss_level = -np.log(cfg.threshold) / (cfg.digits + 2)
    out["loss"] = _solve_line(x[:w], -np.log(loss), -np.log(loss_level), cap)
    out["trivial"] = float(min(x[w - 1] + np.log(2.0), cap))
    return out


def forecasts(results, cfg, target: str | None = None) -> pd.DataFrame:
    """One row per (width, seed): the actual log step of the crossing, the fit window, every
    method's forecast and absolute error (log step), and the emergence law's slope."""
    target = target or cfg.target
    rows = []
    curves = results.curves[results.curves.step > 0]
    passk = results.passk[results.passk.step > 0]
    for (width, seed), c in curves.groupby(["width", "seed"], sort=True):
        c = c.sort_values("step")
        p = passk[(passk.width == width) & (passk.seed == seed)]
        f = forecast_one(cfg, c.step.to_numpy(), c, p, target)
        row = {"width": width, "seed": seed, "target": target, **f}
        cap = np.log(cfg.horizon * cfg.steps)
        for m in METHODS:
            row[f"error_{m}"] = abs(f[m] - f["actual"])
            row[f"capped_{m}"] = bool(f[m] >= cap - 1e-9)  # "not within the horizon"
        rows.append(row)
    return pd.DataFrame(rows)


def valid(table: pd.DataFrame, width: int) -> pd.DataFrame:
    """The seeds of `width` with a crossing and a fit window (the paired comparison's units)."""
    t = table[table.width == width]
    return t[np.isfinite(t.actual) & np.isfinite(t.error_passk)]


def auroc(scores, labels) -> float:
    """Area under the ROC curve of `scores` for boolean `labels` (Mann-Whitney, ties half);
    NaN when one class is empty."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


def per_problem(results, cfg, table: pd.DataFrame) -> pd.DataFrame:
    """Per (width, seed): AUROC of each problem's log p at the end of the fit window for being
    solved (greedy exact match) at the first checkpoint at or past the crossing (or the last)."""
    rows = []
    for r in table.itertuples():
        lp, gr = results.log_p[(r.width, r.seed)], results.greedy[(r.width, r.seed)]  # (C, P)
        steps = np.asarray(results.steps)
        if not r.window:
            continue
        early = r.window  # row of the window's last checkpoint (row 0 is step 0)
        later = (int(np.searchsorted(np.log(steps[1:]), r.actual)) + 1 if np.isfinite(r.actual)
                 else len(steps) - 1)
        later = min(max(later, early + 1), len(steps) - 1)
        rows.append({"width": r.width, "seed": r.seed, "early_step": int(steps[early]),
                     "later_step": int(steps[later]), "solved_share": float(gr[later].mean()),
                     "auroc": auroc(lp[early], gr[later])})
    return pd.DataFrame(rows, columns=["width", "seed", "early_step", "later_step",
                                       "solved_share", "auroc"])


def _beats(table: pd.DataFrame, other: str, margin: float, width: int) -> Verdict:
    t = valid(table, width)
    est = paired_any(t[f"error_{other}"].to_numpy(), t.error_passk.to_numpy())
    capped = {f"capped_{m}": int(t[f"capped_{m}"].sum()) for m in ("passk", other)}
    return above_zero_or_not(
        f"at d_model={width}, the pass@k forecast's error of the crossing step is smaller than "
        f"the {METHOD_NAMES[other]} forecast's (error_{other} − error_passk > 0, log step, "
        "paired over seeds)", est, margin,
        {"seeds_used": int(len(t)), "seeds_total": int((table.width == width).sum()), **capped,
         "mean_error_passk": float(t.error_passk.mean()) if len(t) else float("nan"),
         f"mean_error_{other}": float(t[f"error_{other}"].mean()) if len(t) else float("nan")})


def decide(results, cfg) -> dict[str, Verdict]:
    """The pre-registered verdicts at the headline width (`widths[0]`): the pass@k forecast
    against the naive one (headline), against the validation loss's and the trivial one; and
    whether a problem's early p predicts that it is solved later (AUROC > 0.5)."""
    table, width = forecasts(results, cfg), cfg.widths[0]
    verdicts = {HEADLINE: _beats(table, "naive", cfg.margin, width),
                "passk_forecast_beats_validation_loss": _beats(table, "loss", cfg.margin, width),
                "passk_forecast_beats_trivial": _beats(table, "trivial", cfg.margin, width)}
    pp = per_problem(results, cfg, table)
    a = pp[(pp.width == width) & np.isfinite(pp.auroc)].auroc.to_numpy()
    verdicts["early_p_predicts_later_solved"] = above_zero_or_not(
        f"at d_model={width}, a problem's exact p at the end of the fit window ranks the problems "
        "solved at the crossing above the unsolved ones (AUROC − 0.5 > 0, over seeds)",
        mean_ci_any(a - 0.5), cfg.auroc_margin, {"mean_auroc": float(a.mean()) if len(a)
                                                  else float("nan"), "seeds_used": int(len(a))})
    return verdicts


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per width and method: mean absolute error (log step) with its 95% interval over seeds,
    and how many seeds' forecasts hit the cap (never crossed within the horizon)."""
    rows = []
    for width, t in table.groupby("width"):
        t = t[np.isfinite(t.actual) & np.isfinite(t.error_passk)]
        for m in METHODS:
            est = mean_ci_any(t[f"error_{m}"].to_numpy())
            rows.append({"width": width, "method": METHOD_NAMES[m], "mean_error": est.value,
                         "low": est.low, "high": est.high, "seeds": est.n,
                         "capped": int(t[f"capped_{m}"].sum()),
                         "error_factor": float(np.exp(est.value))})
    return pd.DataFrame(rows)


def horizon_sensitivity(results, cfg, horizons=(1.0, 3.0, 10.0, 30.0)) -> pd.DataFrame:
    """The headline's paired difference (error_naive − error_passk, headline width) and how many
    seeds' forecasts are capped, when forecasts are capped at horizon × steps for each horizon:
    a forecast that never crosses scores the cap, so the cap is part of what the errors say."""
    from nblib.config import replace

    rows = []
    for h in horizons:
        t = valid(forecasts(results, replace(cfg, horizon=float(h))), cfg.widths[0])
        est = paired_any(t.error_naive.to_numpy(), t.error_passk.to_numpy())
        rows.append({"horizon": h, "difference": est.value, "low": est.low, "high": est.high,
                     **{f"capped_{m}": int(t[f"capped_{m}"].sum()) for m in METHODS}})
    return pd.DataFrame(rows)


def statistics(results, cfg) -> dict:
    """The numbers the notebook prints and records, for both targets."""
    out = {}
    for target in ("greedy", "exact"):
        table = forecasts(results, cfg, target)
        out[f"forecasts_{target}"] = table.drop(columns=["law_points"]).to_dict("records")
        out[f"errors_{target}"] = summary(table).to_dict("records")
    table = forecasts(results, cfg)
    out["per_problem_auroc"] = per_problem(results, cfg, table).to_dict("records")
    out["horizon_sensitivity"] = horizon_sensitivity(results, cfg).to_dict("records")
    out["parameters"] = {str(w): int(n) for w, n in results.params.items()}
    final = results.curves[results.curves.step == results.steps[-1]]
    out["final"] = final.groupby("width")[["greedy", "exact", "val_loss"]].mean().reset_index() \
        .to_dict("records")
    return out


def invariants(results, cfg) -> dict[str, bool]:
    """What must hold at any scale."""
    from nblib.data.tasks.addition import AdditionTask
    from nblib.eval.exact import binomial_tolerance

    c, pk = results.curves, results.passk
    lp = np.concatenate([v.ravel() for v in results.log_p.values()])
    close = []
    for key, m in results.log_p.items():
        counts = c[(c.width == key[0]) & (c.seed == key[1])].sort_values("step").sampled_pass1
        for row, observed in zip(np.exp(m), counts, strict=True):
            close.append(abs(observed - row.mean()) <= binomial_tolerance(row, cfg.samples, 5.0))
    monotone = pk.sort_values("k").groupby(["width", "seed", "step"]).exact.apply(
        lambda s: bool(np.all(np.diff(s.to_numpy()) >= -1e-12)))
    task = AdditionTask(cfg.digits, cfg.test_problems)
    inputs, _ = task.batches(256)(torch.Generator().manual_seed(0))  # (256, 3d + 2)
    test = {tuple(r) for r in task.prompts(task.test_pairs()).tolist()}
    trained = {tuple(r) for r in inputs[:, :task.prompt_len].tolist()}
    first, last = c[c.step == 0], c[c.step == results.steps[-1]]
    return {
        "log_p_finite_and_at_most_0": bool(np.isfinite(lp).all() and (lp <= 1e-9).all()),
        "metrics_within_0_and_1": bool(c[["greedy", "exact", "sampled_pass1"]].stack()
                                       .between(0, 1).all()),
        "exact_passk_rises_with_k": bool(monotone.all()),
        "sampled_pass1_matches_exact_within_binomial_error": bool(all(close)),
        "training_problems_exclude_the_test_problems": not (trained & test),
        "val_loss_finite": bool(np.isfinite(c.val_loss).all()),
        "trained_model_beats_the_untrained_one": bool(
            (last.set_index(["width", "seed"]).val_loss
             < first.set_index(["width", "seed"]).val_loss).all()),
        "trained_model_beats_a_blind_guess": bool((last.exact > task.chance).all()),
        "every_job_has_every_checkpoint": bool(
            (c.groupby(["width", "seed"]).step.nunique() == len(results.steps)).all()),
    }


def closing_line(verdicts: dict[str, Verdict]) -> str:
    e = verdicts[HEADLINE].estimate
    labels = "; ".join(f"{name}: {v.label}" for name, v in verdicts.items())
    return (f"error_naive − error_passk = {e.value:+.3f} [{e.low:+.3f}, {e.high:+.3f}] log step "
            f"(95% CI, n={e.n} seeds). {labels}")
