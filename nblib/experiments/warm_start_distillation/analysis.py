"""Notebook 01's comparisons: distilled minus scratch loss at matched compute, its trend over
compute, the crossover, and the verdicts.

Two matchings. *Student FLOPs*: the distilled and scratch students trained on the same tokens
(the teacher's forward passes are free, e.g. its logits were stored). *Total FLOPs*: the
teacher's forward passes are charged to the distilled run, and scratch's loss is read off at that
larger compute by interpolating its annealed points linearly in log compute. Seeds are the units:
each seed has its own teacher, and its scratch and distilled students share initialisation and
data order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nblib.stats import Estimate, Verdict, lines_per_unit, mean_ci_any, paired_any, verdict

SCRATCH = "scratch"
MATCHINGS = ("student", "total")


def deltas(final: pd.DataFrame, matching: str = "total") -> pd.DataFrame:
    """One row per distilled run: its loss minus scratch's at matched compute (same seed).

    final: rows of (condition, seed, tpp, student_flops, total_flops, loss), scratch included.
    Returns columns condition, seed, tpp, compute (the matched FLOPs), delta."""
    if matching not in MATCHINGS:
        raise ValueError(f"matching={matching!r}: one of {MATCHINGS}")
    rows = []
    for seed, group in final.groupby("seed"):
        scratch = group[group.condition == SCRATCH].sort_values("student_flops")
        log_c, loss = np.log(scratch.student_flops.to_numpy()), scratch.loss.to_numpy()
        for r in group[group.condition != SCRATCH].itertuples():
            compute = r.student_flops if matching == "student" else r.total_flops
            if not log_c[0] <= np.log(compute) <= log_c[-1] * (1 + 1e-12):
                raise ValueError(f"{r.condition} seed {seed}: compute {compute:.3g} lies outside "
                                 f"scratch's measured range [{scratch.student_flops.min():.3g}, "
                                 f"{scratch.student_flops.max():.3g}]")
            rows.append({"condition": r.condition, "seed": seed, "tpp": r.tpp, "compute": compute,
                         "delta": r.loss - float(np.interp(np.log(compute), log_c, loss))})
    return pd.DataFrame(rows)


def per_budget(d: pd.DataFrame) -> pd.DataFrame:
    """Mean delta per condition and budget with a t interval over seeds (paired by construction)."""
    rows = []
    for (condition, tpp), g in d.groupby(["condition", "tpp"], sort=False):
        est = mean_ci_any(g.delta)
        rows.append({"condition": condition, "tpp": tpp, "compute": g.compute.mean(),
                     "delta": est.value, "low": est.low, "high": est.high, "n": len(g)})
    return pd.DataFrame(rows).sort_values(["condition", "tpp"], ignore_index=True)


def slopes(d: pd.DataFrame, condition: str) -> pd.DataFrame:
    """Per seed: the OLS line delta = a + b·log2(compute) over the budgets, and the crossover
    compute 2^(−a/b) where a line that starts below 0 rises through it (NaN when it never does:
    b ≤ 0, or the line is already above 0 at the smallest budget)."""
    d = d[d.condition == condition].assign(log2_compute=lambda t: np.log2(t.compute.to_numpy()))
    lines = lines_per_unit(d, "log2_compute", "delta", "seed")
    first = d.groupby("seed").log2_compute.min().to_numpy()
    a, b = lines.intercept.to_numpy(), lines.slope.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ahead = (b > 0) & (-a / b > first)
        lines["log2_crossover"] = np.where(ahead, -a / b, np.nan)
    return lines


def crossover(lines: pd.DataFrame) -> Estimate:
    """Geometric mean over seeds of the crossover compute (FLOPs) with a t interval in log2 space;
    NaN when any seed's line never reaches 0."""
    x = lines.log2_crossover.to_numpy()
    if not len(x) or not np.all(np.isfinite(x)):
        return Estimate(float("nan"), float("nan"), float("nan"), n=len(x))
    est = mean_ci_any(x)
    return Estimate(2**est.value, 2**est.low, 2**est.high, est.level, est.n)


def teacher_crossing(final: pd.DataFrame, teacher_loss: float) -> float:
    """Student FLOPs at which scratch's mean loss falls to the teacher's (log-linear interpolation;
    NaN when it never does within the budgets)."""
    curve = final[final.condition == SCRATCH].groupby("student_flops").loss.mean()
    below = np.nonzero(curve.to_numpy() <= teacher_loss)[0]
    if not len(below) or below[0] == 0:
        return float("nan") if not len(below) else float(curve.index[0])
    i = below[0]
    (c0, c1), (l0, l1) = curve.index[i - 1:i + 1], curve.to_numpy()[i - 1:i + 1]
    t = (l0 - teacher_loss) / (l0 - l1)
    return float(np.exp(np.log(c0) + t * (np.log(c1) - np.log(c0))))


def decide(final: pd.DataFrame, headline: str) -> dict[str, Verdict]:
    """The two tested answers for the headline condition, total-FLOP matched (the teacher's
    forward passes charged): does distillation win at the smallest budget, and does its gain
    shrink as compute grows."""
    d = deltas(final, "total")
    lowest = d.tpp.min()
    first = d[(d.condition == headline) & (d.tpp == lowest)].sort_values("seed")
    low = paired_any(first.delta.to_numpy(), np.zeros(len(first)))  # delta is already paired
    lines = slopes(d, headline)
    student = deltas(final, "student")
    student_low = student[(student.condition == headline) & (student.tpp == lowest)].delta
    return {
        "wins_at_low_compute": verdict(
            f"{headline} reaches a lower held-out loss than next-token prediction from scratch "
            f"at the smallest budget ({lowest:g} tokens/parameter), matched on total FLOPs",
            low, 0.0, "<", details={"student_flops_matched": mean_ci_any(student_low)}),
        "gain_shrinks_with_compute": verdict(
            f"the difference {headline} − scratch rises with compute (slope per doubling of "
            "total FLOPs > 0)", mean_ci_any(lines.slope), 0.0, ">",
            details={"per_seed": lines.to_dict("records")})}


def crossings(final: pd.DataFrame, headline: str, teacher_loss: float) -> dict[str, object]:
    """Reported, not tested: where the headline's per-seed Δ lines reach 0 (an Estimate of
    FLOPs), and where scratch's mean loss falls to the teacher's (FLOPs)."""
    return {"crossover_flops": crossover(slopes(deltas(final, "total"), headline)),
            "scratch_reaches_teacher_flops": teacher_crossing(final, teacher_loss)}


def trend(final: pd.DataFrame, conditions: list[str]) -> dict[str, dict[str, Estimate]]:
    """Per condition, total-FLOP matched: the mean over seeds of the per-seed slope of Δ per
    doubling of compute (t interval), and the crossover compute of the per-seed lines."""
    total = deltas(final, "total")
    out = {}
    for c in conditions:
        lines = slopes(total, c)
        out[c] = {"slope_per_doubling": mean_ci_any(lines.slope),
                  "crossover_flops": crossover(lines)}
    return out
