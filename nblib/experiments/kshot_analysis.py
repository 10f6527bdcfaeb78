"""Notebook 04's statistics: pass@k differences between each k-shot objective and next-token CE,
paired by seed (the same data split, initialisation and data order), and the crossing verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nblib.stats import LABELS, Estimate, Verdict, mean_ci, paired


def at_t1(curves: pd.DataFrame) -> pd.DataFrame:
    """Rows sampled at temperature 1 (every trained model)."""
    return curves[curves.temperature == 1.0]


def mean_curves(curves: pd.DataFrame, metric: str = "pass") -> pd.DataFrame:
    """Mean and 95% t-interval over seeds of `metric` per task, training k, temperature and pass k."""
    rows = []
    for (task, k, temp, kk), g in curves.groupby(["task", "k", "temperature", "pass_k"]):
        x = g.sort_values("seed")[metric].to_numpy()
        est = mean_ci(x) if len(x) > 1 else Estimate(float(x[0]), float(x[0]), float(x[0]), n=1)
        rows.append({"task": task, "k": k, "temperature": temp, "pass_k": kk, "mean": est.value,
                     "low": est.low, "high": est.high})
    return pd.DataFrame(rows)


def _by_seed(curves: pd.DataFrame, task: str, k: int, pass_k: int, temperature: float = 1.0,
             metric: str = "pass") -> pd.Series:
    rows = curves[(curves.task == task) & (curves.k == k) & (curves.pass_k == pass_k)
                  & (curves.temperature == temperature)]
    return rows.set_index("seed")[metric].sort_index()


def delta(curves: pd.DataFrame, task: str, k: int, pass_k: int, base_k: int = 1, base_temperature: float = 1.0,
          metric: str = "pass") -> Estimate:
    """pass@pass_k of the k-shot model minus the base model's, paired by seed (t interval)."""
    a = _by_seed(curves, task, k, pass_k, metric=metric)
    b = _by_seed(curves, task, base_k, pass_k, base_temperature, metric=metric)
    if len(a) < 2 or not a.index.equals(b.index):
        raise ValueError(f"task={task!r}, k={k}, pass@{pass_k}: need the same ≥ 2 seeds for both models, "
                         f"got {list(a.index)} and {list(b.index)}")
    return paired(a.to_numpy(), b.to_numpy())


def delta_table(curves: pd.DataFrame, metric: str = "pass") -> pd.DataFrame:
    """Every task, k > 1 and pass k: the paired difference from NTP (k = 1) at T = 1."""
    c, rows = at_t1(curves), []
    for task in c.task.unique():
        for k in sorted(set(c.k) - {1}):
            for kk in sorted(c.pass_k.unique()):
                e = delta(c, task, k, kk, metric=metric)
                rows.append({"task": task, "k": k, "pass_k": kk, "delta": e.value, "low": e.low, "high": e.high,
                             "p": e.p_value})
    return pd.DataFrame(rows)


def crossover_k(curves: pd.DataFrame, task: str, k: int) -> float:
    """The smallest pass k at which the k-shot model's mean pass@k exceeds NTP's (NaN: never)."""
    rows = [(kk, delta(at_t1(curves), task, k, kk).value) for kk in sorted(curves.pass_k.unique())]
    above = [kk for kk, d in rows if d > 0]
    return float(above[0]) if above else float("nan")


def crossing_verdict(curves: pd.DataFrame, task: str, k: int) -> Verdict:
    """Do the pass@k curves cross? SUPPORTED when the k-shot model is better at the largest pass k
    (paired CI above 0) and not better at pass@1 (CI not above 0); NOT SUPPORTED when it is worse or
    no better at the largest pass k (CI at or below 0), or better at both ends (no crossing, a uniform
    gain); INCONCLUSIVE otherwise."""
    c = at_t1(curves)
    big = int(c.pass_k.max())
    high, low = delta(c, task, k, big), delta(c, task, k, 1)
    if high.low > 0 and low.low <= 0:
        label = LABELS[0]
    elif high.high <= 0 or (high.low > 0 and low.low > 0):
        label = LABELS[1]
    else:
        label = LABELS[2]
    claim = (f"{task}: training with the k-shot loss (k={k}) raises pass@{big} over next-token CE while not "
             f"raising pass@1 (the pass@k curves cross)")
    return Verdict(label, claim, high, 0.0, ">",
                   details={"pass_at_1_delta": low, "crossover_k": crossover_k(c, task, k),
                            "rule": "SUPPORTED iff pass@max CI > 0 and pass@1 CI not > 0"})


