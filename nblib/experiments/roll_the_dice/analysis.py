"""Notebook 16's analysis: the three verdicts, computed from the metric rows of `run_all`.

Seeds are the units: a seed fixes the data, hashes, initialisation and batch order of both
objectives, so every comparison is paired within a seed and averaged over tasks before the
interval is taken (n = seeds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nblib.stats import Estimate, Verdict, mean_ci_any, paired_any, verdict


def at_step(metrics: pd.DataFrame, step: int | None = None) -> pd.DataFrame:
    """The rows of one evaluation step (default: the last)."""
    step = metrics.step.max() if step is None else step
    return metrics[metrics.step == step]


def main_curves(metrics: pd.DataFrame, hash_len: int, temperature: float) -> pd.DataFrame:
    """Rows of the three main decodings over training, labelled 'objective · method'."""
    m, at_t = metrics, metrics.temperature == temperature
    keep = (((m.method == "temperature") & (m.hash_len == 0) & at_t)
            | ((m.method == "seed") & (m.hash_len == hash_len))
            | ((m.method == "both") & (m.hash_len == hash_len) & at_t))
    out = metrics[keep].copy()
    out["condition"] = out.objective + " · " + out.method
    return out


def _per_seed(df: pd.DataFrame, value: str) -> pd.Series:
    """Mean over tasks for each seed (the paired unit)."""
    return df.groupby("seed")[value].mean().sort_index()


def _estimate(values: pd.Series) -> Estimate:
    """Mean over seeds with its t-interval (NaN interval below 2 seeds)."""
    return mean_ci_any(values.to_numpy())


def _paired(a: pd.Series, b: pd.Series) -> Estimate:
    """a − b paired by seed (both indexed by seed), t-interval (NaN interval below 2 seeds)."""
    if not a.index.equals(b.index):
        raise ValueError(f"paired by seed: {list(a.index)} vs {list(b.index)}")
    return paired_any(a.to_numpy(), b.to_numpy())


def objective_gap(metrics: pd.DataFrame, hash_len: int) -> dict:
    """Creativity at the last step under seed-conditioning (hash_len, greedy): teacherless − NTP,
    paired over seeds, pooled over tasks and per task."""
    last = at_step(metrics)
    seed_rows = last[(last.method == "seed") & (last.hash_len == hash_len)]
    by = {o: seed_rows[seed_rows.objective == o] for o in ("teacherless", "ntp")}
    pooled = _paired(_per_seed(by["teacherless"], "creativity"),
                     _per_seed(by["ntp"], "creativity"))
    per_task = {}
    for task in sorted(seed_rows.task.unique()):
        a, b = (by[o][by[o].task == task].set_index("seed").creativity.sort_index()
                for o in ("teacherless", "ntp"))
        per_task[task] = _paired(a, b)
    return {"pooled": pooled, "per_task": per_task,
            "ntp": _estimate(_per_seed(by["ntp"], "creativity")),
            "teacherless": _estimate(_per_seed(by["teacherless"], "creativity"))}


def matched_coherence(metrics: pd.DataFrame, hash_len: int) -> pd.DataFrame:
    """For each (task, objective, seed) at the last step: seed-conditioning's coherence and
    creativity, and the creativity temperature sampling reaches at that coherence (linear
    interpolation along its frontier over temperatures, greedy T = 0 included; clipped at its
    ends)."""
    last = at_step(metrics)
    rows = []
    for (task, objective, seed), g in last.groupby(["task", "objective", "seed"]):
        temp = g[(g.method == "temperature") & (g.hash_len == 0)].sort_values("coherence")
        seed_row = g[(g.method == "seed") & (g.hash_len == hash_len)].iloc[0]
        matched = float(np.interp(seed_row.coherence, temp.coherence, temp.creativity))
        rows.append({"task": task, "objective": objective, "seed": seed,
                     "coherence": seed_row.coherence, "seed_creativity": seed_row.creativity,
                     "temperature_creativity": matched,
                     "difference": seed_row.creativity - matched})
    return pd.DataFrame(rows)


def memorization_trend(metrics: pd.DataFrame, hash_len: int, mid_fraction: float,
                       objective: str = "ntp", temperature: float = 1.0) -> dict:
    """Change from the evaluation nearest `mid_fraction` of training to the last one, per seed
    (mean over tasks), of seed-conditioned creativity and of memorization; and, for context, of
    creativity under temperature sampling without a hash (at `temperature`, the main one)."""
    steps = np.sort(metrics.step.unique())
    mid = int(steps[np.abs(steps - mid_fraction * steps.max()).argmin()])
    rows = metrics[metrics.objective == objective]
    cr = rows[(rows.method == "seed") & (rows.hash_len == hash_len)]
    sampled = rows[(rows.method == "temperature") & (rows.hash_len == 0)
                   & (rows.temperature == temperature)]
    mem = rows[rows.method == "memorization"]

    def change(df, value):
        return _per_seed(at_step(df), value) - _per_seed(df[df.step == mid], value)

    return {"mid_step": mid, "last_step": int(steps.max()),
            "creativity_change": _estimate(change(cr, "creativity")),
            "sampled_creativity_change": _estimate(change(sampled, "creativity").dropna()),
            "memorization_change": _estimate(change(mem, "memorization")),
            "creativity_mid": _estimate(_per_seed(cr[cr.step == mid], "creativity")),
            "memorization_last": _estimate(_per_seed(at_step(mem), "memorization"))}


def decide(metrics: pd.DataFrame, hash_len: int, mid_fraction: float, match_margin: float,
           temperature: float = 1.0) -> dict[str, Verdict]:
    """The three verdicts; the first is the headline. `temperature`: the main sampling
    temperature, for the context numbers of verdict 3 (the verdict itself is on seed-conditioned
    decoding). Verdict 3 is compound: a fall in creativity without a clear rise in memorization
    is INCONCLUSIVE."""
    gap = objective_gap(metrics, hash_len)
    v1 = verdict("teacherless training gives higher algorithmic creativity than NTP "
                 "(seed-conditioned decoding, last step; teacherless − NTP, mean over tasks)",
                 gap["pooled"], 0.0, ">",
                 {"ntp": gap["ntp"], "teacherless": gap["teacherless"],
                  "per_task": gap["per_task"]})
    matched = matched_coherence(metrics, hash_len)
    diff = _estimate(matched.groupby("seed").difference.mean())
    per_cell = matched.groupby(["task", "objective"]).difference.mean().round(4).to_dict()
    v2 = verdict(f"seed-conditioning (hash + greedy) matches or beats temperature sampling at "
                 f"matched coherence (creativity difference above −{match_margin:g}, mean over "
                 f"tasks and objectives)", diff, -match_margin, ">",
                 {"per_task_objective": per_cell})
    trend = memorization_trend(metrics, hash_len, mid_fraction, temperature=temperature)
    v3 = verdict(f"NTP's creativity falls as memorization rises (change from step "
                 f"{trend['mid_step']} to {trend['last_step']}, seed-conditioned, mean over "
                 f"tasks)", trend["creativity_change"], 0.0, "<",
                 {k: v for k, v in trend.items() if k != "creativity_change"})
    if v3.label == "SUPPORTED" and not trend["memorization_change"].low > 0:
        v3 = Verdict("INCONCLUSIVE", v3.claim + " — creativity fell but memorization did not "
                     "clearly rise", v3.estimate, v3.threshold, v3.direction, v3.details)
    return {"teacherless_beats_ntp": v1, "seed_matches_temperature": v2,
            "ntp_creativity_falls_with_memorization": v3}


def invariants(metrics: pd.DataFrame, losses: pd.DataFrame, n_samples: int) -> dict[str, bool]:
    """What must hold at any scale: finite training losses; every metric in [0, 1];
    creativity ≤ diversity ≤ coherence for every decoding; greedy decoding without a hash yields
    at most one distinct object, so its diversity is at most 1/n_samples."""
    scored = metrics[metrics.method != "memorization"]
    last = at_step(metrics)
    greedy = last[(last.method == "temperature") & (last.temperature == 0)]
    in_range = (scored[["coherence", "creativity", "diversity"]].stack().between(0, 1).all()
                and metrics.memorization.dropna().between(0, 1).all())
    ordered = ((scored.creativity <= scored.diversity + 1e-9).all()
               and (scored.diversity <= scored.coherence + 1e-9).all())
    return {
        "losses_finite": bool(np.isfinite(losses.train_loss).all()),
        "metrics_in_unit_interval": bool(in_range),
        "creativity_le_diversity_le_coherence": bool(ordered),
        "greedy_without_hash_is_one_object": bool((greedy.diversity <= 1 / n_samples + 1e-9).all()),
    }