def temperature_verdict(curves: pd.DataFrame, task: str, k: int) -> Verdict | None:
    """Is the k-shot model more than a hotter NTP model? Its pass@max minus that of NTP sampled at
    the extra temperature with the best mean pass@max (chosen on these runs, which favours NTP)."""
    c = curves[(curves.task == task) & (curves.k == 1) & (curves.temperature != 1.0)]
    if c.empty:
        return None
    big = int(curves.pass_k.max())
    best = c[c.pass_k == big].groupby("temperature")["pass"].mean().idxmax()
    est = delta(curves, task, k, big, base_temperature=float(best))
    return _verdict(f"{task}: the k={k} model's pass@{big} beats next-token CE sampled at its best extra "
                    f"temperature T={best:g}", est, details={"ntp_temperature": float(best)})


def calibration(per_problem: pd.DataFrame) -> pd.DataFrame:
    """One-answer tasks: mean top-1 probability minus the argmax's accuracy, per task, k and seed
    (> 0: over-confident, < 0: under-confident)."""
    rows = per_problem.dropna(subset=["top1_correct"])
    if rows.empty:
        return pd.DataFrame(columns=["task", "k", "seed", "top1", "accuracy", "gap"])
    g = rows.assign(hit=rows.top1_correct.astype(float)).groupby(["task", "k", "seed"])
    out = g.agg(top1=("top1", "mean"), accuracy=("hit", "mean")).reset_index()
    return out.assign(gap=out.top1 - out.accuracy)


def summary(curves: pd.DataFrame, per_problem: pd.DataFrame) -> pd.DataFrame:
    """Per task and k (T = 1): mean over seeds of pass@1, pass@max, answer entropy, top-1
    probability and (sibling) coverage of the valid and of the unseen valid answers."""
    c = at_t1(curves)
    big = c.pass_k.max()
    ends = c[c.pass_k.isin([1, big])].pivot_table(index=["task", "k", "seed"], columns="pass_k", values="pass")
    ends.columns = [f"pass@{int(x)}" for x in ends.columns]
    extra = [col for col in ("coverage", "novel_coverage") if col in c]
    cov = c[c.pass_k == big].set_index(["task", "k", "seed"])[extra] if extra else None
    probs = per_problem.groupby(["task", "k", "seed"])[["entropy", "top1"]].mean()
    table = ends.join(probs)
    if cov is not None:
        table = table.join(cov)
    return table.groupby(["task", "k"]).mean()


def _verdict(claim: str, est: Estimate, details: dict | None = None) -> Verdict:
    label = LABELS[0] if est.low > 0 else LABELS[1] if est.high < 0 else LABELS[2]
    return Verdict(label, claim, est, 0.0, ">", dict(details or {}))


def decide(curves: pd.DataFrame, tasks: list[str], ks: list[int]) -> dict[str, Verdict]:
    """The headline (the curves cross on the first task, for the largest k) and the same question
    for every task and k > 1, plus the k-shot model against a hotter NTP model."""
    top = max(ks)
    out = {"crossing": crossing_verdict(curves, tasks[0], top)}
    for task in tasks:
        for k in sorted(set(ks) - {1}):
            out[f"crossing_{task}_k{k}"] = crossing_verdict(curves, task, k)
        hotter = temperature_verdict(curves, task, top)
        if hotter is not None:
            out[f"beats_hotter_ntp_{task}"] = hotter
    return out


def monotone_in_k(curves: pd.DataFrame) -> bool:
    """pass@k never falls as k grows, for every condition and seed."""
    keys = ["task", "k", "seed", "temperature"]
    return bool(all(np.all(np.diff(g.sort_values("pass_k")["pass"].to_numpy()) >= -1e-12)
                    for _, g in curves.groupby(keys)))
